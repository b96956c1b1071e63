// LTP/1 conformance, close codes (PROTOCOL section 8): each way a session ends, against a real hub.
import t from 'tap';
import { pack } from 'msgpackr';
import { encodeFrame } from '../../protocol/codec.js';
import { HELLO_TIMEOUT_MS, MAX_FRAME_BYTES, type Encoding } from '../../protocol/frames.js';
import { openRaw } from '../helpers/raw-ws.js';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';

async function addDevice(th: TestHub, org: string, name: string): Promise<{ id: string; token: string }> {
  const d = await th.admin.run<{ id: string; token: string }>('createDevice', { org, site: 'site', name, doors: ['D1'] });
  await settle(th);
  return d;
}

/** The HTTP status a refused connect() rejects with (0 if it connected). */
const refusal = (connecting: Promise<unknown>) => connecting.then(() => 0, (err: { status?: number }) => err.status ?? -1);

/** A ping frame padded with a filler field to exactly `size` encoded bytes. */
function pingOfSize(size: number, encoding: Encoding): Uint8Array | string {
  const base = { t: 'ping', id: 1, time: Date.now() };
  const bytes = (pad: string) => encodeFrame({ ...base, pad }, encoding);
  const length = (x: Uint8Array | string) => (typeof x === 'string' ? Buffer.byteLength(x) : x.length);
  const guess = size - length(bytes(''));
  for (let n = Math.max(0, guess - 8); n <= guess + 8; n++) {
    const out = bytes('x'.repeat(n));
    if (length(out) === size) return out;
  }
  throw new Error(`no ${encoding} ping of exactly ${size} bytes`);
}

const th = await startTestHub(t);
const p = await provisionSite(th);

// Started first and checked last, so the 10 s wait overlaps the other tests.
const silent = await addDevice(th, p.org, 'silent');
const silentSocket = openRaw(th.url, silent.token);
await silentSocket.opened;
const silentOpenedAt = Date.now();
const silentClosed = silentSocket.closed.then((code) => ({ code, afterMs: Date.now() - silentOpenedAt }));

t.test('4000: any frame before hello', async (t) => {
  const device = await addDevice(th, p.org, 'eager');
  const cases: { name: string; data: Uint8Array | string }[] = [
    { name: 'a valid msgpack ping', data: encodeFrame({ t: 'ping', id: 1, time: Date.now() }, 'msgpack') },
    { name: 'a valid JSON auth', data: JSON.stringify({ t: 'auth', id: 1, cred: 'C', door: 'D1' }) },
    { name: 'an ev frame', data: encodeFrame({ t: 'ev', boot: 1, events: [] }, 'msgpack') },
    { name: 'an unknown type', data: pack({ t: 'teleport' }) },
    { name: 'a map with no t', data: '{}' },
    { name: 'undecodable bytes', data: Uint8Array.of(0xc1) },
    { name: 'a hello that does not decode', data: '{"t":"hello","boot":1,"time":' },
    { name: 'a hello with invalid fields', data: JSON.stringify({ t: 'hello', boot: -1, time: Date.now() }) },
  ];
  for (const c of cases) {
    const raw = openRaw(th.url, device.token);
    await raw.opened;
    raw.send(c.data);
    t.equal(await raw.closed, 4000, c.name);
    t.same(raw.received, [], `${c.name}: no welcome, no answer`);
  }
});

t.test('4001: the same device connecting again closes the older socket; the newer works', async (t) => {
  const device = await addDevice(th, p.org, 'twice');
  const older = th.terminal(device.token);
  await older.connect();
  const olderClosed = older.closed();
  const newer = th.terminal(device.token, { encoding: 'json' });
  const welcome = await newer.connect();
  t.equal(await olderClosed, 4001, 'the older socket gets 4001');
  t.equal(welcome.device, device.id);
  newer.enqueue({ ts: Date.now(), kind: 'door', door: 'D1', state: 'opened' });
  await newer.drained();
  t.equal((await newer.ping()).t, 'pong', 'the newer session answers');
  t.ok(newer.connected, 'the newer session stays open');
  await newer.close();
});

t.test('1008: the device token is rotated during the session', async (t) => {
  const device = await addDevice(th, p.org, 'rotated');
  const term = th.terminal(device.token);
  await term.connect();
  const closed = term.closed();
  const rotated = await th.admin.run<{ token: string }>('rotateDeviceToken', { org: p.org, site: 'site', device: 'rotated' });
  await settle(th);
  t.equal(await closed, 1008);
  t.equal(await refusal(th.terminal(device.token).connect()), 401, 'the old token is refused from now on');
  const renewed = th.terminal(rotated.token);
  t.equal((await renewed.connect()).device, device.id, 'the new token connects');
  await renewed.close();
});

