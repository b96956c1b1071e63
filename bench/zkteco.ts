// Pure parser for ZKTeco USB attendance exports (attlog.dat): turns the file's bytes into typed punches plus a
// list of rejected lines, so a backfill can keep the good rows of a partly corrupted device dump.

export interface AttlogRecord {
  line: number;
  pin: string;
  pinWellFormed: boolean;
  localTime: string;
  ts: number;
  state: number;
  verify: number;
  workCode: string;
  raw: string;
}

export interface AttlogRejection {
  line: number;
  reason: string;
  raw: string;
}

export interface AttlogParse {
  records: AttlogRecord[];
  rejected: AttlogRejection[];
  lines: number;
}

const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const SPACE = 0x20;

// USB export column order: PIN, time, constant 1, state, verify, work code. The ADMS push body has no constant
// column, so it needs its own parser rather than a tolerant one here.
const FIELDS = 6;
const DAY_MS = 86_400_000;

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const INTEGER = /^-?\d+$/;
const WELL_FORMED_PIN = /^\d{1,20}$/;

interface LocalFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function parseAttlog(buf: Buffer, timeZone: string): AttlogParse {
  // Fail on a bad zone before reading any line, so the error does not depend on the file's contents.
  formatterFor(timeZone);
  // Scoped to this call so memory is bounded by the file and nothing outlives it.
  const offsets: OffsetCache = new Map();

  const records: AttlogRecord[] = [];
  const rejected: AttlogRejection[] = [];
  let lines = 0;
  let start = 0;

  while (start < buf.length) {
    let end = buf.indexOf(LF, start);
    const next = end === -1 ? buf.length : end + 1;
    if (end === -1) end = buf.length;
    if (end > start && buf[end - 1] === CR) end--;
    lines++;
    const result = parseLine(buf, start, end, lines, timeZone, offsets);
    if ('reason' in result) rejected.push(result);
    else records.push(result);
    start = next;
  }

  return { records, rejected, lines };
}

function parseLine(
  buf: Buffer,
  start: number,
  end: number,
  line: number,
  timeZone: string,
  offsets: OffsetCache,
): AttlogRecord | AttlogRejection {
  const raw = buf.toString('latin1', start, end);

  // Split on the TAB byte rather than on decoded text: the PIN field can hold any byte the flash happened to contain.
  const tabs: number[] = [];
  for (let i = start; i < end; i++) {
    if (buf[i] === TAB) tabs.push(i);
  }
  if (tabs.length !== FIELDS - 1) {
    return { line, reason: `expected ${FIELDS} tab-separated fields, got ${tabs.length + 1}`, raw };
  }
  const [tab1, tab2, tab3, tab4, tab5] = tabs as [number, number, number, number, number];

  const localTime = buf.toString('latin1', tab1 + 1, tab2);
  const fields = splitLocalTime(localTime);
  if (fields === 'format') return { line, reason: 'time not YYYY-MM-DD HH:MM:SS', raw };
  if (fields === 'impossible') return { line, reason: `impossible date ${localTime}`, raw };

  const state = parseInteger(buf.toString('latin1', tab3 + 1, tab4));
  if (state === undefined) return { line, reason: 'state not an integer', raw };
  const verify = parseInteger(buf.toString('latin1', tab4 + 1, tab5));
  if (verify === undefined) return { line, reason: 'verify not an integer', raw };

  let pinStart = start;
  let pinEnd = tab1;
  while (pinStart < pinEnd && buf[pinStart] === SPACE) pinStart++;
  while (pinEnd > pinStart && buf[pinEnd - 1] === SPACE) pinEnd--;
  const pin = buf.toString('utf8', pinStart, pinEnd);

  return {
    line,
    pin,
    pinWellFormed: WELL_FORMED_PIN.test(pin),
    localTime,
    ts: localFieldsToUtc(fields, timeZone, offsets),
    state,
    verify,
    workCode: buf.toString('latin1', tab5 + 1, end),
    raw,
  };
}

function parseInteger(text: string): number | undefined {
  if (!INTEGER.test(text)) return undefined;
  const n = Number(text);
  // Past 2^53 the value would silently change, which is worse than rejecting the line.
  return Number.isSafeInteger(n) ? n : undefined;
}

