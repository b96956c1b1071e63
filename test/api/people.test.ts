// The operator API for people, credentials and access groups against a running hub: CRUD and
// pages, roles, sealed organizations, audit rows, decisions that follow on the very next `auth`,
// and a credential identifier that never comes back out.
import t from 'tap';
import type { AccessReason } from '../../protocol/frames.js';
import { client as baseClient, createKey } from '../helpers/api.js';
import { provisionSite, startTestHub, type TestHub } from '../helpers/hub.js';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** ISO day of week and minute of the day, now, in `tz` (Intl, independent of hub/local-time.ts). */
function localNow(tz: string): { dow: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
    .formatToParts(new Date());
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { dow: DAYS.indexOf(get('weekday')) + 1, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}
const hhmm = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

/** A client that keeps every response body's text, to search it for credential identifiers. */
function recordingClient(th: TestHub, key: string, seen: string[]) {
  const c = baseClient(th, key);
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await c.call(method, path, body);
    seen.push(JSON.stringify(r.body ?? null));
    return r;
  };
  return {
    get: (p: string) => call('GET', p),
    post: (p: string, b: unknown = {}) => call('POST', p, b),
    patch: (p: string, b: unknown) => call('PATCH', p, b),
    put: (p: string, b: unknown) => call('PUT', p, b),
    del: (p: string) => call('DELETE', p),
  };
}

const auditRows = (th: TestHub, org: string) => th.query<{ action: string; entity_id: string; actor: string; before: any; after: any }>(
  'SELECT action, entity_id, actor, before, after FROM audit_log WHERE org_id = (SELECT id FROM organizations WHERE name = $1) ORDER BY id', [org],
);

