// Site-local wall time for schedule checks (hub/local-time.ts). Every expected value below was
// worked out by hand from the 2026 calendar and each zone's rules, not computed with Intl:
// 2026-03-01 and 2026-11-01 are Sundays, so the EU switches on 03-29 and 10-25 (01:00 UTC), the US
// on 03-08 (07:00 UTC) and 11-01 (06:00 UTC); Lord Howe leaves DST on 04-05 02:00 (+11) and enters
// it on 10-04 02:00 (+10:30), shifting by 30 minutes only. 2026-12-07 is a Monday.
import t from 'tap';
import { isValidTimeZone, localWeekMinute, zoneOffsetMs } from '../../hub/local-time.js';

const H = 3_600_000;
const M = 60_000;

interface Case { tz: string; at: string; offset: number; dow: number; minute: number; why: string }

const cases: Case[] = [
  { tz: 'UTC', at: '2026-12-07T00:00:00Z', offset: 0, dow: 1, minute: 0, why: 'UTC Monday midnight' },
  // Europe/Berlin, spring forward: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
  { tz: 'Europe/Berlin', at: '2026-03-29T00:59:59Z', offset: 1 * H, dow: 7, minute: 119, why: 'last second of CET: 01:59:59' },
  { tz: 'Europe/Berlin', at: '2026-03-29T01:00:00Z', offset: 2 * H, dow: 7, minute: 180, why: 'first instant of CEST: 03:00, 02:xx never happens' },
  { tz: 'Europe/Berlin', at: '2026-03-28T23:00:00Z', offset: 1 * H, dow: 7, minute: 0, why: 'Saturday 23:00 UTC is already Sunday in Berlin' },
  // Europe/Berlin, fall back: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:xx happens twice.
  { tz: 'Europe/Berlin', at: '2026-10-25T00:30:00Z', offset: 2 * H, dow: 7, minute: 150, why: '02:30 CEST (first pass)' },
  { tz: 'Europe/Berlin', at: '2026-10-25T00:59:59Z', offset: 2 * H, dow: 7, minute: 179, why: 'last second of CEST: 02:59:59' },
  { tz: 'Europe/Berlin', at: '2026-10-25T01:00:00Z', offset: 1 * H, dow: 7, minute: 120, why: 'back to 02:00 CET' },
  { tz: 'Europe/Berlin', at: '2026-10-25T01:30:00Z', offset: 1 * H, dow: 7, minute: 150, why: '02:30 CET (second pass)' },
  // America/New_York.
  { tz: 'America/New_York', at: '2026-03-08T06:59:59Z', offset: -5 * H, dow: 7, minute: 119, why: 'last second of EST: 01:59:59' },
  { tz: 'America/New_York', at: '2026-03-08T07:00:00Z', offset: -4 * H, dow: 7, minute: 180, why: 'first instant of EDT: 03:00' },
  { tz: 'America/New_York', at: '2026-11-01T05:59:59Z', offset: -4 * H, dow: 7, minute: 119, why: 'last second of EDT: 01:59:59' },
  { tz: 'America/New_York', at: '2026-11-01T06:00:00Z', offset: -5 * H, dow: 7, minute: 60, why: 'back to 01:00 EST' },
  { tz: 'America/New_York', at: '2026-12-13T02:00:00Z', offset: -5 * H, dow: 6, minute: 21 * 60, why: 'Sunday in UTC, still Saturday 21:00 in New York' },
  { tz: 'America/New_York', at: '2026-07-12T01:00:00Z', offset: -4 * H, dow: 6, minute: 21 * 60, why: 'Sunday in UTC, Saturday 21:00 EDT' },
  // Half- and quarter-hour zones.
  { tz: 'Asia/Kolkata', at: '2026-12-07T02:29:00Z', offset: 5 * H + 30 * M, dow: 1, minute: 7 * 60 + 59, why: 'Monday 07:59 IST' },
  { tz: 'Asia/Kolkata', at: '2026-12-07T02:30:00Z', offset: 5 * H + 30 * M, dow: 1, minute: 8 * 60, why: 'Monday 08:00 IST' },
  { tz: 'Asia/Kolkata', at: '2026-12-06T18:29:59Z', offset: 5 * H + 30 * M, dow: 7, minute: 1439, why: 'Sunday 23:59:59 IST' },
  { tz: 'Asia/Kolkata', at: '2026-12-06T18:30:00Z', offset: 5 * H + 30 * M, dow: 1, minute: 0, why: 'Monday 00:00 IST while UTC is Sunday' },
  { tz: 'Asia/Kathmandu', at: '2026-12-07T18:14:59Z', offset: 5 * H + 45 * M, dow: 1, minute: 1439, why: 'Monday 23:59:59 NPT' },
  { tz: 'Asia/Kathmandu', at: '2026-12-07T18:15:00Z', offset: 5 * H + 45 * M, dow: 2, minute: 0, why: 'Tuesday 00:00 NPT' },
  { tz: 'Asia/Shanghai', at: '2026-12-06T15:59:00Z', offset: 8 * H, dow: 7, minute: 1439, why: 'Sunday 23:59 CST' },
  { tz: 'Asia/Shanghai', at: '2026-12-06T16:00:00Z', offset: 8 * H, dow: 1, minute: 0, why: 'Monday 00:00 CST' },
  // Australia/Lord_Howe: a 30-minute DST shift.
  { tz: 'Australia/Lord_Howe', at: '2026-04-04T14:59:00Z', offset: 11 * H, dow: 7, minute: 119, why: 'Sunday 01:59 +11, just before DST ends' },
  { tz: 'Australia/Lord_Howe', at: '2026-04-04T15:00:00Z', offset: 10 * H + 30 * M, dow: 7, minute: 90, why: 'clocks go back to 01:30 +10:30' },
  { tz: 'Australia/Lord_Howe', at: '2026-10-03T15:29:00Z', offset: 10 * H + 30 * M, dow: 7, minute: 119, why: 'Sunday 01:59 +10:30, just before DST starts' },
  { tz: 'Australia/Lord_Howe', at: '2026-10-03T15:30:00Z', offset: 11 * H, dow: 7, minute: 150, why: 'clocks jump to 02:30 +11' },
];

