// Partition upkeep and retention (issue P6), run by one hub at a time under an advisory lock:
// monthly event partitions ahead of time, then each organization's policy. Partitions are shared
// by every organization (range on ts only), so one is dropped only when every organization with
// rows in it has a policy under which all of them expired; otherwise expired rows are deleted by
// organization and ts, in batches. event_keys is never pruned (a resend stays a duplicate).
import type { Sql } from './db.js';

const LOCK_KEY = 0x4c524554; // 'LRET'
const DAY_MS = 86_400_000;
const DEFAULT_BATCH = 5000;
export const ACTOR = 'system:retention';
/** Partitions exist from last month to this many months ahead. */
export const MONTHS_AHEAD = 3;

export interface PartitionDrop { partition: string; from: string; to: string; rows: number; orgs: { org_id: string; rows: number; events_days: number }[] }
export interface RowsDeleted { partition: string; org_id: string; before: string; rows: number }
export interface QuarantineDeleted { org_id: string; before: string; rows: number }
export interface MaintenanceResult {
  /** false: another hub was running maintenance, nothing was done here. */
  ran: boolean;
  partitionsCreated: number;
  dropped: PartitionDrop[];
  deleted: RowsDeleted[];
  quarantine: QuarantineDeleted[];
  /** Partitions old enough to drop that were kept, and why. */
  kept: { partition: string; reason: 'held' | 'lock_timeout' | 'changed'; org_ids?: string[] }[];
}

interface Partition { name: string; lo: Date | null; hi: Date | null; isDefault: boolean }
interface Policy { eventsDays: number; quarantineDays: number | null }
type Conn = Sql;

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Monthly partitions from last month to MONTHS_AHEAD ahead; months already in events_default stay there. */
export async function ensurePartitions(sql: Sql): Promise<number> {
  const [row] = await sql`SELECT lintel_ensure_partitions((now() - interval '1 month')::date, ${MONTHS_AHEAD + 2}) AS made`;
  return Number(row?.made ?? 0);
}

async function partitions(sql: Conn): Promise<Partition[]> {
  // The bound's text carries its UTC offset, so the cast back is exact whatever the session zone.
  const rows = await sql<{ name: string; lo: Date | null; hi: Date | null; is_default: boolean }[]>`
    SELECT c.relname AS name, b.m[1]::timestamptz AS lo, b.m[2]::timestamptz AS hi, e.bound = 'DEFAULT' AS is_default
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) e
    LEFT JOIN LATERAL (SELECT regexp_match(e.bound, '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$') AS m) b ON true
    WHERE i.inhparent = 'events'::regclass
    ORDER BY lo NULLS FIRST`;
  return rows.map((r) => ({ name: r.name, lo: r.lo, hi: r.hi, isDefault: r.is_default }));
}

/** The organizations with rows in one partition: a loose index scan of its (org_id, ts, id) index, not a table scan. */
async function orgsIn(sql: Conn, partition: string): Promise<string[]> {
  const t = ident(partition);
  const rows = await sql.unsafe<{ org_id: string }[]>(`WITH RECURSIVE o(org_id) AS (
      (SELECT org_id FROM ${t} ORDER BY org_id LIMIT 1)
      UNION ALL
      SELECT (SELECT x.org_id FROM ${t} x WHERE x.org_id > o.org_id ORDER BY x.org_id LIMIT 1) FROM o WHERE o.org_id IS NOT NULL)
    SELECT org_id FROM o WHERE org_id IS NOT NULL`);
  return rows.map((r) => r.org_id);
}

export async function maintain(sql: Sql, opts: { batch?: number } = {}): Promise<MaintenanceResult> {
  // A session lock on one reserved connection, held for the whole run and released if that
  // connection dies. The work itself runs on the pool: postgres.js 3.4 has no begin() on a
  // reserved connection.
  const lock = await sql.reserve();
  try {
    const [l] = await lock`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`;
    if (!l?.ok) return { ran: false, partitionsCreated: 0, dropped: [], deleted: [], quarantine: [], kept: [] };
    try {
      return await run(sql, opts.batch ?? DEFAULT_BATCH);
    } finally {
      await lock`SELECT pg_advisory_unlock(${LOCK_KEY})`.catch(() => {});
    }
  } finally {
    lock.release();
  }
}

