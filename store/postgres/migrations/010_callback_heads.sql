-- The head of each chain (issue 19): a session's callbacks go out in order,
-- so only its oldest pending callback may be claimed. Claims used to find
-- those with an anti-join over every pending callback, walking the primary
-- key through the delivered ones too: seconds per claim once thousands were
-- due. chain_head marks the oldest pending callback of each session, and
-- callbacks_heads holds only the heads, in the order they fall due, so that
-- a claim of n reads about n entries whatever the backlog.
--
-- Triggers keep the flag, not the store's statements: during an upgrade,
-- processes of the version before (which know nothing of it) queue and
-- record callbacks in the same table (docs/deployment.md).
--   - A callback queued pending heads its chain when no other of its session
--     is pending. The oldest pending one is read FOR SHARE: a transaction
--     moving it out of pending either committed first (then the read follows
--     the change to the next pending callback, if any) or waits for this
--     one, and its trigger below then sees the new callback.
--   - A callback leaving pending hands the head to the next pending one.
-- A flag is never cleared. A delivered callback made pending again by a late
-- attempt (a claim that ran out while its holder was still sending) keeps
-- its flag, so its chain still has a head; the next one, marked as well,
-- waits behind it, since claims still check that no earlier callback of the
-- session is pending (one probe of callbacks_session per candidate).
ALTER TABLE callbacks ADD COLUMN chain_head boolean NOT NULL DEFAULT false;
UPDATE callbacks c SET chain_head = true
	WHERE c.status = 'pending'
	AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id);
CREATE INDEX callbacks_heads ON callbacks ((greatest(next_attempt_at, leased_until)), id) WHERE status = 'pending' AND chain_head;

CREATE FUNCTION callbacks_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.status = 'pending' THEN
		PERFORM 1 FROM callbacks WHERE session_sid = NEW.session_sid AND status = 'pending' ORDER BY id LIMIT 1 FOR SHARE;
		NEW.chain_head := NOT FOUND;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER callbacks_queued BEFORE INSERT ON callbacks
	FOR EACH ROW EXECUTE FUNCTION callbacks_queued();

CREATE FUNCTION callbacks_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE callbacks SET chain_head = true
		WHERE id = (SELECT min(id) FROM callbacks WHERE session_sid = NEW.session_sid AND status = 'pending') AND NOT chain_head;
	RETURN NULL;
END $$;
CREATE TRIGGER callbacks_settled AFTER UPDATE OF status ON callbacks
	FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status <> 'pending') EXECUTE FUNCTION callbacks_settled();
-- callbacks_due is read by no query of this version, but the version before
-- reads it (NextCallbackAt) while an upgrade runs: it goes in a later one.
