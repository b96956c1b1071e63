-- Retention (issue P6): how long each organization keeps its events and quarantined events.
-- Maintenance (workers/retention.ts) drops a whole monthly partition once no organization with
-- rows in it still needs them, and deletes the rest by organization. An organization without a
-- policy keeps everything. event_keys is never pruned: a resend of an old event stays a duplicate.

CREATE TABLE retention_policies (
  org_id           uuid PRIMARY KEY REFERENCES organizations (id),
  events_days      integer NOT NULL CHECK (events_days > 0),
  quarantine_days  integer CHECK (quarantine_days > 0),   -- null: quarantined events are kept
  updated_at       timestamptz NOT NULL DEFAULT now(),
  actor            text NOT NULL
);

-- Partitions are shared by every organization, so dropping one is an install-wide act: its audit
-- row names the organizations in its details and belongs to none (each of them also gets a row
-- of its own, without the others' ids).
ALTER TABLE audit_log ALTER COLUMN org_id DROP NOT NULL;
