// PROTOCOL section 4: an ack only once the events it names are committed, and busy (never ack)
// when the commit fails. A transaction of the test's own holds a lock on event_keys so that the
// hub's ingest transaction cannot finish, and the store is made to fail by terminating the
// hub's ingest connections while they wait.
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import t from 'tap';
import { provisionSite, settle, startTestHub, type TestHub } from '../helpers/hub.js';
import { lockEventKeys } from '../helpers/locks.js';

type Sql = postgres.Sql;

/** Waits (bounded) until the hub's ingest transaction is blocked on our lock: the frame reached the store. */
async function ingestWaitingOnLock(sql: Sql): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const rows = await sql`SELECT 1 FROM pg_stat_activity WHERE application_name = 'lintel-ingest' AND wait_event_type = 'Lock'`;
    if (rows.length > 0) return true;
    await sleep(50);
  }
  return false;
}

async function stored(th: TestHub, deviceId: string) {
  const keys = await th.query<{ seq: number; n: number }>(
    `SELECT seq, count(*)::int AS n FROM event_keys WHERE device_id = $1 AND source = 't' GROUP BY seq ORDER BY seq`, [deviceId]);
  const events = await th.query<{ seq: number; n: number }>(
    `SELECT seq, count(*)::int AS n FROM events WHERE device_id = $1 AND source = 'terminal' GROUP BY seq ORDER BY seq`, [deviceId]);
  return { keys: keys.map((r) => [Number(r.seq), r.n]), events: events.map((r) => [Number(r.seq), r.n]) };
}

/** Bounds a wait so a missing answer fails the test instead of hanging it (not a speed check). */
async function within<T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> {
  const timeout = new AbortController();
  try {
    return await Promise.race([p, sleep(ms, undefined, { signal: timeout.signal }).then(() => { throw new Error(`${what}: nothing after ${ms} ms`); })]);
  } finally {
    timeout.abort();
  }
}

const ackedSeqs = (frames: Record<string, unknown>[]) =>
  frames.filter((f) => f.t === 'ack').flatMap((f) => f.seqs as number[]).sort((a, b) => a - b);

t.test('acks wait for the commit; a failed commit is answered busy', async (t) => {
  // The spool is off here, so a failed commit shows as busy (with the spool on it is acked from
  // the spool instead: test/hub/outage.test.ts).
  const th = await startTestHub(t, { LINTEL_BUSY_RETRY_MS: '200', LINTEL_SPOOL_MAX_BYTES: '0' });
  const p = await provisionSite(th);
  await th.admin.run('createPerson', { org: p.org, externalId: 'E-1' });
  await settle(th);
  const sql = postgres(th.env.DATABASE_URL!, { max: 2, onnotice: () => {}, connection: { application_name: 'lintel-test-locker' } });
  t.teardown(() => sql.end({ timeout: 2 }));

  const term = th.terminal(p.token);
  const frames: Record<string, unknown>[] = [];
  term.on('frame', (f: Record<string, unknown>) => frames.push(f));
  await term.connect();
  const punch = () => term.enqueue({ ts: Date.now(), kind: 'punch', person: 'E-1', dir: 'in' });

  await t.test('no ack while the commit is held back', async (t) => {
    const lock = await lockEventKeys(sql);
    const seqs = [punch(), punch(), punch()];
    t.ok(await ingestWaitingOnLock(sql), 'the hub is writing the batch and waits on the lock');
    await sleep(1000); // a negative check: give a premature ack every chance to show up
    t.same(frames.filter((f) => f.t === 'ack' || f.t === 'busy'), [], 'no ack (nor busy) while uncommitted');
    t.same(await stored(th, p.deviceId), { keys: [], events: [] }, 'nothing visible from another connection');

    await lock.release();
    await within(term.drained(), 'ack after commit');
    t.same(ackedSeqs(frames), seqs, 'acked once committed');
    t.same(await stored(th, p.deviceId), { keys: seqs.map((s) => [s, 1]), events: seqs.map((s) => [s, 1]) }, 'every acked seq is stored');
  });

  await t.test('spool off: a commit that fails because the store went away is answered busy, then acked on retry', async (t) => {
    frames.length = 0;
    const lock = await lockEventKeys(sql);
    const seqs = [punch(), punch(), punch()];
    t.ok(await ingestWaitingOnLock(sql), 'the hub is writing the batch and waits on the lock');
    const busy = term.next('busy', 20_000);
    const killed = await sql`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'lintel-ingest'`;
    t.ok(killed.length > 0 && killed.every((r) => r.ok), 'the ingest connections are terminated');
    const b = await busy;
    t.same({ boot: b.boot, seqs: b.seqs, retry_ms: b.retry_ms }, { boot: 1, seqs, retry_ms: 200 }, 'busy names the seqs of the failed batch');
    t.same(ackedSeqs(frames), [], 'never an ack for a batch that was not committed');

    await lock.release();
    await within(term.drained(), 'ack after retry'); // the terminal resends after retry_ms
    t.same(ackedSeqs(frames), seqs, 'acked after the retry');
    t.same(term.stats.closes, [], 'on the same session: the hub neither crashed a worker nor closed it');
    const all = [1, 2, 3, ...seqs];
    t.same(await stored(th, p.deviceId), { keys: all.map((s) => [s, 1]), events: all.map((s) => [s, 1]) }, 'nothing lost, nothing stored twice');
    t.same(await th.query('SELECT seq FROM quarantine WHERE device_id = $1', [p.deviceId]), [], 'nothing quarantined');

    const metrics = await (await fetch(`${th.httpUrl}/metrics`)).text();
    t.match(metrics, /^lintel_ingest_busy_replies_total\{reason="store_unavailable"\} 1$/m, 'counted as the store being unavailable');
    const ready = await fetch(`${th.httpUrl}/readyz`);
    t.equal(ready.status, 200, 'ready again once a batch committed');
  });
});
