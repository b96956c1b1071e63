-- Operator API: API keys (hashed, one organization and a role each), the audit log of every
-- mutation, and the record of every remote door command.

CREATE TABLE api_keys (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organizations (id),
  name        text NOT NULL,
  role        text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  key_hash    bytea NOT NULL UNIQUE,          -- sha256 of the key; the key is shown once
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE TRIGGER api_keys_state AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION lintel_bump_state();

CREATE TABLE audit_log (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  org_id     uuid NOT NULL,
  actor      text NOT NULL,                   -- 'api_key:<id> (<name>)' or 'cli'
  action     text NOT NULL,                   -- e.g. 'credential.revoke'
  entity     text NOT NULL,
  entity_id  text,
  before     jsonb,
  after      jsonb
);
CREATE INDEX audit_log_org_at ON audit_log (org_id, at DESC, id DESC);

CREATE TABLE door_commands (
  id           uuid PRIMARY KEY,
  org_id       uuid NOT NULL,
  site_id      uuid NOT NULL,
  door_id      uuid NOT NULL,
  device_id    uuid,                          -- null when no terminal for the door was online
  action       text NOT NULL,
  duration_ms  integer,
  reason       text NOT NULL,
  actor        text NOT NULL,
  requested_at timestamptz NOT NULL,
  sent_at      timestamptz,
  expires_at   timestamptz NOT NULL,
  answered_at  timestamptz,
  outcome      text NOT NULL CHECK (outcome IN ('ok', 'failed', 'timeout', 'offline')),
  code         text
);
CREATE INDEX door_commands_door ON door_commands (door_id, requested_at DESC);
CREATE INDEX door_commands_org ON door_commands (org_id, requested_at DESC);
