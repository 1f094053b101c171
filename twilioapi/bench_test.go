package twilioapi

import (
	"net/url"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// BenchmarkParseCreate decodes and validates a typical Payments create form.
func BenchmarkParseCreate(b *testing.B) {
	form := url.Values{"IdempotencyKey": {"k"}, "StatusCallback": {"https://example.com/cb"}, "ChargeAmount": {"19.99"},
		"PaymentMethod": {"credit-card"}, "TokenType": {"one-time"}, "ValidCardTypes": {"visa mastercard"}, "PostalCode": {"false"},
		"Parameter": {`{"customer":"42"}`}, "Timeout": {"5"}}
	encoded := form.Encode()
	b.ReportAllocs()
	for b.Loop() {
		v, err := url.ParseQuery(encoded)
		if err != nil {
			b.Fatal(err)
		}
		p := &params{v: v, bad: tonepay.CodeInvalidParameter}
		if parseCreate(p); p.err != nil {
			b.Fatal(p.err)
		}
	}
}

// BenchmarkWireChecks is what every request now pays for DESIGN §8 at the
// wire: the storable check of a typical create form, and the failed-auth
// limiter's take and give-back for good credentials.
func BenchmarkWireChecks(b *testing.B) {
	form := url.Values{"IdempotencyKey": {"k"}, "StatusCallback": {"https://example.com/cb"}, "ChargeAmount": {"19.99"},
		"PaymentMethod": {"credit-card"}, "TokenType": {"one-time"}, "ValidCardTypes": {"visa mastercard"}, "PostalCode": {"false"},
		"Parameter": {`{"customer":"42"}`}, "Timeout": {"5"}, "Description": {"Order 12345 for a large pizza"}}
	l := newLimiter(20.0/60, 20, time.Now)
	b.ReportAllocs()
	for b.Loop() {
		if err := storable(form, tonepay.CodeInvalidParameter); err != nil {
			b.Fatal(err)
		}
		addr := clientAddr("192.0.2.1:5555")
		l.spent(addr)
	}
}
