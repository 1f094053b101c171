-- IncomingPhoneNumbers. One number, one owner on the whole server: the
-- unique index is the rule (a second claim is 21422), whichever account asks.
CREATE TABLE incoming_numbers (
	sid                    text PRIMARY KEY,
	account_sid            text NOT NULL REFERENCES accounts (sid),
	phone_number           text NOT NULL,
	friendly_name          text NOT NULL,
	voice_url              text NOT NULL,
	voice_method           text NOT NULL,
	voice_fallback_url     text NOT NULL,
	voice_fallback_method  text NOT NULL,
	status_callback        text NOT NULL,
	status_callback_method text NOT NULL,
	date_created           bigint NOT NULL,
	date_updated           bigint NOT NULL
);
CREATE UNIQUE INDEX incoming_numbers_number ON incoming_numbers (phone_number);
CREATE INDEX incoming_numbers_account ON incoming_numbers (account_sid, date_created, sid);
