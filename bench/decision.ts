// The access decision alone: hub/access.ts's engine on a synthetic snapshot (one site, one door,
// P people with one card each, one group granting the door at any time), timed call by call with
// a nanosecond clock. Beside the hub's own histogram (measured inside a burst, where GC pauses
// and a busy machine's preemption land in it too), this says what the decision itself costs.
//   node --import tsx bench/decision.ts [--people 5000] [--decisions 200000]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { createAccessEngine } from '../hub/access.js';
import { syntheticSnapshot } from '../hub/access-warmup.js';
import { int } from './args.js';
import { loadAverage } from './proc.js';

const { values } = parseArgs({ options: { people: { type: 'string' }, decisions: { type: 'string' } }, strict: true });
const people = int('people', values.people, 5000, 1);
const decisions = int('decisions', values.decisions, 200_000, 1);

const key = randomBytes(32).toString('hex');
const { snapshot, deviceId: device } = syntheticSnapshot(key, people);
const engine = createAccessEngine({ credentialKey: key });
engine.load(snapshot);
const dev = engine.deviceById(device)!;

function run(name: string, n: number, cred: (j: number) => string, eng = engine, device = dev) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
  let granted = 0;
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < n; j++) {
    const c = cred(j);
    const now = Date.now();
    const s = process.hrtime.bigint();
    const d = eng.decide(device, c, 'D1', now);
    h.recordValue(Math.max(1, Number(process.hrtime.bigint() - s)));
    if (d.ok) granted++;
  }
  const wallNs = Number(process.hrtime.bigint() - t0);
  const us = (q: number) => Math.round(h.getValueAtPercentile(q) / 10) / 100;
  const out = { decisions: n, granted, p50_us: us(50), p99_us: us(99), p999_us: us(99.9), max_us: Math.round(h.maxValue / 10) / 100, per_s: Math.round(n / (wallNs / 1e9)) };
  h.destroy();
  console.error(`decision ${name}: p50 ${out.p50_us} µs, p99 ${out.p99_us} µs, p999 ${out.p999_us} µs over ${n} (${out.per_s}/s)`);
  return out;
}

// Cold: every credential seen for the first time (an HMAC each), in code V8 has not optimized yet
// (the hub warms it up before it listens, hub/access-warmup.ts); warm: the same people again.
const cold = run('cold', people, (j) => `c${j}`);
const warm = run('warm', decisions, (j) => `c${(j * 7919) % people}`);
const unknown = run('unknown credential', Math.min(decisions, 20_000), (j) => `nobody-${j}`);
// First sight on a fresh engine (empty HMAC cache) once the code is optimized: a started hub's case.
const fresh = createAccessEngine({ credentialKey: key });
fresh.load(snapshot);
const firstSight = run('first sight, code warmed up', people, (j) => `c${j}`, fresh, fresh.deviceById(device)!);
console.log(JSON.stringify({ bench: 'decision', people, tz: 'Europe/Berlin', clock: 'process.hrtime.bigint around engine.decide', cold, warm, unknown, first_sight_warmed: firstSight, load_avg_1m: loadAverage() }));
