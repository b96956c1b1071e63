// LTP/1 conformance, refusals and faults (PROTOCOL sections 1, 2 and 4): upgrades refused as
// plain HTTP, and bad frames answered with error bad_frame in their own encoding, without touching
// another terminal's session.
import t from 'tap';
import { pack } from 'msgpackr';
import WebSocket from 'ws';
import { encodeFrame } from '../../protocol/codec.js';
import { openRaw } from '../helpers/raw-ws.js';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';

type Refusal = { status: number; retryAfter: string | undefined; body: { error?: { code?: string } } };

/** Attempts an upgrade; resolves with the HTTP refusal, or 'open' (the socket is then closed). */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<Refusal | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.on('open', () => { ws.close(1000); resolve('open'); });
    ws.on('error', (err) => reject(err));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => {
        ws.terminate();
        const retry = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retry) ? retry[0] : retry, body: JSON.parse(body || '{}') });
      });
    });
  });
}


async function addDevice(th: TestHub, org: string, name: string): Promise<{ id: string; token: string }> {
  const d = await th.admin.run<{ id: string; token: string }>('createDevice', { org, site: 'site', name, doors: ['D1'] });
  await settle(th);
  return d;
}

const th = await startTestHub(t);
const p = await provisionSite(th);

t.test('upgrade refusals are plain HTTP answers, never a WebSocket', async (t) => {
  const device = await addDevice(th, p.org, 'refusals');
  const cases: { name: string; url?: string; headers?: Record<string, string>; want: number | 'open'; code?: string }[] = [
    { name: 'no token at all', want: 401, code: 'LINTEL_ERR_AUTH_NO_TOKEN' },
    { name: 'an Authorization header that is not Bearer', headers: { authorization: `Basic ${device.token}` }, want: 401, code: 'LINTEL_ERR_AUTH_NO_TOKEN' },
    { name: 'an empty ?token=', url: `${th.url}?token=`, want: 401, code: 'LINTEL_ERR_AUTH_NO_TOKEN' },
    { name: 'an unknown bearer token', headers: { authorization: 'Bearer ltd_nobody' }, want: 401, code: 'LINTEL_ERR_AUTH_BAD_TOKEN' },
    { name: 'a valid token with one character more', headers: { authorization: `Bearer ${device.token}x` }, want: 401, code: 'LINTEL_ERR_AUTH_BAD_TOKEN' },
    { name: 'an unknown ?token=', url: `${th.url}?token=ltd_nobody`, want: 401, code: 'LINTEL_ERR_AUTH_BAD_TOKEN' },
    { name: 'a valid bearer token', headers: { authorization: `Bearer ${device.token}` }, want: 'open' },
    { name: 'the auth scheme in lower case', headers: { authorization: `bearer ${device.token}` }, want: 'open' },
    { name: 'a valid ?token=', url: `${th.url}?token=${encodeURIComponent(device.token)}`, want: 'open' },
  ];
  for (const c of cases) {
    const got = await upgrade(c.url ?? th.url, c.headers);
    if (c.want === 'open') {
      t.equal(got, 'open', c.name);
    } else {
      t.equal(got === 'open' ? 101 : got.status, c.want, `${c.name}: status`);
      t.equal(got === 'open' ? undefined : got.body.error?.code, c.code, `${c.name}: catalogue code`);
    }
  }
});

t.test('a token in ?token= opens a full session', async (t) => {
  const device = await addDevice(th, p.org, 'query-token');
  const term = th.terminal(device.token, { tokenInQuery: true });
  const welcome = await term.connect();
  t.equal(welcome.device, device.id, 'the session belongs to the device of the query token');
  term.enqueue({ ts: Date.now(), kind: 'door', door: 'D1', state: 'closed' });
  await term.drained();
  const rows = await th.query('SELECT count(*)::int AS n FROM events WHERE device_id = $1', [device.id]);
  t.same(rows, [{ n: 1 }]);
  await term.close();
});

t.test('a disabled device is refused with 403 until it is enabled again', async (t) => {
  const device = await addDevice(th, p.org, 'disabled');
  await th.admin.run('setDeviceEnabled', { org: p.org, site: 'site', device: 'disabled', enabled: false });
  await settle(th);
  for (const [name, url, headers] of [
    ['bearer', th.url, { authorization: `Bearer ${device.token}` }],
    ['query', `${th.url}?token=${device.token}`, {}],
  ] as const) {
    const got = await upgrade(url, headers);
    t.equal(got === 'open' ? 101 : got.status, 403, `${name}: status`);
    t.equal(got === 'open' ? undefined : got.body.error?.code, 'LINTEL_ERR_AUTH_DEVICE_DISABLED', `${name}: catalogue code`);
  }
  await th.admin.run('setDeviceEnabled', { org: p.org, site: 'site', device: 'disabled', enabled: true });
  await settle(th);
  t.equal(await upgrade(th.url, { authorization: `Bearer ${device.token}` }), 'open', 'enabled again, it connects');
});

