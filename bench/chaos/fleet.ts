// The chaos run's terminals: N reference Terminals in this process, each punching at a steady
// rate whether connected or not (a real clock keeps punches while the hub is away), a tenth of
// them also asking for access at fixed intended times. Counts are kept per phase.
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import type { AckFrame, WelcomeFrame } from '../../protocol/frames.js';
import { Terminal, type TerminalOptions } from '../terminal.js';

/** A Terminal that also remembers every seq the hub acked and counts its 503 refusals. */
export class ChaosTerminal extends Terminal {
  readonly ackedSeqs = new Set<number>();
  refused = 0;
  welcomes = 0;

  constructor(opts: TerminalOptions) {
    super(opts);
    this.on('ack', (ack: AckFrame) => { if (ack.boot === this.opts.boot) for (const s of ack.seqs) this.ackedSeqs.add(s); });
    this.on('frame', (f: { t: string }) => { if (f.t === 'welcome') this.welcomes++; });
  }

  // The reconnect loop calls this.connect() too, so every refused attempt is counted here.
  override connect(): Promise<WelcomeFrame> {
    return super.connect().catch((err: { status?: number }) => {
      if (err.status === 503) this.refused++;
      throw err;
    });
  }

  /** True when nothing queued at or before `seq` is still waiting for its ack. */
  caughtUp(seq: number): boolean {
    const oldest = this.outbox.keys().next();
    return oldest.done === true || oldest.value > seq; // the outbox is filled in seq order
  }
}

export interface FleetOptions {
  url: string;
  devices: { id: string; token: string }[];
  creds: string[]; // one per terminal for punches; auth cycles through all of them
  door: string;
  boot: number;
  rate: number; // punches per terminal per second
  authTerminals: number;
  authRate: number; // auth requests per auth terminal per second
  backoffMinMs: number;
  backoffMaxMs: number;
}

export interface PhaseCounts {
  punches: number;
  auth: { intended: number; sent: number; answered: number; granted: number; failed: number; not_connected: number; reasons: Record<string, number> };
  authRtt: hdr.Histogram; // microseconds, from the intended send time
  started: number;
  cpu0: NodeJS.CpuUsage;
  base: Totals;
  loop: IntervalHistogram;
}

export interface Totals { busy: number; attempts: number; welcomes: number; refused: number; eventsSent: number; quarantined: number }

const TICK_MS = 10;

