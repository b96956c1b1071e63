// Partitions and retention (issue P6) on a real hub: partitions exist ahead after start; a run
// drops a partition only when every organization with rows in it has a policy that expired them
// all (otherwise it deletes the expired organizations' rows), audits each drop and delete, prunes
// quarantine, keeps the identity ledger, and runs on one hub at a time. Old rows are written
// with SQL: ingest refuses events older than LINTEL_EVENT_MAX_AGE_DAYS.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import t from 'tap';
import { PROJECT_ROOT } from '../../hub/config.js';
import { createControl } from '../../hub/control.js';
import { createLogger } from '../../hub/log.js';
import { createMaintenance } from '../../hub/maintenance.js';
import type { MaintenanceResult } from '../../workers/retention.js';
import { client, createKey } from '../helpers/api.js';
import { provisionSite, startTestHub, type Provisioned, type TestHub } from '../helpers/hub.js';

const DAY = 86_400_000;
const LOCK_KEY = 0x4c524554; // workers/retention.ts

/** First instant (UTC) of the month `k` months before the current one; negative k is ahead. */
function monthStart(k: number, now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1));
}
const partitionOf = (d: Date) => `events_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

let th: TestHub;
const orgs: Record<'a' | 'b' | 'c', Provisioned & { orgId: string }> = {} as never;
let seq = 0;

t.before(async () => {
  th = await startTestHub(t);
  for (const k of ['a', 'b', 'c'] as const) {
    const p = await provisionSite(th, { name: `retention-${k}` });
    const [o] = await th.query<{ id: string }>('SELECT id FROM organizations WHERE name = $1', [p.org]);
    orgs[k] = { ...p, orgId: o!.id };
  }
});

async function insertEvents(k: 'a' | 'b' | 'c', times: Date[]): Promise<void> {
  const o = orgs[k];
  const seqs = times.map(() => ++seq);
  await th.query(`INSERT INTO events (ts, org_id, site_id, device_id, source, boot, seq, kind)
    SELECT x.ts, $1, $2, $3, 'terminal', 1, x.seq, 'door' FROM unnest($4::timestamptz[], $5::bigint[]) AS x(ts, seq)`,
  [o.orgId, o.siteId, o.deviceId, times.map((d) => d.toISOString()), seqs]);
  await th.query(`INSERT INTO event_keys (device_id, source, boot, seq, outcome) SELECT $1, 't', 1, unnest($2::bigint[]), 's'`, [o.deviceId, seqs]);
}

async function countEvents(k: 'a' | 'b' | 'c', table = 'events', where = 'true'): Promise<number> {
  const [r] = await th.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE org_id = $1 AND ${where}`, [orgs[k].orgId]);
  return r!.n;
}

const exists = async (name: string) => (await th.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name]))[0]!.r !== null;
const run = () => th.admin.run<MaintenanceResult>('runRetention');

t.test('after start, partitions exist from last month to three months ahead', async (t) => {
  const names = (await th.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`)).map((r) => r.relname);
  for (const k of [1, 0, -1, -2, -3]) t.ok(names.includes(partitionOf(monthStart(k))), `${partitionOf(monthStart(k))} exists`);
  t.ok(names.includes('events_default'), 'and the default partition');
});

t.test('every partition carries the indexes migrations/README.md lists for events, and no other', async (t) => {
  // Each index is one more B-tree insert per stored event: 007 dropped events_device_seq, which no query read.
  const parent = await th.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
     WHERE x.indrelid = 'events'::regclass ORDER BY 1`);
  t.same(parent.map((r) => r.name), ['events_device_ts_id', 'events_door_ts', 'events_org_ts_id', 'events_person_ts', 'events_pkey', 'events_site_ts']);
  const perPartition = await th.query<{ partition: string; n: number }>(
    `SELECT c.relname AS partition, count(x.indexrelid)::int AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     LEFT JOIN pg_index x ON x.indrelid = c.oid WHERE i.inhparent = 'events'::regclass GROUP BY 1`);
  t.ok(perPartition.length >= 6, `${perPartition.length} partitions`);
  t.same(perPartition.filter((p) => p.n !== parent.length), [], `each has the parent's ${parent.length}`);
});

