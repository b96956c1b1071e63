// The timesheet of one person at one site, computed from punches and a policy (issue P3). Pure: no
// I/O, no clock, no globals, so it can be tested exhaustively and recomputed at will in a worker.
//
// THE RULES, in plain words (README quotes them for payroll staff)
//
//  1. Input. The punches of one person, as the terminals sent them, plus operator corrections.
//     Nothing given is changed: corrections are records of their own, with operator and reason.
//  2. Time. Every punch time is an instant in UTC. A duration is the difference between two
//     instants, so a night on which the clocks change is paid as long as it really was: 22:00 to
//     06:00 is 9 h on the night the clocks go back and 7 h on the night they go forward. Dates,
//     weeks and rounding follow the site's wall clock (its IANA time zone).
//  3. Left out, each listed under `excluded` (in time order) with its reason: a punch an operator voided; a punch
//     whose time is outside the policy's plausible range (plausibleFrom inclusive, plausibleUntil
//     exclusive), such as a terminal whose clock reset to 2000; a punch with no usable time or
//     direction (invalid); a second punch with an id already seen (duplicate_id). A voided or
//     implausible punch flags the shift it was nearest to: the shift whose first-to-last punch
//     span contains its time (for an implausible one: the time the hub received it), or else the
//     closest shift within the maximum shift length (the earlier one on a tie).
//  4. Order. Punches are sorted by time; equal times by arrival at the hub, then by the terminal's
//     sequence number, then by id.
//  5. Clock went backwards. A terminal numbers its events in the order it makes them. A punch
//     timed earlier than one the same terminal (same boot) made before it means the terminal's
//     clock was set back: the punch is still placed by its time, and its shift is flagged
//     clock_went_backwards.
//  6. Double scans. A punch at most doubleScanSeconds after the previous kept punch, with the same
//     direction (or where either says unknown), is a double scan: one of the two is dropped (listed
//     in the shift's `dropped`) and the shift is flagged double_scan_dropped. Kept: an operator's
//     punch over a terminal's, a punch with a direction over an unknown one, otherwise the first.
//     Two operator punches never drop each other. A window of 0 still drops a second punch at the
//     very same instant.
//  7. Directions. in, out, break_out and break_in are taken as given, never reinterpreted. An
//     unknown punch is the next expected step: in when no shift is open, out when one is open,
//     break_in during a break. Unknown punches thus alternate in, out, in, out, and never make a
//     break; after a gap longer than the maximum shift length they start again with in (rule 8).
//  8. Maximum shift length. A shift ends at most maxShiftMinutes after its first punch (exactly
//     the maximum is allowed). A punch that comes later cannot belong to the open shift:
//     - if it is an in (or unknown), the open shift had no check-out: missing_check_out;
//     - if it is an out, break_out or break_in, pairing it would make a shift longer than the
//       maximum, so the shift is split: the open part is flagged missing_check_out and
//       split_max_length, and the punch begins a part flagged missing_check_in and split_max_length.
//     Nothing is ever paired across such a gap: a forgotten check-out never becomes a 24-hour shift.
//  9. Missing punches. An in that follows an in leaves the first shift missing_check_out. An out or
//     break punch with no shift open begins a shift flagged missing_check_in. A shift missing its
//     start or its end has no length: worked, break and paid minutes are 0 until an operator
//     corrects it. A shift still open after the last punch is missing_check_out, unless `asOf` is
//     given and is less than the maximum shift length after its first punch: then it is
//     in_progress (also 0 until it ends).
// 10. Breaks. break_out then break_in within a shift is a break. A break with no break_in lasts
//     until the shift's out; a break_in with no break_out counts nothing; a second break_out during
//     a break is ignored. Each of these is flagged break_unmatched. Breaks 'unpaid' are subtracted
//     from the paid time, breaks 'paid' are not. Breaks are never rounded.
// 11. Length. workedMinutes: from check-in to check-out as elapsed, breaks included. breakMinutes:
//     the breaks. paidMinutes: from the rounded check-in to the rounded check-out, minus the breaks
//     when unpaid, never below 0. Minutes are exact: a fraction when punches are not on whole
//     minutes and rounding is none.
// 12. Rounding moves only the check-in and the check-out, to a multiple of N minutes of the site's
//     wall clock counted from midnight (N divides 1440). nearest: to the closer multiple, exactly
//     half-way goes later (N = 15: 07:52:30 becomes 08:00, 07:52:29 becomes 07:45); up: to the
//     next multiple; down: to the previous multiple; in_up_out_down: check-in up and check-out
//     down, so rounding never pays time not worked. A time already on a multiple stays.
// 13. Dates. A shift belongs to the site-local date on which it started (of its first punch when
//     the start is missing), even when it ends the next day. Its week is the 7 days starting on
//     weekStartsOn (ISO: 1 Monday ... 7 Sunday) that contain that date.
// 14. Overtime. Daily: the paid minutes of a date beyond dailyOvertimeMinutes. Weekly: the paid
//     minutes of a week beyond weeklyOvertimeMinutes, not counting those already daily overtime.
//     Overtime goes to shifts in time order: the shift during which a threshold is crossed gets the
//     part beyond it, later shifts all of theirs. A shift's overtime thus depends only on the
//     shifts before it in its day and week. A threshold of null means no overtime of that kind.
// 15. Window. from/to (site-local dates, inclusive) select the shifts dated within them. Pairing
//     and overtime are computed on all punches given, so pass punches from a maximum shift length
//     before the week containing `from` to a maximum shift length after `to`. `days` lists the dates that have a
//     selected shift; `weeks` each week holding a selected shift, with totals over the whole week;
//     `excluded` the punches left out that belong to the window (by the shift they flag, or else by
//     their own date).
// 16. Corrections. An operator adds a punch or voids one. A shift that contains an added punch, or
//     that a voided punch flags (rule 3), is flagged manually_corrected, and its explanation names
//     the operator and the reason. A punch given with origin 'correction' counts as added. A void
//     naming a punch that is not in the input changes nothing.
// 17. Flags never change pay, except that missing_check_in, missing_check_out and in_progress
//     shifts have no length. Every shift with a flag counts in flaggedShifts, for a person to review.

