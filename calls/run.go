package calls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// The call runtime's runner. Each input to a call (it was answered, a
// document arrived, a key, a timer, a redirect, a hang-up) is one
// transaction: read the call and its run, step the voice engine, save the
// run (its Seq is the optimistic check), the timeline, the call's status,
// the progress callbacks (through the outbox) and what the call's
// agent-assisted session got. After commit the runner makes the requests the
// step asked for and feeds each answer back as the next input; waits become
// timers in this process and deadlines in the store, which the sweeper
// picks up after a restart or in another process.

// fetchDeadline is how long a fetch may be in flight before the sweeper
// takes it for lost (its process died) and repeats it: the Fetcher's 15 s
// limit and some slack.
const fetchDeadline = 20 * time.Second

// sweepGrace lets this process's timers go first; the sweeper takes waits
// only once they are this overdue (a restart, another process's call).
const sweepGrace = time.Second

// loadRun returns the call's run and state, or nil ones for a call that runs
// no TwiML.
func loadRun(ctx context.Context, rd tonepay.Reader, callSid string) (*tonepay.CallRun, *voice.State, error) {
	run, err := rd.FindCallRun(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var st voice.State
	if err := json.Unmarshal(run.State, &st); err != nil {
		return nil, nil, fmt.Errorf("call run %s: %w", callSid, err)
	}
	return run, &st, nil
}

// startRun answers a new call inside the transaction that created it; fe
// is how the far end of its <Dial>s behaves, kept in the run (the one
// place that reads it) for the call's life.
func (svc *Service) startRun(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, fe tonepay.FarEnd, now time.Time) error {
	st := &voice.State{AccountSid: call.AccountSid, CallSid: call.Sid, From: call.From, To: call.To, Direction: call.Direction,
		URL: call.URL, Method: call.Method, Twiml: call.Twiml, FallbackURL: call.FallbackURL, FallbackMethod: call.FallbackMethod,
		ForwardedFrom: call.ForwardedFrom, Live: call.Leg.Real(), SIPDial: call.Leg == tonepay.LegSIP && svc.Dialer != nil}
	if fe != (tonepay.FarEnd{}) {
		st.FarEnd = fe.String()
	}
	if call.Direction == tonepay.DirectionInbound {
		// Opaque to the app, as Twilio's is; kept in the run, so that every
		// request of the call carries the same one.
		st.CallToken = svc.NewSID("")
	}
	if call.Leg == tonepay.LegStream {
		// Answered on Twilio before it streamed here: its first document
		// neither rings it nor answers it (nor does a first <Reject>).
		st.Status = tonepay.CallInProgress
	}
	if call.Direction != tonepay.DirectionInbound {
		st.Status = tonepay.CallInProgress // the simulated far end answers at once
		for _, ev := range []string{tonepay.EventInitiated, tonepay.EventRinging, tonepay.EventAnswered} {
			svc.progress(w, call, st, ev, now)
		}
	}
	out := svc.Voice.Step(st, voice.Input{Kind: voice.Answered}, now)
	return svc.saveRun(ctx, tx, w, call, &tonepay.CallRun{CallSid: call.Sid, AccountSid: call.AccountSid}, st, out, out.Timeline, now)
}

// saveRun writes what a step did: the call's status (and its end), the run,
// the timeline tl (the step's, with any keys given to a session), and the
// effect for after commit.
func (svc *Service) saveRun(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, run *tonepay.CallRun,
	st *voice.State, out voice.Output, tl []voice.Entry, now time.Time) error {
	n := len(out.Timeline)
	if err := svc.legs(ctx, tx, w, call, st, &out, now); err != nil {
		return err
	}
	tl = append(tl, out.Timeline[n:]...) // a Dial that ended at once (busy, failed)
	for out.Pay != nil {                 // a <Pay> began: its session starts, or it ends at once (and the next may begin)
		v := out.Pay
		out.Pay = nil
		more, err := svc.startPay(ctx, tx, w, call, st, v, now)
		if err != nil {
			return err
		}
		if err := svc.legs(ctx, tx, w, call, st, &more, now); err != nil { // what follows an ended <Pay> may Dial
			return err
		}
		tl = append(tl, more.Timeline...)
		out = merge(out, more)
	}
	// The step's entries first: a call's end may end its session, whose
	// outcome row (addOutcome) then follows the hang-up that caused it.
	if len(tl) > 0 {
		entries, err := timelineRows(tl...)
		if err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, call.Sid, now, entries...); err != nil {
			return err
		}
	}
	switch {
	case out.Ended != "":
		if err := svc.endCall(ctx, tx, w, call, st, out.Ended, now); err != nil {
			return err
		}
	case st.Status != "" && st.Status != call.Status:
		call.Status, call.DateUpdated = st.Status, now
		if err := tx.UpdateCall(ctx, call); err != nil {
			return err
		}
	}
	svc.nameStreams(out) // in st too: the same *voice.Stream
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	run.State, run.DateUpdated, run.Deadline = b, now, time.Time{}
	switch {
	case st.Fetch != nil:
		run.Deadline = now.Add(fetchDeadline)
	case st.Wait != nil:
		run.Deadline = st.Wait.Until
	}
	if err := tx.SaveCallRun(ctx, run); err != nil {
		return err
	}
	step := txn.Step{CallSid: call.Sid, AccountSid: call.AccountSid, Out: out, Wait: st.Wait}
	for _, en := range tl {
		if en.Kind == "error" {
			step.Errs = append(step.Errs, en)
		}
	}
	w.Steps = append(w.Steps, step)
	return nil
}

