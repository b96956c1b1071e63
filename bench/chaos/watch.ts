// Reads the hub's /metrics once a second and keeps, per phase, the hub's own access decision
// histogram (deltas, across hub restarts: a new process starts its counters at zero) and how deep
// the spool got. Decisions a hub made after its last scrape and before a kill -9 are not seen.
import { bucketQuantile, parseBuckets } from '../burst.js';
import { metricValue } from './stack.js';

type Buckets = Map<number, number>;

export interface WatchPhase { decision_p99_ms: number | null; decisions: number; max_spool_bytes: number; store_down_seen: boolean; scrapes: number }

export function createWatch(scrape: () => Promise<string | null>, hubNumber: () => number, everyMs = 1000) {
  let last: { hub: number; buckets: Buckets } | undefined;
  let acc: Buckets = new Map();
  let maxSpool = 0;
  let storeDown = false;
  let scrapes = 0;
  let chain: Promise<void> = Promise.resolve();

  function once(): Promise<void> {
    chain = chain.then(async () => {
      const hub = hubNumber();
      const text = await scrape();
      if (!text) return;
      scrapes++;
      const now = parseBuckets(text, 'lintel_access_decision_seconds');
      const total = now.get(Infinity) ?? 0;
      const same = last && last.hub === hub && (last.buckets.get(Infinity) ?? 0) <= total;
      const before = same ? last!.buckets : new Map<number, number>();
      for (const [le, c] of now) acc.set(le, (acc.get(le) ?? 0) + c - (before.get(le) ?? 0));
      last = { hub, buckets: now };
      maxSpool = Math.max(maxSpool, metricValue(text, 'lintel_spool_bytes') ?? 0);
      if (metricValue(text, 'lintel_store_up') === 0) storeDown = true;
    }).catch(() => {});
    return chain;
  }

  const timer = setInterval(() => void once(), everyMs);
  return {
    once,
    /** Scrapes once more, returns the phase's figures and starts the next phase's. */
    async roll(): Promise<WatchPhase> {
      await once();
      const q = bucketQuantile(0.99, acc);
      const out = {
        decision_p99_ms: q.value === null ? null : Math.round(q.value * 1e6) / 1000, decisions: q.count,
        max_spool_bytes: maxSpool, store_down_seen: storeDown, scrapes,
      };
      acc = new Map();
      maxSpool = 0;
      storeDown = false;
      scrapes = 0;
      return out;
    },
    close(): void { clearInterval(timer); },
  };
}
