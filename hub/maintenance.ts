// Runs the store's maintenance (event partitions ahead, retention policies) at start and every
// interval, through the control worker. Several hubs may run this: the worker's advisory lock
// lets one at a time do the work, the others get `ran: false` and try again next interval.
import client from 'prom-client';
import type { MaintenanceResult } from '../workers/retention.js';
import type { Logger } from './log.js';

export interface MaintenanceDeps {
  control: { maintain(): Promise<MaintenanceResult> };
  log: Logger;
  metrics?: { registry: client.Registry };
}

export function createMaintenance(opts: { intervalMs: number }, deps: MaintenanceDeps) {
  const { control, log } = deps;
  const r = deps.metrics ? [deps.metrics.registry] : [];
  const runs = new client.Counter({ name: 'lintel_maintenance_runs_total', help: 'Maintenance runs by outcome (ran, skipped: another hub held the lock, failed)', labelNames: ['outcome'], registers: r });
  const dropped = new client.Counter({ name: 'lintel_retention_partitions_dropped_total', help: 'Event partitions dropped by retention', registers: r });
  const deleted = new client.Counter({ name: 'lintel_retention_rows_deleted_total', help: 'Rows deleted by retention, by table (partition drops not included)', labelNames: ['table'], registers: r });
  let running: Promise<MaintenanceResult> | undefined;
  let closed = false;

  function runNow(): Promise<MaintenanceResult> {
    // One run at a time in this hub: a tick during a long run joins it.
    running ??= (async () => {
      try {
        const result = await control.maintain();
        runs.inc({ outcome: result.ran ? 'ran' : 'skipped' });
        dropped.inc(result.dropped.length);
        deleted.inc({ table: 'events' }, result.deleted.reduce((s, d) => s + d.rows, 0));
        deleted.inc({ table: 'quarantine' }, result.quarantine.reduce((s, d) => s + d.rows, 0));
        if (result.partitionsCreated || result.dropped.length || result.deleted.length || result.quarantine.length) {
          log.info({
            partitionsCreated: result.partitionsCreated, dropped: result.dropped.map((d) => d.partition),
            eventsDeleted: result.deleted.reduce((s, d) => s + d.rows, 0), quarantineDeleted: result.quarantine.reduce((s, d) => s + d.rows, 0),
          }, 'maintenance done');
        }
        const busy = result.kept.filter((k) => k.reason === 'lock_timeout').map((k) => k.partition);
        if (busy.length) log.warn({ partitions: busy }, 'partitions not dropped: the events table stayed busy; next run retries');
        return result;
      } catch (err) {
        runs.inc({ outcome: 'failed' });
        throw err;
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const tick = () => {
    if (closed) return;
    runNow().catch((err) => log.warn({ err }, 'maintenance failed; next run retries'));
  };
  tick();
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();

  return {
    runNow,
    /** Stops the schedule and waits for a run in progress (call before closing the control worker). */
    async close() {
      closed = true;
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}

export type Maintenance = ReturnType<typeof createMaintenance>;
