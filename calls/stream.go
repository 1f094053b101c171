package calls

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// A simulated call's media streams (DESIGN §11 "sent"). The engine says
// which streams to open and stop (voice.Output.StartStreams, StopStreams);
// saveRun names each new one (MZ…) in the transaction that started it, and
// after commit the runtime opens it through the Streamer, which dials and
// writes on the stream's own goroutines. What a stream tells back (it
// connected, a mark came back, it ended) is a short transaction of its own:
// a timeline row, the stream's statusCallback through the outbox, and, at
// its end, a StreamEnded step of the call (which ends a <Connect>). The
// caller's keys reach the open streams at the door (streamKeys) as tones.
// Open streams live in this process: a restart loses them, and a <Connect>
// that waited on one waits until the call is hung up or redirected.

// liveStream is an open stream of this process.
type liveStream struct {
	accountSid, callSid string
	v                   voice.Stream
	h                   tonepay.Stream
}

// nameStreams gives each stream a step started its SID, before the run
// that holds them is saved.
func (svc *Service) nameStreams(out voice.Output) {
	for _, s := range out.StartStreams {
		if s.Sid == "" {
			s.Sid = svc.NewSID(tonepay.PrefixStream)
		}
	}
}

// streamEffects opens and stops what a committed step asked for; a call
// that ended stops every stream it still has here.
func (svc *Service) streamEffects(e txn.Step) {
	if svc.Streamer == nil {
		return
	}
	for _, s := range e.Out.StartStreams {
		svc.openStream(e.AccountSid, e.CallSid, *s)
	}
	var stop []tonepay.Stream
	svc.smu.Lock()
	for _, s := range e.Out.StopStreams {
		if ls := svc.streams[e.CallSid][s.Sid]; ls != nil {
			stop = append(stop, ls.h)
		}
	}
	if e.Out.Ended != "" {
		for _, ls := range svc.streams[e.CallSid] {
			stop = append(stop, ls.h)
		}
	}
	svc.smu.Unlock()
	for _, h := range stop {
		h.Stop() // never blocks; the stream's Ended follows
	}
}

func (svc *Service) openStream(accountSid, callSid string, v voice.Stream) {
	svc.mu.Lock()
	if svc.runCtx.Err() != nil {
		svc.mu.Unlock()
		return // shutting down
	}
	svc.runs.Add(1) // under mu, as timers do: StopCalls waits for the stream's end
	svc.mu.Unlock()
	ls := &liveStream{accountSid: accountSid, callSid: callSid, v: v}
	req := tonepay.StreamRequest{AccountSid: accountSid, CallSid: callSid, StreamSid: v.Sid, URL: v.URL, Tracks: v.Tracks(),
		Bidirectional: v.Bidirectional, Parameters: v.Parameters}
	ev := tonepay.StreamEvents{
		Started: func() { svc.streamStarted(ls) },
		Mark:    func(name string) { svc.streamMark(ls, name) },
		Ended: func(end tonepay.StreamEnd) {
			defer svc.runs.Done()
			svc.streamEnded(ls, end)
		},
	}
	// Held while opening: Ended, on the stream's goroutine, waits to find
	// the stream registered before it removes it.
	svc.smu.Lock()
	defer svc.smu.Unlock()
	if svc.streams[callSid] == nil {
		svc.streams[callSid] = map[string]*liveStream{}
	}
	svc.streams[callSid][v.Sid] = ls
	ls.h = svc.Streamer.OpenStream(svc.runCtx, req, ev)
}

// streamKeys plays keys the simulated caller pressed on the call's open
// streams. A-D are keys too; w is a wait, not a tone.
func (svc *Service) streamKeys(callSid, keys string) {
	svc.smu.Lock()
	defer svc.smu.Unlock()
	for _, ls := range svc.streams[callSid] {
		for i := 0; i < len(keys); i++ {
			ls.h.Press(keys[i])
		}
	}
}

// stopAllStreams stops every stream of this process (a shutdown).
func (svc *Service) stopAllStreams() {
	svc.smu.Lock()
	defer svc.smu.Unlock()
	for _, call := range svc.streams {
		for _, ls := range call {
			ls.h.Stop()
		}
	}
}

func (svc *Service) streamStarted(ls *liveStream) {
	now := svc.now()
	svc.streamRow(ls, func(tx tonepay.Tx, w *txn.Work) error {
		svc.streamCallback(w, ls, "stream-started", "", now)
		return addRows(svc.runCtx, tx, ls.callSid, now, voice.Entry{At: now, Kind: "stream", URL: ls.v.URL, Text: "connected " + ls.v.Sid})
	})
}

