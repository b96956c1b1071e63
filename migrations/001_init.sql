-- Lintel's first schema: tenancy, sites and doors, devices, people and credentials, access rules,
-- the event store with its exactly-once ledger, and quarantine.

CREATE TABLE organizations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organizations (id),
  name        text NOT NULL,
  tz          text NOT NULL,                  -- IANA zone; schedules and timesheets use it
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, name)
);

CREATE TABLE doors (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id      uuid NOT NULL REFERENCES sites (id),
  code         text NOT NULL,                 -- what terminals call the door in frames
  name         text NOT NULL,
  open_ms      integer NOT NULL DEFAULT 5000 CHECK (open_ms BETWEEN 0 AND 600000),
  locked_down  boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site_id, code)
);

CREATE TABLE devices (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id           uuid NOT NULL REFERENCES sites (id),
  name              text NOT NULL,
  token_hash        bytea NOT NULL UNIQUE,      -- sha256 of the token; the token is shown once
  enabled           boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL DEFAULT now(),
  token_rotated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site_id, name)
);

CREATE TABLE device_doors (
  device_id  uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  door_id    uuid NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  PRIMARY KEY (device_id, door_id)
);

CREATE TABLE people (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id        uuid NOT NULL REFERENCES organizations (id),
  external_id   text NOT NULL,                -- e.g. the time-clock PIN or an HR number
  display_name  text,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  valid_from    timestamptz,
  valid_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, external_id)
);

CREATE TABLE credentials (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id       uuid NOT NULL REFERENCES organizations (id),
  person_id    uuid NOT NULL REFERENCES people (id),
  kind         text NOT NULL DEFAULT 'card' CHECK (kind IN ('card', 'pin', 'biometric', 'mobile')),
  cred_hash    bytea NOT NULL,                -- HMAC-SHA256 of the identifier; never stored in clear
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  valid_from   timestamptz,
  valid_until  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, cred_hash)
);
CREATE INDEX credentials_person ON credentials (person_id);

CREATE TABLE access_groups (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organizations (id),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, name)
);

CREATE TABLE access_group_members (
  group_id   uuid NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
  person_id  uuid NOT NULL REFERENCES people (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, person_id)
);
CREATE INDEX access_group_members_person ON access_group_members (person_id);

CREATE TABLE access_group_doors (
  group_id  uuid NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
  door_id   uuid NOT NULL REFERENCES doors (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, door_id)
);

-- Weekly windows in the site's local time. A group without windows grants at any time.
CREATE TABLE access_group_schedules (
  id         bigserial PRIMARY KEY,
  group_id   uuid NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
  dow        smallint NOT NULL CHECK (dow BETWEEN 1 AND 7),            -- ISO: 1 Monday .. 7 Sunday
  start_min  smallint NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
  end_min    smallint NOT NULL CHECK (end_min BETWEEN 1 AND 1440),
  CHECK (start_min < end_min)
);
CREATE INDEX access_group_schedules_group ON access_group_schedules (group_id);

-- Every change to what the access engine reads bumps one version, transactionally, and tells
-- the hubs (LISTEN lintel_state). A hub reloads and records the version it applied.
CREATE TABLE state_version (
  id  boolean PRIMARY KEY DEFAULT true CHECK (id),
  v   bigint NOT NULL
);
INSERT INTO state_version VALUES (true, 1);

CREATE FUNCTION lintel_bump_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE nv bigint;
BEGIN
  UPDATE state_version SET v = v + 1 RETURNING v INTO nv;
  PERFORM pg_notify('lintel_state', nv::text);
  RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['organizations', 'sites', 'doors', 'devices', 'device_doors', 'people',
    'credentials', 'access_groups', 'access_group_members', 'access_group_doors', 'access_group_schedules']
  LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                    FOR EACH STATEMENT EXECUTE FUNCTION lintel_bump_state()', t || '_state', t);
  END LOOP;
END $$;

