// Piscina task module for the hub's control plane: migrations, the access snapshot, last_seq
// lookups, liveness of the store, and the LISTEN connection that tells the hub of changes.
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'piscina';
import type { AccessSnapshot, ControlMessage, FleetMessage } from '../protocol/tasks.js';
import { connect, isUnavailable, type Sql } from './db.js';
import { migrate as runMigrations } from './migrate.js';
import { ensurePartitions as ensureEventPartitions, maintain as runMaintenance, type MaintenanceResult } from './retention.js';

interface ControlSettings { databaseUrl: string; migrationsDir: string }
const settings = workerData as ControlSettings;
let sql: Sql | undefined;
let listenSql: Sql | undefined;
const db = () => (sql ??= connect({ databaseUrl: settings.databaseUrl, poolSize: 4, applicationName: 'lintel-control' }));

export async function migrate(): Promise<string[]> {
  const applied = await runMigrations(db(), new URL(settings.migrationsDir));
  await ensurePartitions();
  return applied;
}

/** Monthly event partitions from last month to three months ahead. */
export async function ensurePartitions(): Promise<number> {
  return ensureEventPartitions(db());
}

/** Partitions ahead, then every organization's retention policy (workers/retention.ts); one hub at a time. */
export async function maintain(): Promise<MaintenanceResult> {
  return runMaintenance(db());
}

/** The store answers; returns the access state version, so a hub that missed a notification catches up. */
export async function ping(): Promise<number> {
  const [row] = await db()`SELECT v FROM state_version`;
  return Number(row?.v ?? 0);
}

const FLEET_CHANNEL = 'lintel_fleet';
/** How long a hub counts as alive after its last heartbeat (the hub beats every 5 s). */
const HUB_ALIVE = '15 seconds';

/** Claims the device's session for this hub and tells the other hubs, in one statement. */
export async function claimSession({ deviceId, hubId }: { deviceId: string; hubId: string }): Promise<number> {
  const [row] = await db()`
    WITH c AS (
      INSERT INTO device_sessions (device_id, hub_id, gen) VALUES (${deviceId}, ${hubId}, nextval('device_session_gen'))
      ON CONFLICT (device_id) DO UPDATE SET hub_id = excluded.hub_id, gen = excluded.gen, since = now()
      RETURNING gen)
    SELECT gen, pg_notify(${FLEET_CHANNEL}, json_build_object('t', 'session', 'from', ${hubId}::text, 'device', ${deviceId}::text, 'gen', gen)::text) FROM c`;
  return Number(row!.gen);
}

/** The session ended on this hub: forget it unless a newer claim took over meanwhile. */
export async function releaseSession({ deviceId, hubId, gen }: { deviceId: string; hubId: string; gen: number }): Promise<void> {
  await db()`DELETE FROM device_sessions WHERE device_id = ${deviceId} AND hub_id = ${hubId} AND gen = ${gen}`;
}

/** Of these devices, the most recent session held by another live hub. */
export async function whereIs({ deviceIds, hubId }: { deviceIds: string[]; hubId: string }): Promise<{ deviceId: string; hubId: string } | null> {
  if (deviceIds.length === 0) return null;
  const [row] = await db()`
    SELECT s.device_id, s.hub_id FROM device_sessions s JOIN hub_instances h ON h.id = s.hub_id
    WHERE s.device_id = ANY(${deviceIds}::uuid[]) AND s.hub_id <> ${hubId} AND h.seen_at > now() - ${HUB_ALIVE}::interval
    ORDER BY s.since DESC LIMIT 1`;
  return row ? { deviceId: row.device_id as string, hubId: row.hub_id as string } : null;
}

export async function notifyFleet(message: FleetMessage): Promise<void> {
  await db()`SELECT pg_notify(${FLEET_CHANNEL}, ${JSON.stringify(message)})`;
}

