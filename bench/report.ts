// Turns one `npm run bench` result into what a person reads: the targets with their measured
// ratios (pass/miss), a Markdown report, and an SVG chart drawn by hand (latency percentiles per
// system; committed events per second over time).
/* eslint-disable @typescript-eslint/no-explicit-any */

export interface Target { name: string; measured: string; ratio: number | null; goal: string; pass: boolean | null; note?: string }

export interface RunResult {
  mode: 'quick' | 'full';
  started_at: string;
  machine: { cpus: number; cpu_model: string; node: string; load_avg_before: number[]; load_avg_after: number[] };
  duration_s: number;
  benches: Record<string, any>; // bench name -> its JSON line (or { error })
  targets: Target[];
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const fmt = (v: number | null | undefined, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : `${v.toLocaleString('en-US')}${unit}`);

/** The burst run the targets use: the largest fleet of the shift-change benchmark. */
export function referenceBurst(benches: Record<string, any>): any | undefined {
  const runs: any[] = benches.burst?.runs ?? [];
  return runs.reduce((a, b) => (!a || b.terminals > a.terminals ? b : a), undefined);
}

/** Cores other people's work may take during a comparison before it stops counting. */
export const BUSY_OTHERS = 0.5;

export function computeTargets(benches: Record<string, any>): Target[] {
  const hub = referenceBurst(benches);
  const copy = benches['baseline-copy'];
  const naive = benches['baseline-naive'];
  const echo = benches['baseline-echo'];
  const mem = benches.memory?.runs?.at(-1);
  // A comparison does not count when the generator was the bottleneck, or when other work on the
  // machine (not the hub, its PostgreSQL or the generator) took more than BUSY_OTHERS cores during
  // either side: the two sides then did not run on the same machine in any useful sense.
  const others = (x: any): number => x?.cpu?.cores?.others ?? x?.cpu_cores?.others ?? x?.direct?.cpu_cores?.others ?? 0;
  const genNote = (...xs: any[]) => {
    if (xs.some((x) => x?.generator_bound)) return 'generator was the bottleneck: does not count';
    const busy = Math.max(...xs.map(others));
    return busy > BUSY_OTHERS ? `other work on the machine took ${busy} cores during the comparison: does not count; run again` : undefined;
  };
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? r2(a / b) : null);
  const judge = (v: number | null, ok: (v: number) => boolean, ...xs: any[]) => (v === null || genNote(...xs) ? null : ok(v));
  const targets: Target[] = [];

