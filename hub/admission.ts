// Admission control for new terminal sessions: a token bucket, so thousands of terminals
// reconnecting at once after a restart are let in at a bounded rate while the rest retry later.
import { randomInt } from 'node:crypto';

export interface AdmissionOptions {
  /** Sessions admitted per second, sustained; the bucket also holds this many for a burst. */
  perSecond: number;
  /** Retry-After (seconds) for a refusal is drawn from 1..this, so refused terminals do not return in step. */
  maxRetryAfterS?: number;
}

export function createAdmission(opts: AdmissionOptions, now: () => number = () => performance.now()) {
  const capacity = opts.perSecond;
  const maxRetryAfterS = Math.max(1, opts.maxRetryAfterS ?? 5);
  let tokens = capacity;
  let last = now();

  return {
    /** Takes one token if there is one. */
    tryAdmit(): boolean {
      const t = now();
      tokens = Math.min(capacity, tokens + ((t - last) / 1000) * opts.perSecond);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    /** Jittered 1..maxRetryAfterS: a fixed value would bring the whole refused crowd back in the same second. */
    retryAfterS(): number {
      return 1 + randomInt(maxRetryAfterS);
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
