// Two hub processes on loopback sharing one PostgreSQL (issue P6): door commands cross hubs in
// both directions, an access change made through one hub is decided on by the other at once,
// one session per device holds across hubs, and when a hub dies with kill -9 mid-burst its
// terminals move to the other hub and the store has every event exactly once.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { Terminal } from '../../bench/terminal.js';
import { createAdminClient, type AdminClient } from '../../hub/admin-client.js';
import { loadConfig } from '../../hub/config.js';
import { client } from '../helpers/api.js';
import { freePort, tempDataDir, type TestHub } from '../helpers/hub.js';
import { spawnHub, waitFor, type HubProcess } from '../helpers/hub-process.js';
import { startOwnPostgres } from '../helpers/pg.js';

const HANG_MS = 60_000; // a hang detector, not a speed threshold
const BOOT = 31;

interface HubHandle { name: string; env: Record<string, string>; url: string; httpUrl: string; proc: HubProcess }

/** Answers every cmd the terminal receives with ok, and records it. */
function answering(term: Terminal): Record<string, unknown>[] {
  const got: Record<string, unknown>[] = [];
  term.on('frame', (f: Record<string, unknown>) => {
    if (f.t !== 'cmd') return;
    got.push(f);
    term.sendFrame({ t: 'cmd_res', id: f.id, ok: true });
  });
  return got;
}

async function metric(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
}

