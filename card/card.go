// Package card validates what a caller types on a keypad: card numbers (Luhn
// and brand by Twilio's ValidCardTypes names), expiry dates, security codes,
// postal codes, and US bank routing and account numbers. Every function is
// pure; the time is passed in.
//
// Decisions where Twilio documents nothing:
//   - optima: American Express's Optima cards are Amex numbers (34 or 37, 15
//     digits). Brand reports them as amex; CheckNumber accepts an amex number
//     when ValidCardTypes names optima, reporting "optima" if amex itself is
//     not allowed. The security code is 4 digits, as on any Amex card.
//   - enroute numbers are not Luhn-checked: the network never required it.
//   - Twilio's TEST mode lists 3065930009020004 as a Diners Club card; it fails
//     Luhn, so it is rejected here. 30569309025904 is a Diners test card that
//     passes.
//   - 62… numbers outside Discover's 622126–622925 (UnionPay's 6200… test
//     card among them) fall under maestro's 56–69 rule.
package card

import (
	"slices"
	"strconv"
	"time"

	"github.com/tonepay/tonepay"
)

// Brand names are Twilio's ValidCardTypes names, which the domain defines
// (the Payments parameters' rules read them too).
const (
	Visa       = tonepay.CardVisa
	Mastercard = tonepay.CardMastercard
	Amex       = tonepay.CardAmex
	Maestro    = tonepay.CardMaestro
	Discover   = tonepay.CardDiscover
	JCB        = tonepay.CardJCB
	DinersClub = tonepay.CardDinersClub
	EnRoute    = tonepay.CardEnRoute
	Optima     = tonepay.CardOptima
)

// Brands lists every name ValidCardTypes accepts.
var Brands = tonepay.CardTypes

// ErrorType values, as in Twilio's status callbacks.
const (
	InvalidNumber        = "invalid-card-number"
	InvalidType          = "invalid-card-type"
	InvalidDate          = "invalid-date"
	InvalidSecurityCode  = "invalid-security-code"
	InvalidPostalCode    = "invalid-postal-code"
	InvalidRoutingNumber = "invalid-bank-routing-number"
	InvalidAccountNumber = "invalid-bank-account-number"
)

// rule is one brand's prefix range and lengths. Prefixes compare the leading
// len(lo) digits as numbers.
type rule struct {
	brand      string
	lo, hi     string
	minL, maxL int
	lengths    []int // when not a range
}

// rules are tried in order: narrower ranges before the broad ones that
// contain them (discover's 622126–622925 before maestro's 6x, the 2-series
// mastercard before enroute's 2014/2149, which do not overlap anyway).
var rules = []rule{
	{brand: Visa, lo: "4", hi: "4", lengths: []int{13, 16, 19}},
	{brand: Mastercard, lo: "51", hi: "55", minL: 16, maxL: 16},
	{brand: Mastercard, lo: "2221", hi: "2720", minL: 16, maxL: 16},
	{brand: Amex, lo: "34", hi: "34", minL: 15, maxL: 15},
	{brand: Amex, lo: "37", hi: "37", minL: 15, maxL: 15},
	{brand: Discover, lo: "6011", hi: "6011", minL: 16, maxL: 19},
	{brand: Discover, lo: "644", hi: "649", minL: 16, maxL: 19},
	{brand: Discover, lo: "65", hi: "65", minL: 16, maxL: 19},
	{brand: Discover, lo: "622126", hi: "622925", minL: 16, maxL: 19},
	{brand: JCB, lo: "3528", hi: "3589", minL: 16, maxL: 19},
	{brand: DinersClub, lo: "300", hi: "305", minL: 14, maxL: 19},
	{brand: DinersClub, lo: "3095", hi: "3095", minL: 14, maxL: 19},
	{brand: DinersClub, lo: "36", hi: "36", minL: 14, maxL: 19},
	{brand: DinersClub, lo: "38", hi: "39", minL: 14, maxL: 19},
	{brand: EnRoute, lo: "2014", hi: "2014", minL: 15, maxL: 15},
	{brand: EnRoute, lo: "2149", hi: "2149", minL: 15, maxL: 15},
	{brand: Maestro, lo: "50", hi: "50", minL: 12, maxL: 19},
	{brand: Maestro, lo: "56", hi: "69", minL: 12, maxL: 19},
}

