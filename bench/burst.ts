// The shift-change burst, shared by the simulator CLI and its test: N terminals connected at once
// each send K punches as fast as they can while M of them also ask for access decisions; returns
// latency histograms, the hub's own decision time, the generator's CPU and what PostgreSQL holds.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import type { AckFrame, Encoding } from '../protocol/frames.js';
import { Terminal } from './terminal.js';

export interface BurstDevice { id: string; token: string }

export interface BurstOptions {
  url: string; // ws://host:port/v1/terminal
  devices: BurstDevice[];
  /** Credentials the hub knows, granted on `door`: punches and auth requests cycle through them. */
  creds: string[];
  door?: string;
  events: number; // punches per terminal
  frame?: number; // punches per ev frame (default: all of them at once)
  authTerminals: number;
  authRate: number; // auth requests per second per auth terminal, while the burst lasts
  encoding?: Encoding;
  boot?: number; // default: new per run, so repeated runs against one hub never collide
  timeoutMs?: number;
  /** Runs SQL on the hub's database, for the read-back. Without it the summary has no `db`. */
  query?<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Width of the bins of `timeline` (acks per bin from the first punch), default 100 ms. */
  timelineBinMs?: number;
  /** Starts a CPU meter of the processes under test: it runs from the first punch to the last ack (`cpu_burst`). */
  meter?(): { stop(): { wall_s: number; cores: Record<string, number> } };
}

export interface Percentiles { p50: number; p99: number; p999: number; max: number; n: number }

export interface BurstSummary {
  terminals: number; events_per_terminal: number; frame: number; encoding: Encoding; boot: number;
  connect_ms: number;
  punches: number; acked: number; quarantined: number; busy: number; reconnects: number; closes: Record<string, number>; refused: Record<string, number>;
  wall_ms: number; // first punch sent to last punch acked
  events_per_s: number;
  ack_ms: Percentiles; // from each punch's intended send time to its ack
  auth: { terminals: number; rate: number; sent: number; answered: number; granted: number; failed: number; reasons: Record<string, number>; rtt_ms: Percentiles };
  decision_p99_ms: number | null; // from the hub's /metrics, this run's decisions only
  decisions_seen: number | null;
  generator: { cpu_pct: number; elu: number; loop_delay_p99_ms: number }; // cpu_pct: 100 = one core
  db?: { rows: number; distinct: number; event_keys: number; duplicates: number; hub_rows: number; hub_rows_tries: number };
  timed_out: boolean;
  timeline: { bin_ms: number; acked: number[] }; // punches acked per bin since the first was sent
  /** CPU from the first punch to the last ack (with `meter`): what each process spent on the burst itself, connects left out. */
  cpu_burst?: { wall_s: number; cores: Record<string, number> };
}

const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

// Values are recorded in microseconds; reported in milliseconds.
function percentiles(h: hdr.Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000;
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue), n: h.totalCount };
}

