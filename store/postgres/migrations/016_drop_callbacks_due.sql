-- No query has read callbacks_due since 010 (the dispatcher finds due
-- callbacks through chain heads); every retry-time change still paid for
-- it. 010 kept it for the process of the version before, still running
-- during an upgrade; those versions are long gone, and a query the index
-- served would only be slower, never wrong.
DROP INDEX IF EXISTS callbacks_due;
