-- Sealed values move to a table of their own, small (one row per open
-- session) so that the store can rewrite it often (VACUUM FULL, see
-- vacuum.go): a plain VACUUM leaves a dead tuple's bytes in the page's free
-- space, and the sessions table is far too big to rewrite every few seconds.
-- Autovacuum also visits it after a few dozen changes, to keep it compact
-- between rewrites.
CREATE TABLE session_secrets (
	sid    text PRIMARY KEY,
	sealed bytea NOT NULL -- captured values, AES-256-GCM; the row is deleted when the session ends
) WITH (
	autovacuum_vacuum_scale_factor = 0,
	autovacuum_vacuum_threshold = 50,
	autovacuum_vacuum_insert_scale_factor = 0,
	autovacuum_vacuum_insert_threshold = 1000,
	autovacuum_vacuum_cost_delay = 0
);
INSERT INTO session_secrets (sid, sealed) SELECT sid, sealed FROM sessions WHERE sealed IS NOT NULL;
ALTER TABLE sessions DROP COLUMN sealed;
-- Rewrite the sessions table once: a dropped column's values, and the dead
-- row versions of sessions ended before this release, stay in its pages
-- until the table is rewritten. (CLUSTER may run in a transaction; VACUUM
-- FULL may not.)
CLUSTER sessions USING sessions_pkey;
ALTER TABLE sessions SET WITHOUT CLUSTER;