export function createFleet(opts: FleetOptions) {
  const terms = opts.devices.map((d) => new ChaosTerminal({
    url: opts.url, token: d.token, boot: opts.boot, reconnect: true, backoffMinMs: opts.backoffMinMs, backoffMaxMs: opts.backoffMaxMs,
  }));
  const n = terms.length;
  const authN = Math.min(opts.authTerminals, n);
  let t0 = 0;
  let punchesMade = 0;
  let authsMade = 0;
  let punching = false;
  let ticker: NodeJS.Timeout | undefined;
  const pendingAuth = new Set<Promise<void>>();

  const totals = (): Totals => {
    const t: Totals = { busy: 0, attempts: 0, welcomes: 0, refused: 0, eventsSent: 0, quarantined: 0 };
    for (const x of terms) {
      t.busy += x.stats.busy; t.attempts += x.stats.reconnects; t.welcomes += x.welcomes; t.refused += x.refused; t.eventsSent += x.stats.eventsSent;
      for (const c of Object.values(x.stats.quarantined)) t.quarantined += c;
    }
    return t;
  };

  const newPhase = (): PhaseCounts => {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    return {
      punches: 0,
      auth: { intended: 0, sent: 0, answered: 0, granted: 0, failed: 0, not_connected: 0, reasons: {} },
      authRtt: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 }),
      started: performance.now(), cpu0: process.cpuUsage(), base: totals(), loop,
    };
  };
  let phase = newPhase();

  function askAccess(k: number, intendedAt: number): void {
    const term = terms[k % authN]!;
    const p = phase; // answers count in the phase the request was made in
    p.auth.intended++;
    if (!term.connected) { p.auth.not_connected++; return; } // a real reader decides offline then
    p.auth.sent++;
    const cred = opts.creds[(k * 7919) % opts.creds.length]!;
    const pending = term.auth(cred, opts.door).then((r) => {
      p.authRtt.recordValue(Math.max(1, (performance.now() - intendedAt) * 1000));
      p.auth.answered++;
      p.auth.reasons[r.reason] = (p.auth.reasons[r.reason] ?? 0) + 1;
      if (r.ok && r.reason === 'granted') p.auth.granted++;
    }, () => { p.auth.failed++; }).finally(() => pendingAuth.delete(pending));
    pendingAuth.add(pending);
  }

  // One timer for the whole fleet: punch k goes to terminal k % n at t0 + k / (rate * n), so the
  // load is spread evenly; auth request k to auth terminal k % authN at its own intended time.
  function tick(): void {
    const elapsedS = (performance.now() - t0) / 1000;
    const duePunches = Math.floor(elapsedS * opts.rate * n) + 1; // punch 0 at t0
    while (punchesMade < duePunches) {
      const i = punchesMade++ % n;
      terms[i]!.enqueue({ ts: Date.now(), kind: 'punch', cred: opts.creds[i % opts.creds.length]!, dir: 'in' });
      phase.punches++;
    }
    if (!authN || !(opts.authRate > 0)) return;
    const dueAuth = Math.floor(elapsedS * opts.authRate * authN) + 1;
    while (authsMade < dueAuth) {
      const k = authsMade++;
      askAccess(k, t0 + (k * 1000) / (opts.authRate * authN));
    }
  }

  return {
    terms,
    /** Opens every session (through the hub's admission control) and waits until all are in. */
    async connectAll(hangMs: number): Promise<number> {
      const started = performance.now();
      for (const t of terms) t.connect().catch(() => {}); // refused ones retry on their own backoff
      await until(() => terms.every((t) => t.connected), hangMs, () => `${terms.filter((t) => !t.connected).length} of ${n} terminals still not connected`);
      return performance.now() - started;
    },
    startPunching(): void {
      t0 = performance.now();
      punching = true;
      ticker = setInterval(tick, TICK_MS);
    },
    get punching() { return punching; },
    async stopPunching(): Promise<void> {
      punching = false;
      clearInterval(ticker);
      await Promise.all([...pendingAuth]);
    },
    /** Ends the current phase's counts and starts the next phase's. */
    rollPhase(): { counts: PhaseCounts; delta: Totals; wallMs: number; cpuPct: number; loopP99Ms: number } {
      const counts = phase;
      const end = totals();
      const wallMs = performance.now() - counts.started;
      const cpu = process.cpuUsage(counts.cpu0);
      counts.loop.disable();
      const delta = Object.fromEntries(Object.entries(end).map(([k, v]) => [k, v - counts.base[k as keyof Totals]])) as unknown as Totals;
      phase = newPhase();
      return {
        counts, delta, wallMs,
        cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10,
        loopP99Ms: Math.round(counts.loop.percentile(99) / 1e4) / 100,
      };
    },
    /** Each terminal's last seq now: what "caught up" is measured against after a fault. */
    marks(): number[] { return terms.map((t) => t.lastSeq); },
    connectedCount(): number { return terms.filter((t) => t.connected).length; },
    /** Terminals not yet caught up with `marks` (not connected, or something at or before the mark unacked). */
    behind(marks: number[]): number { return terms.filter((t, i) => !t.connected || !t.caughtUp(marks[i]!)).length; },
    /** Every session dropped at once (as a network blip would), then all reconnect together. */
    async dropAll(): Promise<void> {
      await Promise.all(terms.map((t) => t.close(1001)));
      for (const t of terms) t.connect().catch(() => {});
    },
    unacked(): number { return terms.reduce((s, t) => s + t.outbox.size, 0); },
    /** Waits until every terminal has every punch acked; false when `hangMs` passed first. */
    async drained(hangMs: number): Promise<boolean> {
      try {
        await until(() => terms.every((t) => t.outbox.size === 0), hangMs, () => '');
        return true;
      } catch {
        return false;
      }
    },
    totals,
    async close(): Promise<void> {
      clearInterval(ticker);
      await Promise.all(terms.map((t) => t.close().catch(() => {})));
    },
  };
}

export type Fleet = ReturnType<typeof createFleet>;

/** Polls `check` every 20 ms; throws after `hangMs` (a hang detector, not a speed threshold). */
export async function until(check: () => boolean | Promise<boolean>, hangMs: number, why: () => string): Promise<void> {
  const deadline = performance.now() + hangMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`hang: ${why()} after ${Math.round(hangMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
