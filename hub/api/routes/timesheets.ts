// Timesheets (issue P3): a person's shifts per site, a site's summary for a period, the site's
// versioned policy, and operator corrections. Computed in the API worker.
import type { Route } from '../router.js';
import { object, uuid } from '../schemas.js';
import type { ApiServices } from '../services.js';

const date = { type: 'string', format: 'date' } as const;
const period = { from: date, to: date };
const policy = object({
  maxShiftMinutes: { type: 'integer', minimum: 60, maximum: 48 * 60 },
  doubleScanSeconds: { type: 'integer', minimum: 0, maximum: 3600 },
  rounding: {
    oneOf: [
      object({ mode: { const: 'none' } }, ['mode']),
      object({ mode: { enum: ['nearest', 'up', 'down', 'in_up_out_down'] }, minutes: { enum: [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60] } }, ['mode', 'minutes']),
    ],
  },
  breaks: { enum: ['paid', 'unpaid'] },
  dailyOvertimeMinutes: { type: ['integer', 'null'], minimum: 0, maximum: 1440 },
  weeklyOvertimeMinutes: { type: ['integer', 'null'], minimum: 0, maximum: 10080 },
  weekStartsOn: { type: 'integer', minimum: 1, maximum: 7 },
}, ['maxShiftMinutes', 'doubleScanSeconds', 'rounding', 'breaks', 'dailyOvertimeMinutes', 'weeklyOvertimeMinutes', 'weekStartsOn']);

interface ShiftOut { id: string; date: string; startLocal: string | null; endLocal: string | null; workedMinutes: number; breakMinutes: number; paidMinutes: number; overtimeMinutes: number; flags: string[]; punches: string[]; explain: string[] }
interface PersonTimesheet { person: { external_id: string }; timesheets: { site: { name: string; tz: string }; policyVersion: number; shifts: ShiftOut[] }[] }

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; // no formula injection in spreadsheets
};

export function toCsv(t: PersonTimesheet): string {
  const head = ['person', 'site', 'time_zone', 'date', 'start', 'end', 'worked_minutes', 'break_minutes', 'paid_minutes', 'overtime_minutes', 'flags', 'policy_version', 'shift_id'];
  const lines = [head.join(',')];
  for (const ts of t.timesheets) {
    for (const s of ts.shifts) {
      lines.push([t.person.external_id, ts.site.name, ts.site.tz, s.date, s.startLocal, s.endLocal, s.workedMinutes, s.breakMinutes, s.paidMinutes, s.overtimeMinutes, s.flags.join(' '), ts.policyVersion, s.id].map(csvCell).join(','));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function timesheetsRoutes({ store }: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/v1/timesheets', tag: 'timesheets', role: 'viewer', summary: 'A person\'s timesheet over a period (site-local dates, at most 400 days), JSON or CSV',
      query: object({ person: uuid, ...period, format: { enum: ['json', 'csv'], default: 'json' } }, ['person', 'from', 'to']),
      handle: async ({ key, query }) => {
        const t = await store.run<PersonTimesheet>('personTimesheet', { orgId: key.orgId, personId: query.person, from: query.from, to: query.to });
        if (query.format === 'csv') return { body: null, text: { contentType: 'text/csv; charset=utf-8', content: toCsv(t), filename: `timesheet-${t.person.external_id}-${query.from}-${query.to}.csv` } };
        return { body: t };
      },
    },
    {
      method: 'GET', path: '/v1/sites/{id}/timesheet-summary', tag: 'timesheets', role: 'viewer', summary: 'Every person of a site over a period: totals, flagged shifts first',
      query: object(period, ['from', 'to']),
      handle: async ({ key, params, query }) => ({ body: await store.run('siteTimesheetSummary', { orgId: key.orgId, siteId: params.id, from: query.from, to: query.to }) }),
    },
    {
      method: 'GET', path: '/v1/sites/{id}/timesheet-policy', tag: 'timesheets', role: 'viewer', summary: 'The site\'s current timesheet policy (version 0: the defaults)',
      handle: async ({ key, params }) => ({ body: await store.run('getTimesheetPolicy', { orgId: key.orgId, siteId: params.id }) }),
    },
    {
      method: 'PUT', path: '/v1/sites/{id}/timesheet-policy', tag: 'timesheets', role: 'admin', summary: 'Set the site\'s timesheet policy: a new version',
      body: policy,
      handle: async ({ key, actor, params, body }) => ({ body: await store.run('putTimesheetPolicy', { orgId: key.orgId, actor, siteId: params.id, policy: body }) }),
    },
    {
      method: 'POST', path: '/v1/people/{id}/corrections', tag: 'timesheets', role: 'operator', status: 201,
      summary: 'Add a missing punch or void a wrong one; the raw events stay as they came',
      body: {
        oneOf: [
          object({ kind: { const: 'add' }, site_id: uuid, ts: { type: 'string', format: 'date-time' }, dir: { enum: ['in', 'out', 'break_out', 'break_in'] }, reason: { type: 'string', minLength: 1, maxLength: 500 } }, ['kind', 'site_id', 'ts', 'dir', 'reason']),
          object({ kind: { const: 'void' }, site_id: uuid, punch_id: { type: 'string', pattern: '^(e\\d+|c[0-9a-f-]{36})$' }, reason: { type: 'string', minLength: 1, maxLength: 500 } }, ['kind', 'site_id', 'punch_id', 'reason']),
        ],
      },
      handle: async ({ key, actor, params, body }) => ({
        body: await store.run('addCorrection', { orgId: key.orgId, actor, personId: params.id, siteId: body.site_id, kind: body.kind, ts: body.ts, dir: body.dir, punchId: body.punch_id, reason: body.reason }),
      }),
    },
    {
      method: 'GET', path: '/v1/people/{id}/corrections', tag: 'timesheets', role: 'viewer', summary: 'A person\'s corrections, newest first',
      handle: async ({ key, params }) => ({ body: await store.run('listCorrections', { orgId: key.orgId, personId: params.id }) }),
    },
  ];
}
