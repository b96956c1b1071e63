// Slow and dead terminals (robustness, P4): one that stops reading is capped at
// LINTEL_MAX_BACKPRESSURE and closed with 1013; a half-open one is closed by liveness, or replaced
// (4001) when its device comes back first. A healthy terminal keeps working through both, and the
// device gets back in at once.
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../protocol/codec.js';
import type { Encoding } from '../../protocol/frames.js';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';

// Bounds on waiting, far above what each step needs, so that a hang fails instead of stalling.
const WAIT_MS = 30_000;

async function metric(th: TestHub, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Polls `check` until it holds; false after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = WAIT_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** A raw terminal socket past its welcome: counts what arrives, resolves its close code. */
async function rawSession(th: TestHub, token: string, opts: { autoPong?: boolean; encoding?: Encoding } = {}) {
  const encoding = opts.encoding ?? 'msgpack';
  const ws = new WebSocket(th.url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, autoPong: opts.autoPong ?? true });
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => frames.push(decodeFrame(new Uint8Array(data), binary ? 'msgpack' : 'json')));
  ws.on('error', () => {}); // a close follows
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('unexpected-response', () => reject(new Error('refused'))); });
  ws.send(encodeFrame({ t: 'hello', boot: 1, time: Date.now() }, encoding), { binary: encoding === 'msgpack' });
  const welcomed = await eventually(async () => frames.some((f) => f.t === 'welcome'), WAIT_MS);
  if (!welcomed) throw new Error('no welcome');
  return { ws, frames, closed, encoding };
}

const settled = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);

/** A healthy terminal that authorizes and punches in a loop until stopped; every answer counted. */
async function healthyLoop(th: TestHub, token: string) {
  const term = th.terminal(token, { encoding: 'json' });
  await term.connect();
  const errors: unknown[] = [];
  term.on('frame', (f: Record<string, unknown>) => { if (f.t === 'error' || f.t === 'busy') errors.push(f); });
  const r = { auths: 0, granted: 0, punches: 0, pongs: 0, stuck: 0 };
  let stop = false;
  const work = (async () => {
    while (!stop || r.punches < 3) {
      const res = await term.auth('CARD-H', 'D1');
      r.auths++;
      if (res.ok) r.granted++;
      term.enqueue({ ts: Date.now(), kind: 'punch', cred: 'CARD-H', dir: 'in' });
      r.punches++;
      if ((await settled(term.drained(), WAIT_MS)) === 'timeout') { r.stuck++; break; }
      if ((await settled(term.ping(), WAIT_MS)) !== 'timeout') r.pongs++;
    }
  })();
  return {
    async finish(t: Test, deviceId: string) {
      stop = true;
      await work;
      t.equal(r.stuck, 0, 'healthy: every punch acked');
      t.same(errors, [], 'healthy: no error or busy frame');
      t.same(term.stats.closes, [], 'healthy: never closed');
      t.equal(r.granted, r.auths, `healthy: all ${r.auths} auths answered, granted`);
      t.equal(r.pongs, r.punches, 'healthy: every ping answered');
      const rows = await th.query<{ n: number; seqs: number }>(
        "SELECT count(*)::int AS n, count(DISTINCT seq)::int AS seqs FROM events WHERE device_id = $1 AND source = 'terminal'", [deviceId]);
      t.same(rows[0], { n: r.punches, seqs: r.punches }, `healthy: each of its ${r.punches} punches stored once`);
      await term.close();
    },
  };
}

async function setup(th: TestHub, names: string[]) {
  const p = await provisionSite(th);
  await th.admin.run('createPerson', { org: p.org, externalId: 'H-1' });
  await th.admin.run('addCredential', { org: p.org, person: 'H-1', cred: 'CARD-H' });
  await th.admin.run('createGroup', { org: p.org, name: 'staff' });
  await th.admin.run('addGroupMember', { org: p.org, group: 'staff', person: 'H-1' });
  await th.admin.run('addGroupDoor', { org: p.org, group: 'staff', site: 'site', door: 'D1' });
  const devices: Record<string, { id: string; token: string }> = {};
  for (const name of names) devices[name] = await th.admin.run('createDevice', { org: p.org, site: 'site', name, doors: ['D1'] });
  await settle(th);
  return devices;
}

