-- Captured values, encrypted (AES-256-GCM); NULL once the session ends.
ALTER TABLE sessions ADD COLUMN sealed BLOB;
-- When the session times out if nothing happens first; 0 when nothing waits.
ALTER TABLE sessions ADD COLUMN deadline INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_deadline ON sessions (deadline) WHERE deadline != 0;
