// A hub crash (kill -9) mid-burst, with the hub as a real process: its PostgreSQL lives on as an
// orphan, the restarted hub stops it and starts its own, and the reconnecting terminals resend
// what was unacked so every punch they ever queued is stored exactly once.
import { rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Terminal } from '../../bench/terminal.js';
import { createAdminClient, type AdminClient } from '../../hub/admin-client.js';
import { loadConfig } from '../../hub/config.js';
import { freePort, tempDataDir } from '../helpers/hub.js';
import { postmastersOn, spawnHub, waitFor, type HubProcess } from '../helpers/hub-process.js';

const DEVICES = 4;
const BOOT = 11;
const HANG_MS = 60_000; // a hang detector, not a speed threshold
const waitForHang = (what: string, check: () => boolean | Promise<boolean>) => waitFor(what, check, HANG_MS);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readyz(httpUrl: string): Promise<number> {
  try {
    return (await fetch(`${httpUrl}/readyz`)).status;
  } catch {
    return 0;
  }
}

async function storedSeqs(admin: AdminClient, deviceId: string): Promise<{ rows: number; seqs: Map<number, number> }> {
  const rows = await admin.run<{ seq: number; n: number }[]>('query', {
    text: `SELECT seq::int AS seq, count(*)::int AS n FROM events WHERE device_id = $1 AND boot = $2 AND kind = 'punch' GROUP BY seq`, params: [deviceId, BOOT],
  });
  return { rows: rows.reduce((sum, r) => sum + r.n, 0), seqs: new Map(rows.map((r) => [r.seq, r.n])) };
}

