-- The head of each chain (issue 19), as PostgreSQL's 010: a session's
-- callbacks go out in order, so only its oldest pending callback may be
-- claimed. Claims used to scan the whole table in ID order, delivered
-- callbacks too, checking every pending one for an earlier one; the next
-- due time checked every pending one. chain_head marks the oldest pending
-- callback of each session (AddCallbacks sets it on a session's first
-- pending callback, RecordAttempt on the next one when its head leaves
-- pending), and callbacks_heads holds only the heads, in the order they fall
-- due, so that a claim of n reads about n entries whatever the backlog.
-- Claims still check that no earlier callback of the session is pending, so
-- a flag left on one that is not its chain's oldest is harmless (a flag is
-- never cleared). PostgreSQL keeps the flag with triggers, for the older
-- processes sharing its database during an upgrade; a SQLite file has one
-- process, and the store's own statements cost no extra row write.
ALTER TABLE callbacks ADD COLUMN chain_head INTEGER NOT NULL DEFAULT 0;
UPDATE callbacks SET chain_head = 1
	WHERE status = 'pending'
	AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = callbacks.session_sid AND p.status = 'pending' AND p.id < callbacks.id);
CREATE INDEX callbacks_heads ON callbacks (max(next_attempt_at, leased_until), id) WHERE status = 'pending' AND chain_head;
-- No query reads callbacks_due any more; every change of a retry time
-- wrote to it.
DROP INDEX callbacks_due;
