package tonepay

// callingCodes maps an international calling code (ITU-T E.164) to the
// ISO 3166-1 alpha-2 country a number with that code is sent as
// (FromCountry, ToCountry, ...). Where countries share a code, the one
// listed is the largest: +1 (NANP) is US, though Canada and the Caribbean
// share it (telling them apart needs the area code's owner, which Twilio
// knows and tonepay does not); +7 is RU (Kazakhstan shares it); +44 is GB
// (the Crown Dependencies too); +39 is IT; +47 NO; +61 AU. A code missing
// here gives an empty country, as Twilio sends one it does not know.
//
// Calling codes are a prefix code: no code begins another, so the first of
// one, two or three digits that matches is the number's.
var callingCodes = map[string]string{
	"1": "US", "7": "RU",
	"20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR", "34": "ES", "36": "HU", "39": "IT",
	"40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL", "49": "DE",
	"51": "PE", "52": "MX", "53": "CU", "54": "AR", "55": "BR", "56": "CL", "57": "CO", "58": "VE",
	"60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG", "66": "TH",
	"81": "JP", "82": "KR", "84": "VN", "86": "CN",
	"90": "TR", "91": "IN", "92": "PK", "93": "AF", "94": "LK", "95": "MM", "98": "IR",
	"212": "MA", "213": "DZ", "216": "TN", "218": "LY", "221": "SN", "225": "CI", "233": "GH", "234": "NG",
	"237": "CM", "251": "ET", "254": "KE", "255": "TZ", "256": "UG", "260": "ZM", "263": "ZW",
	"351": "PT", "352": "LU", "353": "IE", "354": "IS", "356": "MT", "357": "CY", "358": "FI", "359": "BG",
	"370": "LT", "371": "LV", "372": "EE", "373": "MD", "374": "AM", "375": "BY", "380": "UA", "381": "RS",
	"382": "ME", "385": "HR", "386": "SI", "387": "BA", "389": "MK", "420": "CZ", "421": "SK", "423": "LI",
	"502": "GT", "503": "SV", "504": "HN", "505": "NI", "506": "CR", "507": "PA", "509": "HT",
	"591": "BO", "593": "EC", "595": "PY", "598": "UY",
	"852": "HK", "853": "MO", "855": "KH", "880": "BD", "886": "TW",
	"961": "LB", "962": "JO", "964": "IQ", "965": "KW", "966": "SA", "968": "OM", "971": "AE", "972": "IL",
	"973": "BH", "974": "QA", "977": "NP", "994": "AZ", "995": "GE", "998": "UZ",
}

// CountryOf is the ISO 3166-1 alpha-2 country of an E.164 number, from its
// calling code, or "" when the number is not E.164 (client:name, a SIP
// address, "anonymous") or its code is not in the table.
func CountryOf(number string) string {
	if !IsE164(number) {
		return ""
	}
	for n := 1; n <= 3; n++ {
		if c, ok := callingCodes[number[1:1+n]]; ok {
			return c
		}
	}
	return ""
}
