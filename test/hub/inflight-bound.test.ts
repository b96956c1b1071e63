// PROTOCOL section 4 and issue P1: in-flight work is bounded. While the store cannot commit,
// frames past LINTEL_MAX_INFLIGHT_BYTES are answered busy with their seqs and retry_ms (never an
// unbounded queue); once the store commits again, the resent events are stored exactly once.
import postgres from 'postgres';
import t from 'tap';
import type { BusyFrame } from '../../protocol/frames.js';
import { provisionSite, startTestHub } from '../helpers/hub.js';
import { lockEventKeys } from '../helpers/locks.js';

t.test('past the in-flight bound: busy with the seqs, then everything stored once', async (t) => {
  const th = await startTestHub(t, { LINTEL_MAX_INFLIGHT_BYTES: '65536', LINTEL_BUSY_RETRY_MS: '300' });
  const p = await provisionSite(th);
  const sql = postgres(th.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 1 }));

  // Hold the hub's commit back so frames pile up in flight.
  const lock = await lockEventKeys(sql);

  const term = th.terminal(p.token, { boot: 3 });
  await term.connect();
  const busy: BusyFrame[] = [];
  term.on('busy', (b: BusyFrame) => busy.push(b));
  // 6,000 door events (~60 bytes each), sent as 12 frames of 500: well past 64 KiB in flight.
  const now = Date.now();
  for (let f = 0; f < 60; f++) {
    for (let i = 0; i < 100; i++) term.enqueue({ ts: now, kind: 'door', door: 'D1', state: i % 2 ? 'opened' : 'closed', data: { pad: 'x'.repeat(20) } });
  }
  // Wait (bounded) for the first busy answers while the lock is held.
  for (let i = 0; i < 200 && busy.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(busy.length > 0, 'frames past the bound are answered busy while the store is held');
  t.equal(busy[0]!.retry_ms, 300, 'with retry_ms from LINTEL_BUSY_RETRY_MS');
  t.equal(busy[0]!.boot, 3);
  // The terminal sends frames of max_batch (500) events: a busy names all of its frame's seqs.
  t.equal(busy[0]!.seqs.length, 500, 'naming every seq of the frame');
  t.same(busy[0]!.seqs, Array.from({ length: 500 }, (_, i) => busy[0]!.seqs[0]! + i), 'consecutive, as sent');
  const inflight = Number(/^lintel_ingest_inflight_bytes (\d+)/m.exec(await (await fetch(`${th.httpUrl}/metrics`)).text())?.[1]);
  t.ok(inflight <= 65536, `the hub holds at most the bound in flight (${inflight} bytes)`);

  await lock.release();
  await term.drained(); // the terminal resends what was busy after retry_ms until all is acked
  const rows = await th.query<{ n: number; d: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS d FROM events WHERE device_id = $1 AND boot = 3`, [p.deviceId]);
  t.same(rows[0], { n: 6000, d: 6000 }, 'every event stored exactly once');
});