  // Judged against the faster raw COPY: one connection, or as many at once as the hub has workers.
  const best = [copy?.direct, copy?.direct_parallel].filter((x) => x?.rows_per_s).sort((x, y) => y.rows_per_s - x.rows_per_s)[0];
  const c = ratio(hub?.events_per_s, best?.rows_per_s);
  targets.push({
    name: 'ingest vs raw COPY', goal: '>= 0.6', ratio: c, pass: judge(c, (v) => v >= 0.6, hub, copy),
    measured: `hub ${fmt(hub?.events_per_s)} events/s at ${fmt(hub?.terminals)} terminals (${fmt(benches.burst?.workers)} workers); raw COPY, batches of ${fmt(copy?.batch)}: ${fmt(copy?.direct?.rows_per_s)} rows/s on one connection (ratio ${fmt(ratio(hub?.events_per_s, copy?.direct?.rows_per_s))})` +
      (copy?.direct_parallel ? `, ${fmt(copy.direct_parallel.rows_per_s)} rows/s on ${copy.direct_parallel.streams} at once (ratio ${fmt(ratio(hub?.events_per_s, copy.direct_parallel.rows_per_s))})` : '') +
      `; via staging + ON CONFLICT ${fmt(copy?.staging?.rows_per_s)} rows/s (ratio ${fmt(ratio(hub?.events_per_s, copy?.staging?.rows_per_s))})`,
    note: genNote(hub, copy),
  });
  const nv = ratio(hub?.events_per_s, naive?.events_per_s);
  targets.push({
    name: 'hub vs naive server', goal: '>= 50', ratio: nv, pass: judge(nv, (v) => v >= 50, hub, naive),
    // The ceiling of any server writing these rows to this PostgreSQL: raw COPY over the same naive run.
    measured: `hub ${fmt(hub?.events_per_s)} events/s; naive ${fmt(naive?.events_per_s)} events/s (${fmt(naive?.terminals)} terminals); ceiling on this machine: fastest raw COPY ÷ naive = ${fmt(ratio(best?.rows_per_s, naive?.events_per_s))}`,
    note: genNote(hub, naive),
  });
  const a = ratio(hub?.auth?.rtt_ms?.p99, echo?.auth?.rtt_ms?.p99);
  targets.push({
    name: 'auth p99 during burst vs bare uWS echo', goal: '<= 1.5', ratio: a, pass: judge(a, (v) => v <= 1.5, hub, echo),
    measured: `hub ${fmt(hub?.auth?.rtt_ms?.p99, ' ms')} over ${fmt(hub?.auth?.answered)}; echo ${fmt(echo?.auth?.rtt_ms?.p99, ' ms')} over ${fmt(echo?.auth?.answered)} (${fmt(echo?.auth?.rate)}/s per auth terminal)`,
    note: genNote(hub, echo),
  });
  const d = hub?.decision_p99_ms === null || hub?.decision_p99_ms === undefined ? null : r2(hub.decision_p99_ms * 1000);
  // The first burst of a run meets a hub to which every card is new (bench/shift-change.ts): shown beside the verdict.
  const cold = benches.burst?.cards_known_from_run === 1 ? benches.burst.runs?.[0] : undefined;
  const coldUs = cold && cold !== hub && cold.decision_p99_ms !== null ? r2(cold.decision_p99_ms * 1000) : null;
  targets.push({
    name: 'hub decision p99', goal: '<= 20 µs', ratio: d === null ? null : r2(d / 20), pass: d === null ? null : d <= 20,
    measured: `${fmt(d, ' µs')} over ${fmt(hub?.decisions_seen)} decisions (interpolated in the hub's histogram buckets, during the burst` +
      (coldUs !== null ? `, every card presented once before, as on any day after the first); with every card new to the hub (after a restart, an HMAC each): ${fmt(coldUs, ' µs')} over ${fmt(cold.decisions_seen)} in the ${fmt(cold.terminals)}-terminal burst` : ')') +
      (benches.decision?.warm ? `; decide() alone: p99 ${benches.decision.warm.p99_us} µs with the credential's HMAC remembered, ${benches.decision.first_sight_warmed?.p99_us ?? '?'} µs on first sight once compiled, ${benches.decision.cold.p99_us} µs on first sight before V8 optimized it` : ''),
  });
  const lostDup = hub?.db ? hub.lost + hub.db.duplicates : null;
  targets.push({
    name: `${fmt(hub?.terminals)}-terminal burst lost 0, duplicated 0`, goal: '0 and 0', ratio: lostDup, pass: lostDup === null ? null : lostDup === 0 && !hub.timed_out,
    measured: `sent ${fmt(hub?.punches)}, rows ${fmt(hub?.db?.rows)}, distinct ${fmt(hub?.db?.distinct)}, lost ${fmt(hub?.lost)}, duplicates ${fmt(hub?.db?.duplicates)}`,
  });
  // Judged on the growth since the previous size where there is one (both samples with terminals
  // connected), else on the growth since before the first terminal.
  const marginal = mem?.rss_per_added_terminal_kib ?? null;
  const m = marginal ?? mem?.rss_per_terminal_kib ?? null;
  targets.push({
    name: `hub RSS per idle terminal at ${fmt(mem?.terminals)}`, goal: '<= 10 KiB', ratio: m === null ? null : r2(m / 10), pass: m === null || m < 0 ? null : m <= 10,
    note: m !== null && m < 0 ? 'RSS fell meanwhile: the noise is larger than the signal at this size' : undefined,
    measured: marginal !== null
      ? `${fmt(marginal, ' KiB')} per terminal added from ${fmt(mem.terminals - mem.added_terminals)} to ${fmt(mem.terminals)} (V8 heap ${fmt(mem.heap_per_added_terminal_kib, ' KiB')}); from before the first: ${fmt(mem.rss_per_terminal_kib, ' KiB')} (RSS ${fmt(mem.rss_before_mib)} -> ${fmt(mem.rss_after_mib)} MiB)`
      : `${fmt(m, ' KiB')} (RSS ${fmt(mem?.rss_before_mib)} -> ${fmt(mem?.rss_after_mib)} MiB; V8 heap ${fmt(mem?.heap_per_terminal_kib, ' KiB')} per terminal)`,
  });
  return targets;
}