CREATE TABLE hub_instances (
  id               text PRIMARY KEY,
  started_at       timestamptz NOT NULL DEFAULT now(),
  seen_at          timestamptz NOT NULL DEFAULT now(),
  applied_version  bigint NOT NULL DEFAULT 0
);

-- The exactly-once ledger: one row per event identity (PROTOCOL section 4), whatever partition
-- or table (events, quarantine) the event went to. PostgreSQL cannot enforce a unique key across
-- range partitions unless it includes the partition key, so the identity lives here.
-- source: 't' sent by the terminal, 'h' a decision the hub recorded for that terminal.
CREATE TABLE event_keys (
  device_id    uuid NOT NULL,
  source       "char" NOT NULL,
  boot         bigint NOT NULL,
  seq          bigint NOT NULL,
  outcome      "char" NOT NULL,               -- 's' stored in events, 'q' quarantined
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, source, boot, seq)
);

CREATE SEQUENCE events_id_seq;

CREATE TABLE events (
  id             bigint NOT NULL DEFAULT nextval('events_id_seq'),
  ts             timestamptz NOT NULL,        -- when it happened, by the terminal's clock
  received_at    timestamptz NOT NULL DEFAULT now(),
  org_id         uuid NOT NULL,
  site_id        uuid NOT NULL,
  device_id      uuid NOT NULL,
  source         text NOT NULL CHECK (source IN ('terminal', 'hub')),
  boot           bigint NOT NULL,
  seq            bigint NOT NULL,
  kind           text NOT NULL,
  person_id      uuid,
  credential_id  uuid,
  cred_hash      bytea,
  door_id        uuid,
  dir            text,
  granted        boolean,
  reason         text,
  state          text,
  code           text,
  detail         text,
  rid            bigint,
  rule           text,
  data           jsonb,
  PRIMARY KEY (ts, id)
) PARTITION BY RANGE (ts);

CREATE INDEX events_person_ts ON events (person_id, ts) WHERE person_id IS NOT NULL;
CREATE INDEX events_door_ts ON events (door_id, ts) WHERE door_id IS NOT NULL;
CREATE INDEX events_device_seq ON events (device_id, boot, seq);
CREATE INDEX events_site_ts ON events (site_id, ts);

-- Backfills older than the monthly partitions land here.
CREATE TABLE events_default PARTITION OF events DEFAULT;

CREATE FUNCTION lintel_ensure_partitions(first_month date, months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', first_month)::date;
  made integer := 0;
  name text;
BEGIN
  FOR i IN 1..months LOOP
    name := format('events_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    -- A month whose rows already sit in the default partition stays there: attaching a partition
    -- over them would fail, and they are just as correct where they are.
    IF to_regclass(name) IS NULL AND NOT EXISTS (
        SELECT 1 FROM events_default
        WHERE ts >= (m::text || ' 00:00:00+00')::timestamptz
          AND ts < ((m + interval '1 month')::date::text || ' 00:00:00+00')::timestamptz) THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                     name, m::text || ' 00:00:00+00', (m + interval '1 month')::date::text || ' 00:00:00+00');
      made := made + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN made;
END $$;

CREATE TABLE quarantine (
  id           bigserial PRIMARY KEY,
  received_at  timestamptz NOT NULL DEFAULT now(),
  org_id       uuid NOT NULL,
  site_id      uuid NOT NULL,
  device_id    uuid NOT NULL,
  source       text NOT NULL,
  boot         bigint,
  seq          bigint,                        -- null when the event had no usable seq
  code         text NOT NULL,
  detail       text,
  raw          jsonb NOT NULL,                -- the event as received
  resolved_at  timestamptz,
  resolution   text,
  resolved_by  text
);
CREATE INDEX quarantine_org_received ON quarantine (org_id, received_at);
CREATE INDEX quarantine_device_seq ON quarantine (device_id, boot, seq);

-- Install-wide facts hubs and tools must agree on (e.g. the credential key's fingerprint: a hub
-- started with another key would find no credential at all, so it refuses to start).
CREATE TABLE lintel_settings (
  name   text PRIMARY KEY,
  value  text NOT NULL
);
