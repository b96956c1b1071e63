// Timesheets (issue P3): loads a person's punches, the site's policy and the corrections, and runs
// the pure computation (workers/timesheet.ts) here in the worker, never on the event loop.
import { LintelError } from '../../protocol/errors.js';
import { computeTimesheet, type Correction, type Policy, type Punch, type Timesheet } from '../timesheet.js';
import { audit, db, one, unique, type Scope } from './common.js';

const DEFAULT_POLICY: Policy = {
  version: 0, maxShiftMinutes: 16 * 60, doubleScanSeconds: 60, rounding: { mode: 'none' }, breaks: 'unpaid',
  dailyOvertimeMinutes: null, weeklyOvertimeMinutes: null, weekStartsOn: 1,
};
const MAX_PERIOD_DAYS = 400; // a year of shifts, with room for a week either side
const DAY = 86_400_000;

async function policyOf(siteId: string): Promise<Policy> {
  const [row] = await db()`SELECT version, policy FROM timesheet_policies WHERE site_id = ${siteId} ORDER BY version DESC LIMIT 1`;
  return row ? { ...DEFAULT_POLICY, ...(row.policy as Partial<Policy>), version: row.version } : DEFAULT_POLICY;
}

function period(from: string, to: string): { lo: Date; hi: Date } {
  const f = Date.parse(`${from}T00:00:00Z`);
  const t = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(f) || Number.isNaN(t) || t < f) throw Object.assign(new LintelError('LINTEL_ERR_API_VALIDATION', 'to must not be before from'), { fields: [{ field: 'query.to', problem: 'before from' }] });
  if ((t - f) / DAY >= MAX_PERIOD_DAYS) throw Object.assign(new LintelError('LINTEL_ERR_API_VALIDATION', `a period is at most ${MAX_PERIOD_DAYS} days`), { fields: [{ field: 'query.to', problem: 'period too long' }] });
  // Rule 15 of the computation: punches from the start of the week holding `from` (8 days back
  // covers every week start and zone) to past the longest shift after `to` (2 days ahead).
  return { lo: new Date(f - 8 * DAY), hi: new Date(t + 2 * DAY + DAY) };
}

interface PunchRow { id: string; ts: Date; dir: string; device_id: string; boot: number; seq: number; received_at: Date; site_id: string; person_id: string }

async function punchesOf(orgId: string, personIds: string[] | null, siteId: string | null, lo: Date, hi: Date): Promise<PunchRow[]> {
  // Separate statements per filter, not `$1 IS NULL OR ...`: a prepared statement's generic plan
  // cannot use the person index for an optional filter (a person's month took ~0.7 s, not ms).
  const sql = db();
  const byPerson = personIds ? sql`AND person_id = ANY(${personIds}::uuid[])` : sql`AND person_id IS NOT NULL`;
  const bySite = siteId ? sql`AND site_id = ${siteId}::uuid` : sql``;
  return sql<PunchRow[]>`
    SELECT id::text, ts, coalesce(dir, 'unknown') AS dir, device_id, boot, seq, received_at, site_id, person_id
    FROM events
    WHERE org_id = ${orgId} AND kind = 'punch' AND source = 'terminal' AND ts >= ${lo} AND ts < ${hi} ${byPerson} ${bySite}
    ORDER BY ts`;
}

interface CorrectionRow { id: string; person_id: string; site_id: string; kind: 'add' | 'void'; ts: Date | null; dir: string | null; target: string | null; operator: string; reason: string }

async function correctionsOf(orgId: string, personIds: string[] | null, siteId: string | null): Promise<CorrectionRow[]> {
  return db()<CorrectionRow[]>`
    SELECT id, person_id, site_id, kind, ts, dir, target, operator, reason FROM punch_corrections
    WHERE org_id = ${orgId} AND (${personIds}::uuid[] IS NULL OR person_id = ANY(${personIds}::uuid[]))
      AND (${siteId}::uuid IS NULL OR site_id = ${siteId}::uuid)
    ORDER BY created_at`;
}

