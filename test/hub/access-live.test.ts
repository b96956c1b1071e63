// Access decisions through a running hub (PROTOCOL section 5): auth -> auth_res from memory, every
// operator change visible on the very next auth, every decision recorded as a hub access event,
// and the decision-time histogram counting each one.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { AccessReason, AuthResFrame } from '../../protocol/frames.js';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';

const TZ = 'Asia/Kolkata';
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** ISO day of week and minute of the day, now, in `tz` (Intl, independent of hub/local-time.ts). */
function localNow(tz: string): { dow: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
    .formatToParts(new Date());
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { dow: DAYS.indexOf(get('weekday')) + 1, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** Polls until `fn` returns `want` rows or more, a bounded number of times (the batch is asynchronous). */
async function pollRows<T>(fn: () => Promise<T[]>, want: number, tries = 200): Promise<T[]> {
  let rows: T[] = [];
  for (let i = 0; i < tries; i++) {
    rows = await fn();
    if (rows.length >= want) return rows;
    await sleep(50);
  }
  return rows;
}

async function metric(th: TestHub, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${th.httpUrl}/metrics`)).text();
  const m = line.exec(text);
  return m ? Number(m[1]) : undefined;
}

t.test('decisions follow every operator change and are recorded', async (t) => {
  const th = await startTestHub(t);
  const p = await provisionSite(th, { tz: TZ });
  const { admin } = th;
  const person = await admin.run<{ id: string }>('createPerson', { org: p.org, externalId: 'E-100' });
  await admin.run('addCredential', { org: p.org, person: 'E-100', cred: 'card-1' });
  await admin.run('createGroup', { org: p.org, name: 'all-hours' });
  await admin.run('addGroupMember', { org: p.org, group: 'all-hours', person: 'E-100' });
  await admin.run('addGroupDoor', { org: p.org, group: 'all-hours', site: p.site, door: p.door });
  await settle(th);

  const term = th.terminal(p.token);
  await term.connect();
  const expected: { device: string; res: AuthResFrame; reason: AccessReason; rule: string; person: string | null; door: string | null }[] = [];
  const auth = async (cred: string, reason: AccessReason, rule: string, what: string) => {
    const res = await term.auth(cred, p.door);
    t.equal(res.reason, reason, what);
    t.equal(res.ok, reason === 'granted', `${what}: ok`);
    if (reason === 'granted') {
      t.equal(res.person, 'E-100', `${what}: person is the external id`);
      t.equal(res.open_ms, 5000, `${what}: open_ms of the door`);
    } else {
      t.equal(res.person, undefined, `${what}: a denial names nobody`);
      t.equal(res.open_ms, undefined, `${what}: a denial opens nothing`);
    }
    expected.push({ device: p.deviceId, res, reason, rule, person: reason === 'unknown_credential' ? null : person.id, door: p.doorId });
  };

  await auth('card-1', 'granted', 'group:all-hours', 'a member at a door of the group');
  await admin.run('revokeCredential', { org: p.org, cred: 'card-1' });
  await settle(th);
  await auth('card-1', 'credential_revoked', 'credential_status', 'right after revoke');
  await admin.run('addCredential', { org: p.org, person: 'E-100', cred: 'card-2' });
  await settle(th);
  await auth('card-2', 'granted', 'group:all-hours', 'right after a credential is added');
  await admin.run('updatePerson', { org: p.org, person: 'E-100', status: 'suspended' });
  await settle(th);
  await auth('card-2', 'person_suspended', 'person_status', 'right after suspend');
  await admin.run('updatePerson', { org: p.org, person: 'E-100', status: 'active' });
  await settle(th);
  await auth('card-2', 'granted', 'group:all-hours', 'right after reinstate');
  await admin.run('setDoorLockdown', { org: p.org, site: p.site, door: p.door, lockedDown: true });
  await settle(th);
  await auth('card-2', 'door_locked_down', 'lockdown', 'right after lockdown');
  await admin.run('setDoorLockdown', { org: p.org, site: p.site, door: p.door, lockedDown: false });
  await settle(th);
  await auth('card-2', 'granted', 'group:all-hours', 'right after release');
  await auth('card-never-issued', 'unknown_credential', 'credential_lookup', 'an unknown credential');

  // Schedules in the site's zone, relative to now: D2's group has a window around the current
  // Kolkata time, D3's group a window the same day that does not contain it (read as UTC, 5:30
  // away, both answers would flip).
  const d2 = await admin.run<{ id: string }>('createDoor', { org: p.org, site: p.site, code: 'D2', openMs: 2500 });
  const d3 = await admin.run<{ id: string }>('createDoor', { org: p.org, site: p.site, code: 'D3' });
  const multi = await admin.run<{ id: string; token: string }>('createDevice', { org: p.org, site: p.site, name: 'multi', doors: ['D2', 'D3'] });
  for (const g of ['in-hours', 'off-hours']) {
    await admin.run('createGroup', { org: p.org, name: g });
    await admin.run('addGroupMember', { org: p.org, group: g, person: 'E-100' });
  }
  await admin.run('addGroupDoor', { org: p.org, group: 'in-hours', site: p.site, door: 'D2' });
  await admin.run('addGroupDoor', { org: p.org, group: 'off-hours', site: p.site, door: 'D3' });
  const now = localNow(TZ);
  const tomorrow = (now.dow % 7) + 1;
  await admin.run('addGroupWindow', { org: p.org, group: 'in-hours', days: [now.dow], startMin: Math.max(0, now.minute - 60), endMin: Math.min(1440, now.minute + 60) });
  if (now.minute + 60 > 1440) await admin.run('addGroupWindow', { org: p.org, group: 'in-hours', days: [tomorrow], startMin: 0, endMin: now.minute + 60 - 1440 });
  if (now.minute >= 120) await admin.run('addGroupWindow', { org: p.org, group: 'off-hours', days: [now.dow], startMin: 0, endMin: now.minute - 60 });
  else await admin.run('addGroupWindow', { org: p.org, group: 'off-hours', days: [now.dow], startMin: now.minute + 60, endMin: 1440 });
  await settle(th);

  const term2 = th.terminal(multi.token);
  t.equal((await term2.connect()).site_tz, TZ);
  const inHours = await term2.auth('card-2', 'D2');
  t.same({ ok: inHours.ok, reason: inHours.reason, person: inHours.person, open_ms: inHours.open_ms },
    { ok: true, reason: 'granted', person: 'E-100', open_ms: 2500 }, `inside a ${TZ} window (local ${JSON.stringify(now)})`);
  expected.push({ device: multi.id, res: inHours, reason: 'granted', rule: 'group:in-hours', person: person.id, door: d2.id });
  const offHours = await term2.auth('card-2', 'D3');
  t.same({ ok: offHours.ok, reason: offHours.reason }, { ok: false, reason: 'outside_schedule' }, `outside every ${TZ} window of the door's groups`);
  expected.push({ device: multi.id, res: offHours, reason: 'outside_schedule', rule: 'schedule', person: person.id, door: d3.id });

  // Every decision is an access event with source hub, the auth id as rid, and its rule.
  const rows = await pollRows(() => th.query<{ device_id: string; rid: number; reason: string; granted: boolean; rule: string | null; kind: string; person_id: string | null; door_id: string | null }>(
    `SELECT device_id, rid, reason, granted, rule, kind, person_id, door_id FROM events
     WHERE source = 'hub' AND device_id = ANY($1::uuid[]) ORDER BY device_id, rid`, [[p.deviceId, multi.id]]), expected.length);
  t.equal(rows.length, expected.length, 'one hub event per decision');
  for (const e of expected) {
    const row = rows.find((r) => r.device_id === e.device && Number(r.rid) === e.res.id);
    t.same(row && { kind: row.kind, reason: row.reason, granted: row.granted, rule: row.rule, person_id: row.person_id, door_id: row.door_id },
      { kind: 'access', reason: e.reason, granted: e.reason === 'granted', rule: e.rule, person_id: e.person, door_id: e.door }, `event for auth ${e.res.id} (${e.reason})`);
  }
  const terminalRows = await th.query(`SELECT 1 FROM events WHERE source = 'terminal' AND device_id = ANY($1::uuid[])`, [[p.deviceId, multi.id]]);
  t.equal(terminalRows.length, 0, 'hub decisions are not attributed to the terminal');

  t.equal(await metric(th, /^lintel_access_decision_seconds_count (\d+)$/m), expected.length, 'decision histogram counts every auth');
  const granted = expected.filter((e) => e.reason === 'granted').length;
  t.equal(await metric(th, /^lintel_access_decisions_total\{reason="granted"\} (\d+)$/m), granted, 'decisions counted by reason');
});

t.test('a burst of changes: each one is decided on by the next auth', async (t) => {
  // Changes land back to back, so some are notified while the hub is still busy with the previous
  // reload: none may be lost. A lost one would leave settle() waiting forever; bound it instead.
  const th = await startTestHub(t);
  const p = await provisionSite(th, { tz: TZ });
  await th.admin.run('createPerson', { org: p.org, externalId: 'E-200' });
  await th.admin.run('addCredential', { org: p.org, person: 'E-200', cred: 'card-200' });
  await th.admin.run('createGroup', { org: p.org, name: 'g' });
  await th.admin.run('addGroupMember', { org: p.org, group: 'g', person: 'E-200' });
  await th.admin.run('addGroupDoor', { org: p.org, group: 'g', site: p.site, door: p.door });
  await settle(th);
  const term = th.terminal(p.token);
  await term.connect();
  const seen: string[] = [];
  const want: string[] = [];
  for (let i = 0; i < 40; i++) {
    const suspend = i % 2 === 0;
    await th.admin.run('updatePerson', { org: p.org, person: 'E-200', status: suspend ? 'suspended' : 'active' });
    const timeout = new AbortController();
    const settled = await Promise.race([settle(th).then(() => true), sleep(10_000, false, { signal: timeout.signal }).catch(() => false)]);
    timeout.abort();
    if (!settled) { seen.push(`change ${i} never applied`); break; }
    seen.push((await term.auth('card-200', p.door)).reason);
    want.push(suspend ? 'person_suspended' : 'granted');
  }
  t.same(seen, want);
});
