package sip

// RFC 4733 telephone-event payloads, decoded by hand (pion/rtp has no codec
// for them): event, E|R|volume, duration (big-endian). All packets of one
// event share its start's RTP timestamp; the end packet is usually sent
// three times. One key per event, counted on its first end packet.
//
// SIPp replays its pcaps verbatim, so two identical keys in a row arrive
// with the same timestamp (reference deps.md §4): a new event also starts
// when the marker bit is set, or when a non-end packet follows an end.

// eventDigits maps event codes 0-15 to keys.
const eventDigits = "0123456789*#ABCD"

// events decodes one call's telephone-event packets.
type events struct {
	started bool   // a packet has been seen
	ts      uint32 // the current event's timestamp
	ended   bool   // the current event's end has been counted
}

// packet reads one telephone-event payload and returns the key it ends,
// or 0, and whether it began a new event (the relay to an agent decides
// per event whether to drop it).
func (e *events) packet(marker bool, ts uint32, payload []byte) (key byte, began bool) {
	if len(payload) < 4 || payload[0] > 15 {
		return 0, false
	}
	end := payload[1]&0x80 != 0
	if !e.started || marker || ts != e.ts || (e.ended && !end) {
		e.started, e.ts, e.ended, began = true, ts, false, true
	}
	if !end || e.ended {
		return 0, began
	}
	e.ended = true
	return eventDigits[payload[0]], began
}