t.test('4003: the device is disabled during the session', async (t) => {
  const device = await addDevice(th, p.org, 'disabled');
  const term = th.terminal(device.token);
  await term.connect();
  const closed = term.closed();
  await th.admin.run('setDeviceEnabled', { org: p.org, site: 'site', device: 'disabled', enabled: false });
  await settle(th);
  t.equal(await closed, 4003);
  t.equal(await refusal(th.terminal(device.token).connect()), 403, 'and it cannot reconnect');
});

t.test('1009: a frame over 64 KiB; a frame of exactly 64 KiB is fine', async (t) => {
  const device = await addDevice(th, p.org, 'large');
  for (const encoding of ['msgpack', 'json'] as const) {
    const raw = openRaw(th.url, device.token);
    await raw.hello(encoding);
    raw.send(pingOfSize(MAX_FRAME_BYTES, encoding));
    t.equal((await raw.next('pong')).frame.t, 'pong', `${encoding}: ${MAX_FRAME_BYTES} bytes are answered`);
    raw.send(pingOfSize(MAX_FRAME_BYTES + 1, encoding));
    t.equal(await raw.closed, 1009, `${encoding}: ${MAX_FRAME_BYTES + 1} bytes close with 1009`);
  }
  const raw = openRaw(th.url, device.token);
  await raw.hello('msgpack');
  raw.send(pingOfSize(200 * 1024, 'msgpack'));
  t.equal(await raw.closed, 1009, 'a 200 KiB frame closes with 1009 too');
  // protocol/README.md: past 256 KiB uWS drops the connection before the hub sees the frame.
  const huge = openRaw(th.url, device.token);
  await huge.hello('msgpack');
  huge.send(pingOfSize(300 * 1024, 'msgpack'));
  t.equal(await huge.closed, 1006, 'a 300 KiB frame loses the connection without a close frame');
  const after = openRaw(th.url, device.token);
  t.equal((await after.hello('json')).frame.device, device.id, 'and the device reconnects');
});

t.test('4000: the tenth bad frame within a minute', async (t) => {
  const device = await addDevice(th, p.org, 'noisy');
  const raw = openRaw(th.url, device.token);
  await raw.hello('json');
  for (let i = 1; i <= 9; i++) {
    raw.send(`{"t":"teleport","n":${i}}`);
    await raw.next('error');
  }
  raw.sendFrame({ t: 'ping', id: 9, time: Date.now() }, 'json');
  t.equal((await raw.next('pong')).frame.id, 9, 'after nine bad frames the session still works');
  raw.send('{"t":"teleport","n":10}');
  t.equal(await raw.closed, 4000, 'the tenth closes it');
  t.equal(raw.received.filter((r) => r.frame.t === 'error').length, 10, 'each bad frame, the tenth too, got its error first');
});

t.test('1000: a normal close by the terminal is accepted', async (t) => {
  const device = await addDevice(th, p.org, 'polite');
  const closes = async () => (await th.hub.metrics.closes.get()).values.find((v) => v.labels.code === '1000')?.value ?? 0;
  const before = await closes();
  const term = th.terminal(device.token, { boot: 3 });
  await term.connect();
  term.enqueue({ ts: Date.now(), kind: 'door', door: 'D1', state: 'closed' });
  await term.drained();
  await term.close(1000);
  t.equal(term.stats.closes.at(-1), 1000, 'the hub answers the close with 1000');
  t.equal(await closes(), before + 1, 'the hub recorded a session closed with 1000');
  const again = th.terminal(device.token, { boot: 3 });
  t.equal((await again.connect()).last_seq, 1, 'the device reconnects and finds its events stored');
  await again.close();
});

t.test('4000: no hello within 10 s', async (t) => {
  const { code, afterMs } = await silentClosed;
  t.equal(code, 4000);
  // The hub's timer starts before the client sees the socket open, so allow a little less.
  t.ok(afterMs >= HELLO_TIMEOUT_MS - 1000, `not before the protocol's ${HELLO_TIMEOUT_MS} ms (closed after ${afterMs} ms)`);
  t.same(silentSocket.received, [], 'nothing was sent to it');
});

t.test('1001: the hub shuts down', async (t) => {
  const device = await addDevice(th, p.org, 'last');
  const term = th.terminal(device.token);
  await term.connect();
  const closed = term.closed();
  await th.hub.close();
  t.equal(await closed, 1001);
});
