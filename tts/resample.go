package tts

import "math"

// Resampling: a windowed-sinc low-pass evaluated at each output instant
// (band-limited interpolation), which handles any pair of rates, 22050 →
// 8000 (ratio 160/441) included, and filters before it decimates: taking
// every 2.76th sample would fold espeak's 4–11 kHz energy into the
// telephone band as hiss and false tones.
//
// The cut-off (-6 dB) is 0.4625 × the lower rate, 3,700 Hz for 8 kHz out.
// The sinc spans ±zeroCrossings of its zero crossings under a Kaiser window
// (β = 8, about 80 dB stop-band): at 22050 Hz in, 145 taps, a transition
// band of about 3,300–4,100 Hz, so what aliases lands above 3,900 Hz and
// 6 kHz is some 80 dB down. The filter is tabulated once, finely, and read
// with linear interpolation.
const (
	cutoffFraction = 0.4625
	zeroCrossings  = 24
	kaiserBeta     = 8.0
	tableRes       = 512 // table entries per zero crossing
)

var sincTable = func() []float64 {
	n := zeroCrossings*tableRes + 2
	tab := make([]float64, n)
	norm := bessel0(kaiserBeta)
	for i := range tab {
		u := float64(i) / tableRes // in zero crossings
		r := u / zeroCrossings
		if r > 1 {
			continue
		}
		s := 1.0
		if u > 0 {
			s = math.Sin(math.Pi*u) / (math.Pi * u)
		}
		tab[i] = s * bessel0(kaiserBeta*math.Sqrt(1-r*r)) / norm
	}
	return tab
}()

// bessel0 is the modified Bessel function of the first kind, order 0.
func bessel0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < 1e-12*sum {
			break
		}
	}
	return sum
}

// resample returns x (at inRate) at outRate.
func resample(x []float64, inRate, outRate int) []float64 {
	if inRate == outRate || len(x) == 0 {
		return x
	}
	fc := cutoffFraction * float64(min(inRate, outRate)) // Hz
	step := 2 * fc / float64(inRate)                     // zero crossings per input sample
	half := int(math.Ceil(zeroCrossings / step))         // input samples each side
	gain := step                                         // unity gain at DC
	n := int(int64(len(x)) * int64(outRate) / int64(inRate))
	out := make([]float64, n)
	for j := range out {
		// The output instant in input samples, exact as a fraction.
		num := int64(j) * int64(inRate)
		k0 := int(num / int64(outRate))
		frac := float64(num%int64(outRate)) / float64(outRate)
		acc := 0.0
		for k := max(k0-half+1, 0); k <= min(k0+half, len(x)-1); k++ {
			u := math.Abs(float64(k-k0)-frac) * step * tableRes
			i := int(u)
			if i >= len(sincTable)-1 {
				continue
			}
			f := u - float64(i)
			acc += x[k] * (sincTable[i] + f*(sincTable[i+1]-sincTable[i]))
		}
		out[j] = acc * gain
	}
	return out
}
