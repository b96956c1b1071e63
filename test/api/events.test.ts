// The operator API's read side on a real hub: events sent by terminals come back through
// /v1/events with every filter, in keyset pages that stay exact while events keep arriving;
// quarantined punches are resolved exactly once; the audit log is for admins only.
import t, { type Test as Tap } from 'tap';
import { client, createKey } from '../helpers/api.js';
import { provisionSite, settle, startTestHub, type Provisioned, type TestHub } from '../helpers/hub.js';

const EVENT_FIELDS = ['boot', 'code', 'data', 'detail', 'device_id', 'dir', 'door_id', 'granted', 'id', 'kind', 'person_id',
  'reason', 'received_at', 'rule', 'seq', 'site_id', 'source', 'state', 'ts'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds: hub decisions reach the store through the batcher, not at once. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every page of a list, following `next`; `between` runs after each page. */
async function walk(api: ReturnType<typeof client>, path: string, between?: (n: number) => Promise<void>) {
  const pages: any[][] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r: any = await api.get(`${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    pages.push(r.body.items);
    cursor = r.body.next;
    if (between) await between(pages.length);
  } while (cursor);
  return pages;
}

let th: TestHub;
t.before(async () => { th = await startTestHub(t); });

t.test('events: every filter, newest first, org-scoped, no credential hashes', async (t) => {
  const a = await provisionSite(th);
  const b = await provisionSite(th);
  const { admin } = th;
  const s2 = await admin.run<{ id: string }>('createSite', { org: a.org, name: 'site2', tz: 'UTC' });
  const e1 = await admin.run<{ id: string }>('createDoor', { org: a.org, site: 'site2', code: 'E1' });
  const r2 = await admin.run<{ id: string; token: string }>('createDevice', { org: a.org, site: 'site2', name: 'r2', doors: ['E1'] });
  const p1 = await admin.run<{ id: string }>('createPerson', { org: a.org, externalId: 'P1' });
  const p2 = await admin.run<{ id: string }>('createPerson', { org: a.org, externalId: 'P2' });
  const pb = await admin.run<{ id: string }>('createPerson', { org: b.org, externalId: 'PB' });
  await admin.run('addCredential', { org: a.org, person: 'P1', cred: 'card-1' });
  await admin.run('addCredential', { org: a.org, person: 'P2', cred: 'card-2' });
  await admin.run('addCredential', { org: b.org, person: 'PB', cred: 'card-1' }); // the same card number, another org
  await admin.run('createGroup', { org: a.org, name: 'staff' });
  await admin.run('addGroupMember', { org: a.org, group: 'staff', person: 'P1' });
  await admin.run('addGroupDoor', { org: a.org, group: 'staff', site: 'site', door: 'D1' });
  await settle(th);

  const base = Date.now() - 3_600_000;
  const at = (s: number) => base + s * 1000;
  const t1 = th.terminal(a.token);
  const t2 = th.terminal(r2.token);
  const tb = th.terminal(b.token);
  await Promise.all([t1.connect(), t2.connect(), tb.connect()]);
  const name = new Map([[a.deviceId, 'r1'], [r2.id, 'r2'], [b.deviceId, 'rb']]);
  const seqs: Record<string, string> = {};
  const send = (label: string, term: typeof t1, dev: string, ev: Parameters<typeof t1.enqueue>[0]) => {
    seqs[`${dev}:${term.enqueue(ev)}`] = label;
  };
  send('e1', t1, 'r1', { ts: at(1), kind: 'punch', cred: 'card-1', dir: 'in' });
  send('e2', t1, 'r1', { ts: at(2), kind: 'punch', cred: 'card-2', dir: 'out' });
  send('e3', t1, 'r1', { ts: at(3), kind: 'door', door: 'D1', state: 'opened' });
  send('e4', t1, 'r1', { ts: at(4), kind: 'access', cred: 'card-1', door: 'D1', granted: true, reason: 'granted' });
  send('e5', t1, 'r1', { ts: at(5), kind: 'alarm', code: 'tamper', detail: 'case opened' });
  send('eq', t1, 'r1', { ts: at(6), kind: 'punch', cred: 'nobody', dir: 'in' }); // quarantined: not an event
  send('e7', t2, 'r2', { ts: at(7), kind: 'punch', cred: 'card-1', dir: 'in' });
  send('e8', t2, 'r2', { ts: at(8), kind: 'door', door: 'E1', state: 'closed' });
  send('e9', t2, 'r2', { ts: at(9), kind: 'access', cred: 'card-2', door: 'E1', granted: false, reason: 'no_access_to_door' });
  send('eb1', tb, 'rb', { ts: at(4.5), kind: 'punch', cred: 'card-1', dir: 'in' });
  send('eb2', tb, 'rb', { ts: at(10), kind: 'door', door: 'D1', state: 'opened' });
  await Promise.all([t1.drained(), t2.drained(), tb.drained()]);
  t.same(t1.stats.quarantined, { unknown_credential: 1 });
  // The hub's own decisions are events too (source 'hub'), newer than all of the above.
  t.equal((await t1.auth('card-1', 'D1')).ok, true);
  await sleep(5);
  t.equal((await t2.auth('card-2', 'E1')).ok, false);
  await until('hub decisions stored', async () => (await th.query(`SELECT 1 FROM events WHERE source = 'hub' AND device_id = ANY($1)`, [[a.deviceId, r2.id]])).length === 2);

  const viewer = client(th, await createKey(th, a.org, 'viewer'));
  const label = (e: any) => (e.source === 'hub' ? `hub-${name.get(e.device_id)}` : seqs[`${name.get(e.device_id)}:${e.seq}`] ?? `?${e.seq}`);
  const iso = (s: number) => new Date(at(s)).toISOString();
  const cases: [string, string, string[]][] = [
    ['no filter', '', ['hub-r2', 'hub-r1', 'e9', 'e8', 'e7', 'e5', 'e4', 'e3', 'e2', 'e1']],
    ['site', `site=${a.siteId}`, ['hub-r1', 'e5', 'e4', 'e3', 'e2', 'e1']],
    ['second site', `site=${s2.id}`, ['hub-r2', 'e9', 'e8', 'e7']],
    ['door', `door=${a.doorId}`, ['hub-r1', 'e4', 'e3']],
    ['other door', `door=${e1.id}`, ['hub-r2', 'e9', 'e8']],
    ['device', `device=${r2.id}`, ['hub-r2', 'e9', 'e8', 'e7']],
    ['person', `person=${p1.id}`, ['hub-r1', 'e7', 'e4', 'e1']],
    ['kind punch', 'kind=punch', ['e7', 'e2', 'e1']],
    ['kind access', 'kind=access', ['hub-r2', 'hub-r1', 'e9', 'e4']],
    ['kind door', 'kind=door', ['e8', 'e3']],
    ['kind alarm', 'kind=alarm', ['e5']],
    ['source hub', 'source=hub', ['hub-r2', 'hub-r1']],
    ['source terminal', 'source=terminal', ['e9', 'e8', 'e7', 'e5', 'e4', 'e3', 'e2', 'e1']],
    ['from inclusive, to exclusive', `from=${iso(3)}&to=${iso(5)}`, ['e4', 'e3']],
    ['from with an offset', `from=${encodeURIComponent(new Date(at(8)).toISOString().replace('Z', '+00:00'))}&source=terminal`, ['e9', 'e8']],
    ['person and kind', `person=${p1.id}&kind=punch`, ['e7', 'e1']],
    ['site and from', `site=${a.siteId}&from=${iso(2)}`, ['hub-r1', 'e5', 'e4', 'e3', 'e2']],
    ['person of another org', `person=${pb.id}`, []],
    ['site of another org', `site=${b.siteId}`, []],
    ['door of another org', `door=${b.doorId}`, []],
    ['device of another org', `device=${b.deviceId}`, []],
  ];
  for (const [what, q, want] of cases) {
    const r = await viewer.get(`/v1/events${q ? `?${q}` : ''}`);
    t.equal(r.status, 200, `${what}: status`);
    t.same(r.body.items.map(label), want, what);
    t.equal(r.body.next, null, `${what}: one page`);
  }

  const all = (await viewer.get('/v1/events')).body.items;
  for (const e of all) t.same(Object.keys(e).sort(), EVENT_FIELDS, `${label(e)}: exactly the documented fields`);
  t.notOk(JSON.stringify(all).includes('cred'), 'no credential or its hash in any event');
  const byLabel = new Map(all.map((e: any) => [label(e), e]));
  t.match(byLabel.get('e1'), {
    ts: iso(1), site_id: a.siteId, device_id: a.deviceId, source: 'terminal', boot: 1, kind: 'punch', person_id: p1.id, dir: 'in', door_id: null,
  });
  t.match(byLabel.get('e4'), { kind: 'access', person_id: p1.id, door_id: a.doorId, granted: true, reason: 'granted' });
  t.match(byLabel.get('e5'), { kind: 'alarm', code: 'tamper', detail: 'case opened', person_id: null });
  t.match(byLabel.get('hub-r1'), { source: 'hub', kind: 'access', person_id: p1.id, door_id: a.doorId, granted: true });
  t.match(byLabel.get('hub-r2'), { source: 'hub', granted: false, reason: 'no_access_to_door' });

  const other = client(th, await createKey(th, b.org, 'viewer'));
  t.same((await other.get('/v1/events')).body.items.map(label), ['eb2', 'eb1'], 'the other org sees only its own events');
  t.same((await other.get(`/v1/events?person=${p1.id}`)).body.items, [], 'and none of this org\'s people');

  const bad: [string, string][] = [
    ['kind', 'kind=punchy'], ['source', 'source=cloud'], ['from', 'from=yesterday'], ['to', 'to=2024-13-45T00:00:00Z'],
    ['limit', 'limit=501'], ['limit', 'limit=0'], ['site', 'site=42'], ['cursor', 'cursor=bm9wZQ'], ['colour', 'colour=red'],
  ];
  for (const [field, q] of bad) {
    const r = await viewer.get(`/v1/events?${q}`);
    t.equal(r.status, 400, `${q}: 400`);
    t.equal(r.body.error.code, 'LINTEL_ERR_API_VALIDATION', `${q}: code`);
    t.ok(r.body.error.fields.some((f: { field: string }) => f.field === `query.${field}`), `${q}: names query.${field}`);
  }
  t.equal((await client(th, null).get('/v1/events')).status, 401);
});

t.test('events: pages cover every event exactly once, newest first, while events keep arriving', async (t) => {
  const p = await provisionSite(th);
  const term = th.terminal(p.token);
  await term.connect();
  const base = Date.now() - 600_000;
  // Three events per timestamp: page boundaries fall inside runs of equal ts, which only the
  // (ts, id) cursor gets right.
  for (let i = 0; i < 23; i++) term.enqueue({ ts: base + Math.floor(i / 3) * 1000, kind: 'door', door: 'D1', state: i % 2 ? 'opened' : 'closed' });
  await term.drained();
  const before = await th.query<{ id: number }>('SELECT id FROM events WHERE device_id = $1 ORDER BY ts DESC, id DESC', [p.deviceId]);
  t.equal(before.length, 23);

  const viewer = client(th, await createKey(th, p.org, 'viewer'));
  const arrived: number[] = [];
  const pages = await walk(viewer, '/v1/events?limit=5', async (n) => {
    if (n === 1 || n === 3) {
      // Newer events arrive mid-walk: with offsets they would push seen rows onto later pages.
      for (let i = 0; i < 3; i++) arrived.push(term.enqueue({ ts: Date.now(), kind: 'alarm', code: 'late' }));
    }
    if (n === 2) arrived.push(term.enqueue({ ts: base - 60_000, kind: 'alarm', code: 'backfill' }));
    await term.drained();
  });
  t.ok(pages.length > 2, `${pages.length} pages`);
  t.ok(pages.slice(0, -1).every((pg) => pg.length === 5), 'full pages until the last');
  const ids = pages.flat().map((e) => e.id);
  t.equal(new Set(ids).size, ids.length, 'no event twice');
  t.same(ids.slice(0, 23), before.map((r) => r.id), 'every event present at the start, in (ts, id) descending order');
  const rest = pages.flat().slice(23);
  t.same(rest.map((e) => e.code), ['backfill'], 'an older event stored behind the cursor shows up once, in its place; newer ones do not');
  const total = await th.query('SELECT 1 FROM events WHERE device_id = $1', [p.deviceId]);
  t.equal(total.length, 23 + arrived.length, 'the late events were stored all the same');
  const fresh = await viewer.get('/v1/events?limit=500');
  t.equal(fresh.body.items.length, 30, 'a new walk sees them');
  t.same(fresh.body.items.slice(0, 6).map((e: any) => e.code), Array(6).fill('late'));
});

async function quarantineFixture(t: Tap, p: Provisioned) {
  const term = th.terminal(p.token);
  await term.connect();
  const ts = Date.now() - 120_000;
  // One frame each, so their quarantine rows are ordered.
  const seq = {} as Record<'a' | 'b' | 'c' | 'd' | 'e', number>;
  const send = async (label: keyof typeof seq, ev: Parameters<typeof term.enqueue>[0]) => {
    seq[label] = term.enqueue(ev);
    await term.drained();
  };
  await send('a', { ts, kind: 'punch', cred: 'stranger-card', dir: 'in', data: { photo: 'none' } });
  await send('b', { ts: ts + 1000, kind: 'punch', cred: 'stranger-card', dir: 'out' });
  await send('c', { ts: 1000, kind: 'punch', cred: 'stranger-card', dir: 'in' });
  await send('d', { ts: ts + 2000, kind: 'access', cred: 'x', door: 'NOPE', granted: true, reason: 'granted' });
  await send('e', { ts: ts + 3000, kind: 'punch', person: 'EXT-404', dir: 'in' });
  term.sendFrame({ t: 'ev', boot: 1, events: [{ seq: 0, ts, kind: 'punch', cred: 'stranger-card', dir: 'in' }] });
  await until('the seq-less event in quarantine', async () => (await th.query(`SELECT 1 FROM quarantine WHERE device_id = $1 AND code = 'bad_seq'`, [p.deviceId])).length === 1);
  t.same(term.stats.quarantined, { unknown_credential: 2, implausible_time: 1, unknown_door: 1, unknown_person: 1 });
  return { term, ts, seq };
}

t.test('quarantine: list, read, assign, discard, exactly once, roles, org scoping, audit', async (t) => {
  const p = await provisionSite(th);
  const o = await provisionSite(th);
  const person = await th.admin.run<{ id: string }>('createPerson', { org: p.org, externalId: 'W1' });
  const foreign = await th.admin.run<{ id: string }>('createPerson', { org: o.org, externalId: 'W1' });
  const { term, ts, seq } = await quarantineFixture(t, p);
  const viewer = client(th, await createKey(th, p.org, 'viewer'));
  const operator = client(th, await createKey(th, p.org, 'operator'));
  const admin = client(th, await createKey(th, p.org, 'admin'));
  const outsider = client(th, await createKey(th, o.org, 'admin'));

  const list = await viewer.get('/v1/quarantine');
  t.equal(list.status, 200);
  const codes = list.body.items.map((q: any) => q.code);
  t.same(codes, ['bad_seq', 'unknown_person', 'unknown_door', 'implausible_time', 'unknown_credential', 'unknown_credential'], 'newest first');
  const [qBad, qE, qD, qC, qB, qA] = list.body.items;
  t.match(qA, { seq: seq.a, boot: 1, device_id: p.deviceId, site_id: p.siteId, source: 'terminal', resolved_at: null, resolution: null, event_id: null });
  t.same(qA.raw, { seq: seq.a, ts, kind: 'punch', dir: 'in', data: { photo: 'none' } }, 'the raw event, without the card');
  t.match(qA.cred_ref, /^[0-9a-f]{16}$/);
  t.equal(qB.cred_ref, qA.cred_ref, 'the same card has the same reference');
  t.not(qD.cred_ref, qA.cred_ref);
  t.equal(qE.cred_ref, null, 'no card, no reference');
  t.notOk(JSON.stringify(list.body).includes('stranger-card'), 'the card number never leaves the store');
  t.equal(qBad.seq, null);

  const filters: [string, string[]][] = [
    ['code=unknown_credential', [qB.id, qA.id]],
    [`device=${p.deviceId}&code=implausible_time`, [qC.id]],
    [`device=${o.deviceId}`, []],
    ['resolved=true', []],
    ['resolved=false&limit=2', [qBad.id, qE.id]],
  ];
  for (const [q, want] of filters) t.same((await viewer.get(`/v1/quarantine?${q}`)).body.items.map((x: any) => x.id), want, q);
  t.same([...(await walk(viewer, '/v1/quarantine?limit=4')).flat()].map((x) => x.id), list.body.items.map((x: any) => x.id), 'pages cover the list');
  t.same((await viewer.get(`/v1/quarantine/${qA.id}`)).body, qA);
  t.equal((await outsider.get(`/v1/quarantine/${qA.id}`)).status, 404, 'another org cannot read it');
  t.same((await outsider.get('/v1/quarantine')).body.items, [], 'nor list it');

  const resolve = (api: typeof admin, id: string, body: unknown) => api.post(`/v1/quarantine/${id}/resolve`, body);
  t.equal((await resolve(viewer, qA.id, { action: 'discard', reason: 'x' })).status, 403, 'a viewer cannot resolve');
  t.equal((await resolve(outsider, qA.id, { action: 'discard', reason: 'x' })).status, 404, 'another org cannot resolve');
  const invalid: [unknown, string][] = [
    [{ action: 'assign', reason: 'who?' }, 'body.person_id'],
    [{ action: 'discard', person_id: person.id, reason: 'x' }, 'body.person_id'],
    [{ action: 'keep', reason: 'x' }, 'body.action'],
    [{ action: 'discard' }, 'body.reason'],
    [{ action: 'discard', reason: '' }, 'body.reason'],
  ];
  for (const [body, field] of invalid) {
    const r = await resolve(operator, qA.id, body);
    t.equal(r.status, 400, `${JSON.stringify(body)}: 400`);
    t.ok(r.body.error.fields.some((f: { field: string }) => f.field === field), `${JSON.stringify(body)}: names ${field}`);
  }

  const assigned = await resolve(operator, qA.id, { action: 'assign', person_id: person.id, reason: 'forgot badge' });
  t.equal(assigned.status, 200);
  const ev = assigned.body.event;
  t.match(ev, { kind: 'punch', person_id: person.id, ts: new Date(ts).toISOString(), device_id: p.deviceId, source: 'terminal', boot: 1, seq: seq.a, dir: 'in', data: { photo: 'none' } });
  t.equal(ev.received_at, qA.received_at, 'received when the terminal sent it, not when it was assigned');
  t.match(assigned.body.quarantine, { id: qA.id, resolution: 'assign', resolution_reason: 'forgot badge', person_id: person.id, event_id: ev.id });
  t.match(assigned.body.quarantine.resolved_by, /operator-key/);
  t.ok(assigned.body.quarantine.resolved_at);
  t.same((await viewer.get(`/v1/events?person=${person.id}`)).body.items, [ev], 'the punch is now an event of that person');
  t.same(await th.query(`SELECT outcome FROM event_keys WHERE device_id = $1 AND source = 't' AND boot = 1 AND seq = $2`, [p.deviceId, seq.a]), [{ outcome: 's' }], 'the ledger says stored');
  t.same(await th.query(`SELECT encode(e.cred_hash, 'hex') = q.raw->>'cred_hmac' AS same FROM events e JOIN quarantine q ON q.resolved_event_id = e.id WHERE e.id = $1`, [ev.id]), [{ same: true }], 'the event keeps the card\'s hash, like any punch');
  t.match((await viewer.get(`/v1/quarantine/${qA.id}`)).body, { resolution: 'assign', event_id: ev.id });

  const twice = await resolve(operator, qA.id, { action: 'discard', reason: 'again' });
  t.equal(twice.status, 409);
  t.equal(twice.body.error.code, 'LINTEL_ERR_API_CONFLICT');

  // Exactly once: the terminal resends the event; it is a duplicate, not a second punch.
  term.sendFrame({ t: 'ev', boot: 1, events: [{ seq: seq.a, ts, kind: 'punch', cred: 'stranger-card', dir: 'in' }] });
  let ack = await term.next('ack');
  while (!(ack.seqs as number[]).includes(seq.a)) ack = await term.next('ack'); // skip a late ack of the seq-less frame
  t.same(ack.seqs, [seq.a]);
  t.equal((await th.query('SELECT 1 FROM events WHERE device_id = $1 AND seq = $2', [p.deviceId, seq.a])).length, 1);
  t.equal((await th.query('SELECT 1 FROM quarantine WHERE device_id = $1 AND seq = $2', [p.deviceId, seq.a])).length, 1);

  const discarded = await resolve(operator, qB.id, { action: 'discard', reason: 'test card' });
  t.equal(discarded.status, 200);
  t.equal(discarded.body.event, null);
  t.match(discarded.body.quarantine, { resolution: 'discard', resolution_reason: 'test card', person_id: null, event_id: null });
  t.same(await th.query(`SELECT outcome FROM event_keys WHERE device_id = $1 AND seq = $2`, [p.deviceId, seq.b]), [{ outcome: 'q' }], 'a discarded event stays quarantined in the ledger');
  t.equal((await th.query('SELECT 1 FROM events WHERE device_id = $1 AND seq = $2', [p.deviceId, seq.b])).length, 0);
  t.equal((await resolve(operator, qB.id, { action: 'assign', person_id: person.id, reason: 'changed my mind' })).status, 409);

  // What cannot be assigned is refused with the reason, and stays unresolved.
  const refused: [string, any, string, RegExp][] = [
    ['implausible ts', qC, 'raw.ts', /not a valid instant/],
    ['not a punch', qD, 'body.action', /only a punch/],
    ['no seq', qBad, 'body.action', /no seq/],
  ];
  for (const [what, q, field, problem] of refused) {
    const r = await resolve(operator, q.id, { action: 'assign', person_id: person.id, reason: 'try' });
    t.equal(r.status, 400, `${what}: status`);
    t.equal(r.body.error.code, 'LINTEL_ERR_API_VALIDATION', `${what}: code`);
    t.same(r.body.error.fields?.map((f: { field: string }) => f.field), [field], `${what}: names ${field}`);
    t.match(r.body.error.fields?.[0]?.problem, problem, `${what}: says why`);
  }
  const foreignPerson = await resolve(operator, qE.id, { action: 'assign', person_id: foreign.id, reason: 'wrong org' });
  t.equal(foreignPerson.status, 404, "another org's person cannot be assigned");
  t.equal((await viewer.get(`/v1/quarantine/${qE.id}`)).body.resolved_at, null, 'a refused resolution changes nothing');
  t.same(await th.query(`SELECT outcome FROM event_keys WHERE device_id = $1 AND seq = ANY($2) ORDER BY seq`, [p.deviceId, [seq.c, seq.e]]), [{ outcome: 'q' }, { outcome: 'q' }]);
  t.equal((await resolve(operator, qC.id, { action: 'discard', reason: 'clock reset' })).status, 200, 'but it can be discarded');
  const race = await Promise.all([1, 2].map((n) => resolve(operator, qD.id, { action: 'discard', reason: `race ${n}` })));
  t.same(race.map((r) => r.status).sort(), [200, 409], 'two resolutions at once: one wins, the other is told');
  t.same((await viewer.get('/v1/quarantine?resolved=true')).body.items.map((x: any) => x.id), [qD.id, qC.id, qB.id, qA.id]);

  const audit = await admin.get('/v1/audit?entity=quarantine');
  t.equal(audit.status, 200);
  t.same(audit.body.items.map((x: any) => [x.action, x.entity_id]), [['quarantine.discard', qD.id], ['quarantine.discard', qC.id], ['quarantine.discard', qB.id], ['quarantine.assign', qA.id]], 'one row per resolution, none for refusals');
  const assignRow = audit.body.items[3];
  t.match(assignRow.actor, /operator-key/);
  t.match(assignRow.before, { id: qA.id, resolved_at: null });
  t.match(assignRow.after, { resolution: 'assign', event: { id: ev.id, person_id: person.id } });
  t.same(await th.query(`SELECT 1 FROM audit_log WHERE before::text LIKE '%stranger-card%' OR after::text LIKE '%stranger-card%'`), [], 'nor does the audit log hold the card');
});

t.test('audit log: admins only, newest first, filters, exact pages across equal timestamps', async (t) => {
  const p = await provisionSite(th);
  const o = await provisionSite(th);
  const admin = client(th, await createKey(th, p.org, 'admin'));
  const s = await admin.post('/v1/sites', { name: 'north', tz: 'Europe/Oslo' });
  await admin.post('/v1/doors', { site_id: s.body.id, code: 'N1' });
  await admin.patch(`/v1/sites/${s.body.id}`, { name: 'north gate' });
  const orgRow = (await th.query<{ id: string }>('SELECT id FROM organizations WHERE name = $1', [p.org]))[0]!;
  // Rows one microsecond apart and rows at the very same instant: a cursor rounded to the
  // millisecond would skip or repeat them.
  await th.query(
    `INSERT INTO audit_log (at, org_id, actor, action, entity, entity_id)
     SELECT ('2024-05-01 12:00:00.123' || x.us || '+00')::timestamptz, $1, 'fixture', 'fixture.' || x.n, 'fixture', x.n::text
     FROM (VALUES (1, '457'), (2, '456'), (3, '456'), (4, '456'), (5, '455')) AS x(n, us)`,
    [orgRow.id],
  );
  await th.query(
    `INSERT INTO audit_log (at, org_id, actor, action, entity) SELECT t, $1, 'fixture', 'fixture.range', 'range'
     FROM unnest(ARRAY['2024-05-01 12:00:01+00', '2024-05-01 12:00:02+00', '2024-05-01 12:00:03+00']::timestamptz[]) AS t`,
    [orgRow.id],
  );

  const all = await admin.get('/v1/audit');
  t.equal(all.status, 200);
  t.same(all.body.items.slice(0, 3).map((x: any) => x.action), ['site.update', 'door.create', 'site.create'], 'newest first');
  t.match(all.body.items[0], { entity: 'site', entity_id: s.body.id, before: { name: 'north' }, after: { name: 'north gate' } });
  t.match(all.body.items[0].actor, /admin-key/);

  const fixtureIds = (await th.query<{ id: number }>(`SELECT id FROM audit_log WHERE entity = 'fixture' ORDER BY at DESC, id DESC`)).map((r) => r.id);
  const paged = (await walk(admin, '/v1/audit?entity=fixture&limit=1')).flat();
  t.same(paged.map((x) => x.id), fixtureIds, 'one row per page, each exactly once');
  t.same(paged.map((x) => x.entity_id), ['1', '4', '3', '2', '5']);

  const cases: [string, string[]][] = [
    ['entity=site', ['site.update', 'site.create', 'cli.createSite']], // provisionSite went through the CLI's operations
    ['action=door.create', ['door.create']],
    [`entity_id=${s.body.id}`, ['site.update', 'site.create']],
    ['entity=range&from=2024-05-01T12:00:02Z', ['fixture.range', 'fixture.range']],
    ['entity=range&from=2024-05-01T12:00:02Z&to=2024-05-01T12:00:03Z', ['fixture.range']],
    ['entity=range&to=2024-05-01T12:00:01Z', []],
  ];
  for (const [q, want] of cases) t.same((await admin.get(`/v1/audit?${q}`)).body.items.map((x: any) => x.action), want, q);

  for (const role of ['viewer', 'operator'] as const) {
    const r = await client(th, await createKey(th, p.org, role)).get('/v1/audit');
    t.equal(r.status, 403, `${role}: 403`);
    t.equal(r.body.error.code, 'LINTEL_ERR_API_FORBIDDEN');
  }
  const theirs = (await client(th, await createKey(th, o.org, 'admin')).get('/v1/audit?limit=500')).body.items as { entity_id: string | null; action: string; actor: string }[];
  t.ok(theirs.length > 0, 'the other organization has its own rows (its provisioning)');
  t.notOk(theirs.some((x) => x.entity_id === s.body.id || x.action.startsWith('fixture') || x.actor !== 'cli'), "another org's admin sees none of ours");
});