t.test('two hubs, one PostgreSQL', async (t) => {
  const pg = await startOwnPostgres();
  const key = randomBytes(32).toString('hex'); // one install: both hubs hash credentials alike
  const dirs: string[] = [];
  const hubs: HubHandle[] = [];
  const terms: Terminal[] = [];
  let admin: AdminClient | undefined;
  t.teardown(async () => {
    await Promise.all(terms.map((x) => x.close().catch(() => {})));
    await admin?.close().catch(() => {});
    for (const h of hubs) if (h.proc.child.exitCode === null && h.proc.child.signalCode === null) { h.proc.child.kill('SIGTERM'); await Promise.race([h.proc.exited, sleep(HANG_MS, null, { ref: false })]); }
    await pg.stop();
    for (const d of [...dirs, pg.dir]) await rm(d, { recursive: true, force: true });
  });

  async function startHubProcess(name: string): Promise<HubHandle> {
    const dataDir = await tempDataDir();
    dirs.push(dataDir);
    const port = await freePort();
    const env = {
      LINTEL_HOST: '127.0.0.1', LINTEL_PORT: String(port), LINTEL_DATA_DIR: dataDir, DATABASE_URL: pg.url, LINTEL_CREDENTIAL_KEY: key,
      LINTEL_LOG_LEVEL: 'info', LINTEL_HUB_ID: `${name}-${process.pid}`, LINTEL_COMMAND_TTL_MS: '5000',
    };
    const h = { name, env, url: `ws://127.0.0.1:${port}/v1/terminal`, httpUrl: `http://127.0.0.1:${port}`, proc: await spawnHub(env) };
    hubs.push(h);
    return h;
  }
  // Both start at once: migrations take turns under their advisory lock.
  const [a, b] = await Promise.all([startHubProcess('hub-a'), startHubProcess('hub-b')]);
  admin = await createAdminClient(loadConfig(a.env));
  const devices: Record<string, { id: string; token: string }> = {};
  await admin.run('createOrg', { name: 'acme' });
  await admin.run('createSite', { org: 'acme', name: 'hq', tz: 'UTC' });
  const doors: Record<string, string> = {};
  for (const code of ['DA', 'DB', 'DX']) doors[code] = (await admin.run<{ id: string }>('createDoor', { org: 'acme', site: 'hq', code })).id;
  for (const [name, door] of [['reader-a', 'DA'], ['reader-b', 'DB'], ['reader-x', 'DX']] as const) {
    devices[name] = await admin.run<{ id: string; token: string }>('createDevice', { org: 'acme', site: 'hq', name, doors: [door] });
  }
  await admin.run('createPerson', { org: 'acme', externalId: 'E-1' });
  const cred = await admin.run<{ id: string }>('addCredential', { org: 'acme', person: 'E-1', cred: 'card-1' });
  await admin.run('createGroup', { org: 'acme', name: 'all' });
  await admin.run('addGroupMember', { org: 'acme', group: 'all', person: 'E-1' });
  for (const door of ['DA', 'DB', 'DX']) await admin.run('addGroupDoor', { org: 'acme', group: 'all', door, site: 'hq' });
  t.same(await admin.settle(), [], 'both hubs loaded the state');
  const apiKey = (await admin.run<{ key: string }>('createApiKey', { org: 'acme', name: 'ops', role: 'admin' })).key;
  t.same(await admin.settle(), [], 'both hubs know the API key');
  const api = (h: HubHandle) => client({ httpUrl: h.httpUrl } as TestHub, apiKey);

  const onA = new Terminal({ url: a.url, token: devices['reader-a']!.token, boot: BOOT, reconnect: false });
  const onB = new Terminal({ url: b.url, token: devices['reader-b']!.token, boot: BOOT, reconnect: false });
  terms.push(onA, onB);
  const cmdsA = answering(onA);
  const cmdsB = answering(onB);
  await onA.connect();
  await onB.connect();

  await t.test('door commands cross hubs in both directions, same 200/409 contract', async (t) => {
    // reader-a holds its claim once the hub heard back from the store; wait for both claims.
    await waitFor('both sessions claimed', async () => (await admin!.run<{ n: number }[]>('query', { text: 'SELECT count(*)::int AS n FROM device_sessions', params: [] }))[0]!.n === 2, HANG_MS);
    const viaA = await api(a).post(`/v1/doors/${doors.DB}/commands`, { action: 'unlock', duration_ms: 2000, reason: 'test' });
    t.equal(viaA.status, 200, 'posted to hub A, for the terminal on hub B: 200');
    t.match(viaA.body, { ok: true, device_id: devices['reader-b']!.id });
    t.equal(cmdsB.length, 1, 'the terminal on hub B received it');
    t.match(cmdsB[0], { t: 'cmd', action: 'unlock', door: 'DB', duration_ms: 2000, id: viaA.body.id });
    const viaB = await api(b).post(`/v1/doors/${doors.DA}/commands`, { action: 'lock', reason: 'test' });
    t.equal(viaB.status, 200, 'posted to hub B, for the terminal on hub A: 200');
    t.match(viaB.body, { ok: true, device_id: devices['reader-a']!.id });
    t.match(cmdsA[0], { t: 'cmd', action: 'lock', door: 'DA', id: viaB.body.id });
    for (const h of [a, b]) {
      const res = await api(h).post(`/v1/doors/${doors.DX}/commands`, { action: 'unlock', reason: 'test' });
      t.equal(res.status, 409, `no hub holds reader-x: 409 from ${h.name}`);
      t.equal(res.body.error.code, 'LINTEL_ERR_COMMAND_NO_TERMINAL');
    }
    const rows = await admin!.run<{ outcome: string; device_id: string }[]>('query', { text: 'SELECT outcome, device_id FROM door_commands WHERE id = ANY($1::uuid[]) ORDER BY requested_at', params: [[viaA.body.id, viaB.body.id]] });
    t.same(rows.map((r) => r.outcome), ['ok', 'ok'], 'both recorded as answered');
  });

  await t.test('a credential revoked through hub A is denied on hub B at the next auth', async (t) => {
    const before = await onB.auth('card-1', 'DB');
    t.match(before, { ok: true, reason: 'granted' }, 'granted on hub B before');
    const revoked = await api(a).post(`/v1/credentials/${cred.id}/revoke`);
    t.equal(revoked.status, 200, 'revoked through hub A');
    const after = await onB.auth('card-1', 'DB');
    t.match(after, { ok: false, reason: 'credential_revoked' }, 'denied on hub B at the very next auth');
    // How long the other hub takes on its own (no API waiting): a change straight in the store.
    const v = await admin!.run<number>('stateVersion');
    await admin!.run('createPerson', { org: 'acme', externalId: 'E-2' });
    const committed = performance.now();
    await waitFor('hub B to apply the change', async () => (await metric(b.httpUrl, 'lintel_access_state_version')) > v, HANG_MS);
    t.comment(`hub B applied a change committed elsewhere within ${Math.round(performance.now() - committed)} ms (polling its /metrics every 20 ms)`);
  });

  await t.test('a hub whose notification connection dropped catches up on the changes it missed', async (t) => {
    const killed = await admin!.run<{ ok: boolean }[]>('query', {
      text: `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'lintel-listen' AND backend_type = 'client backend'`, params: [],
    });
    t.ok(killed.length >= 2 && killed.every((r) => r.ok), `the listen connections of both hubs are cut (${killed.length})`);
    await admin!.run('addCredential', { org: 'acme', person: 'E-1', cred: 'card-3' });
    const v = await admin!.run<number>('stateVersion');
    await waitFor('hub B to catch up', async () => (await metric(b.httpUrl, 'lintel_access_state_version')) >= v, HANG_MS);
    t.match(await onB.auth('card-3', 'DB'), { ok: true, reason: 'granted' }, 'hub B decides with the credential added while it was not listening');
  });

  await t.test('a device reconnecting on hub B closes its session on hub A', async (t) => {
    const closed = new Promise<number>((resolve) => onA.once('close', resolve));
    const moved = new Terminal({ url: b.url, token: devices['reader-a']!.token, boot: BOOT, reconnect: false });
    terms.push(moved);
    await moved.connect();
    t.equal(await Promise.race([closed, sleep(HANG_MS, -1, { ref: false })]), 4001, 'the session on hub A is closed with 4001');
    t.ok(moved.connected, 'the newer session on hub B stays');
    const cmds = answering(moved);
    const res = await api(a).post(`/v1/doors/${doors.DA}/commands`, { action: 'unlock', reason: 'test' });
    t.equal(res.status, 200, 'a command posted to hub A now reaches the device on hub B');
    t.equal(cmds.length, 1);
    await moved.close();
  });

  await t.test('hub A killed with kill -9 mid-burst: its terminals move to hub B, every event stored once', async (t) => {
    const names = ['burst-1', 'burst-2', 'burst-3'];
    const burst: { id: string; token: string }[] = [];
    for (const name of names) burst.push(await admin!.run<{ id: string; token: string }>('createDevice', { org: 'acme', site: 'hq', name, doors: ['DA'] }));
    await admin!.run('addCredential', { org: 'acme', person: 'E-2', cred: 'card-2' });
    t.same(await admin!.settle(), [], 'both hubs know the new devices');
    const acked = burst.map(() => new Set<number>());
    let punching = true;
    const loops: Promise<void>[] = [];
    const bterms = burst.map((d, i) => {
      const term = new Terminal({ url: a.url, fallbackUrls: [b.url], token: d.token, boot: BOOT, reconnect: true, backoffMinMs: 20, backoffMaxMs: 200 });
      terms.push(term);
      term.on('ack', (ack: { seqs: number[] }) => { for (const s of ack.seqs) acked[i]!.add(s); });
      return term;
    });
    for (const term of bterms) await term.connect();
    for (const term of bterms) {
      loops.push((async () => {
        while (punching) {
          for (let k = 0; k < 10; k++) term.enqueue({ ts: Date.now(), kind: 'punch', cred: 'card-2', dir: 'in' });
          await sleep(2);
        }
      })());
    }
    await waitFor('acks from hub A', () => acked.every((s) => s.size >= 300), HANG_MS);
    a.proc.child.kill('SIGKILL');
    t.equal(await a.proc.exited, null, 'hub A killed');
    await waitFor('every terminal on hub B', () => bterms.every((x) => x.connected && x.currentUrl === b.url), HANG_MS);
    await sleep(200); // punches keep flowing, now to hub B
    punching = false;
    await Promise.all(loops);
    await Promise.race([Promise.all(bterms.map((x) => x.drained())), sleep(HANG_MS, null, { ref: false }).then(() => { throw new Error('not drained'); })]);
    for (const [i, d] of burst.entries()) {
      const rows = await admin!.run<{ seq: number; n: number }[]>('query', {
        text: `SELECT seq::int AS seq, count(*)::int AS n FROM events WHERE device_id = $1 AND boot = $2 AND kind = 'punch' GROUP BY seq`, params: [d.id, BOOT],
      });
      const stored = new Map(rows.map((r) => [r.seq, r.n]));
      const sent = bterms[i]!.lastSeq;
      t.equal(stored.size, sent, `${names[i]}: all ${sent} punches stored`);
      t.same([...stored.values()].filter((n) => n !== 1), [], `${names[i]}: each exactly once`);
      t.same([...acked[i]!].filter((s) => stored.get(s) !== 1), [], `${names[i]}: every acked punch among them`);
    }
    const where = await admin!.run<{ hub_id: string }[]>('query', { text: 'SELECT hub_id FROM device_sessions WHERE device_id = ANY($1::uuid[])', params: [burst.map((d) => d.id)] });
    t.same(where.map((w) => w.hub_id), burst.map(() => b.env.LINTEL_HUB_ID), 'device_sessions says hub B holds them now');
  });
});
