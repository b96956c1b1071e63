// Table-driven tests for the attlog.dat parser, plus a pass over the real, partly corrupted export from a device.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseAttlog, punchDirection, zonedLocalToUtc } from '../../bench/zkteco.js';

const SHANGHAI = 'Asia/Shanghai';
const BERLIN = 'Europe/Berlin';

const line = (pin: string, time: string, rest = '1\t0\t1\t0'): string => `${pin}\t${time}\t${rest}`;
const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const utc = (iso: string): number => Date.parse(iso);

t.test('a normal line becomes a record', (t) => {
  const p = parseAttlog(Buffer.from(`${line('   710011', '2020-10-09 07:10:08')}\n`), SHANGHAI);
  t.equal(p.lines, 1);
  t.same(p.rejected, []);
  t.same(p.records, [
    {
      line: 1,
      pin: '710011',
      pinWellFormed: true,
      localTime: '2020-10-09 07:10:08',
      ts: utc('2020-10-08T23:10:08Z'),
      state: 0,
      verify: 1,
      workCode: '0',
      raw: '   710011\t2020-10-09 07:10:08\t1\t0\t1\t0',
    },
  ]);
  t.end();
});

t.test('zonedLocalToUtc', (t) => {
  const cases: [string, string, string, number | undefined][] = [
    ['Shanghai, no DST', '2020-10-09 07:10:08', SHANGHAI, utc('2020-10-08T23:10:08Z')],
    ['Berlin winter', '2026-01-15 12:00:00', BERLIN, utc('2026-01-15T11:00:00Z')],
    ['Berlin summer', '2026-07-15 12:00:00', BERLIN, utc('2026-07-15T10:00:00Z')],
    ['last second before the spring gap', '2026-03-29 01:59:59', BERLIN, utc('2026-03-29T00:59:59Z')],
    // 02:00-02:59 does not exist that night; it is read with the winter offset, landing at 03:30 CEST.
    ['inside the spring gap shifts forward', '2026-03-29 02:30:00', BERLIN, utc('2026-03-29T01:30:00Z')],
    ['first second after the spring gap', '2026-03-29 03:00:00', BERLIN, utc('2026-03-29T01:00:00Z')],
    // 02:30 happens twice: first at UTC+2, then at UTC+1.
    ['ambiguous autumn time takes the earlier offset', '2026-10-25 02:30:00', BERLIN, utc('2026-10-25T00:30:00Z')],
    ['after the autumn overlap', '2026-10-25 03:00:00', BERLIN, utc('2026-10-25T02:00:00Z')],
    ['New York spring gap', '2026-03-08 02:30:00', 'America/New_York', utc('2026-03-08T07:30:00Z')],
    ['New York autumn overlap', '2026-11-01 01:30:00', 'America/New_York', utc('2026-11-01T05:30:00Z')],
    ['half-hour DST shift, gap', '2026-10-04 02:15:00', 'Australia/Lord_Howe', utc('2026-10-03T15:45:00Z')],
    ['half-hour DST shift, overlap', '2026-04-05 01:45:00', 'Australia/Lord_Howe', utc('2026-04-04T14:45:00Z')],
    ['leap day', '2024-02-29 00:00:00', 'UTC', utc('2024-02-29T00:00:00Z')],
    ['two-digit years are not moved to the 1900s', '0050-06-01 00:00:00', 'UTC', utc('0050-06-01T00:00:00Z')],
    ['year 0 (1 BC), before any zone rules', '0000-02-29 12:00:00', 'UTC', utc('0000-02-29T12:00:00Z')],
    ['far future', '2131-01-08 08:46:56', SHANGHAI, utc('2131-01-08T00:46:56Z')],
    ['Feb 30', '2047-02-30 19:13:30', SHANGHAI, undefined],
    ['Feb 29 in a common year', '2021-02-29 00:00:00', SHANGHAI, undefined],
    ['Feb 29 in a century year', '1900-02-29 00:00:00', 'UTC', undefined],
    ['month 13', '2021-13-01 00:00:00', SHANGHAI, undefined],
    ['day 0', '2021-01-00 00:00:00', SHANGHAI, undefined],
    ['April 31', '2021-04-31 00:00:00', SHANGHAI, undefined],
    ['hour 24', '2021-01-01 24:00:00', SHANGHAI, undefined],
    ['hour 25', '2021-01-01 25:00:00', SHANGHAI, undefined],
    ['minute 60', '2021-01-01 00:60:00', SHANGHAI, undefined],
    ['leap second', '2016-12-31 23:59:60', 'UTC', undefined],
    ['ISO T separator', '2021-01-01T00:00:00', SHANGHAI, undefined],
    ['no seconds', '2021-01-01 00:00', SHANGHAI, undefined],
    ['trailing space', '2021-01-01 00:00:00 ', SHANGHAI, undefined],
    ['non-ASCII digits', '２０２１-01-01 00:00:00', SHANGHAI, undefined],
  ];
  for (const [name, local, zone, expected] of cases) {
    t.equal(zonedLocalToUtc(local, zone), expected, name);
  }
  t.end();
});

