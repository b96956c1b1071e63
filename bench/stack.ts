// A hub under test as its own process (`node --import tsx hub/main.ts`, embedded PostgreSQL in a
// temporary folder), an admin client on its database for provisioning and read-back, and the
// CPU of the hub and of its PostgreSQL, so a benchmark's generator never shares their process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createAdminClient, type AdminClient } from '../hub/admin-client.js';
import { loadConfig } from '../hub/config.js';
import { runBurst, type BurstDevice, type BurstOptions, type BurstSummary } from './burst.js';
import { Terminal } from './terminal.js';
import { cpuMeter, descendants, freePort, loadAverage, metricSum, residentBytes, ROOT, scrape, sleep, tempDir, type CpuMeter } from './proc.js';

export interface HubProcess {
  pid: number;
  url: string; // ws://.../v1/terminal
  httpUrl: string;
  databaseUrl: string;
  dataDir: string;
  admin: AdminClient;
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** CPU of the hub process (event loop + worker threads), its PostgreSQL and this process (the generator), in cores. */
  meter(): CpuMeter;
  postgresPids(): number[];
  /** Stops the hub (SIGTERM: it drains, then stops its PostgreSQL); `keepData` for a restart. */
  stop(keepData?: boolean): Promise<void>;
}

export interface HubProcessOptions { env?: Record<string, string>; dataDir?: string; pgPort?: number; credentialKey?: string }

