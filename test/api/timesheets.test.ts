// Timesheets through the API: punches from a terminal, the site's policy, corrections that are
// records of their own, CSV for payroll, and the real ZKTeco export.
import t from 'tap';
import { loadConfig } from '../../hub/config.js';
import { runReplay } from '../../bench/replay-zkteco.js';
import { client, createKey } from '../helpers/api.js';
import { provisionSite, startTestHub, settle } from '../helpers/hub.js';

const th = await startTestHub(t);

t.test('shifts from punches, corrections, policy versions, CSV', async (t) => {
  const p = await provisionSite(th, { tz: 'Asia/Shanghai' });
  await th.admin.run('createPerson', { org: p.org, externalId: 'W1' });
  await th.admin.run('addCredential', { org: p.org, person: 'W1', cred: 'W1-CARD' });
  await settle(th);
  const admin = client(th, await createKey(th, p.org, 'admin'));
  const person = (await th.query<{ id: string }>(`SELECT id FROM people WHERE external_id = 'W1' AND org_id = (SELECT id FROM organizations WHERE name = $1)`, [p.org]))[0]!.id;

  const term = th.terminal(p.token);
  await term.connect();
  // Shanghai is UTC+8: 2026-06-01 06:00 local = 2026-05-31T22:00Z; 14:00 local = 06:00Z.
  term.enqueue({ ts: Date.parse('2026-05-31T22:00:00Z'), kind: 'punch', cred: 'W1-CARD', dir: 'in' });
  term.enqueue({ ts: Date.parse('2026-06-01T06:00:00Z'), kind: 'punch', cred: 'W1-CARD', dir: 'out' });
  // 2026-06-02: a check-in at 07:00 local (23:00Z the day before) and no check-out.
  term.enqueue({ ts: Date.parse('2026-06-01T23:00:00Z'), kind: 'punch', cred: 'W1-CARD', dir: 'in' });
  await term.drained();
  const eventsBefore = await th.query('SELECT id, ts, dir, person_id FROM events WHERE person_id = $1 ORDER BY id', [person]);

  const r = await admin.get(`/v1/timesheets?person=${person}&from=2026-06-01&to=2026-06-02`);
  t.equal(r.status, 200);
  const ts = r.body.timesheets[0];
  t.equal(ts.site.tz, 'Asia/Shanghai');
  t.equal(ts.policyVersion, 0, 'the default policy');
  t.equal(ts.shifts.length, 2);
  t.equal(ts.shifts[0].date, '2026-06-01', 'dated by the site-local day, not the UTC day (2026-05-31)');
  t.equal(ts.shifts[0].paidMinutes, 480);
  t.same(ts.shifts[0].flags, []);
  t.equal(ts.shifts[1].date, '2026-06-02');
  t.ok(ts.shifts[1].flags.includes('missing_check_out'), 'the open shift is flagged');
  t.equal(ts.shifts[1].paidMinutes, 0, 'and counts nothing until corrected');

  // The operator adds the missing check-out at 15:30 local (07:30Z).
  const add = await admin.post(`/v1/people/${person}/corrections`, { kind: 'add', site_id: p.siteId, ts: '2026-06-02T07:30:00Z', dir: 'out', reason: 'forgot to punch out, confirmed by supervisor' });
  t.equal(add.status, 201);
  const after = (await admin.get(`/v1/timesheets?person=${person}&from=2026-06-01&to=2026-06-02`)).body.timesheets[0];
  t.equal(after.shifts[1].paidMinutes, 510, '07:00 to 15:30 is 8 h 30 min');
  t.ok(after.shifts[1].flags.includes('manually_corrected'));
  t.notOk(after.shifts[1].flags.includes('missing_check_out'));
  t.match(after.shifts[1].explain.join(' '), /forgot to punch out/, 'the explanation names the reason');

  // Void the first day's check-out: that shift loses its end.
  const firstOut = `e${(eventsBefore[1] as { id: string }).id}`;
  t.equal((await admin.post(`/v1/people/${person}/corrections`, { kind: 'void', site_id: p.siteId, punch_id: firstOut, reason: 'scanned by mistake' })).status, 201);
  const voided = (await admin.get(`/v1/timesheets?person=${person}&from=2026-06-01&to=2026-06-01`)).body.timesheets[0];
  t.equal(voided.shifts[0].paidMinutes, 0);
  t.ok(voided.shifts[0].flags.includes('manually_corrected'));
  t.same(voided.excluded.map((e: { id: string; reason: string }) => [e.id, e.reason]), [[firstOut, 'voided']]);
  t.equal((await admin.post(`/v1/people/${person}/corrections`, { kind: 'void', site_id: p.siteId, punch_id: 'e999999999', reason: 'x' })).status, 404, 'a punch that is not this person\'s');

  t.same(await th.query('SELECT id, ts, dir, person_id FROM events WHERE person_id = $1 ORDER BY id', [person]), eventsBefore, 'raw events untouched');
  const audit = await th.query<{ action: string }>(`SELECT action FROM audit_log WHERE entity = 'person' AND entity_id = $1 AND action LIKE 'correction.%' ORDER BY id`, [person]);
  t.same(audit.map((a) => a.action), ['correction.add', 'correction.void'], 'both corrections are in the audit log');
  t.equal((await admin.get(`/v1/people/${person}/corrections`)).body.items.length, 2);

  // A new policy version: rounding in_up_out_down to 15 min changes nothing on whole hours but is stated.
  const put = await admin.put(`/v1/sites/${p.siteId}/timesheet-policy`, {
    maxShiftMinutes: 720, doubleScanSeconds: 60, rounding: { mode: 'in_up_out_down', minutes: 15 }, breaks: 'unpaid',
    dailyOvertimeMinutes: 480, weeklyOvertimeMinutes: null, weekStartsOn: 1,
  });
  t.equal(put.status, 200);
  t.equal(put.body.version, 1);
  const v1 = (await admin.get(`/v1/timesheets?person=${person}&from=2026-06-02&to=2026-06-02`)).body.timesheets[0];
  t.equal(v1.policyVersion, 1, 'the timesheet states the policy version that produced it');
  t.equal(v1.shifts[0].overtimeMinutes, 30, '8 h 30 min against a daily threshold of 8 h');

  const csv = await admin.call('GET', `/v1/timesheets?person=${person}&from=2026-06-02&to=2026-06-02&format=csv`);
  t.equal(csv.status, 200);
  t.match(csv.headers.get('content-type'), /^text\/csv/);
  const lines = String(csv.body).trim().split('\r\n');
  t.equal(lines[0], 'person,site,time_zone,date,start,end,worked_minutes,break_minutes,paid_minutes,overtime_minutes,flags,policy_version,shift_id');
  t.match(lines[1], /^W1,site,Asia\/Shanghai,2026-06-02,2026-06-02T07:00:00\+08:00,2026-06-02T15:30:00\+08:00,510,0,510,30,manually_corrected,1,/);

  const summary = await admin.get(`/v1/sites/${p.siteId}/timesheet-summary?from=2026-06-01&to=2026-06-02`);
  t.equal(summary.status, 200);
  t.equal(summary.body.totals.people, 1);

  const viewer = client(th, await createKey(th, p.org, 'viewer'));
  t.equal((await viewer.post(`/v1/people/${person}/corrections`, { kind: 'add', site_id: p.siteId, ts: '2026-06-02T07:30:00Z', dir: 'out', reason: 'x' })).status, 403);
  const other = await provisionSite(th);
  const stranger = client(th, await createKey(th, other.org, 'admin'));
  t.equal((await stranger.get(`/v1/timesheets?person=${person}&from=2026-06-01&to=2026-06-02`)).status, 404, 'another organization cannot see the person');
  t.equal((await admin.get(`/v1/timesheets?person=${person}&from=2026-06-02&to=2026-06-01`)).status, 400, 'to before from');
});

