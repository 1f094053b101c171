package voice

import (
	"strings"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/card"
)

// words are the default prompts of one language: our own words, what a
// caller of that country expects to hear.
type words struct {
	ask        map[tonepay.Field]string
	amexCode   string            // the security code of an amex (4 digits)
	errs       map[string]string // ErrorType -> what went wrong, said before asking again
	again      string            // a matcher: the same field once more
	processing string
}

var english = words{
	ask: map[tonepay.Field]string{
		tonepay.FieldCardNumber:    "Please enter your card number, followed by the pound key.",
		tonepay.FieldExpiration:    "Please enter the expiration date on your card: two digits for the month, then two digits for the year.",
		tonepay.FieldSecurityCode:  "Please enter the three digit security code on the back of your card.",
		tonepay.FieldPostalCode:    "Please enter your billing zip code, followed by the pound key.",
		tonepay.FieldRoutingNumber: "Please enter the nine digit routing number of your bank account.",
		tonepay.FieldAccountNumber: "Please enter your bank account number, followed by the pound key.",
	},
	amexCode: "Please enter the four digit security code on the front of your card.",
	errs: map[string]string{
		"timeout":                 "Sorry, we did not get your entry.",
		card.InvalidNumber:        "Sorry, that card number is not valid.",
		card.InvalidType:          "Sorry, we do not accept that type of card.",
		card.InvalidDate:          "Sorry, that expiration date is not valid.",
		card.InvalidSecurityCode:  "Sorry, that security code is not valid.",
		card.InvalidPostalCode:    "Sorry, that zip code is not valid.",
		card.InvalidRoutingNumber: "Sorry, that routing number is not valid.",
		card.InvalidAccountNumber: "Sorry, that account number is not valid.",
		"input-matching-failed":   "Sorry, the two entries did not match.",
	},
	again:      "To confirm, please enter it again.",
	processing: "Please wait while we process your payment.",
}

var british = func() words {
	w := clone(english)
	w.ask[tonepay.FieldCardNumber] = "Please enter your card number, followed by the hash key."
	w.ask[tonepay.FieldExpiration] = "Please enter the expiry date on your card: two digits for the month, then two digits for the year."
	w.ask[tonepay.FieldPostalCode] = "Please enter the postcode of your billing address, followed by the hash key."
	w.ask[tonepay.FieldAccountNumber] = "Please enter your bank account number, followed by the hash key."
	w.errs[card.InvalidDate] = "Sorry, that expiry date is not valid."
	w.errs[card.InvalidPostalCode] = "Sorry, that postcode is not valid."
	return w
}()

var spanishES = words{
	ask: map[tonepay.Field]string{
		tonepay.FieldCardNumber:    "Por favor, marque el número de su tarjeta y pulse la tecla almohadilla.",
		tonepay.FieldExpiration:    "Marque la fecha de caducidad de su tarjeta: dos cifras para el mes y dos para el año.",
		tonepay.FieldSecurityCode:  "Marque el código de seguridad de tres cifras que aparece en el reverso de su tarjeta.",
		tonepay.FieldPostalCode:    "Marque el código postal de su dirección de facturación y pulse la tecla almohadilla.",
		tonepay.FieldRoutingNumber: "Marque el número de ruta bancaria de nueve cifras.",
		tonepay.FieldAccountNumber: "Marque el número de su cuenta bancaria y pulse la tecla almohadilla.",
	},
	amexCode: "Marque el código de seguridad de cuatro cifras que aparece en el anverso de su tarjeta.",
	errs: map[string]string{
		"timeout":                 "Lo sentimos, no hemos recibido ningún dato.",
		card.InvalidNumber:        "Lo sentimos, el número de tarjeta no es válido.",
		card.InvalidType:          "Lo sentimos, no aceptamos ese tipo de tarjeta.",
		card.InvalidDate:          "Lo sentimos, la fecha de caducidad no es válida.",
		card.InvalidSecurityCode:  "Lo sentimos, el código de seguridad no es válido.",
		card.InvalidPostalCode:    "Lo sentimos, el código postal no es válido.",
		card.InvalidRoutingNumber: "Lo sentimos, el número de ruta bancaria no es válido.",
		card.InvalidAccountNumber: "Lo sentimos, el número de cuenta no es válido.",
		"input-matching-failed":   "Lo sentimos, los dos números no coinciden.",
	},
	again:      "Para confirmar, márquelo otra vez.",
	processing: "Espere un momento, por favor, mientras procesamos su pago.",
}

