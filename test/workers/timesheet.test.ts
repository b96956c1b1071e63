// The timesheet rules of workers/timesheet.ts, case by case, then as properties over generated
// punch sequences. Every instant below was converted to UTC by hand, and every expected length
// worked out by hand from the calendar, never computed with Intl: 2026-06-01 is a Monday; the EU
// switches to summer time on 2026-03-29 and back on 2026-10-25, at 01:00 UTC (Berlin is +01:00 in
// winter, +02:00 in summer); the US switches on 2026-03-08 at 07:00 UTC and back on 2026-11-01 at
// 06:00 UTC (New York -05:00 / -04:00); Shanghai is +08:00 and Kolkata +05:30 all year.
import t from 'tap';
import { computeTimesheet, FLAGS, type Correction, type Direction, type Flag, type Policy, type Punch, type Shift,
  type Timesheet, type TimesheetInput, type Totals } from '../../workers/timesheet.js';

const at = (iso: string) => Date.parse(iso);
const H = 60; // minutes

const punch = (id: string, iso: string, dir: Direction = 'unknown', extra: Partial<Punch> = {}): Punch =>
  ({ id, ts: at(iso), dir, origin: 'terminal', ...extra });
const added = (id: string, iso: string, dir: Direction, operator: string, reason: string): Correction =>
  ({ kind: 'add', punch: { id, ts: at(iso), dir, origin: 'correction' }, operator, reason });
const voided = (punchId: string, operator: string, reason: string): Correction => ({ kind: 'void', punchId, operator, reason });
const policy = (extra: Partial<Policy> = {}): Policy => ({
  version: 1, maxShiftMinutes: 16 * H, doubleScanSeconds: 60, rounding: { mode: 'none' }, breaks: 'unpaid',
  dailyOvertimeMinutes: null, weeklyOvertimeMinutes: null, weekStartsOn: 1, ...extra,
});

// What a case expects of one shift. Durations in minutes; compared to the second, so that a
// duration like 554 min 59 s can be written as 554 + 59 / 60.
interface Want {
  date: string;
  start: string | null;
  end: string | null;
  worked: number;
  paid: number;
  brk?: number;
  ot?: number;
  flags?: Flag[];
  punches: string[];
  dropped?: string[];
  week?: string;
  paidStart?: string;
  paidEnd?: string;
  startLocal?: string;
  endLocal?: string;
}
interface Case {
  name: string;
  tz?: string;
  punches: Punch[];
  corrections?: Correction[];
  policy?: Partial<Policy>;
  from?: string;
  to?: string;
  asOf?: string;
  shifts: Want[];
  totals?: Partial<Totals>;
  excluded?: { id: string; reason: string; shift: string | null }[];
  explain?: RegExp[];
}

const sec = (minutes: number) => Math.round(minutes * 60);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace('.000Z', 'Z'));
function project(s: Shift, w: Want) {
  return {
    date: s.date, start: iso(s.start), end: iso(s.end), worked: sec(s.workedMinutes), paid: sec(s.paidMinutes),
    brk: sec(s.breakMinutes), ot: sec(s.overtimeMinutes), flags: s.flags, punches: s.punches, dropped: s.dropped,
    ...(w.week !== undefined ? { week: s.week } : {}),
    ...(w.paidStart !== undefined ? { paidStart: iso(s.paidStart) } : {}),
    ...(w.paidEnd !== undefined ? { paidEnd: iso(s.paidEnd) } : {}),
    ...(w.startLocal !== undefined ? { startLocal: s.startLocal } : {}),
    ...(w.endLocal !== undefined ? { endLocal: s.endLocal } : {}),
  };
}
function expected(w: Want) {
  return {
    date: w.date, start: w.start, end: w.end, worked: sec(w.worked), paid: sec(w.paid), brk: sec(w.brk ?? 0), ot: sec(w.ot ?? 0),
    flags: w.flags ?? [], punches: w.punches, dropped: w.dropped ?? [],
    ...(w.week !== undefined ? { week: w.week } : {}),
    ...(w.paidStart !== undefined ? { paidStart: w.paidStart } : {}),
    ...(w.paidEnd !== undefined ? { paidEnd: w.paidEnd } : {}),
    ...(w.startLocal !== undefined ? { startLocal: w.startLocal } : {}),
    ...(w.endLocal !== undefined ? { endLocal: w.endLocal } : {}),
  };
}
function run(c: Case): Timesheet {
  const input: TimesheetInput = { punches: c.punches, policy: policy(c.policy), timeZone: c.tz ?? 'UTC' };
  if (c.corrections) input.corrections = c.corrections;
  if (c.from) input.from = c.from;
  if (c.to) input.to = c.to;
  if (c.asOf) input.asOf = at(c.asOf);
  return computeTimesheet(input);
}

// A normal day shift 08:00-17:00 UTC on 2026-06-10 with a lunch break, reused by the break cases.
const lunch = (x: Direction = 'break_in') => [
  punch('l1', '2026-06-10T08:00:00Z', 'in'), punch('l2', '2026-06-10T12:00:00Z', 'break_out'),
  punch('l3', '2026-06-10T12:30:00Z', x), punch('l4', '2026-06-10T17:00:00Z', 'out'),
];
// Berlin, Monday 2026-06-29 to Saturday 2026-07-04: a week that crosses into July. Summer time,
// so 08:00 local is 06:00Z, 17:00 local 15:00Z and 14:00 local 12:00Z.
const weekCrossingMonth = [
  ...['06-29', '06-30', '07-01', '07-02', '07-03'].flatMap((d) => [punch(`w${d}i`, `2026-${d}T06:00:00Z`, 'in'), punch(`w${d}o`, `2026-${d}T15:00:00Z`, 'out')]),
  punch('w07-04i', '2026-07-04T06:00:00Z', 'in'), punch('w07-04o', '2026-07-04T12:00:00Z', 'out'),
];
const weekday = (d: string, ot: number, extra: Partial<Want> = {}): Want =>
  ({ date: `2026-${d}`, start: `2026-${d}T06:00:00Z`, end: `2026-${d}T15:00:00Z`, worked: 9 * H, paid: 9 * H, ot, punches: [`w${d}i`, `w${d}o`], ...extra });
const saturday = (ot: number): Want =>
  ({ date: '2026-07-04', start: '2026-07-04T06:00:00Z', end: '2026-07-04T12:00:00Z', worked: 6 * H, paid: 6 * H, ot, punches: ['w07-04i', 'w07-04o'] });