// timelineRows are the stored form of timeline entries, as they may be
// shown (voice.Entry.Redacted): every row of a call's timeline is written
// through it, so no row holds the credentials of a URL the call requests.
// Rows are what the Timeline API, the console and `tonepay call timeline`
// read, unchanged.
func timelineRows(tl ...voice.Entry) ([][]byte, error) {
	rows := make([][]byte, len(tl))
	for i, en := range tl {
		b, err := json.Marshal(en.Redacted())
		if err != nil {
			return nil, err
		}
		rows[i] = b
	}
	return rows, nil
}

// legs keeps a <Dial>'s far-end leg, a call of its own as on Twilio
// (outbound-dial, with ParentCallSid): made when the Dial begins, and ended
// when the Dial is no longer what the call does (the caller hung up, the
// call was redirected, timeLimit, *, the Dial's timeout), with the status
// the engine gives it (State.LegEnd). The leg runs no TwiML: it holds, and
// hanging it up (Calls update Status=completed) ends the parent's Dial. A
// far end scripted busy or failed (tonepay.FarEnd), or no-answer in
// simulated time (voice.Engine.Instant), is a leg made ended, and
// its Dial ends in a step of its own (voice.Dialed), added to out, whose
// action names the leg.
//
// It must follow every engine step, before the next one: st.Child is the
// one leg the call has, a later step may end the Dial (or the call) that
// this one began, and a Dial's action names st.Child as DialCallSid. So
// where steps are merged (a burst of keys, a <Pay>'s progress), each is
// passed here first; legs takes out.Bridged, so that a merge never carries
// one past the step that began it (issue 19: a leg made after its parent
// ended, never to end).
func (svc *Service) legs(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, st *voice.State, out *voice.Output, now time.Time) error {
	bridged := out.Bridged
	out.Bridged = nil
	if st.Child != "" && (st.Current == nil || st.Current.Name != "Dial" || bridged != nil) {
		leg, err := tx.FindCall(ctx, st.Child)
		if err != nil {
			return err
		}
		end := st.LegEnd
		st.Child, st.LegEnd = "", ""
		if live(leg.Status) {
			if end == "" { // as the engine would: runs saved before it said
				end = tonepay.CallCompleted
				if leg.Status != tonepay.CallInProgress {
					end = tonepay.CallCanceled
				}
			}
			if err := svc.endCall(ctx, tx, w, leg, nil, end, now); err != nil {
				return err
			}
		}
	}
	if bridged == nil {
		return nil
	}
	from := call.From
	if st.Current != nil && st.Current.CallerID != "" {
		from = st.Current.CallerID
	}
	to := bridged.Target
	if bridged.Kind == "Client" && !strings.HasPrefix(to, "client:") {
		to = "client:" + to // the API form of a client
	}
	status := st.Dialed
	if status == "" {
		status = tonepay.CallInProgress
	}
	leg := &tonepay.Call{Sid: svc.NewSID(tonepay.PrefixCall), AccountSid: call.AccountSid, To: to, From: from,
		ParentCallSid: call.Sid, Status: status, Direction: tonepay.DirectionOutboundDial, Leg: call.Leg, StartTime: now, DateCreated: now, DateUpdated: now}
	leg.Method, leg.FallbackMethod, leg.StatusCallbackMethod = "POST", "POST", "POST"
	if !live(status) {
		leg.EndTime = now // busy, failed, no-answer (simulated time): it never answered
	}
	if err := tx.CreateCall(ctx, leg); err != nil {
		return err
	}
	st.Child = leg.Sid
	if st.SIPDial && bridged.Kind == "Sip" {
		w.Dials = append(w.Dials, tonepay.LegDial{AccountSid: call.AccountSid, CallSid: call.Sid, LegSid: leg.Sid, To: bridged.Target, From: from})
	}
	if live(status) {
		return nil
	}
	more := svc.Voice.Step(st, voice.Input{Kind: voice.Dialed}, now)
	if err := svc.legs(ctx, tx, w, call, st, &more, now); err != nil { // what follows may Dial again
		return err
	}
	out.Timeline = append(out.Timeline, more.Timeline...)
	*out = merge(*out, more)
	return nil
}

