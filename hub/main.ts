// The hub's composition root: the only place that builds objects and wires them together.
// `npm start` runs this file; tests call startHub() with their own configuration.
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Piscina } from 'piscina';
import type { WorkerSettings } from '../protocol/tasks.js';
import { createAccessEngine } from './access.js';
import { warmUpDecisions } from './access-warmup.js';
import { createAccounting } from './accounting.js';
import { createAdmission } from './admission.js';
import { createCommandRouter } from './commands.js';
import { keyFingerprint, loadConfig, PROJECT_ROOT, type Config } from './config.js';
import { createControl } from './control.js';
import { startEmbeddedPostgres, type EmbeddedDb } from './embedded-postgres.js';
import { registerApi } from './api/index.js';
import { createStore } from './api/services.js';
import { registerHttpRoutes } from './http.js';
import { createIngest } from './ingest.js';
import { createFleet, type Fleet } from './fleet.js';
import { createLogger, type Logger } from './log.js';
import { createMaintenance } from './maintenance.js';
import { createMetrics } from './metrics.js';
import { openSpool } from './spool.js';
import { createSpoolDrain } from './spool-drain.js';
import { createTerminalEndpoint } from './terminals.js';
import { listenExclusive, listenPort, loadUws, type us_listen_socket } from './uws.js';

const HEARTBEAT_MS = 5000;
const STORE_PROBE_MS = 1000;
const FLEET_APPLY_WAIT_MS = 1000; // while PostgreSQL is away, how often the hub asks whether it is back
const SHUTDOWN_DRAIN_MS = 10_000;

// Workers are referenced by file only, never imported: the database client must not load here.
// Compiled (Docker) they are .js files loaded directly; from the .ts sources a shim loads tsx first.
const FROM_SOURCES = path.extname(fileURLToPath(import.meta.url)) === '.ts';
const WORKERS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'workers');
function worker(name: string): { filename: string; data: { $module?: string } } {
  const module = pathToFileURL(path.join(WORKERS, `${name}${FROM_SOURCES ? '.ts' : '.js'}`)).href;
  return FROM_SOURCES ? { filename: pathToFileURL(path.join(WORKERS, 'tsx-shim.mjs')).href, data: { $module: module } } : { filename: module, data: {} };
}

export interface Hub {
  port: number;
  databaseUrl: string;
  config: Readonly<Config>;
  metrics: ReturnType<typeof createMetrics>;
  log: Logger;
  /** Resolves once the hub decides on state version `v` or newer. */
  waitForState(v: number): Promise<void>;
  close(): Promise<void>;
}

async function retry<T>(what: string, log: Logger, fn: () => Promise<T>, attempts = 30): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      log.warn({ err, attempt: i }, `${what} failed; retrying`);
      await sleep(Math.min(2000, 100 * 2 ** i));
    }
  }
}

export async function startHub(config: Readonly<Config>, log: Logger = createLogger(config.logLevel)): Promise<Hub> {
  const uws = loadUws(config.allowUwsFallback);
  if (!uws.native) log.warn({ detail: uws.detail }, 'running on the slow uWebSockets.js JavaScript fallback');
  const metrics = createMetrics();

  let embedded: EmbeddedDb | undefined;
  if (!config.databaseUrl) embedded = await startEmbeddedPostgres(config.dataDir, config.pgPort, log.child({ component: 'embedded-postgres' }));
  try {
    return await startOnStore(config, log, uws, metrics, embedded);
  } catch (err) {
    await embedded?.stop().catch(() => {}); // a hub that does not start leaves no postgres behind
    throw err;
  }
}