t.test('GET/PUT /v1/retention: admin sets, viewer reads, another organization sees its own', async (t) => {
  const adminA = client(th, await createKey(th, orgs.a.org, 'admin'));
  const viewerA = client(th, await createKey(th, orgs.a.org, 'viewer'));
  const adminB = client(th, await createKey(th, orgs.b.org, 'admin'));
  t.same((await viewerA.get('/v1/retention')).body, { org_id: orgs.a.orgId, events_days: null, quarantine_days: null, updated_at: null, updated_by: null }, 'no policy: keeps everything');
  const denied = await viewerA.put('/v1/retention', { events_days: 30 });
  t.equal(denied.status, 403);
  t.equal(denied.body.error.code, 'LINTEL_ERR_API_FORBIDDEN');
  const bad = await adminA.put('/v1/retention', { events_days: 0 });
  t.equal(bad.status, 400);
  t.equal(bad.body.error.fields[0].field, 'body.events_days');
  t.match((await adminA.put('/v1/retention', { events_days: 7 })).body, { events_days: 7, quarantine_days: null });
  t.equal((await viewerA.del('/v1/retention')).status, 403, 'a viewer cannot remove it');
  t.match((await adminA.del('/v1/retention')).body, { events_days: null, quarantine_days: null }, 'removed: keeps everything again');
  const put = await adminA.put('/v1/retention', { events_days: 30, quarantine_days: 30 });
  t.equal(put.status, 200);
  t.match(put.body, { org_id: orgs.a.orgId, events_days: 30, quarantine_days: 30, updated_by: /^api_key:/ });
  t.match((await viewerA.get('/v1/retention')).body, { events_days: 30, quarantine_days: 30 }, 'a viewer reads it');
  t.match((await adminB.get('/v1/retention')).body, { org_id: orgs.b.orgId, events_days: null }, 'organization B does not see A\'s policy');
  const audited = await th.query<{ org_id: string; action: string; after: { events_days: number | null } }>(
    `SELECT org_id, action, after FROM audit_log WHERE action LIKE 'retention.%' ORDER BY id`);
  t.same(audited.map((r) => [r.org_id, r.action, r.after.events_days]), [
    [orgs.a.orgId, 'retention.set', 7], [orgs.a.orgId, 'retention.unset', null], [orgs.a.orgId, 'retention.set', 30],
  ], 'every change is audited in A\'s log');
});

