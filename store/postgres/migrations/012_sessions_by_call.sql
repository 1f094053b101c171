-- FindSessions lists a call's sessions, newest first (the console shows how
-- a call's last payment ended): one index range per call. sessions_open
-- holds only the open one.
CREATE INDEX sessions_call ON sessions (call_sid, date_created DESC, sid DESC);