func (svc *Service) streamMark(ls *liveStream, name string) {
	now := svc.now()
	svc.streamRow(ls, func(tx tonepay.Tx, _ *txn.Work) error {
		return addRows(svc.runCtx, tx, ls.callSid, now, voice.Entry{At: now, Kind: "stream", Text: "mark " + tonepay.Clip(name, 64) + " played"})
	})
}

// streamRow runs fn in a transaction of its own, logging a failure: a row
// or a callback lost must not stop the stream.
func (svc *Service) streamRow(ls *liveStream, fn func(tonepay.Tx, *txn.Work) error) {
	ctx := svc.runCtx
	if _, err := svc.commit(ctx, fn); err != nil && ctx.Err() == nil {
		svc.Logger.Warn("a media stream's event was not recorded", "call", ls.callSid, "stream", ls.v.Sid, "err", err)
	}
}

// streamEnded records a stream's end and steps its call: a <Connect> that
// waited on it goes on (its action, or the next verb).
func (svc *Service) streamEnded(ls *liveStream, end tonepay.StreamEnd) {
	svc.smu.Lock()
	if m := svc.streams[ls.callSid]; m != nil {
		delete(m, ls.v.Sid)
		if len(m) == 0 {
			delete(svc.streams, ls.callSid)
		}
	}
	svc.smu.Unlock()
	ctx := svc.runCtx
	if ctx.Err() != nil {
		return // a shutdown: the call's run stays as it was
	}
	now := svc.now()
	row := voice.Entry{At: now, Kind: "stream", Text: fmt.Sprintf("ended %s: %s; %.1f s of audio from the app", ls.v.Sid, end.Why, end.Audio.Seconds())}
	event, why := "stream-stopped", ""
	if end.Why == tonepay.StreamFailed {
		event, why = "stream-error", end.Error
		row.Kind, row.Code, row.URL = "error", end.Code, ls.v.URL
		row.Text = fmt.Sprintf("stream %s: %s; %.1f s of audio from the app", ls.v.Sid, end.Error, end.Audio.Seconds())
	}
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		svc.streamCallback(w, ls, event, why, now)
		call, err := tx.FindCall(ctx, ls.callSid)
		if err != nil {
			return err
		}
		run, st, err := loadRun(ctx, tx, ls.callSid)
		if err != nil {
			return err
		}
		if run == nil {
			return addRows(ctx, tx, ls.callSid, now, row)
		}
		out := svc.Voice.Step(st, voice.Input{Kind: voice.StreamEnded, Stream: ls.v.Sid}, now)
		out.Timeline = append([]voice.Entry{row}, out.Timeline...)
		return svc.saveRun(ctx, tx, w, call, run, st, out, out.Timeline, now)
	})
	if err != nil {
		if ctx.Err() == nil {
			svc.Logger.Error("a media stream's end", "call", ls.callSid, "stream", ls.v.Sid, "err", err)
		}
		return
	}
	svc.settle(w.Steps)
}

// streamCallback queues the stream's statusCallback for event, if it has
// one, with Twilio's parameters (twilio-voice.md §7.1): on the call's chain,
// after its progress callbacks.
func (svc *Service) streamCallback(w *txn.Work, ls *liveStream, event, why string, now time.Time) {
	if ls.v.StatusCallback == "" {
		return
	}
	name := ls.v.Name
	if name == "" {
		name = ls.v.Sid
	}
	f := url.Values{"AccountSid": {ls.accountSid}, "CallSid": {ls.callSid}, "StreamSid": {ls.v.Sid}, "StreamName": {name},
		"StreamEvent": {event}, "Timestamp": {now.UTC().Format("2006-01-02T15:04:05.000Z07:00")}}
	if why != "" {
		f.Set("StreamError", why)
	}
	w.Callbacks = append(w.Callbacks, &tonepay.Callback{AccountSid: ls.accountSid, Chain: ls.callSid,
		URL: ls.v.StatusCallback, Method: ls.v.StatusCallbackMethod, Form: f})
}

func addRows(ctx context.Context, tx tonepay.Tx, callSid string, now time.Time, tl ...voice.Entry) error {
	rows, err := timelineRows(tl...)
	if err != nil {
		return err
	}
	return tx.AddTimeline(ctx, callSid, now, rows...)
}