export async function startHubProcess(opts: HubProcessOptions = {}): Promise<HubProcess> {
  const dataDir = opts.dataDir ?? (await tempDir('lintel-bench-'));
  const port = await freePort();
  const pgPort = opts.pgPort ?? (await freePort());
  const credentialKey = opts.credentialKey ?? randomBytes(32).toString('hex');
  const env: Record<string, string> = {
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: String(port), LINTEL_DATA_DIR: dataDir, LINTEL_PG_PORT: String(pgPort),
    LINTEL_CREDENTIAL_KEY: credentialKey, LINTEL_LOG_LEVEL: 'warn', LINTEL_HUB_ID: `bench-${process.pid}-${port}`,
    LINTEL_ADMIT_PER_S: '1000000', // a benchmark connects its fleet at once; admission pacing is tested elsewhere
    ...opts.env,
  };
  // BENCH_HUB_NODE_ARGS: extra node flags for the hub under test, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
  // (each of its threads writes a profile when it exits; NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = (process.env.BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'hub/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (c: string) => { output.push(c); if (output.length > 100) output.shift(); };
  child.stdout!.setEncoding('utf8').on('data', keep); // always drained: a full pipe would stall the hub
  child.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => { dead = true; });
  const httpUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (dead) throw new Error(`hub exited before it listened:\n${output.join('').slice(-3000)}`);
    if (i > 1200) { child.kill('SIGKILL'); throw new Error('hub did not listen within 120 s'); }
    try {
      if ((await fetch(`${httpUrl}/healthz`)).ok) break;
    } catch { /* not yet */ }
    await sleep(100);
  }
  const config = loadConfig({ ...env });
  const databaseUrl = `postgres://lintel:lintel-embedded@127.0.0.1:${pgPort}/postgres`;
  const admin = await createAdminClient({ ...config, databaseUrl });
  const pid = child.pid!;
  const postgresPids = () => descendants(pid);
  return {
    pid, url: `ws://127.0.0.1:${port}/v1/terminal`, httpUrl, databaseUrl, dataDir, admin,
    query: (text, params) => admin.run('query', { text, params }),
    meter: () => cpuMeter({ hub: () => [pid], postgres: postgresPids, generator: () => [process.pid] }, { hub_event_loop: `${pid}/task/${pid}` }),
    postgresPids,
    async stop(keepData = false) {
      await admin.close().catch(() => {});
      if (!dead) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(t);
      }
      if (!keepData && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Fleet { devices: BurstDevice[]; creds: string[]; orgId: string; siteId: string }

/** `terminals` devices on door D1 and `people` people with one card each, all granted on D1. */
export async function provisionFleet(admin: AdminClient, terminals: number, people: number, org = 'bench'): Promise<Fleet> {
  const persons = Array.from({ length: people }, (_, i) => ({ externalId: `p${i}`, creds: [`c${i}`] }));
  const devices: BurstDevice[] = [];
  let orgId = '';
  let siteId = '';
  // Chunks keep one transaction short; a fleet of 10,000 devices is one INSERT per device.
  for (let i = 0; i < Math.max(terminals, 1); i += 2000) {
    const names = Array.from({ length: Math.min(2000, terminals - i) }, (_, j) => `t${i + j}`);
    const r = await admin.run<{ orgId: string; siteId: string; devices: { id: string; token: string }[] }>('bulkProvision', {
      org, site: 'plant', tz: 'UTC', doors: ['D1'], devices: names, people: i === 0 ? persons : [], group: 'all',
    });
    orgId = r.orgId;
    siteId = r.siteId;
    devices.push(...r.devices.map((d) => ({ id: d.id, token: d.token })));
  }
  const behind = await admin.settle(60_000);
  if (behind.length) throw new Error(`hub did not load the fleet: ${behind.join(', ')}`);
  return { devices, creds: persons.map((p) => p.creds[0]!), orgId, siteId };
}

export interface MeasuredBurst extends BurstSummary {
  cpu: { wall_s: number; cores: Record<string, number> }; // hub (hub_event_loop: its main thread), postgres, generator, machine, others: 1 = one core
  load_avg_1m: number;
  hub_metrics: { stored: number | null; batches: number | null; events_per_batch: number | null; commit_s: number | null; rss_mib: number | null };
  generator_bound: boolean; // the generator, not the hub, limited this run: it does not count
  lost: number; // punches not in PostgreSQL
}

/** Generator CPU past this share of its one event loop means it, not the hub, may set the pace. */
export const GENERATOR_BOUND_PCT = 90;

/** One burst against a hub process, with CPU per process and the hub's own counters around it. */
export async function measureBurst(hub: HubProcess, fleet: Fleet, opts: Omit<BurstOptions, 'url' | 'devices' | 'creds' | 'query'> & { terminals: number }): Promise<MeasuredBurst> {
  const before = await scrape(hub.httpUrl);
  const meter = hub.meter();
  const s = await runBurst({ ...opts, url: hub.url, devices: fleet.devices.slice(0, opts.terminals), creds: fleet.creds, query: hub.query, meter: hub.meter });
  const cpu = meter.stop();
  const after = await scrape(hub.httpUrl);
  const delta = (name: string) => {
    const a = metricSum(after, name);
    const b = metricSum(before, name);
    return a === null || b === null ? null : a - b;
  };
  const stored = delta('lintel_ingest_events_stored_total');
  const batches = delta('lintel_ingest_batch_events_count');
  const rss = residentBytes(after);
  return {
    ...s, cpu, load_avg_1m: loadAverage(),
    hub_metrics: {
      stored, batches,
      events_per_batch: stored !== null && batches ? Math.round(stored / batches) : null,
      commit_s: round3(delta('lintel_ingest_commit_seconds_sum')),
      rss_mib: rss === null ? null : Math.round(rss / 1048576),
    },
    generator_bound: s.generator.cpu_pct >= GENERATOR_BOUND_PCT,
    lost: s.punches - (s.db?.distinct ?? 0),
  };
}

const round3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);

/** A small unmeasured burst first: JIT, PostgreSQL caches and the month's partition warm up. */
export async function warmUp(hub: HubProcess, fleet: Fleet, terminals: number, events: number): Promise<void> {
  await runBurst({
    url: hub.url, devices: fleet.devices.slice(0, Math.min(terminals, 100)), creds: fleet.creds, events: Math.min(events, 20),
    authTerminals: 1, authRate: 5, timeoutMs: 60_000, boot: (Math.floor(Date.now() / 1000) - 100_000) >>> 0,
  });
}

/**
 * Presents every card of the fleet once at the door, from one terminal, as the shifts before this
 * one would have: the hub then remembers each card's HMAC (protocol/credential-hash.ts), the
 * steady state of a site whose people badge every day. Resolves with how many were answered.
 */
export async function presentCards(hub: HubProcess, fleet: Fleet, door = 'D1', inFlight = 200): Promise<number> {
  const term = new Terminal({ url: hub.url, token: fleet.devices[0]!.token, boot: (Math.floor(Date.now() / 1000) - 200_000) >>> 0, reconnect: false });
  await term.connect();
  let answered = 0;
  try {
    for (let i = 0; i < fleet.creds.length; i += inFlight) {
      const results = await Promise.all(fleet.creds.slice(i, i + inFlight).map((c) => term.auth(c, door)));
      answered += results.length;
    }
  } finally {
    await term.close();
  }
  return answered;
}