t.test('the real ZKTeco export: every person over the whole period', async (t) => {
  const file = new URL('../../../shared/data/real/zkteco-attlog-caoka/1_attlog.dat', import.meta.url).pathname;
  await runReplay({ file, tz: 'Asia/Shanghai', hubUrl: th.url, org: 'caoka', config: loadConfig(th.env), log: () => {} });
  const admin = client(th, await createKey(th, 'caoka', 'admin'));
  const site = (await admin.get('/v1/sites')).body.items[0];
  const people = await th.query<{ id: string; external_id: string }>(`SELECT id, external_id FROM people WHERE org_id = (SELECT id FROM organizations WHERE name = 'caoka') ORDER BY external_id`);
  const flags: Record<string, number> = {};
  const lengths: Record<string, number> = {};
  let shifts = 0;
  let flagged = 0;
  let bad = 0;
  for (const person of people) {
    const r = await admin.get(`/v1/timesheets?person=${person.id}&from=2020-09-28&to=2021-10-16`);
    t.equal(r.status, 200, `person ${person.external_id}`);
    if (r.status !== 200) { t.comment(JSON.stringify(r.body)); break; }
    for (const ts of r.body.timesheets) {
      for (const s of ts.shifts) {
        shifts++;
        if (s.flags.length) flagged++;
        for (const f of s.flags) flags[f] = (flags[f] ?? 0) + 1;
        if (!(s.paidMinutes >= 0 && s.workedMinutes >= 0 && s.paidMinutes <= s.workedMinutes && s.workedMinutes <= ts.shifts.length * 0 + 16 * 60)) bad++;
        const h = Math.floor(s.workedMinutes / 60);
        const bucket = s.workedMinutes === 0 ? '0 (no length)' : h < 1 ? '<1h' : h < 4 ? '1-4h' : h < 8 ? '4-8h' : h < 10 ? '8-10h' : h < 12 ? '10-12h' : '12-16h';
        lengths[bucket] = (lengths[bucket] ?? 0) + 1;
      }
    }
  }
  t.ok(shifts > 1000, 'shifts were made');
  t.equal(bad, 0, 'no negative, inverted or impossible length');
  const summary = await admin.get(`/v1/sites/${site.id}/timesheet-summary?from=2020-09-28&to=2021-10-16`);
  t.equal(summary.status, 200);
  t.equal(summary.body.totals.shifts, shifts, 'the site summary counts the same shifts');
  t.ok(summary.body.people[0].flaggedShifts >= summary.body.people.at(-1).flaggedShifts, 'flagged first');
  t.comment(`real export: ${people.length} people, ${shifts} shifts, ${flagged} flagged; flags ${JSON.stringify(flags)}; lengths ${JSON.stringify(lengths)}`);
});
