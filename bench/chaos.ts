// `npm run chaos`: N simulated terminals punch steadily against a hub (a child process) on a
// PostgreSQL this script owns, while it stops PostgreSQL, kills the hub, drops every session at
// once and restarts the hub gracefully; then it reconciles what the terminals sent and had acked
// with what PostgreSQL holds. A Markdown table goes to stderr, one JSON line to stdout; exit 1
// when an event is missing or stored twice. See bench/CHAOS.md.
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createAdminClient, type AdminClient } from '../hub/admin-client.js';
import { loadConfig } from '../hub/config.js';
import { int } from './args.js';
import { diagnoseHang, PG_ACTIVITY } from './chaos/diagnose.js';
import { createFleet, until, type Fleet } from './chaos/fleet.js';
import { reconcile } from './chaos/reconcile.js';
import { markdown, type PhaseRow } from './chaos/report.js';
import { alive, hubEnv, hubProbe, ownPostgres, spoolOnDisk, startHubProcess, type HubRun, type OwnPostgres } from './chaos/stack.js';
import { createWatch } from './chaos/watch.js';
import { freePort, loadAverage, sleep } from './proc.js';

const USAGE = `usage: npm run chaos -- [--terminals 500] [--rate 1] [--auth-terminals N/10] [--auth-rate 2]
  [--admit-per-s 200] [--backoff-min-ms 100] [--backoff-max-ms 2000] [--quick] [--phases a,b,...]
  [--baseline-s 10] [--pre-s 3] [--pg-down-s 10] [--hub-down-s 3] [--hang-s 180] [--dir PARENT] [--keep]
phases (default: all): baseline, pg-outage, hub-kill, pg-and-hub, storm, sigterm, sigterm-stalled-db`;

