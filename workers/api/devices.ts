// Devices (provisioning, doors they drive, token rotation, enable/disable), door lockdown flags,
// and the record of remote door commands (PROTOCOL sections 1 and 6). Tokens are returned once
// and only their sha256 is stored; neither ever reaches the audit log.
import { createHash, randomBytes } from 'node:crypto';
import { LintelError } from '../../protocol/errors.js';
import { audit, db, decodeCursor, one, page, stateVersion, unique, type Scope, type Tx } from './common.js';

// Same format as workers/admin.ts createDevice: the CLI and the API issue interchangeable tokens.
const newToken = () => `ltd_${randomBytes(32).toString('base64url')}`;
const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();

const DEVICE = `d.id, d.site_id, d.name, d.enabled,
  ARRAY(SELECT dd.door_id::text FROM device_doors dd WHERE dd.device_id = d.id ORDER BY dd.door_id) AS door_ids,
  d.created_at, d.token_rotated_at`;
const COMMAND = `c.id, c.door_id, c.site_id, c.device_id, c.action, c.duration_ms, c.reason, c.actor, c.requested_at, c.sent_at,
  c.expires_at, c.answered_at, c.outcome, c.code`;

async function deviceRow(tx: Tx | ReturnType<typeof db>, orgId: string, id: string, lock = false) {
  return one(tx.unsafe(
    `SELECT ${DEVICE} FROM devices d JOIN sites s ON s.id = d.site_id WHERE s.org_id = $1 AND d.id = $2${lock ? ' FOR UPDATE OF d' : ''}`,
    [orgId, id],
  ), 'device');
}

/** A device drives doors of its own site only: any other id is a field error, whoever owns it. */
async function setDoors(tx: Tx, deviceId: string, siteId: string, doorIds: string[]) {
  const found = doorIds.length ? await tx<{ id: string }[]>`SELECT id FROM doors WHERE site_id = ${siteId} AND id = ANY(${doorIds}::uuid[])` : [];
  const known = new Set(found.map((r) => r.id));
  const missing = doorIds.filter((id) => !known.has(id));
  if (missing.length) {
    throw Object.assign(new LintelError('LINTEL_ERR_API_VALIDATION', `no door ${missing.join(', ')} in the device's site`), {
      fields: [{ field: 'body.door_ids', problem: `no door ${missing.join(', ')} in the device's site` }],
    });
  }
  await tx`DELETE FROM device_doors WHERE device_id = ${deviceId}`;
  if (doorIds.length) await tx`INSERT INTO device_doors (device_id, door_id) SELECT ${deviceId}, unnest(${doorIds}::uuid[])`;
}