/** Resolves once every live hub decides on `version` or newer; names the ones still behind at the deadline. */
export async function waitForHubs({ version, timeoutMs }: { version: number; timeoutMs: number }): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const behind = await db()<{ id: string }[]>`SELECT id FROM hub_instances
      WHERE seen_at > now() - ${HUB_ALIVE}::interval AND applied_version < ${version}`;
    if (behind.length === 0 || Date.now() > deadline) return behind.map((h) => h.id);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function lastSeq({ deviceId, boot }: { deviceId: string; boot: number }): Promise<number> {
  const [row] = await db()`SELECT coalesce(max(seq), 0) AS s FROM event_keys
                           WHERE device_id = ${deviceId} AND source = 't' AND boot = ${boot}`;
  return Number(row?.s ?? 0);
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

export async function snapshot(): Promise<AccessSnapshot> {
  // One snapshot of all tables, so the version matches the data (state_version is bumped in the
  // same transaction as every change).
  return db().begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
    const [v] = await tx`SELECT v FROM state_version`;
    const sites = await tx`SELECT id, org_id, name, tz FROM sites`;
    const doors = await tx`SELECT id, site_id, code, name, open_ms, locked_down FROM doors`;
    const devices = await tx`SELECT d.id, d.site_id, d.name, encode(d.token_hash, 'hex') AS token_hash, d.enabled,
                               coalesce(array_agg(dd.door_id) FILTER (WHERE dd.door_id IS NOT NULL), '{}') AS door_ids
                             FROM devices d LEFT JOIN device_doors dd ON dd.device_id = d.id GROUP BY d.id`;
    const people = await tx`SELECT id, org_id, external_id, status, valid_from, valid_until FROM people`;
    const creds = await tx`SELECT id, org_id, person_id, encode(cred_hash, 'hex') AS cred_hash, status, valid_from, valid_until
                           FROM credentials`;
    const groups = await tx`SELECT g.id, g.org_id, g.name,
        coalesce((SELECT array_agg(person_id) FROM access_group_members m WHERE m.group_id = g.id), '{}') AS members,
        coalesce((SELECT array_agg(door_id) FROM access_group_doors d WHERE d.group_id = g.id), '{}') AS doors,
        coalesce((SELECT json_agg(json_build_array(dow, start_min, end_min)) FROM access_group_schedules s
                  WHERE s.group_id = g.id), '[]') AS windows
      FROM access_groups g`;
    const keys = await tx`SELECT id, org_id, name, role, encode(key_hash, 'hex') AS key_hash FROM api_keys WHERE revoked_at IS NULL`;
    return {
      version: Number(v?.v ?? 0),
      sites: sites.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name, tz: r.tz })),
      doors: doors.map((r) => ({ id: r.id, siteId: r.site_id, code: r.code, name: r.name, openMs: r.open_ms, lockedDown: r.locked_down })),
      devices: devices.map((r) => ({ id: r.id, siteId: r.site_id, name: r.name, tokenHash: r.token_hash, enabled: r.enabled, doorIds: r.door_ids })),
      people: people.map((r) => ({ id: r.id, orgId: r.org_id, externalId: r.external_id, status: r.status, validFrom: ms(r.valid_from), validUntil: ms(r.valid_until) })),
      credentials: creds.map((r) => ({ id: r.id, orgId: r.org_id, personId: r.person_id, credHash: r.cred_hash, status: r.status, validFrom: ms(r.valid_from), validUntil: ms(r.valid_until) })),
      groups: groups.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name, members: r.members, doors: r.doors, windows: r.windows })),
      apiKeys: keys.map((r) => ({ id: r.id, orgId: r.org_id, name: r.name, role: r.role, keyHash: r.key_hash })),
    };
  });
}

/** Records which state version this hub decides on, so writers can wait until every hub has it. */
export async function heartbeat({ hubId, applied }: { hubId: string; applied: number }): Promise<void> {
  await db()`INSERT INTO hub_instances (id, applied_version) VALUES (${hubId}, ${applied})
             ON CONFLICT (id) DO UPDATE SET seen_at = now(), applied_version = excluded.applied_version`;
}

export async function forgetHub({ hubId }: { hubId: string }): Promise<void> {
  await db()`DELETE FROM device_sessions WHERE hub_id = ${hubId}`;
  await db()`DELETE FROM hub_instances WHERE id = ${hubId}`;
}

/**
 * Long-lived: LISTENs for state changes and posts them to `port` until the hub posts 'stop'.
 * postgres.js re-LISTENs after a reconnect and calls onlisten again: the hub then reloads
 * everything, since notifications sent while it was away are lost.
 */
export async function listen({ port }: { port: MessagePort }): Promise<void> {
  const post = (m: ControlMessage) => port.postMessage(m);
  // Its own connection: the query client is replaced after an outage, the listener reconnects itself.
  listenSql ??= connect({ databaseUrl: settings.databaseUrl, poolSize: 1, applicationName: 'lintel-listen' });
  const sub = await listenSql.listen('lintel_state', (payload) => post({ type: 'state', version: Number(payload) }), () => post({ type: 'listening' }));
  const fleet = await listenSql.listen(FLEET_CHANNEL, (payload) => {
    try {
      post({ type: 'fleet', message: JSON.parse(payload) as FleetMessage });
    } catch { /* not ours: ignored */ }
  });
  await new Promise<void>((resolve) => port.once('message', () => resolve()));
  await sub.unlisten();
  await fleet.unlisten();
  port.close();
}

export async function close(): Promise<void> {
  await Promise.all([sql?.end({ timeout: 2 }), listenSql?.end({ timeout: 2 })]);
  sql = undefined;
  listenSql = undefined;
}

/** The first hub stores the key's fingerprint; any later hub or tool must match it. */
export async function checkKeyFingerprint({ fingerprint }: { fingerprint: string }): Promise<boolean> {
  const [row] = await db()`INSERT INTO lintel_settings (name, value) VALUES ('credential_key_fingerprint', ${fingerprint})
                           ON CONFLICT (name) DO UPDATE SET value = lintel_settings.value RETURNING value`;
  return row?.value === fingerprint;
}

const tasks = { migrate, ensurePartitions, maintain, ping, claimSession, releaseSession, whereIs, notifyFleet, waitForHubs, lastSeq, snapshot, heartbeat, forgetHub, listen, close, checkKeyFingerprint };
export type ControlOp = keyof typeof tasks;

/** Piscina entry: `{ op, arg }` names the task. */
export default async function control({ op, arg }: { op: ControlOp; arg: never }): Promise<unknown> {
  try {
    return await tasks[op](arg);
  } catch (err) {
    // postgres.js 3.4 does not recover a connection that died inside begin(): start afresh.
    if (isUnavailable(err) && op !== 'listen') {
      const old = sql;
      sql = undefined;
      old?.end({ timeout: 0 }).catch(() => {});
    }
    throw err;
  }
}