const toPunch = (r: PunchRow): Punch => ({
  id: `e${r.id}`, ts: r.ts.getTime(), dir: r.dir as Punch['dir'], origin: 'terminal', deviceId: r.device_id, boot: Number(r.boot), seq: Number(r.seq), receivedAt: r.received_at.getTime(),
});
const toCorrection = (c: CorrectionRow): Correction => c.kind === 'add'
  ? { kind: 'add', punch: { id: `c${c.id}`, ts: c.ts!.getTime(), dir: c.dir as Punch['dir'], origin: 'correction' }, operator: c.operator, reason: c.reason }
  : { kind: 'void', punchId: c.target!, operator: c.operator, reason: c.reason };

interface SiteRow { id: string; name: string; tz: string }

function compute(site: SiteRow, policy: Policy, punches: PunchRow[], corrections: CorrectionRow[], from: string, to: string): Timesheet {
  return computeTimesheet({
    punches: punches.map(toPunch), corrections: corrections.map(toCorrection), policy, timeZone: site.tz, from, to, asOf: Date.now(),
  });
}

/** One person's timesheet at every site where they punched (or have corrections) in the period. */
export async function personTimesheet(a: { orgId: string; personId: string; from: string; to: string }) {
  const person = await one(db()`SELECT id, external_id, display_name FROM people WHERE org_id = ${a.orgId} AND id = ${a.personId}`, 'person');
  const { lo, hi } = period(a.from, a.to);
  const [punches, corrections] = await Promise.all([punchesOf(a.orgId, [a.personId], null, lo, hi), correctionsOf(a.orgId, [a.personId], null)]);
  const siteIds = [...new Set([...punches.map((p) => p.site_id), ...corrections.map((c) => c.site_id)])];
  const sites = siteIds.length ? await db()<SiteRow[]>`SELECT id, name, tz FROM sites WHERE org_id = ${a.orgId} AND id = ANY(${siteIds}::uuid[]) ORDER BY name` : [];
  const out = [];
  for (const site of sites) {
    const timesheet = compute(site, await policyOf(site.id), punches.filter((p) => p.site_id === site.id), corrections.filter((c) => c.site_id === site.id), a.from, a.to);
    out.push({ site, ...timesheet });
  }
  return { person, from: a.from, to: a.to, timesheets: out };
}

/** Every person who punched at a site in the period: totals, flagged shifts first. */
export async function siteTimesheetSummary(a: { orgId: string; siteId: string; from: string; to: string }) {
  const site = await one(db()<SiteRow[]>`SELECT id, name, tz FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId}`, 'site');
  const { lo, hi } = period(a.from, a.to);
  const policy = await policyOf(site.id);
  const [punches, corrections] = await Promise.all([punchesOf(a.orgId, null, site.id, lo, hi), correctionsOf(a.orgId, null, site.id)]);
  const byPerson = new Map<string, PunchRow[]>();
  for (const p of punches) byPerson.set(p.person_id, [...(byPerson.get(p.person_id) ?? []), p]);
  for (const c of corrections) if (!byPerson.has(c.person_id)) byPerson.set(c.person_id, []);
  const people = byPerson.size
    ? await db()<{ id: string; external_id: string; display_name: string | null }[]>`SELECT id, external_id, display_name FROM people WHERE org_id = ${a.orgId} AND id = ANY(${[...byPerson.keys()]}::uuid[])`
    : [];
  const rows = people.map((person) => {
    const ts = compute(site, policy, byPerson.get(person.id)!, corrections.filter((c) => c.person_id === person.id), a.from, a.to);
    return {
      person, totals: ts.totals, flaggedShifts: ts.flaggedShifts, excluded: ts.excluded.length,
      flagged: ts.shifts.filter((s) => s.flags.length > 0).map((s) => ({ id: s.id, date: s.date, flags: s.flags, paidMinutes: s.paidMinutes, explain: s.explain })),
    };
  });
  rows.sort((x, y) => y.flaggedShifts - x.flaggedShifts || x.person.external_id.localeCompare(y.person.external_id));
  const totals = rows.reduce((t, r) => ({
    people: t.people + 1, shifts: t.shifts + r.totals.shifts, flaggedShifts: t.flaggedShifts + r.flaggedShifts,
    paidMinutes: t.paidMinutes + r.totals.paidMinutes, overtimeMinutes: t.overtimeMinutes + r.totals.overtimeMinutes,
  }), { people: 0, shifts: 0, flaggedShifts: 0, paidMinutes: 0, overtimeMinutes: 0 });
  return { site, from: a.from, to: a.to, policyVersion: policy.version, totals, people: rows };
}

