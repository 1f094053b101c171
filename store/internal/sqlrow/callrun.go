package sqlrow

import "github.com/tonepay/tonepay"

// CallRunCols are the columns ScanCallRun reads.
const CallRunCols = `call_sid, account_sid, state, seq, deadline, date_updated`

// ScanCallRun reads one row.
func ScanCallRun(s Scanner) (*tonepay.CallRun, error) {
	var r tonepay.CallRun
	var deadline, updated int64
	if err := s.Scan(&r.CallSid, &r.AccountSid, &r.State, &r.Seq, &deadline, &updated); err != nil {
		return nil, err
	}
	r.Deadline, r.DateUpdated = Tm(deadline), Tm(updated)
	return &r, nil
}

// TimelineCols are the columns ScanTimeline reads.
const TimelineCols = `call_sid, seq, at, entry`

// ScanTimeline reads one row.
func ScanTimeline(s Scanner) (*tonepay.TimelineEntry, error) {
	var e tonepay.TimelineEntry
	var at int64
	if err := s.Scan(&e.CallSid, &e.Seq, &at, &e.Entry); err != nil {
		return nil, err
	}
	e.At = Tm(at)
	return &e, nil
}

// MissedSave is why a SaveCallRun that changed no row failed: a first save
// (Seq 0) that found a run already there, or a later one whose Seq is stale,
// is ErrConflict; a later save of a run that does not exist is ErrNotFound.
// exists asks the store whether the call has a run.
func MissedSave(seq int64, exists func() (bool, error)) error {
	if seq == 0 {
		return tonepay.ErrConflict
	}
	ok, err := exists()
	switch {
	case err != nil:
		return err
	case ok:
		return tonepay.ErrConflict
	}
	return tonepay.ErrNotFound
}