// endCall ends a call: its status and end time, its open session (the
// caller hung up), and the completed progress callback. st is nil for a call
// that runs no TwiML.
func (svc *Service) endCall(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, st *voice.State, status string, now time.Time) error {
	if call.Leg == tonepay.LegSIP && call.ParentCallSid != "" {
		w.Drops = append(w.Drops, tonepay.LegDial{AccountSid: call.AccountSid, CallSid: call.ParentCallSid, LegSid: call.Sid})
	}
	call.Status, call.EndTime, call.DateUpdated = status, now, now
	if err := tx.UpdateCall(ctx, call); err != nil {
		return err
	}
	if st != nil {
		svc.progress(w, call, st, tonepay.EventCompleted, now)
	}
	return svc.Pay.HangUp(ctx, tx, w, call.Sid, now)
}

// farEndLeft tells leg's parent that its Dial's far end hung up.
func (svc *Service) farEndLeft(ctx context.Context, tx tonepay.Tx, w *txn.Work, leg *tonepay.Call, now time.Time) error {
	return svc.tellParent(ctx, tx, w, leg, voice.Input{Kind: voice.FarEndHangUp}, now)
}

// tellParent steps leg's parent with in, what its Dial's far end did,
// unless the parent has moved on from that Dial.
func (svc *Service) tellParent(ctx context.Context, tx tonepay.Tx, w *txn.Work, leg *tonepay.Call, in voice.Input, now time.Time) error {
	parent, err := tx.FindCall(ctx, leg.ParentCallSid)
	if err != nil {
		return err
	}
	run, st, err := loadRun(ctx, tx, parent.Sid)
	if err != nil || run == nil || st.Child != leg.Sid {
		return err // the parent has moved on already
	}
	out := svc.Voice.Step(st, in, now)
	return svc.saveRun(ctx, tx, w, parent, run, st, out, out.Timeline, now)
}

