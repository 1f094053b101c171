-- How a call runs (issue 14): the TwiML to fetch or run, its fallback, and
-- call progress callbacks. Rows from before keep Twilio's defaults.
-- status_callback_events is space separated.
ALTER TABLE calls ADD COLUMN method text NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN twiml text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN fallback_url text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN fallback_method text NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN status_callback text NOT NULL DEFAULT '';
ALTER TABLE calls ADD COLUMN status_callback_method text NOT NULL DEFAULT 'POST';
ALTER TABLE calls ADD COLUMN status_callback_events text NOT NULL DEFAULT 'completed';
ALTER TABLE calls ADD COLUMN timeout integer NOT NULL DEFAULT 60;
ALTER TABLE calls ADD COLUMN send_digits text NOT NULL DEFAULT '';
