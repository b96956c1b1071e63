// Baseline for ingest: the same punches the burst stores, written straight into the same
// `event_keys` and `events` tables (same unique index, same secondary indexes) with postgres.js
// COPY, in batches of the size the hub formed, one transaction per batch on one connection (as
// one ingest worker does). Two variants: COPY into both tables, and COPY into a staging table
// then INSERT ... ON CONFLICT DO NOTHING (the hub's exactly-once shape without its resolving).
// Both run with TCP_NODELAY on the client socket: postgres.js leaves Nagle's algorithm on, and a
// COPY's data and CopyDone messages then wait on the server's delayed ACK (~40 ms each). The
// third figure, `direct_default_socket`, is the same COPY on postgres.js's own socket, to show what
// Nagle costs (the hub's workers turn it off, workers/db.ts).
// A fourth, `direct_parallel`, runs the raw COPY on as many connections at once as the hub has
// ingest workers (`--streams`), the ceiling for a hub that writes on that many.
//   node --import tsx bench/baseline-copy.ts [--terminals 2000] [--events 50] [--batch 500] [--people 5000] [--streams N]
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import postgres from 'postgres';
import { loadConfig } from '../hub/config.js';
import { int } from './args.js';
import { noDelaySocket } from '../workers/db.js'; // postgres.js's `socket` option: Nagle's algorithm off
import { cpuMeter, loadAverage } from './proc.js';
import { provisionFleet, startHubProcess } from './stack.js';

const EVENT_COLUMNS = 'ts, org_id, site_id, device_id, source, boot, seq, kind, person_id, credential_id, cred_hash, dir';
const STAGING = `CREATE TEMP TABLE IF NOT EXISTS bench_staging (ts timestamptz, org_id uuid, site_id uuid, device_id uuid,
  source text, boot bigint, seq bigint, kind text, person_id uuid, credential_id uuid, cred_hash bytea, dir text) ON COMMIT DELETE ROWS`;
const STAGED_STORE = `WITH k AS (
  INSERT INTO event_keys (device_id, source, boot, seq, outcome)
  SELECT device_id, 't', boot, seq, 's' FROM bench_staging ON CONFLICT DO NOTHING RETURNING device_id, boot, seq
) INSERT INTO events (${EVENT_COLUMNS}) SELECT ${EVENT_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}
  FROM bench_staging s JOIN k USING (device_id, boot, seq)`;

