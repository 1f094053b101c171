package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tonepay/tonepay"
)

// MaxAudioBody is the largest file FetchAudio reads: 4 MiB is over four
// minutes of 8 kHz mu-law, and 24 s of CD-quality stereo WAV. A prompt is
// seconds long; the bound keeps one tenant's URL from filling memory.
const MaxAudioBody = 4 << 20

// FetchAudio gets the audio file of a <Play> (tts decodes it) through the
// same policy-checking client as the call's other requests: a GET without
// the call's parameters and unsigned, as Twilio fetches media; 3xx followed
// up to maxRedirects times; within the Fetcher's timeout (a URL's tt
// override may shorten it). Errors are *tonepay.FetchError with Twilio's
// codes: 11200 for a non-2xx status or a failed read, 11205/11210 when no
// connection could be made, 11215 for too many redirects, 11750 for a body
// over MaxAudioBody.
func (f *Fetcher) FetchAudio(ctx context.Context, rawURL string) (body []byte, contentType string, err error) {
	o, _ := ParseOverrides(rawURL)
	o = o.Within(f.timeout)
	ctx, cancel := context.WithTimeout(ctx, o.Total)
	defer cancel()
	if i := strings.IndexByte(rawURL, '#'); i >= 0 {
		rawURL = rawURL[:i] // the overrides, never sent
	}
	res, err := follow(rawURL, func(target string, _ int) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil || req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad URL"}
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("Accept", "audio/*, */*;q=0.5")
		res, err := f.client.Do(req)
		if err != nil {
			return nil, fetchError(ctx, nil, err)
		}
		return res, nil
	})
	if err != nil {
		return nil, "", err
	}
	return readAudio(ctx, res)
}

func readAudio(ctx context.Context, res *http.Response) ([]byte, string, error) {
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
		return nil, "", &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: fmt.Sprintf("HTTP %d", res.StatusCode)}
	}
	tooLarge := &tonepay.FetchError{Code: tonepay.CodeBodyTooLarge, Message: fmt.Sprintf("audio file over %d bytes", MaxAudioBody)}
	if res.ContentLength > MaxAudioBody {
		return nil, "", tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxAudioBody+1))
	if err != nil {
		return nil, "", fetchError(ctx, nil, err)
	}
	if len(body) > MaxAudioBody {
		return nil, "", tooLarge
	}
	return body, res.Header.Get("Content-Type"), nil
}
