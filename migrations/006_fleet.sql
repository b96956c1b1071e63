-- Several hubs on one PostgreSQL (issue P6). Which hub holds each device's terminal session, so a
-- door command posted to any hub reaches it, and one session per device holds across hubs: every
-- claim draws a new generation from one sequence and the highest generation wins (each hub closes
-- its older session when it hears of a newer one on the lintel_fleet channel).
CREATE SEQUENCE device_session_gen;

CREATE TABLE device_sessions (
  device_id  uuid PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  hub_id     text NOT NULL,
  gen        bigint NOT NULL,
  since      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_sessions_hub ON device_sessions (hub_id);
