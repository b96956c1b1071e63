// Baseline for the whole system: the same shift-change burst (bench/burst.ts, same terminals,
// same frames, same auth rate) against bench/naive-server.ts, a server that inserts one event
// at a time and acks each, on the same PostgreSQL tables an idle hub set up.
//   node --import tsx bench/baseline-naive.ts [--terminals 500] [--events 50] [--frame 500] [--auth-rate 5]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { describe, runBurst } from './burst.js';
import { int } from './args.js';
import { cpuMeter, loadAverage, spawnNode } from './proc.js';
import { GENERATOR_BOUND_PCT, provisionFleet, startHubProcess } from './stack.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { terminals: { type: 'string' }, events: { type: 'string' }, frame: { type: 'string' }, 'auth-rate': { type: 'string' }, people: { type: 'string' }, 'timeout-s': { type: 'string' } },
    strict: true,
  });
  const n = int('terminals', values.terminals, 500, 1);
  const events = int('events', values.events, 50, 1);
  const frame = int('frame', values.frame, 500, 1);
  const authRate = int('auth-rate', values['auth-rate'], 5, 1);
  const people = int('people', values.people, 5000, 1);
  const timeoutMs = int('timeout-s', values['timeout-s'], 600, 1) * 1000;

  const credentialKey = randomBytes(32).toString('hex');
  const hub = await startHubProcess({ credentialKey });
  let server: Awaited<ReturnType<typeof spawnNode>> | undefined;
  try {
    const fleet = await provisionFleet(hub.admin, n, people);
    server = await spawnNode('bench/naive-server.ts', [], { env: { DATABASE_URL: hub.databaseUrl, LINTEL_CREDENTIAL_KEY: credentialKey }, timeoutMs: 30_000 });
    const pid = server.child.pid!;
    const meter = cpuMeter({ server: () => [pid], postgres: hub.postgresPids, generator: () => [process.pid] });
    const s = await runBurst({
      url: `ws://127.0.0.1:${server.first.port as number}/v1/terminal`, devices: fleet.devices, creds: fleet.creds, events, frame,
      authTerminals: Math.floor(n / 10), authRate, timeoutMs, query: hub.query,
    });
    const cpu = meter.stop();
    console.error(`${describe(s)}\ncpu (cores): ${JSON.stringify(cpu.cores)}`);
    console.log(JSON.stringify({
      bench: 'baseline-naive', ...s, cpu, load_avg_1m: loadAverage(), generator_bound: s.generator.cpu_pct >= GENERATOR_BOUND_PCT,
      lost: s.punches - (s.db?.distinct ?? 0),
    }));
    return 0;
  } finally {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await hub.stop();
  }
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  console.error(`bench/baseline-naive: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
