// What the chaos run breaks: a PostgreSQL it owns (stopped and started again) and the hub as a
// child process on it (killed, signalled, restarted), with their logs kept in the run's folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDb } from '../../hub/embedded-postgres.js';
import { createLogger } from '../../hub/log.js';
import { ROOT } from '../proc.js';

export interface OwnPostgres { url: string; up: boolean; stop(): Promise<void>; start(): Promise<void> }

/** A PostgreSQL under `dir`/pg on `port` that the run can take away and bring back. */
export async function ownPostgres(dir: string, port: number): Promise<OwnPostgres> {
  const log = createLogger('silent');
  let db: EmbeddedDb | undefined = await startEmbeddedPostgres(dir, port, log);
  const own: OwnPostgres = {
    url: db.url, up: true,
    async stop() { const d = db; db = undefined; own.up = false; await d?.stop(); },
    async start() { db ??= await startEmbeddedPostgres(dir, port, log); own.up = true; },
  };
  return own;
}

export interface HubRun {
  child: ChildProcess;
  n: number; // 1 for the first hub of the run, 2 for the first restart...
  spawnedAt: number;
  listening: Promise<number>; // performance.now() when it logged "hub listening"
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines it wrote, for a report when something goes wrong. */
  tail: string[];
  saw(text: string): boolean;
}

/** The hub's environment: only what the run sets, none of the caller's LINTEL_* or PG* settings. */
export function hubEnv(opts: { dataDir: string; port: number; databaseUrl: string; admitPerS: number; extra?: Record<string, string> }): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(LINTEL_|PG|DATABASE_URL$)/.test(k)) base[k] = v;
  return {
    ...base,
    LINTEL_HOST: '127.0.0.1', LINTEL_PORT: String(opts.port), LINTEL_DATA_DIR: opts.dataDir, DATABASE_URL: opts.databaseUrl,
    LINTEL_CREDENTIAL_KEY: randomBytes(32).toString('hex'), LINTEL_ADMIT_PER_S: String(opts.admitPerS),
    LINTEL_LOG_LEVEL: 'info', LINTEL_HUB_ID: `chaos-${process.pid}`, ...opts.extra,
  };
}

/** Starts `node --import tsx hub/main.ts`; the caller awaits `listening` when it wants to. */
export function startHubProcess(env: Record<string, string>, logDir: string, n: number): HubRun {
  // --report-on-signal: a hang can be looked into (kill -USR2 writes a diagnostic report next to the logs).
  const child = spawn(process.execPath, ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${logDir}`, '--import', 'tsx', 'hub/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const file: WriteStream = createWriteStream(path.join(logDir, `hub-${n}.log`));
  const tail: string[] = [];
  const seen = new Set<string>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => { file.end(); resolve({ code, signal }); }));
  let onListening!: (at: number) => void;
  const listening = new Promise<number>((resolve, reject) => {
    onListening = resolve;
    void exited.then(({ code, signal }) => reject(new Error(`hub ${n} exited (${signal ?? code}) before listening:\n${tail.join('\n')}`)));
  });
  listening.catch(() => {}); // awaited by the caller; a hub killed later is not an unhandled rejection
  const onChunk = (chunk: string) => {
    file.write(chunk);
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > 200) tail.shift();
      const msg = /"msg":"([^"]+)"/.exec(line)?.[1];
      if (msg) seen.add(msg);
      if (msg === 'hub listening') onListening(performance.now());
    }
  };
  child.stdout!.setEncoding('utf8').on('data', onChunk);
  child.stderr!.setEncoding('utf8').on('data', onChunk);
  return { child, n, spawnedAt: performance.now(), listening, exited, tail, saw: (text) => [...seen].some((m) => m.includes(text)) };
}

export const alive = (h: HubRun | undefined): h is HubRun => h !== undefined && h.child.exitCode === null && h.child.signalCode === null;

/** Bytes in the spool's segment files (what a killed hub left on disk). */
export async function spoolOnDisk(dataDir: string): Promise<{ bytes: number; segments: number }> {
  const dir = path.join(dataDir, 'spool');
  let bytes = 0;
  let segments = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.seg')) continue;
    segments++;
    bytes += (await stat(path.join(dir, name)).catch(() => ({ size: 0 }))).size;
  }
  return { bytes, segments };
}

/** What the run reads from the hub's HTTP side; every call answers null while the hub is away. */
export function hubProbe(httpUrl: string) {
  const get = async (p: string, timeoutMs: number): Promise<Response | null> => {
    try {
      return await fetch(`${httpUrl}${p}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch {
      return null;
    }
  };
  return {
    async metrics(): Promise<string | null> {
      const res = await get('/metrics', 2000);
      return res?.ok ? res.text().catch(() => null) : null;
    },
    /** degraded and spool depth from /readyz (cheaper than /metrics, polled while recovering). */
    async ready(): Promise<{ degraded: boolean; spoolBytes: number } | null> {
      const res = await get('/readyz', 1000);
      if (!res) return null;
      try {
        const body = (await res.json()) as { degraded?: boolean; spool?: { bytes?: number } };
        return { degraded: body.degraded === true, spoolBytes: body.spool?.bytes ?? 0 };
      } catch {
        return null;
      }
    },
  };
}

/** One gauge or counter (summed over its series) from /metrics text. */
export function metricValue(text: string, name: string, labels = ''): number | null {
  const re = new RegExp(`^${name}${labels.replace(/[{}"]/g, (c) => `\\${c}`)}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'gm');
  let sum: number | null = null;
  for (const m of text.matchAll(re)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}
