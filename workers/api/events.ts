// The operator API's read side: events and the audit log in keyset pages (newest first), and
// quarantine, whose resolution turns a quarantined punch into an event without breaking
// exactly-once (the ledger row of its identity flips from 'q' to 's' in the same transaction).
import { credentialHmac } from '../../protocol/credential-hash.js';
import { LintelError } from '../../protocol/errors.js';
import { PUNCH_DIRS } from '../../protocol/frames.js';
import { audit, db, decodeCursor, one, page, settings, type Scope, type Tx } from './common.js';

// cred_hash and credential_id stay inside: the API shows who, never which card.
const EVENT = 'id, ts, received_at, site_id, device_id, source, boot, seq, kind, person_id, door_id, dir, granted, reason, state, code, detail, rule, data';
const QUARANTINE = `q.id AS qid, q.uid AS id, q.received_at, q.site_id, q.device_id, q.source, q.boot, q.seq, q.code, q.detail, q.raw,
  q.resolved_at, q.resolution, q.resolution_reason, q.resolved_by, q.resolved_person_id AS person_id, q.resolved_event_id AS event_id`;
const AUDIT = 'id, at, actor, action, entity, entity_id, before, after';
// Timestamps in cursors are microseconds since the epoch: a JS Date would round them to ms and
// a page boundary inside one millisecond would skip or repeat rows.
const MICROS = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::bigint AS cur_us`;
const FROM_MICROS = (p: string) => `(timestamptz 'epoch' + ${p}::bigint * interval '1 microsecond')`;
// The window the hub accepts at ingest by default (LINTEL_EVENT_MAX_AGE_DAYS, _MAX_FUTURE_S),
// measured from receipt: an assigned punch must be one the hub could have stored.
const MAX_AGE_MS = 3650 * 86_400_000;
const MAX_FUTURE_MS = 86_400_000;

type Row = Record<string, unknown>;

function validation(field: string, problem: string): never {
  throw Object.assign(new LintelError('LINTEL_ERR_API_VALIDATION', `${field}: ${problem}`), { fields: [{ field, problem }] });
}

/** Adds one filter if its value was given: only conditions that apply reach SQL, so each shape of query gets its own plan. */
function where(params: unknown[], conds: string[], sqlCond: string, value: unknown): void {
  if (value === undefined || value === null) return;
  params.push(value);
  conds.push(sqlCond.replaceAll('$?', `$${params.length}`));
}

function keyset(params: unknown[], conds: string[], tsCol: string, idCol: string, cursor: unknown[] | null): void {
  if (!cursor) return;
  const [us, id] = cursor;
  if (typeof us !== 'number' || !Number.isSafeInteger(us) || typeof id !== 'number' || !Number.isSafeInteger(id)) {
    validation('query.cursor', 'invalid cursor');
  }
  params.push(us, id);
  const t = FROM_MICROS(`$${params.length - 1}`);
  // The plain bound on ts lets the planner prune partitions; the row comparison breaks ties.
  conds.push(`${tsCol} <= ${t}`, `(${tsCol}, ${idCol}) < (${t}, $${params.length})`);
}

function stripCursor(rows: Row[], limit: number) {
  const p = page(rows, limit, (r) => [r.cur_us, r.id]);
  return { items: p.items.map(({ cur_us: _c, ...r }) => r), next: p.next };
}

export async function listEvents(a: {
  orgId: string; limit: number; cursor?: string; site?: string; door?: string; device?: string; person?: string;
  kind?: string; source?: string; from?: string; to?: string;
}) {
  const params: unknown[] = [a.orgId];
  const conds = ['org_id = $1'];
  where(params, conds, 'site_id = $?', a.site);
  where(params, conds, 'door_id = $?', a.door);
  where(params, conds, 'device_id = $?', a.device);
  where(params, conds, 'person_id = $?', a.person);
  where(params, conds, 'kind = $?', a.kind);
  where(params, conds, 'source = $?', a.source);
  where(params, conds, 'ts >= $?::timestamptz', a.from);
  where(params, conds, 'ts < $?::timestamptz', a.to);
  keyset(params, conds, 'ts', 'id', decodeCursor(a.cursor, 2));
  params.push(a.limit + 1);
  const rows = await db().unsafe(
    `SELECT ${EVENT}, ${MICROS('ts')} FROM events WHERE ${conds.join(' AND ')} ORDER BY ts DESC, id DESC LIMIT $${params.length}`,
    params as never[],
  );
  return stripCursor(rows, a.limit);
}

/**
 * The raw event without its credential: ingest keeps only the keyed hash (`cred_hmac`, older
 * rows may hold `cred`), and the API shows a prefix of it, enough to tell cards apart.
 */
function presentQuarantine({ qid: _q, raw, ...row }: Row): Row {
  const hash = credHashOf(raw);
  let shown = raw;
  if (isMap(raw)) {
    const { cred: _c, cred_hmac: _h, ...rest } = raw;
    shown = rest;
  }
  return { ...row, raw: shown, cred_ref: hash ? hash.subarray(0, 8).toString('hex') : null };
}

const isMap = (v: unknown): v is Row => v !== null && typeof v === 'object' && !Array.isArray(v);

function credHashOf(raw: unknown): Buffer | null {
  if (!isMap(raw)) return null;
  if (typeof raw.cred_hmac === 'string' && /^[0-9a-f]{64}$/.test(raw.cred_hmac)) return Buffer.from(raw.cred_hmac, 'hex');
  if (typeof raw.cred === 'string') return credentialHmac(Buffer.from(settings.credentialKey, 'hex'), raw.cred);
  return null;
}

export async function listQuarantine(a: { orgId: string; limit: number; cursor?: string; device?: string; code?: string; resolved?: boolean }) {
  const params: unknown[] = [a.orgId];
  const conds = ['q.org_id = $1'];
  where(params, conds, 'q.device_id = $?', a.device);
  where(params, conds, 'q.code = $?', a.code);
  if (a.resolved !== undefined) conds.push(a.resolved ? 'q.resolved_at IS NOT NULL' : 'q.resolved_at IS NULL');
  const after = decodeCursor(a.cursor, 1)?.[0];
  if (after !== undefined) {
    if (typeof after !== 'number' || !Number.isSafeInteger(after)) validation('query.cursor', 'invalid cursor');
    where(params, conds, 'q.id < $?', after);
  }
  params.push(a.limit + 1);
  const rows = await db().unsafe(
    `SELECT ${QUARANTINE} FROM quarantine q WHERE ${conds.join(' AND ')} ORDER BY q.id DESC LIMIT $${params.length}`,
    params as never[],
  );
  const p = page(rows, a.limit, (r) => [r.qid]);
  return { items: p.items.map(presentQuarantine), next: p.next };
}

export async function getQuarantine(a: { orgId: string; id: string }) {
  return presentQuarantine(await one(db().unsafe(`SELECT ${QUARANTINE} FROM quarantine q WHERE q.org_id = $1 AND q.uid = $2`, [a.orgId, a.id]), 'quarantined event'));
}

/** The instant an assigned punch gets: the terminal's own ts, if the hub could have stored it. */
function punchTs(raw: Row, receivedAt: Date): number {
  const ts = raw.ts;
  const problem = `${JSON.stringify(ts) ?? 'missing'} is not a valid instant: it must be integer milliseconds since the epoch,`
    + ' at most 3650 days before and 1 day after the event was received; discard this event instead';
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) validation('raw.ts', problem);
  const at = receivedAt.getTime();
  if (ts < at - MAX_AGE_MS || ts > at + MAX_FUTURE_MS) validation('raw.ts', problem);
  return ts;
}

async function assign(tx: Tx, q: Row, personId: string, orgId: string): Promise<Row> {
  const raw = q.raw;
  if (!isMap(raw) || raw.kind !== 'punch') {
    validation('body.action', `only a punch can be assigned; this event's kind is ${JSON.stringify(isMap(raw) ? raw.kind ?? null : null)}: discard it instead`);
  }
  if (q.seq === null || q.boot === null) validation('body.action', 'the event has no seq, so no identity to store it under: discard it instead');
  const ts = punchTs(raw, q.received_at as Date);
  await one(tx`SELECT id FROM people WHERE org_id = ${orgId} AND id = ${personId}`, 'person');
  // The identity's ledger row moves from quarantined to stored: a resend of the same (device,
  // boot, seq) stays a duplicate, and the identity is never stored twice.
  const flipped = await tx`UPDATE event_keys SET outcome = 's'
    WHERE device_id = ${q.device_id as string} AND source = ${q.source === 'hub' ? 'h' : 't'} AND boot = ${q.boot as number}
      AND seq = ${q.seq as number} AND outcome = 'q' RETURNING 1`;
  if (flipped.length !== 1) throw new LintelError('LINTEL_ERR_API_CONFLICT', 'the event ledger does not hold this identity as quarantined');
  const dir = (PUNCH_DIRS as readonly unknown[]).includes(raw.dir) ? raw.dir : 'unknown';
  const data = isMap(raw.data) ? raw.data : null;
  return one(tx.unsafe(
    `INSERT INTO events (ts, received_at, org_id, site_id, device_id, source, boot, seq, kind, person_id, cred_hash, dir, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'punch', $9, $10, $11, $12) RETURNING ${EVENT}`,
    // Typed by the columns: postgres.js serializes the Buffer as bytea and the object as jsonb.
    // received_at stays when the hub got it; the audit log says when it was assigned.
    [new Date(ts).toISOString(), q.received_at, orgId, q.site_id, q.device_id, q.source, q.boot, q.seq, personId, credHashOf(raw), dir, data] as never[],
  ), 'event');
}

