// What the API's route modules get to work with: the store (through the API worker pool), the
// in-memory access state, and live terminal sessions.
import { Piscina } from 'piscina';
import type { AccessEngine } from '../access.js';
import type { Accounting } from '../accounting.js';
import type { CommandRouter } from '../commands.js';
import type { Fleet } from '../fleet.js';
import type { Metrics } from '../metrics.js';
import type { TerminalEndpoint } from '../terminals.js';

export interface Store {
  /** Runs a workers/api operation; throws its error with the catalogue code. */
  run<T = Record<string, unknown>>(op: string, arg: unknown): Promise<T>;
  /** A mutation of access state: resolves once the hub decides on it (the next auth sees it). */
  mutate<T = Record<string, unknown>>(op: string, arg: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface ApiServices {
  store: Store;
  engine: AccessEngine;
  terminals: TerminalEndpoint;
  commands: CommandRouter;
  /** Door commands for terminals connected to other hubs. */
  fleet: Fleet;
  metrics: Metrics;
  commandTtlMs: number;
  accounting: Accounting;
}

type Reply = { ok: true; value: unknown } | { ok: false; code: string; message: string; fields?: unknown };

export function createStore(
  worker: { filename: string; data: Record<string, unknown> },
  settings: { databaseUrl: string; credentialKey: string },
  ensureState: (version: number) => Promise<void>,
  niceIncrement = 0,
): Store {
  const pool = new Piscina({
    filename: worker.filename, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 16, idleTimeout: Infinity, niceIncrement,
    workerData: { ...worker.data, ...settings },
  });
  pool.on('error', (err) => console.error('lintel: API worker error', err));
  async function run<T>(op: string, arg: unknown): Promise<T> {
    const reply = (await pool.run({ op, arg })) as Reply;
    if (!reply.ok) throw Object.assign(new Error(reply.message), { code: reply.code, fields: reply.fields });
    return reply.value as T;
  }
  return {
    run,
    async mutate<T>(op: string, arg: unknown): Promise<T> {
      const { value, version } = await run<{ value: T; version: number }>(op, arg);
      await ensureState(version);
      return value;
    },
    async close() {
      await run('close', {}).catch(() => {});
      await pool.destroy();
    },
  };
}
