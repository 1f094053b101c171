package tonepay

import (
	"fmt"
	"strings"
)

// iso4217 lists active ISO 4217 currency codes by the number of digits after
// the decimal point (minor units). A code not listed here is not a currency.
var iso4217 = map[int]string{
	0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
	2: "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD " +
		"CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD " +
		"GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD " +
		"MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP " +
		"PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS " +
		"TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES XCD XCG YER ZAR ZMW ZWG",
	3: "BHD IQD JOD KWD LYD OMR TND",
	4: "CLF UYW",
}

var minorUnits = func() map[string]int {
	m := make(map[string]int)
	for digits, codes := range iso4217 {
		for _, c := range strings.Fields(codes) {
			m[c] = digits
		}
	}
	return m
}()

// MinorUnits returns the number of decimals of an ISO 4217 currency (upper
// case), and false for a code that is not a currency.
func MinorUnits(currency string) (int, bool) {
	d, ok := minorUnits[currency]
	return d, ok
}

// MaxChargeAmount bounds ChargeAmount (exclusive), as Twilio does.
const MaxChargeAmount = 1_000_000

// ParseChargeAmount validates a ChargeAmount in currency and returns it with
// exactly the currency's decimals ("10" -> "10.00" in USD), or "" for an empty
// or zero amount, which means tokenize. It accepts "10", "10.0", "10.00", and
// returns a 64003 error for anything negative, not a number, at or above
// 1,000,000, or with more decimals than the currency has; 64011 for a
// currency that is not one. ParseParams applies the same rule.
func ParseChargeAmount(s, currency string) (string, error) {
	digits, ok := MinorUnits(currency)
	if !ok {
		return "", Errorf(CodeNoCurrency, "Connector does not support the requested currency %s", currency)
	}
	amount, why := chargeAmount(s, digits, currency)
	if why != "" {
		return "", (&ParamError{Param: "ChargeAmount", Value: s, Code: CodeChargeAmount, Why: why}).Err()
	}
	return amount, nil
}

// chargeAmount reads a ChargeAmount: a plain decimal from 0 to below
// MaxChargeAmount with at most digits decimals (any number when digits < 0,
// for a currency not known: the amount is then returned as given). It
// returns the amount with exactly digits decimals, "" for an empty or zero
// amount (tokenize), or why it is not one.
func chargeAmount(s string, digits int, currency string) (string, string) {
	if s == "" {
		return "", ""
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) {
		return "", "not a number between 0.00 - 1,000,000.00"
	}
	frac = strings.TrimRight(frac, "0")
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 6 { // seven digits is 1,000,000 or more
		return "", "1,000,000 or more: an amount must be less"
	}
	if digits >= 0 && len(frac) > digits {
		return "", fmt.Sprintf("more than %d decimals for %s", digits, currency)
	}
	if whole == "" && frac == "" {
		return "", "" // zero: tokenize
	}
	if digits < 0 {
		return s, ""
	}
	if whole == "" {
		whole = "0"
	}
	if digits == 0 {
		return whole, ""
	}
	return whole + "." + frac + strings.Repeat("0", digits-len(frac)), ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MinorAmount converts a normalized ChargeAmount ("10.00" in USD) to the
// currency's minor units (1000), as processors such as Stripe take it.
func MinorAmount(amount, currency string) (int64, error) {
	digits, ok := MinorUnits(currency)
	if !ok {
		return 0, Errorf(CodeNoCurrency, "Connector does not support the requested currency %s", currency)
	}
	whole, frac, _ := strings.Cut(amount, ".")
	if !allDigits(whole) || !allDigits(frac) || len(frac) > digits || whole == "" {
		return 0, Errorf(CodeChargeAmount, "ChargeAmount %q is not a valid amount in %s", amount, currency)
	}
	frac += strings.Repeat("0", digits-len(frac))
	var n int64
	for _, c := range whole + frac {
		n = n*10 + int64(c-'0')
	}
	return n, nil
}
