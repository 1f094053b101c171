-- A real leg's call (a media stream, a SIP call) lives in the process that
-- carries its socket or dialog. That process renews the call's lease while
-- the call is up; once the lease has lapsed the process is taken for dead
-- and any process's sweeper hangs the call up, so a crash leaves no call
-- in progress for ever. 0 is no lease: simulated calls, Dial legs (they
-- end with their parent), and real calls an older tonepay started, which
-- does not renew them: during an upgrade its live calls must not be ended.
ALTER TABLE calls ADD COLUMN leg_lease bigint NOT NULL DEFAULT 0;
-- The live real calls with no parent, by lease: what the sweeper reads
-- every few seconds (FindLapsedLegs), not every call ever made.
CREATE INDEX calls_leg_leases ON calls (leg_lease, sid)
	WHERE status IN ('queued', 'ringing', 'in-progress') AND parent_call_sid = '' AND leg <> 'simulated';
