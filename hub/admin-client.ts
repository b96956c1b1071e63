// Runs provisioning operations (workers/admin.ts) for the CLI and tools, against DATABASE_URL,
// the running hub's embedded PostgreSQL, or, when no hub runs, an embedded PostgreSQL started
// just for the call. The database client lives in the worker thread, as everywhere else.
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { AdminOp, AdminReply } from '../workers/admin.js';
import { keyFingerprint, type Config } from './config.js';
import { startEmbeddedPostgres, type EmbeddedDb } from './embedded-postgres.js';
import { createLogger } from './log.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FROM_SOURCES = path.extname(fileURLToPath(import.meta.url)) === '.ts';
const MODULE = pathToFileURL(path.join(HERE, '..', 'workers', `admin${FROM_SOURCES ? '.ts' : '.js'}`)).href;
const SHIM = pathToFileURL(path.join(HERE, '..', 'workers', 'tsx-shim.mjs')).href;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

export async function createAdminClient(config: Readonly<Config>) {
  let embedded: EmbeddedDb | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (await portOpen(config.pgPort)) databaseUrl = `postgres://lintel:lintel-embedded@127.0.0.1:${config.pgPort}/postgres`;
    else {
      embedded = await startEmbeddedPostgres(config.dataDir, config.pgPort, createLogger('warn'));
      databaseUrl = embedded.url;
    }
  }
  const pool = new Piscina({
    filename: FROM_SOURCES ? SHIM : MODULE,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 4,
    workerData: {
      $module: MODULE, databaseUrl, credentialKey: config.credentialKey,
      migrationsDir: pathToFileURL(path.join(HERE, '..', 'migrations') + path.sep).href,
    },
  });
  const run = async <T = Record<string, unknown>>(op: AdminOp, arg: unknown = {}): Promise<T> => {
    const reply = (await pool.run({ op, arg })) as AdminReply;
    if (!reply.ok) throw Object.assign(new Error(reply.message), { code: reply.code });
    return reply.value as T;
  };
  try {
    await run('migrate');
    // A PostgreSQL on LINTEL_PG_PORT may be another install's (another checkout on this machine):
    // its credential key differs, and writing into it would be writing into someone else's data.
    if (!(await run<boolean>('checkKeyFingerprint', { fingerprint: keyFingerprint(config.credentialKey) }))) {
      throw Object.assign(new Error(`the database at ${databaseUrl.replace(/\/\/[^@]*@/, '//')} belongs to another Lintel install (its credential key differs from ${config.dataDir}/credential.key); set LINTEL_PG_PORT or DATABASE_URL`), { code: 'LINTEL_ERR_CONFIG_INVALID' });
    }
  } catch (err) {
    await pool.destroy();
    await embedded?.stop();
    throw err;
  }
  return {
    run,
    /** After a change: wait until every running hub decides on it (PROTOCOL section 1: "immediately"). */
    async settle(timeoutMs = 5000): Promise<string[]> {
      const version = await run<number>('stateVersion');
      const { behind } = await run<{ behind: string[] }>('waitForHubs', { version, timeoutMs });
      return behind;
    },
    async close() {
      await run('close').catch(() => {});
      await pool.destroy();
      await embedded?.stop();
    },
  };
}

export type AdminClient = Awaited<ReturnType<typeof createAdminClient>>;