func (r rule) matches(n string) bool {
	if len(n) < len(r.lo) {
		return false
	}
	p := n[:len(r.lo)]
	if p < r.lo || p > r.hi { // same length, all digits: string order is numeric order
		return false
	}
	if r.lengths != nil {
		return slices.Contains(r.lengths, len(n))
	}
	return r.minL <= len(n) && len(n) <= r.maxL
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Luhn reports whether digits (only '0'-'9') pass the Luhn checksum.
func Luhn(number string) bool {
	if !digits(number) {
		return false
	}
	sum, double := 0, false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Brand returns the brand of a card number by its prefix and length, or ""
// if none matches.
func Brand(number string) string {
	if !digits(number) {
		return ""
	}
	for _, r := range rules {
		if r.matches(number) {
			return r.brand
		}
	}
	return ""
}

// CheckNumber validates a card number against the allowed brands. It returns
// (brand, "") when valid, ("", "invalid-card-number") when the number is not
// a card number of any brand or fails Luhn, and (brand,
// "invalid-card-type") for a valid number of a brand not allowed.
func CheckNumber(number string, allowed []string) (brand, errorType string) {
	brand = Brand(number)
	if brand == "" || brand != EnRoute && !Luhn(number) {
		return "", InvalidNumber
	}
	switch {
	case slices.Contains(allowed, brand):
		return brand, ""
	case brand == Amex && slices.Contains(allowed, Optima):
		return Optima, ""
	}
	return brand, InvalidType
}

// CheckExpiry validates MMYY: a real month, not before now's month (a card
// is good through the last day of its month). It returns "" or "invalid-date".
func CheckExpiry(mmyy string, now time.Time) string {
	if len(mmyy) != 4 || !digits(mmyy) {
		return InvalidDate
	}
	month, _ := strconv.Atoi(mmyy[:2])
	year, _ := strconv.Atoi(mmyy[2:])
	if month < 1 || month > 12 {
		return InvalidDate
	}
	year += now.Year() / 100 * 100 // MMYY means this century
	if year*12+month < now.Year()*12+int(now.Month()) {
		return InvalidDate
	}
	return ""
}

// SecurityCodeLength is the security code's length for a brand: 4 on Amex
// (and Optima) cards, 3 on every other.
func SecurityCodeLength(brand string) int {
	if brand == Amex || brand == Optima {
		return 4
	}
	return 3
}

// CheckSecurityCode returns "" or "invalid-security-code".
func CheckSecurityCode(code, brand string) string {
	if !digits(code) || len(code) != SecurityCodeLength(brand) {
		return InvalidSecurityCode
	}
	return ""
}

// CheckRoutingNumber validates an ABA routing number: 9 digits whose
// weighted sum (3, 7, 1, repeating) is a multiple of 10. It returns "" or
// "invalid-bank-routing-number".
func CheckRoutingNumber(n string) string {
	if len(n) != 9 || !digits(n) {
		return InvalidRoutingNumber
	}
	w, sum := [3]int{3, 7, 1}, 0
	for i := 0; i < 9; i++ {
		sum += w[i%3] * int(n[i]-'0')
	}
	if sum%10 != 0 {
		return InvalidRoutingNumber
	}
	return ""
}

// CheckAccountNumber accepts 4 to 17 digits. It returns "" or
// "invalid-bank-account-number".
func CheckAccountNumber(n string) string {
	if len(n) < 4 || len(n) > 17 || !digits(n) {
		return InvalidAccountNumber
	}
	return ""
}

// Postal code lengths. The longest postal codes in use have 10 characters,
// so an entry ends by itself at PostalCodeMax digits, unless
// MinPostalCodeLength asks for more: then at that length, at most
// MaxMinPostalCodeLength (the domain's bound, see there).
const (
	PostalCodeMax          = 10
	MaxMinPostalCodeLength = tonepay.MaxMinPostalCodeLength
)

// PostalCodeLimit is the longest postal code accepted with minLen.
func PostalCodeLimit(minLen int) int { return max(PostalCodeMax, minLen) }

// CheckPostalCode accepts keypad digits, at least max(minLen, 1) and at most
// PostalCodeLimit(minLen) of them. It returns "" or "invalid-postal-code".
func CheckPostalCode(code string, minLen int) string {
	if !digits(code) || len(code) < max(minLen, 1) || len(code) > PostalCodeLimit(minLen) {
		return InvalidPostalCode
	}
	return ""
}
