-- Times are Unix nanoseconds UTC (bigint: exact, unlike timestamptz's
-- microseconds); 0 is "not set". The same shape as the SQLite store.
CREATE TABLE accounts (
	sid           text PRIMARY KEY,
	owner_sid     text NOT NULL,
	friendly_name text NOT NULL,
	status        text NOT NULL,
	auth_token    text NOT NULL,
	date_created  bigint NOT NULL,
	date_updated  bigint NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner_sid, date_created, sid);

CREATE TABLE keys (
	sid           text PRIMARY KEY,
	account_sid   text NOT NULL REFERENCES accounts (sid),
	friendly_name text NOT NULL,
	secret_hash   text NOT NULL,
	date_created  bigint NOT NULL,
	date_updated  bigint NOT NULL
);
CREATE INDEX keys_account ON keys (account_sid, date_created, sid);

CREATE TABLE calls (
	sid          text PRIMARY KEY,
	account_sid  text NOT NULL REFERENCES accounts (sid),
	to_number    text NOT NULL,
	from_number  text NOT NULL,
	url          text NOT NULL,
	status       text NOT NULL,
	direction    text NOT NULL,
	start_time   bigint NOT NULL,
	end_time     bigint NOT NULL,
	date_created bigint NOT NULL,
	date_updated bigint NOT NULL
);
CREATE INDEX calls_account ON calls (account_sid, date_created DESC, sid DESC);

CREATE TABLE sessions (
	sid          text PRIMARY KEY,
	account_sid  text NOT NULL,
	call_sid     text NOT NULL REFERENCES calls (sid),
	status       text NOT NULL,
	params       jsonb NOT NULL,
	state        jsonb NOT NULL, -- masked values only
	sealed       bytea,          -- captured values, AES-256-GCM; NULL once ended
	deadline     bigint NOT NULL DEFAULT 0,
	date_created bigint NOT NULL,
	date_updated bigint NOT NULL
);
-- One open session per call, enforced by the database: two processes racing
-- to create cannot both win.
CREATE UNIQUE INDEX sessions_open ON sessions (call_sid) WHERE status <> 'ended';
CREATE INDEX sessions_deadline ON sessions (deadline) WHERE deadline <> 0;

-- The outbox: a callback row commits with the state change that caused it.
CREATE TABLE callbacks (
	id              bigserial PRIMARY KEY,
	token           text NOT NULL UNIQUE,
	account_sid     text NOT NULL,
	session_sid     text NOT NULL,
	url             text NOT NULL,
	form            text NOT NULL,
	status          text NOT NULL,
	attempts        integer NOT NULL,
	next_attempt_at bigint NOT NULL,
	leased_until    bigint NOT NULL DEFAULT 0,
	date_created    bigint NOT NULL,
	date_updated    bigint NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending';
CREATE INDEX callbacks_session ON callbacks (session_sid, id) WHERE status = 'pending';
CREATE INDEX callbacks_by_session ON callbacks (session_sid, id);

CREATE TABLE callback_attempts (
	callback_id bigint NOT NULL REFERENCES callbacks (id),
	n           integer NOT NULL,
	at          bigint NOT NULL,
	duration_ns bigint NOT NULL,
	status_code integer NOT NULL,
	error       text NOT NULL,
	PRIMARY KEY (callback_id, n)
);

CREATE TABLE answers (
	key          text PRIMARY KEY,
	status       integer NOT NULL,
	body         bytea NOT NULL,
	date_created bigint NOT NULL
);
CREATE INDEX answers_created ON answers (date_created);