// progress queues a call-progress callback for event if the call's
// StatusCallback asked for it, numbered by st.Progress (Twilio's
// SequenceNumber, from 0).
func (svc *Service) progress(w *txn.Work, call *tonepay.Call, st *voice.State, event string, now time.Time) {
	if call.StatusCallback == "" || !slices.Contains(call.StatusCallbackEvents, event) {
		return
	}
	f := st.Params()
	status := map[string]string{tonepay.EventInitiated: "initiated", tonepay.EventRinging: tonepay.CallRinging,
		tonepay.EventAnswered: tonepay.CallInProgress, tonepay.EventCompleted: call.Status}[event]
	f.Set("CallStatus", status)
	f.Set("CallbackSource", "call-progress-events")
	f.Set("SequenceNumber", strconv.Itoa(st.Progress))
	f.Set("Timestamp", now.UTC().Format(time.RFC1123Z))
	if event == tonepay.EventCompleted {
		d := call.Duration()
		f.Set("CallDuration", strconv.Itoa(d))
		f.Set("SipResponseCode", strconv.Itoa(sipCode[call.Status]))
		if call.Status == tonepay.CallCompleted {
			f.Set("Duration", strconv.Itoa((d+59)/60)) // billed minutes
		}
	}
	st.Progress++
	w.Callbacks = append(w.Callbacks, &tonepay.Callback{AccountSid: call.AccountSid, Chain: call.Sid,
		URL: call.StatusCallback, Method: call.StatusCallbackMethod, Form: f})
}

// sipCode is the SipResponseCode of a terminal progress callback.
var sipCode = map[string]int{tonepay.CallCompleted: 200, tonepay.CallBusy: 486, tonepay.CallNoAnswer: 487, tonepay.CallFailed: 500, tonepay.CallCanceled: 487}

// stepCall applies in to a running call in one transaction and returns
// what the runner must do next; nothing when the input changed nothing (a
// stale timer or answer) or the call no longer runs. warns (a fetch's) go on
// the timeline before what the step did, unless it did nothing.
func (svc *Service) stepCall(ctx context.Context, callSid string, in voice.Input, warns ...string) ([]txn.Step, error) {
	return svc.onRun(ctx, callSid, func(_ *tonepay.CallRun, st *voice.State, now time.Time) (voice.Output, bool) {
		out := svc.Voice.Step(st, in, now)
		if quiet(out) {
			return out, false
		}
		if len(warns) > 0 {
			tl := make([]voice.Entry, 0, len(warns)+len(out.Timeline))
			for _, w := range warns {
				tl = append(tl, voice.Entry{At: now, Kind: "warning", Text: w})
			}
			out.Timeline = append(tl, out.Timeline...)
		}
		return out, true
	})
}

// onRun is one transaction on a call's run: step decides the output and
// whether to save it; a call that runs no TwiML is left alone.
func (svc *Service) onRun(ctx context.Context, callSid string, step func(*tonepay.CallRun, *voice.State, time.Time) (voice.Output, bool)) ([]txn.Step, error) {
	now := svc.now()
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		call, err := tx.FindCall(ctx, callSid)
		if err != nil {
			return err
		}
		run, st, err := loadRun(ctx, tx, callSid)
		if err != nil || run == nil {
			return err
		}
		out, save := step(run, st, now)
		if !save {
			return nil
		}
		return svc.saveRun(ctx, tx, w, call, run, st, out, out.Timeline, now)
	})
	return w.Steps, err
}

// quiet reports a step that did nothing, which need not be saved.
func quiet(o voice.Output) bool {
	return o.Fetch == nil && len(o.Notify) == 0 && o.Wait == nil && o.Unrouted == 0 && o.Ended == "" && len(o.Timeline) == 0
}

