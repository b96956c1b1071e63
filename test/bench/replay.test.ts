// The ZKTeco replay end to end against a real hub: a hand-made file with one line of each kind, then the real,
// partly corrupted export twice (the second run must store nothing new).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { runReplay, type Summary } from '../../bench/replay-zkteco.js';
import { parseAttlog } from '../../bench/zkteco.js';
import { loadConfig } from '../../hub/config.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const REAL_FILE = fileURLToPath(new URL('../../../shared/data/real/zkteco-attlog-caoka/1_attlog.dat', import.meta.url));
const SHANGHAI = 'Asia/Shanghai';
const DAY_MS = 86_400_000;

const equationHolds = (s: Summary) => s.lines === s.stored + s.duplicates + s.quarantined + s.rejected;

// Local wall time in UTC, so the synthetic punches stay inside the hub's window whatever today is.
const wall = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

async function deviceRows(th: TestHub, deviceId: string) {
  const events = await th.query<{ ext: string; seq: number; dir: string; line: number }>(
    `SELECT p.external_id AS ext, e.seq::int AS seq, e.dir, (e.data->>'line')::int AS line
     FROM events e JOIN people p ON p.id = e.person_id WHERE e.device_id = $1 ORDER BY e.seq`, [deviceId]);
  const quarantine = await th.query<{ seq: number; code: string }>(
    'SELECT seq::int AS seq, code FROM quarantine WHERE device_id = $1 ORDER BY seq', [deviceId]);
  return { events, quarantine };
}

t.test('replay', async (t) => {
  const th = await startTestHub(t);
  const config = loadConfig(th.env);

  t.test('a hand-made file: one line of each kind', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lintel-replay-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const yesterday = Date.now() - DAY_MS;
    const good1 = `   100001\t${wall(yesterday)}\t1\t0\t1\t0`;
    const lines = [
      good1, // 1 stored
      `   100002\t${wall(yesterday + 60_000)}\t1\t1\t15\t7`, // 2 stored, out
      `   100001\t${wall(yesterday + 120_000)}\t1\t0\t1`, // 3 rejected: 5 fields
      `   100002\t2026-02-30 09:00:00\t1\t0\t1\t0`, // 4 rejected: Feb 30
      `ZZZZZZZZZZ\t${wall(yesterday + 180_000)}\t1\t90\t90\t0`, // 5 quarantined: unknown_credential
      good1, // 6 duplicate of line 1
      `   100001\t2062-05-01 08:00:00\t1\t0\t1\t0`, // 7 quarantined: implausible_time
    ];
    const file = path.join(dir, 'synthetic.dat');
    await writeFile(file, lines.join('\n'), 'latin1');
    const opts = { file, tz: 'UTC', hubUrl: th.url, org: 'synthetic', config };

    const first = await runReplay(opts);
    t.match(first, {
      lines: 7, stored: 2, duplicates: 1, quarantined: 2, rejected: 2, balanced: true, sent: 5, acked: 5, resends: 1, keys_new: 4,
    });
    t.same(first.quarantine_reasons, { implausible_time: 1, unknown_credential: 1 });
    t.same(Object.values(first.rejected_reasons).reduce((a, b) => a + b, 0), 2);
    const afterFirst = await deviceRows(th, first.device_id);
    t.same(afterFirst, {
      events: [{ ext: '100001', seq: 1, dir: 'in', line: 1 }, { ext: '100002', seq: 2, dir: 'out', line: 2 }],
      quarantine: [{ seq: 5, code: 'unknown_credential' }, { seq: 7, code: 'implausible_time' }],
    });

    const second = await runReplay(opts);
    t.match(second, { lines: 7, stored: 0, duplicates: 5, quarantined: 0, rejected: 2, balanced: true, keys_new: 0 });
    t.equal(second.device_id, first.device_id, 'a rerun replays as the same device');
    t.same(second.quarantine_reasons, {});
    t.same(await deviceRows(th, first.device_id), afterFirst, 'the rerun added no event and no quarantine row');
  });

  t.test('the real export, twice', async (t) => {
    const opts = { file: REAL_FILE, tz: SHANGHAI, hubUrl: th.url, config };
    // Independent expectation from the parser and the hub's default window (10 years back, 1 day ahead).
    const parse = parseAttlog(readFileSync(REAL_FILE), SHANGHAI);
    const now = Date.now();
    const storable = parse.records.filter((r) => r.pinWellFormed && r.ts >= now - 3650 * DAY_MS && r.ts <= now + DAY_MS).length;

    const first = await runReplay(opts);
    t.equal(first.lines, 10943);
    t.equal(first.rejected, 330);
    t.ok(equationHolds(first), 'lines = stored + duplicates + quarantined + rejected');
    t.equal(first.balanced, true);
    t.ok(first.stored > 10_000, `stored ${first.stored}`);
    // Timing could move a punch across the window edge between the two computations, but not in this file.
    t.equal(first.stored, storable);
    t.equal(first.quarantined, parse.records.length - storable);
    t.ok((first.quarantine_reasons.implausible_time ?? 0) > 0, 'far-past and far-future punches are quarantined');
    t.ok((first.quarantine_reasons.unknown_credential ?? 0) > 0, 'garbage PINs are quarantined');

    const quarantinedTs = await th.query<{ year: number }>(
      `SELECT extract(year FROM to_timestamp((raw->>'ts')::bigint / 1000.0) AT TIME ZONE 'Asia/Shanghai')::int AS year FROM quarantine
       WHERE device_id = $1 AND code = 'implausible_time' ORDER BY 1`, [first.device_id]);
    const years = quarantinedTs.map((r) => r.year);
    t.ok(years.some((y) => y >= 2000 && y <= 2006), `far past among ${years.join(',')}`);
    t.ok(years.some((y) => y >= 2035), `far future among ${years.join(',')}`);
    t.notOk(years.some((y) => y >= 2020 && y <= 2026), 'nothing inside the window is called implausible');

    const second = await runReplay(opts);
    t.equal(second.lines, 10943);
    t.ok(equationHolds(second), 'lines = stored + duplicates + quarantined + rejected');
    t.equal(second.balanced, true);
    t.equal(second.stored, 0);
    t.equal(second.quarantined, 0);
    t.equal(second.duplicates, second.lines - second.rejected);
    t.equal(second.device_id, first.device_id);

    const [events] = await th.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE device_id = $1 AND source = 'terminal'`, [first.device_id]);
    t.equal(events?.n, first.stored, 'events holds the first run and nothing more');
    const [quarantine] = await th.query<{ n: number }>('SELECT count(*)::int AS n FROM quarantine WHERE device_id = $1', [first.device_id]);
    t.equal(quarantine?.n, first.quarantined);
    const twice = await th.query('SELECT device_id, boot, seq FROM event_keys GROUP BY 1, 2, 3 HAVING count(*) > 1');
    t.same(twice, [], 'no identity is recorded twice');
  });
});
