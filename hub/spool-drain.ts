// Moves the local spool into PostgreSQL once it answers again: the oldest sealed segment first,
// one at a time, on an ingest worker (the event loop never reads a segment). A segment is deleted
// only after the worker committed all of it; if the store goes away mid-segment, what was
// committed stays committed and the whole segment is drained again later (identity makes that
// harmless). Live frames keep going straight to PostgreSQL meanwhile.
import type { Piscina } from 'piscina';
import type { DrainResult, DrainTask } from '../protocol/tasks.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Spool } from './spool.js';

const RETRY_AFTER_ERROR_MS = 5000;

export function createSpoolDrain(deps: { spool: Spool; pool: Piscina; metrics: Metrics; log: Logger; isStoreDown(): boolean; onStoreError(unavailable: boolean): void }) {
  const { spool, pool, metrics, log } = deps;
  let running: Promise<void> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const idle: (() => void)[] = [];

  async function loop(): Promise<void> {
    while (!closed && !deps.isStoreDown()) {
      const file = await spool.oldest();
      if (!file || closed) break;
      const started = performance.now();
      let result: DrainResult;
      try {
        result = (await pool.run({ drain: file } satisfies DrainTask)) as DrainResult;
      } catch (err) {
        log.error({ err, file }, 'spool drain task failed');
        return later();
      }
      if (result.error?.code === 'LINTEL_ERR_SPOOL_CORRUPT') {
        log.error({ file, code: result.error.code, err: result.error.message }, 'not a spool segment; set aside as *.corrupt');
        await spool.setAside(file);
        continue;
      }
      if (result.tornBytes) {
        metrics.spoolTorn.inc();
        log.warn({ file, torn: result.torn, tornBytes: result.tornBytes, records: result.records }, 'spool segment ends in a torn record (never acked); skipped');
      }
      if (result.error) {
        deps.onStoreError(result.error.unavailable);
        if (!result.error.unavailable) { log.error({ file, err: result.error.message, code: result.error.code }, 'spool segment refused by the store; kept, retried'); return later(); }
        return; // the store is away again; the hub restarts the drain when it is back
      }
      metrics.spoolDrained.inc({ outcome: 'stored' }, result.stored);
      metrics.spoolDrained.inc({ outcome: 'duplicate' }, result.duplicates);
      metrics.spoolDrained.inc({ outcome: 'quarantined' }, result.quarantined);
      await spool.remove(file);
      log.info({ file, records: result.records, stored: result.stored, duplicates: result.duplicates, quarantined: result.quarantined, ms: Math.round(performance.now() - started), left: spool.segments }, 'spool segment drained');
    }
  }

  function later(): void {
    retry ??= setTimeout(() => { retry = undefined; kick(); }, RETRY_AFTER_ERROR_MS);
    retry.unref();
  }

  function kick(): void {
    if (closed || running || spool.empty) return;
    running = loop().catch((err) => { log.error({ err }, 'spool drain failed'); later(); }).finally(() => {
      running = undefined;
      for (const w of idle.splice(0)) w();
    });
  }

  return {
    /** Starts draining if there is something to drain and the store is up (idempotent). */
    kick,
    get running() { return running !== undefined; },
    async close(): Promise<void> {
      closed = true;
      if (retry) clearTimeout(retry);
      await running;
    },
  };
}

export type SpoolDrain = ReturnType<typeof createSpoolDrain>;
