-- The call runtime's state, one row per call that runs TwiML: saved after
-- every step, so that a restart continues the call where it was. seq is the
-- optimistic check (a save names the seq it read). json, not jsonb: the
-- bytes come back as they were given.
CREATE TABLE call_runs (
	call_sid     text PRIMARY KEY REFERENCES calls (sid),
	account_sid  text NOT NULL,
	state        json NOT NULL, -- voice.State
	seq          bigint NOT NULL,
	deadline     bigint NOT NULL DEFAULT 0, -- when to wake the runtime; 0 when nothing waits
	date_updated bigint NOT NULL
);
CREATE INDEX call_runs_deadline ON call_runs (deadline) WHERE deadline <> 0;

-- What the caller heard and did, numbered 1..n per call.
CREATE TABLE call_timeline (
	call_sid text NOT NULL REFERENCES calls (sid),
	seq      bigint NOT NULL,
	at       bigint NOT NULL,
	entry    json NOT NULL, -- voice.Entry
	PRIMARY KEY (call_sid, seq)
);