export async function listDevices(a: { orgId: string; site?: string; limit: number; cursor?: string }) {
  const after = decodeCursor(a.cursor, 1)?.[0] as string | undefined;
  const rows = await db().unsafe(
    `SELECT ${DEVICE} FROM devices d JOIN sites s ON s.id = d.site_id
     WHERE s.org_id = $1 AND ($2::uuid IS NULL OR d.site_id = $2) AND ($3::uuid IS NULL OR d.id > $3)
     ORDER BY d.id LIMIT $4`,
    [a.orgId, a.site ?? null, after ?? null, a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function getDevice(a: { orgId: string; id: string }) {
  return deviceRow(db(), a.orgId, a.id);
}

export async function createDevice(a: Scope & { siteId: string; name: string; doorIds?: string[] }) {
  const token = newToken();
  return db().begin(async (tx) => {
    await one(tx`SELECT id FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId}`, 'site');
    const [d] = await unique(tx<{ id: string }[]>`INSERT INTO devices (site_id, name, token_hash) VALUES (${a.siteId}, ${a.name}, ${hashToken(token)}) RETURNING id`, `device ${a.name}`);
    await setDoors(tx, d!.id, a.siteId, a.doorIds ?? []);
    const device = await deviceRow(tx, a.orgId, d!.id);
    await audit(tx, a, 'device.create', 'device', d!.id, null, device);
    return { value: { ...device, token }, version: await stateVersion(tx) };
  });
}

export async function updateDevice(a: Scope & { id: string; name?: string; doorIds?: string[] }) {
  return db().begin(async (tx) => {
    const before = await deviceRow(tx, a.orgId, a.id, true);
    if (a.name !== undefined) await unique(tx`UPDATE devices SET name = ${a.name} WHERE id = ${a.id}`, `device ${a.name}`);
    if (a.doorIds !== undefined) await setDoors(tx, a.id, before.site_id, a.doorIds);
    const after = await deviceRow(tx, a.orgId, a.id);
    await audit(tx, a, 'device.update', 'device', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

/** The hub closes the device's session with 1008 once it loads this version (terminals.enforce). */
export async function rotateDeviceToken(a: Scope & { id: string }) {
  const token = newToken();
  return db().begin(async (tx) => {
    const before = await deviceRow(tx, a.orgId, a.id, true);
    await tx`UPDATE devices SET token_hash = ${hashToken(token)}, token_rotated_at = now() WHERE id = ${a.id}`;
    const after = await deviceRow(tx, a.orgId, a.id);
    await audit(tx, a, 'device.rotate_token', 'device', a.id, before, after);
    return { value: { ...after, token }, version: await stateVersion(tx) };
  });
}

/** Disabling closes the device's session with 4003 and refuses its upgrades with 403. */
export async function setDeviceEnabled(a: Scope & { id: string; enabled: boolean }) {
  return db().begin(async (tx) => {
    const before = await deviceRow(tx, a.orgId, a.id, true);
    await tx`UPDATE devices SET enabled = ${a.enabled} WHERE id = ${a.id}`;
    const after = await deviceRow(tx, a.orgId, a.id);
    await audit(tx, a, a.enabled ? 'device.enable' : 'device.disable', 'device', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

/** Sets locked_down on one door or on every door of a site; the hub's decisions follow it. */
export async function setDoorsLockedDown(a: Scope & { doorId?: string; siteId?: string; lockedDown: boolean }) {
  return db().begin(async (tx) => {
    if (a.siteId) await one(tx`SELECT id FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId}`, 'site');
    const before = await tx.unsafe(
      `SELECT d.id, d.site_id, d.code, d.open_ms, d.locked_down FROM doors d JOIN sites s ON s.id = d.site_id
       WHERE s.org_id = $1 AND ($2::uuid IS NULL OR d.id = $2) AND ($3::uuid IS NULL OR d.site_id = $3)
       ORDER BY d.code FOR UPDATE OF d`,
      [a.orgId, a.doorId ?? null, a.siteId ?? null],
    );
    if (a.doorId && !before.length) throw new LintelError('LINTEL_ERR_API_NOT_FOUND', 'door');
    const ids = before.map((d) => d.id as string);
    if (ids.length) await tx`UPDATE doors SET locked_down = ${a.lockedDown} WHERE id = ANY(${ids}::uuid[])`;
    for (const d of before) {
      await audit(tx, a, a.lockedDown ? 'door.lockdown' : 'door.release', 'door', d.id, { locked_down: d.locked_down }, { locked_down: a.lockedDown });
    }
    return { value: before.map((d) => ({ ...d, locked_down: a.lockedDown })), version: await stateVersion(tx) };
  });
}

interface CommandRecord extends Scope {
  id: string; siteId: string; doorId: string; deviceId: string | null; action: string; durationMs: number | null; reason: string;
  requestedAt: number; expiresAt: number; outcome: 'ok' | 'failed' | 'timeout' | 'offline';
}

/**
 * Records a command before it is sent, so none reaches a door without a row naming its operator.
 * A sent command starts as 'timeout' (what anyone knows if the hub dies before the answer);
 * one that found no terminal is recorded as 'offline' and is final.
 */
export async function insertDoorCommand(a: CommandRecord) {
  return db().begin(async (tx) => {
    const row = await one(tx.unsafe(
      `INSERT INTO door_commands AS c (id, org_id, site_id, door_id, device_id, action, duration_ms, reason, actor, requested_at, expires_at, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${COMMAND}`,
      [a.id, a.orgId, a.siteId, a.doorId, a.deviceId, a.action, a.durationMs, a.reason, a.actor, new Date(a.requestedAt), new Date(a.expiresAt), a.outcome],
    ), 'door command');
    await audit(tx, a, 'door.command', 'door', a.doorId, null, row);
    return row;
  });
}

/** The terminal's answer (or its absence by expires_at). */
export async function settleDoorCommand(a: Scope & {
  id: string; sentAt: number | null; answeredAt: number | null; outcome: 'ok' | 'failed' | 'timeout' | 'offline'; code: string | null;
}) {
  return db().begin(async (tx) => {
    const row = await one(tx.unsafe(
      `UPDATE door_commands AS c SET sent_at = $3, answered_at = $4, outcome = $5, code = $6
       WHERE c.org_id = $1 AND c.id = $2 RETURNING ${COMMAND}`,
      [a.orgId, a.id, a.sentAt === null ? null : new Date(a.sentAt), a.answeredAt === null ? null : new Date(a.answeredAt), a.outcome, a.code],
    ), 'door command');
    await audit(tx, a, 'door.command.result', 'door', row.door_id as string, null, row);
    return row;
  });
}

export async function listDoorCommands(a: { orgId: string; doorId: string; limit: number; cursor?: string }) {
  const after = decodeCursor(a.cursor, 2) as [string, string] | null;
  const sql = db();
  await one(sql`SELECT d.id FROM doors d JOIN sites s ON s.id = d.site_id WHERE s.org_id = ${a.orgId} AND d.id = ${a.doorId}`, 'door');
  // Newest first; (requested_at, id) keeps the order total when two commands share a millisecond.
  const rows = await sql.unsafe(
    `SELECT ${COMMAND} FROM door_commands c
     WHERE c.org_id = $1 AND c.door_id = $2 AND ($3::timestamptz IS NULL OR (c.requested_at, c.id) < ($3::timestamptz, $4::uuid))
     ORDER BY c.requested_at DESC, c.id DESC LIMIT $5`,
    [a.orgId, a.doorId, after?.[0] ?? null, after?.[1] ?? null, a.limit + 1],
  );
  return page(rows, a.limit, (r) => [(r.requested_at as Date).toISOString(), r.id]);
}
