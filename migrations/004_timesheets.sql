-- Timesheets: a versioned policy per site, and operator corrections as records of their own
-- (raw events are never modified).

CREATE TABLE timesheet_policies (
  site_id     uuid NOT NULL REFERENCES sites (id),
  version     integer NOT NULL CHECK (version > 0),
  policy      jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  PRIMARY KEY (site_id, version)
);

CREATE TABLE punch_corrections (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id      uuid NOT NULL REFERENCES organizations (id),
  person_id   uuid NOT NULL REFERENCES people (id),
  site_id     uuid NOT NULL REFERENCES sites (id),
  kind        text NOT NULL CHECK (kind IN ('add', 'void')),
  ts          timestamptz,                    -- add: the punch's time
  dir         text CHECK (dir IN ('in', 'out', 'break_out', 'break_in', 'unknown')),
  target      text,                           -- void: the punch id ('e<event id>' or 'c<correction id>')
  operator    text NOT NULL,
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'add' AND ts IS NOT NULL AND dir IS NOT NULL) OR (kind = 'void' AND target IS NOT NULL))
);
CREATE INDEX punch_corrections_person ON punch_corrections (person_id, site_id, created_at);
