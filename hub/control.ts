// The event loop's view of the control plane: typed calls into the control worker (which holds
// the only database connection of the control plane) and the change listener.
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { AccessSnapshot, ControlMessage, FleetMessage } from '../protocol/tasks.js';
import type { MaintenanceResult } from '../workers/retention.js';

export function createControl(filename: string, workerData: { databaseUrl: string; migrationsDir: string; $module?: string }, niceIncrement = 0) {
  const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 32, idleTimeout: Infinity, workerData, niceIncrement });
  pool.on('error', (err) => console.error('lintel: control worker error', err));
  const call = <T>(op: string, arg: unknown = {}) => pool.run({ op, arg }) as Promise<T>;
  let stopListening: (() => void) | undefined;
  let listening: Promise<void> | undefined;

  return {
    migrate: () => call<string[]>('migrate'),
    /** Resolves with the store's access state version when it answers. */
    ping: () => call<number>('ping'),
    claimSession: (deviceId: string, hubId: string) => call<number>('claimSession', { deviceId, hubId }),
    releaseSession: (deviceId: string, hubId: string, gen: number) => call<void>('releaseSession', { deviceId, hubId, gen }),
    whereIs: (deviceIds: string[], hubId: string) => call<{ deviceId: string; hubId: string } | null>('whereIs', { deviceIds, hubId }),
    notifyFleet: (message: FleetMessage) => call<void>('notifyFleet', message),
    waitForHubs: (version: number, timeoutMs: number) => call<string[]>('waitForHubs', { version, timeoutMs }),
    snapshot: () => call<AccessSnapshot>('snapshot'),
    lastSeq: (deviceId: string, boot: number) => call<number>('lastSeq', { deviceId, boot }),
    heartbeat: (hubId: string, applied: number) => call<void>('heartbeat', { hubId, applied }),
    forgetHub: (hubId: string) => call<void>('forgetHub', { hubId }),
    checkKeyFingerprint: (fingerprint: string) => call<boolean>('checkKeyFingerprint', { fingerprint }),
    ensurePartitions: () => call<number>('ensurePartitions'),
    maintain: () => call<MaintenanceResult>('maintain'),
    listen(onMessage: (m: ControlMessage) => void) {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', onMessage);
      listening = pool.run({ op: 'listen', arg: { port: port2 } }, { transferList: [port2] }) as Promise<void>;
      listening.catch(() => {});
      stopListening = () => { port1.postMessage('stop'); setTimeout(() => port1.close(), 1000).unref(); };
    },
    async close() {
      stopListening?.();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([listening, new Promise((r) => { timer = setTimeout(r, 1000); })]);
      clearTimeout(timer);
      await call('close').catch(() => {});
      await pool.destroy();
    },
  };
}

export type Control = ReturnType<typeof createControl>;