t.test('zoneOffsetMs and localWeekMinute at hand-worked instants', async (t) => {
  for (const c of cases) {
    const ms = Date.parse(c.at);
    t.equal(zoneOffsetMs(c.tz, ms), c.offset, `${c.tz} ${c.at} offset: ${c.why}`);
    t.same(localWeekMinute(c.tz, ms), { dow: c.dow, minute: c.minute }, `${c.tz} ${c.at} wall time: ${c.why}`);
  }
});

t.test('the per-zone cache never answers for another quarter hour', async (t) => {
  // Alternating across a DST edge in one zone: a stale cache entry would repeat the first answer.
  const before = Date.parse('2026-03-29T00:59:59Z');
  const after = Date.parse('2026-03-29T01:00:00Z');
  const seen = [before, after, before, after, after + 14 * M, before].map((ms) => zoneOffsetMs('Europe/Berlin', ms));
  t.same(seen, [H, 2 * H, H, 2 * H, 2 * H, H]);
  // Two zones interleaved at the same instant do not share an entry.
  const at = Date.parse('2026-12-07T02:30:00Z');
  t.same([zoneOffsetMs('Asia/Kolkata', at), zoneOffsetMs('Asia/Kathmandu', at), zoneOffsetMs('Asia/Kolkata', at)],
    [5 * H + 30 * M, 5 * H + 45 * M, 5 * H + 30 * M]);
});

t.test('isValidTimeZone', async (t) => {
  const table: [string, boolean][] = [
    ['Asia/Kolkata', true], ['Australia/Lord_Howe', true], ['UTC', true],
    ['Mars/Olympus_Mons', false], ['', false], ['Europe/Berlin ', false],
  ];
  for (const [tz, ok] of table) t.equal(isValidTimeZone(tz), ok, JSON.stringify(tz));
});
