// The shift-change burst against a hub in its own process: for each fleet size N, N terminals
// connect, then all punch at once (K each, frames of up to F) while a tenth also ask for access
// at a fixed rate. One hub serves every size in turn; each run uses a new boot, so its rows are
// told apart. The first size meets a hub to which every card is new; before the second, every
// card is presented once (`cards_known_from_run: 1`). Prints one JSON line; progress on stderr.
//   node --import tsx bench/shift-change.ts [--terminals 500,1000,2000] [--events 50] [--frame 500]
//     [--auth-rate 5] [--workers N (default: the hub's own, LINTEL_INGEST_WORKERS)] [--people 5000] [--timeout-s 300]
import { parseArgs } from 'node:util';
import { describe } from './burst.js';
import { loadConfig } from '../hub/config.js';
import { intList, int } from './args.js';
import { measureBurst, presentCards, provisionFleet, startHubProcess, warmUp, type MeasuredBurst } from './stack.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      terminals: { type: 'string', default: '500,1000,2000' }, events: { type: 'string' }, frame: { type: 'string' },
      'auth-rate': { type: 'string' }, workers: { type: 'string' }, people: { type: 'string' }, 'timeout-s': { type: 'string' },
    },
    strict: true,
  });
  const sizes = intList('terminals', values.terminals!);
  const events = int('events', values.events, 50, 1);
  const frame = int('frame', values.frame, 500, 1);
  const authRate = int('auth-rate', values['auth-rate'], 5, 1);
  // The hub as shipped unless told otherwise (bench/curves.ts compares worker counts).
  const workers = int('workers', values.workers, loadConfig({}).ingestWorkers, 1);
  const people = int('people', values.people, 5000, 1);
  const timeoutMs = int('timeout-s', values['timeout-s'], 300, 1) * 1000;

  const hub = await startHubProcess({ env: { LINTEL_INGEST_WORKERS: String(workers) } });
  try {
    const fleet = await provisionFleet(hub.admin, Math.max(...sizes), people);
    await warmUp(hub, fleet, sizes[0]!, events);
    const runs: MeasuredBurst[] = [];
    for (const [i, n] of sizes.entries()) {
      // The first burst meets a hub to which every card is new (as after a restart: an HMAC for
      // each card's first presentation); then every card is presented once, and the later bursts
      // meet a hub that knows them, as on any day after the first.
      if (i === 1) console.error(`presented ${await presentCards(hub, fleet)} cards once at the door`);
      const r = await measureBurst(hub, fleet, {
        terminals: n, events, frame, authTerminals: Math.floor(n / 10), authRate, timeoutMs,
        boot: (Math.floor(Date.now() / 1000) + i) >>> 0,
      });
      console.error(`${describe(r)}\ncpu (cores): ${JSON.stringify(r.cpu.cores)}, in the burst alone ${JSON.stringify(r.cpu_burst?.cores)}; ${r.hub_metrics.events_per_batch} events per COPY batch (${r.hub_metrics.batches} batches, ${r.hub_metrics.commit_s} s inside the worker); lost ${r.lost}`);
      runs.push(r);
    }
    console.log(JSON.stringify({ bench: 'burst', workers, events_per_terminal: events, frame, auth_rate: authRate, people, cards_known_from_run: 1, runs }));
    return runs.some((r) => r.lost !== 0 || (r.db?.duplicates ?? 1) !== 0 || r.timed_out) ? 1 : 0;
  } finally {
    await hub.stop();
  }
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  console.error(`bench/shift-change: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
