-- Operator API, read side: indexes for keyset pages of events (newest first), and quarantine
-- resolution (a public id, who resolved it how, and the event an assignment stored).

-- GET /v1/events pages by (ts, id) descending. The org-wide list and the device filter need an
-- index that yields that order for one org / one device; without them a page scans the whole
-- org's history (or, for a quiet device, everything). Site, door and person filters use the
-- (x, ts) indexes of 001: ties on ts within one of them are rare and sorted incrementally.
-- Kind and source are filters on the org index: a rare kind can scan far back, so clients
-- should bound such lists with from/to.
CREATE INDEX events_org_ts_id ON events (org_id, ts, id);
CREATE INDEX events_device_ts_id ON events (device_id, ts, id);

-- The router's path ids are UUIDs; the bigserial stays the internal key and the page order.
ALTER TABLE quarantine
  ADD COLUMN uid                uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN resolution_reason  text,
  ADD COLUMN resolved_person_id uuid,       -- 'assign': the person the punch was attributed to
  ADD COLUMN resolved_event_id  bigint;     -- 'assign': events.id of the stored punch
CREATE UNIQUE INDEX quarantine_uid ON quarantine (uid);
-- Pages newest first (id descending) per org; the open ones are what staff work through.
CREATE INDEX quarantine_org_id ON quarantine (org_id, id);
CREATE INDEX quarantine_org_open ON quarantine (org_id, id) WHERE resolved_at IS NULL;
