// Package stripe is the pay connector for Stripe: it charges a captured card
// with a confirmed PaymentIntent, or tokenizes it as a Token (one-time), a
// PaymentMethod (payment-method) or a Customer with a PaymentMethod attached
// (reusable), as Twilio's own Stripe connector does.
//
// # Raw card data
//
// The card number and security code reach this connector in clear (they were
// keyed on a phone), so it sends them to Stripe's API itself instead of
// through Stripe.js or Elements. Stripe restricts that:
//
//   - In live mode the Stripe account must have the "raw card data APIs"
//     enabled by Stripe support, which Stripe grants only to businesses that
//     show they are PCI DSS compliant for handling card data themselves
//     (typically SAQ D, or a Report on Compliance). This server then handles
//     cardholder data and is in PCI scope.
//   - In test mode test card numbers (4242424242424242 and the like) work
//     with test keys; Stripe has, for some newer accounts, also asked for the
//     raw card data APIs to be enabled in test mode.
//   - Otherwise Stripe refuses the request with an invalid_request_error
//     ("Sending credit card numbers directly to the Stripe API is generally
//     unsafe…"), which Pay reports as 64001 (connector configuration).
//
// # Refused keys
//
// A key Stripe calls expired (api_key_expired: rolled or revoked after it
// worked) ends the payment with 64009, Twilio's "no longer authorized to
// initiate transactions on your behalf"; any other refused key (a wrong one,
// a restricted key without the permission) with 64001.
//
// # Settings
//
//   - secret_key (required): a secret (sk_) or restricted (rk_) key whose
//     test/live prefix matches the connector's mode.
//   - api_url (optional): base URL of the API, for stripe-mock or a fake in
//     tests; default Stripe's. Live mode requires https.
//   - timeout (optional): a Go duration bounding each API call, default 10s,
//     the time Twilio gives a Generic Pay Connector before it retries.
//
// # Retries
//
// The client never retries by itself (MaxNetworkRetries 0): an answer that
// does not arrive is returned as an error, and the caller calls Pay again
// with the same transaction id. Every Stripe request carries an idempotency
// key derived from that id, so the retry gets the first attempt's object
// rather than a second charge (Stripe keeps keys for at least 24 hours).
package stripe
