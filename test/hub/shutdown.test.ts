// Graceful shutdown, with the hub as a real process: SIGTERM mid-burst refuses new upgrades,
// answers what is in flight, closes sessions with 1001, stops its PostgreSQL and exits 0; the
// terminals then resend what was unacked to the restarted hub and every punch is stored once.
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import WebSocket from 'ws';
import { Terminal } from '../../bench/terminal.js';
import { createAdminClient, type AdminClient } from '../../hub/admin-client.js';
import { loadConfig } from '../../hub/config.js';
import { freePort, tempDataDir } from '../helpers/hub.js';
import { postmastersOn, spawnHub, waitFor, type HubProcess } from '../helpers/hub-process.js';

const DEVICES = 4;
const BOOT = 7;
const HANG_MS = 30_000; // a hang detector, not a speed threshold
const waitForHang = (what: string, check: () => boolean | Promise<boolean>) => waitFor(what, check, HANG_MS);

/** An upgrade for a device with no session: resolves with the HTTP status, or the socket error code. */
function tryUpgrade(url: string, token: string): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function storedSeqs(admin: AdminClient, deviceId: string): Promise<Map<number, number>> {
  const rows = await admin.run<{ seq: number; n: number }[]>('query', {
    text: `SELECT seq::int AS seq, count(*)::int AS n FROM events WHERE device_id = $1 AND boot = $2 AND kind = 'punch' GROUP BY seq`, params: [deviceId, BOOT],
  });
  return new Map(rows.map((r) => [r.seq, r.n]));
}

t.test('SIGTERM mid-burst: acked punches stay, sessions close 1001, the process exits 0', async (t) => {
  const dataDir = await tempDataDir();
  const env = {
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: String(await freePort()), LINTEL_PG_PORT: String(await freePort()), LINTEL_DATA_DIR: dataDir,
    LINTEL_LOG_LEVEL: 'info', LINTEL_HUB_ID: `shutdown-test-${process.pid}`,
  };
  const url = `ws://127.0.0.1:${env.LINTEL_PORT}/v1/terminal`;
  const procs: HubProcess[] = [];
  const terms: Terminal[] = [];
  const admins: AdminClient[] = [];
  t.teardown(async () => {
    await Promise.all(terms.map((x) => x.close().catch(() => {})));
    for (const a of admins) await a.close().catch(() => {});
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGTERM'); await p.exited; }
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
  for (let i = 0; i <= DEVICES; i++) devices.push(await admin.run<{ id: string; token: string }>('createDevice', { org: 'acme', site: 'hq', name: `clock-${i}`, doors: ['D1'] }));
  for (let i = 0; i < DEVICES; i++) {
    await admin.run('createPerson', { org: 'acme', externalId: `E-${i}` });
    await admin.run('addCredential', { org: 'acme', person: `E-${i}`, cred: `card-${i}` }); // known, so punches land in events
  }
  const late = devices.pop()!; // never connects before SIGTERM: its upgrade must be refused
  t.same(await admin.settle(), [], 'the hub loaded the devices');
  await admin.close();
  admins.length = 0;

  // Each terminal punches continuously until its session closes; acks are recorded as they come.
  const acked = devices.map(() => new Set<number>());
  const bursts: Promise<void>[] = [];
  for (const [i, d] of devices.entries()) {
    const term = new Terminal({ url, token: d.token, boot: BOOT, reconnect: false });
    terms.push(term);
    await term.connect();
    term.on('ack', (ack: { boot: number; seqs: number[] }) => { if (ack.boot === BOOT) for (const s of ack.seqs) acked[i]!.add(s); });
    bursts.push((async () => {
      while (term.connected) {
        for (let k = 0; k < 20; k++) term.enqueue({ ts: Date.now(), kind: 'punch', cred: `card-${i}`, dir: 'in' });
        await sleep(1);
      }
    })());
  }
  const closeCodes = terms.map((x) => x.closed());
  await waitForHang('acks before SIGTERM', () => acked.every((s) => s.size >= 200));

  const ackedAtSigterm = acked.map((s) => s.size);
  const sigtermAt = performance.now();
  first.child.kill('SIGTERM');
  await waitForHang('"shutting down" log line', () => first.output.some((l) => l.includes('"shutting down"')));
  const upgrade = await tryUpgrade(url, late.token);
  t.ok(upgrade === 503 || upgrade === 'ECONNREFUSED', `an upgrade after SIGTERM is refused (${upgrade})`);

  const code = await Promise.race([first.exited, sleep(HANG_MS, 'hung' as const, { ref: false })]);
  const shutdownMs = Math.round(performance.now() - sigtermAt);
  t.equal(code, 0, 'the hub exits 0');
  t.same(await Promise.all(closeCodes), devices.map(() => 1001), 'every session was closed with 1001');
  await Promise.all(bursts);
  t.ok(first.output.some((l) => l.includes('"hub stopped"')), 'it logged a complete shutdown');
  t.same(postmastersOn(dataDir), [], 'no process is left using the data folder (its PostgreSQL stopped)');
  const ackedBeforeExit = acked.map((s) => new Set(s)); // the ack listener keeps adding after the restart
  const unacked = terms.map((x) => x.outbox.size);
  const sent = terms.map((x) => x.lastSeq);
  t.ok(ackedBeforeExit.every((s, i) => s.size + unacked[i]! === sent[i]), 'each punch was either acked or is still in the outbox');

  // Restart on the same folder and ports: everything acked is there exactly once.
  const second = await spawnHub(env);
  procs.push(second);
  const admin2 = await createAdminClient(loadConfig(env));
  admins.push(admin2);
  for (const [i, d] of devices.entries()) {
    const stored = await storedSeqs(admin2, d.id);
    const missing = [...ackedBeforeExit[i]!].filter((s) => stored.get(s) !== 1);
    t.same(missing, [], `device ${i}: all ${ackedBeforeExit[i]!.size} acked punches are stored exactly once`);
  }

  // The terminals come back and resend what was unacked; the store ends with every punch once.
  for (const term of terms) await term.connect();
  await Promise.all(terms.map((x) => x.drained()));
  for (const [i, d] of devices.entries()) {
    const stored = await storedSeqs(admin2, d.id);
    const expected = Array.from({ length: sent[i]! }, (_, k) => [k + 1, 1]);
    t.same([...stored].sort((a, b) => a[0] - b[0]), expected, `device ${i}: punches 1..${sent[i]} stored exactly once (${unacked[i]} resent)`);
  }
  t.same(terms.map((x) => x.stats.quarantined), devices.map(() => ({})), 'nothing was quarantined');
  t.comment(JSON.stringify({ shutdownMs, sent, ackedAtSigterm, ackedBeforeExit: ackedBeforeExit.map((s) => s.size), resent: unacked }));

  await Promise.all(terms.map((x) => x.close()));
  await admin2.close();
  admins.length = 0;
  second.child.kill('SIGTERM');
  t.equal(await Promise.race([second.exited, sleep(HANG_MS, 'hung' as const, { ref: false })]), 0, 'the restarted hub exits 0 too');
});