function splitLocalTime(localTime: string): LocalFields | 'format' | 'impossible' {
  const m = LOCAL_TIME.exec(localTime);
  if (m === null) return 'format';
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number, number, number, number, number, number,
  ];
  if (month < 1 || month > 12) return 'impossible';
  if (day < 1 || day > daysInMonth(year, month)) return 'impossible';
  // No leap seconds: devices never write :60 and JavaScript time cannot represent it.
  if (hour > 23 || minute > 59 || second > 59) return 'impossible';
  return { year, month, day, hour, minute, second };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function zonedLocalToUtc(localTime: string, timeZone: string): number | undefined {
  const fields = splitLocalTime(localTime);
  if (typeof fields === 'string') return undefined;
  return localFieldsToUtc(fields, timeZone, new Map());
}

function localFieldsToUtc(f: LocalFields, timeZone: string, offsets: OffsetCache): number {
  const wall = utcFromFields(f.year, f.month, f.day, f.hour, f.minute, f.second);

  // Assumes a zone changes offset at most once within a day either side of this wall time (true of tzdb in
  // practice), so the offsets a day before and after cover every reading of it. A candidate is valid when the
  // zone really shows this wall time at that instant.
  const before = offsetAt(wall - DAY_MS, timeZone, offsets);
  const after = offsetAt(wall + DAY_MS, timeZone, offsets);
  let best: number | undefined;
  for (const offset of before === after ? [before] : [before, after]) {
    const candidate = wall - offset;
    if (offsetAt(candidate, timeZone, offsets) !== offset) continue;
    // Ambiguous (clocks turned back): the earlier instant, i.e. the offset in force before the change.
    if (best === undefined || candidate < best) best = candidate;
  }
  if (best !== undefined) return best;

  // Inside a gap (clocks turned forward) no instant shows this wall time. Reading it with the offset from before
  // the gap lands after the gap by the gap's length (02:30 becomes 03:30), like java.time and Temporal.
  return wall - before;
}

// Date.UTC maps years 0-99 to 1900-1999, so set the full year explicitly.
function utcFromFields(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const d = new Date(Date.UTC(2000, 0, 1, hour, minute, second));
  d.setUTCFullYear(year, month - 1, day);
  return d.getTime();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    // h23 because with hour12:false some engines print midnight as 24; era so that years <= 0 round-trip.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const HOUR_MS = 3_600_000;

// Zone offset in milliseconds by UTC hour number, for one zone.
type OffsetCache = Map<number, number>;

// Milliseconds to add to a UTC instant to get the zone's wall time at that instant. formatToParts costs several
// microseconds and each wall time needs three lookups, so offsets are cached per UTC hour. tzdb never puts two
// transitions within an hour of each other, so equal offsets at both ends of an hour mean the whole hour has it.
function offsetAt(utcMs: number, timeZone: string, cache: OffsetCache): number {
  const hour = Math.floor(utcMs / HOUR_MS);
  const cached = cache.get(hour);
  if (cached !== undefined) return cached;

  const first = exactOffsetAt(hour * HOUR_MS, timeZone);
  const last = exactOffsetAt(hour * HOUR_MS + HOUR_MS - 1, timeZone);
  if (first !== last) return exactOffsetAt(utcMs, timeZone);
  cache.set(hour, first);
  return first;
}

function exactOffsetAt(utcMs: number, timeZone: string): number {
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of formatterFor(timeZone).formatToParts(utcMs)) {
    switch (part.type) {
      case 'year': year = Number(part.value); break;
      case 'month': month = Number(part.value); break;
      case 'day': day = Number(part.value); break;
      case 'hour': hour = Number(part.value); break;
      case 'minute': minute = Number(part.value); break;
      case 'second': second = Number(part.value); break;
      case 'era': bc = part.value === 'BC'; break;
    }
  }
  if (bc) year = 1 - year;
  const whole = utcMs - (((utcMs % 1000) + 1000) % 1000);
  return utcFromFields(year, month, day, hour, minute, second) - whole;
}

// States 4/5 are overtime in/out, and corrupted rows carry values like 90: neither is folded into in/out, since a
// wrong direction would pair punches into false shifts.
export function punchDirection(state: number): 'in' | 'out' | 'break_out' | 'break_in' | 'unknown' {
  switch (state) {
    case 0: return 'in';
    case 1: return 'out';
    case 2: return 'break_out';
    case 3: return 'break_in';
    default: return 'unknown';
  }
}
