-- The call runtime's state, one row per call that runs TwiML: saved after
-- every step, so that a restart continues the call where it was. seq is the
-- optimistic check (a save names the seq it read).
CREATE TABLE call_runs (
	call_sid     TEXT PRIMARY KEY REFERENCES calls (sid),
	account_sid  TEXT NOT NULL,
	state        TEXT NOT NULL, -- JSON of voice.State
	seq          INTEGER NOT NULL,
	deadline     INTEGER NOT NULL DEFAULT 0, -- when to wake the runtime; 0 when nothing waits
	date_updated INTEGER NOT NULL
);
CREATE INDEX call_runs_deadline ON call_runs (deadline) WHERE deadline != 0;

-- What the caller heard and did, numbered 1..n per call.
CREATE TABLE call_timeline (
	call_sid TEXT NOT NULL REFERENCES calls (sid),
	seq      INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	entry    TEXT NOT NULL, -- JSON of voice.Entry
	PRIMARY KEY (call_sid, seq)
) WITHOUT ROWID;