const cases: Case[] = [
  // --- The cases named in the issue -----------------------------------------------------------
  {
    name: 'Berlin, night the clocks go back: 22:00 CEST to 06:00 CET is 9 h, dated the day it began',
    tz: 'Europe/Berlin',
    // 22:00 CEST (+02:00) = 20:00Z; 06:00 CET (+01:00) = 05:00Z next day; 05:00Z - 20:00Z = 9 h = 540 min.
    punches: [punch('b1', '2026-10-24T20:00:00Z', 'in'), punch('b2', '2026-10-25T05:00:00Z', 'out')],
    shifts: [{ date: '2026-10-24', start: '2026-10-24T20:00:00Z', end: '2026-10-25T05:00:00Z', worked: 540, paid: 540, punches: ['b1', 'b2'],
      startLocal: '2026-10-24T22:00:00+02:00', endLocal: '2026-10-25T06:00:00+01:00' }],
    explain: [/UTC\+02:00 to UTC\+01:00\): the wall clock shows 8 h 00 min, but 9 h 00 min really passed/],
  },
  {
    name: 'Berlin, night the clocks go forward: 22:00 CET to 06:00 CEST is 7 h',
    tz: 'Europe/Berlin',
    // 22:00 CET = 21:00Z; 06:00 CEST = 04:00Z next day; 21:00Z to 04:00Z = 7 h = 420 min.
    punches: [punch('s1', '2026-03-28T21:00:00Z', 'in'), punch('s2', '2026-03-29T04:00:00Z', 'out')],
    shifts: [{ date: '2026-03-28', start: '2026-03-28T21:00:00Z', end: '2026-03-29T04:00:00Z', worked: 420, paid: 420, punches: ['s1', 's2'],
      startLocal: '2026-03-28T22:00:00+01:00', endLocal: '2026-03-29T06:00:00+02:00' }],
    explain: [/the wall clock shows 8 h 00 min, but 7 h 00 min really passed/],
  },
  {
    name: 'Shanghai: 06:00-14:00 is dated 2026-06-01, the site date, not the UTC date 05-31',
    tz: 'Asia/Shanghai',
    // 06:00 CST (+08:00) = 2026-05-31T22:00Z; 14:00 CST = 06:00Z; 8 h = 480 min.
    punches: [punch('c1', '2026-05-31T22:00:00Z', 'in'), punch('c2', '2026-06-01T06:00:00Z', 'out')],
    shifts: [{ date: '2026-06-01', start: '2026-05-31T22:00:00Z', end: '2026-06-01T06:00:00Z', worked: 480, paid: 480, punches: ['c1', 'c2'] }],
  },
  {
    name: 'a forgotten check-out, then a normal day: an open flagged shift and an 8 h shift, never 24 h',
    tz: 'Europe/Berlin',
    // 08:00 CEST = 06:00Z. The next in is 24 h after the first, more than the 16 h maximum.
    punches: [punch('o1', '2026-06-01T06:00:00Z', 'in'), punch('o2', '2026-06-02T06:00:00Z', 'in'), punch('o3', '2026-06-02T14:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-01', start: '2026-06-01T06:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out'], punches: ['o1'] },
      { date: '2026-06-02', start: '2026-06-02T06:00:00Z', end: '2026-06-02T14:00:00Z', worked: 480, paid: 480, punches: ['o2', 'o3'] },
    ],
    totals: { shifts: 2, flaggedShifts: 1, paidMinutes: 480 },
  },
  {
    name: 'the same with unknown directions: the 24 h gap starts a new chain with in',
    tz: 'Europe/Berlin',
    punches: [punch('o1', '2026-06-01T06:00:00Z'), punch('o2', '2026-06-02T06:00:00Z'), punch('o3', '2026-06-02T14:00:00Z')],
    shifts: [
      { date: '2026-06-01', start: '2026-06-01T06:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out'], punches: ['o1'] },
      { date: '2026-06-02', start: '2026-06-02T06:00:00Z', end: '2026-06-02T14:00:00Z', worked: 480, paid: 480, punches: ['o2', 'o3'] },
    ],
    explain: [/o2 at 2026-06-02 08:00 \+02:00 is more than the maximum shift length of 16 h 00 min after o1/],
  },
  {
    name: 'two scans 30 s apart, then a check-out: one shift, the double scan dropped and flagged',
    tz: 'Europe/Berlin',
    // 08:00:00 and 08:00:30 CEST = 06:00:00Z and 06:00:30Z; 16:00 CEST = 14:00Z; 8 h.
    punches: [punch('d1', '2026-06-03T06:00:00Z', 'in'), punch('d2', '2026-06-03T06:00:30Z', 'in'), punch('d3', '2026-06-03T14:00:00Z', 'out')],
    shifts: [{ date: '2026-06-03', start: '2026-06-03T06:00:00Z', end: '2026-06-03T14:00:00Z', worked: 480, paid: 480,
      flags: ['double_scan_dropped'], punches: ['d1', 'd3'], dropped: ['d2'] }],
    explain: [/d2 \(in, 2026-06-03 08:00:30 \+02:00\) dropped as a double scan: 30 s from d1/],
  },
  {
    name: 'the same with unknown directions',
    tz: 'Europe/Berlin',
    punches: [punch('d1', '2026-06-03T06:00:00Z'), punch('d2', '2026-06-03T06:00:30Z'), punch('d3', '2026-06-03T14:00:00Z')],
    shifts: [{ date: '2026-06-03', start: '2026-06-03T06:00:00Z', end: '2026-06-03T14:00:00Z', worked: 480, paid: 480,
      flags: ['double_scan_dropped'], punches: ['d1', 'd3'], dropped: ['d2'] }],
  },
  {
    name: 'four unknown punches 08:00, 12:00, 12:30, 17:00: two shifts, 8 h 30 min in total',
    tz: 'Europe/Berlin',
    // CEST: 06:00Z, 10:00Z, 10:30Z, 15:00Z. 4 h + 4 h 30 min = 510 min.
    punches: [punch('u1', '2026-06-04T06:00:00Z'), punch('u2', '2026-06-04T10:00:00Z'), punch('u3', '2026-06-04T10:30:00Z'), punch('u4', '2026-06-04T15:00:00Z')],
    shifts: [
      { date: '2026-06-04', start: '2026-06-04T06:00:00Z', end: '2026-06-04T10:00:00Z', worked: 240, paid: 240, punches: ['u1', 'u2'] },
      { date: '2026-06-04', start: '2026-06-04T10:30:00Z', end: '2026-06-04T15:00:00Z', worked: 270, paid: 270, punches: ['u3', 'u4'] },
    ],
    totals: { shifts: 2, flaggedShifts: 0, workedMinutes: 510, paidMinutes: 510 },
  },

  // --- Time zones and clock changes -------------------------------------------------------------
  {
    name: 'Kolkata night shift across midnight, no clock change: 22:00-06:30 is 8 h 30 min',
    tz: 'Asia/Kolkata',
    // 22:00 IST (+05:30) = 16:30Z; 06:30 IST next day = 01:00Z; 16:30Z to 01:00Z = 8 h 30 min.
    punches: [punch('k1', '2026-07-10T16:30:00Z', 'in'), punch('k2', '2026-07-11T01:00:00Z', 'out')],
    shifts: [{ date: '2026-07-10', start: '2026-07-10T16:30:00Z', end: '2026-07-11T01:00:00Z', worked: 510, paid: 510, punches: ['k1', 'k2'],
      startLocal: '2026-07-10T22:00:00+05:30', endLocal: '2026-07-11T06:30:00+05:30' }],
  },
  {
    name: 'Tokyo New Year night: 21:00-05:00 is 8 h, dated 2026-12-31',
    tz: 'Asia/Tokyo',
    // 21:00 JST (+09:00) on 12-31 = 12:00Z; 05:00 JST on 2027-01-01 = 2026-12-31T20:00Z.
    punches: [punch('j1', '2026-12-31T12:00:00Z', 'in'), punch('j2', '2026-12-31T20:00:00Z', 'out')],
    shifts: [{ date: '2026-12-31', start: '2026-12-31T12:00:00Z', end: '2026-12-31T20:00:00Z', worked: 480, paid: 480, punches: ['j1', 'j2'] }],
  },
  {
    name: 'New York, spring forward: 22:00 EST to 06:00 EDT is 7 h',
    tz: 'America/New_York',
    // 22:00 EST (-05:00) on 03-07 = 03-08T03:00Z; 06:00 EDT (-04:00) = 10:00Z; 7 h.
    punches: [punch('n1', '2026-03-08T03:00:00Z', 'in'), punch('n2', '2026-03-08T10:00:00Z', 'out')],
    shifts: [{ date: '2026-03-07', start: '2026-03-08T03:00:00Z', end: '2026-03-08T10:00:00Z', worked: 420, paid: 420, punches: ['n1', 'n2'] }],
  },
  {
    name: 'New York, fall back: 22:00 EDT to 06:00 EST is 9 h',
    tz: 'America/New_York',
    // 22:00 EDT on 10-31 = 11-01T02:00Z; 06:00 EST = 11:00Z; 9 h.
    punches: [punch('n1', '2026-11-01T02:00:00Z', 'in'), punch('n2', '2026-11-01T11:00:00Z', 'out')],
    shifts: [{ date: '2026-10-31', start: '2026-11-01T02:00:00Z', end: '2026-11-01T11:00:00Z', worked: 540, paid: 540, punches: ['n1', 'n2'] }],
  },
  {
    name: 'New York, the repeated hour: 01:30 EDT to 01:30 EST is 1 h although the wall clock shows none',
    tz: 'America/New_York',
    // 01:30 EDT = 05:30Z; 01:30 EST = 06:30Z.
    punches: [punch('r1', '2026-11-01T05:30:00Z', 'in'), punch('r2', '2026-11-01T06:30:00Z', 'out')],
    shifts: [{ date: '2026-11-01', start: '2026-11-01T05:30:00Z', end: '2026-11-01T06:30:00Z', worked: 60, paid: 60, punches: ['r1', 'r2'],
      startLocal: '2026-11-01T01:30:00-04:00', endLocal: '2026-11-01T01:30:00-05:00' }],
    explain: [/the wall clock shows 0 min, but 1 h 00 min really passed/],
  },
  {
    name: 'New York Sunday night shift: dated and weeked by the site date, though UTC is already Monday',
    tz: 'America/New_York',
    // 20:00 EDT Sunday 07-05 = Monday 07-06T00:00Z; 04:00 EDT = 08:00Z. Week from Monday 06-29.
    punches: [punch('y1', '2026-07-06T00:00:00Z', 'in'), punch('y2', '2026-07-06T08:00:00Z', 'out')],
    shifts: [{ date: '2026-07-05', week: '2026-06-29', start: '2026-07-06T00:00:00Z', end: '2026-07-06T08:00:00Z', worked: 480, paid: 480, punches: ['y1', 'y2'] }],
  },
  {
    name: 'the same with weeks starting on Sunday: the shift opens the week of 07-05',
    tz: 'America/New_York',
    policy: { weekStartsOn: 7 },
    punches: [punch('y1', '2026-07-06T00:00:00Z', 'in'), punch('y2', '2026-07-06T08:00:00Z', 'out')],
    shifts: [{ date: '2026-07-05', week: '2026-07-05', start: '2026-07-06T00:00:00Z', end: '2026-07-06T08:00:00Z', worked: 480, paid: 480, punches: ['y1', 'y2'] }],
  },

  // --- Missing punches and maximum length ------------------------------------------------------
  {
    name: 'an out with no in: a flagged shift with no length, dated by its out',
    punches: [punch('x1', '2026-06-05T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-05', start: null, end: '2026-06-05T17:00:00Z', worked: 0, paid: 0, flags: ['missing_check_in'], punches: ['x1'] }],
    totals: { shifts: 1, flaggedShifts: 1, paidMinutes: 0 },
  },
  {
    name: 'a second out 10 min after the first (beyond the double-scan window) is an out with no in',
    punches: [punch('x1', '2026-06-05T08:00:00Z', 'in'), punch('x2', '2026-06-05T17:00:00Z', 'out'), punch('x3', '2026-06-05T17:10:00Z', 'out')],
    shifts: [
      { date: '2026-06-05', start: '2026-06-05T08:00:00Z', end: '2026-06-05T17:00:00Z', worked: 540, paid: 540, punches: ['x1', 'x2'] },
      { date: '2026-06-05', start: null, end: '2026-06-05T17:10:00Z', worked: 0, paid: 0, flags: ['missing_check_in'], punches: ['x3'] },
    ],
  },
  {
    name: 'an in, then another in 5 h later: the first had no check-out',
    punches: [punch('f1', '2026-06-06T08:00:00Z', 'in'), punch('f2', '2026-06-06T13:00:00Z', 'in'), punch('f3', '2026-06-06T17:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-06', start: '2026-06-06T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out'], punches: ['f1'] },
      { date: '2026-06-06', start: '2026-06-06T13:00:00Z', end: '2026-06-06T17:00:00Z', worked: 240, paid: 240, punches: ['f2', 'f3'] },
    ],
  },
  {
    name: 'in and out 14 h apart with a 12 h maximum: split in two flagged parts, nothing paid',
    policy: { maxShiftMinutes: 12 * H },
    punches: [punch('m1', '2026-06-15T08:00:00Z', 'in'), punch('m2', '2026-06-15T22:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-15', start: '2026-06-15T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out', 'split_max_length'], punches: ['m1'] },
      { date: '2026-06-15', start: null, end: '2026-06-15T22:00:00Z', worked: 0, paid: 0, flags: ['missing_check_in', 'split_max_length'], punches: ['m2'] },
    ],
  },
  {
    name: 'in and out exactly the 12 h maximum apart: one shift of 12 h',
    policy: { maxShiftMinutes: 12 * H },
    punches: [punch('m1', '2026-06-15T08:00:00Z', 'in'), punch('m2', '2026-06-15T20:00:00Z', 'out')],
    shifts: [{ date: '2026-06-15', start: '2026-06-15T08:00:00Z', end: '2026-06-15T20:00:00Z', worked: 720, paid: 720, punches: ['m1', 'm2'] }],
  },
  {
    name: 'in and out 12 h 00 min 01 s apart: split',
    policy: { maxShiftMinutes: 12 * H },
    punches: [punch('m1', '2026-06-15T08:00:00Z', 'in'), punch('m2', '2026-06-15T20:00:01Z', 'out')],
    shifts: [
      { date: '2026-06-15', start: '2026-06-15T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out', 'split_max_length'], punches: ['m1'] },
      { date: '2026-06-15', start: null, end: '2026-06-15T20:00:01Z', worked: 0, paid: 0, flags: ['missing_check_in', 'split_max_length'], punches: ['m2'] },
    ],
  },
  {
    name: 'a 13 h shift with a lunch break and a 12 h maximum: split after the break',
    policy: { maxShiftMinutes: 12 * H },
    punches: [punch('m1', '2026-06-15T08:00:00Z', 'in'), punch('m2', '2026-06-15T12:00:00Z', 'break_out'),
      punch('m3', '2026-06-15T12:30:00Z', 'break_in'), punch('m4', '2026-06-15T21:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-15', start: '2026-06-15T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out', 'split_max_length'], punches: ['m1', 'm2', 'm3'] },
      { date: '2026-06-15', start: null, end: '2026-06-15T21:00:00Z', worked: 0, paid: 0, flags: ['missing_check_in', 'split_max_length'], punches: ['m4'] },
    ],
  },
  {
    name: 'a shift begun with break_out (no in): one flagged shift with no length',
    punches: [punch('q1', '2026-06-10T12:00:00Z', 'break_out'), punch('q2', '2026-06-10T12:30:00Z', 'break_in'), punch('q3', '2026-06-10T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-10', start: null, end: '2026-06-10T17:00:00Z', worked: 0, paid: 0, flags: ['missing_check_in'], punches: ['q1', 'q2', 'q3'] }],
  },
  {
    name: 'an open shift 2 h old at asOf is in progress, not missing its check-out',
    asOf: '2026-06-24T10:00:00Z',
    punches: [punch('a1', '2026-06-24T08:00:00Z', 'in')],
    shifts: [{ date: '2026-06-24', start: '2026-06-24T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['in_progress'], punches: ['a1'] }],
  },
  {
    name: 'one second before the maximum (16 h after 08:00 is 00:00 next day) it is still in progress',
    asOf: '2026-06-24T23:59:59Z',
    punches: [punch('a1', '2026-06-24T08:00:00Z', 'in')],
    shifts: [{ date: '2026-06-24', start: '2026-06-24T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['in_progress'], punches: ['a1'] }],
  },
  {
    name: 'at the maximum it is missing its check-out',
    asOf: '2026-06-25T00:00:00Z',
    punches: [punch('a1', '2026-06-24T08:00:00Z', 'in')],
    shifts: [{ date: '2026-06-24', start: '2026-06-24T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out'], punches: ['a1'] }],
  },
  {
    name: 'unknown punches with a 20 h gap: the chain restarts with in instead of pairing across it',
    // 08:00-12:00 = 4 h; 13:00 opens a shift; 09:00 next day is 20 h later (> 16 h): in; 09:00-17:00 = 8 h.
    punches: [punch('g1', '2026-06-22T08:00:00Z'), punch('g2', '2026-06-22T12:00:00Z'), punch('g3', '2026-06-22T13:00:00Z'),
      punch('g4', '2026-06-23T09:00:00Z'), punch('g5', '2026-06-23T17:00:00Z')],
    shifts: [
      { date: '2026-06-22', start: '2026-06-22T08:00:00Z', end: '2026-06-22T12:00:00Z', worked: 240, paid: 240, punches: ['g1', 'g2'] },
      { date: '2026-06-22', start: '2026-06-22T13:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out'], punches: ['g3'] },
      { date: '2026-06-23', start: '2026-06-23T09:00:00Z', end: '2026-06-23T17:00:00Z', worked: 480, paid: 480, punches: ['g4', 'g5'] },
    ],
    totals: { paidMinutes: 720, shifts: 3, flaggedShifts: 1 },
  },

  // --- Double scans and identical times ----------------------------------------------------------
  {
    name: 'a second in exactly 60 s later is within the 60 s window: dropped',
    punches: [punch('w1', '2026-06-26T08:00:00Z', 'in'), punch('w2', '2026-06-26T08:01:00Z', 'in'), punch('w3', '2026-06-26T16:00:00Z', 'out')],
    shifts: [{ date: '2026-06-26', start: '2026-06-26T08:00:00Z', end: '2026-06-26T16:00:00Z', worked: 480, paid: 480,
      flags: ['double_scan_dropped'], punches: ['w1', 'w3'], dropped: ['w2'] }],
  },
  {
    name: 'a second in 61 s later is not a double scan: the first in had no check-out',
    // 08:01:01 to 16:00:00 = 7 h 58 min 59 s.
    punches: [punch('w1', '2026-06-26T08:00:00Z', 'in'), punch('w2', '2026-06-26T08:01:01Z', 'in'), punch('w3', '2026-06-26T16:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-26', start: '2026-06-26T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out'], punches: ['w1'] },
      { date: '2026-06-26', start: '2026-06-26T08:01:01Z', end: '2026-06-26T16:00:00Z', worked: 478 + 59 / 60, paid: 478 + 59 / 60, punches: ['w2', 'w3'] },
    ],
  },
  {
    name: 'in then out 20 s apart are not double scans (directions differ): a 20 s shift',
    punches: [punch('w1', '2026-06-26T08:00:00Z', 'in'), punch('w2', '2026-06-26T08:00:20Z', 'out')],
    shifts: [{ date: '2026-06-26', start: '2026-06-26T08:00:00Z', end: '2026-06-26T08:00:20Z', worked: 20 / 60, paid: 20 / 60, punches: ['w1', 'w2'] }],
  },
  {
    name: 'scans 40 s apart: the window counts from the kept punch, not from the dropped one',
    // 08:00:00 kept; 08:00:40 (40 s) dropped; 08:01:20 is 80 s after the kept one: kept, and it is a second in.
    punches: [punch('b1', '2026-06-26T08:00:00Z', 'in'), punch('b2', '2026-06-26T08:00:40Z', 'in'), punch('b3', '2026-06-26T08:01:20Z', 'in'),
      punch('b4', '2026-06-26T16:01:20Z', 'out')],
    shifts: [
      { date: '2026-06-26', start: '2026-06-26T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out', 'double_scan_dropped'], punches: ['b1'], dropped: ['b2'] },
      { date: '2026-06-26', start: '2026-06-26T08:01:20Z', end: '2026-06-26T16:01:20Z', worked: 480, paid: 480, punches: ['b3', 'b4'] },
    ],
  },
  {
    name: 'identical times and directions: the later arrival is dropped',
    punches: [punch('i2', '2026-06-27T08:00:00Z', 'in', { receivedAt: at('2026-06-27T08:00:02Z') }),
      punch('i1', '2026-06-27T08:00:00Z', 'in', { receivedAt: at('2026-06-27T08:00:01Z') }), punch('i3', '2026-06-27T16:00:00Z', 'out')],
    shifts: [{ date: '2026-06-27', start: '2026-06-27T08:00:00Z', end: '2026-06-27T16:00:00Z', worked: 480, paid: 480,
      flags: ['double_scan_dropped'], punches: ['i1', 'i3'], dropped: ['i2'] }],
  },
  {
    name: 'identical times are double scans even with a 0 s window',
    policy: { doubleScanSeconds: 0 },
    punches: [punch('i1', '2026-06-27T08:00:00Z', 'in'), punch('i2', '2026-06-27T08:00:00Z', 'in'), punch('i3', '2026-06-27T16:00:00Z', 'out')],
    shifts: [{ date: '2026-06-27', start: '2026-06-27T08:00:00Z', end: '2026-06-27T16:00:00Z', worked: 480, paid: 480,
      flags: ['double_scan_dropped'], punches: ['i1', 'i3'], dropped: ['i2'] }],
  },
  {
    name: 'an unknown scan then an in 20 s later: the in is kept, it gives the direction',
    // 08:00:20 to 16:00:00 = 7 h 59 min 40 s.
    punches: [punch('i1', '2026-06-27T08:00:00Z'), punch('i2', '2026-06-27T08:00:20Z', 'in'), punch('i3', '2026-06-27T16:00:00Z', 'out')],
    shifts: [{ date: '2026-06-27', start: '2026-06-27T08:00:20Z', end: '2026-06-27T16:00:00Z', worked: 479 + 40 / 60, paid: 479 + 40 / 60,
      flags: ['double_scan_dropped'], punches: ['i2', 'i3'], dropped: ['i1'] }],
    explain: [/i1 \(unknown, .*\) dropped as a double scan: 20 s from i2 \(in\), within the 60 s window; i2 gives the direction/],
  },

  // --- Terminal clocks, implausible times -----------------------------------------------------------
  {
    name: 'a punch made after another but timed before it: sorted by time, its shift flagged clock_went_backwards',
    // Terminal T1 made k1 08:00, k2 17:00, then k3 timed 12:00 and k4 12:30: both are earlier than
    // k2, made before them (k4 is later than k3, but the clock has not caught up). By time: 08:00 in,
    // 12:00 out, 12:30 in, 17:00 out: 4 h and 4 h 30 min, both shifts flagged.
    punches: [punch('k1', '2026-06-08T08:00:00Z', 'unknown', { deviceId: 'T1', boot: 7, seq: 1 }),
      punch('k2', '2026-06-08T17:00:00Z', 'unknown', { deviceId: 'T1', boot: 7, seq: 2 }),
      punch('k3', '2026-06-08T12:00:00Z', 'unknown', { deviceId: 'T1', boot: 7, seq: 3 }),
      punch('k4', '2026-06-08T12:30:00Z', 'unknown', { deviceId: 'T1', boot: 7, seq: 4 })],
    shifts: [
      { date: '2026-06-08', start: '2026-06-08T08:00:00Z', end: '2026-06-08T12:00:00Z', worked: 240, paid: 240, flags: ['clock_went_backwards'], punches: ['k1', 'k3'] },
      { date: '2026-06-08', start: '2026-06-08T12:30:00Z', end: '2026-06-08T17:00:00Z', worked: 270, paid: 270, flags: ['clock_went_backwards'], punches: ['k4', 'k2'] },
    ],
    explain: [/k3 \(seq 3\) is timed 2026-06-08 12:00 \+00:00, before k2 \(seq 2, 2026-06-08 17:00 \+00:00\) that terminal T1 made earlier/],
  },
  {
    name: 'the same terminal and boot: an in made after the out but timed before it is flagged',
    punches: [punch('k1', '2026-06-09T17:00:00Z', 'out', { deviceId: 'T1', boot: 1, seq: 5 }), punch('k2', '2026-06-09T08:00:00Z', 'in', { deviceId: 'T1', boot: 1, seq: 6 })],
    shifts: [{ date: '2026-06-09', start: '2026-06-09T08:00:00Z', end: '2026-06-09T17:00:00Z', worked: 540, paid: 540, flags: ['clock_went_backwards'], punches: ['k2', 'k1'] }],
  },
  {
    name: 'a terminal reset at noon restarts its sequence under a new boot: not a clock going backwards',
    // Boot 1 made seq 1 (08:00) and 2 (12:00); boot 2 starts again at seq 1 (13:00) and 2 (17:00).
    // Compared across boots, seq 1 at 13:00 would wrongly look older than seq 2 at 12:00.
    punches: [punch('k1', '2026-06-09T08:00:00Z', 'in', { deviceId: 'T1', boot: 1, seq: 1 }), punch('k2', '2026-06-09T12:00:00Z', 'out', { deviceId: 'T1', boot: 1, seq: 2 }),
      punch('k3', '2026-06-09T13:00:00Z', 'in', { deviceId: 'T1', boot: 2, seq: 1 }), punch('k4', '2026-06-09T17:00:00Z', 'out', { deviceId: 'T1', boot: 2, seq: 2 })],
    shifts: [
      { date: '2026-06-09', start: '2026-06-09T08:00:00Z', end: '2026-06-09T12:00:00Z', worked: 240, paid: 240, punches: ['k1', 'k2'] },
      { date: '2026-06-09', start: '2026-06-09T13:00:00Z', end: '2026-06-09T17:00:00Z', worked: 240, paid: 240, punches: ['k3', 'k4'] },
    ],
  },
  {
    name: 'two terminals have their own sequences: not a clock going backwards',
    punches: [punch('k1', '2026-06-09T17:00:00Z', 'out', { deviceId: 'T1', boot: 1, seq: 5 }), punch('k2', '2026-06-09T08:00:00Z', 'in', { deviceId: 'T2', boot: 1, seq: 6 })],
    shifts: [{ date: '2026-06-09', start: '2026-06-09T08:00:00Z', end: '2026-06-09T17:00:00Z', worked: 540, paid: 540, punches: ['k2', 'k1'] }],
  },
  {
    name: 'an out timed in 2000 (clock reset) is excluded; the shift it was received in is flagged',
    policy: { plausibleFrom: at('2026-01-01T00:00:00Z'), plausibleUntil: at('2027-01-01T00:00:00Z') },
    punches: [punch('p1', '2026-06-16T08:00:00Z', 'in'), punch('p2', '2000-01-01T00:00:00Z', 'out', { receivedAt: at('2026-06-16T17:00:00Z') })],
    shifts: [{ date: '2026-06-16', start: '2026-06-16T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out', 'implausible_time'], punches: ['p1'] }],
    excluded: [{ id: 'p2', reason: 'implausible_time', shift: 'p1' }],
    explain: [/p2 left out: its time 2000-01-01 00:00 \+00:00 is outside the plausible range, received 2026-06-16 17:00 \+00:00/],
  },
  {
    name: 'an implausible punch with no arrival time flags no shift, and is still listed',
    policy: { plausibleFrom: at('2026-01-01T00:00:00Z'), plausibleUntil: at('2027-01-01T00:00:00Z') },
    punches: [punch('p1', '2026-06-16T08:00:00Z', 'in'), punch('p2', '2026-06-16T17:00:00Z', 'out'), punch('p3', '2099-01-01T00:00:00Z', 'in')],
    shifts: [{ date: '2026-06-16', start: '2026-06-16T08:00:00Z', end: '2026-06-16T17:00:00Z', worked: 540, paid: 540, punches: ['p1', 'p2'] }],
    excluded: [{ id: 'p3', reason: 'implausible_time', shift: null }],
  },
  {
    name: 'plausibleFrom is inclusive, plausibleUntil exclusive',
    policy: { plausibleFrom: at('2026-06-17T08:00:00Z'), plausibleUntil: at('2026-06-17T17:00:00Z') },
    punches: [punch('p1', '2026-06-17T08:00:00Z', 'in'), punch('p2', '2026-06-17T17:00:00Z', 'out', { receivedAt: at('2026-06-17T17:00:05Z') })],
    shifts: [{ date: '2026-06-17', start: '2026-06-17T08:00:00Z', end: null, worked: 0, paid: 0, flags: ['missing_check_out', 'implausible_time'], punches: ['p1'] }],
    excluded: [{ id: 'p2', reason: 'implausible_time', shift: 'p1' }],
  },
  {
    name: 'a punch with no usable time or direction is excluded as invalid',
    punches: [punch('v1', '2026-06-17T08:00:00Z', 'in'), { id: 'v2', ts: Number.NaN, dir: 'out', origin: 'terminal' },
      { id: 'v3', ts: at('2026-06-17T12:00:00Z'), dir: 'sideways' as Direction, origin: 'terminal' }, punch('v4', '2026-06-17T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-17', start: '2026-06-17T08:00:00Z', end: '2026-06-17T17:00:00Z', worked: 540, paid: 540, punches: ['v1', 'v4'] }],
    excluded: [{ id: 'v3', reason: 'invalid', shift: null }, { id: 'v2', reason: 'invalid', shift: null }],
  },
  {
    name: 'a second punch with an id already seen is excluded as duplicate_id',
    punches: [punch('v1', '2026-06-17T08:00:00Z', 'in'), punch('v2', '2026-06-17T17:00:00Z', 'out'), punch('v1', '2026-06-17T12:00:00Z', 'out')],
    shifts: [{ date: '2026-06-17', start: '2026-06-17T08:00:00Z', end: '2026-06-17T17:00:00Z', worked: 540, paid: 540, punches: ['v1', 'v2'] }],
    excluded: [{ id: 'v1', reason: 'duplicate_id', shift: null }],
  },

  // --- Breaks ---------------------------------------------------------------------------------------
  {
    name: 'unpaid lunch break: 9 h present, 30 min break, 8 h 30 min paid',
    punches: lunch(),
    shifts: [{ date: '2026-06-10', start: '2026-06-10T08:00:00Z', end: '2026-06-10T17:00:00Z', worked: 540, brk: 30, paid: 510, punches: ['l1', 'l2', 'l3', 'l4'] }],
    explain: [/paid: 9 h 00 min less 30 min unpaid break = 8 h 30 min/],
  },
  {
    name: 'paid lunch break: 9 h paid',
    policy: { breaks: 'paid' },
    punches: lunch(),
    shifts: [{ date: '2026-06-10', start: '2026-06-10T08:00:00Z', end: '2026-06-10T17:00:00Z', worked: 540, brk: 30, paid: 540, punches: ['l1', 'l2', 'l3', 'l4'] }],
  },
  {
    name: 'an unknown punch during a break is the break_in',
    punches: lunch('unknown'),
    shifts: [{ date: '2026-06-10', start: '2026-06-10T08:00:00Z', end: '2026-06-10T17:00:00Z', worked: 540, brk: 30, paid: 510, punches: ['l1', 'l2', 'l3', 'l4'] }],
  },
  {
    name: 'a break with no break_in lasts until the out: 12:00-17:00 unpaid, 4 h paid',
    punches: [punch('l1', '2026-06-10T08:00:00Z', 'in'), punch('l2', '2026-06-10T12:00:00Z', 'break_out'), punch('l4', '2026-06-10T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-10', start: '2026-06-10T08:00:00Z', end: '2026-06-10T17:00:00Z', worked: 540, brk: 300, paid: 240,
      flags: ['break_unmatched'], punches: ['l1', 'l2', 'l4'] }],
  },
  {
    name: 'a break_in with no break_out counts no break',
    punches: [punch('l1', '2026-06-10T08:00:00Z', 'in'), punch('l3', '2026-06-10T12:30:00Z', 'break_in'), punch('l4', '2026-06-10T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-10', start: '2026-06-10T08:00:00Z', end: '2026-06-10T17:00:00Z', worked: 540, paid: 540,
      flags: ['break_unmatched'], punches: ['l1', 'l3', 'l4'] }],
  },
  {
    name: 'a second break_out 10 min into the break is ignored: the break runs 12:00-12:30',
    punches: [punch('l1', '2026-06-10T08:00:00Z', 'in'), punch('l2', '2026-06-10T12:00:00Z', 'break_out'), punch('lx', '2026-06-10T12:10:00Z', 'break_out'),
      punch('l3', '2026-06-10T12:30:00Z', 'break_in'), punch('l4', '2026-06-10T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-10', start: '2026-06-10T08:00:00Z', end: '2026-06-10T17:00:00Z', worked: 540, brk: 30, paid: 510,
      flags: ['break_unmatched'], punches: ['l1', 'l2', 'lx', 'l3', 'l4'] }],
  },

  // --- Rounding (15 min unless said; the grid is the site's wall clock) ---------------------------------
  {
    name: 'nearest: 07:52:30 is exactly half-way and goes up to 08:00; 17:07:29 goes down to 17:00',
    policy: { rounding: { mode: 'nearest', minutes: 15 } },
    // worked 17:07:29 - 07:52:30 = 9 h 14 min 59 s; paid 08:00-17:00 = 9 h.
    punches: [punch('r1', '2026-06-11T07:52:30Z', 'in'), punch('r2', '2026-06-11T17:07:29Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T07:52:30Z', end: '2026-06-11T17:07:29Z', worked: 554 + 59 / 60, paid: 540,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:00:00Z', punches: ['r1', 'r2'] }],
    explain: [/rounded to 15 min \(to the nearest, half-way later\): check-in 2026-06-11 07:52:30 \+00:00 to 2026-06-11 08:00 \+00:00/],
  },
  {
    name: 'nearest: 07:52:29 goes down to 07:45; 17:07:30 goes up to 17:15',
    policy: { rounding: { mode: 'nearest', minutes: 15 } },
    // worked 17:07:30 - 07:52:29 = 9 h 15 min 1 s; paid 07:45-17:15 = 9 h 30 min.
    punches: [punch('r1', '2026-06-11T07:52:29Z', 'in'), punch('r2', '2026-06-11T17:07:30Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T07:52:29Z', end: '2026-06-11T17:07:30Z', worked: 555 + 1 / 60, paid: 570,
      paidStart: '2026-06-11T07:45:00Z', paidEnd: '2026-06-11T17:15:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'up: 07:45:01 goes to 08:00, 17:00:00 is on the grid and stays',
    policy: { rounding: { mode: 'up', minutes: 15 } },
    // worked 17:00:00 - 07:45:01 = 9 h 14 min 59 s; paid 08:00-17:00 = 9 h.
    punches: [punch('r1', '2026-06-11T07:45:01Z', 'in'), punch('r2', '2026-06-11T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T07:45:01Z', end: '2026-06-11T17:00:00Z', worked: 554 + 59 / 60, paid: 540,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:00:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'up: 17:00:01 goes to 17:15',
    policy: { rounding: { mode: 'up', minutes: 15 } },
    // worked 9 h 0 min 1 s; paid 08:00-17:15 = 9 h 15 min.
    punches: [punch('r1', '2026-06-11T08:00:00Z', 'in'), punch('r2', '2026-06-11T17:00:01Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T08:00:00Z', end: '2026-06-11T17:00:01Z', worked: 540 + 1 / 60, paid: 555,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:15:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'down: 08:14:59 goes to 08:00, 17:00:00 stays',
    policy: { rounding: { mode: 'down', minutes: 15 } },
    // worked 17:00:00 - 08:14:59 = 8 h 45 min 1 s; paid 08:00-17:00 = 9 h.
    punches: [punch('r1', '2026-06-11T08:14:59Z', 'in'), punch('r2', '2026-06-11T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T08:14:59Z', end: '2026-06-11T17:00:00Z', worked: 525 + 1 / 60, paid: 540,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:00:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'in_up_out_down: 07:45:01 goes up to 08:00, 17:14:59 down to 17:00',
    policy: { rounding: { mode: 'in_up_out_down', minutes: 15 } },
    // worked 17:14:59 - 07:45:01 = 9 h 29 min 58 s; paid 9 h.
    punches: [punch('r1', '2026-06-11T07:45:01Z', 'in'), punch('r2', '2026-06-11T17:14:59Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T07:45:01Z', end: '2026-06-11T17:14:59Z', worked: 569 + 58 / 60, paid: 540,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:00:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'in_up_out_down: times on the grid stay',
    policy: { rounding: { mode: 'in_up_out_down', minutes: 15 } },
    punches: [punch('r1', '2026-06-11T08:00:00Z', 'in'), punch('r2', '2026-06-11T17:00:00Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T08:00:00Z', end: '2026-06-11T17:00:00Z', worked: 540, paid: 540,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:00:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'in_up_out_down on a 13 min shift: 08:15 is after 08:00, paid 0, never negative',
    policy: { rounding: { mode: 'in_up_out_down', minutes: 15 } },
    punches: [punch('r1', '2026-06-11T08:01:00Z', 'in'), punch('r2', '2026-06-11T08:14:00Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T08:01:00Z', end: '2026-06-11T08:14:00Z', worked: 13, paid: 0,
      paidStart: '2026-06-11T08:15:00Z', paidEnd: '2026-06-11T08:00:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'rounding is to the site wall clock: Kolkata, nearest hour, 08:29:59 IST to 08:00, 17:30 IST to 18:00',
    tz: 'Asia/Kolkata',
    policy: { rounding: { mode: 'nearest', minutes: 60 } },
    // 08:29:59 IST = 02:59:59Z; 08:00 IST = 02:30Z (a UTC grid would give 03:00Z = 08:30 IST).
    // 17:30:00 IST = 12:00:00Z, exactly half-way: 18:00 IST = 12:30Z. Paid 08:00-18:00 = 10 h;
    // worked 12:00:00 - 02:59:59 = 9 h 0 min 1 s.
    punches: [punch('r1', '2026-06-11T02:59:59Z', 'in'), punch('r2', '2026-06-11T12:00:00Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T02:59:59Z', end: '2026-06-11T12:00:00Z', worked: 540 + 1 / 60, paid: 600,
      paidStart: '2026-06-11T02:30:00Z', paidEnd: '2026-06-11T12:30:00Z', punches: ['r1', 'r2'] }],
  },
  {
    name: 'rounding and an unpaid break: the ends are rounded, the break is not',
    policy: { rounding: { mode: 'nearest', minutes: 15 } },
    // 07:53 is 8 min past 07:45 (>= 7 min 30 s): 08:00; 17:04 is 4 min past 17:00: 17:00.
    // worked 07:53-17:04 = 9 h 11 min; paid 9 h - 30 min = 8 h 30 min.
    punches: [punch('r1', '2026-06-11T07:53:00Z', 'in'), punch('r2', '2026-06-11T12:00:00Z', 'break_out'),
      punch('r3', '2026-06-11T12:30:00Z', 'break_in'), punch('r4', '2026-06-11T17:04:00Z', 'out')],
    shifts: [{ date: '2026-06-11', start: '2026-06-11T07:53:00Z', end: '2026-06-11T17:04:00Z', worked: 551, brk: 30, paid: 510,
      paidStart: '2026-06-11T08:00:00Z', paidEnd: '2026-06-11T17:00:00Z', punches: ['r1', 'r2', 'r3', 'r4'] }],
  },

  // --- Overtime ---------------------------------------------------------------------------------------
  {
    name: 'daily overtime: 4 h + 5 h 30 min on one day, beyond 8 h is 1 h 30 min, on the later shift',
    policy: { dailyOvertimeMinutes: 8 * H },
    punches: [punch('o1', '2026-06-12T08:00:00Z', 'in'), punch('o2', '2026-06-12T12:00:00Z', 'out'),
      punch('o3', '2026-06-12T13:00:00Z', 'in'), punch('o4', '2026-06-12T18:30:00Z', 'out')],
    shifts: [
      { date: '2026-06-12', start: '2026-06-12T08:00:00Z', end: '2026-06-12T12:00:00Z', worked: 240, paid: 240, punches: ['o1', 'o2'] },
      { date: '2026-06-12', start: '2026-06-12T13:00:00Z', end: '2026-06-12T18:30:00Z', worked: 330, paid: 330, ot: 90, punches: ['o3', 'o4'] },
    ],
    totals: { paidMinutes: 570, overtimeMinutes: 90, dailyOvertimeMinutes: 90, weeklyOvertimeMinutes: 0, regularMinutes: 480 },
  },
  {
    name: 'daily and weekly overtime over a week crossing into July (Berlin, weeks from Monday)',
    tz: 'Europe/Berlin',
    policy: { dailyOvertimeMinutes: 8 * H, weeklyOvertimeMinutes: 40 * H },
    // Mon-Fri 9 h each: 1 h daily overtime each, 8 h straight each; straight time reaches exactly
    // 40 h on Friday, which is not beyond it. Saturday 6 h: no daily overtime, all 6 h beyond the
    // weekly 40 h. Paid 5 x 9 h + 6 h = 51 h = 3060; daily 5 h = 300; weekly 6 h = 360; regular 40 h.
    punches: weekCrossingMonth,
    shifts: [weekday('06-29', 60), weekday('06-30', 60), weekday('07-01', 60), weekday('07-02', 60), weekday('07-03', 60), saturday(360)],
    totals: { paidMinutes: 3060, dailyOvertimeMinutes: 300, weeklyOvertimeMinutes: 360, overtimeMinutes: 660, regularMinutes: 2400 },
  },
  {
    name: 'the same with weeks from Wednesday: 16 h + 30 h straight, no weekly overtime',
    tz: 'Europe/Berlin',
    policy: { dailyOvertimeMinutes: 8 * H, weeklyOvertimeMinutes: 40 * H, weekStartsOn: 3 },
    // Weeks Wed 06-24..Tue 06-30 (Mon, Tue: 8 h + 8 h straight) and Wed 07-01..Tue 07-07 (3 x 8 h + 6 h = 30 h).
    punches: weekCrossingMonth,
    shifts: [weekday('06-29', 60, { week: '2026-06-24' }), weekday('06-30', 60), weekday('07-01', 60, { week: '2026-07-01' }), weekday('07-02', 60),
      weekday('07-03', 60), saturday(0)],
    totals: { paidMinutes: 3060, dailyOvertimeMinutes: 300, weeklyOvertimeMinutes: 0, overtimeMinutes: 300 },
  },
  {
    name: 'a July window over that week: only July shifts, but the weekly overtime still counts June\'s hours',
    tz: 'Europe/Berlin',
    policy: { dailyOvertimeMinutes: 8 * H, weeklyOvertimeMinutes: 40 * H },
    from: '2026-07-01',
    to: '2026-07-31',
    // Selected: Wed, Thu, Fri (9 h, 1 h daily overtime each) and Sat (6 h weekly overtime, as above).
    // Paid 3 x 9 h + 6 h = 33 h = 1980; overtime 3 h + 6 h = 540; regular 1440.
    punches: weekCrossingMonth,
    shifts: [weekday('07-01', 60), weekday('07-02', 60), weekday('07-03', 60), saturday(360)],
    totals: { shifts: 4, paidMinutes: 1980, dailyOvertimeMinutes: 180, weeklyOvertimeMinutes: 360, overtimeMinutes: 540, regularMinutes: 1440 },
  },

  // --- Corrections --------------------------------------------------------------------------------------
  {
    name: 'an operator adds the missing out: the open shift closes and is flagged manually_corrected',
    punches: [punch('c1', '2026-06-18T08:00:00Z', 'in')],
    corrections: [added('a1', '2026-06-18T17:00:00Z', 'out', 'alice', 'forgot to clock out')],
    shifts: [{ date: '2026-06-18', start: '2026-06-18T08:00:00Z', end: '2026-06-18T17:00:00Z', worked: 540, paid: 540, flags: ['manually_corrected'], punches: ['c1', 'a1'] }],
    explain: [/a1 out 2026-06-18 17:00 \+00:00 \(added by alice: forgot to clock out\)/],
  },
  {
    name: 'without the void, a wrong out at 12:00 makes a 4 h shift and an out with no in',
    punches: [punch('v1', '2026-06-19T08:00:00Z', 'in'), punch('v2', '2026-06-19T12:00:00Z', 'out'), punch('v3', '2026-06-19T17:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-19', start: '2026-06-19T08:00:00Z', end: '2026-06-19T12:00:00Z', worked: 240, paid: 240, punches: ['v1', 'v2'] },
      { date: '2026-06-19', start: null, end: '2026-06-19T17:00:00Z', worked: 0, paid: 0, flags: ['missing_check_in'], punches: ['v3'] },
    ],
  },
  {
    name: 'with the wrong out voided: one 9 h shift, flagged manually_corrected, the void listed',
    punches: [punch('v1', '2026-06-19T08:00:00Z', 'in'), punch('v2', '2026-06-19T12:00:00Z', 'out'), punch('v3', '2026-06-19T17:00:00Z', 'out')],
    corrections: [voided('v2', 'bob', 'pressed out instead of break')],
    shifts: [{ date: '2026-06-19', start: '2026-06-19T08:00:00Z', end: '2026-06-19T17:00:00Z', worked: 540, paid: 540, flags: ['manually_corrected'], punches: ['v1', 'v3'] }],
    excluded: [{ id: 'v2', reason: 'voided', shift: 'v1' }],
    explain: [/v2 voided by bob \(pressed out instead of break\)/],
  },
  {
    name: 'a void and an add fix a wrong direction',
    punches: [punch('v1', '2026-06-19T08:00:00Z', 'in'), punch('v2', '2026-06-19T17:00:00Z', 'in')],
    corrections: [voided('v2', 'bob', 'wrong key'), added('a2', '2026-06-19T17:00:00Z', 'out', 'bob', 'wrong key')],
    shifts: [{ date: '2026-06-19', start: '2026-06-19T08:00:00Z', end: '2026-06-19T17:00:00Z', worked: 540, paid: 540, flags: ['manually_corrected'], punches: ['v1', 'a2'] }],
    excluded: [{ id: 'v2', reason: 'voided', shift: 'v1' }],
  },
  {
    name: 'an operator\'s punch beats a terminal scan 20 s before it in the double-scan window',
    // The shift starts at the operator's 08:00:20: 08:00:20 to 17:00 = 8 h 59 min 40 s.
    punches: [punch('t1', '2026-06-20T08:00:00Z', 'in'), punch('t2', '2026-06-20T17:00:00Z', 'out')],
    corrections: [added('a1', '2026-06-20T08:00:20Z', 'in', 'carol', 'clocked in for her at the desk')],
    shifts: [{ date: '2026-06-20', start: '2026-06-20T08:00:20Z', end: '2026-06-20T17:00:00Z', worked: 539 + 40 / 60, paid: 539 + 40 / 60,
      flags: ['double_scan_dropped', 'manually_corrected'], punches: ['a1', 't2'], dropped: ['t1'] }],
  },
  {
    name: 'a void naming a punch that is not given changes nothing',
    punches: [punch('v1', '2026-06-19T08:00:00Z', 'in'), punch('v3', '2026-06-19T17:00:00Z', 'out')],
    corrections: [voided('nope', 'bob', 'typo')],
    shifts: [{ date: '2026-06-19', start: '2026-06-19T08:00:00Z', end: '2026-06-19T17:00:00Z', worked: 540, paid: 540, punches: ['v1', 'v3'] }],
    excluded: [],
  },

  // --- Window and empty input ------------------------------------------------------------------------
  {
    name: 'the window selects by site-local start date: Shanghai 2026-06-02 only',
    tz: 'Asia/Shanghai',
    from: '2026-06-02',
    to: '2026-06-02',
    // 06-01 06:00-14:00 CST (05-31T22:00Z-06-01T06:00Z); 06-01 23:00-06-02 07:00 CST (15:00Z-23:00Z, dated 06-01);
    // 06-02 09:00-17:00 CST (06-02T01:00Z-09:00Z); 06-03 06:00-14:00 CST (06-02T22:00Z-06-03T06:00Z, UTC date 06-02).
    punches: [punch('s1', '2026-05-31T22:00:00Z', 'in'), punch('s2', '2026-06-01T06:00:00Z', 'out'), punch('s3', '2026-06-01T15:00:00Z', 'in'),
      punch('s4', '2026-06-01T23:00:00Z', 'out'), punch('s5', '2026-06-02T01:00:00Z', 'in'), punch('s6', '2026-06-02T09:00:00Z', 'out'),
      punch('s7', '2026-06-02T22:00:00Z', 'in'), punch('s8', '2026-06-03T06:00:00Z', 'out')],
    shifts: [{ date: '2026-06-02', start: '2026-06-02T01:00:00Z', end: '2026-06-02T09:00:00Z', worked: 480, paid: 480, punches: ['s5', 's6'] }],
    totals: { shifts: 1, paidMinutes: 480 },
  },
  {
    name: 'the window 2026-06-01 keeps the night shift that ends on 06-02',
    tz: 'Asia/Shanghai',
    from: '2026-06-01',
    to: '2026-06-01',
    punches: [punch('s1', '2026-05-31T22:00:00Z', 'in'), punch('s2', '2026-06-01T06:00:00Z', 'out'), punch('s3', '2026-06-01T15:00:00Z', 'in'),
      punch('s4', '2026-06-01T23:00:00Z', 'out'), punch('s5', '2026-06-02T01:00:00Z', 'in'), punch('s6', '2026-06-02T09:00:00Z', 'out')],
    shifts: [
      { date: '2026-06-01', start: '2026-05-31T22:00:00Z', end: '2026-06-01T06:00:00Z', worked: 480, paid: 480, punches: ['s1', 's2'] },
      { date: '2026-06-01', start: '2026-06-01T15:00:00Z', end: '2026-06-01T23:00:00Z', worked: 480, paid: 480, punches: ['s3', 's4'] },
    ],
    totals: { shifts: 2, paidMinutes: 960 },
  },
  {
    name: 'no punches: an empty timesheet',
    punches: [],
    shifts: [],
    totals: { shifts: 0, flaggedShifts: 0, workedMinutes: 0, breakMinutes: 0, paidMinutes: 0, regularMinutes: 0, overtimeMinutes: 0 },
    excluded: [],
  },
];

t.test('hand-worked cases', async (t) => {
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const ts = run(c);
      t.same(ts.shifts.map((s, i) => project(s, c.shifts[i] ?? ({} as Want))), c.shifts.map(expected), 'shifts');
      if (c.totals) {
        const got = Object.fromEntries(Object.keys(c.totals).map((k) => [k, sec(ts.totals[k as keyof Totals])]));
        t.same(got, Object.fromEntries(Object.entries(c.totals).map(([k, v]) => [k, sec(v)])), 'totals');
      }
      if (c.excluded) t.same(ts.excluded.map((x) => ({ id: x.id, reason: x.reason, shift: x.shift })), c.excluded, 'excluded');
      else t.same(ts.excluded, [], 'nothing excluded');
      const text = ts.shifts.flatMap((s) => s.explain).join('\n');
      for (const re of c.explain ?? []) t.match(text, re, `explains ${re}`);
      t.equal(ts.flaggedShifts, ts.shifts.filter((s) => s.flags.length > 0).length, 'flaggedShifts counts flagged shifts');
    });
  }
});

t.test('days and weeks of the week crossing into July', async (t) => {
  const ts = computeTimesheet({ punches: weekCrossingMonth, timeZone: 'Europe/Berlin',
    policy: policy({ dailyOvertimeMinutes: 8 * H, weeklyOvertimeMinutes: 40 * H }), from: '2026-07-01', to: '2026-07-31' });
  t.same(ts.days.map((d) => [d.date, d.paidMinutes, d.dailyOvertimeMinutes, d.weeklyOvertimeMinutes]),
    [['2026-07-01', 540, 60, 0], ['2026-07-02', 540, 60, 0], ['2026-07-03', 540, 60, 0], ['2026-07-04', 360, 0, 360]]);
  // The week is reported whole, June days included: 51 h paid, 5 h daily, 6 h weekly overtime.
  t.same(ts.weeks.map((w) => [w.start, w.end, w.shifts, w.paidMinutes, w.dailyOvertimeMinutes, w.weeklyOvertimeMinutes, w.regularMinutes]),
    [['2026-06-29', '2026-07-05', 6, 3060, 300, 360, 2400]]);
  t.equal(ts.policyVersion, 1);
  t.equal(ts.timeZone, 'Europe/Berlin');
  t.same([ts.from, ts.to], ['2026-07-01', '2026-07-31']);
});

t.test('the timesheet names the policy version that produced it', async (t) => {
  const ts = computeTimesheet({ punches: [], policy: policy({ version: 42 }), timeZone: 'UTC' });
  t.equal(ts.policyVersion, 42);
  t.same([ts.shifts, ts.days, ts.weeks, ts.excluded, ts.flaggedShifts], [[], [], [], [], 0]);
});

t.test('raw punches and corrections are never modified', async (t) => {
  const punches = [punch('r1', '2026-06-18T08:00:00Z', 'unknown', { deviceId: 'T1', boot: 1, seq: 2 }),
    punch('r2', '2026-06-18T08:00:10Z', 'in', { deviceId: 'T1', boot: 1, seq: 1 }), punch('r3', '2026-06-18T12:00:00Z', 'out')];
  const corrections = [added('a1', '2026-06-18T17:00:00Z', 'out', 'alice', 'forgot'), voided('r3', 'alice', 'wrong')];
  const before = structuredClone({ punches, corrections });
  const deepFreeze = <T>(o: T): T => { if (o && typeof o === 'object') { Object.values(o).forEach(deepFreeze); Object.freeze(o); } return o; };
  // Frozen inputs: any write to them would throw in the module's strict mode.
  const ts = computeTimesheet(deepFreeze({ punches, corrections, policy: policy(), timeZone: 'UTC' }));
  t.same({ punches, corrections }, before);
  t.same(ts.shifts.map((s) => s.punches), [['r2', 'a1']]);
  t.same(ts.shifts.map((s) => s.flags), [['double_scan_dropped', 'clock_went_backwards', 'manually_corrected']]);
});

t.test('a timesheet is plain data: it survives JSON unchanged', async (t) => {
  const ts = run(cases[0]!);
  t.same(JSON.parse(JSON.stringify(ts)), ts);
});

t.test('invalid input is refused with every problem named', async (t) => {
  const bad: [string, Partial<TimesheetInput>, RegExp][] = [
    ['unknown zone', { timeZone: 'Mars/Olympus' }, /timeZone "Mars\/Olympus"/],
    ['no maximum', { policy: policy({ maxShiftMinutes: 0 }) }, /maxShiftMinutes/],
    ['negative window', { policy: policy({ doubleScanSeconds: -1 }) }, /doubleScanSeconds/],
    ['rounding 7 min does not divide a day', { policy: policy({ rounding: { mode: 'nearest', minutes: 7 } }) }, /rounding.minutes/],
    ['rounding 0 min', { policy: policy({ rounding: { mode: 'up', minutes: 0 } }) }, /rounding.minutes/],
    ['unknown rounding', { policy: policy({ rounding: { mode: 'banker' } as unknown as Policy['rounding'] }) }, /rounding.mode/],
    ['week day 0', { policy: policy({ weekStartsOn: 0 as Policy['weekStartsOn'] }) }, /weekStartsOn/],
    ['negative overtime', { policy: policy({ dailyOvertimeMinutes: -5 }) }, /dailyOvertimeMinutes/],
    ['bad break rule', { policy: policy({ breaks: 'sometimes' as Policy['breaks'] }) }, /breaks/],
    ['not a date', { from: '2026-02-30' }, /from must be a date/],
    ['window reversed', { from: '2026-06-02', to: '2026-06-01' }, /from must not be after to/],
    ['two problems at once', { timeZone: 'Nowhere', policy: policy({ maxShiftMinutes: -1 }) }, /timeZone "Nowhere".*; policy.maxShiftMinutes/],
  ];
  for (const [name, over, message] of bad) {
    t.throws(() => computeTimesheet({ punches: [], policy: policy(), timeZone: 'UTC', ...over }), { name: 'RangeError', message }, name);
  }
});

// ---- Properties over generated punch sequences --------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(seed: number): TimesheetInput {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tz = pick(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Shanghai', 'Australia/Lord_Howe']);
  const mode = pick(['none', 'nearest', 'up', 'down', 'in_up_out_down'] as const);
  const p = policy({
    maxShiftMinutes: pick([8 * H, 12 * H, 16 * H, 24 * H]),
    doubleScanSeconds: pick([0, 30, 60, 300]),
    rounding: mode === 'none' ? { mode } : { mode, minutes: pick([1, 5, 6, 15, 30, 60]) },
    breaks: pick(['unpaid', 'paid'] as const),
    dailyOvertimeMinutes: pick([null, 8 * H, 10 * H]),
    weeklyOvertimeMinutes: pick([null, 20 * H, 40 * H]),
    weekStartsOn: pick([1, 2, 3, 4, 5, 6, 7] as const),
  });
  // Start near a clock change, or in an ordinary month.
  let now = at(pick(['2026-03-06T00:00:00Z', '2026-03-27T00:00:00Z', '2026-04-03T00:00:00Z', '2026-06-01T00:00:00Z', '2026-10-23T00:00:00Z', '2026-10-30T00:00:00Z']));
  const implausible = rand() < 0.3;
  if (implausible) Object.assign(p, { plausibleFrom: now - 7 * 86_400_000, plausibleUntil: now + 60 * 86_400_000 });
  const punches: Punch[] = [];
  const seqs: Record<string, number> = {};
  const n = Math.floor(rand() * 40);
  for (let i = 0; i < n; i++) {
    const g = rand();
    now += g < 0.08 ? 0 : g < 0.2 ? rand() * 120_000 : g < 0.7 ? rand() * 5 * 3_600_000 : g < 0.95 ? rand() * 20 * 3_600_000 : rand() * 3 * 86_400_000;
    now = Math.round(now / 1000) * 1000;
    const deviceId = pick(['A', 'B']);
    const boot = rand() < 0.1 ? 2 : 1;
    const key = `${deviceId}/${boot}`;
    seqs[key] = (seqs[key] ?? 0) + 1;
    let ts = now;
    if (rand() < 0.08) ts -= Math.round(rand() * 2 * 3600) * 1000; // the terminal's clock went back
    if (implausible && rand() < 0.05) ts = at('2000-01-01T00:00:00Z') + i * 1000;
    const dir = pick(['in', 'out', 'unknown', 'unknown', 'in', 'out', 'break_out', 'break_in'] as const);
    const x: Punch = { id: `p${i}`, ts, dir, origin: 'terminal', deviceId, boot, seq: seqs[key] };
    if (rand() < 0.7) x.receivedAt = now + Math.round(rand() * 60) * 1000;
    punches.push(x);
  }
  const corrections: Correction[] = [];
  const voids = new Set<string>();
  for (let i = 0; i < Math.floor(rand() * 4); i++) {
    const target = punches[Math.floor(rand() * punches.length)];
    if (rand() < 0.5 && target && !voids.has(target.id)) {
      voids.add(target.id);
      corrections.push(voided(target.id, 'op', 'test'));
    } else {
      const base = target?.ts ?? now;
      corrections.push({ kind: 'add', operator: 'op', reason: 'test',
        punch: { id: `c${i}`, ts: base + Math.round((rand() - 0.5) * 8 * 3600) * 1000, dir: pick(['in', 'out'] as const), origin: 'correction' } });
    }
  }
  const input: TimesheetInput = { punches, corrections, policy: p, timeZone: tz };
  if (rand() < 0.2) input.asOf = now + Math.round(rand() * 20 * 3600) * 1000;
  return input;
}

function violations(input: TimesheetInput, ts: Timesheet): string[] {
  const out: string[] = [];
  const fail = (what: string) => out.push(what);
  const r = input.policy.rounding;
  const slack = r.mode === 'none' || r.mode === 'in_up_out_down' ? 0 : r.minutes; // rounding may add up to N minutes
  const eps = 1e-9;
  const tsOf = new Map<string, number>();
  for (const p of [...input.punches, ...(input.corrections ?? []).flatMap((c) => (c.kind === 'add' ? [c.punch] : []))]) tsOf.set(p.id, p.ts);
  const seen = new Map<string, number>();
  const count = (id: string) => seen.set(id, (seen.get(id) ?? 0) + 1);
  let lastEnd = -Infinity;
  for (const s of ts.shifts) {
    const nums = [s.workedMinutes, s.breakMinutes, s.paidMinutes, s.overtimeMinutes, s.dailyOvertimeMinutes, s.weeklyOvertimeMinutes];
    if (nums.some((x) => !Number.isFinite(x) || x < 0)) fail(`${s.id}: a negative or non-finite duration ${nums}`);
    if (s.paidMinutes > s.workedMinutes + slack + eps) fail(`${s.id}: paid ${s.paidMinutes} > worked ${s.workedMinutes} + ${slack}`);
    if (s.breakMinutes > s.workedMinutes + eps) fail(`${s.id}: break longer than the shift`);
    if (s.overtimeMinutes > s.paidMinutes + eps) fail(`${s.id}: more overtime than paid`);
    if (Math.abs(s.overtimeMinutes - s.dailyOvertimeMinutes - s.weeklyOvertimeMinutes) > 1e-6) fail(`${s.id}: overtime is not daily + weekly`);
    if (s.workedMinutes > input.policy.maxShiftMinutes + eps) fail(`${s.id}: longer than the maximum shift`);
    if ((s.start === null) !== s.flags.includes('missing_check_in')) fail(`${s.id}: start ${s.start} but flags ${s.flags}`);
    if ((s.end === null) !== (s.flags.includes('missing_check_out') || s.flags.includes('in_progress'))) fail(`${s.id}: end ${s.end} but flags ${s.flags}`);
    if ((s.start === null || s.end === null) && s.workedMinutes + s.paidMinutes + s.breakMinutes !== 0) fail(`${s.id}: no start or end, yet a length`);
    if (s.start !== null && s.end !== null && s.end < s.start) fail(`${s.id}: ends before it starts`);
    if (new Set(s.flags).size !== s.flags.length || s.flags.some((f) => !FLAGS.includes(f))) fail(`${s.id}: bad flags ${s.flags}`);
    if (s.punches.length === 0 || s.id !== s.punches[0]) fail(`${s.id}: has no punches or a wrong id`);
    const times = s.punches.map((id) => tsOf.get(id)!);
    if (times.some((x, i) => i > 0 && x < times[i - 1]!)) fail(`${s.id}: punches out of order`);
    if (times[0]! < lastEnd) fail(`${s.id}: overlaps the shift before`);
    lastEnd = times[times.length - 1]!;
    if (s.dropped.length > 0 && !s.flags.includes('double_scan_dropped')) fail(`${s.id}: dropped without the flag`);
    s.punches.forEach(count);
    s.dropped.forEach(count);
  }
  for (const x of ts.excluded) count(x.id);
  for (const id of tsOf.keys()) if (seen.get(id) !== 1) fail(`${id} accounted for ${seen.get(id) ?? 0} times`);
  for (const id of seen.keys()) if (!tsOf.has(id)) fail(`${id} appears but was never given`);
  const total = (k: keyof Totals, list: { [K in keyof Totals]: number }[]) => list.reduce((a, s) => a + s[k], 0);
  for (const k of ['workedMinutes', 'breakMinutes', 'paidMinutes', 'overtimeMinutes', 'dailyOvertimeMinutes', 'weeklyOvertimeMinutes'] as const) {
    const fromShifts = ts.shifts.reduce((a, s) => a + s[k], 0);
    if (Math.abs(fromShifts - ts.totals[k]) > 1e-6) fail(`totals.${k} ${ts.totals[k]} is not the sum of shifts ${fromShifts}`);
    if (Math.abs(total(k, ts.days) - ts.totals[k]) > 1e-6) fail(`days do not add up to totals.${k}`);
    if (Math.abs(total(k, ts.weeks) - ts.totals[k]) > 1e-6) fail(`weeks do not add up to totals.${k}`);
  }
  // Daily overtime per date is exactly what the threshold leaves.
  const thr = input.policy.dailyOvertimeMinutes;
  for (const d of ts.days) {
    const want = thr === null ? 0 : Math.max(0, d.paidMinutes - thr);
    if (Math.abs(d.dailyOvertimeMinutes - want) > 1e-6) fail(`${d.date}: daily overtime ${d.dailyOvertimeMinutes}, want ${want}`);
  }
  if (ts.flaggedShifts !== ts.shifts.filter((s) => s.flags.length > 0).length) fail('flaggedShifts miscounted');
  return out;
}

t.test('properties over 400 generated punch sequences', async (t) => {
  for (let seed = 1; seed <= 400; seed++) {
    const input = generate(seed);
    const ts = computeTimesheet(input);
    const shuffled = { ...input, punches: [...input.punches].reverse(), corrections: [...(input.corrections ?? [])].reverse() };
    const problems = violations(input, ts);
    // Recomputation, in any input order, gives the same timesheet, and it is plain data.
    if (JSON.stringify(computeTimesheet(shuffled)) !== JSON.stringify(ts)) problems.push('input order changed the result');
    if (JSON.stringify(JSON.parse(JSON.stringify(ts))) !== JSON.stringify(ts)) problems.push('not plain data');
    t.same(problems, [], `seed ${seed}: ${input.punches.length} punches, ${input.timeZone}, ${ts.shifts.length} shifts`);
  }
});

t.test('the generator does reach the interesting paths', async (t) => {
  // Without this, the properties above could pass on sequences that never exercise a rule.
  const seen = new Set<string>();
  for (let seed = 1; seed <= 400; seed++) {
    const ts = computeTimesheet(generate(seed));
    for (const s of ts.shifts) s.flags.forEach((f) => seen.add(f));
    for (const x of ts.excluded) seen.add(`excluded:${x.reason}`);
    if (ts.shifts.some((s) => s.overtimeMinutes > 0)) seen.add('overtime');
    if (ts.shifts.some((s) => s.paidStart !== s.start && s.paidStart !== null)) seen.add('rounded');
  }
  for (const want of [...FLAGS, 'excluded:voided', 'excluded:implausible_time', 'overtime', 'rounded']) t.ok(seen.has(want), `reached ${want}`);
});