const PHASES = ['baseline', 'pg-outage', 'hub-kill', 'pg-and-hub', 'storm', 'sigterm', 'sigterm-stalled-db'] as const;
type Phase = (typeof PHASES)[number];
const STALL_S = 15;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      terminals: { type: 'string' }, rate: { type: 'string' }, 'auth-terminals': { type: 'string' }, 'auth-rate': { type: 'string' },
      'admit-per-s': { type: 'string' }, 'backoff-min-ms': { type: 'string' }, 'backoff-max-ms': { type: 'string' },
      quick: { type: 'boolean', default: false }, phases: { type: 'string' }, 'baseline-s': { type: 'string' }, 'pre-s': { type: 'string' },
      'pg-down-s': { type: 'string' }, 'hub-down-s': { type: 'string' }, 'hang-s': { type: 'string' },
      dir: { type: 'string' }, keep: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) { console.error(USAGE); return 0; }
  const quick = values.quick!;
  const n = int('terminals', values.terminals, quick ? 100 : 500, 1);
  const rate = Number(values.rate ?? 1);
  if (!(rate > 0)) throw new Error('--rate must be > 0');
  const authTerminals = int('auth-terminals', values['auth-terminals'], Math.ceil(n / 10));
  const authRate = Number(values['auth-rate'] ?? 2);
  if (!(authRate >= 0)) throw new Error('--auth-rate must be >= 0');
  const admitPerS = int('admit-per-s', values['admit-per-s'], 200, 1);
  const backoffMinMs = int('backoff-min-ms', values['backoff-min-ms'], 100, 1);
  const backoffMaxMs = int('backoff-max-ms', values['backoff-max-ms'], 2000, backoffMinMs);
  const baselineMs = int('baseline-s', values['baseline-s'], quick ? 3 : 10, 1) * 1000;
  const preMs = int('pre-s', values['pre-s'], quick ? 1 : 3, 0) * 1000;
  const pgDownMs = int('pg-down-s', values['pg-down-s'], quick ? 4 : 10, 1) * 1000;
  const hubDownMs = int('hub-down-s', values['hub-down-s'], quick ? 1 : 3, 0) * 1000;
  const hangMs = int('hang-s', values['hang-s'], 180, 5) * 1000;
  const phases = (values.phases?.split(',').map((p) => p.trim()) ?? [...PHASES]) as Phase[];
  for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}; ${USAGE}`);

  const work = await mkdtemp(path.join(values.dir ?? os.tmpdir(), 'lintel-chaos-'));
  await chmod(work, 0o755); // the postgres user must reach it when run as root
  const log = (msg: string) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}`);
  let pg: OwnPostgres | undefined;
  let hub: HubRun | undefined;
  let hubs = 0;
  let fleet: Fleet | undefined;
  let admin: AdminClient | undefined;
  let watch: ReturnType<typeof createWatch> | undefined;
  let ok = false;
  const cleanup = async () => {
    watch?.close();
    await fleet?.close();
    await admin?.close().catch(() => {});
    admin = undefined;
    if (alive(hub)) {
      hub.child.kill('SIGTERM');
      const gone = await Promise.race([hub.exited.then(() => true), sleep(30_000).then(() => false)]);
      if (!gone) hub.child.kill('SIGKILL');
    }
    await pg?.stop().catch(() => {});
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { void cleanup().finally(() => process.exit(130)); });
  }

  try {
    log(`work folder ${work}; ${n} terminals x ${rate} punch/s, ${authTerminals} of them asking ${authRate} auth/s`);
    pg = await ownPostgres(path.join(work, 'pg'), await freePort());
    const port = await freePort();
    const dataDir = path.join(work, 'hub');
    const env = hubEnv({ dataDir, port, databaseUrl: pg.url, admitPerS });
    const url = `ws://127.0.0.1:${port}/v1/terminal`;
    const probe = hubProbe(`http://127.0.0.1:${port}`);
    const pgActivity = async () => {
      const a = await createAdminClient(loadConfig(env));
      try { return await a.run<unknown[]>('query', { text: PG_ACTIVITY, params: [] }); } finally { await a.close(); }
    };
    const startHub = async (): Promise<number> => {
      hub = startHubProcess(env, work, ++hubs);
      const h = hub;
      const at = await withHang(h.listening, hangMs, `"hub listening" from hub ${hubs}`).catch(async (err: Error) => {
        if (alive(h)) throw new Error(`${err.message} (diagnosis in ${await diagnoseHang(h.child.pid!, work, err.message, pgActivity)})`);
        throw err;
      });
      return Math.round(at - hub.spawnedAt);
    };
    await startHub();

    const provisionStart = performance.now();
    admin = await createAdminClient(loadConfig(env));
    const people = Array.from({ length: n }, (_, i) => ({ externalId: `chaos-p${i}`, creds: [`chaos-c${i}`] }));
    const bulk = await admin.run<{ devices: { id: string; name: string; token: string }[] }>('bulkProvision', {
      org: 'chaos', site: 'plant', tz: 'UTC', doors: ['D1'], devices: Array.from({ length: n }, (_, i) => `chaos-${i}`), people, group: 'all',
    });
    const behind = await admin.settle(30_000);
    if (behind.length) log(`warning: hub not yet on the new state: ${behind.join(', ')}`);
    await admin.close();
    admin = undefined;
    log(`provisioned ${n} devices and people in ${Math.round(performance.now() - provisionStart)} ms`);

    const boot = randomInt(1, 2 ** 31);
    fleet = createFleet({
      url, devices: bulk.devices, creds: people.map((p) => p.creds[0]!), door: 'D1', boot, rate, authTerminals, authRate, backoffMinMs, backoffMaxMs,
    });
    const f = fleet;
    const connectMs = Math.round(await f.connectAll(hangMs));
    log(`${n} terminals connected in ${connectMs} ms`);
    watch = createWatch(() => probe.metrics(), () => hubs);
    const w = watch;
    await w.roll();
    f.rollPhase();
    const runCpu0 = process.cpuUsage();
    const runStart = performance.now();
    f.startPunching();

    /** From `from` until every terminal has a session and has its punches up to `marks` acked, and the hub's spool is empty. */
    async function recover(from: number, marks: number[]): Promise<Pick<PhaseRow, 'reconnected_ms' | 'recovery_ms'>> {
      let reconnectedAt: number | undefined;
      await until(async () => {
        if (reconnectedAt === undefined && f.connectedCount() === n) reconnectedAt = performance.now();
        if (reconnectedAt === undefined || f.behind(marks) > 0) return false;
        const r = await probe.ready();
        return r !== null && !r.degraded && r.spoolBytes === 0;
      }, hangMs, () => `${n - f.connectedCount()} terminals not connected, ${f.behind(marks)} behind; hub ${hub?.n} ${alive(hub) ? 'running' : 'not running'}`);
      return { reconnected_ms: Math.round(reconnectedAt! - from), recovery_ms: Math.round(performance.now() - from) };
    }

    /** SIGTERM, wait for the exit (a hang is diagnosed), start a new hub, measure its recovery. */
    async function gracefulRestart(preExtraMs = 0, beforeRestart?: () => Promise<void>): Promise<Partial<PhaseRow>> {
      await sleep(preMs + preExtraMs);
      const t = performance.now();
      hub!.child.kill('SIGTERM');
      // The hub forces its own exit 20 s after SIGTERM: a minute without an exit is a hang.
      const exit = await withHang(hub!.exited, Math.min(hangMs, 60_000), 'exit of the hub on SIGTERM').catch(async (err: Error) => {
        const file = await diagnoseHang(hub!.child.pid!, work, err.message, pgActivity);
        throw new Error(`${err.message} (diagnosis in ${file})`);
      });
      const shutdownMs = Math.round(performance.now() - t);
      await beforeRestart?.();
      const marks = f.marks();
      const startMs = await startHub();
      return { ...(await recover(hub!.spawnedAt, marks)), hub_start_ms: startMs, notes: { exit_code: exit.code, shutdown_ms: shutdownMs } };
    }

    const bodies: Record<Phase, { fault: string; run(): Promise<Partial<PhaseRow>> }> = {
      baseline: { fault: 'none', run: async () => { await sleep(baselineMs); return {}; } },
      'pg-outage': {
        fault: `PostgreSQL stopped ${pgDownMs / 1000} s`,
        async run() {
          await sleep(preMs);
          await pg!.stop();
          await sleep(pgDownMs);
          await pg!.start();
          return recover(performance.now(), f.marks());
        },
      },
      'hub-kill': {
        fault: `hub kill -9, down ${hubDownMs / 1000} s`,
        async run() {
          await sleep(preMs);
          hub!.child.kill('SIGKILL');
          await hub!.exited;
          const left = await spoolOnDisk(dataDir);
          await sleep(hubDownMs);
          const marks = f.marks();
          const startMs = await startHub();
          return { ...(await recover(hub!.spawnedAt, marks)), hub_start_ms: startMs, notes: { spool_left_bytes: left.bytes } };
        },
      },
      'pg-and-hub': {
        fault: `PostgreSQL stopped; hub kill -9 while spooling; hub restarted before PostgreSQL`,
        async run() {
          await sleep(preMs);
          await pg!.stop();
          await sleep(Math.max(1000, pgDownMs / 2)); // the hub acks from its spool meanwhile
          hub!.child.kill('SIGKILL');
          await hub!.exited;
          const left = await spoolOnDisk(dataDir);
          const listening = startHub(); // waits for PostgreSQL (its migrations retry)
          listening.catch(() => {});
          await sleep(Math.max(1000, pgDownMs / 2));
          await pg!.start();
          const from = performance.now();
          const marks = f.marks();
          const startMs = await listening;
          return {
            ...(await recover(from, marks)), hub_start_ms: startMs,
            notes: { spool_left_bytes: left.bytes, spool_left_segments: left.segments, restarted_hub_recovered_spool: hub!.saw('spool recovered from a previous run') },
          };
        },
      },
      storm: {
        fault: `all ${n} sessions dropped at once`,
        async run() {
          await sleep(preMs);
          const from = performance.now();
          const marks = f.marks();
          await f.dropAll();
          return recover(from, marks);
        },
      },
      sigterm: { fault: 'hub SIGTERM (graceful), restarted', run: () => gracefulRestart() },
      'sigterm-stalled-db': {
        fault: `hub SIGTERM while PostgreSQL is stalled (events locked ${STALL_S} s), restarted`,
        async run() {
          // A stalled database (a long lock, an overloaded server) outlasts the hub's 10 s drain.
          const a = await createAdminClient(loadConfig(env));
          try {
            const stall = a.run('query', { text: `DO $$ BEGIN LOCK TABLE events IN ACCESS EXCLUSIVE MODE; PERFORM pg_sleep(${STALL_S}); END $$`, params: [] });
            stall.catch(() => {});
            return await gracefulRestart(500, async () => { await stall.catch(() => {}); });
          } finally {
            await a.close();
          }
        },
      },
    };

    const rows: PhaseRow[] = [];
    for (const name of phases) {
      const body = bodies[name];
      log(`phase ${name}: ${body.fault}`);
      let extra: Partial<PhaseRow> = {};
      let hung: string | null = null;
      try {
        extra = await body.run();
      } catch (err) {
        hung = (err as Error).message;
        log(`phase ${name}: ${hung}`);
      }
      const r = f.rollPhase();
      const m = await w.roll();
      const p50 = r.counts.authRtt.totalCount ? Math.round(r.counts.authRtt.getValueAtPercentile(50)) / 1000 : null;
      const p99 = r.counts.authRtt.totalCount ? Math.round(r.counts.authRtt.getValueAtPercentile(99)) / 1000 : null;
      r.counts.authRtt.destroy();
      rows.push({
        phase: name, fault: body.fault, duration_s: Math.round(r.wallMs / 100) / 10, sent: r.counts.punches, auth: r.counts.auth,
        auth_rtt_p50_ms: p50, auth_rtt_p99_ms: p99, hub_decision_p99_ms: m.decision_p99_ms, hub_decisions: m.decisions,
        hub_start_ms: extra.hub_start_ms ?? null, reconnected_ms: extra.reconnected_ms ?? null, recovery_ms: extra.recovery_ms ?? null,
        busy: r.delta.busy, reconnects: r.delta.welcomes, attempts: r.delta.attempts, refused_503: r.delta.refused, max_spool_bytes: m.max_spool_bytes,
        generator_cpu_pct: r.cpuPct, generator_loop_p99_ms: r.loopP99Ms, hung, notes: extra.notes ?? {},
      });
      log(`phase ${name} done: recovery ${extra.recovery_ms ?? '-'} ms, ${r.counts.punches} punches, 503s ${r.delta.refused}`);
      if (hung) break; // what follows would measure the hang again; go and count what was kept
    }
    // After a hang, do what a supervisor would: kill the hub and start a fresh one, so the run can
    // still drain and show whether anything acknowledged was lost.
    const hungPhase = rows.find((r) => r.hung);
    if (hungPhase) {
      if (!pg.up) await pg.start();
      if (alive(hub)) { hub.child.kill('SIGKILL'); await hub.exited; }
      log(`after the hang in ${hungPhase.phase}: hub killed, starting a fresh one`);
      await startHub();
    }

    // The end: no more punches; every terminal's outbox empty; the spool drained; then count.
    await f.stopPunching();
    const runCpu = process.cpuUsage(runCpu0);
    const runMs = performance.now() - runStart;
    const drainStart = performance.now();
    const drained = await f.drained(hangMs);
    let spoolEmpty = false;
    try {
      await until(async () => { const r = await probe.ready(); return r !== null && !r.degraded && r.spoolBytes === 0; }, hangMs, () => 'spool not empty');
      spoolEmpty = true;
    } catch { /* reported below */ }
    const drainMs = Math.round(performance.now() - drainStart);
    log(`drained: ${drained ? 'every punch acked' : `${f.unacked()} punches still unacked`}, spool ${spoolEmpty ? 'empty' : 'NOT empty'} after ${drainMs} ms`);

    admin = await createAdminClient(loadConfig(env));
    const a = admin;
    const rec = await reconcile(
      (text, params) => a.run('query', { text, params }),
      f.terms.map((t, i) => ({ id: bulk.devices[i]!.id, lastSeq: t.lastSeq, acked: t.ackedSeqs })),
      boot,
    );
    // A hang fails the run as well: the hub had to be killed to finish it.
    ok = rec.missing === 0 && rec.duplicated === 0 && rec.acked_missing === 0 && rec.beyond_sent === 0 && drained && spoolEmpty && !hungPhase;
    const hubsStarted = hubs;
    await cleanup();
    const lastExit = hub ? await hub.exited : null;

    const head = `chaos: ${n} terminals x ${rate} punch/s (${authTerminals} also ${authRate} auth/s), admission ${admitPerS}/s, backoff ${backoffMinMs}..${backoffMaxMs} ms, boot ${boot}; ` +
      `generator ${Math.round(((runCpu.user + runCpu.system) / 1000 / runMs) * 1000) / 10}% of a core; load average ${loadAverage()}`;
    console.error(markdown(rows, rec, head));
    console.error(ok ? 'OK: nothing missing, nothing stored twice' : `FAILED: see the table${values.keep || !ok ? `; logs kept in ${work}` : ''}`);
    console.log(JSON.stringify({
      bench: 'chaos', terminals: n, rate, auth_terminals: authTerminals, auth_rate: authRate, admit_per_s: admitPerS, backoff_ms: [backoffMinMs, backoffMaxMs],
      boot, connect_ms: connectMs, phases: rows,
      drain: { ms: drainMs, every_punch_acked: drained, unacked_left: f.unacked(), spool_empty: spoolEmpty },
      totals: rec, ok,
      hubs_started: hubsStarted, last_hub_exit: lastExit,
      generator: { cpu_pct: Math.round(((runCpu.user + runCpu.system) / 1000 / runMs) * 1000) / 10 },
      load_avg: loadAverage(), work_dir: ok && !values.keep ? null : work,
    }));
    return ok ? 0 : 1;
  } finally {
    await cleanup();
    if (ok && !values.keep) await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

function withHang<T>(p: Promise<T>, hangMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: no ${what} after ${Math.round(hangMs / 1000)} s`)), hangMs); });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  console.error(`chaos: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