t.test('at LINTEL_MAX_CONNECTIONS the hub answers 503 with Retry-After', async (t) => {
  const small = await startTestHub(t, { LINTEL_MAX_CONNECTIONS: '1' });
  const sp = await provisionSite(small);
  const second = await addDevice(small, sp.org, 'second');
  const first = small.terminal(sp.token);
  await first.connect();

  const refused = await upgrade(small.url, { authorization: `Bearer ${second.token}` });
  t.not(refused, 'open', 'the second device is refused');
  if (refused !== 'open') {
    t.equal(refused.status, 503);
    t.match(refused.retryAfter, /^[1-9][0-9]*$/, 'Retry-After is a positive number of seconds');
    t.equal(refused.body.error?.code, 'LINTEL_ERR_HUB_SATURATED');
  }

  // PROTOCOL section 1: a half-dead old socket must never lock its own terminal out, full hub or not.
  const again = small.terminal(sp.token);
  const firstClosed = first.closed();
  await again.connect();
  t.equal(await firstClosed, 4001, 'the device reconnecting to a full hub replaces its own session');
  t.equal((await again.ping()).t, 'pong', 'and the new session works');

  await again.close();
  const late = small.terminal(second.token);
  t.equal((await late.connect()).device, second.id, 'once a slot is free the second device gets in');
  await late.close();
});