interface Cred { id: string; person_id: string; hash: string }

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { terminals: { type: 'string' }, events: { type: 'string' }, batch: { type: 'string' }, people: { type: 'string' }, streams: { type: 'string' } },
    strict: true,
  });
  const n = int('terminals', values.terminals, 2000, 1);
  const k = int('events', values.events, 50, 1);
  const batch = int('batch', values.batch, 500, 1);
  const people = int('people', values.people, 5000, 1);
  const streams = int('streams', values.streams, loadConfig({}).ingestWorkers, 1);

  const hub = await startHubProcess(); // idle: it only applies the migrations and owns PostgreSQL
  // `socket` is a documented postgres.js option its type declarations do not list.
  const sql = postgres(hub.databaseUrl, { max: 1, onnotice: () => {}, socket: noDelaySocket } as postgres.Options<{}>);
  const plain = postgres(hub.databaseUrl, { max: 1, onnotice: () => {} });
  const parallel = postgres(hub.databaseUrl, { max: streams, onnotice: () => {}, socket: noDelaySocket } as postgres.Options<{}>);
  try {
    const fleet = await provisionFleet(hub.admin, n, people);
    const creds = new Map<string, Cred>();
    for (const r of await sql<{ ext: string; id: string; person_id: string; hash: string }[]>`
        SELECT p.external_id AS ext, c.id, c.person_id, encode(c.cred_hash, 'hex') AS hash
        FROM credentials c JOIN people p ON p.id = c.person_id WHERE c.org_id = ${fleet.orgId}`) creds.set(r.ext, r);

    // Rows in the order the hub receives them: frame by frame, terminals interleaved.
    const rows = (boot: number) => {
      const ev: string[] = [];
      const keys: string[] = [];
      const ts = new Date().toISOString();
      for (let f = 0; f < k; f += 500) {
        for (let i = 0; i < n; i++) {
          const d = fleet.devices[i]!;
          for (let j = f; j < Math.min(k, f + 500); j++) {
            const c = creds.get(`p${(i * k + j) % people}`)!;
            ev.push(`${ts}\t${fleet.orgId}\t${fleet.siteId}\t${d.id}\tterminal\t${boot}\t${j + 1}\tpunch\t${c.person_id}\t${c.id}\t\\\\x${c.hash}\tin\n`);
            keys.push(`${d.id}\tt\t${boot}\t${j + 1}\ts\n`);
          }
        }
      }
      return { ev, keys };
    };

    // `streams` transactions at a time, each on its own connection (the hub runs one per ingest worker).
    const variant = async (name: 'direct' | 'staging', boot: number, limit = Infinity, db = sql, streams = 1) => {
      const all = rows(boot);
      const ev = all.ev.slice(0, limit);
      const keys = all.keys.slice(0, limit);
      const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
      const meter = cpuMeter({ postgres: hub.postgresPids, generator: () => [process.pid] });
      const [walBefore] = await sql<{ lsn: string }[]>`SELECT pg_current_wal_insert_lsn()::text AS lsn`;
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: streams }, async () => {
        for (let i = next; i < ev.length; i = next) {
          next += batch;
          const b0 = performance.now();
          await db.begin(async (tx) => {
            if (name === 'direct') {
              await pipeline(Readable.from([keys.slice(i, i + batch).join('')]), await tx.unsafe('COPY event_keys (device_id, source, boot, seq, outcome) FROM STDIN').writable());
              await pipeline(Readable.from([ev.slice(i, i + batch).join('')]), await tx.unsafe(`COPY events (${EVENT_COLUMNS}) FROM STDIN`).writable());
            } else {
              await tx.unsafe(STAGING);
              await pipeline(Readable.from([ev.slice(i, i + batch).join('')]), await tx.unsafe(`COPY bench_staging (${EVENT_COLUMNS}) FROM STDIN`).writable());
              await tx.unsafe(STAGED_STORE);
            }
          });
          h.recordValue(Math.max(1, (performance.now() - b0) * 1000));
        }
      }));
      const wallMs = performance.now() - t0;
      const cpu = meter.stop();
      const [wal] = await sql<{ bytes: string }[]>`SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${walBefore!.lsn}::pg_lsn)::bigint::text AS bytes`;
      const [stored] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM events WHERE boot = ${boot} AND source = 'terminal'`;
      const ms = (q: number) => Math.round(h.getValueAtPercentile(q)) / 1000;
      const out = {
        rows: ev.length, stored: stored!.n, streams, wal_bytes_per_row: Math.round(Number(wal!.bytes) / ev.length), batches: Math.ceil(ev.length / batch), wall_ms: Math.round(wallMs),
        rows_per_s: Math.round(ev.length / (wallMs / 1000)), batch_ms: { p50: ms(50), p99: ms(99), p999: ms(99.9) }, cpu_cores: cpu.cores,
      };
      h.destroy();
      console.error(`copy ${name} x${streams}: ${out.rows} rows in ${out.wall_ms} ms = ${out.rows_per_s} rows/s (batch p50 ${out.batch_ms.p50} ms); cpu ${JSON.stringify(cpu.cores)}`);
      return out;
    };

    const boot = Math.floor(Date.now() / 1000) >>> 0;
    await variant('direct', boot - 1000, batch * 10); // warm-up: caches, JIT, the first partition page
    const direct = await variant('direct', boot);
    const staging = await variant('staging', boot + 1);
    const directDefault = await variant('direct', boot + 2, batch * 20, plain);
    const directParallel = await variant('direct', boot + 3, Infinity, parallel, streams);
    console.log(JSON.stringify({
      bench: 'baseline-copy', terminals: n, events_per_terminal: k, batch, row: 'one events row + one event_keys row per punch',
      direct, staging, direct_default_socket: directDefault, direct_parallel: directParallel, load_avg_1m: loadAverage(),
    }));
  } finally {
    await sql.end({ timeout: 5 });
    await plain.end({ timeout: 5 });
    await parallel.end({ timeout: 5 });
    await hub.stop();
  }
}

main().catch((err: Error) => {
  console.error(`bench/baseline-copy: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
