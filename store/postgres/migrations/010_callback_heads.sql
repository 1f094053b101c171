-- The head of each chain (issue 19): a session's callbacks go out in order,
-- so only its oldest pending callback may be claimed. Claims used to find
-- those with an anti-join over every pending callback, walking the primary
-- key through the delivered ones too: seconds per claim once thousands were
-- due. chain_head marks the oldest pending callback of each session
-- (AddCallbacks sets it on a session's first pending callback, RecordAttempt
-- on the next one when its head leaves pending), and callbacks_heads holds
-- only the heads, in the order they fall due, so that a claim of n reads
-- about n entries whatever the backlog. A flag left on a callback that is no
-- longer its chain's oldest is harmless: claims still check that no earlier
-- callback of the session is pending, with one probe of callbacks_session.
-- Stop every process of an older version before starting this one: a
-- callback an older process queues is never marked as its chain's head.
ALTER TABLE callbacks ADD COLUMN chain_head boolean NOT NULL DEFAULT false;
UPDATE callbacks c SET chain_head = true
	WHERE c.status = 'pending'
	AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id);
CREATE INDEX callbacks_heads ON callbacks ((greatest(next_attempt_at, leased_until)), id) WHERE status = 'pending' AND chain_head;
-- No query reads callbacks_due any more; every change of a retry time
-- wrote to it.
DROP INDEX callbacks_due;