export async function resolveQuarantine(a: Scope & { id: string; action: 'assign' | 'discard'; personId?: string; reason: string }) {
  return db().begin(async (tx) => {
    // The row lock serializes two resolutions of one event: the second sees it resolved (409).
    const q = await one(tx.unsafe(`SELECT ${QUARANTINE} FROM quarantine q WHERE q.org_id = $1 AND q.uid = $2 FOR UPDATE`, [a.orgId, a.id]), 'quarantined event');
    if (q.resolved_at !== null) {
      throw new LintelError('LINTEL_ERR_API_CONFLICT', `already resolved (${String(q.resolution)}) at ${(q.resolved_at as Date).toISOString()}`);
    }
    const event = a.action === 'assign' ? await assign(tx, q, a.personId!, a.orgId) : null;
    const after = await one(tx.unsafe(
      `UPDATE quarantine q SET resolved_at = now(), resolution = $2, resolution_reason = $3, resolved_by = $4,
         resolved_person_id = $5, resolved_event_id = $6
       WHERE q.id = $1 RETURNING ${QUARANTINE}`,
      [q.qid, a.action, a.reason, a.actor, a.action === 'assign' ? a.personId! : null, event ? event.id : null] as never[],
    ), 'quarantined event');
    const quarantine = presentQuarantine(after);
    await audit(tx, a, `quarantine.${a.action}`, 'quarantine', a.id, presentQuarantine(q), { ...quarantine, event });
    return { quarantine, event };
  });
}

export async function listAuditLog(a: {
  orgId: string; limit: number; cursor?: string; entity?: string; entity_id?: string; action?: string; from?: string; to?: string;
}) {
  const params: unknown[] = [a.orgId];
  const conds = ['org_id = $1'];
  where(params, conds, 'entity = $?', a.entity);
  where(params, conds, 'entity_id = $?', a.entity_id);
  where(params, conds, 'action = $?', a.action);
  where(params, conds, 'at >= $?::timestamptz', a.from);
  where(params, conds, 'at < $?::timestamptz', a.to);
  keyset(params, conds, 'at', 'id', decodeCursor(a.cursor, 2));
  params.push(a.limit + 1);
  const rows = await db().unsafe(
    `SELECT ${AUDIT}, ${MICROS('at')} FROM audit_log WHERE ${conds.join(' AND ')} ORDER BY at DESC, id DESC LIMIT $${params.length}`,
    params as never[],
  );
  return stripCursor(rows, a.limit);
}