export type Direction = 'in' | 'out' | 'break_out' | 'break_in' | 'unknown';
type Step = Exclude<Direction, 'unknown'>;

export interface Punch {
  id: string;
  ts: number; // UTC ms, as the terminal's clock said
  dir: Direction;
  origin: 'terminal' | 'correction';
  deviceId?: string;
  boot?: number; // PROTOCOL section 3: seq restarts with a new boot
  seq?: number; // the terminal's production order within (deviceId, boot)
  receivedAt?: number; // UTC ms the hub stored it
}

export type Correction =
  | { kind: 'add'; punch: Punch; operator: string; reason: string }
  | { kind: 'void'; punchId: string; operator: string; reason: string };

export type Rounding = { mode: 'none' } | { mode: 'nearest' | 'up' | 'down' | 'in_up_out_down'; minutes: number };

export interface Policy {
  version: number;
  maxShiftMinutes: number;
  doubleScanSeconds: number;
  rounding: Rounding;
  breaks: 'unpaid' | 'paid';
  dailyOvertimeMinutes: number | null;
  weeklyOvertimeMinutes: number | null;
  weekStartsOn: 1 | 2 | 3 | 4 | 5 | 6 | 7;
  plausibleFrom?: number;
  plausibleUntil?: number;
}

export interface TimesheetInput {
  punches: readonly Punch[];
  corrections?: readonly Correction[];
  policy: Policy;
  timeZone: string;
  from?: string; // site-local YYYY-MM-DD, inclusive
  to?: string;
  asOf?: number; // UTC ms "now", so that a shift still under way is in_progress, not missing_check_out
}

export const FLAGS = ['missing_check_in', 'missing_check_out', 'split_max_length', 'in_progress', 'double_scan_dropped',
  'clock_went_backwards', 'implausible_time', 'break_unmatched', 'manually_corrected'] as const;
export type Flag = (typeof FLAGS)[number];

export interface Break { start: number; end: number | null; minutes: number; punches: string[] }

export interface Shift {
  id: string; // the id of its first punch: stable across recomputation
  date: string;
  week: string; // first date of its week
  start: number | null;
  end: number | null;
  startLocal: string | null; // ISO 8601 with the site's offset, for display
  endLocal: string | null;
  paidStart: number | null; // start and end after rounding
  paidEnd: number | null;
  workedMinutes: number;
  breakMinutes: number;
  paidMinutes: number;
  dailyOvertimeMinutes: number;
  weeklyOvertimeMinutes: number;
  overtimeMinutes: number;
  breaks: Break[];
  flags: Flag[];
  punches: string[]; // ids it is made of, in time order
  inferred: { id: string; as: Step }[]; // unknown punches and the direction they were given
  dropped: string[]; // double scans dropped in its favour
  explain: string[];
}

export type ExclusionReason = 'voided' | 'implausible_time' | 'invalid' | 'duplicate_id';
export interface Excluded { id: string; reason: ExclusionReason; detail: string; shift: string | null }

