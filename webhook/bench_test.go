package webhook

import (
	"net/url"
	"testing"

	"github.com/tonepay/tonepay"
)

// BenchmarkSign signs a typical partial-result callback.
func BenchmarkSign(b *testing.B) {
	form := url.Values{"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "CallSid": {"CA0123456789abcdef0123456789abcdef"},
		"Sid": {"PK0123456789abcdef0123456789abcdef"}, "DateCreated": {"2026-11-23T01:02:03.456Z"}, "PaymentConnector": {"Default"},
		"PaymentMethod": {"credit-card"}, "ChargeAmount": {"10.00"}, "Capture": {"payment-card-number"}, "PartialResult": {"true"},
		"PaymentCardNumber": {"xxxxxxx"}, "Required": {"payment-card-number,expiration-date,security-code,postal-code"},
		"DateUpdated": {"2026-11-23T01:02:04.456Z"}}
	token := tonepay.NewSecret("0123456789abcdef0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		Sign(token, "https://example.com/pay?tenant=7", form)
	}
}
