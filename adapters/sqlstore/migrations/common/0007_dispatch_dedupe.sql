-- Stent schema, version 7: singleton and debounce keys.
--
-- singleton_key: at most one live (pending or running) execution per key.
-- debounce_key: at most one pending execution per key; a dispatch with the
-- key updates it instead of inserting another. The unique partial indexes
-- make both atomic: a concurrent insert with a held key does nothing
-- (ON CONFLICT DO NOTHING) and the dispatch resolves to the holder.

ALTER TABLE @executions ADD COLUMN singleton_key TEXT;
ALTER TABLE @executions ADD COLUMN debounce_key TEXT;

CREATE UNIQUE INDEX executions_singleton_live ON @executions (singleton_key)
    WHERE singleton_key IS NOT NULL AND state IN ('pending', 'running');
CREATE UNIQUE INDEX executions_debounce_pending ON @executions (debounce_key)
    WHERE debounce_key IS NOT NULL AND state = 'pending';
