// The access decision alone: hub/access.ts's engine on a synthetic snapshot (one site, one door,
// P people with one card each, one group granting the door at any time), timed call by call with
// a nanosecond clock. Beside the hub's own histogram (measured inside a burst, where GC pauses
// and a busy machine's preemption land in it too), this says what the decision itself costs.
//   node --import tsx bench/decision.ts [--people 5000] [--decisions 200000]
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { createAccessEngine } from '../hub/access.js';
import type { AccessSnapshot } from '../protocol/tasks.js';
import { int } from './args.js';
import { loadAverage } from './proc.js';

const { values } = parseArgs({ options: { people: { type: 'string' }, decisions: { type: 'string' } }, strict: true });
const people = int('people', values.people, 5000, 1);
const decisions = int('decisions', values.decisions, 200_000, 1);

const key = randomBytes(32).toString('hex');
const org = randomUUID();
const site = randomUUID();
const door = randomUUID();
const device = randomUUID();
const persons = Array.from({ length: people }, (_, i) => ({ id: randomUUID(), orgId: org, externalId: `p${i}`, status: 'active', validFrom: null, validUntil: null }));
const snapshot: AccessSnapshot = {
  version: 1,
  sites: [{ id: site, orgId: org, name: 'plant', tz: 'Europe/Berlin' }],
  doors: [{ id: door, siteId: site, code: 'D1', name: 'D1', openMs: 5000, lockedDown: false }],
  devices: [{ id: device, siteId: site, name: 't0', tokenHash: 'x', enabled: true, doorIds: [door] }],
  people: persons,
  credentials: persons.map((p, i) => ({
    id: randomUUID(), orgId: org, personId: p.id, credHash: createHmac('sha256', Buffer.from(key, 'hex')).update(`c${i}`).digest('hex'), status: 'active', validFrom: null, validUntil: null,
  })),
  // Office hours every day: the schedule check (site-local time) runs on every decision.
  groups: [{ id: randomUUID(), orgId: org, name: 'all', members: persons.map((p) => p.id), doors: [door], windows: [1, 2, 3, 4, 5, 6, 7].map((d) => [d, 0, 1440] as [number, number, number]) }],
  apiKeys: [],
};
const engine = createAccessEngine({ credentialKey: key });
engine.load(snapshot);
const dev = engine.deviceById(device)!;

function run(name: string, n: number, cred: (j: number) => string) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
  let granted = 0;
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < n; j++) {
    const c = cred(j);
    const now = Date.now();
    const s = process.hrtime.bigint();
    const d = engine.decide(dev, c, 'D1', now);
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

// Cold: every credential seen for the first time (an HMAC each); warm: the same people again.
const cold = run('cold', people, (j) => `c${j}`);
const warm = run('warm', decisions, (j) => `c${(j * 7919) % people}`);
const unknown = run('unknown credential', Math.min(decisions, 20_000), (j) => `nobody-${j}`);
console.log(JSON.stringify({ bench: 'decision', people, tz: 'Europe/Berlin', clock: 'process.hrtime.bigint around engine.decide', cold, warm, unknown, load_avg_1m: loadAverage() }));