t.test('a retention run drops only partitions no organization still needs', async (t) => {
  const now = Date.now();
  const m8 = monthStart(8);
  const m7 = monthStart(7);
  const m6 = monthStart(6);
  await th.query('SELECT lintel_ensure_partitions($1::date, 3)', [m8.toISOString().slice(0, 10)]);
  for (const m of [m8, m7, m6]) t.ok(await exists(partitionOf(m)), `${partitionOf(m)} created for the test`);
  const day = (m: Date, d: number) => new Date(m.getTime() + d * DAY + 3_600_000);

  // M8: A (30 days) and B (no policy). M7: A alone. Default partition: A, three years back.
  await insertEvents('a', [day(m8, 1), day(m8, 2), day(m8, 3)]);
  await insertEvents('b', [day(m8, 4), day(m8, 5)]);
  await insertEvents('a', [day(m7, 1), day(m7, 10), day(m7, 20), day(m7, 27)]);
  await insertEvents('a', [new Date(now - 3 * 365 * DAY), new Date(now - 40 * DAY), new Date(now - DAY)]);
  // M6: C's policy cuts the month in two: its first rows expired, its last ones not.
  const mid = new Date((m6.getTime() + monthStart(5).getTime()) / 2);
  const cDays = Math.floor((now - mid.getTime()) / DAY);
  await th.admin.run('setRetention', { org: orgs.c.org, eventsDays: cDays, quarantineDays: null });
  await insertEvents('c', [day(m6, 0), day(m6, 1), new Date(monthStart(5).getTime() - DAY), new Date(monthStart(5).getTime() - 2 * DAY)]);
  // Quarantine: A's old rows go, its recent one and B's old ones stay.
  const q = (k: 'a' | 'b', ageDays: number) => th.query(
    `INSERT INTO quarantine (received_at, org_id, site_id, device_id, source, boot, seq, code, raw) VALUES ($1, $2, $3, $4, 'terminal', 1, $5, 'unknown_credential', '{}')`,
    [new Date(now - ageDays * DAY).toISOString(), orgs[k].orgId, orgs[k].siteId, orgs[k].deviceId, ++seq]);
  await Promise.all([q('a', 100), q('a', 31), q('a', 1), q('b', 100)]);
  const [keysBefore] = await th.query<{ n: number }>('SELECT count(*)::int AS n FROM event_keys');

  const r = await run();
  t.equal(r.ran, true);
  t.same(r.dropped.map((d) => d.partition), [partitionOf(m7)], 'only M7 is dropped: A alone had rows there, all expired');
  t.same(r.dropped[0]!.orgs.map((o) => [o.org_id, o.rows]), [[orgs.a.orgId, 4]]);
  t.notOk(await exists(partitionOf(m7)), 'M7 is gone');
  t.ok(await exists(partitionOf(m8)), 'M8 stays: B, without a policy, has rows in it');
  t.same(r.kept.find((k) => k.partition === partitionOf(m8)), { partition: partitionOf(m8), reason: 'held', org_ids: [orgs.b.orgId] });
  t.equal(await countEvents('a', partitionOf(m8)), 0, 'A\'s rows in M8 are deleted');
  t.equal(await countEvents('b', partitionOf(m8)), 2, 'B\'s rows in M8 are untouched');
  t.ok(await exists(partitionOf(m6)), 'M6 stays: C\'s newer rows in it have not expired');
  t.equal(await countEvents('c', 'events', `ts < '${mid.toISOString()}'`), 0, 'C\'s expired rows in M6 are deleted');
  t.equal(await countEvents('c', 'events', `ts >= '${mid.toISOString()}'`), 2, 'C\'s unexpired rows are kept');
  t.equal(await countEvents('a', 'events_default'), 0, 'A\'s old rows in the default partition are deleted, the partition stays');
  t.ok(await exists('events_default'));
  t.equal(await countEvents('a'), 1, 'of A, only the event of yesterday remains');
  t.equal(await countEvents('a', 'quarantine'), 1, 'A\'s quarantine rows older than 30 days are deleted');
  t.equal(await countEvents('b', 'quarantine'), 1, 'B keeps its quarantine (no policy)');
  t.same(r.quarantine.map((x) => [x.org_id, x.rows]), [[orgs.a.orgId, 2]]);
  const [keysAfter] = await th.query<{ n: number }>('SELECT count(*)::int AS n FROM event_keys');
  t.equal(keysAfter!.n, keysBefore!.n, 'the identity ledger keeps every row: a resend of a deleted event stays a duplicate');

  const audit = await th.query<{ org_id: string | null; actor: string; action: string; entity_id: string | null; before: any }>(
    `SELECT org_id, actor, action, entity_id, before FROM audit_log WHERE actor = 'system:retention' ORDER BY id`);
  const drop = audit.filter((a) => a.action === 'retention.drop_partition');
  t.same(drop.map((a) => [a.org_id, a.entity_id]), [[null, partitionOf(m7)], [orgs.a.orgId, partitionOf(m7)]], 'the drop: one install-wide row, one in A\'s log');
  t.match(drop[0]!.before, { partition: partitionOf(m7), from: m7.toISOString(), to: monthStart(6).toISOString(), rows: 4, orgs: [{ org_id: orgs.a.orgId, rows: 4, events_days: 30 }] });
  t.notMatch(JSON.stringify(drop[1]!.before), orgs.b.orgId, 'an organization\'s row names no other organization');
  const deletes = audit.filter((a) => a.action === 'retention.delete_events').map((a) => [a.org_id, a.entity_id, a.before.rows]);
  t.same(deletes.sort(), r.deleted.map((d) => [d.org_id, d.partition, d.rows]).sort(), 'each delete is one row in the organization\'s log, with its count');
  t.ok(deletes.some((d) => d[0] === orgs.a.orgId && d[1] === partitionOf(m8) && d[2] === 3), 'A: its 3 rows in M8');
  t.ok(deletes.some((d) => d[0] === orgs.c.orgId && d[1] === partitionOf(m6) && d[2] === 2), 'C: its 2 expired rows in M6');
  t.ok(deletes.some((d) => d[0] === orgs.a.orgId && d[1] === 'events_default'), 'A: its rows in the default partition');
  t.equal(r.deleted.filter((d) => d.org_id === orgs.a.orgId).reduce((s, d) => s + d.rows, 0), 3 + 2, 'A: 3 rows in M8, 2 older than 30 days elsewhere');
  t.same(audit.filter((a) => a.action === 'retention.delete_quarantine').map((a) => [a.org_id, a.before.rows]), [[orgs.a.orgId, 2]]);

  const again = await run();
  t.same([again.dropped, again.deleted, again.quarantine], [[], [], []], 'a second run finds nothing more to do');

  // B's policy now expires its rows in M8 too: the partition goes.
  const adminB = client(th, await createKey(th, orgs.b.org, 'admin'));
  t.equal((await adminB.put('/v1/retention', { events_days: 60 })).status, 200);
  const third = await run();
  t.same(third.dropped.map((d) => [d.partition, d.rows, d.orgs.map((o) => o.org_id)]), [[partitionOf(m8), 2, [orgs.b.orgId]]]);
  t.notOk(await exists(partitionOf(m8)));
  t.ok(await exists(partitionOf(m6)), 'M6 still stays');
  t.ok((await th.query(`SELECT 1 FROM audit_log WHERE org_id IS NULL AND action = 'retention.drop_partition' AND entity_id = $1`, [partitionOf(m8)])).length === 1, 'the drop of M8 is audited');
});