t.test('people, credentials and groups: create, read, update, list; roles; sealed organizations; audit', async (t) => {
  const th = await startTestHub(t);
  const a = await provisionSite(th);
  const b = await provisionSite(th);
  const bodies: string[] = [];
  const admin = recordingClient(th, await createKey(th, a.org, 'admin'), bodies);
  const operator = recordingClient(th, await createKey(th, a.org, 'operator'), bodies);
  const viewer = recordingClient(th, await createKey(th, a.org, 'viewer'), bodies);
  const other = recordingClient(th, await createKey(th, b.org, 'admin'), bodies);
  const CARD = 'CARD-UID-04A1B2C3D4';

  // People.
  const created = await operator.post('/v1/people', { external_id: 'E-1', display_name: 'Ada', valid_from: '2020-01-01T00:00:00Z' });
  t.equal(created.status, 201);
  t.match(created.body, { external_id: 'E-1', display_name: 'Ada', status: 'active', valid_until: null });
  const pid = created.body.id;
  t.equal(new Date(created.body.valid_from).toISOString(), '2020-01-01T00:00:00.000Z');
  t.equal((await viewer.get(`/v1/people/${pid}`)).body.display_name, 'Ada', 'a viewer reads');
  const patched = await operator.patch(`/v1/people/${pid}`, { display_name: 'Ada L.', valid_until: '2099-01-01T00:00:00Z' });
  t.equal(patched.status, 200);
  t.equal(patched.body.display_name, 'Ada L.');
  t.equal(new Date(patched.body.valid_until).getUTCFullYear(), 2099);
  t.equal(new Date(patched.body.valid_from).getUTCFullYear(), 2020, 'a field left out keeps its value');
  t.equal((await operator.patch(`/v1/people/${pid}`, { valid_until: null })).body.valid_until, null, 'null clears');
  t.equal((await operator.post('/v1/people', { external_id: 'E-1' })).status, 409, 'external ids are unique in an organization');
  t.equal((await other.post('/v1/people', { external_id: 'E-1' })).status, 201, '... not across organizations');
  for (let i = 2; i <= 6; i++) t.equal((await operator.post('/v1/people', { external_id: `E-${i}` })).status, 201);

  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await viewer.get(`/v1/people?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(res.status, 200);
    t.ok(res.body.items.length <= 2);
    seen.push(...res.body.items.map((p: { external_id: string }) => p.external_id));
    cursor = res.body.next;
  } while (cursor);
  t.same(seen.sort(), ['E-1', 'E-2', 'E-3', 'E-4', 'E-5', 'E-6'], 'pages walk every person of the organization once');
  t.same((await viewer.get('/v1/people?external_id=E-3')).body.items.map((p: any) => p.external_id), ['E-3']);

  t.equal((await operator.post(`/v1/people/${pid}/suspend`)).body.status, 'suspended');
  t.same((await viewer.get('/v1/people?status=suspended')).body.items.map((p: any) => p.id), [pid]);
  t.equal((await operator.post(`/v1/people/${pid}/reinstate`)).body.status, 'active');
  t.same((await viewer.get('/v1/people?status=suspended')).body.items, []);

  // Credentials.
  const cred = await operator.post(`/v1/people/${pid}/credentials`, { cred: CARD, valid_until: '2098-01-01T00:00:00Z' });
  t.equal(cred.status, 201);
  t.match(cred.body, { person_id: pid, kind: 'card', status: 'active', fingerprint: /^[0-9a-f]{8}$/ });
  t.same(Object.keys(cred.body).sort(), ['created_at', 'fingerprint', 'id', 'kind', 'person_id', 'status', 'valid_from', 'valid_until']);
  const cid = cred.body.id;
  t.equal((await operator.post(`/v1/people/${pid}/credentials`, { cred: CARD })).status, 409, 'a card is registered once');
  await operator.post(`/v1/people/${pid}/credentials`, { cred: 'PIN-QXZ-739', kind: 'pin' });
  const creds = await viewer.get(`/v1/people/${pid}/credentials?limit=1`);
  t.equal(creds.body.items.length, 1);
  t.ok(creds.body.next, 'a second page');
  const rest = await viewer.get(`/v1/people/${pid}/credentials?limit=1&cursor=${creds.body.next}`);
  t.same([...creds.body.items, ...rest.body.items].map((c: any) => c.kind).sort(), ['card', 'pin']);
  t.equal(rest.body.next, null);
  t.equal((await viewer.get(`/v1/credentials/${cid}`)).body.fingerprint, cred.body.fingerprint);
  t.equal((await operator.patch(`/v1/credentials/${cid}`, { valid_until: null })).body.valid_until, null);
  const found = await operator.post('/v1/credentials/lookup', { cred: CARD });
  t.equal(found.status, 200);
  t.equal(found.body.credential.id, cid);
  t.equal(found.body.person.external_id, 'E-1');
  t.equal((await operator.post('/v1/credentials/lookup', { cred: 'no-such-card' })).status, 404);
  t.equal((await operator.post(`/v1/credentials/${cid}/revoke`)).body.status, 'revoked');

  // Groups.
  const g = await admin.post('/v1/groups', { name: 'staff' });
  t.equal(g.status, 201);
  t.same([g.body.member_count, g.body.members, g.body.doors, g.body.windows], [0, [], [], []]);
  const gid = g.body.id;
  t.equal((await admin.patch(`/v1/groups/${gid}`, { name: 'all staff' })).body.name, 'all staff');
  const people = (await viewer.get('/v1/people?limit=10')).body.items.map((p: any) => p.id).filter((id: string) => id !== pid).slice(0, 3);
  t.equal((await admin.put(`/v1/groups/${gid}/members`, { person_ids: people })).body.member_count, 3);
  t.equal((await admin.post(`/v1/groups/${gid}/members`, { person_id: pid })).status, 201);
  t.equal((await admin.post(`/v1/groups/${gid}/members`, { person_id: pid })).status, 200, 'adding a member twice changes nothing');
  t.equal((await admin.del(`/v1/groups/${gid}/members/${people[0]}`)).status, 204);
  t.equal((await admin.del(`/v1/groups/${gid}/members/${people[0]}`)).status, 404, 'no longer a member');
  t.equal((await admin.put(`/v1/groups/${gid}/doors`, { door_ids: [a.doorId] })).body.doors[0].code, 'D1');
  const sched = await admin.put(`/v1/groups/${gid}/schedule`, {
    windows: [{ days: [1, 2, 3, 4, 5], from: '07:30', to: '18:00' }, { days: [6], from: '22:00', to: '24:00' }],
  });
  t.equal(sched.status, 200);
  const detail = await viewer.get(`/v1/groups/${gid}`);
  t.same(detail.body.windows, [{ days: [1, 2, 3, 4, 5], from: '07:30', to: '18:00' }, { days: [6], from: '22:00', to: '24:00' }]);
  t.same(detail.body.members.map((m: any) => m.id).sort(), [pid, people[1], people[2]].sort());
  t.equal(detail.body.member_count, 3);
  t.same(detail.body.doors.map((d: any) => d.id), [a.doorId]);
  const members = await viewer.get(`/v1/groups/${gid}/members?limit=2`);
  const more = await viewer.get(`/v1/groups/${gid}/members?limit=2&cursor=${members.body.next}`);
  t.same([...members.body.items, ...more.body.items].map((m: any) => m.id).sort(), [pid, people[1], people[2]].sort());
  t.same((await viewer.get('/v1/groups')).body.items.map((x: any) => x.name), ['all staff']);
  const doomed = (await admin.post('/v1/groups', { name: 'temp' })).body.id;
  await admin.put(`/v1/groups/${doomed}/members`, { person_ids: [pid] });
  t.equal((await admin.del(`/v1/groups/${doomed}`)).status, 204);
  t.equal((await viewer.get(`/v1/groups/${doomed}`)).status, 404);

  // Roles: a viewer changes nothing; an operator manages people and credentials, not groups.
  const forbidden: [string, () => Promise<{ status: number; body: any }>][] = [
    ['viewer creates a person', () => viewer.post('/v1/people', { external_id: 'V-1' })],
    ['viewer edits a person', () => viewer.patch(`/v1/people/${pid}`, { display_name: 'x' })],
    ['viewer suspends', () => viewer.post(`/v1/people/${pid}/suspend`)],
    ['viewer adds a credential', () => viewer.post(`/v1/people/${pid}/credentials`, { cred: 'v-card' })],
    ['viewer edits a credential', () => viewer.patch(`/v1/credentials/${cid}`, { valid_from: null })],
    ['viewer revokes', () => viewer.post(`/v1/credentials/${cid}/revoke`)],
    ['viewer looks up a card', () => viewer.post('/v1/credentials/lookup', { cred: CARD })],
    ['viewer creates a group', () => viewer.post('/v1/groups', { name: 'v' })],
    ['operator creates a group', () => operator.post('/v1/groups', { name: 'o' })],
    ['operator renames a group', () => operator.patch(`/v1/groups/${gid}`, { name: 'o' })],
    ['operator deletes a group', () => operator.del(`/v1/groups/${gid}`)],
    ['operator replaces members', () => operator.put(`/v1/groups/${gid}/members`, { person_ids: [] })],
    ['operator adds a member', () => operator.post(`/v1/groups/${gid}/members`, { person_id: pid })],
    ['operator removes a member', () => operator.del(`/v1/groups/${gid}/members/${pid}`)],
    ['operator sets doors', () => operator.put(`/v1/groups/${gid}/doors`, { door_ids: [] })],
    ['operator sets the schedule', () => operator.put(`/v1/groups/${gid}/schedule`, { windows: [] })],
  ];
  for (const [what, call] of forbidden) {
    const r = await call();
    t.equal(r.status, 403, what);
    t.equal(r.body?.error?.code, 'LINTEL_ERR_API_FORBIDDEN', `${what}: code`);
  }

  // Another organization's things do not exist for a key, whatever its role.
  const bPerson = (await other.get('/v1/people?external_id=E-1')).body.items[0].id;
  const sealed: [string, () => Promise<{ status: number }>][] = [
    ['read a person', () => other.get(`/v1/people/${pid}`)],
    ['edit a person', () => other.patch(`/v1/people/${pid}`, { display_name: 'x' })],
    ['suspend a person', () => other.post(`/v1/people/${pid}/suspend`)],
    ['list credentials', () => other.get(`/v1/people/${pid}/credentials`)],
    ['add a credential', () => other.post(`/v1/people/${pid}/credentials`, { cred: 'b-card' })],
    ['read a credential', () => other.get(`/v1/credentials/${cid}`)],
    ['edit a credential', () => other.patch(`/v1/credentials/${cid}`, { valid_from: null })],
    ['revoke a credential', () => other.post(`/v1/credentials/${cid}/revoke`)],
    ['look up a card', () => other.post('/v1/credentials/lookup', { cred: CARD })],
    ['read a group', () => other.get(`/v1/groups/${gid}`)],
    ['list members', () => other.get(`/v1/groups/${gid}/members`)],
    ['rename a group', () => other.patch(`/v1/groups/${gid}`, { name: 'x' })],
    ['replace members', () => other.put(`/v1/groups/${gid}/members`, { person_ids: [bPerson] })],
    ['remove a member', () => other.del(`/v1/groups/${gid}/members/${pid}`)],
    ['set doors', () => other.put(`/v1/groups/${gid}/doors`, { door_ids: [b.doorId] })],
    ['set the schedule', () => other.put(`/v1/groups/${gid}/schedule`, { windows: [] })],
    ['delete a group', () => other.del(`/v1/groups/${gid}`)],
    ['its person into our group', () => admin.put(`/v1/groups/${gid}/members`, { person_ids: [pid, bPerson] })],
    ['its person added to our group', () => admin.post(`/v1/groups/${gid}/members`, { person_id: bPerson })],
    ['its door into our group', () => admin.put(`/v1/groups/${gid}/doors`, { door_ids: [a.doorId, b.doorId] })],
  ];
  for (const [what, call] of sealed) t.equal((await call()).status, 404, what);
  t.equal((await viewer.get(`/v1/people/${pid}`)).body.display_name, 'Ada L.', 'nothing changed through the other organization');
  t.equal((await viewer.get(`/v1/groups/${gid}`)).body.member_count, 3, 'the refused replacements changed nothing');
  t.same((await viewer.get(`/v1/groups/${gid}`)).body.doors.map((d: any) => d.id), [a.doorId]);
  t.notOk((await other.get('/v1/people?limit=500')).body.items.some((p: any) => p.id === pid));

  // Validation errors name the fields.
  const invalid: [string, () => Promise<{ status: number; body: any }>, string[]][] = [
    ['no external id', () => operator.post('/v1/people', {}), ['body.external_id']],
    ['unknown field', () => operator.post('/v1/people', { external_id: 'x', colour: 'red' }), ['body.colour']],
    ['bad date', () => operator.post('/v1/people', { external_id: 'x', valid_from: 'tomorrow' }), ['body.valid_from']],
    ['validity backwards', () => operator.post('/v1/people', { external_id: 'x', valid_from: '2030-01-01T00:00:00Z', valid_until: '2029-01-01T00:00:00Z' }), ['body.valid_until']],
    ['patch backwards', () => operator.patch(`/v1/credentials/${cid}`, { valid_from: '2030-01-01T00:00:00Z', valid_until: '2030-01-01T00:00:00Z' }), ['body.valid_until']],
    ['no cred, bad kind', () => operator.post(`/v1/people/${pid}/credentials`, { kind: 'laser' }), ['body.cred', 'body.kind']],
    ['bad status filter', () => viewer.get('/v1/people?status=gone'), ['query.status']],
    ['not a door id', () => admin.put(`/v1/groups/${gid}/doors`, { door_ids: ['D1'] }), ['body.door_ids.0']],
    ['bad window', () => admin.put(`/v1/groups/${gid}/schedule`, { windows: [{ days: [8], from: '25:00', to: '09:00' }] }), ['body.windows.0.days.0', 'body.windows.0.from']],
    ['window across midnight', () => admin.put(`/v1/groups/${gid}/schedule`, { windows: [{ days: [1], from: '08:00', to: '09:00' }, { days: [5], from: '22:00', to: '06:00' }] }), ['body.windows.1.to']],
  ];
  for (const [what, call, fields] of invalid) {
    const r = await call();
    t.equal(r.status, 400, `${what}: status`);
    t.equal(r.body?.error?.code, 'LINTEL_ERR_API_VALIDATION', `${what}: code`);
    t.same([...new Set((r.body?.error?.fields ?? []).map((f: { field: string }) => f.field))].sort(), fields, `${what}: fields`);
  }
  t.equal((await viewer.get(`/v1/groups/${gid}`)).body.windows.length, 2, 'a refused schedule left the old one');

  // Every mutation has its audit row, with who and before/after; none holds the identifier.
  const rows = await auditRows(th, a.org);
  const actions = rows.map((r) => r.action);
  for (const action of ['person.create', 'person.update', 'person.suspend', 'person.reinstate', 'credential.create', 'credential.update', 'credential.revoke',
    'group.create', 'group.update', 'group.members.replace', 'group.members.add', 'group.members.remove', 'group.doors.replace', 'group.schedule.replace', 'group.delete']) {
    t.ok(actions.includes(action), `audited: ${action}`);
  }
  const update = rows.find((r) => r.action === 'person.update' && r.entity_id === pid)!;
  t.match(update, { actor: /^api_key:.* \(operator-key\)$/, before: { display_name: 'Ada' }, after: { display_name: 'Ada L.' } });
  const suspend = rows.find((r) => r.action === 'person.suspend')!;
  t.same([suspend.before.status, suspend.after.status], ['active', 'suspended']);
  const revoke = rows.find((r) => r.action === 'credential.revoke')!;
  t.same([revoke.entity_id, revoke.before.status, revoke.after.status], [cid, 'active', 'revoked']);
  const schedule = rows.find((r) => r.action === 'group.schedule.replace')!;
  t.same([schedule.before.windows, schedule.after.windows.length], [[], 2]);
  const deleted = rows.find((r) => r.action === 'group.delete')!;
  t.same([deleted.entity_id, deleted.before.members, deleted.after], [doomed, [pid], null]);
  t.equal((await auditRows(th, b.org)).filter((r) => r.action.startsWith('group.')).length, 0, 'refused changes are not audited');

  const text = JSON.stringify(rows) + bodies.join('\n');
  t.ok(bodies.length > 50, 'responses were recorded');
  for (const secret of [CARD, 'PIN-QXZ-739', 'no-such-card', 'b-card', 'v-card']) t.notOk(text.includes(secret), `${secret} never comes back out`);
});

t.test('changes through the API decide the very next auth', async (t) => {
  const TZ = 'America/St_Johns'; // a half-hour offset: local minutes are not UTC minutes
  const th = await startTestHub(t);
  const p = await provisionSite(th, { tz: TZ });
  const bodies: string[] = [];
  const api = recordingClient(th, await createKey(th, p.org, 'admin'), bodies);
  const CARD = 'live-card-7F3E';

  const person = (await api.post('/v1/people', { external_id: 'W-1' })).body.id;
  const group = (await api.post('/v1/groups', { name: 'door one' })).body.id;
  t.equal((await api.put(`/v1/groups/${group}/doors`, { door_ids: [p.doorId] })).status, 200);
  t.equal((await api.put(`/v1/groups/${group}/members`, { person_ids: [person] })).status, 200);
  const term = th.terminal(p.token);
  await term.connect();
  const expect = async (cred: string, reason: AccessReason, what: string) => t.equal((await term.auth(cred, p.door)).reason, reason, what);

  await expect(CARD, 'unknown_credential', 'before the card is added');
  const cred = (await api.post(`/v1/people/${person}/credentials`, { cred: CARD })).body;
  await expect(CARD, 'granted', 'right after the card is added');
  await api.patch(`/v1/credentials/${cred.id}`, { valid_from: '2099-01-01T00:00:00Z' });
  await expect(CARD, 'not_yet_valid', 'right after the credential is dated ahead');
  await api.patch(`/v1/credentials/${cred.id}`, { valid_from: null });
  await expect(CARD, 'granted', 'right after the date is cleared');
  await api.post(`/v1/people/${person}/suspend`);
  await expect(CARD, 'person_suspended', 'right after suspend');
  await api.post(`/v1/people/${person}/reinstate`);
  await expect(CARD, 'granted', 'right after reinstate');
  await api.patch(`/v1/people/${person}`, { valid_until: '2001-01-01T00:00:00Z' });
  await expect(CARD, 'expired', 'right after the person\'s validity ended');
  await api.patch(`/v1/people/${person}`, { valid_until: null });
  await expect(CARD, 'granted', 'right after it is cleared');

  // A window on today that leaves out the next hour either way (so a minute passing or even
  // midnight during the test cannot change the outcome), then one around now.
  const now = localNow(TZ);
  const next = (now.dow % 7) + 1;
  const excluding = now.minute < 22 * 60
    ? [{ days: [now.dow], from: hhmm(now.minute + 60), to: '24:00' }]
    : [{ days: [now.dow], from: '00:00', to: hhmm(now.minute - 60) }];
  t.equal((await api.put(`/v1/groups/${group}/schedule`, { windows: excluding })).status, 200);
  await expect(CARD, 'outside_schedule', `right after a window that excludes now (${now.dow} ${hhmm(now.minute)} ${TZ})`);
  const including = [
    { days: [now.dow], from: hhmm(Math.max(0, now.minute - 60)), to: hhmm(Math.min(1440, now.minute + 60)) },
    { days: [next], from: '00:00', to: '01:00' },
  ];
  t.equal((await api.put(`/v1/groups/${group}/schedule`, { windows: including })).status, 200);
  await expect(CARD, 'granted', 'right after a window that includes now');
  await api.put(`/v1/groups/${group}/schedule`, { windows: excluding });
  await expect(CARD, 'outside_schedule', 'excluded again');
  await api.put(`/v1/groups/${group}/schedule`, { windows: [] });
  await expect(CARD, 'granted', 'an empty schedule is no restriction');

  t.equal((await api.del(`/v1/groups/${group}/members/${person}`)).status, 204);
  await expect(CARD, 'no_access_to_door', 'right after leaving the group');
  await api.post(`/v1/groups/${group}/members`, { person_id: person });
  await expect(CARD, 'granted', 'right after joining again');
  await api.put(`/v1/groups/${group}/doors`, { door_ids: [] });
  await expect(CARD, 'no_access_to_door', 'right after the group loses the door');
  await api.put(`/v1/groups/${group}/doors`, { door_ids: [p.doorId] });
  await expect(CARD, 'granted', 'right after it gets it back');

  await api.post(`/v1/credentials/${cred.id}/revoke`);
  await expect(CARD, 'credential_revoked', 'right after revoke');
  await api.post(`/v1/people/${person}/credentials`, { cred: 'live-card-2' });
  await expect('live-card-2', 'granted', 'a second card of the same person');
  await api.del(`/v1/groups/${group}`);
  await expect('live-card-2', 'no_access_to_door', 'right after the group is deleted');

  const audit = JSON.stringify(await auditRows(th, p.org));
  for (const secret of [CARD, 'live-card-2']) t.notOk((audit + bodies.join('\n')).includes(secret), `${secret} is in no response and no audit row`);
});
