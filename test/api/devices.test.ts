// /v1/devices and /v1/terminals against a real hub: provisioning, token rotation and disabling
// as the terminals see them (close codes, upgrade refusals), roles, organization scoping.
import { createHash } from 'node:crypto';
import t from 'tap';
import WebSocket from 'ws';
import { client, createKey } from '../helpers/api.js';
import { provisionSite, startTestHub, type TestHub } from '../helpers/hub.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** The HTTP status of a refused upgrade; 0 if the terminal got in. */
const refusal = (p: Promise<unknown>) => p.then(() => 0, (err: { status?: number }) => err.status);

/** A JSON terminal that says the hello we choose (its clock, firmware, model); resolves on welcome. */
function rawTerminal(th: TestHub, token: string, hello: Record<string, unknown>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(th.url, { headers: { authorization: `Bearer ${token}` } });
    ws.on('open', () => ws.send(JSON.stringify({ t: 'hello', ...hello })));
    ws.on('message', (data) => { if (JSON.parse(String(data)).t === 'welcome') resolve(ws); });
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error(`closed ${code}`)));
  });
}

t.test('devices: provision, read, update, list; roles; organizations are sealed', async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const b = await provisionSite(th);
  const admin = client(th, await createKey(th, a.org, 'admin'));
  const viewer = client(th, await createKey(th, a.org, 'viewer'));
  const other = client(th, await createKey(th, b.org, 'admin'));
  const d2 = (await admin.post('/v1/doors', { site_id: a.siteId, code: 'D2' })).body.id as string;

  const created = await admin.post('/v1/devices', { site_id: a.siteId, name: 'gate', door_ids: [a.doorId] });
  t.equal(created.status, 201);
  t.match(created.body, { site_id: a.siteId, name: 'gate', enabled: true, door_ids: [a.doorId] });
  const token = created.body.token as string;
  t.match(token, /^ltd_[A-Za-z0-9_-]{43}$/, 'ltd_ and base64url of 32 bytes');
  const id = created.body.id as string;
  const [stored] = await th.query<{ h: string }>(`SELECT encode(token_hash, 'hex') AS h FROM devices WHERE id = $1`, [id]);
  t.equal(stored?.h, sha256(token), 'only the sha256 of the token is stored');
  const welcome = await th.terminal(token).connect();
  t.equal(welcome.device, id, 'the hub knows the device as soon as the API answered');

  const got = await viewer.get(`/v1/devices/${id}`);
  t.equal(got.status, 200);
  t.equal(got.body.name, 'gate');
  t.notOk('token' in got.body, 'the token is shown once');

  const patched = await admin.patch(`/v1/devices/${id}`, { name: 'gate-2', door_ids: [d2, a.doorId] });
  t.equal(patched.status, 200);
  t.equal(patched.body.name, 'gate-2');
  t.same([...patched.body.door_ids].sort(), [a.doorId, d2].sort());
  t.same((await admin.patch(`/v1/devices/${id}`, { door_ids: [] })).body.door_ids, [], 'a device may drive no door');

  const bad = await admin.patch(`/v1/devices/${id}`, { door_ids: [b.doorId] });
  t.equal(bad.status, 400, "another organization's door");
  t.equal(bad.body.error.fields?.[0]?.field, 'body.door_ids');
  const cases: [string, () => Promise<any>, number, string][] = [
    ['empty patch', () => admin.patch(`/v1/devices/${id}`, {}), 400, 'LINTEL_ERR_API_VALIDATION'],
    ['door id not a uuid', () => admin.post('/v1/devices', { site_id: a.siteId, name: 'x', door_ids: ['D1'] }), 400, 'LINTEL_ERR_API_VALIDATION'],
    ['duplicate name in the site', () => admin.post('/v1/devices', { site_id: a.siteId, name: 'reader' }), 409, 'LINTEL_ERR_API_CONFLICT'],
    ['rename onto a taken name', () => admin.patch(`/v1/devices/${id}`, { name: 'reader' }), 409, 'LINTEL_ERR_API_CONFLICT'],
    ['no such device', () => admin.get('/v1/devices/00000000-0000-0000-0000-000000000000'), 404, 'LINTEL_ERR_API_NOT_FOUND'],
  ];
  for (const [what, call, status, code] of cases) {
    const r = await call();
    t.equal(r.status, status, `${what}: status`);
    t.equal(r.body?.error?.code, code, `${what}: code`);
  }

  for (let i = 0; i < 4; i++) t.equal((await admin.post('/v1/devices', { site_id: a.siteId, name: `x${i}` })).status, 201);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const p: any = await viewer.get(`/v1/devices?site=${a.siteId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(p.status, 200);
    t.ok(p.body.items.length <= 2);
    seen.push(...p.body.items.map((d: { name: string }) => d.name));
    cursor = p.body.next;
  } while (cursor);
  t.same(seen.sort(), ['gate-2', 'reader', 'x0', 'x1', 'x2', 'x3'], 'pagination walks every device once');

  for (const [method, path, body] of [
    ['POST', '/v1/devices', { site_id: a.siteId, name: 'v' }],
    ['PATCH', `/v1/devices/${id}`, { name: 'v' }],
    ['POST', `/v1/devices/${id}/rotate-token`, {}],
    ['POST', `/v1/devices/${id}/disable`, {}],
    ['POST', `/v1/devices/${id}/enable`, {}],
  ] as const) {
    const r = await viewer.call(method, path, body);
    t.equal(r.status, 403, `viewer ${method} ${path}`);
    t.equal(r.body.error.code, 'LINTEL_ERR_API_FORBIDDEN');
    const o = await other.call(method, path, body);
    t.equal(o.status, 404, `other organization ${method} ${path}`);
  }
  t.equal((await other.get(`/v1/devices/${id}`)).status, 404);
  t.notOk((await other.get('/v1/devices')).body.items.some((d: { id: string }) => d.id === id));
  const [row] = await th.query<{ enabled: boolean; h: string }>(`SELECT enabled, encode(token_hash, 'hex') AS h FROM devices WHERE id = $1`, [id]);
  t.same(row, { enabled: true, h: sha256(token) }, 'refused requests changed nothing');

  const audit = await th.query<{ action: string; text: string }>(`SELECT action, concat(before::text, after::text) AS text FROM audit_log WHERE entity_id = $1 ORDER BY id`, [id]);
  t.same(audit.map((r) => r.action), ['device.create', 'device.update', 'device.update']);
  t.notOk(audit.some((r) => r.text.includes('ltd_') || r.text.includes(sha256(token))), 'no token or token hash in the audit log');
});

t.test('rotate-token: the open session is closed with 1008, the old token is refused, the new one works', async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const admin = client(th, await createKey(th, a.org, 'admin'));
  const term = th.terminal(a.token);
  await term.connect();
  const closed = term.closed();
  const r = await admin.post(`/v1/devices/${a.deviceId}/rotate-token`);
  t.equal(r.status, 200);
  t.match(r.body.token, /^ltd_/);
  t.not(r.body.token, a.token);
  t.equal(await closed, 1008);
  t.equal(await refusal(th.terminal(a.token).connect()), 401, 'the old token is unknown');
  t.equal((await th.terminal(r.body.token).connect()).device, a.deviceId, 'the new token works');
  const audit = await th.query<{ text: string }>(`SELECT concat(before::text, after::text) AS text FROM audit_log WHERE action = 'device.rotate_token' AND entity_id = $1`, [a.deviceId]);
  t.equal(audit.length, 1);
  t.notOk(audit[0]!.text.includes('ltd_'));
});

t.test('disable closes the session with 4003 and refuses upgrades with 403; enable lets the device back', async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const admin = client(th, await createKey(th, a.org, 'admin'));
  const term = th.terminal(a.token);
  await term.connect();
  const closed = term.closed();
  const off = await admin.post(`/v1/devices/${a.deviceId}/disable`);
  t.equal(off.status, 200);
  t.equal(off.body.enabled, false);
  t.equal(await closed, 4003);
  t.equal(await refusal(th.terminal(a.token).connect()), 403, 'a disabled device is refused at the upgrade');
  const on = await admin.post(`/v1/devices/${a.deviceId}/enable`);
  t.equal(on.body.enabled, true);
  t.equal((await th.terminal(a.token).connect()).device, a.deviceId);
  const actions = await th.query<{ action: string }>(`SELECT action FROM audit_log WHERE entity_id = $1 AND actor <> 'cli' ORDER BY id`, [a.deviceId]);
  t.same(actions.map((r) => r.action), ['device.disable', 'device.enable']);
});

t.test("/v1/terminals lists this hub's sessions of the key's organization, with firmware, model and clock skew", async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const b = await provisionSite(th);
  const viewer = client(th, await createKey(th, a.org, 'viewer'));
  t.same((await viewer.get('/v1/terminals')).body, { items: [] }, 'nothing connected yet');

  const before = Date.now();
  const ws = await rawTerminal(th, a.token, { boot: 7, time: Date.now() - 60_000, fw: 'acme/2.1', model: 'R20' });
  t.teardown(() => ws.terminate());
  await th.terminal(b.token).connect(); // another organization's terminal stays invisible

  const r = await viewer.get('/v1/terminals');
  t.equal(r.status, 200);
  t.equal(r.body.items.length, 1);
  const s = r.body.items[0];
  t.match(s, { device_id: a.deviceId, device_name: 'reader', site_id: a.siteId, online: true, firmware: 'acme/2.1', model: 'R20', boot: 7, unacked: 0 });
  t.ok(s.clock_skew_ms <= -60_000 && s.clock_skew_ms > -120_000, `the terminal's clock is a minute behind (${s.clock_skew_ms} ms)`);
  t.ok(Date.parse(s.connected_since) >= before - 1000 && Date.parse(s.connected_since) <= Date.parse(s.last_seen));
  t.same((await viewer.get(`/v1/terminals?site=${b.siteId}`)).body.items, [], 'site filter');
  t.equal((await viewer.get(`/v1/terminals?site=${a.siteId}`)).body.items.length, 1);
});