async function run(conn: Conn, batch: number): Promise<MaintenanceResult> {
  const result: MaintenanceResult = { ran: true, partitionsCreated: await ensurePartitions(conn), dropped: [], deleted: [], quarantine: [], kept: [] };
  // The first month ensurePartitions keeps is never dropped: it would only be created again.
  const [clock] = await conn<{ now: Date; window_start: Date }[]>`
    SELECT now() AS now, (date_trunc('month', (now() - interval '1 month')::date)::date::text || ' 00:00:00+00')::timestamptz AS window_start`;
  const now = clock!.now.getTime();
  const cutoff = (days: number) => new Date(now - days * DAY_MS);
  const policies = new Map((await conn<{ org_id: string; events_days: number; quarantine_days: number | null }[]>`
    SELECT org_id, events_days, quarantine_days FROM retention_policies`).map((r) => [r.org_id, { eventsDays: r.events_days, quarantineDays: r.quarantine_days } as Policy]));
  const expired = (org: string, hi: Date) => {
    const p = policies.get(org);
    return p !== undefined && hi.getTime() <= cutoff(p.eventsDays).getTime();
  };
  // The latest cutoff of any policy: a partition starting at or after it holds nothing expired.
  const latestCutoff = Math.max(...[...policies.values()].map((p) => cutoff(p.eventsDays).getTime()), -Infinity);

  for (const part of await partitions(conn)) {
    const dropCandidate = !part.isDefault && part.lo && part.hi && part.hi.getTime() <= clock!.window_start.getTime();
    if (!dropCandidate && !part.isDefault && (!part.lo || part.lo.getTime() >= latestCutoff)) continue;
    const orgs = await orgsIn(conn, part.name);
    if (dropCandidate) {
      const held = orgs.filter((o) => !expired(o, part.hi!));
      if (held.length === 0) {
        const outcome = await dropPartition(conn, part, orgs, policies, cutoff);
        if (typeof outcome === 'string') result.kept.push({ partition: part.name, reason: outcome });
        else result.dropped.push(outcome);
        continue;
      }
      result.kept.push({ partition: part.name, reason: 'held', org_ids: held });
    }
    for (const org of orgs) {
      const p = policies.get(org);
      if (!p) continue;
      const before = cutoff(p.eventsDays);
      if (part.lo && part.lo.getTime() >= before.getTime()) continue;
      const rows = await deleteEvents(conn, part, org, p.eventsDays, before, batch);
      if (rows > 0) result.deleted.push({ partition: part.name, org_id: org, before: before.toISOString(), rows });
    }
  }

  for (const [org, p] of policies) {
    if (p.quarantineDays === null) continue;
    const before = cutoff(p.quarantineDays);
    const rows = await deleteQuarantine(conn, org, p.quarantineDays, before, batch);
    if (rows > 0) result.quarantine.push({ org_id: org, before: before.toISOString(), rows });
  }
  return result;
}

/**
 * Drops one partition whose rows have all expired. Rows are counted first (outside any lock);
 * then, with ingest held off by an exclusive lock on the parent (taken first, in the order
 * ingest takes its locks, so no deadlock), the set of organizations in it is read again and
 * every one's policy re-checked under a share lock: a backfill or a policy change in between
 * keeps the partition. lock_timeout bounds how long ingest can wait behind this.
 */
