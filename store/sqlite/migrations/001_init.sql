-- Times are Unix nanoseconds UTC; 0 is "not set".
CREATE TABLE accounts (
	sid           TEXT PRIMARY KEY,
	owner_sid     TEXT NOT NULL,
	friendly_name TEXT NOT NULL,
	status        TEXT NOT NULL,
	auth_token    TEXT NOT NULL,
	date_created  INTEGER NOT NULL,
	date_updated  INTEGER NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner_sid, date_created, sid);

CREATE TABLE keys (
	sid           TEXT PRIMARY KEY,
	account_sid   TEXT NOT NULL REFERENCES accounts (sid),
	friendly_name TEXT NOT NULL,
	secret_hash   TEXT NOT NULL,
	date_created  INTEGER NOT NULL,
	date_updated  INTEGER NOT NULL
);
CREATE INDEX keys_account ON keys (account_sid, date_created, sid);

CREATE TABLE calls (
	sid          TEXT PRIMARY KEY,
	account_sid  TEXT NOT NULL REFERENCES accounts (sid),
	to_number    TEXT NOT NULL,
	from_number  TEXT NOT NULL,
	url          TEXT NOT NULL,
	status       TEXT NOT NULL,
	direction    TEXT NOT NULL,
	start_time   INTEGER NOT NULL,
	end_time     INTEGER NOT NULL,
	date_created INTEGER NOT NULL,
	date_updated INTEGER NOT NULL
);
CREATE INDEX calls_account ON calls (account_sid, date_created DESC, sid DESC);

CREATE TABLE sessions (
	sid          TEXT PRIMARY KEY,
	account_sid  TEXT NOT NULL,
	call_sid     TEXT NOT NULL REFERENCES calls (sid),
	status       TEXT NOT NULL,
	params       TEXT NOT NULL, -- JSON of tonepay.Params
	state        TEXT NOT NULL, -- JSON of tonepay.State: masked values only
	date_created INTEGER NOT NULL,
	date_updated INTEGER NOT NULL
);
-- One open session per call, enforced by the database so that two racing
-- creates cannot both win.
CREATE UNIQUE INDEX sessions_open ON sessions (call_sid) WHERE status != 'ended';

-- The outbox: a callback row commits with the state change that caused it.
CREATE TABLE callbacks (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	token           TEXT NOT NULL UNIQUE,
	account_sid     TEXT NOT NULL,
	session_sid     TEXT NOT NULL,
	url             TEXT NOT NULL,
	form            TEXT NOT NULL, -- url-encoded body
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	date_created    INTEGER NOT NULL,
	date_updated    INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending';
CREATE INDEX callbacks_session ON callbacks (session_sid, id);

CREATE TABLE callback_attempts (
	callback_id INTEGER NOT NULL REFERENCES callbacks (id),
	n           INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	duration_ns INTEGER NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	PRIMARY KEY (callback_id, n)
);

CREATE TABLE answers (
	key          TEXT PRIMARY KEY,
	status       INTEGER NOT NULL,
	body         BLOB NOT NULL,
	date_created INTEGER NOT NULL
);
CREATE INDEX answers_created ON answers (date_created);