/** The HTTP base of a hub from its terminal URL: ws://h:p/v1/terminal -> http://h:p. */
export function httpBase(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.replace(/\/v1\/terminal\/?$/, '') || '/';
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

type Buckets = Map<number, number>; // le -> cumulative count

/** The cumulative buckets of one Prometheus histogram from /metrics text (le="+Inf" as Infinity). */
export function parseBuckets(text: string, name: string): Buckets {
  const buckets: Buckets = new Map();
  const re = new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\}\\s+(\\S+)`, 'gm');
  for (const m of text.matchAll(re)) buckets.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return buckets;
}

/**
 * The q-quantile of (after - before), interpolated linearly inside its bucket like PromQL's
 * histogram_quantile; null without observations. In the +Inf bucket: the highest finite bound.
 */
export function bucketQuantile(q: number, after: Buckets, before: Buckets = new Map()): { value: number | null; count: number } {
  const les = [...after.keys()].sort((a, b) => a - b);
  const cum = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = cum.at(-1) ?? 0;
  if (total <= 0) return { value: null, count: 0 };
  const rank = q * total;
  const i = cum.findIndex((c) => c >= rank);
  const le = les[i]!;
  if (le === Infinity) return { value: les.at(-2) ?? null, count: total };
  const lower = i === 0 ? 0 : les[i - 1]!;
  const below = i === 0 ? 0 : cum[i - 1]!;
  const inBucket = cum[i]! - below;
  return { value: inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le, count: total };
}

async function decisionBuckets(url: string): Promise<Buckets | null> {
  try {
    const res = await fetch(`${httpBase(url)}/metrics`);
    if (!res.ok) return null;
    return parseBuckets(await res.text(), 'lintel_access_decision_seconds');
  } catch {
    return null; // a hub behind a proxy may not expose /metrics here: the figure is then null
  }
}

/** Waits for the first welcome, through the Terminal's own backoff if the hub refuses at first. */
function connectOnce(term: Terminal, timeoutMs: number): Promise<number> {
  return term.connect().then((w) => w.last_seq, () => term.next('welcome', timeoutMs).then((w) => Number(w.last_seq)));
}

export async function runBurst(opts: BurstOptions): Promise<BurstSummary> {
  const n = opts.devices.length;
  const k = opts.events;
  const frame = Math.max(1, Math.min(opts.frame ?? k, k));
  const encoding = opts.encoding ?? 'msgpack';
  const boot = opts.boot ?? (Math.floor(Date.now() / 1000) >>> 0);
  const door = opts.door ?? 'D1';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const authTerminals = Math.min(opts.authTerminals, n);
  if (!opts.creds.length) throw new Error('runBurst needs at least one credential');

  const terms = opts.devices.map((d) => new Terminal({ url: opts.url, token: d.token, encoding, boot, reconnect: true }));
  const closeAll = () => Promise.all(terms.map((t) => t.close().catch(() => {})));
  try {
    const connectStart = performance.now();
    const lastSeqs = await Promise.all(terms.map((t) => connectOnce(t, timeoutMs)));
    const connectMs = performance.now() - connectStart;
    // A reused --boot continues above what the hub stored, as a real terminal's counter would.
    terms.forEach((t, i) => { t.lastSeq = lastSeqs[i]!; });

    const decisionsBefore = await decisionBuckets(opts.url);
    const ackHist = histogram();
    const authHist = histogram();
    const total = n * k;
    let acked = 0;
    let lastAckAt = 0;
    let quarantined = 0;
    let finish!: () => void;
    const allAcked = new Promise<void>((resolve) => { finish = resolve; });
    const intended = terms.map(() => new Float64Array(k)); // by seq - base - 1
    const seen = terms.map(() => new Uint8Array(k));
    const binMs = opts.timelineBinMs ?? 100;
    const timeline: number[] = [];
    let t0 = 0;

    terms.forEach((term, i) => {
      const base = lastSeqs[i]!;
      term.on('ack', (ack: AckFrame) => {
        if (ack.boot !== boot) return;
        const now = performance.now();
        for (const seq of ack.seqs) {
          const j = seq - base - 1;
          if (j < 0 || j >= k || seen[i]![j]) continue; // a resend acked twice counts once
          seen[i]![j] = 1;
          ackHist.recordValue(Math.max(1, (now - intended[i]![j]!) * 1000));
          acked++;
          lastAckAt = now;
          const bin = Math.floor((now - t0) / binMs);
          while (timeline.length <= bin) timeline.push(0);
          timeline[bin]!++;
        }
        quarantined += ack.q?.length ?? 0;
        if (acked === total) finish();
      });
    });

    const runStartWall = Date.now();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const burstMeter = opts.meter?.();
    t0 = performance.now();

    // Every terminal queues its punches now; frame by frame when --frame splits them.
    for (let i = 0; i < n; i++) {
      const term = terms[i]!;
      for (let f = 0; f < k; f += frame) {
        const now = performance.now();
        const ts = Date.now();
        for (let j = f; j < Math.min(k, f + frame); j++) {
          intended[i]![j] = now;
          term.enqueue({ ts, kind: 'punch', cred: opts.creds[(i * k + j) % opts.creds.length]!, dir: 'in' });
        }
        term.flush(); // one frame of `frame` punches (the Terminal splits anything above max_batch)
      }
    }

    // Auth terminals ask at fixed intended times (t1 + j / rate): latency counts from the intended
    // time, so a slow generator or hub cannot hide its queueing (no coordinated omission). They
    // start once the punches are on the sockets: an auth sent before that loop would wait for the
    // generator's own loop, which is not the hub's latency.
    const t1 = performance.now();
    let burstOver = false;
    const authReasons: Record<string, number> = {};
    let authSent = 0;
    let authAnswered = 0;
    let authGranted = 0;
    let authFailed = 0;
    const authLoops: Promise<void>[] = [];
    const interval = 1000 / Math.max(opts.authRate, 0.001);
    for (let i = 0; i < authTerminals; i++) {
      const term = terms[i]!;
      authLoops.push((async () => {
        const pending: Promise<void>[] = [];
        for (let j = 0; !burstOver; j++) {
          const at = t1 + (j + i / authTerminals) * interval; // terminal i is i/M of an interval after the first
          const wait = at - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          if (burstOver) break;
          const cred = opts.creds[(i * 7919 + j) % opts.creds.length]!;
          authSent++;
          // From the intended time, or from the send when a timer fired early (libuv's clock is cached).
          const from = Math.min(at, performance.now());
          pending.push(term.auth(cred, door).then((r) => {
            authHist.recordValue(Math.max(1, (performance.now() - from) * 1000));
            authAnswered++;
            authReasons[r.reason] = (authReasons[r.reason] ?? 0) + 1;
            if (r.ok && r.reason === 'granted') authGranted++;
          }, () => { authFailed++; }));
        }
        await Promise.all(pending);
      })());
    }

    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allAcked, new Promise<void>((r) => { timer = setTimeout(() => { timedOut = true; r(); }, timeoutMs); })]);
    clearTimeout(timer);
    const cpuBurst = burstMeter?.stop();
    burstOver = true;
    await Promise.all(authLoops);
    const tEnd = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    loopDelay.disable();

    const wallMs = (acked ? lastAckAt : tEnd) - t0;
    const decisionsAfter = await decisionBuckets(opts.url);
    const decision = decisionsAfter ? bucketQuantile(0.99, decisionsAfter, decisionsBefore ?? undefined) : { value: null, count: null };
    const closes: Record<string, number> = {};
    const refused: Record<string, number> = {};
    for (const t of terms) {
      for (const c of t.stats.closes) closes[c] = (closes[c] ?? 0) + 1;
      for (const [status, m] of Object.entries(t.stats.refused)) refused[status] = (refused[status] ?? 0) + m;
    }

    const summary: BurstSummary = {
      terminals: n, events_per_terminal: k, frame, encoding, boot,
      connect_ms: Math.round(connectMs),
      punches: total, acked, quarantined,
      busy: terms.reduce((s, t) => s + t.stats.busy, 0),
      reconnects: terms.reduce((s, t) => s + t.stats.reconnects, 0),
      closes, refused,
      wall_ms: Math.round(wallMs * 10) / 10,
      events_per_s: Math.round(acked / (wallMs / 1000)),
      ack_ms: percentiles(ackHist),
      auth: {
        terminals: authTerminals, rate: opts.authRate, sent: authSent, answered: authAnswered, granted: authGranted, failed: authFailed,
        reasons: authReasons, rtt_ms: percentiles(authHist),
      },
      decision_p99_ms: decision.value === null ? null : Math.round(decision.value * 1e6) / 1000,
      decisions_seen: decision.count,
      generator: {
        cpu_pct: Math.round(((cpu.user + cpu.system) / 1000 / (tEnd - t0)) * 1000) / 10,
        elu: Math.round(elu.utilization * 1000) / 1000,
        loop_delay_p99_ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      },
      timed_out: timedOut,
      timeline: { bin_ms: binMs, acked: timeline },
      ...(cpuBurst ? { cpu_burst: cpuBurst } : {}),
    };
    ackHist.destroy();
    authHist.destroy();
    if (opts.query) summary.db = await readBack(opts.query, opts.devices.map((d) => d.id), lastSeqs, boot, runStartWall, authTerminals ? opts.devices.slice(0, authTerminals).map((d) => d.id) : [], authAnswered);
    return summary;
  } finally {
    await closeAll();
  }
}

/** What PostgreSQL holds for this run: every punch once, every hub decision recorded. */
async function readBack(
  query: NonNullable<BurstOptions['query']>, deviceIds: string[], bases: number[], boot: number, sinceMs: number, authDeviceIds: string[], authAnswered: number,
): Promise<NonNullable<BurstSummary['db']>> {
  const run = `unnest($1::uuid[], $2::bigint[]) AS r(device_id, base)`;
  const params = [deviceIds, bases, boot];
  const [ev] = await query<{ rows: string; distinct: string }>(
    `SELECT count(*) AS rows, (SELECT count(*) FROM (SELECT DISTINCT e.device_id, e.boot, e.seq FROM events e JOIN ${run} USING (device_id)
       WHERE e.source = 'terminal' AND e.boot = $3 AND e.seq > r.base) d) AS distinct
     FROM events e JOIN ${run} USING (device_id) WHERE e.source = 'terminal' AND e.boot = $3 AND e.seq > r.base`, params);
  const [keys] = await query<{ n: string }>(
    `SELECT count(*) AS n FROM event_keys k JOIN ${run} USING (device_id) WHERE k.source = 't' AND k.boot = $3 AND k.seq > r.base`, params);
  // Hub decision records travel in a later batch than their answer: poll, bounded.
  let hubRows = 0;
  let tries = 0;
  if (authDeviceIds.length) {
    for (tries = 1; tries <= 100; tries++) {
      const [h] = await query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE source = 'hub' AND device_id = ANY($1::uuid[]) AND ts >= $2`, [authDeviceIds, new Date(sinceMs).toISOString()]);
      hubRows = Number(h?.n ?? 0);
      if (hubRows >= authAnswered) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const rows = Number(ev?.rows ?? 0);
  const distinct = Number(ev?.distinct ?? 0);
  return { rows, distinct, event_keys: Number(keys?.n ?? 0), duplicates: rows - distinct, hub_rows: hubRows, hub_rows_tries: tries };
}

