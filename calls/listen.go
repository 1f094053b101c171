package calls

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// What a real caller hears. A streamed (or SIP) call's TwiML writes what
// its caller hears on the timeline, as a simulated call's does; a leg that
// plays it listens to the timeline: woken after each commit in this process
// that stepped the call, and every listenPoll (another process's steps, a
// hang-up that stepped nothing), it reads the rows it has not seen. Reading
// the stored rows, not the step's output, gives every entry once and in
// order, <Pay>'s prompts and the entries said before the leg listened
// included.

// listenPoll bounds how late a leg hears what it was not woken for.
const listenPoll = time.Second

// hearer is one leg's listening to a call.
type hearer struct {
	account, call string
	fn            func([]tonepay.Heard, bool)
	wake          chan struct{} // cap 1: a wake-up pending
	done          chan struct{} // closed by stop
}

// Listen implements tonepay.LegService.
func (svc *Service) Listen(accountSid, callSid string, fn func(heard []tonepay.Heard, ended bool)) (stop func()) {
	h := &hearer{account: accountSid, call: callSid, fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	svc.mu.Lock()
	svc.hearers[callSid] = append(svc.hearers[callSid], h)
	svc.mu.Unlock()
	go svc.hear(h)
	var once bool
	return func() {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		if once {
			return
		}
		once = true
		close(h.done)
		hs := svc.hearers[callSid]
		for i, x := range hs {
			if x == h {
				hs = append(hs[:i:i], hs[i+1:]...)
				break
			}
		}
		if len(hs) == 0 {
			delete(svc.hearers, callSid)
		} else {
			svc.hearers[callSid] = hs
		}
	}
}

// wakeListeners wakes the legs listening to the calls a commit stepped
// with something to hear (words, a file) or an end: a key's step, the
// commonest on a live leg, reads nothing. It never blocks the committing
// goroutine.
func (svc *Service) wakeListeners(steps []txn.Step) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.hearers) == 0 {
		return
	}
	for _, st := range steps {
		if !audible(st.Out) {
			continue
		}
		for _, h := range svc.hearers[st.CallSid] {
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}
}

// hear reads the call's new timeline rows on each wake-up and tells h.fn
// what they make the caller hear, until stop, or once the call has ended.
func (svc *Service) hear(h *hearer) {
	t := time.NewTicker(listenPoll)
	defer t.Stop()
	var after int64
	for {
		heard, ended := svc.heardSince(h, &after)
		if len(heard) > 0 || ended {
			select {
			case <-h.done:
				return
			default:
			}
			h.fn(heard, ended)
		}
		if ended {
			return
		}
		select {
		case <-h.done:
			return
		case <-svc.runCtx.Done():
			return
		case <-h.wake:
		case <-t.C:
		}
	}
}

// heardSince returns what the rows after *after make the caller hear, and
// whether the call has ended (read first: rows written before its end are
// told with it).
func (svc *Service) heardSince(h *hearer, after *int64) ([]tonepay.Heard, bool) {
	ctx, cancel := context.WithTimeout(svc.runCtx, 5*time.Second)
	defer cancel()
	t := tonepay.NewTenant(svc.Tx.Store, h.account)
	call, err := t.FindCall(ctx, h.call)
	if err != nil {
		if ctx.Err() == nil {
			svc.Logger.Debug("listening to a call", "call", h.call, "err", err)
		}
		return nil, false
	}
	ended := call.Status != tonepay.CallInProgress && call.Status != tonepay.CallRinging
	var heard []tonepay.Heard
	for {
		rows, err := t.FindTimeline(ctx, h.call, *after, 100)
		if err != nil {
			return heard, false
		}
		for _, r := range rows {
			*after = r.Seq
			var e voice.Entry
			if json.Unmarshal(r.Entry, &e) != nil {
				continue
			}
			switch {
			case e.Kind == "say" && e.Verb == "" && len(e.Text) > 0 && e.Text[0] == '(':
				// A description of a document read aloud, not its words.
			case e.Kind == "say" && e.Text != "":
				heard = append(heard, tonepay.Heard{Text: e.Text, Voice: e.Voice, Language: e.Language, Loop: e.Loop})
			case e.Kind == "play" && e.URL != "":
				heard = append(heard, tonepay.Heard{Play: true, URL: e.URL, Loop: e.Loop})
			}
		}
		if len(rows) < 100 {
			return heard, ended
		}
	}
}

// Warn implements tonepay.LegService.
func (svc *Service) Warn(ctx context.Context, accountSid, callSid, text string) error {
	if !svc.timelines() {
		return nil
	}
	if _, err := tonepay.NewTenant(svc.Tx.Store, accountSid).FindCall(ctx, callSid); err != nil {
		return err
	}
	now := svc.now()
	_, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		rows, err := timelineRows(voice.Entry{At: now, Kind: "warning", Text: text})
		if err != nil {
			return err
		}
		return tx.AddTimeline(ctx, callSid, now, rows...)
	})
	return err
}

// audible reports whether a step gives a listening leg something to do.
func audible(o voice.Output) bool {
	if o.Ended != "" {
		return true
	}
	for _, e := range o.Timeline {
		if e.Kind == "say" || e.Kind == "play" || e.Kind == "hangup" {
			return true
		}
	}
	return false
}
