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