export interface Totals {
  shifts: number;
  flaggedShifts: number;
  workedMinutes: number;
  breakMinutes: number;
  paidMinutes: number;
  regularMinutes: number;
  dailyOvertimeMinutes: number;
  weeklyOvertimeMinutes: number;
  overtimeMinutes: number;
}
export interface DayTotals extends Totals { date: string }
export interface WeekTotals extends Totals { start: string; end: string }

export interface Timesheet {
  policyVersion: number;
  timeZone: string;
  from: string | null;
  to: string | null;
  shifts: Shift[];
  days: DayTotals[];
  weeks: WeekTotals[];
  totals: Totals;
  flaggedShifts: number;
  excluded: Excluded[];
}

const SEC = 1000;
const MIN = 60_000;
const DAY = 86_400_000;
// Outside these years local dates cannot be formatted reliably (eras, two-digit years).
const VALID_MIN = Date.UTC(1000, 0, 1);
const VALID_MAX = Date.UTC(9999, 0, 1);
const STEPS: readonly Direction[] = ['in', 'out', 'break_out', 'break_in', 'unknown'];
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

interface AddedBy { operator: string | null; reason: string | null }
interface Item {
  p: Punch;
  added: AddedBy | null; // set for operator punches
  backwards: string | null; // why its clock went backwards
  dropped: { item: Item; line: string }[];
}
interface Role { item: Item; as: Step; inferred: boolean }
interface Work {
  first: Item;
  roles: Role[];
  start: number | null;
  end: number | null;
  state: 'working' | 'break' | 'closed';
  breaks: { start: number; end: number | null; ids: string[] }[];
  flags: Set<Flag>;
  notes: string[];
  review: string[];
  out: Shift | null;
}