t.test('bad frames get error bad_frame in their own encoding; another terminal is untouched', async (t) => {
  await th.admin.run('createPerson', { org: p.org, externalId: 'E-1' });
  await th.admin.run('addCredential', { org: p.org, person: 'E-1', cred: 'CARD-1' });
  await th.admin.run('createGroup', { org: p.org, name: 'everyone' });
  await th.admin.run('addGroupMember', { org: p.org, group: 'everyone', person: 'E-1' });
  await th.admin.run('addGroupDoor', { org: p.org, group: 'everyone', site: 'site', door: 'D1' });
  const bad = await addDevice(th, p.org, 'bad');
  const good = await addDevice(th, p.org, 'good');
  await settle(th);

  const now = Date.now();
  const door = (seq: number) => ({ seq, ts: now, kind: 'door', door: 'D1', state: 'opened' });
  const many = Array.from({ length: 501 }, (_, i) => door(i + 1));
  const deep = (head: string) => Uint8Array.from([...Buffer.from(head, 'hex'), ...new Uint8Array(60_000).fill(0x91), 0x01]);
  const cases: { name: string; data: Uint8Array | string; err: string }[] = [
    { name: 'msgpack: the never-used byte 0xc1', data: Uint8Array.of(0xc1), err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    // t comes first, so the peek routes them; the string after it is cut short.
    { name: 'msgpack: a ping map broken after t', data: Buffer.from('82a174a470696e67a161a56162', 'hex'), err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'msgpack: an ev map broken after t (decoded in a worker)', data: Buffer.from('82a174a26576a161a56162', 'hex'), err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'msgpack: a top-level array', data: pack([{ t: 'ping' }]), err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'msgpack: a ping nested 60 000 deep', data: deep('82a174a470696e67a161'), err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'msgpack: an ev nested 60 000 deep (decoded in a worker)', data: deep('82a174a26576a161'), err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'JSON: truncated', data: '{"t":', err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'JSON: a ping broken after t', data: '{"t":"ping","id":1,"time":1', err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'JSON: an ev broken after t (decoded in a worker)', data: '{"t":"ev","boot":1,"events":[', err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'JSON: a top-level array', data: '[{"t":"ping"}]', err: 'LINTEL_ERR_FRAME_UNDECODABLE' },
    { name: 'msgpack: a map with no t', data: pack({ id: 1, time: now }), err: 'LINTEL_ERR_FRAME_NO_TYPE' },
    { name: 'JSON: a map with no t', data: '{"id":1}', err: 'LINTEL_ERR_FRAME_NO_TYPE' },
    { name: 'msgpack: t is a number', data: pack({ t: 5 }), err: 'LINTEL_ERR_FRAME_NO_TYPE' },
    { name: 'msgpack: an unknown t', data: pack({ t: 'teleport' }), err: 'LINTEL_ERR_FRAME_UNKNOWN_TYPE' },
    { name: 'JSON: a hub frame type sent by a terminal', data: '{"t":"welcome"}', err: 'LINTEL_ERR_FRAME_UNKNOWN_TYPE' },
    // Names every object inherits: none of them is a frame type.
    { name: 'JSON: t is "constructor"', data: '{"t":"constructor"}', err: 'LINTEL_ERR_FRAME_UNKNOWN_TYPE' },
    { name: 'JSON: t is "hasOwnProperty"', data: '{"t":"hasOwnProperty"}', err: 'LINTEL_ERR_FRAME_UNKNOWN_TYPE' },
    { name: 'msgpack: t is "__proto__"', data: pack({ t: '__proto__' }), err: 'LINTEL_ERR_FRAME_UNKNOWN_TYPE' },
    { name: 'msgpack: auth with a numeric cred', data: pack({ t: 'auth', id: 1, cred: 123, door: 'D1' }), err: 'LINTEL_ERR_FRAME_INVALID' },
    { name: 'JSON: auth with a numeric cred', data: JSON.stringify({ t: 'auth', id: 1, cred: 123, door: 'D1' }), err: 'LINTEL_ERR_FRAME_INVALID' },
    { name: 'JSON: ping without time', data: '{"t":"ping","id":1}', err: 'LINTEL_ERR_FRAME_INVALID' },
    { name: 'JSON: two t keys (the peek sees ping, the decoder auth)', data: '{"t":"ping","id":1,"time":1,"t":"auth"}', err: 'LINTEL_ERR_FRAME_INVALID' },
    { name: 'msgpack: ev with a negative boot', data: pack({ t: 'ev', boot: -1, events: [door(1)] }), err: 'LINTEL_ERR_FRAME_INVALID' },
    { name: 'JSON: ev whose events is not an array', data: JSON.stringify({ t: 'ev', boot: 1, events: 'none' }), err: 'LINTEL_ERR_FRAME_INVALID' },
    { name: 'msgpack: ev with 501 events', data: encodeFrame({ t: 'ev', boot: 501, events: many }, 'msgpack'), err: 'LINTEL_ERR_FRAME_TOO_MANY_EVENTS' },
    { name: 'JSON: ev with 501 events', data: encodeFrame({ t: 'ev', boot: 501, events: many }, 'json'), err: 'LINTEL_ERR_FRAME_TOO_MANY_EVENTS' },
    { name: 'JSON: a second hello', data: JSON.stringify({ t: 'hello', boot: 1, time: now }), err: 'LINTEL_ERR_SESSION_DUPLICATE_HELLO' },
  ];

  // The healthy terminal works throughout: auth, punches and pings, and it never sees an error.
  const healthy = th.terminal(good.token, { encoding: 'json' });
  await healthy.connect();
  const healthyErrors: unknown[] = [];
  healthy.on('frame', (f: Record<string, unknown>) => { if (f.t === 'error') healthyErrors.push(f); });
  let stop = false;
  const healthyWork = (async () => {
    let rounds = 0;
    const grants: boolean[] = [];
    while (!stop || rounds < 3) {
      const res = await healthy.auth('CARD-1', 'D1');
      grants.push(res.ok && res.reason === 'granted');
      healthy.enqueue({ ts: Date.now(), kind: 'punch', cred: 'CARD-1', dir: 'in' });
      await healthy.drained();
      await healthy.ping();
      rounds++;
    }
    return { rounds, grants };
  })();

  // At most 9 bad frames per session: the tenth would close it with 4000 (tested in close codes).
  let raw: ReturnType<typeof openRaw> | undefined;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    if (i % 9 === 0) {
      raw?.terminate();
      raw = openRaw(th.url, bad.token);
      // The session says hello in msgpack: each answer must still follow the bad frame's encoding.
      await raw.hello('msgpack');
    }
    raw!.send(c.data);
    const { binary, frame } = await raw!.next('error');
    t.equal(frame.code, 'bad_frame', `${c.name}: code`);
    t.equal(frame.err, c.err, `${c.name}: catalogue code`);
    t.ok(typeof frame.msg === 'string' && frame.msg.length > 0, `${c.name}: a message`);
    t.equal(binary, typeof c.data !== 'string', `${c.name}: answered in the frame's encoding`);
  }
  // The bad terminal's session still works after all that.
  raw!.sendFrame({ t: 'ping', id: 'still-there', time: Date.now() }, 'json');
  const pong = await raw!.next('pong');
  t.same([pong.binary, pong.frame.id], [false, 'still-there'], 'the bad terminal still gets answers, in JSON for JSON');
  raw!.terminate();

  stop = true;
  const work = await healthyWork;
  t.ok(work.rounds >= 3, 'the healthy terminal kept working');
  t.ok(work.grants.every(Boolean), 'every auth of the healthy terminal was granted');
  t.same(healthyErrors, [], 'the healthy terminal received no error frame');
  t.ok(healthy.connected, 'the healthy terminal is still connected');
  const stored = await th.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE device_id = $1 AND source = $2', [good.id, 'terminal']);
  t.equal(stored[0]?.n, work.rounds, 'each of its punches is stored');
  const rejected = await th.query<{ n: number }>('SELECT count(*)::int AS n FROM event_keys WHERE device_id = $1 AND boot = 501', [bad.id]);
  t.equal(rejected[0]?.n, 0, 'nothing of a rejected frame is stored');
  await healthy.close();
});