const verdict = (t: Target) => (t.pass === null ? (t.note ? 'does not count' : 'n/a') : t.pass ? 'pass' : 'MISS');

export function targetsTable(targets: Target[]): string {
  const rows = targets.map((t) => `| ${t.name} | ${t.goal} | ${fmt(t.ratio)} | ${verdict(t)} | ${t.measured}${t.note ? ` (${t.note})` : ''} |`);
  return ['| target | goal | measured ratio | result | figures |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

const pcts = (p: any) => (p ? `${fmt(p.p50)} / ${fmt(p.p99)} / ${fmt(p.p999)}` : 'n/a');

export function markdown(r: RunResult, chartFile: string): string {
  const b = r.benches;
  const out: string[] = [];
  out.push(`# Lintel benchmark, ${r.mode} mode, ${r.started_at}`, '');
  out.push(`${r.machine.cpus} × ${r.machine.cpu_model}, Node ${r.machine.node}; load average (1 min) ${r.machine.load_avg_before[0]} before, ${r.machine.load_avg_after[0]} after; whole run ${r.duration_s} s.`);
  if (r.mode === 'quick') out.push('', 'Quick mode: small fleets so it fits in CI. Its ratios show the harness works; they are not the targets\' verdict (run `npm run bench -- --full`).');
  out.push('', `![latency percentiles and throughput over time](${chartFile})`, '', '## Targets', '', targetsTable(r.targets), '');

  out.push('## Shift-change burst', '', '| terminals | events | events/s | drain ms | ack p50 / p99 / p999 ms | auth p50 / p99 / p999 ms | auth answered | decision p99 µs | rows / distinct / dup | hub / pg / generator / others cores | events per COPY | counts |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const x of b.burst?.runs ?? []) {
    out.push(`| ${x.terminals} | ${x.punches} | ${fmt(x.events_per_s)} | ${fmt(x.wall_ms)} | ${pcts(x.ack_ms)} | ${pcts(x.auth?.rtt_ms)} | ${x.auth?.answered}/${x.auth?.sent} | ${x.decision_p99_ms === null ? 'n/a' : r2(x.decision_p99_ms * 1000)} | ${x.db?.rows} / ${x.db?.distinct} / ${x.db?.duplicates} | ${x.cpu?.cores?.hub} / ${x.cpu?.cores?.postgres} / ${x.cpu?.cores?.generator} / ${x.cpu?.cores?.others} | ${fmt(x.hub_metrics?.events_per_batch)} | ${x.generator_bound ? 'no: generator-bound' : 'yes'} |`);
  }
  if (b.burst?.error) out.push('', `failed: ${b.burst.error}`);
  const ref = referenceBurst(b);
  if (ref?.cpu) {
    const c = ref.cpu.cores;
    const wallS = ref.wall_ms / 1000;
    out.push('', `Where the time went in the ${ref.terminals}-terminal burst (${r2(wallS)} s from first punch to last ack; CPU in cores over the whole measured window of ${ref.cpu.wall_s} s): ` +
      `hub process ${c.hub} (event loop and ingest worker threads), PostgreSQL ${c.postgres}, generator ${c.generator}, everything else on the machine ${c.others} (of ${r.machine.cpus}). ` +
      `The ingest workers spent ${fmt(ref.hub_metrics?.commit_s)} s (summed over workers) inside their COPY-and-resolve transactions over ${fmt(ref.hub_metrics?.batches)} batches of ~${fmt(ref.hub_metrics?.events_per_batch)} events` +
      (ref.hub_metrics?.commit_s ? ` (${Math.round((ref.hub_metrics.commit_s / wallS) * 100)} % of the drain time; the decision records stored after the last ack count too).` : '.'));
    // A CPU budget: what each punch cost each party over the measured window. The window also holds
    // the connections, hellos and auth requests, so these overstate what a punch alone costs.
    const us = (cores: number) => (cores * ref.cpu.wall_s * 1e6) / ref.punches;
    out.push('', `CPU per punch over the measured window (connections, hellos and auth included, so an overstatement): hub ${r2(us(c.hub))} µs, ` +
      `PostgreSQL ${r2(us(c.postgres))} µs, generator ${r2(us(c.generator))} µs, ${r2(us(c.hub) + us(c.postgres) + us(c.generator))} µs in all, on a machine with ${r.machine.cpus} cores.`);
    const burst = ref.cpu_burst;
    if (burst) {
      // From the first punch to the last ack only: the burst's own cost (its auth requests included).
      const k = burst.cores;
      const per = (cores = 0) => r2((cores * burst.wall_s * 1e6) / ref.punches);
      out.push('', `CPU per punch from the first punch to the last ack (${burst.wall_s} s; the auth requests meanwhile included): hub ${per(k.hub)} µs ` +
        `(its event loop ${per(k.hub_event_loop)} µs, the rest its ingest workers, control worker and V8's GC threads), PostgreSQL ${per(k.postgres)} µs, generator ${per(k.generator)} µs; ` +
        `the machine was ${k.machine} cores busy of ${r.machine.cpus}, others ${k.others}, and the hypervisor took ${k.steal ?? 'n/a'} cores (steal).`);
    }
  }

  out.push('', '## Baselines (same run, same machine)', '');
  const copy = b['baseline-copy'];
  if (copy?.direct) {
    out.push(`- Raw COPY into \`event_keys\` + \`events\`, batches of ${copy.batch}: ${fmt(copy.direct.rows_per_s)} rows/s (${copy.direct.rows} rows, batch p50/p99 ${copy.direct.batch_ms.p50}/${copy.direct.batch_ms.p99} ms, PostgreSQL ${copy.direct.cpu_cores.postgres} cores, others on the machine ${copy.direct.cpu_cores.others}${copy.direct.wal_bytes_per_row ? `, ${fmt(copy.direct.wal_bytes_per_row)} bytes of WAL per row` : ''}); client socket with TCP_NODELAY.`);
    out.push(`- COPY into a staging table + INSERT ... ON CONFLICT DO NOTHING: ${fmt(copy.staging.rows_per_s)} rows/s (batch p50/p99 ${copy.staging.batch_ms.p50}/${copy.staging.batch_ms.p99} ms, PostgreSQL ${copy.staging.cpu_cores.postgres} cores).`);
    if (copy.direct_parallel) out.push(`- The same raw COPY on ${copy.direct_parallel.streams} connections at once (as many as the hub's ingest workers): ${fmt(copy.direct_parallel.rows_per_s)} rows/s (batch p50/p99 ${copy.direct_parallel.batch_ms.p50}/${copy.direct_parallel.batch_ms.p99} ms, PostgreSQL ${copy.direct_parallel.cpu_cores.postgres} cores).`);
    if (copy.direct_default_socket) out.push(`- The same raw COPY on postgres.js's default socket (Nagle on; the hub's workers turn it off): ${fmt(copy.direct_default_socket.rows_per_s)} rows/s, batch p50 ${copy.direct_default_socket.batch_ms.p50} ms over ${copy.direct_default_socket.batches} batches.`);
  } else out.push(`- Raw COPY: ${copy?.error ? `failed (${copy.error})` : 'not run'}`);
  const echo = b['baseline-echo'];
  if (echo?.auth) out.push(`- Bare uWS echo, ${echo.terminals} sockets, same frames: auth round trip p50/p99/p999 ${pcts(echo.auth.rtt_ms)} ms over ${echo.auth.answered}; ev frames acked at once at ${fmt(echo.events_per_s)} events/s (rtt p99 ${echo.ev_rtt_ms.p99} ms); generator ${echo.cpu.cores.generator} cores, server ${echo.cpu.cores.server}.`);
  else out.push(`- Bare uWS echo: ${echo?.error ? `failed (${echo.error})` : 'not run'}`);
  const naive = b['baseline-naive'];
  if (naive?.acked !== undefined) out.push(`- Naive server (ws, one INSERT per event, ack each): ${fmt(naive.events_per_s)} events/s over ${naive.punches} punches from ${naive.terminals} terminals; ack p50/p99/p999 ${pcts(naive.ack_ms)} ms; auth p99 ${naive.auth.rtt_ms.p99} ms; rows ${naive.db?.distinct}, duplicates ${naive.db?.duplicates}; server ${naive.cpu.cores.server} / PostgreSQL ${naive.cpu.cores.postgres} / others ${naive.cpu.cores.others} cores.`);
  else out.push(`- Naive server: ${naive?.error ? `failed (${naive.error})` : 'not run'}`);

  out.push('', '## Cost curves', '');
  const curves = b.curves;
  if (curves?.runs) {
    out.push(`${curves.terminals} terminals × ${curves.events_per_terminal} punches.`, '', '| workers | events per frame | events/s | ack p99 ms | hub / pg / generator / others cores | counts |', '| --- | --- | --- | --- | --- | --- |');
    for (const x of curves.runs) out.push(`| ${x.workers} | ${x.frame} | ${fmt(x.events_per_s)} | ${fmt(x.ack_ms?.p99)} | ${x.cpu?.cores?.hub} / ${x.cpu?.cores?.postgres} / ${x.cpu?.cores?.generator} / ${x.cpu?.cores?.others} | ${x.generator_bound ? 'no: generator-bound' : 'yes'} |`);
  } else out.push(curves?.error ? `failed: ${curves.error}` : 'not run');
  const mem = b.memory;
  out.push('', '### Memory per idle terminal', '');
  if (mem?.runs) {
    out.push('| terminals | connected | hub RSS before → after MiB | RSS per terminal KiB | V8 heap per terminal KiB | per terminal added since the previous size: RSS / heap KiB |', '| --- | --- | --- | --- | --- | --- |');
    for (const x of mem.runs) out.push(`| ${x.terminals} | ${x.connected} | ${x.rss_before_mib} → ${x.rss_after_mib} | ${x.rss_per_terminal_kib} | ${x.heap_per_terminal_kib} | ${x.added_terminals ? `${x.rss_per_added_terminal_kib} / ${x.heap_per_added_terminal_kib}` : '-'} |`);
  } else out.push(mem?.error ? `failed: ${mem.error}` : 'not run');

  const dec = b.decision;
  out.push('', '### The access decision alone', '');
  if (dec?.warm) {
    out.push(`\`bench/decision.ts\`: hub/access.ts's engine on ${dec.people} people, timed call by call (${dec.clock}).`, '', '| case | decisions | p50 / p99 / p999 µs | max µs |', '| --- | --- | --- | --- |');
    for (const [name, x] of [['first sight of each credential (HMAC computed), code not yet optimized', dec.cold], ['credential HMAC remembered', dec.warm], ['unknown credential', dec.unknown], ['first sight, fresh engine, code optimized (a started hub, after its warm-up)', dec.first_sight_warmed]] as [string, any][]) {
      if (!x) continue;
      out.push(`| ${name} | ${x.decisions} | ${x.p50_us} / ${x.p99_us} / ${x.p999_us} | ${x.max_us} |`);
    }
  } else out.push(dec?.error ? `failed: ${dec.error}` : 'not run');

  out.push('', '## HTTP (autocannon)', '');
  const http = b.http;
  if (http?.routes) {
    out.push(`${http.connections} connections, ${http.duration_s} s per route, ${http.events_loaded} events loaded. Baseline: GET /healthz.`, '', '| route | req/s | p50 / p99 / max ms | vs /healthz | errors + non-2xx |', '| --- | --- | --- | --- | --- |');
    for (const [name, x] of Object.entries<any>(http.routes)) out.push(`| ${name} | ${fmt(x.req_per_s)} | ${x.latency_ms.p50} / ${x.latency_ms.p99} / ${x.latency_ms.max} | ${x.vs_healthz} | ${x.errors + x.non2xx} |`);
  } else out.push(http?.error ? `failed: ${http.error}` : 'not run');
  out.push('', 'Method and caveats: bench/README.md.', '');
  return out.join('\n');
}

// ---- SVG -------------------------------------------------------------------------------------

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

/** Two panels: p50/p99/p999 bars per system (log scale), and committed events/s over time. */
export function svgChart(r: RunResult): string {
  const W = 960;
  const H = 720;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, attrs = '') => parts.push(`<text x="${r2(x)}" y="${r2(y)}" ${attrs}>${esc(s)}</text>`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  text(20, 28, `Lintel benchmark (${r.mode} mode, ${r.started_at})`, 'font-size="16" font-weight="bold"');

  // Panel 1: latency percentiles.
  const hub = referenceBurst(r.benches);
  const echo = r.benches['baseline-echo'];
  const naive = r.benches['baseline-naive'];
  const groups: [string, any][] = [
    [`hub ack (${hub?.terminals ?? '?'} term.)`, hub?.ack_ms], [`naive ack (${naive?.terminals ?? '?'})`, naive?.ack_ms],
    ['hub auth in burst', hub?.auth?.rtt_ms], ['echo auth', echo?.auth?.rtt_ms], ['naive auth', naive?.auth?.rtt_ms], ['echo ev frame', echo?.ev_rtt_ms],
  ];
  const p1 = { x: 70, y: 60, w: W - 100, h: 250 };
  text(p1.x, p1.y - 12, 'Latency from intended send time, ms (log scale): p50, p99, p999', 'font-size="13"');
  const values = groups.flatMap(([, p]) => (p ? [p.p50, p.p99, p.p999] : [])).filter((v: number) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 1))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 10))));
  const ly = (v: number) => p1.y + p1.h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * p1.h;
  for (let d = lo; d <= hi; d *= 10) {
    parts.push(`<line x1="${p1.x}" x2="${p1.x + p1.w}" y1="${r2(ly(d))}" y2="${r2(ly(d))}" stroke="#ddd"/>`);
    text(p1.x - 6, ly(d) + 4, String(d), 'font-size="11" text-anchor="end"');
  }
  const gw = p1.w / groups.length;
  groups.forEach(([name, p], gi) => {
    const x0 = p1.x + gi * gw + gw * 0.15;
    const bw = (gw * 0.7) / 3;
    if (p) {
      (['p50', 'p99', 'p999'] as const).forEach((k, i) => {
        const y = ly(p[k]);
        parts.push(`<rect x="${r2(x0 + i * bw)}" y="${r2(y)}" width="${r2(bw - 2)}" height="${r2(p1.y + p1.h - y)}" fill="${COLORS[i]}"><title>${esc(`${name} ${k} ${p[k]} ms`)}</title></rect>`);
      });
    } else text(x0 + gw * 0.35, p1.y + p1.h - 10, 'n/a', 'font-size="11" text-anchor="middle"');
    text(p1.x + gi * gw + gw / 2, p1.y + p1.h + 16, name, 'font-size="11" text-anchor="middle"');
  });
  (['p50', 'p99', 'p999'] as const).forEach((k, i) => {
    parts.push(`<rect x="${p1.x + p1.w - 170 + i * 58}" y="${p1.y - 24}" width="10" height="10" fill="${COLORS[i]}"/>`);
    text(p1.x + p1.w - 156 + i * 58, p1.y - 15, k, 'font-size="11"');
  });
  parts.push(`<line x1="${p1.x}" x2="${p1.x}" y1="${p1.y}" y2="${p1.y + p1.h}" stroke="#333"/><line x1="${p1.x}" x2="${p1.x + p1.w}" y1="${p1.y + p1.h}" y2="${p1.y + p1.h}" stroke="#333"/>`);

  // Panel 2: throughput over time.
  const p2 = { x: 70, y: 400, w: W - 100, h: 260 };
  text(p2.x, p2.y - 12, 'Committed (acked) events per second over time, from the first punch sent', 'font-size="13"');
  const series: { name: string; bin: number; counts: number[] }[] = [];
  for (const x of r.benches.burst?.runs ?? []) if (x.timeline) series.push({ name: `hub, ${x.terminals} terminals`, bin: x.timeline.bin_ms, counts: x.timeline.acked });
  if (naive?.timeline) series.push({ name: `naive, ${naive.terminals} terminals`, bin: naive.timeline.bin_ms, counts: naive.timeline.acked });
  const maxT = Math.max(1, ...series.map((s) => (s.counts.length * s.bin) / 1000));
  const maxR = Math.max(1, ...series.flatMap((s) => s.counts.map((c) => c / (s.bin / 1000))));
  const niceR = Math.pow(10, Math.floor(Math.log10(maxR))) * Math.ceil(maxR / Math.pow(10, Math.floor(Math.log10(maxR))));
  const sx = (t: number) => p2.x + (t / maxT) * p2.w;
  const sy = (v: number) => p2.y + p2.h - (v / niceR) * p2.h;
  for (let i = 0; i <= 4; i++) {
    const v = (niceR * i) / 4;
    parts.push(`<line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${r2(sy(v))}" y2="${r2(sy(v))}" stroke="#ddd"/>`);
    text(p2.x - 6, sy(v) + 4, Math.round(v).toLocaleString('en-US'), 'font-size="11" text-anchor="end"');
    const t = (maxT * i) / 4;
    text(sx(t), p2.y + p2.h + 16, `${r2(t)} s`, 'font-size="11" text-anchor="middle"');
  }
  series.forEach((s, i) => {
    const pts = s.counts.map((c, j) => `${r2(sx(((j + 0.5) * s.bin) / 1000))},${r2(sy(c / (s.bin / 1000)))}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[(i + 3) % COLORS.length]}" stroke-width="1.5"/>`);
    parts.push(`<rect x="${p2.x + p2.w - 200}" y="${p2.y + 6 + i * 16}" width="10" height="10" fill="${COLORS[(i + 3) % COLORS.length]}"/>`);
    text(p2.x + p2.w - 185, p2.y + 15 + i * 16, s.name, 'font-size="11"');
  });
  if (!series.length) text(p2.x + p2.w / 2, p2.y + p2.h / 2, 'no burst timeline', 'text-anchor="middle"');
  parts.push(`<line x1="${p2.x}" x2="${p2.x}" y1="${p2.y}" y2="${p2.y + p2.h}" stroke="#333"/><line x1="${p2.x}" x2="${p2.x + p2.w}" y1="${p2.y + p2.h}" y2="${p2.y + p2.h}" stroke="#333"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

// `node --import tsx bench/report.ts RESULT.json`: writes RESULT.md and RESULT.svg again from the
// figures (after a change to this file, without measuring again).
if (process.argv[1]?.endsWith('report.ts') && process.argv[2]) {
  const { readFile, writeFile } = await import('node:fs/promises');
  const file = process.argv[2];
  const result = JSON.parse(await readFile(file, 'utf8')) as RunResult;
  result.targets = computeTargets(result.benches);
  const base = file.replace(/\.json$/, '');
  await writeFile(`${base}.svg`, svgChart(result));
  await writeFile(`${base}.md`, markdown(result, `${base.split('/').at(-1)}.svg`));
  console.error(`wrote ${base}.md and ${base}.svg`);
}
