// HTTP benchmark of the operator API: autocannon against GET /v1/doors, GET /v1/events, a
// person's timesheet (GET /v1/timesheets) and /metrics, each beside GET /healthz (a bare uWS route: no key, no worker, no SQL) measured in
// the same run as the baseline. Prints one JSON line on stdout, progress on stderr.
//   node --import tsx bench/http.ts [--duration 10] [--connections 10] [--events 5000]
//   node --import tsx bench/http.ts --url http://127.0.0.1:8080 --key lk_... [--person UUID]   (a running hub)
// Without --url it starts a hub of its own (embedded PostgreSQL in a temporary folder) and loads
// --events events through a terminal, so /v1/events reads a real, indexed history.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createAdminClient, type AdminClient } from '../hub/admin-client.js';
import { loadConfig } from '../hub/config.js';
import { startHub, type Hub } from '../hub/main.js';
import { Terminal } from './terminal.js';

const USAGE = `usage: node --import tsx bench/http.ts [--duration 10] [--connections 10] [--events 5000] [--limit 50]
  [--url http://host:port --key lk_... [--person UUID]]
--duration seconds per route, --connections concurrent connections, --limit the events page size;
--events how many events the self-started hub is loaded with (ignored with --url); --person whose
timesheet to read on a running hub (the self-started hub uses the person whose punches it loaded).`;

