// The event loop answers doors and acks; the worker threads (ingest, API, control) run below it,
// so a burst's COPY work cannot make a door wait for a CPU (LINTEL_WORKER_NICE).
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { startTestHub } from '../helpers/hub.js';
import { waitFor } from '../helpers/hub-process.js';

/** Nice value of every thread of this process, by thread id (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
      nices.set(Number(tid), Number(fields[16]));
    } catch { /* the thread ended meanwhile */ }
  }
  return nices;
}

t.test('the hub lowers its worker threads, and only them, by LINTEL_WORKER_NICE', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const own = threadNices().get(process.pid)!;
  const before = new Set(threadNices().keys());
  await startTestHub(t, { LINTEL_WORKER_NICE: '7', LINTEL_INGEST_WORKERS: '2' });
  const lowered = () => [...threadNices()].filter(([tid, nice]) => !before.has(tid) && nice === Math.min(19, own + 7));
  // Two ingest workers, the API worker and the control worker: each lowers itself as it starts.
  await waitFor('four lowered worker threads', () => lowered().length >= 4, 30_000);
  t.equal(lowered().length, 4, 'exactly the four worker threads');
  t.equal(threadNices().get(process.pid), own, 'the event loop keeps its priority');
});

t.test('LINTEL_WORKER_NICE=0 leaves every thread where it was', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const own = threadNices().get(process.pid)!;
  const before = new Set(threadNices().keys());
  const th = await startTestHub(t, { LINTEL_WORKER_NICE: '0' });
  await th.query('SELECT 1'); // the admin worker answers: the hub's pools are up
  const changed = [...threadNices()].filter(([tid, nice]) => !before.has(tid) && nice !== own);
  t.same(changed, [], 'no new thread runs at another priority');
});
