-- A status callback's HTTP method (issue 14): call-progress callbacks follow
-- the call's StatusCallbackMethod and may be GET. '' is POST, as every
-- callback queued before was.
ALTER TABLE callbacks ADD COLUMN method text NOT NULL DEFAULT '';
