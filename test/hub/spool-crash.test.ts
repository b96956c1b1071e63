// kill -9 while PostgreSQL is away (issue P4): the events acked from the spool survive the crash.
// The restarted hub recovers the spool, ignores a torn last record safely, sets a file that is not
// a segment aside, and drains the rest once PostgreSQL is back: every acked punch stored once.
import { appendFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Terminal } from '../../bench/terminal.js';
import { createAdminClient, type AdminClient } from '../../hub/admin-client.js';
import { loadConfig } from '../../hub/config.js';
import { freePort, tempDataDir } from '../helpers/hub.js';
import { spawnHub, waitFor, type HubProcess } from '../helpers/hub-process.js';
import { startOwnPostgres } from '../helpers/pg.js';

const BOOT = 21;
const HANG_MS = 60_000; // a hang detector, not a speed threshold

async function metric(httpUrl: string, name: string): Promise<number> {
  try {
    const text = await (await fetch(`${httpUrl}/metrics`)).text();
    return Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

t.test('kill -9 during an outage: the spool is recovered, a torn record ignored, every acked punch stored once', async (t) => {
  const pg = await startOwnPostgres();
  const dataDir = await tempDataDir();
  const env = {
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: String(await freePort()), LINTEL_DATA_DIR: dataDir, DATABASE_URL: pg.url,
    LINTEL_LOG_LEVEL: 'info', LINTEL_HUB_ID: `spool-crash-${process.pid}`, LINTEL_SPOOL_SEGMENT_BYTES: String(64 * 1024),
  };
  const url = `ws://127.0.0.1:${env.LINTEL_PORT}/v1/terminal`;
  const httpUrl = `http://127.0.0.1:${env.LINTEL_PORT}`;
  const spoolDir = path.join(dataDir, 'spool');
  const procs: HubProcess[] = [];
  const admins: AdminClient[] = [];
  let term: Terminal | undefined;
  t.teardown(async () => {
    await term?.close().catch(() => {});
    for (const a of admins) await a.close().catch(() => {});
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(pg.dir, { recursive: true, force: true });
  });

  procs.push(await spawnHub(env));
  const admin = await createAdminClient(loadConfig(env));
  admins.push(admin);
  await admin.run('createOrg', { name: 'acme' });
  await admin.run('createSite', { org: 'acme', name: 'hq', tz: 'UTC' });
  await admin.run('createDoor', { org: 'acme', site: 'hq', code: 'D1' });
  const device = await admin.run<{ id: string; token: string }>('createDevice', { org: 'acme', site: 'hq', name: 'clock', doors: ['D1'] });
  await admin.run('createPerson', { org: 'acme', externalId: 'E-1' });
  await admin.run('addCredential', { org: 'acme', person: 'E-1', cred: 'card-1' });
  t.same(await admin.settle(), [], 'the hub loaded the device');

  term = new Terminal({ url, token: device.token, boot: BOOT, reconnect: true, backoffMinMs: 20, backoffMaxMs: 200 });
  const acked = new Set<number>();
  term.on('ack', (a: { boot: number; seqs: number[] }) => { for (const s of a.seqs) acked.add(s); });
  await term.connect();
  const punch = (n: number) => { for (let i = 0; i < n; i++) term!.enqueue({ ts: Date.now(), kind: 'punch', cred: 'card-1', dir: 'in' }); };

  await pg.stop();
  for (let round = 0; round < 3; round++) {
    punch(1000);
    await term.drained();
  }
  t.equal(acked.size, 3000, 'all 3000 punches acked from the spool while PostgreSQL is away');

  procs[0]!.child.kill('SIGKILL');
  t.equal(await procs[0]!.exited, null, 'the hub was killed');
  const segments = (await readdir(spoolDir)).filter((f) => f.endsWith('.seg')).sort();
  t.ok(segments.length >= 2, `${segments.length} segments left on disk`);
  // What a crash mid-append leaves: a record header promising more bytes than were written.
  const last = path.join(spoolDir, segments.at(-1)!);
  const torn = Buffer.alloc(8 + 10);
  torn.writeUInt32BE(5000, 0);
  await appendFile(last, torn);
  // And a stray file that is not a segment at all (a copy gone wrong, a disk error).
  await writeFile(path.join(spoolDir, '9999999999999999.seg'), 'not a spool segment');

  await pg.start();
  const restartAt = performance.now();
  const second = await spawnHub(env);
  procs.push(second);
  await waitFor('the recovered spool to drain', async () => (await metric(httpUrl, 'lintel_spool_bytes')) === 0, HANG_MS);
  const drainMs = Math.round(performance.now() - restartAt);
  t.equal(await metric(httpUrl, 'lintel_spool_torn_records_total'), 1, 'the torn record was detected');
  t.ok(second.output.some((l) => l.includes('spool recovered from a previous run')), 'the restart logged the recovered spool');
  t.ok(second.output.some((l) => l.includes('torn record')), 'and the torn record');
  t.ok(second.output.some((l) => l.includes('LINTEL_ERR_SPOOL_CORRUPT')), 'and the file that is not a segment');
  const left = (await readdir(spoolDir)).sort();
  t.same(left, ['9999999999999999.seg.corrupt'], 'drained segments are gone; the stray file is set aside, not deleted');

  await Promise.race([term.drained(), sleep(HANG_MS, undefined, { ref: false }).then(() => { throw new Error('terminal not drained'); })]);
  const admin2 = await createAdminClient(loadConfig(env));
  admins.push(admin2);
  const rows = await admin2.run<{ seq: number; n: number }[]>('query', {
    text: `SELECT seq::int AS seq, count(*)::int AS n FROM events WHERE device_id = $1 AND boot = $2 AND kind = 'punch' GROUP BY seq`, params: [device.id, BOOT],
  });
  const stored = new Map(rows.map((r) => [r.seq, r.n]));
  t.equal(stored.size, 3000, '3000 distinct punches stored');
  t.same([...stored.values()].filter((n) => n !== 1), [], 'each exactly once');
  t.same([...acked].filter((s) => stored.get(s) !== 1), [], 'every punch acked before the kill is stored');
  t.comment(JSON.stringify({ segments: segments.length, drainMsFromRestart: drainMs }));
});