export async function getTimesheetPolicy(a: { orgId: string; siteId: string }) {
  await one(db()`SELECT id FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId}`, 'site');
  return policyOf(a.siteId);
}

export async function putTimesheetPolicy(a: Scope & { siteId: string; policy: Omit<Policy, 'version'> }) {
  return db().begin(async (tx) => {
    await one(tx`SELECT id FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId} FOR UPDATE`, 'site');
    const [prev] = await tx`SELECT version, policy FROM timesheet_policies WHERE site_id = ${a.siteId} ORDER BY version DESC LIMIT 1`;
    const version = (prev?.version ?? 0) + 1;
    const policy = { ...DEFAULT_POLICY, ...a.policy, version };
    await tx`INSERT INTO timesheet_policies (site_id, version, policy, actor) VALUES (${a.siteId}, ${version}, ${tx.json(policy as never)}, ${a.actor})`;
    await audit(tx, a, 'timesheet_policy.set', 'site', a.siteId, prev?.policy ?? null, policy);
    return policy;
  });
}

export async function addCorrection(a: Scope & { personId: string; siteId: string; kind: 'add' | 'void'; ts?: string; dir?: string; punchId?: string; reason: string }) {
  return db().begin(async (tx) => {
    await one(tx`SELECT id FROM people WHERE org_id = ${a.orgId} AND id = ${a.personId}`, 'person');
    await one(tx`SELECT id FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId}`, 'site');
    if (a.kind === 'void') {
      const m = /^(e)(\d+)$|^(c)([0-9a-f-]{36})$/.exec(a.punchId ?? '');
      const found = m?.[1]
        ? await tx`SELECT 1 FROM events WHERE org_id = ${a.orgId} AND person_id = ${a.personId} AND id = ${m[2]!} AND kind = 'punch'`
        : m?.[3] ? await tx`SELECT 1 FROM punch_corrections WHERE org_id = ${a.orgId} AND person_id = ${a.personId} AND id = ${m[4]!} AND kind = 'add'` : [];
      if (!found.length) throw new LintelError('LINTEL_ERR_API_NOT_FOUND', `punch ${a.punchId} of this person`);
    }
    const row = await unique(one(tx`
      INSERT INTO punch_corrections (org_id, person_id, site_id, kind, ts, dir, target, operator, reason)
      VALUES (${a.orgId}, ${a.personId}, ${a.siteId}, ${a.kind}, ${a.ts ?? null}, ${a.dir ?? null}, ${a.punchId ?? null}, ${a.actor}, ${a.reason})
      RETURNING id, person_id, site_id, kind, ts, dir, target AS punch_id, operator, reason, created_at`, 'correction'), 'correction');
    await audit(tx, a, `correction.${a.kind}`, 'person', a.personId, null, row);
    return { ...row, punch: a.kind === 'add' ? `c${row.id}` : undefined };
  });
}

export async function listCorrections(a: { orgId: string; personId: string }) {
  await one(db()`SELECT id FROM people WHERE org_id = ${a.orgId} AND id = ${a.personId}`, 'person');
  const items = await db()`SELECT id, site_id, kind, ts, dir, target AS punch_id, operator, reason, created_at
                           FROM punch_corrections WHERE org_id = ${a.orgId} AND person_id = ${a.personId} ORDER BY created_at DESC LIMIT 1000`;
  return { items };
}