t.test('kill -9 mid-burst: the orphaned PostgreSQL is replaced and every punch is stored once', async (t) => {
  const dataDir = await tempDataDir();
  const env = {
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: String(await freePort()), LINTEL_PG_PORT: String(await freePort()), LINTEL_DATA_DIR: dataDir,
    LINTEL_LOG_LEVEL: 'info', LINTEL_HUB_ID: `crash-test-${process.pid}`,
  };
  const url = `ws://127.0.0.1:${env.LINTEL_PORT}/v1/terminal`;
  const httpUrl = `http://127.0.0.1:${env.LINTEL_PORT}`;
  const pgDir = path.join(dataDir, 'pg');
  const procs: HubProcess[] = [];
  const terms: Terminal[] = [];
  const admins: AdminClient[] = [];
  let punching = true;
  t.teardown(async () => {
    punching = false;
    await Promise.all(terms.map((x) => x.close().catch(() => {})));
    for (const a of admins) await a.close().catch(() => {});
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGTERM'); await Promise.race([p.exited, sleep(HANG_MS, null, { ref: false })]); }
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    // An orphaned postmaster of this test's own data folder (a failure left it behind).
    for (const pid of postmastersOn(dataDir)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await rm(dataDir, { recursive: true, force: true });
  });

  const first = await spawnHub(env);
  procs.push(first);
  const admin = await createAdminClient(loadConfig(env));
  admins.push(admin);
  await admin.run('createOrg', { name: 'acme' });
  await admin.run('createSite', { org: 'acme', name: 'hq', tz: 'UTC' });
  await admin.run('createDoor', { org: 'acme', site: 'hq', code: 'D1' });
  const devices: { id: string; token: string }[] = [];
  for (let i = 0; i < DEVICES; i++) {
    devices.push(await admin.run<{ id: string; token: string }>('createDevice', { org: 'acme', site: 'hq', name: `clock-${i}`, doors: ['D1'] }));
    await admin.run('createPerson', { org: 'acme', externalId: `E-${i}` });
    await admin.run('addCredential', { org: 'acme', person: `E-${i}`, cred: `card-${i}` }); // known, so punches land in events
  }
  t.same(await admin.settle(), [], 'the hub loaded the devices');
  await admin.close();
  admins.length = 0;

  // Each terminal punches continuously, connected or not, until told to stop; acks are recorded.
  const acked = devices.map(() => new Set<number>());
  const bursts: Promise<void>[] = [];
  for (const [i, d] of devices.entries()) {
    const term = new Terminal({ url, token: d.token, boot: BOOT, reconnect: true, backoffMinMs: 20, backoffMaxMs: 200 });
    terms.push(term);
    await term.connect();
    term.on('ack', (ack: { boot: number; seqs: number[] }) => { if (ack.boot === BOOT) for (const s of ack.seqs) acked[i]!.add(s); });
    bursts.push((async () => {
      while (punching) {
        for (let k = 0; k < 20; k++) term.enqueue({ ts: Date.now(), kind: 'punch', cred: `card-${i}`, dir: 'in' });
        await sleep(1);
      }
    })());
  }
  await waitForHang('acks before the kill', () => acked.every((s) => s.size >= 200));

  const firstPostmaster = Number(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  first.child.kill('SIGKILL');
  t.equal(await first.exited, null, 'the hub was killed by a signal');
  await waitForHang('sessions to drop', () => terms.every((x) => !x.connected));
  const ackedBeforeKill = acked.map((s) => new Set(s)); // nothing more can be acked by a dead hub
  t.ok(alive(firstPostmaster), `its PostgreSQL (pid ${firstPostmaster}) survives as an orphan`);
  t.same(postmastersOn(dataDir), [firstPostmaster], 'the orphan is the only postmaster on the data folder');
  await sleep(50); // punches keep queuing while the hub is down
  punching = false;
  await Promise.all(bursts);
  const sent = terms.map((x) => x.lastSeq);
  const resent = terms.map((x) => x.outbox.size);
  t.ok(ackedBeforeKill.every((s, i) => s.size + resent[i]! === sent[i]), 'each punch was either acked or is still in the outbox');

  // Restart on the same folder and ports while the terminals keep trying to reconnect.
  const restartAt = performance.now();
  const second = await spawnHub(env);
  procs.push(second);
  await waitForHang('readyz 200 after the restart', async () => (await readyz(httpUrl)) === 200);
  t.ok(second.output.some((l) => l.includes('stopping a PostgreSQL left running')), 'the restarted hub stopped the orphan');
  t.ok(!alive(firstPostmaster), 'the orphaned postmaster is gone');
  const secondPostmaster = Number(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  t.ok(secondPostmaster !== firstPostmaster, 'the restarted hub runs its own PostgreSQL');
  t.same(postmastersOn(dataDir), [secondPostmaster], 'exactly one postmaster runs on the data folder');

  await Promise.race([Promise.all(terms.map((x) => x.drained())), sleep(HANG_MS, null, { ref: false }).then(() => { throw new Error(`terminals not drained within ${HANG_MS} ms`); })]);
  const drainMs = Math.round(performance.now() - restartAt);

  const admin2 = await createAdminClient(loadConfig(env));
  admins.push(admin2);
  for (const [i, d] of devices.entries()) {
    const stored = await storedSeqs(admin2, d.id);
    t.equal(stored.rows, sent[i], `device ${i}: ${sent[i]} punch rows stored`);
    t.equal(stored.seqs.size, sent[i], `device ${i}: ${sent[i]} distinct seqs stored`);
    const wrong = Array.from({ length: sent[i]! }, (_, k) => k + 1).filter((s) => stored.seqs.get(s) !== 1);
    t.same(wrong, [], `device ${i}: punches 1..${sent[i]} each stored exactly once`);
    t.same([...ackedBeforeKill[i]!].filter((s) => stored.seqs.get(s) !== 1), [], `device ${i}: all ${ackedBeforeKill[i]!.size} punches acked before the kill are among them`);
  }
  t.same(terms.map((x) => x.stats.quarantined), devices.map(() => ({})), 'no ack quarantined anything');
  t.same(await admin2.run('query', { text: 'SELECT count(*)::int AS n FROM quarantine', params: [] }), [{ n: 0 }], 'the quarantine table is empty');
  t.comment(JSON.stringify({ sent, ackedBeforeKill: ackedBeforeKill.map((s) => s.size), resent, drainMsFromRestart: drainMs, orphan: firstPostmaster, replacement: secondPostmaster }));

  await Promise.all(terms.map((x) => x.close()));
  await admin2.close();
  admins.length = 0;
  second.child.kill('SIGTERM');
  t.equal(await Promise.race([second.exited, sleep(HANG_MS, 'hung' as const, { ref: false })]), 0, 'the restarted hub exits 0 on SIGTERM');
  t.same(postmastersOn(dataDir), [], 'no PostgreSQL is left running on the data folder');
});