export function computeTimesheet(input: TimesheetInput): Timesheet {
  checkInput(input);
  const { policy, timeZone: tz } = input;
  const z = zone(tz);
  const maxMs = policy.maxShiftMinutes * MIN;
  const excluded: { e: Excluded; anchor: number | null }[] = [];

  // Rule 3: admit punches, or exclude them with a reason. Operator punches come after raw ones.
  const voids = new Map<string, { operator: string; reason: string }>();
  const all: { p: Punch; added: AddedBy | null }[] = input.punches.map((p) => ({ p, added: p.origin === 'correction' ? { operator: null, reason: null } : null }));
  for (const c of input.corrections ?? []) {
    if (c.kind === 'add') all.push({ p: c.punch, added: { operator: c.operator, reason: c.reason } });
    else if (!voids.has(c.punchId)) voids.set(c.punchId, { operator: c.operator, reason: c.reason });
  }
  const seen = new Set<string>();
  const items: Item[] = [];
  for (const { p, added } of all) {
    const tsOk = validTime(p.ts);
    const anchorOf = () => (tsOk && plausible(policy, p.ts) ? p.ts : validTime(p.receivedAt) ? p.receivedAt : null);
    const exclude = (reason: ExclusionReason, detail: string) => excluded.push({ e: { id: p.id, reason, detail, shift: null }, anchor: anchorOf() });
    if (seen.has(p.id)) { exclude('duplicate_id', `${p.id} was already given: this second copy is ignored`); continue; }
    seen.add(p.id);
    const v = voids.get(p.id);
    if (v) { exclude('voided', `${p.id} voided by ${v.operator} (${v.reason}): left out of pairing`); continue; }
    if (!tsOk || !STEPS.includes(p.dir)) {
      exclude('invalid', `${p.id} has no usable time or direction`);
      continue;
    }
    if (!plausible(policy, p.ts)) {
      const got = validTime(p.receivedAt) ? `, received ${z.text(p.receivedAt)}` : '';
      exclude('implausible_time', `${p.id} left out: its time ${z.text(p.ts)} is outside the plausible range${got}`);
      continue;
    }
    items.push({ p, added, backwards: null, dropped: [] });
  }

  // Rule 4.
  // A missing or unusable arrival time or seq sorts last (Infinity - Infinity is NaN: falls through).
  const arrival = (p: Punch) => (validTime(p.receivedAt) ? p.receivedAt : Infinity);
  const order = (p: Punch) => (Number.isFinite(p.seq) ? (p.seq as number) : Infinity);
  items.sort((a, b) => a.p.ts - b.p.ts || arrival(a.p) - arrival(b.p) || order(a.p) - order(b.p) ||
    (a.p.id < b.p.id ? -1 : a.p.id > b.p.id ? 1 : 0));

  // Rule 5: walk each terminal's punches in the order it made them.
  const byDevice = new Map<string, Item[]>();
  for (const it of items) {
    if (it.added || it.p.deviceId === undefined || !Number.isFinite(it.p.seq)) continue;
    const key = `${it.p.deviceId}\u0000${it.p.boot ?? ''}`;
    const list = byDevice.get(key) ?? [];
    list.push(it);
    byDevice.set(key, list);
  }
  for (const list of byDevice.values()) {
    list.sort((a, b) => (a.p.seq as number) - (b.p.seq as number));
    let latest: Item | null = null;
    for (const it of list) {
      if (latest && it.p.ts < latest.p.ts) {
        it.backwards = `${it.p.id} (seq ${it.p.seq}) is timed ${z.text(it.p.ts)}, before ${latest.p.id} (seq ${latest.p.seq}, ` +
          `${z.text(latest.p.ts)}) that terminal ${it.p.deviceId} made earlier: its clock went backwards`;
      } else latest = it;
    }
  }

  // Rule 6.
  const windowMs = policy.doubleScanSeconds * SEC;
  const rank = (it: Item) => (it.added ? 2 : it.p.dir === 'unknown' ? 0 : 1);
  const alike = (a: Direction, b: Direction) => a === b || a === 'unknown' || b === 'unknown';
  const kept: Item[] = [];
  for (const it of items) {
    const last = kept[kept.length - 1];
    const gap = last ? it.p.ts - last.p.ts : Infinity;
    if (!last || gap > windowMs || !alike(last.p.dir, it.p.dir) || (last.added && it.added)) {
      kept.push(it);
      continue;
    }
    const [keep, drop] = rank(it) > rank(last) ? [it, last] : [last, it];
    const why = rank(it) > rank(last) ? (it.added ? 'the operator\'s punch is kept' : `${it.p.id} gives the direction`) : 'the first is kept';
    const line = `${drop.p.id} (${drop.p.dir}, ${z.text(drop.p.ts)}) dropped as a double scan: ${gap / SEC} s from ${keep.p.id} (${keep.p.dir}), ` +
      `within the ${policy.doubleScanSeconds} s window; ${why}`;
    keep.dropped.push(...drop.dropped, { item: drop, line });
    drop.dropped = [];
    kept[kept.length - 1] = keep;
  }

  // Rules 7 to 10: one pass, a small state machine over the kept punches. Notes a punch causes in
  // its own shift are buffered, so that they follow the line naming the punch.
  const works: Work[] = [];
  let open: Work | null = null;
  let step: string[] = [];
  const begin = (it: Item, start: number | null, state: Work['state']): Work => {
    const w: Work = { first: it, roles: [], start, end: null, state, breaks: [], flags: new Set(), notes: [], review: [], out: null };
    works.push(w);
    if (start === null) {
      w.flags.add('missing_check_in');
      step.push(`no check-in before ${it.p.id}: the shift has no start, so no length until corrected`);
    }
    return w;
  };
  const missingOut = (w: Work, why: string) => {
    w.flags.add('missing_check_out');
    w.state = 'closed';
    w.notes.push(`no check-out: ${why}; the shift has no end, so no length until corrected`);
  };
  const unmatched = (w: Work, why: string) => {
    w.flags.add('break_unmatched');
    step.push(why);
  };
  let splitNext = false;
  for (const it of kept) {
    step = [];
    if (open && it.p.ts - open.first.p.ts > maxMs) {
      const next = it.p.dir === 'unknown' ? 'in' : it.p.dir;
      const limit = `${it.p.id} at ${z.text(it.p.ts)} is more than the maximum shift length of ${dur(maxMs)} after ${open.first.p.id}`;
      if (next === 'in') missingOut(open, limit);
      else {
        open.flags.add('split_max_length');
        missingOut(open, `${limit}, so the two are not paired: split`);
        splitNext = true;
      }
      open = null;
    }
    const inferred = it.p.dir === 'unknown';
    const as: Step = !inferred ? (it.p.dir as Step) : !open ? 'in' : open.state === 'break' ? 'break_in' : 'out';
    let w: Work;
    if (!open) {
      w = begin(it, as === 'in' ? it.p.ts : null, as === 'break_out' ? 'break' : as === 'out' ? 'closed' : 'working');
      if (splitNext) {
        w.flags.add('split_max_length');
        step.push(`split from the shift before: more than the maximum shift length of ${dur(maxMs)} after it began`);
        splitNext = false;
      }
      if (as === 'out') w.end = it.p.ts;
      if (as === 'break_out') w.breaks.push({ start: it.p.ts, end: null, ids: [it.p.id] });
      if (as === 'break_in') unmatched(w, `${it.p.id} is a break_in with no break_out before it: no break counted`);
      open = w.state === 'closed' ? null : w;
    } else if (as === 'in') {
      missingOut(open, `${it.p.id} checked in again at ${z.text(it.p.ts)} before any check-out`);
      w = begin(it, it.p.ts, 'working');
      open = w;
    } else {
      w = open;
      const brk = w.breaks[w.breaks.length - 1];
      if (as === 'out') {
        if (w.state === 'break' && brk) {
          brk.end = it.p.ts;
          brk.ids.push(it.p.id);
          unmatched(w, `the break from ${z.text(brk.start)} had no break_in: it lasts until the check-out`);
        }
        w.end = it.p.ts;
        w.state = 'closed';
        open = null;
      } else if (as === 'break_out') {
        if (w.state === 'break' && brk) unmatched(w, `${it.p.id} is a break_out during a break: ignored, the break began at ${z.text(brk.start)}`);
        else {
          w.breaks.push({ start: it.p.ts, end: null, ids: [it.p.id] });
          w.state = 'break';
        }
      } else if (w.state === 'break' && brk) {
        brk.end = it.p.ts;
        brk.ids.push(it.p.id);
        w.state = 'working';
      } else unmatched(w, `${it.p.id} is a break_in with no break_out before it: no break counted`);
    }
    w.roles.push({ item: it, as, inferred });
    const because = !inferred ? '' : as === 'in' ? ' (direction unknown: taken as in, no shift was open)'
      : as === 'out' ? ' (direction unknown: taken as out, a shift was open)' : ' (direction unknown: taken as break_in, a break was open)';
    const by = it.added ? ` (added by ${it.added.operator ?? 'an operator'}${it.added.reason ? `: ${it.added.reason}` : ''})` : '';
    w.notes.push(`${it.p.id} ${as} ${z.text(it.p.ts)}${because}${by}`, ...step);
  }
  if (open) {
    if (input.asOf !== undefined && input.asOf < open.first.p.ts + maxMs) {
      open.flags.add('in_progress');
      open.state = 'closed';
      open.notes.push(`still under way at ${z.text(input.asOf)}: no length until its check-out`);
    } else missingOut(open, 'no punch follows it');
  }

  // Review notes: double scans, clocks, operator punches.
  for (const w of works) {
    for (const r of w.roles) {
      for (const d of r.item.dropped) {
        w.flags.add('double_scan_dropped');
        w.review.push(d.line);
        if (d.item.backwards) { w.flags.add('clock_went_backwards'); w.review.push(d.item.backwards); }
      }
      if (r.item.backwards) { w.flags.add('clock_went_backwards'); w.review.push(r.item.backwards); }
      if (r.item.added) w.flags.add('manually_corrected');
    }
  }

  // Rule 3, second half: a voided or implausible punch flags the shift nearest to it. In time
  // order, so that the timesheet does not depend on the order the input came in.
  excluded.sort((a, b) => (a.anchor ?? Infinity) - (b.anchor ?? Infinity) || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0));
  const spans = works.map((w) => [w.first.p.ts, w.roles[w.roles.length - 1]!.item.p.ts] as const);
  for (const x of excluded) {
    if (x.anchor === null || (x.e.reason !== 'voided' && x.e.reason !== 'implausible_time')) continue;
    let best = -1;
    let bestGap = Infinity;
    spans.forEach(([a, b], i) => {
      const gap = x.anchor! < a ? a - x.anchor! : x.anchor! > b ? x.anchor! - b : 0;
      if (gap <= maxMs && gap < bestGap) { best = i; bestGap = gap; }
    });
    const w = works[best];
    if (!w) continue;
    x.e.shift = w.first.p.id;
    w.flags.add(x.e.reason === 'voided' ? 'manually_corrected' : 'implausible_time');
    w.review.push(x.e.detail);
  }

  // Rules 11 and 12, then 13.
  for (const w of works) w.out = finish(w, z, policy);

  // Rule 14, in time order per date, then per week.
  const shifts = works.map((w) => w.out!);
  allocate(shifts, (s) => s.date, policy.dailyOvertimeMinutes, (s) => s.paidMinutes, (s, ms, thr) => {
    s.dailyOvertimeMinutes = ms / MIN;
    s.explain.push(`daily overtime: ${dur(ms)}, beyond the daily ${dur(thr)} of ${s.date}`);
  });
  allocate(shifts, (s) => s.week, policy.weeklyOvertimeMinutes, (s) => s.paidMinutes - s.dailyOvertimeMinutes, (s, ms, thr) => {
    s.weeklyOvertimeMinutes = ms / MIN;
    s.explain.push(`weekly overtime: ${dur(ms)}, beyond the weekly ${dur(thr)} of the week from ${s.week}, daily overtime not counted again`);
  });
  for (const s of shifts) s.overtimeMinutes = (Math.round(s.dailyOvertimeMinutes * MIN) + Math.round(s.weeklyOvertimeMinutes * MIN)) / MIN;

  // Rule 15.
  const inWindow = (date: string) => (input.from === undefined || date >= input.from) && (input.to === undefined || date <= input.to);
  const selected = shifts.filter((s) => inWindow(s.date));
  const selectedIds = new Set(selected.map((s) => s.id));
  const days = new Map<string, Shift[]>();
  for (const s of selected) days.set(s.date, [...(days.get(s.date) ?? []), s]);
  const weeks = new Map<string, Shift[]>();
  for (const s of shifts) weeks.set(s.week, [...(weeks.get(s.week) ?? []), s]);
  const totals = sum(selected);
  return {
    policyVersion: policy.version,
    timeZone: tz,
    from: input.from ?? null,
    to: input.to ?? null,
    shifts: selected,
    days: [...days].map(([date, list]) => ({ date, ...sum(list) })),
    weeks: [...weeks].filter(([, list]) => list.some((s) => selectedIds.has(s.id)))
      .map(([start, list]) => ({ start, end: dateOf(dayNumber(start) + 6), ...sum(list) })),
    totals,
    flaggedShifts: totals.flaggedShifts,
    excluded: excluded
      .filter((x) => (x.e.shift !== null ? selectedIds.has(x.e.shift) : x.anchor === null || inWindow(z.date(x.anchor))))
      .map((x) => x.e),
  };
}

