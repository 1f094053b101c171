package card

import "testing"

func BenchmarkCheckNumber(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, e := CheckNumber("4242424242424242", Brands); e != "" {
			b.Fatal(e)
		}
	}
}