t.test('a terminal that stops reading is capped and closed with 1013; its device reconnects at once', async (t) => {
  const MAX_BACKPRESSURE = 65_536;
  const th = await startTestHub(t, { LINTEL_MAX_BACKPRESSURE: String(MAX_BACKPRESSURE) });
  const d = await setup(th, ['slow', 'healthy']);
  const healthy = await healthyLoop(th, d.healthy!.token);

  const slow = await rawSession(th, d.slow!.token);
  t.equal(await metric(th, 'lintel_terminals_connected'), 2, 'the healthy and the slow terminal are connected');
  const closesBefore = await metric(th, 'lintel_terminal_closes_total', '{code="1013"}');
  // From here the slow terminal reads nothing: the kernel buffers fill, then the hub's own.
  slow.ws.pause();
  const received = slow.frames.length;

  // Pings keep coming (the hub must keep reading them); each asks for a pong the terminal never
  // takes. Sent in rounds until the hub gives up on it, with a bound so a hub that buffers
  // without end fails instead of eating memory.
  const MAX_PINGS = 400_000; // about 34 MB of pongs, several times what the kernel buffers hold
  let sent = 0;
  let closedBySlow = false;
  while (sent < MAX_PINGS) {
    for (let i = 0; i < 2000; i++, sent++) {
      slow.ws.send(encodeFrame({ t: 'ping', id: String(sent).padStart(64, 'x'), time: Date.now() }, 'msgpack'), { binary: true });
    }
    await new Promise((r) => setTimeout(r, slow.ws.bufferedAmount > 1 << 20 ? 20 : 1));
    if (sent % 20_000 === 0 && (await metric(th, 'lintel_terminal_closes_total', '{code="1013"}')) > closesBefore) { closedBySlow = true; break; }
  }
  t.ok(closedBySlow, `the hub closed the slow session with 1013 (after ${sent} pings)`);
  t.equal(await metric(th, 'lintel_terminals_connected'), 1, 'its session is gone');

  // The device gets back in at once: the new session works.
  const again = th.terminal(d.slow!.token);
  t.equal((await again.connect()).device, d.slow!.id, 'the device reconnects at once');
  t.equal((await again.ping()).t, 'pong', 'and its new session answers');
  t.equal(await metric(th, 'lintel_terminals_connected'), 2, 'one session for it again');

  // The old socket, read again, gets what was buffered for it and the end of the connection.
  slow.ws.resume();
  const code = await settled(slow.closed, WAIT_MS);
  t.ok(code === 1013 || code === 1006, `the old socket ends (${code}: 1013, or the bare TCP close)`);
  // The first pong the hub could not buffer ended the session: what arrived is the pongs of the
  // first pings, in order and without a gap, and none of the rest.
  const ids = slow.frames.slice(received).filter((f) => f.t === 'pong').map((f) => Number(String(f.id).replace(/^x+/, '')));
  t.ok(ids.length < sent, `${ids.length} of ${sent} pongs arrived`);
  t.ok(ids.every((id, i) => id === i), 'they answer the first pings, in order, with no gap');

  await healthy.finish(t, d.healthy!.id);
  await again.close();
});

t.test('a half-open terminal is closed by liveness, or replaced (4001) when its device comes back first', async (t) => {
  // heartbeat_s 4: a terminal silent for 8 s (twice that) is closed.
  const th = await startTestHub(t, { LINTEL_HEARTBEAT_S: '4' });
  const d = await setup(th, ['dead', 'quiet', 'replaced', 'healthy']);
  const healthy = await healthyLoop(th, d.healthy!.token);

  // Dead: no frames and no pongs. Quiet: no frames either, but its WebSocket answers the hub's
  // pings, which is exactly what liveness looks at.
  const dead = await rawSession(th, d.dead!.token, { autoPong: false });
  const deadAt = Date.now();
  const quiet = await rawSession(th, d.quiet!.token, { encoding: 'json' });
  let quietClosed: number | null = null;
  void quiet.closed.then((c) => { quietClosed = c; });

  // Meanwhile another half-dead terminal's device reconnects: the newer session wins at once.
  const stale = await rawSession(th, d.replaced!.token, { autoPong: false });
  const fresh = th.terminal(d.replaced!.token);
  t.equal((await fresh.connect()).device, d.replaced!.id, 'the device with a half-open session gets in at once');
  t.equal(await settled(stale.closed, WAIT_MS), 4001, 'its old session is closed with 4001');
  t.equal((await fresh.ping()).t, 'pong', 'the new session works');

  const code = await settled(dead.closed, WAIT_MS);
  t.not(code, 'timeout', `liveness closed the dead terminal (${Date.now() - deadAt} ms after its welcome; heartbeat_s 4)`);
  // Left: the healthy, the quiet and the fresh terminal.
  t.ok(await eventually(async () => (await metric(th, 'lintel_terminals_connected')) === 3), 'its session is gone');
  t.equal(quietClosed, null, 'the quiet terminal that answers pings is still connected');
  quiet.ws.send(encodeFrame({ t: 'ping', id: 'quiet', time: Date.now() }, 'json'));
  t.ok(await eventually(async () => quiet.frames.some((f) => f.t === 'pong' && f.id === 'quiet')), 'and answered');

  const back = th.terminal(d.dead!.token);
  t.equal((await back.connect()).device, d.dead!.id, 'the dead terminal\'s device reconnects at once');
  t.equal((await back.ping()).t, 'pong', 'and its new session works');

  await healthy.finish(t, d.healthy!.id);
  quiet.ws.close();
  await Promise.all([back.close(), fresh.close()]);
});