function finish(w: Work, z: Zone, policy: Policy): Shift {
  const first = w.start ?? w.first.p.ts;
  const date = z.date(first);
  const day = dayNumber(date);
  const week = dateOf(day - ((isoDay(day) - policy.weekStartsOn + 7) % 7));
  const lines: string[] = [];
  let workedMs = 0;
  let breakMs = 0;
  let paidMs = 0;
  let paidStart: number | null = null;
  let paidEnd: number | null = null;
  const breaks: Break[] = w.breaks.map((b) => ({ start: b.start, end: b.end, minutes: 0, punches: b.ids }));
  if (w.start !== null && w.end !== null) {
    const { start, end } = w;
    workedMs = end - start;
    lines.push(`from check-in ${z.text(start)} to check-out ${z.text(end)}: ${dur(workedMs)} elapsed`);
    const offStart = z.offset(start);
    const offEnd = z.offset(end);
    if (offStart !== offEnd) {
      lines.push(`the clocks changed during the shift (UTC${offsetText(offStart)} to UTC${offsetText(offEnd)}): the wall clock shows ` +
        `${dur(workedMs + offEnd - offStart)}, but ${dur(workedMs)} really passed, and that is what counts`);
    }
    for (const b of breaks) {
      if (b.end === null) continue;
      b.minutes = (b.end - b.start) / MIN;
      breakMs += b.end - b.start;
      lines.push(`break from ${z.text(b.start)} to ${z.text(b.end)}: ${dur(b.end - b.start)}, ${policy.breaks}`);
    }
    paidStart = start;
    paidEnd = end;
    const r = policy.rounding;
    if (r.mode !== 'none') {
      const step = r.minutes * MIN;
      paidStart = roundLocal(z, start, step, r.mode === 'nearest' ? 'nearest' : r.mode === 'down' ? 'down' : 'up');
      paidEnd = roundLocal(z, end, step, r.mode === 'nearest' ? 'nearest' : r.mode === 'up' ? 'up' : 'down');
      const rule = { nearest: 'to the nearest, half-way later', up: 'up', down: 'down', in_up_out_down: 'check-in up, check-out down' }[r.mode];
      lines.push(`rounded to ${r.minutes} min (${rule}): check-in ${z.text(start)} to ${z.text(paidStart)}, check-out ${z.text(end)} ` +
        `to ${z.text(paidEnd)}: ${dur(Math.max(0, paidEnd - paidStart))}`);
    }
    const span = Math.max(0, paidEnd - paidStart);
    paidMs = policy.breaks === 'unpaid' ? Math.max(0, span - breakMs) : span;
    lines.push(breakMs === 0 ? `paid: ${dur(paidMs)}`
      : policy.breaks === 'unpaid' ? `paid: ${dur(span)} less ${dur(breakMs)} unpaid break = ${dur(paidMs)}`
        : `paid: ${dur(paidMs)}, breaks included (paid)`);
  } else {
    lines.push('paid: 0 min, the shift has no length');
  }
  return {
    id: w.first.p.id,
    date,
    week,
    start: w.start,
    end: w.end,
    startLocal: w.start === null ? null : z.iso(w.start),
    endLocal: w.end === null ? null : z.iso(w.end),
    paidStart,
    paidEnd,
    workedMinutes: workedMs / MIN,
    breakMinutes: breakMs / MIN,
    paidMinutes: paidMs / MIN,
    dailyOvertimeMinutes: 0,
    weeklyOvertimeMinutes: 0,
    overtimeMinutes: 0,
    breaks,
    flags: FLAGS.filter((f) => w.flags.has(f)),
    punches: w.roles.map((r) => r.item.p.id),
    inferred: w.roles.filter((r) => r.inferred).map((r) => ({ id: r.item.p.id, as: r.as })),
    dropped: w.roles.flatMap((r) => r.item.dropped.map((d) => d.item.p.id)),
    explain: [...w.notes, ...w.review, ...lines],
  };
}

