-- IncomingPhoneNumbers. One number, one owner on the whole server: the
-- unique index is the rule (a second claim is 21422), whichever account asks.
CREATE TABLE incoming_numbers (
	sid                    TEXT PRIMARY KEY,
	account_sid            TEXT NOT NULL REFERENCES accounts (sid),
	phone_number           TEXT NOT NULL,
	friendly_name          TEXT NOT NULL,
	voice_url              TEXT NOT NULL,
	voice_method           TEXT NOT NULL,
	voice_fallback_url     TEXT NOT NULL,
	voice_fallback_method  TEXT NOT NULL,
	status_callback        TEXT NOT NULL,
	status_callback_method TEXT NOT NULL,
	date_created           INTEGER NOT NULL,
	date_updated           INTEGER NOT NULL
);
CREATE UNIQUE INDEX incoming_numbers_number ON incoming_numbers (phone_number);
CREATE INDEX incoming_numbers_account ON incoming_numbers (account_sid, date_created, sid);