// autocannon ships no types: the part of its API used here.
interface Histogram { average: number; p50: number; p99: number; max: number }
interface AutocannonResult { requests: Histogram & { total: number }; latency: Histogram; errors: number; timeouts: number; non2xx: number; duration: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function int(name: string, v: string | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

interface Target { url: string; key: string; eventsLoaded: number | null; person?: string; from?: string; to?: string; close(): Promise<void>; hubElu?: () => number }

/** A hub of its own with an org, 20 doors, a viewer key and `events` events sent by a terminal. */
async function selfHub(events: number): Promise<Target> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lintel-bench-http-'));
  await chmod(dataDir, 0o755); // the postgres user must reach it when run as root
  const config = loadConfig({
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: '0', LINTEL_DATA_DIR: dataDir, LINTEL_PG_PORT: String(await freePort()),
    LINTEL_LOG_LEVEL: 'warn', LINTEL_HUB_ID: `bench-http-${process.pid}`,
  });
  let hub: Hub | undefined;
  let admin: AdminClient | undefined;
  let term: Terminal | undefined;
  const close = async () => {
    await term?.close().catch(() => {});
    await admin?.close();
    await hub?.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    hub = await startHub(config);
    admin = await createAdminClient({ ...config, databaseUrl: hub.databaseUrl });
    await admin.run('createOrg', { name: 'bench' });
    await admin.run('createSite', { org: 'bench', name: 'site', tz: 'UTC' });
    for (let i = 0; i < 20; i++) await admin.run('createDoor', { org: 'bench', site: 'site', code: `D${i}` });
    const device = await admin.run<{ token: string }>('createDevice', { org: 'bench', site: 'site', name: 'reader', doors: ['D0'] });
    await admin.run('createPerson', { org: 'bench', externalId: 'P1' });
    await admin.run('addCredential', { org: 'bench', person: 'P1', cred: 'card-1' });
    // P2 keeps office hours for a month: the timesheet read is one person's realistic month.
    const person = await admin.run<{ id: string }>('createPerson', { org: 'bench', externalId: 'P2' });
    await admin.run('addCredential', { org: 'bench', person: 'P2', cred: 'card-2' });
    const { key } = await admin.run<{ key: string }>('createApiKey', { org: 'bench', name: 'bench', role: 'viewer' });
    await hub.waitForState(await admin.run<number>('stateVersion'));

    const started = performance.now();
    term = new Terminal({ url: `ws://127.0.0.1:${hub.port}/v1/terminal`, token: device.token, reconnect: false });
    await term.connect();
    const t0 = Date.now() - events * 1000;
    const states = ['opened', 'closed'] as const;
    for (let i = 0; i < events; i++) {
      term.enqueue(i % 2
        ? { ts: t0 + i * 1000, kind: 'punch', cred: 'card-1', dir: 'in' }
        : { ts: t0 + i * 1000, kind: 'door', door: 'D0', state: states[(i / 2) % 2]! });
    }
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    for (let d = 31; d >= 1; d--) {
      term.enqueue({ ts: today - d * 86_400_000 + 8 * 3_600_000, kind: 'punch', cred: 'card-2', dir: 'in' });
      term.enqueue({ ts: today - d * 86_400_000 + 16.5 * 3_600_000, kind: 'punch', cred: 'card-2', dir: 'out' });
    }
    await term.drained();
    // Autovacuum would do this within a minute. Before it does, the planner still believes the
    // new org has no events and sorts all of them instead of reading the (org_id, ts, id) index
    // backwards: measured here, that is ~10 ms a page instead of ~0.2 ms.
    await admin.run('query', { text: 'ANALYZE events' });
    console.error(`loaded ${events} events in ${Math.round(performance.now() - started)} ms`);
    let elu = performance.eventLoopUtilization();
    return {
      url: `http://127.0.0.1:${hub.port}`, key, eventsLoaded: events, close, person: person.id,
      from: new Date(today - 31 * 86_400_000).toISOString().slice(0, 10), to: new Date(today).toISOString().slice(0, 10),
      // The hub's uWS loop is this process's main thread; autocannon runs in a worker thread.
      hubElu: () => {
        const now = performance.eventLoopUtilization();
        const d = performance.eventLoopUtilization(now, elu);
        elu = now;
        return Math.round(d.utilization * 1000) / 1000;
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' }, connections: { type: 'string' }, events: { type: 'string' }, limit: { type: 'string' },
      url: { type: 'string' }, key: { type: 'string' }, person: { type: 'string' }, help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) { console.error(USAGE); return 0; }
  const duration = int('duration', values.duration, 10, 1);
  const connections = int('connections', values.connections, 10, 1);
  const events = int('events', values.events, 5000, 1);
  const limit = int('limit', values.limit, 50, 1);
  if (values.url && !values.key) throw new Error('--url needs --key (an API key of the hub)');
  if (values.key && !values.url) throw new Error('--key goes with --url');

  const target: Target = values.url
    ? { url: values.url.replace(/\/$/, ''), key: values.key!, eventsLoaded: null, person: values.person, close: async () => {} }
    : await selfHub(events);
  try {
    const auth = { authorization: `Bearer ${target.key}` };
    const routes: [string, string, Record<string, string>][] = [
      ['GET /healthz', '/healthz', {}],
      ['GET /v1/doors', '/v1/doors', auth],
      [`GET /v1/events?limit=${limit}`, `/v1/events?limit=${limit}`, auth],
      ['GET /metrics', '/metrics', {}],
    ];
    if (target.person) {
      const from = target.from ?? new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
      const to = target.to ?? new Date().toISOString().slice(0, 10);
      routes.splice(3, 0, ['GET /v1/timesheets', `/v1/timesheets?person=${target.person}&from=${from}&to=${to}`, auth]);
    }
    const results: Record<string, unknown> = {};
    let baseline = 0;
    for (const [name, p, headers] of routes) {
      console.error(`${name}: ${duration} s, ${connections} connections`);
      target.hubElu?.();
      const r = await autocannon({ url: `${target.url}${p}`, headers, duration, connections, workers: 1 });
      const reqPerS = Math.round(r.requests.average);
      if (name === 'GET /healthz') baseline = reqPerS;
      results[name] = {
        req_per_s: reqPerS,
        latency_ms: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
        requests: r.requests.total,
        errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx,
        vs_healthz: baseline ? Math.round((reqPerS / baseline) * 1000) / 1000 : null,
        hub_loop_elu: target.hubElu?.() ?? null,
      };
    }
    console.log(JSON.stringify({
      bench: 'http', target: values.url ?? 'self', duration_s: duration, connections, events_loaded: target.eventsLoaded,
      events_limit: limit, baseline: 'GET /healthz', cpus: os.cpus().length, node: process.version, routes: results,
    }));
    const failed = Object.values(results).some((r) => (r as { errors: number; non2xx: number }).errors + (r as { non2xx: number }).non2xx > 0);
    return failed ? 1 : 0;
  } finally {
    await target.close();
  }
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  console.error(`bench/http: ${err.message}`);
  process.exitCode = 2;
});