// settle makes the requests committed steps asked for, feeding each answer
// back, until every call waits for its caller or has ended. It runs on the
// service's own context: a client that stops waiting does not stop a call.
func (svc *Service) settle(effs []txn.Step) {
	ctx := svc.runCtx
	for len(effs) > 0 {
		e := effs[0]
		effs = effs[1:]
		for _, n := range e.Out.Notify {
			svc.Fetcher.Fetch(ctx, fetchRequest(e.CallSid, n)) // the answer is ignored (Twilio's)
		}
		if e.Out.Ended != "" {
			// Its last request made: the call's cookies go (a fetch racing
			// the end may make the jar again; the Fetcher forgets idle ones).
			if ce, ok := svc.Fetcher.(tonepay.CallEnder); ok {
				ce.CallEnded(e.AccountSid, e.CallSid)
			}
		}
		f := e.Out.Fetch
		if f == nil {
			continue
		}
		in := voice.Input{Kind: voice.Fetched, Seq: f.Seq}
		res, err := svc.Fetcher.Fetch(ctx, fetchRequest(e.CallSid, f))
		var fe *tonepay.FetchError
		var warns []string
		switch {
		case err != nil && ctx.Err() != nil:
			return // shutting down: the fetch stays in flight in the run, and the next start repeats it
		case errors.As(err, &fe):
			in.Kind, in.Code, in.Message = voice.FetchFailed, fe.Code, fe.Message
			warns = fe.Warnings
		case err != nil:
			in.Kind, in.Code, in.Message = voice.FetchFailed, tonepay.CodeHTTPRetrieval, "HTTP retrieval failure"
		default:
			in.Status, in.ContentType, in.Body = res.Status, res.ContentType, res.Body
			warns = res.Warnings
		}
		next, err := svc.stepCall(ctx, e.CallSid, in, warns...)
		if err != nil {
			if ctx.Err() == nil {
				svc.Logger.Error("running a call's TwiML", "call", e.CallSid, "err", err)
			}
			continue // the run's deadline has the sweeper repeat the fetch
		}
		effs = append(effs, next...)
	}
}

// fetchRequest is the request for f, a fetch of call callSid: it carries
// and keeps the call's cookies.
func fetchRequest(callSid string, f *voice.Fetch) *tonepay.FetchRequest {
	return &tonepay.FetchRequest{AccountSid: f.Params.Get("AccountSid"), CallSid: callSid, URL: f.URL, Method: f.Method, Params: cloneValues(f.Params)}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, x := range v {
		out[k] = slices.Clone(x)
	}
	return out
}

// armTimers keeps one timer per waiting call in this process: a step that
// waits replaces the call's timer, one that ends the wait stops it.
func (svc *Service) armTimers(effs []txn.Step) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	for _, e := range effs {
		if t := svc.timers[e.CallSid]; t != nil {
			t.Stop()
			delete(svc.timers, e.CallSid)
		}
		if e.Wait == nil || svc.runCtx.Err() != nil {
			continue
		}
		sid := e.CallSid
		svc.timers[sid] = time.AfterFunc(e.Wait.Until.Sub(svc.Tx.Now()), func() { svc.timeout(sid) })
	}
}

// timeout feeds a call's due wait to it.
func (svc *Service) timeout(sid string) {
	svc.mu.Lock()
	if t := svc.timers[sid]; t != nil && !t.Stop() {
		delete(svc.timers, sid) // this one, fired: the map keeps only waiting calls
	}
	stopped := svc.runCtx.Err() != nil
	if !stopped {
		svc.runs.Add(1) // under mu: StopCalls cannot be waiting yet
	}
	svc.mu.Unlock()
	if stopped {
		return
	}
	defer svc.runs.Done()
	effs, err := svc.stepCall(svc.runCtx, sid, voice.Input{Kind: voice.Timeout})
	if err != nil {
		if svc.runCtx.Err() == nil {
			svc.Logger.Error("a call's timer", "call", sid, "err", err)
		}
		return
	}
	svc.settle(effs)
}

