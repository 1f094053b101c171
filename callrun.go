package tonepay

import "time"

// CallRun is what the call runtime keeps of a call between its steps, so that
// a restarted server continues the call where it was: a fetch in flight is
// repeated, keys already applied are not applied again (both are in State).
type CallRun struct {
	CallSid    string
	AccountSid string
	// State is the runtime's state (voice.State) as JSON. The store keeps
	// the bytes as they are and reads nothing in them.
	State []byte
	// Seq is the optimistic check: 0 for a run never saved, then the number
	// of saves. SaveCallRun saves only over the Seq it was given and bumps it,
	// so two runners of one call cannot both win.
	Seq int64
	// Deadline is when the runtime must be woken if nothing happens first
	// (a Pause, a Gather's timeout); zero when nothing waits.
	Deadline    time.Time
	DateUpdated time.Time
}

// TimelineEntry is one line of a call's timeline: what the caller heard and
// did, and what the runtime fetched.
type TimelineEntry struct {
	CallSid string
	Seq     int64 // per call, 1..n in the order added; assigned by the store
	At      time.Time
	Entry   []byte // a voice.Entry as JSON, kept as it is
}
