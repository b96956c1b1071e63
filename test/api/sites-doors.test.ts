import t from 'tap';
import { client, createKey } from '../helpers/api.js';
import { provisionSite, startTestHub } from '../helpers/hub.js';

t.test('sites and doors: create, read, update, list; roles; organizations are sealed', async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const b = await provisionSite(th);
  const admin = client(th, await createKey(th, a.org, 'admin'));
  const viewer = client(th, await createKey(th, a.org, 'viewer'));
  const other = client(th, await createKey(th, b.org, 'admin'));

  const org = await admin.get('/v1/organization');
  t.equal(org.status, 200);
  t.equal(org.body.name, a.org);

  const created = await admin.post('/v1/sites', { name: 'Plant 2', tz: 'Asia/Kolkata' });
  t.equal(created.status, 201);
  t.equal(created.body.tz, 'Asia/Kolkata');
  const siteId = created.body.id;
  t.equal((await admin.get(`/v1/sites/${siteId}`)).body.name, 'Plant 2');
  t.equal((await admin.patch(`/v1/sites/${siteId}`, { name: 'Plant II' })).body.name, 'Plant II');

  const door = await admin.post('/v1/doors', { site_id: siteId, code: 'G1', name: 'Gate' });
  t.equal(door.status, 201);
  t.equal(door.body.open_ms, 5000);
  t.equal((await admin.patch(`/v1/doors/${door.body.id}`, { open_ms: 3000 })).body.open_ms, 3000);

  // Pagination walks every door exactly once.
  for (let i = 0; i < 5; i++) await admin.post('/v1/doors', { site_id: siteId, code: `X${i}` });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const pageRes: any = await admin.get(`/v1/doors?site=${siteId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(pageRes.status, 200);
    t.ok(pageRes.body.items.length <= 2);
    seen.push(...pageRes.body.items.map((d: { code: string }) => d.code));
    cursor = pageRes.body.next;
  } while (cursor);
  t.same(seen.sort(), ['G1', 'X0', 'X1', 'X2', 'X3', 'X4']);

  t.equal((await viewer.get(`/v1/doors/${door.body.id}`)).status, 200, 'a viewer reads');
  t.equal((await viewer.get('/v1/organization')).status, 403, 'the organization resource is for admins only');
  const denied = await viewer.post('/v1/sites', { name: 'nope', tz: 'UTC' });
  t.equal(denied.status, 403);
  t.equal(denied.body.error.code, 'LINTEL_ERR_API_FORBIDDEN');

  t.equal((await other.get(`/v1/doors/${door.body.id}`)).status, 404, "another organization's door does not exist for it");
  t.equal((await other.get(`/v1/sites/${siteId}`)).status, 404);
  t.equal((await other.patch(`/v1/doors/${door.body.id}`, { name: 'x' })).status, 404);
  t.notOk((await other.get('/v1/doors')).body.items.some((d: { id: string }) => d.id === door.body.id));
});

t.test('bad requests get the envelope', async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const admin = client(th, await createKey(th, a.org, 'admin'));
  const cases: [string, () => Promise<any>, number, string][] = [
    ['no key', () => client(th, null).get('/v1/sites'), 401, 'LINTEL_ERR_API_UNAUTHENTICATED'],
    ['unknown key', () => client(th, 'lk_nope').get('/v1/sites'), 401, 'LINTEL_ERR_API_UNAUTHENTICATED'],
    ['unknown route', () => admin.get('/v1/nothing'), 404, 'LINTEL_ERR_API_NOT_FOUND'],
    ['unknown id', () => admin.get('/v1/sites/00000000-0000-0000-0000-000000000000'), 404, 'LINTEL_ERR_API_NOT_FOUND'],
    ['id not a uuid', () => admin.get('/v1/sites/abc'), 404, 'LINTEL_ERR_API_NOT_FOUND'],
    ['wrong method', () => admin.del('/v1/sites'), 405, 'LINTEL_ERR_API_METHOD_NOT_ALLOWED'],
    ['bad JSON', () => admin.post('/v1/sites', '{"name":'), 400, 'LINTEL_ERR_API_BAD_JSON'],
    ['unknown field', () => admin.post('/v1/sites', { name: 'x', tz: 'UTC', colour: 'red' }), 400, 'LINTEL_ERR_API_VALIDATION'],
    ['bad zone', () => admin.post('/v1/sites', { name: 'x', tz: 'Mars/Olympus' }), 400, 'LINTEL_ERR_API_VALIDATION'],
    ['wrong type', () => admin.call('POST', '/v1/sites', { name: 'x', tz: 'UTC' }, { 'content-type': 'text/plain' }), 415, 'LINTEL_ERR_API_UNSUPPORTED_MEDIA_TYPE'],
    ['too large', () => admin.post('/v1/sites', { name: 'x'.repeat(70_000), tz: 'UTC' }), 413, 'LINTEL_ERR_API_TOO_LARGE'],
    ['bad limit', () => admin.get('/v1/sites?limit=100000'), 400, 'LINTEL_ERR_API_VALIDATION'],
    ['bad cursor', () => admin.get('/v1/sites?cursor=zzz'), 400, 'LINTEL_ERR_API_VALIDATION'],
    ['duplicate', () => admin.post('/v1/sites', { name: 'site', tz: 'UTC' }), 409, 'LINTEL_ERR_API_CONFLICT'],
  ];
  for (const [what, call, status, code] of cases) {
    const r = await call();
    t.equal(r.status, status, `${what}: status`);
    t.equal(r.body?.error?.code, code, `${what}: code`);
  }
  const v = await admin.post('/v1/sites', { name: 'x', tz: 'UTC', colour: 'red' });
  t.same(v.body.error.fields, [{ field: 'body.colour', problem: 'unknown field' }], 'the offending field is named');
  t.equal((await admin.get('/v1/sites')).status, 200, 'the hub still serves after all that');
});

t.test('the OpenAPI document describes the routes', async (t) => {
  const th = await startTestHub(t);
  const doc = await client(th, null).get('/v1/openapi.json');
  t.equal(doc.status, 200);
  t.equal(doc.body.openapi, '3.1.0');
  t.ok(doc.body.paths['/v1/doors'].get, 'GET /v1/doors');
  t.same(doc.body.paths['/v1/sites'].post.requestBody.content['application/json'].schema.required, ['name', 'tz']);
});