t.test('the zone is applied to parsed records, DST included', (t) => {
  const p = parseAttlog(
    Buffer.from(`${line('1', '2026-03-29 02:30:00')}\n${line('1', '2026-10-25 02:30:00')}\n`),
    BERLIN,
  );
  t.same(
    p.records.map((r) => r.ts),
    [utc('2026-03-29T01:30:00Z'), utc('2026-10-25T00:30:00Z')],
  );
  t.end();
});

t.test('rejected lines', (t) => {
  const cases: [string, string, string][] = [
    ['Feb 30', line('ZZZZZZZZZZ', '2047-02-30 19:13:30', '1\t90\t90\t1515870810'), 'impossible date 2047-02-30 19:13:30'],
    ['hour 25', line('   710011', '2021-01-01 25:00:00'), 'impossible date 2021-01-01 25:00:00'],
    ['too few fields', '   710011\t2021-01-01 00:00:00\t1', 'expected 6 tab-separated fields, got 3'],
    ['too many fields', `${line('   710011', '2021-01-01 00:00:00')}\t0`, 'expected 6 tab-separated fields, got 7'],
    ['space-separated', '710011 2021-01-01 00:00:00 1 0 1 0', 'expected 6 tab-separated fields, got 1'],
    ['empty line', '', 'expected 6 tab-separated fields, got 1'],
    ['slashes in the date', line('1', '2021/01/01 00:00:00'), 'time not YYYY-MM-DD HH:MM:SS'],
    ['single-digit month', line('1', '2021-1-01 00:00:00'), 'time not YYYY-MM-DD HH:MM:SS'],
    ['state is text', line('1', '2021-01-01 00:00:00', '1\tin\t1\t0'), 'state not an integer'],
    ['state is a decimal', line('1', '2021-01-01 00:00:00', '1\t1.5\t1\t0'), 'state not an integer'],
    ['state is empty', line('1', '2021-01-01 00:00:00', '1\t\t1\t0'), 'state not an integer'],
    ['state past 2^53', line('1', '2021-01-01 00:00:00', '1\t99999999999999999999\t1\t0'), 'state not an integer'],
    ['verify is text', line('1', '2021-01-01 00:00:00', '1\t0\tfp\t0'), 'verify not an integer'],
  ];
  for (const [name, text, reason] of cases) {
    const p = parseAttlog(Buffer.from(`${text}\n`, 'latin1'), SHANGHAI);
    t.same(p.records, [], `${name}: no record`);
    t.same(p.rejected, [{ line: 1, reason, raw: text }], `${name}: rejection`);
  }
  t.end();
});