function allocate(shifts: Shift[], key: (s: Shift) => string, thresholdMin: number | null, minutes: (s: Shift) => number,
  set: (s: Shift, ms: number, thresholdMs: number) => void): void {
  if (thresholdMin === null) return;
  const thr = Math.round(thresholdMin * MIN);
  const running = new Map<string, number>();
  for (const s of shifts) {
    const before = running.get(key(s)) ?? 0;
    const after = before + Math.round(minutes(s) * MIN);
    running.set(key(s), after);
    const ms = Math.max(0, after - thr) - Math.max(0, before - thr);
    if (ms > 0) set(s, ms, thr);
  }
}

function sum(list: Shift[]): Totals {
  // Summed in whole milliseconds, so totals carry no floating-point drift.
  const ms = (f: (s: Shift) => number) => list.reduce((a, s) => a + Math.round(f(s) * MIN), 0) / MIN;
  const paid = ms((s) => s.paidMinutes);
  const overtime = ms((s) => s.overtimeMinutes);
  return {
    shifts: list.length,
    flaggedShifts: list.filter((s) => s.flags.length > 0).length,
    workedMinutes: ms((s) => s.workedMinutes),
    breakMinutes: ms((s) => s.breakMinutes),
    paidMinutes: paid,
    regularMinutes: (Math.round(paid * MIN) - Math.round(overtime * MIN)) / MIN,
    dailyOvertimeMinutes: ms((s) => s.dailyOvertimeMinutes),
    weeklyOvertimeMinutes: ms((s) => s.weeklyOvertimeMinutes),
    overtimeMinutes: overtime,
  };
}

