-- Less work per stored event (issue P5): events_device_seq (device_id, boot, seq) was maintained
-- on every insert into every partition, and no query reads it. Identities are looked up in
-- event_keys (the exactly-once ledger, its primary key is the same columns); an operator tracing
-- one event finds it by device and time (events_device_ts_id). Dropping it on the parent drops it
-- on every partition.
DROP INDEX IF EXISTS events_device_seq;
