-- The pending callbacks of a session, oldest first: what the claim asks of
-- every candidate ("is an earlier one still pending?"), and what a writer
-- asks before handing a new callback straight to the dispatcher. Without
-- it, each check walked the session's delivered callbacks too.
CREATE INDEX callbacks_pending ON callbacks (session_sid, id) WHERE status = 'pending';
