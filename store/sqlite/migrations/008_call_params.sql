-- How a call runs (issue 14): the TwiML to fetch or run, its fallback, and
-- call progress callbacks. Rows from before keep Twilio's defaults.
-- status_callback_events is space separated.
ALTER TABLE calls ADD COLUMN method TEXT NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN twiml TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN fallback_url TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN fallback_method TEXT NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN status_callback TEXT NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN status_callback_method TEXT NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN status_callback_events TEXT NOT NULL DEFAULT 'completed';
ALTER TABLE calls ADD COLUMN timeout INTEGER NOT NULL DEFAULT 60;
ALTER TABLE calls ADD COLUMN send_digits TEXT NOT NULL DEFAULT '';
