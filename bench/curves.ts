// Cost curves of ingest: the shift-change burst at one fleet size with 1 and 2 ingest workers
// (LINTEL_INGEST_WORKERS), each with 1, 10, 100 and 500 punches per ev frame. One hub process
// per worker count; one JSON line with events/s, ack latency and CPU per combination.
//   node --import tsx bench/curves.ts [--terminals 1000] [--events 50] [--workers 1,2] [--frames 1,10,100,500]
import { parseArgs } from 'node:util';
import { describe } from './burst.js';
import { int, intList } from './args.js';
import { measureBurst, provisionFleet, startHubProcess, warmUp } from './stack.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      terminals: { type: 'string' }, events: { type: 'string' }, workers: { type: 'string', default: '1,2' },
      frames: { type: 'string', default: '1,10,100,500' }, 'auth-rate': { type: 'string' }, people: { type: 'string' },
    },
    strict: true,
  });
  const n = int('terminals', values.terminals, 1000, 1);
  const events = int('events', values.events, 50, 1);
  const authRate = int('auth-rate', values['auth-rate'], 5, 1);
  const people = int('people', values.people, 5000, 1);
  const runs = [];
  for (const workers of intList('workers', values.workers!)) {
    const hub = await startHubProcess({ env: { LINTEL_INGEST_WORKERS: String(workers) } });
    try {
      const fleet = await provisionFleet(hub.admin, n, people);
      await warmUp(hub, fleet, n, events);
      for (const [i, frame] of intList('frames', values.frames!).entries()) {
        const r = await measureBurst(hub, fleet, {
          terminals: n, events, frame, authTerminals: Math.floor(n / 10), authRate, timeoutMs: 600_000, boot: (Math.floor(Date.now() / 1000) + i) >>> 0,
        });
        console.error(`workers ${workers}, frames of ${frame}: ${describe(r).split('\n')[1]}; cpu ${JSON.stringify(r.cpu.cores)}`);
        const { timeline: _t, ...rest } = r;
        runs.push({ workers, ...rest });
      }
    } finally {
      await hub.stop();
    }
  }
  console.log(JSON.stringify({ bench: 'curves', terminals: n, events_per_terminal: events, runs }));
}

main().catch((err: Error) => {
  console.error(`bench/curves: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