function roundLocal(z: Zone, ts: number, step: number, how: 'nearest' | 'up' | 'down'): number {
  // The grid is the site's wall clock: move to local time, round, and move back by the same offset.
  const off = z.offset(ts);
  const local = ts + off;
  const down = Math.floor(local / step) * step;
  const rem = local - down;
  const r = rem === 0 ? local : how === 'down' ? down : how === 'up' ? down + step : rem * 2 >= step ? down + step : down;
  return r - off;
}

interface Zone { offset(ts: number): number; date(ts: number): string; iso(ts: number): string; text(ts: number): string }

function zone(tz: string): Zone {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  // Intl is the slow part; one timesheet asks about the same few instants many times.
  const cache = new Map<number, number>();
  const offset = (ts: number) => {
    const whole = Math.floor(ts / SEC) * SEC;
    let off = cache.get(whole);
    if (off === undefined) {
      const p: Record<string, number> = {};
      for (const part of f.formatToParts(whole)) if (part.type !== 'literal') p[part.type] = Number(part.value);
      off = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - whole;
      cache.set(whole, off);
    }
    return off;
  };
  const local = (ts: number) => {
    const off = offset(ts);
    const s = new Date(ts + off).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    const frac = s.slice(19, 23) === '.000' ? '' : s.slice(19, 23);
    return { date: s.slice(0, 10), hm: s.slice(11, 16), sec: s.slice(16, 19), frac, off: offsetText(off) };
  };
  return {
    offset,
    date: (ts) => local(ts).date,
    iso: (ts) => { const l = local(ts); return `${l.date}T${l.hm}${l.sec}${l.frac}${l.off}`; },
    text: (ts) => { const l = local(ts); return `${l.date} ${l.hm}${l.sec === ':00' && !l.frac ? '' : l.sec + l.frac} ${l.off}`; },
  };
}