async function startOnStore(config: Readonly<Config>, log: Logger, uws: ReturnType<typeof loadUws>, metrics: ReturnType<typeof createMetrics>, embedded: EmbeddedDb | undefined): Promise<Hub> {
  const databaseUrl = config.databaseUrl ?? embedded!.url;

  const migrationsDir = path.join(PROJECT_ROOT, 'migrations');
  if (!existsSync(migrationsDir)) throw Object.assign(new Error(`no migrations folder at ${migrationsDir}`), { code: 'LINTEL_ERR_CONFIG_INVALID' });
  const controlWorker = worker('control');
  const control = createControl(controlWorker.filename, { ...controlWorker.data, databaseUrl, migrationsDir: pathToFileURL(path.join(PROJECT_ROOT, 'migrations') + path.sep).href }, config.workerNice);
  const applied = await retry('migrations', log, () => control.migrate());
  if (applied.length) log.info({ applied }, 'migrations applied');
  if (!(await control.checkKeyFingerprint(keyFingerprint(config.credentialKey)))) {
    throw Object.assign(new Error('LINTEL_CREDENTIAL_KEY differs from the key this database was set up with'), { code: 'LINTEL_ERR_CONFIG_INVALID' });
  }

  const engine = createAccessEngine({ credentialKey: config.credentialKey });
  const warm = performance.now();
  const warmed = warmUpDecisions(); // the decision path compiled before the first door asks
  log.debug({ ms: Math.round(performance.now() - warm), reasons: warmed }, 'decision path warmed up');
  const accounting = createAccounting((id) => engine.deviceById(id) !== undefined);
  const stateWaiters: { v: number; resolve(): void }[] = [];
  let storeUp = true;
  let draining = false;
  let reloading: Promise<void> | undefined;
  let reloadAgain = false;
  let terminals: ReturnType<typeof createTerminalEndpoint> | undefined;

  async function reload(): Promise<void> {
    if (reloading) { reloadAgain = true; return reloading; }
    reloading = (async () => {
      do {
        reloadAgain = false;
        const snap = await control.snapshot();
        if (snap.version >= engine.version) {
          engine.load(snap);
          accounting.retain();
          metrics.stateVersion.set(snap.version);
          terminals?.enforce(engine.deviceById);
          for (const w of stateWaiters.splice(0)) if (w.v <= snap.version) w.resolve(); else stateWaiters.push(w);
        }
        // Inside the loop: a change notified while the heartbeat is in flight sets reloadAgain
        // and must be loaded before `reloading` clears, or it is lost until the next change.
        await control.heartbeat(config.hubId, engine.version).catch(() => {});
      } while (reloadAgain);
    })().finally(() => { reloading = undefined; });
    return reloading;
  }
  await reload();
  /** Resolves once the hub decides on state version `v`: the worker committed it, so one reload suffices. */
  async function ensureState(v: number): Promise<void> {
    if (engine.version >= v) return;
    await reload();
    if (engine.version < v) await new Promise<void>((resolve) => stateWaiters.push({ v, resolve }));
  }
  let fleet: Fleet | undefined;
  control.listen((m) => {
    if (m.type === 'fleet') fleet?.receive(m.message);
    else if (m.type === 'listening' || m.version > engine.version) reload().catch((err) => log.error({ err }, 'state reload failed'));
  });

  const settings: WorkerSettings = {
    databaseUrl, credentialKey: config.credentialKey, maxEventAgeMs: config.eventMaxAgeMs, maxEventFutureMs: config.eventMaxFutureMs, poolSize: 1,
  };
  const ingestWorker = worker('ingest');
  const pool = new Piscina({ filename: ingestWorker.filename, minThreads: config.ingestWorkers, maxThreads: config.ingestWorkers, idleTimeout: Infinity, niceIncrement: config.workerNice, workerData: { ...settings, ...ingestWorker.data } });
  pool.on('error', (err) => log.error({ err }, 'ingest worker error'));
  const spool = await openSpool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes, segmentBytes: config.spoolSegmentBytes }, { log: log.child({ component: 'spool' }), metrics });

  /** PostgreSQL went away or came back: degraded mode spools batches; recovery drains the spool. */
  let probe: NodeJS.Timeout | undefined;
  function setStoreUp(up: boolean): void {
    if (up === storeUp) return;
    storeUp = up;
    metrics.storeUp.set(up ? 1 : 0);
    metrics.degraded.set(up ? 0 : 1);
    if (up) {
      log.info({ spoolBytes: spool.bytes, spoolSegments: spool.segments }, 'store available again');
      spoolDrain.kick();
    } else {
      log.warn({ spool: spool.enabled }, spool.enabled ? 'store unavailable; degraded: events go to the local spool' : 'store unavailable; events are answered busy');
      probe ??= setInterval(() => {
        control.ping().then(() => { clearInterval(probe); probe = undefined; setStoreUp(true); }, () => {});
      }, STORE_PROBE_MS);
    }
  }
  const ingest = createIngest(
    { batchMs: config.batchMs, batchMaxBytes: config.batchMaxBytes, maxInflightBytes: config.maxInflightBytes, maxBatchesInFlight: config.ingestWorkers * 2, maxPendingHubEvents: 100_000 },
    {
      pool, metrics, accounting, spool, log: log.child({ component: 'ingest' }),
      isStoreDown: () => !storeUp,
      stateVersion: () => engine.version,
      onStoreError(unavailable) { if (unavailable) setStoreUp(false); },
      onStoreOk() { setStoreUp(true); },
    },
  );
  const spoolDrain = createSpoolDrain({ spool, pool, metrics, log: log.child({ component: 'spool' }), isStoreDown: () => !storeUp, onStoreError(unavailable) { if (unavailable) setStoreUp(false); } });
  metrics.storeUp.set(1);
  metrics.degraded.set(0);
  spoolDrain.kick(); // a spool left by a previous run (crash or outage)

  const hubBoot = randomInt(1, 2 ** 31);
  let hubSeq = 0;
  const commands = createCommandRouter();
  const app = uws.uws.App();
  terminals = createTerminalEndpoint(app, {
    heartbeatS: config.heartbeatS, maxConnections: config.maxConnections, maxBackpressure: config.maxBackpressure, busyRetryMs: config.busyRetryMs, retryAfterS: 5,
  }, {
    engine, admission: createAdmission({ perSecond: config.admitPerS }), commands, metrics, log: log.child({ component: 'terminals' }), ingest, hubBoot, nextHubSeq: () => ++hubSeq,
    record: (item) => ingest.recordHubEvent(item), lastSeq: (deviceId, boot) => control.lastSeq(deviceId, boot),
    sessionReady: (ws) => fleet?.claim(ws), sessionClosed: (ws) => fleet?.release(ws),
  });
  fleet = createFleet({ hubId: config.hubId }, { control, commands, session: (id) => terminals!.get(id), log: log.child({ component: 'fleet' }) });
  // A change made through this hub's API answers once every live hub decides on it (each
  // reloads on the lintel_state notification), or after FLEET_APPLY_WAIT_MS at most.
  const ensureFleetState = async (v: number) => {
    await ensureState(v);
    const behind = await control.waitForHubs(v, FLEET_APPLY_WAIT_MS).catch(() => []);
    if (behind.length) log.warn({ version: v, behind }, 'hubs not yet on the new access state');
  };
  const store = createStore(worker('api'), { databaseUrl, credentialKey: config.credentialKey }, ensureFleetState, config.workerNice);
  registerApi(app, { store, engine, terminals, commands, fleet, metrics, commandTtlMs: config.commandTtlMs, accounting }, log.child({ component: 'api' }));
  registerHttpRoutes(app, metrics, {
    ready() {
      // Without PostgreSQL the hub still takes events while its spool has room: degraded, ready.
      const reasons = [];
      if (draining) reasons.push('draining');
      if (!storeUp) reasons.push('store_unavailable');
      if (!storeUp && spool.full) reasons.push(spool.enabled ? 'spool_full' : 'spool_off');
      const ok = !draining && (storeUp || !spool.full);
      return { ok, degraded: !storeUp, reasons, spool: { bytes: spool.bytes, segments: spool.segments, capacity_bytes: spool.capacity, draining: spoolDrain.running } };
    },
  });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    // Exclusive: uWS otherwise shares the port (SO_REUSEPORT) with a second hub started by mistake.
    listenExclusive(app, config.host, config.port, (s) => (s ? resolve(s) : reject(Object.assign(new Error(`cannot listen on ${config.host}:${config.port}: in use?`), { code: 'LINTEL_ERR_CONFIG_INVALID' }))));
  });
  const port = listenPort(uws.uws, listenSocket);

  const beat = setInterval(() => {
    control.ping().then((version) => {
      setStoreUp(true);
      spoolDrain.kick();
      // A notification lost with the listen connection: the version tells, the reload catches up.
      if (version > engine.version) reload().catch((err) => log.error({ err }, 'state reload failed'));
      return control.heartbeat(config.hubId, engine.version);
    }).catch(() => setStoreUp(false));
  }, HEARTBEAT_MS);
  beat.unref();
  log.info({ port, hubId: config.hubId, stateVersion: engine.version, embedded: Boolean(embedded), workers: config.ingestWorkers }, 'hub listening');
  // Partitions ahead and retention policies, at start and every interval (one hub at a time).
  const maintenance = createMaintenance({ intervalMs: config.maintenanceIntervalMs }, { control, log: log.child({ component: 'maintenance' }), metrics });

  let closing: Promise<void> | undefined;
  return {
    port, databaseUrl, config, metrics, log,
    waitForState: (v) => (engine.version >= v ? Promise.resolve() : new Promise((resolve) => stateWaiters.push({ v, resolve }))),
    close() {
      closing ??= (async () => {
        // Stop listening, answer what is in flight, close sessions with 1001, then the pools and SQL.
        draining = true;
        terminals!.draining = true;
        clearInterval(beat);
        uws.uws.us_listen_socket_close(listenSocket);
        // Frames first, then sessions (no more doors asking), then the decision records, all
        // within SHUTDOWN_DRAIN_MS; past it the batch in flight is abandoned (its frames answered
        // busy, so terminals resend) and the pool is destroyed.
        const giveUp = new AbortController();
        const deadline = sleep(SHUTDOWN_DRAIN_MS, undefined, { signal: giveUp.signal }).then(() => false, () => false);
        const framesDone = await Promise.race([ingest.drainFrames().then(() => true), deadline]);
        terminals!.closeAll();
        const allDone = framesDone && await Promise.race([ingest.drain().then(() => true), deadline]);
        giveUp.abort();
        ingest.stop();
        if (!allDone) log.warn({ code: 'LINTEL_ERR_SHUTDOWN_DRAIN_TIMEOUT', timeoutMs: SHUTDOWN_DRAIN_MS }, 'shutdown drain timed out; abandoning the batch in flight');
        if (probe) clearInterval(probe);
        await spoolDrain.close();
        await spool.close(); // what is left drains at the next start
        commands.close();
        await store.close();
        await pool.destroy();
        if (ingest.unsavedHubRecords) log.warn({ records: ingest.unsavedHubRecords }, 'decision records not stored at shutdown');
        await maintenance.close();
        await control.forgetHub(config.hubId).catch(() => {});
        await control.close();
        await embedded?.stop();
        log.info('hub stopped');
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`lintel: ${(err as Error).message}`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  let hub: Hub;
  try {
    hub = await startHub(config, log);
  } catch (err) {
    const e = err as { code?: string; message?: string } | undefined;
    log.fatal({ err, code: e?.code }, 'hub failed to start');
    console.error(`lintel: ${e?.message ?? String(err)}`);
    process.exit(e?.code === 'LINTEL_ERR_CONFIG_INVALID' ? 2 : 1);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), SHUTDOWN_DRAIN_MS + 10_000);
      force.unref();
      hub.close().then(() => process.exit(0), (err) => { log.error({ err }, 'shutdown failed'); process.exit(1); });
    });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