t.test('a partition gaining an organization without a policy is never dropped', async (t) => {
  const m10 = monthStart(10);
  await th.query('SELECT lintel_ensure_partitions($1::date, 1)', [m10.toISOString().slice(0, 10)]);
  await insertEvents('a', [new Date(m10.getTime() + DAY)]);
  await th.query('DELETE FROM retention_policies WHERE org_id = $1', [orgs.b.orgId]);
  await insertEvents('b', [new Date(m10.getTime() + 2 * DAY)]);
  const r = await run();
  t.ok(await exists(partitionOf(m10)), 'kept');
  t.equal(await countEvents('b', partitionOf(m10)), 1, 'B\'s row is there');
  t.equal(await countEvents('a', partitionOf(m10)), 0, 'A\'s expired row is deleted');
  t.same(r.dropped, []);
});

t.test('one run at a time: a hub finding the lock taken does nothing', async (t) => {
  const holder = postgres(th.hub.databaseUrl, { max: 1, onnotice: () => {} });
  t.teardown(() => holder.end({ timeout: 1 }));
  const m12 = monthStart(12);
  await th.query('SELECT lintel_ensure_partitions($1::date, 1)', [m12.toISOString().slice(0, 10)]);
  await insertEvents('a', [new Date(m12.getTime() + DAY)]);
  await holder`SELECT pg_advisory_lock(${LOCK_KEY})`;
  const skipped = await run();
  t.equal(skipped.ran, false);
  t.ok(await exists(partitionOf(m12)), 'nothing dropped while another holds the lock');
  await holder`SELECT pg_advisory_unlock(${LOCK_KEY})`;

  // The hub side: createMaintenance runs at once through the control worker, and runNow joins a run in progress.
  const shim = pathToFileURL(path.join(PROJECT_ROOT, 'workers', 'tsx-shim.mjs')).href;
  const control = createControl(shim, {
    $module: pathToFileURL(path.join(PROJECT_ROOT, 'workers', 'control.ts')).href,
    databaseUrl: th.hub.databaseUrl, migrationsDir: pathToFileURL(path.join(PROJECT_ROOT, 'migrations') + path.sep).href,
  });
  const maintenance = createMaintenance({ intervalMs: 3_600_000 }, { control, log: createLogger('silent') });
  t.teardown(async () => { await maintenance.close(); await control.close(); });
  const [x, y] = [maintenance.runNow(), maintenance.runNow()];
  t.equal(x, y, 'one run at a time within a hub');
  const done = await x;
  t.equal(done.ran, true);
  t.notOk(await exists(partitionOf(m12)), 'the scheduled run dropped the expired partition');
});