/** A few lines for a human, on stderr. */
export function describe(s: BurstSummary): string {
  const lines = [
    `${s.terminals} terminals x ${s.events_per_terminal} punches (${s.encoding}, frames of ${s.frame}), boot ${s.boot}; connected in ${s.connect_ms} ms`,
    `acked ${s.acked}/${s.punches} in ${s.wall_ms} ms = ${s.events_per_s} events/s; ack p50 ${s.ack_ms.p50} p99 ${s.ack_ms.p99} p999 ${s.ack_ms.p999} ms; busy ${s.busy}, reconnects ${s.reconnects}, quarantined ${s.quarantined}${s.timed_out ? ' (TIMED OUT)' : ''}`,
    `auth ${s.auth.answered}/${s.auth.sent} answered (${s.auth.granted} granted, ${s.auth.failed} failed) from ${s.auth.terminals} terminals; rtt p50 ${s.auth.rtt_ms.p50} p99 ${s.auth.rtt_ms.p99} p999 ${s.auth.rtt_ms.p999} ms; hub decision p99 ${s.decision_p99_ms ?? '?'} ms`,
    `generator: cpu ${s.generator.cpu_pct}% of a core, event loop ${Math.round(s.generator.elu * 100)}% busy, loop delay p99 ${s.generator.loop_delay_p99_ms} ms`,
  ];
  const counts = (r: Record<string, number>) => Object.entries(r).map(([k, n]) => `${n} x ${k}`).join(', ');
  if (Object.keys(s.closes).length || Object.keys(s.refused).length) {
    lines.push(`sessions closed: ${counts(s.closes) || 'none'} (close codes); upgrades refused: ${counts(s.refused) || 'none'} (HTTP status)`);
  }
  if (s.db) lines.push(`db: ${s.db.rows} rows, ${s.db.distinct} distinct, ${s.db.event_keys} event_keys, ${s.db.duplicates} duplicates; ${s.db.hub_rows} hub decision rows`);
  return lines.join('\n');
}
