-- PruneSessions (--retention) deletes the sessions that ended before a cut,
-- oldest first: the index holds only ended sessions, in that order, and
-- pruning keeps it to the retention window rather than every session ever
-- made. An ended session changes no more, so date_updated is when it ended.
CREATE INDEX sessions_ended ON sessions (date_updated, sid) WHERE status = 'ended';