t.test('line splitting and numbering', (t) => {
  const a = line('   710011', '2021-01-01 07:00:00');
  const b = line('   710012', '2021-01-01 07:00:05');
  const cases: [string, string, number, number[]][] = [
    ['empty file', '', 0, []],
    ['trailing LF', `${a}\n${b}\n`, 2, [1, 2]],
    ['no trailing LF', `${a}\n${b}`, 2, [1, 2]],
    ['CRLF', `${a}\r\n${b}\r\n`, 2, [1, 2]],
    ['blank line in the middle is counted and rejected', `${a}\n\n${b}\n`, 3, [1, 3]],
    ['lone LF', '\n', 1, []],
  ];
  for (const [name, text, lines, recordLines] of cases) {
    const p = parseAttlog(Buffer.from(text), SHANGHAI);
    t.equal(p.lines, lines, `${name}: lines`);
    t.same(p.records.map((r) => r.line), recordLines, `${name}: record lines`);
    t.equal(p.records.length + p.rejected.length, p.lines, `${name}: every line accounted for`);
  }
  t.end();
});

t.test('CRLF: the CR is stripped from the last field and from raw', (t) => {
  const p = parseAttlog(Buffer.from('   710011\t2021-01-01 07:00:00\t1\t0\t1\t7\r\n'), SHANGHAI);
  t.equal(p.records[0]?.workCode, '7');
  t.equal(p.records[0]?.raw, '   710011\t2021-01-01 07:00:00\t1\t0\t1\t7');
  t.end();
});

t.test('garbage PINs still make records, flagged as not well formed', (t) => {
  const time = '\t2020-06-06 04:46:40\t1\t48\t50\t5\n';
  const cases: [string, Buffer, string][] = [
    ['control bytes', bytes('      ', [0x02], '0', [0x0c], time), '\u00020\f'],
    ['lone control byte', bytes('        ', [0x01], time), '\u0001'],
    ['only spaces', bytes('         ', time), ''],
    ['letters', bytes('ZZZZZZZZZZ', time), 'ZZZZZZZZZZ'],
    ['file name', bytes('    0.dat', time), '0.dat'],
    ['inner space kept', bytes('   12 34', time), '12 34'],
    ['negative number', bytes('   -71001', time), '-71001'],
    ['21 digits', bytes('123456789012345678901', time), '123456789012345678901'],
    ['full-width digits', Buffer.concat([Buffer.from('７１００１１'), bytes(time)]), '７１００１１'],
  ];
  for (const [name, buf, pin] of cases) {
    const p = parseAttlog(buf, SHANGHAI);
    t.same(p.rejected, [], `${name}: not rejected`);
    t.equal(p.records[0]?.pin, pin, `${name}: pin`);
    t.equal(p.records[0]?.pinWellFormed, false, `${name}: not well formed`);
    t.equal(p.records[0]?.ts, utc('2020-06-05T20:46:40Z'), `${name}: time still converted`);
  }
  const ok = parseAttlog(bytes('12345678901234567890', time), SHANGHAI);
  t.equal(ok.records[0]?.pinWellFormed, true, '20 digits is well formed');
  t.end();
});

t.test('invalid UTF-8 in the PIN: replacement characters in pin, every byte kept in raw', (t) => {
  // 0xFF never occurs in UTF-8; 0xC3 starts a two-byte sequence that 'Z' then breaks.
  const buf = bytes('  ', [0xff, 0x37, 0x31, 0xc3], 'Z\t2021-01-01 07:00:00\t1\t0\t1\t0');
  const p = parseAttlog(buf, SHANGHAI);
  const r = p.records[0];
  t.ok(r, 'parsed as a record');
  t.equal(r?.pin, '\ufffd71\ufffdZ');
  t.equal(r?.pinWellFormed, false);
  t.same(Buffer.from(r?.raw ?? '', 'latin1'), buf);
  t.end();
});

t.test('valid UTF-8 replacement characters in the PIN, as on the real device', (t) => {
  const buf = bytes('      ', [0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd, 0x02], '\t2025-02-28 04:39:12\t1\t46\t109\t7627108');
  const r = parseAttlog(buf, SHANGHAI).records[0];
  t.equal(r?.pin, '\ufffd\ufffd\u0002');
  t.equal(r?.state, 46);
  t.equal(r?.verify, 109);
  t.equal(r?.workCode, '7627108');
  t.end();
});

