// What PostgreSQL's LISTEN/NOTIFY carries on this machine, for the fleet's sizing (README "Scale
// on paper"): `--hubs` listener connections (one per hub, as each hub's control worker holds), and
// `--senders` connections each committing one notification per transaction in a closed loop, with
// a payload the size of a session claim. Reports committed notifications/s, deliveries/s (each
// notification reaches every hub) and the delivery latency from the notifying commit's start.
// Its baseline, same run: the same transactions without the pg_notify, so the ratio is what
// notifying costs a commit. One JSON line on stdout.
//   node --import tsx bench/notify.ts [--hubs 4] [--senders 4] [--seconds 5]
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import postgres from 'postgres';
import { int } from './args.js';
import { cpuMeter, loadAverage, sleep } from './proc.js';
import { startHubProcess } from './stack.js';

const CHANNEL = 'lintel_bench_notify';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { hubs: { type: 'string' }, senders: { type: 'string' }, seconds: { type: 'string' } }, strict: true });
  const hubs = int('hubs', values.hubs, 4, 1);
  const senders = int('senders', values.senders, 4, 1);
  const seconds = int('seconds', values.seconds, 5, 1);

  const hub = await startHubProcess(); // idle: it owns PostgreSQL
  const listeners = Array.from({ length: hubs }, () => postgres(hub.databaseUrl, { max: 1, onnotice: () => {} }));
  const pool = postgres(hub.databaseUrl, { max: senders, onnotice: () => {} });
  try {
    await pool`CREATE TABLE IF NOT EXISTS bench_claims (device text PRIMARY KEY, gen bigint NOT NULL)`;
    const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    let delivered = 0;
    for (const l of listeners) {
      await l.listen(CHANNEL, (payload) => {
        delivered++;
        const sent = Number(JSON.parse(payload).at as number);
        latency.recordValue(Math.max(1, Math.round((performance.timeOrigin + performance.now() - sent) * 1000)));
      });
    }

    // A claim as workers/control.ts makes one: upsert the device's row, notify in the same transaction.
    const run = async (notify: boolean) => {
      let committed = 0;
      const meter = cpuMeter({ postgres: hub.postgresPids, generator: () => [process.pid] });
      const until = performance.now() + seconds * 1000;
      await Promise.all(Array.from({ length: senders }, async (_, s) => {
        for (let i = 0; performance.now() < until; i++) {
          const device = `device-${s}-${i % 1000}`;
          const at = performance.timeOrigin + performance.now();
          const payload = JSON.stringify({ t: 'session', from: `hub-${s}`, device: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, gen: i, at });
          if (notify) await pool`WITH c AS (INSERT INTO bench_claims VALUES (${device}, ${i}) ON CONFLICT (device) DO UPDATE SET gen = excluded.gen RETURNING gen) SELECT pg_notify(${CHANNEL}, ${payload}) FROM c`;
          else await pool`INSERT INTO bench_claims VALUES (${device}, ${i}) ON CONFLICT (device) DO UPDATE SET gen = excluded.gen`;
          committed++;
        }
      }));
      return { committed, per_s: Math.round(committed / seconds), cpu: meter.stop().cores };
    };

    const plain = await run(false);
    const notified = await run(true);
    for (let i = 0; i < 100 && delivered < notified.committed * hubs; i++) await sleep(50);
    const ms = (q: number) => Math.round(latency.getValueAtPercentile(q)) / 1000;
    console.log(JSON.stringify({
      bench: 'notify', hubs, senders, seconds, payload_bytes: 140,
      baseline_claims_per_s: plain.per_s, notified_claims_per_s: notified.per_s, ratio: Math.round((notified.per_s / plain.per_s) * 100) / 100,
      deliveries_per_s: Math.round(delivered / seconds), delivered, expected: notified.committed * hubs,
      delivery_ms: { p50: ms(50), p99: ms(99), p999: ms(99.9), max: ms(100) },
      cpu_cores: { baseline: plain.cpu, notified: notified.cpu }, load_avg_1m: loadAverage(),
    }));
    latency.destroy();
  } finally {
    await Promise.all(listeners.map((l) => l.end({ timeout: 1 })));
    await pool.end({ timeout: 1 });
    await hub.stop();
  }
}

main().catch((err: Error) => {
  console.error(`notify: ${err.stack ?? err.message}`);
  process.exit(1);
});