async function dropPartition(conn: Conn, part: Partition, orgs: string[], policies: Map<string, Policy>, cutoff: (days: number) => Date): Promise<PartitionDrop | 'lock_timeout' | 'changed'> {
  const t = ident(part.name);
  const counts = new Map((await conn.unsafe<{ org_id: string; n: number }[]>(`SELECT org_id, count(*)::int AS n FROM ${t} GROUP BY org_id`)).map((r) => [r.org_id, r.n]));
  try {
    return await conn.begin(async (tx) => {
      await tx`SET LOCAL lock_timeout = '2s'`;
      const locked = new Map((await tx<{ org_id: string; events_days: number }[]>`
        SELECT org_id, events_days FROM retention_policies WHERE org_id = ANY(${orgs}::uuid[]) FOR SHARE`).map((r) => [r.org_id, r.events_days]));
      await tx`LOCK TABLE ONLY events IN ACCESS EXCLUSIVE MODE`;
      await tx.unsafe(`LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`);
      const now = await orgsIn(tx as unknown as Conn, part.name);
      const stillExpired = (o: string) => {
        const days = locked.get(o);
        return days !== undefined && counts.has(o) && policies.get(o)?.eventsDays === days && part.hi!.getTime() <= cutoff(days).getTime();
      };
      if (!now.every(stillExpired)) return 'changed' as const;
      await tx.unsafe(`DROP TABLE ${t}`);
      const from = part.lo!.toISOString();
      const to = part.hi!.toISOString();
      const detail: PartitionDrop = {
        partition: part.name, from, to, rows: now.reduce((s, o) => s + counts.get(o)!, 0),
        orgs: now.map((o) => ({ org_id: o, rows: counts.get(o)!, events_days: locked.get(o)! })),
      };
      await tx`INSERT INTO audit_log (org_id, actor, action, entity, entity_id, before)
               VALUES (null, ${ACTOR}, 'retention.drop_partition', 'partition', ${part.name}, ${tx.json(detail as never)})`;
      // Each organization sees its own part in GET /v1/audit, without the others' ids.
      for (const o of detail.orgs) {
        await tx`INSERT INTO audit_log (org_id, actor, action, entity, entity_id, before)
                 VALUES (${o.org_id}, ${ACTOR}, 'retention.drop_partition', 'partition', ${part.name},
                         ${tx.json({ partition: part.name, from, to, rows: o.rows, events_days: o.events_days } as never)})`;
      }
      return detail;
    });
  } catch (err) {
    if ((err as { code?: string }).code === '55P03') return 'lock_timeout'; // lock_not_available: next run
    throw err;
  }
}

/**
 * Deletes in batches, each its own transaction, so no long transaction holds row locks. Each
 * batch re-reads the organization's policy under a share lock (a policy lengthened meanwhile
 * stops the deletion) and keeps one audit row per (partition, organization) exact: inserted
 * with the first batch, its count raised in the same transaction as each later one.
 */
async function batched(conn: Conn, org: string, daysColumn: 'events_days' | 'quarantine_days', days: number, batch: number,
  del: (tx: Conn) => Promise<number>, auditRow: (rows: number) => { action: string; entity: string; entityId: string | null; before: Record<string, unknown> }): Promise<number> {
  let total = 0;
  let auditId: number | null = null;
  for (;;) {
    const n: number = await conn.begin(async (txn) => {
      const tx = txn as unknown as Conn;
      const [p] = await tx.unsafe<{ days: number | null }[]>(`SELECT ${daysColumn} AS days FROM retention_policies WHERE org_id = $1 FOR SHARE`, [org]);
      if (!p || p.days !== days) return 0;
      const count = await del(tx);
      if (count === 0) return 0;
      const a = auditRow(total + count);
      if (auditId === null) {
        const [row] = await tx<{ id: number }[]>`INSERT INTO audit_log (org_id, actor, action, entity, entity_id, before)
          VALUES (${org}, ${ACTOR}, ${a.action}, ${a.entity}, ${a.entityId}, ${tx.json(a.before as never)}) RETURNING id`;
        auditId = row!.id;
      } else {
        await tx`UPDATE audit_log SET before = ${tx.json(a.before as never)} WHERE id = ${auditId}`;
      }
      return count;
    });
    total += n;
    if (n < batch) return total;
  }
}

/** ctid batches on the partition itself: ctids are unique within one table, not across the parent. */
async function deleteEvents(conn: Conn, part: Partition, org: string, days: number, before: Date, batch: number): Promise<number> {
  const t = ident(part.name);
  return batched(conn, org, 'events_days', days, batch,
    async (tx) => (await tx.unsafe(
      `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${t} WHERE org_id = $1 AND ts < $2 LIMIT $3))`,
      [org, before.toISOString(), batch],
    )).count,
    (rows) => ({
      action: 'retention.delete_events', entity: 'partition', entityId: part.name,
      before: { partition: part.name, from: part.lo?.toISOString() ?? null, to: part.hi?.toISOString() ?? null, ts_before: before.toISOString(), events_days: days, rows },
    }));
}

async function deleteQuarantine(conn: Conn, org: string, days: number, before: Date, batch: number): Promise<number> {
  return batched(conn, org, 'quarantine_days', days, batch,
    async (tx) => (await tx.unsafe(
      `DELETE FROM quarantine WHERE id = ANY(ARRAY(SELECT id FROM quarantine WHERE org_id = $1 AND received_at < $2 LIMIT $3))`,
      [org, before.toISOString(), batch],
    )).count,
    (rows) => ({ action: 'retention.delete_quarantine', entity: 'quarantine', entityId: null, before: { received_before: before.toISOString(), quarantine_days: days, rows } }));
}