var spanishMX = func() words {
	w := clone(spanishES)
	w.ask[tonepay.FieldCardNumber] = "Por favor, ingrese el número de su tarjeta, seguido de la tecla de gato."
	w.ask[tonepay.FieldExpiration] = "Ingrese la fecha de vencimiento de su tarjeta: dos dígitos para el mes y dos para el año."
	w.ask[tonepay.FieldSecurityCode] = "Ingrese el código de seguridad de tres dígitos que está al reverso de su tarjeta."
	w.ask[tonepay.FieldPostalCode] = "Ingrese el código postal de su domicilio de facturación, seguido de la tecla de gato."
	w.ask[tonepay.FieldRoutingNumber] = "Ingrese el número de ruta bancaria de nueve dígitos."
	w.ask[tonepay.FieldAccountNumber] = "Ingrese el número de su cuenta bancaria, seguido de la tecla de gato."
	w.amexCode = "Ingrese el código de seguridad de cuatro dígitos que está al frente de su tarjeta."
	w.errs["timeout"] = "Lo sentimos, no recibimos ningún dato."
	w.errs[card.InvalidDate] = "Lo sentimos, la fecha de vencimiento no es válida."
	w.again = "Para confirmar, ingréselo de nuevo."
	w.processing = "Por favor, espere mientras procesamos su pago."
	return w
}()

var frenchFR = words{
	ask: map[tonepay.Field]string{
		tonepay.FieldCardNumber:    "Veuillez composer le numéro de votre carte, suivi de la touche dièse.",
		tonepay.FieldExpiration:    "Composez la date d'expiration de votre carte : deux chiffres pour le mois, puis deux pour l'année.",
		tonepay.FieldSecurityCode:  "Composez le cryptogramme à trois chiffres inscrit au dos de votre carte.",
		tonepay.FieldPostalCode:    "Composez le code postal de votre adresse de facturation, suivi de la touche dièse.",
		tonepay.FieldRoutingNumber: "Composez le numéro d'acheminement bancaire à neuf chiffres.",
		tonepay.FieldAccountNumber: "Composez le numéro de votre compte bancaire, suivi de la touche dièse.",
	},
	amexCode: "Composez le code de sécurité à quatre chiffres inscrit au recto de votre carte.",
	errs: map[string]string{
		"timeout":                 "Désolé, nous n'avons rien reçu.",
		card.InvalidNumber:        "Désolé, ce numéro de carte n'est pas valide.",
		card.InvalidType:          "Désolé, nous n'acceptons pas ce type de carte.",
		card.InvalidDate:          "Désolé, cette date d'expiration n'est pas valide.",
		card.InvalidSecurityCode:  "Désolé, ce code de sécurité n'est pas valide.",
		card.InvalidPostalCode:    "Désolé, ce code postal n'est pas valide.",
		card.InvalidRoutingNumber: "Désolé, ce numéro d'acheminement n'est pas valide.",
		card.InvalidAccountNumber: "Désolé, ce numéro de compte n'est pas valide.",
		"input-matching-failed":   "Désolé, les deux saisies ne correspondent pas.",
	},
	again:      "Pour confirmer, veuillez le composer à nouveau.",
	processing: "Veuillez patienter pendant le traitement de votre paiement.",
}