// SweepCalls hangs up, at most every few seconds (and always with all),
// the real calls whose process stopped (their lease lapsed: endLapsed). It
// runs what is due on calls whose own timer is not in this process (a
// restart, another process's call): waits overdue by sweepGrace, and
// fetches whose deadline passed (their process died), which are repeated.
// all: take every fetch in flight now, as a starting process does. Then, at
// most every orphanEvery (and always with all), it ends orphan Dial legs
// (endOrphans). It returns how many calls it took.
func (svc *Service) SweepCalls(ctx context.Context, all bool) (int, error) {
	now := svc.now()
	ended, err := svc.endLapsed(ctx, now, all)
	if err != nil || svc.Fetcher == nil {
		return ended, err // with no Fetcher, no call runs TwiML here
	}
	n, err := svc.sweepRuns(ctx, now, all)
	return ended + n, err
}

// sweepRuns is SweepCalls' part for calls' runs and Dial legs.
func (svc *Service) sweepRuns(ctx context.Context, now time.Time, all bool) (int, error) {
	at := now.Add(-sweepGrace)
	if all {
		at = now.Add(fetchDeadline)
	}
	sids, err := svc.Tx.Store.FindDueCallRuns(ctx, at, 100)
	if err != nil {
		return 0, err
	}
	for _, sid := range sids {
		effs, err := svc.resume(ctx, sid, at)
		if err != nil {
			return 0, err
		}
		svc.settle(effs)
	}
	svc.mu.Lock()
	due := all || !now.Before(svc.orphansAt)
	if due {
		svc.orphansAt = now.Add(orphanEvery)
	}
	svc.mu.Unlock()
	if !due {
		return len(sids), nil
	}
	n, err := svc.endOrphans(ctx)
	return len(sids) + n, err
}

// orphanEvery spaces the sweeps for orphan legs: the query reads every call
// in progress, and an orphan is rare (a crash, a bug), so the 100 ms
// sweeper need not look each time.
const orphanEvery = 5 * time.Second

// endOrphans ends Dial legs still in progress whose parent has ended. A leg
// ends in the transaction that ends its Dial (legs), so an orphan is a
// crash's or a bug's (issue 19): left alone it would hold the far end and
// tonepay_calls_active forever. Each is ended in a transaction of its own
// that reads the parent (locked first, in the order the parent's own steps
// lock them) and the leg again: another process may have ended it.
func (svc *Service) endOrphans(ctx context.Context) (int, error) {
	legs, err := svc.Tx.Store.FindOrphanLegs(ctx, 100)
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, l := range legs {
		now := svc.now()
		var done bool
		w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
			done = false // commit may run this again
			parent, err := tx.FindCall(ctx, l.ParentCallSid)
			if err != nil {
				return err
			}
			leg, err := tx.FindCall(ctx, l.Sid)
			if err != nil || leg.Status != tonepay.CallInProgress || leg.ParentCallSid != parent.Sid || live(parent.Status) {
				return err
			}
			done = true
			return svc.endCall(ctx, tx, w, leg, nil, tonepay.CallCompleted, now)
		})
		if err != nil {
			return ended, err
		}
		svc.settle(w.Steps) // a session on the leg hung up; nothing else
		if done {
			ended++
			svc.Logger.Warn("ended a Dial leg its parent call left in progress", "call", l.Sid, "parent", l.ParentCallSid)
		}
	}
	return ended, nil
}

// live reports a call status that has not ended.
func live(status string) bool {
	return status == tonepay.CallQueued || status == tonepay.CallRinging || status == tonepay.CallInProgress
}

// resume takes a due run: a lost fetch is claimed (saved with a new
// deadline, so one process repeats it) and repeated; a due wait times out.
// It saves whatever it did (a run the sweeper found must not stay due),
// unless the run is no longer due: another sweeper took it first.
func (svc *Service) resume(ctx context.Context, sid string, due time.Time) ([]txn.Step, error) {
	return svc.onRun(ctx, sid, func(run *tonepay.CallRun, st *voice.State, now time.Time) (voice.Output, bool) {
		if run.Deadline.IsZero() || run.Deadline.After(due) {
			return voice.Output{}, false // another sweeper (process) took it first
		}
		f := st.Fetch
		if f == nil {
			return svc.Voice.Step(st, voice.Input{Kind: voice.Timeout}, now), true
		}
		return voice.Output{Fetch: f, Timeline: []voice.Entry{{At: now, Kind: "fetch", URL: f.URL, Method: f.Method,
			Text: f.Reason + " (repeated: its process stopped)"}}}, true
	})
}