function offsetText(off: number): string {
  const a = Math.abs(off) / SEC;
  const hh = String(Math.floor(a / 3600)).padStart(2, '0');
  const mm = String(Math.floor((a % 3600) / 60)).padStart(2, '0');
  const ss = a % 60 ? `:${String(a % 60).padStart(2, '0')}` : '';
  return `${off < 0 ? '-' : '+'}${hh}:${mm}${ss}`;
}

function dur(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / MIN);
  const s = (ms % MIN) / SEC;
  return `${h ? `${h} h ${String(m).padStart(2, '0')}` : m} min${s ? ` ${s} s` : ''}`;
}

const validTime = (ts: unknown): ts is number => typeof ts === 'number' && Number.isFinite(ts) && ts >= VALID_MIN && ts < VALID_MAX;
const plausible = (policy: Policy, ts: number) =>
  (policy.plausibleFrom === undefined || ts >= policy.plausibleFrom) && (policy.plausibleUntil === undefined || ts < policy.plausibleUntil);
const dayNumber = (date: string) => Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / DAY;
const dateOf = (day: number) => new Date(day * DAY).toISOString().slice(0, 10);
const isoDay = (day: number) => ((((day + 3) % 7) + 7) % 7) + 1; // 1970-01-01 (day 0) was a Thursday

function checkInput(input: TimesheetInput): void {
  const problems: string[] = [];
  const p = input.policy;
  const num = (v: unknown, min: number) => typeof v === 'number' && Number.isFinite(v) && v >= min;
  if (!Array.isArray(input.punches)) problems.push('punches must be an array');
  if (input.corrections !== undefined && !Array.isArray(input.corrections)) problems.push('corrections must be an array');
  for (const c of input.corrections ?? []) {
    if (c.kind === 'add' ? typeof c.punch?.id !== 'string' : c.kind !== 'void' || typeof c.punchId !== 'string') {
      problems.push('each correction is { kind: add, punch } or { kind: void, punchId }');
      break;
    }
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: input.timeZone });
  } catch {
    problems.push(`timeZone ${JSON.stringify(input.timeZone)} is not an IANA time zone`);
  }
  if (!p || typeof p !== 'object') problems.push('policy is missing');
  else {
    if (!Number.isInteger(p.version)) problems.push('policy.version must be an integer');
    if (!num(p.maxShiftMinutes, 0) || p.maxShiftMinutes <= 0) problems.push('policy.maxShiftMinutes must be a positive number');
    if (!num(p.doubleScanSeconds, 0)) problems.push('policy.doubleScanSeconds must be a number >= 0');
    const r = p.rounding;
    if (!r || !['none', 'nearest', 'up', 'down', 'in_up_out_down'].includes(r.mode)) problems.push('policy.rounding.mode is unknown');
    else if (r.mode !== 'none' && !(Number.isInteger(r.minutes) && r.minutes > 0 && 1440 % r.minutes === 0)) {
      problems.push('policy.rounding.minutes must be a whole number of minutes that divides a day (1440)');
    }
    if (p.breaks !== 'unpaid' && p.breaks !== 'paid') problems.push('policy.breaks must be unpaid or paid');
    if (p.dailyOvertimeMinutes !== null && !num(p.dailyOvertimeMinutes, 0)) problems.push('policy.dailyOvertimeMinutes must be null or >= 0');
    if (p.weeklyOvertimeMinutes !== null && !num(p.weeklyOvertimeMinutes, 0)) problems.push('policy.weeklyOvertimeMinutes must be null or >= 0');
    if (!Number.isInteger(p.weekStartsOn) || p.weekStartsOn < 1 || p.weekStartsOn > 7) problems.push('policy.weekStartsOn must be 1 (Monday) to 7 (Sunday)');
    if (p.plausibleFrom !== undefined && !Number.isFinite(p.plausibleFrom)) problems.push('policy.plausibleFrom must be a time in ms');
    if (p.plausibleUntil !== undefined && !Number.isFinite(p.plausibleUntil)) problems.push('policy.plausibleUntil must be a time in ms');
  }
  for (const [name, d] of [['from', input.from], ['to', input.to]] as const) {
    if (d !== undefined && (!DATE_RE.test(d) || dateOf(dayNumber(d)) !== d)) problems.push(`${name} must be a date YYYY-MM-DD`);
  }
  if (input.from !== undefined && input.to !== undefined && input.from > input.to) problems.push('from must not be after to');
  if (input.asOf !== undefined && !Number.isFinite(input.asOf)) problems.push('asOf must be a time in ms');
  if (problems.length > 0) throw new RangeError(`timesheet input is invalid: ${problems.join('; ')}`);
}