var frenchCA = func() words {
	w := clone(frenchFR)
	w.ask[tonepay.FieldCardNumber] = "Veuillez entrer le numéro de votre carte, suivi du carré."
	w.ask[tonepay.FieldExpiration] = "Entrez la date d'expiration de votre carte : deux chiffres pour le mois, puis deux pour l'année."
	w.ask[tonepay.FieldSecurityCode] = "Entrez le code de sécurité à trois chiffres inscrit au dos de votre carte."
	w.ask[tonepay.FieldPostalCode] = "Entrez le code postal de votre adresse de facturation, suivi du carré."
	w.ask[tonepay.FieldRoutingNumber] = "Entrez le numéro de transit bancaire à neuf chiffres."
	w.ask[tonepay.FieldAccountNumber] = "Entrez le numéro de votre compte bancaire, suivi du carré."
	w.amexCode = "Entrez le code de sécurité à quatre chiffres inscrit au recto de votre carte."
	w.errs[card.InvalidRoutingNumber] = "Désolé, ce numéro de transit n'est pas valide."
	w.again = "Pour confirmer, veuillez l'entrer de nouveau."
	w.processing = "Veuillez patienter pendant que nous traitons votre paiement."
	return w
}()

var german = words{
	ask: map[tonepay.Field]string{
		tonepay.FieldCardNumber:    "Bitte geben Sie Ihre Kartennummer ein und drücken Sie anschließend die Rautetaste.",
		tonepay.FieldExpiration:    "Bitte geben Sie das Ablaufdatum Ihrer Karte ein: zwei Ziffern für den Monat, dann zwei für das Jahr.",
		tonepay.FieldSecurityCode:  "Bitte geben Sie die dreistellige Prüfnummer auf der Rückseite Ihrer Karte ein.",
		tonepay.FieldPostalCode:    "Bitte geben Sie die Postleitzahl Ihrer Rechnungsadresse ein und drücken Sie anschließend die Rautetaste.",
		tonepay.FieldRoutingNumber: "Bitte geben Sie die neunstellige Bankleitnummer ein.",
		tonepay.FieldAccountNumber: "Bitte geben Sie Ihre Kontonummer ein und drücken Sie anschließend die Rautetaste.",
	},
	amexCode: "Bitte geben Sie die vierstellige Prüfnummer auf der Vorderseite Ihrer Karte ein.",
	errs: map[string]string{
		"timeout":                 "Leider haben wir keine Eingabe erhalten.",
		card.InvalidNumber:        "Diese Kartennummer ist leider ungültig.",
		card.InvalidType:          "Diese Kartenart akzeptieren wir leider nicht.",
		card.InvalidDate:          "Dieses Ablaufdatum ist leider ungültig.",
		card.InvalidSecurityCode:  "Diese Prüfnummer ist leider ungültig.",
		card.InvalidPostalCode:    "Diese Postleitzahl ist leider ungültig.",
		card.InvalidRoutingNumber: "Diese Bankleitnummer ist leider ungültig.",
		card.InvalidAccountNumber: "Diese Kontonummer ist leider ungültig.",
		"input-matching-failed":   "Die beiden Eingaben stimmen leider nicht überein.",
	},
	again:      "Zur Bestätigung geben Sie sie bitte noch einmal ein.",
	processing: "Bitte warten Sie, während wir Ihre Zahlung bearbeiten.",
}

var italian = words{
	ask: map[tonepay.Field]string{
		tonepay.FieldCardNumber:    "Digiti il numero della sua carta, seguito dal tasto cancelletto.",
		tonepay.FieldExpiration:    "Digiti la data di scadenza della carta: due cifre per il mese e due per l'anno.",
		tonepay.FieldSecurityCode:  "Digiti il codice di sicurezza di tre cifre sul retro della carta.",
		tonepay.FieldPostalCode:    "Digiti il codice postale dell'indirizzo di fatturazione, seguito dal tasto cancelletto.",
		tonepay.FieldRoutingNumber: "Digiti il codice bancario di nove cifre.",
		tonepay.FieldAccountNumber: "Digiti il numero del suo conto bancario, seguito dal tasto cancelletto.",
	},
	amexCode: "Digiti il codice di sicurezza di quattro cifre sul fronte della carta.",
	errs: map[string]string{
		"timeout":                 "Spiacenti, non abbiamo ricevuto nessuna cifra.",
		card.InvalidNumber:        "Spiacenti, il numero della carta non è valido.",
		card.InvalidType:          "Spiacenti, non accettiamo questo tipo di carta.",
		card.InvalidDate:          "Spiacenti, la data di scadenza non è valida.",
		card.InvalidSecurityCode:  "Spiacenti, il codice di sicurezza non è valido.",
		card.InvalidPostalCode:    "Spiacenti, il codice postale non è valido.",
		card.InvalidRoutingNumber: "Spiacenti, il codice bancario non è valido.",
		card.InvalidAccountNumber: "Spiacenti, il numero di conto non è valido.",
		"input-matching-failed":   "Spiacenti, i due numeri non corrispondono.",
	},
	again:      "Per conferma, lo digiti di nuovo.",
	processing: "Attenda mentre elaboriamo il pagamento.",
}

