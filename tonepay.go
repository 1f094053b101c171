// Package tonepay holds the domain of a Twilio-compatible agent-assisted
// payments service: accounts, calls, payment sessions and their status
// callbacks, the errors the API speaks, and the interfaces (Store, Connector,
// Courier) that the technology subpackages implement.
//
// It imports the standard library only. Subpackages meet through these types;
// cmd/tonepay is the only place that wires them together.
package tonepay

// APIVersion is the version of Twilio's REST API tonepay speaks: its path
// prefix, the api_version of its resources, and the ApiVersion parameter of
// every request the call runtime makes to an app.
const APIVersion = "2010-04-01"
