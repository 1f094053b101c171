// Package tonepay holds the domain of a Twilio-compatible agent-assisted
// payments service: accounts, calls, payment sessions and their status
// callbacks, the errors the API speaks, and the interfaces (Store, Connector,
// Courier) that the technology subpackages implement.
//
// It imports the standard library only. Subpackages meet through these types;
// cmd/tonepay is the only place that wires them together.
package tonepay