t.test('negative and 32-bit work codes stay as text', (t) => {
  const r = parseAttlog(Buffer.from(line('ZZZZZZZZZZ', '2041-11-09 22:39:40', '1\t149\t119\t-255315962')), SHANGHAI)
    .records[0];
  t.equal(r?.workCode, '-255315962');
  t.equal(r?.state, 149);
  t.end();
});

t.test('punchDirection', (t) => {
  const cases: [number, string][] = [
    [0, 'in'],
    [1, 'out'],
    [2, 'break_out'],
    [3, 'break_in'],
    [4, 'unknown'],
    [5, 'unknown'],
    [48, 'unknown'],
    [-1, 'unknown'],
    [Number.NaN, 'unknown'],
  ];
  for (const [state, direction] of cases) t.equal(punchDirection(state), direction, `state ${state}`);
  t.end();
});

t.test('never throws on arbitrary bytes', (t) => {
  // Deterministic xorshift so a failure can be replayed; bytes biased towards TAB, LF, CR, digits and separators.
  let s = 0x9e3779b9;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const alphabet = [0x09, 0x0a, 0x0d, 0x20, 0x2d, 0x3a, 0x30, 0x31, 0x32, 0x39];
  let failures = 0;
  for (let round = 0; round < 300; round++) {
    const buf = Buffer.alloc(next() % 400);
    for (let i = 0; i < buf.length; i++) {
      const r = next();
      buf[i] = r % 3 === 0 ? (r >>> 8) & 0xff : (alphabet[(r >>> 8) % alphabet.length] ?? 0);
    }
    try {
      const p = parseAttlog(buf, BERLIN);
      if (p.records.length + p.rejected.length !== p.lines) failures++;
    } catch {
      failures++;
    }
  }
  t.equal(failures, 0);
  t.end();
});

t.test('an unknown time zone is a caller error, raised before any line is read', (t) => {
  t.throws(() => parseAttlog(Buffer.alloc(0), 'Mars/Olympus_Mons'), RangeError);
  t.end();
});

t.test('the real caoka export', (t) => {
  const buf = readFileSync(new URL('../../../shared/data/real/zkteco-attlog-caoka/1_attlog.dat', import.meta.url));
  const p = parseAttlog(buf, SHANGHAI);

  t.equal(p.lines, 10943);
  t.equal(p.records.length + p.rejected.length, p.lines);

  const feb30 = p.rejected.filter((r) => r.raw.includes('\t2047-02-30 '));
  t.equal(feb30.length, 330, 'all 2047-02-30 lines rejected');
  t.ok(feb30.every((r) => r.reason.startsWith('impossible date 2047-02-30')));
  t.notOk(p.records.some((r) => r.localTime.startsWith('2047-02-30')));
  t.equal(p.rejected.length, 330, 'nothing else is rejected');

  const first = p.records[0];
  t.equal(first?.line, 1);
  t.equal(first?.pin, '710011');
  t.equal(first?.ts, utc('2020-09-30T02:10:37Z'));
  t.equal(first?.ts, zonedLocalToUtc('2020-09-30 10:10:37', SHANGHAI));

  const last = p.records.at(-1);
  t.equal(last?.line, 10943, 'the last line has no LF and still counts');
  t.equal(last?.localTime, '2020-12-31 07:18:26');

  const wellFormed = p.records.filter((r) => r.pinWellFormed);
  t.ok(wellFormed.length > 10_000, `${wellFormed.length} well-formed PINs`);
  t.equal(wellFormed.length, 10586);
  t.equal(p.records.length - wellFormed.length, 27);
  t.ok(p.records.some((r) => r.pin === '0.dat' && !r.pinWellFormed));
  t.ok(p.records.some((r) => r.pin.includes('\ufffd')));
  t.end();
});
