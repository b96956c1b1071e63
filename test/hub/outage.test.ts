// PostgreSQL outage (issue P4): while the database is away the hub keeps deciding doors from
// memory and acks events from its local spool (fsynced); when the database returns the spool
// drains into it, each event exactly once. When the spool is full, terminals get busy and keep
// their events. A real hub on a PostgreSQL this test stops and starts.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { Terminal } from '../../bench/terminal.js';
import { provisionSite, settle, startTestHub, type TapLike, type TestHub } from '../helpers/hub.js';
import { waitFor } from '../helpers/hub-process.js';
import { startOwnPostgres, type OwnPostgres } from '../helpers/pg.js';

const BOOT = 5;
const HANG_MS = 60_000; // a hang detector, not a speed threshold

async function metric(th: TestHub, name: string): Promise<number> {
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
}

async function readyz(th: TestHub): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${th.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function setup(t: TapLike, env: Record<string, string>) {
  const pg = await startOwnPostgres();
  t.teardown(() => pg.stop());
  const th = await startTestHub(t, { DATABASE_URL: pg.url, ...env });
  const site = await provisionSite(th);
  const creds = ['card-a', 'card-b'];
  for (const [i, cred] of creds.entries()) {
    await th.admin.run('createPerson', { org: site.org, externalId: `E-${i}` });
    await th.admin.run('addCredential', { org: site.org, person: `E-${i}`, cred });
  }
  await settle(th);
  return { pg, th, site };
}

/** Rows per seq for the device's punches. */
async function stored(th: TestHub, deviceId: string): Promise<Map<number, number>> {
  const rows = await th.query<{ seq: number; n: number }>(
    `SELECT seq::int AS seq, count(*)::int AS n FROM events WHERE device_id = $1 AND boot = $2 AND kind = 'punch' GROUP BY seq`, [deviceId, BOOT],
  );
  return new Map(rows.map((r) => [r.seq, r.n]));
}

function punch(term: Terminal, n: number, cred = 'card-a'): void {
  for (let i = 0; i < n; i++) term.enqueue({ ts: Date.now(), kind: 'punch', cred, dir: i % 2 ? 'out' : 'in' });
}

async function dbBack(pg: OwnPostgres, th: TestHub): Promise<void> {
  await pg.start();
  await waitFor('the hub to see PostgreSQL again', async () => (await metric(th, 'lintel_store_up')) === 1, HANG_MS);
  await waitFor('the admin client to reconnect', () => th.query('SELECT 1').then(() => true, () => false), HANG_MS);
}

t.test('database outage: events are acked from the spool, doors still decided, and the spool drains exactly once', async (t) => {
  const { pg, th, site } = await setup(t, { LINTEL_SPOOL_SEGMENT_BYTES: String(64 * 1024) });
  const term = th.terminal(site.token, { boot: BOOT, reconnect: true, backoffMinMs: 20, backoffMaxMs: 200 });
  const acked = new Set<number>();
  term.on('ack', (a: { seqs: number[] }) => { for (const s of a.seqs) acked.add(s); });
  await term.connect();

  punch(term, 100);
  await term.drained();
  t.equal((await stored(th, site.deviceId)).size, 100, 'before the outage: 100 punches stored');

  await pg.stop();
  for (let round = 0; round < 4; round++) { // several batches, more than one 64 KiB segment
    punch(term, 1000);
    await term.drained();
  }
  t.equal(acked.size, 4100, 'every punch made during the outage was acked (from the spool)');
  t.equal(await metric(th, 'lintel_store_up'), 0, 'the hub knows PostgreSQL is away');
  t.equal(await metric(th, 'lintel_hub_degraded'), 1, 'degraded in /metrics');
  t.ok((await metric(th, 'lintel_spool_bytes')) > 0, 'spool depth in /metrics');
  const spooledSegments = await metric(th, 'lintel_spool_segments');
  t.ok(spooledSegments >= 2, `the spool rolled over into ${spooledSegments} segments`);
  t.equal(await metric(th, 'lintel_ingest_events_spooled_total'), 4000, '4000 events counted as spooled');
  const ready = await readyz(th);
  t.equal(ready.status, 200, '/readyz: still ready (it takes events) ...');
  t.match(ready.body, { ok: true, degraded: true, reasons: ['store_unavailable'] }, '... and says it is degraded');
  t.ok((ready.body.spool as { bytes: number }).bytes > 0, '/readyz says how deep the spool is');
  const files = (await readdir(path.join(th.dataDir, 'spool'))).filter((f) => f.endsWith('.seg'));
  t.equal(files.length, spooledSegments, 'segment files under the data folder');
  const onDisk = Buffer.concat(await Promise.all(files.map((f) => readFile(path.join(th.dataDir, 'spool', f)))));
  t.ok(onDisk.includes(site.deviceId), 'the segments hold the events (device id found) ...');
  t.notOk(onDisk.includes('card-a'), '... but no credential identifier: only its HMAC');

  // Doors are decided from memory meanwhile.
  const decisions = [];
  for (let i = 0; i < 20; i++) decisions.push(await term.auth('card-a', 'D1'));
  decisions.push(await term.auth('card-zzz', 'D1'));
  t.same(decisions.map((d) => d.reason), [...Array(20).fill(decisions[0]!.reason), 'unknown_credential'], 'auth answered during the outage, consistently');
  t.ok(decisions.every((d) => typeof d.ok === 'boolean'), 'every auth got an answer');

  // The device reconnects during the outage and resends punches that already sit in the spool:
  // acked again, stored once when the spool drains.
  await term.close();
  const again = th.terminal(site.token, { boot: BOOT, reconnect: true, backoffMinMs: 20, backoffMaxMs: 200 });
  await again.connect();
  for (let seq = 1001; seq <= 1200; seq++) again.enqueue({ seq, ts: Date.now(), kind: 'punch', cred: 'card-a', dir: 'in' });
  let reAcked = 0;
  again.on('ack', (a: { seqs: number[] }) => { reAcked += a.seqs.length; });
  await again.drained();
  t.equal(reAcked, 200, 'the 200 resent punches are acked again during the outage');

  await dbBack(pg, th);
  await waitFor('the spool to drain', async () => (await metric(th, 'lintel_spool_segments')) === 0 && (await metric(th, 'lintel_spool_bytes')) === 0, HANG_MS);
  const after = await stored(th, site.deviceId);
  t.equal(after.size, 4100, '4100 distinct punches stored');
  t.same([...after.values()].filter((n) => n !== 1), [], 'each exactly once');
  t.same([...acked].filter((s) => after.get(s) !== 1), [], 'every acked punch is stored');
  const drained = { stored: 0, duplicate: 0, quarantined: 0 };
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  for (const k of Object.keys(drained) as (keyof typeof drained)[]) drained[k] = Number(new RegExp(`^lintel_spool_drained_events_total\\{outcome="${k}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  t.same(drained, { stored: 4021, duplicate: 200, quarantined: 0 }, 'drained: 4000 punches and 21 hub decision records stored, the 200 resends found to be duplicates');
  t.equal((await readdir(path.join(th.dataDir, 'spool'))).filter((f) => f.endsWith('.seg')).length, 0, 'segment files removed once committed');
  const ledger = await (await fetch(`${th.httpUrl}/metrics`)).text();
  t.ok(ledger.includes('lintel_hub_degraded 0'), 'no longer degraded');
  t.match((await readyz(th)).body, { ok: true, degraded: false });

  // The hub's own decision records made during the outage went through the spool too.
  const hubRecords = await th.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE device_id = $1 AND source = 'hub'`, [site.deviceId]);
  t.equal(hubRecords[0]!.n, 21, 'the 21 decisions made during the outage are stored');

  // Live ingest works again.
  again.lastSeq = 4100;
  punch(again, 10);
  await again.drained();
  t.equal((await stored(th, site.deviceId)).size, 4110, 'after recovery: live punches stored directly');
});

t.test('spool full: terminals get busy and keep their events; nothing is lost', async (t) => {
  const { pg, th, site } = await setup(t, { LINTEL_SPOOL_MAX_BYTES: String(20 * 1024), LINTEL_BUSY_RETRY_MS: '50' });
  const term = th.terminal(site.token, { boot: BOOT, reconnect: true, backoffMinMs: 20, backoffMaxMs: 200 });
  await term.connect();
  await pg.stop();
  punch(term, 2000);
  await waitFor('busy answers', () => term.stats.busy > 0, HANG_MS);
  const ready = await readyz(th);
  t.equal(ready.status, 503, '/readyz 503 once the spool is full');
  t.match(ready.body, { ok: false, degraded: true, reasons: ['store_unavailable', 'spool_full'] });
  t.ok(term.outbox.size > 0, `the terminal keeps ${term.outbox.size} unacked punches`);
  t.ok((await metric(th, 'lintel_spool_bytes')) <= 20 * 1024, 'the spool stays within its bound');

  await dbBack(pg, th);
  await Promise.race([term.drained(), new Promise((_, reject) => setTimeout(() => reject(new Error('not drained')), HANG_MS).unref())]);
  await waitFor('the spool to drain', async () => (await metric(th, 'lintel_spool_bytes')) === 0, HANG_MS);
  const after = await stored(th, site.deviceId);
  t.equal(after.size, 2000, 'all 2000 punches stored');
  t.same([...after.values()].filter((n) => n !== 1), [], 'each exactly once');
});