// byLanguage maps each <Pay> language to its words; en-AU and en-IN speak
// as en-GB does (hash key, postcode), en-CA as en-US.
var byLanguage = map[string]*words{
	"en-US": &english, "en-CA": &english, "en-GB": &british, "en-AU": &british, "en-IN": &british,
	"es-ES": &spanishES, "es-MX": &spanishMX, "fr-FR": &frenchFR, "fr-CA": &frenchCA, "de-DE": &german, "it-IT": &italian,
}

func clone(w words) words {
	c := w
	c.ask, c.errs = map[tonepay.Field]string{}, map[string]string{}
	for k, v := range w.ask {
		c.ask[k] = v
	}
	for k, v := range w.errs {
		c.errs[k] = v
	}
	return c
}

// promptErr is the <Prompt errorType> name of a session ErrorType.
func promptErr(errorType string) string {
	if errorType == "input-timeout" {
		return "timeout"
	}
	return errorType
}

// DefaultPrompt is what tonepay says for a <Pay> step that no <Prompt>
// covers, in language (en-US when unknown): what went wrong, if anything,
// then the ask. cardType picks the amex security code's length.
func DefaultPrompt(language string, ask tonepay.PayAsk) string {
	w := byLanguage[language]
	if w == nil {
		w = &english
	}
	var s string
	switch {
	case string(ask.Field) == ForProcessing:
		return w.processing
	case ask.Field.IsMatcher():
		s = w.again
	case ask.Field == tonepay.FieldSecurityCode && (ask.CardType == card.Amex || ask.CardType == card.Optima):
		s = w.amexCode
	default:
		s = w.ask[ask.Field]
	}
	if e := w.errs[promptErr(ask.ErrorType)]; e != "" {
		s = e + " " + s
	}
	return strings.TrimSpace(s)
}

// errorWords is what went wrong, in language, or "".
func errorWords(language, errorType string) string {
	w := byLanguage[language]
	if w == nil {
		w = &english
	}
	return w.errs[promptErr(errorType)]
}

// choosePrompt picks the <Prompt> for ask: among those whose for names the
// field (a matcher: those with requireMatchingInputs; the first entry:
// those without), and whose attempt, errorType and cardType lists, when
// set, hold the ask's values, the most specific wins (errorType, then
// attempt, then cardType); ties go to document order. -1: none.
func choosePrompt(prompts []PayPrompt, ask tonepay.PayAsk) int {
	best, bestScore := -1, -1
	for i, p := range prompts {
		if p.For != string(ask.Field.Base()) || p.RequireMatchingInputs != ask.Field.IsMatcher() {
			continue
		}
		score := 0
		if len(p.ErrorTypes) > 0 {
			if !containsErr(p.ErrorTypes, ask.ErrorType) {
				continue
			}
			score += 4
		}
		if len(p.Attempts) > 0 {
			if !containsInt(p.Attempts, ask.Attempt) {
				continue
			}
			score += 2
		}
		if len(p.CardTypes) > 0 {
			if !containsStr(p.CardTypes, ask.CardType) {
				continue
			}
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

func containsErr(list []string, e string) bool {
	if e == "" {
		return false
	}
	for _, x := range list {
		if promptErr(x) == promptErr(e) {
			return true
		}
	}
	return false
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
