// Site-local wall time for schedule checks, fast enough for the decision path: a zone's UTC
// offset is computed with Intl once per zone per quarter hour (every real zone changes offset
// on a quarter-hour boundary) and cached.

const QUARTER_HOUR = 15 * 60_000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, { bucket: number; offsetMs: number }>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** UTC offset of `tz` at instant `ms`, in milliseconds (UTC+8 is +28,800,000). */
export function zoneOffsetMs(tz: string, ms: number): number {
  const bucket = Math.floor(ms / QUARTER_HOUR);
  const cached = offsets.get(tz);
  if (cached && cached.bucket === bucket) return cached.offsetMs;
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(bucket * QUARTER_HOUR)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  const offsetMs = asUtc - bucket * QUARTER_HOUR;
  offsets.set(tz, { bucket, offsetMs });
  return offsetMs;
}

/** ISO day of week (1 Monday .. 7 Sunday) and minute of the day at `ms` in `tz`. */
export function localWeekMinute(tz: string, ms: number): { dow: number; minute: number } {
  const local = new Date(ms + zoneOffsetMs(tz, ms));
  const d = local.getUTCDay();
  return { dow: d === 0 ? 7 : d, minute: local.getUTCHours() * 60 + local.getUTCMinutes() };
}

export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}