// StopCalls stops the runner for a shutdown: timers, then the requests in
// flight (their runs keep the fetch, which the next start repeats).
func (svc *Service) StopCalls() {
	svc.mu.Lock()
	svc.stopRuns()
	for sid, t := range svc.timers {
		t.Stop()
		delete(svc.timers, sid)
	}
	svc.mu.Unlock()
	svc.stopAllStreams() // each sends its stop frame; the waits below include their ends
	svc.runs.Wait()
}

// CallbackAnswered puts a call's webhooks and their answers on its
// timeline (DESIGN §9): call progress callbacks and a <Pay>'s
// statusCallbacks, once their attempt is on record. An agent's Payments
// callbacks are the agent's, not the call's: their attempts are in the
// session's Callbacks view. Wired to webhook.Dispatcher.Answered.
func (svc *Service) CallbackAnswered(cb *tonepay.Callback, a *tonepay.Attempt) {
	callSid, what := "", ""
	switch {
	case cb.Form.Has("StreamEvent"): // a media stream's statusCallback, on its call's chain
		callSid, what = cb.Form.Get("CallSid"), "stream statusCallback: StreamEvent="+cb.Form.Get("StreamEvent")
	case cb.Form.Has("UnstableSpeechResult"): // a <Gather>'s partialResultCallback (speech.go)
		callSid, what = cb.Form.Get("CallSid"), "partialResultCallback: SequenceNumber="+cb.Form.Get("SequenceNumber")
		svc.partialAnswered(callSid)
	case tonepay.IsSID(cb.Chain, tonepay.PrefixCall):
		callSid, what = cb.Chain, "call progress: "+cb.Form.Get("CallStatus")
	case cb.Form.Has("For"): // a <Pay>'s statusCallback
		callSid, what = cb.Form.Get("CallSid"), "<Pay> statusCallback: For="+cb.Form.Get("For")+" Attempt="+cb.Form.Get("Attempt")
		if e := cb.Form.Get("ErrorType"); e != "" {
			what += " ErrorType=" + e
		}
	default:
		return
	}
	if callSid == "" {
		return
	}
	at := a.At.Add(a.Duration).UTC()
	en := voice.Entry{At: at, Kind: "webhook", URL: cb.URL, Method: cb.Method, Status: a.StatusCode, Text: what}
	if en.Method == "" {
		en.Method = "POST"
	}
	if a.Error != "" {
		en.Text += " (" + a.Error + ")"
	}
	if a.StatusCode >= 400 {
		en.Code = 15003 // Twilio's warning for a callback answered 4xx/5xx
	}
	rows, err := timelineRows(en)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(svc.runCtx, 5*time.Second)
	defer cancel()
	if err := svc.Tx.Store.Update(ctx, func(tx tonepay.Tx) error { return tx.AddTimeline(ctx, callSid, at, rows...) }); err != nil && ctx.Err() == nil {
		svc.Logger.Warn("a webhook's answer was not put on its call's timeline", "call", callSid, "err", err)
	}
}

// RunSweeper sweeps calls (SweepCalls) every interval until ctx is done,
// and renews the leases of the real calls this process carries (lease.go)
// on a goroutine of its own meanwhile.
func (svc *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	var renewer sync.WaitGroup
	renewer.Go(func() { svc.runRenewer(ctx) })
	defer renewer.Wait()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := svc.SweepCalls(ctx, false); err != nil && ctx.Err() == nil {
			svc.Logger.Error("sweeping call deadlines", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
