// `npm run bench -- --quick` end to end, as CI runs it: every benchmark script in its own
// processes, then the JSON, the Markdown report and the SVG chart. Asserts that each benchmark
// produced its figures and that the burst stored every punch exactly once; timings are only
// printed (speed is measured by the benchmark, never asserted here).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from '../../hub/config.js';

t.setTimeout(900_000); // the whole quick mode, on a machine other people's tests share

t.test('quick mode writes the JSON, the report and the chart, with every benchmark\'s figures', async (t) => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'lintel-bench-quick-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));

  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0, 'npm run bench -- --quick exits 0', { stderr: stderr.slice(-4000) });

  const line = stdout.trim().split('\n').at(-1) ?? '{}';
  const summary = JSON.parse(line) as { bench: string; json: string; report: string; chart: string; failed: boolean; targets: { name: string; ratio: number | null }[] };
  t.equal(summary.bench, 'run');
  t.equal(summary.failed, false, 'no benchmark failed');
  for (const f of [summary.json, summary.report, summary.chart]) t.ok(existsSync(f) && path.dirname(f) === out, `${path.basename(f ?? '?')} written in --out`);

  const result = JSON.parse(await readFile(summary.json, 'utf8'));
  const b = result.benches;
  t.equal(result.mode, 'quick');

  // The burst: every punch acked and stored once, at every fleet size.
  t.ok(b.burst.runs.length >= 2, 'a burst per fleet size');
  for (const r of b.burst.runs) {
    t.equal(r.timed_out, false, `${r.terminals} terminals: finished`);
    t.equal(r.acked, r.punches, `${r.terminals} terminals: every punch acked`);
    t.equal(r.db.rows, r.punches, `${r.terminals} terminals: rows = punches sent`);
    t.equal(r.db.distinct, r.punches, `${r.terminals} terminals: distinct identities = punches sent`);
    t.equal(r.db.duplicates, 0, `${r.terminals} terminals: no duplicate`);
    t.equal(r.lost, 0);
    t.equal(r.auth.answered, r.auth.sent, `${r.terminals} terminals: every auth answered`);
    t.ok(r.events_per_s > 0 && r.ack_ms.n === r.punches, 'ack latency recorded per punch');
    t.type(r.decision_p99_ms, 'number', 'the hub\'s decision histogram was read');
    t.ok(r.cpu.cores.hub > 0, 'hub CPU measured from its own process');
    t.ok(r.timeline.acked.reduce((a: number, x: number) => a + x, 0) === r.punches, 'the timeline holds every ack');
  }

  // Each baseline produced its figures.
  const copy = b['baseline-copy'];
  for (const v of ['direct', 'staging', 'direct_default_socket']) {
    t.ok(copy[v].rows_per_s > 0, `raw COPY ${v}: rows/s`);
    t.equal(copy[v].stored, copy[v].rows, `raw COPY ${v}: every row stored`);
  }
  const echo = b['baseline-echo'];
  t.equal(echo.echoed, echo.terminals * echo.events_per_terminal, 'echo: every ev frame came back');
  t.ok(echo.auth.answered > 0 && echo.auth.lost === 0, 'echo: auth round trips measured');
  const naive = b['baseline-naive'];
  t.equal(naive.acked, naive.punches, 'naive: every punch acked');
  t.equal(naive.db.distinct, naive.punches, 'naive: every punch stored');
  t.equal(naive.db.duplicates, 0, 'naive: no duplicate');
  t.ok(naive.events_per_s > 0);

  // Cost curves, memory and HTTP.
  t.same(b.curves.runs.map((r: { workers: number; frame: number }) => `${r.workers}/${r.frame}`), ['1/1', '1/10', '1/100', '1/500', '2/1', '2/10', '2/100', '2/500'], 'every worker count x events per frame');
  for (const r of b.curves.runs) t.equal(r.db.distinct, r.punches, `curves ${r.workers} workers, frames of ${r.frame}: every punch stored`);
  for (const r of b.memory.runs) {
    t.equal(r.connected, r.terminals, `memory: ${r.terminals} terminals connected`);
    t.type(r.rss_per_terminal_kib, 'number', `memory: RSS per terminal at ${r.terminals}`);
  }
  const [small, large] = b.memory.runs;
  t.equal(large.added_terminals, large.connected - small.connected, 'memory: the larger size is also measured against the smaller');
  t.type(large.rss_per_added_terminal_kib, 'number', 'memory: RSS per terminal added');
  t.notOk('added_terminals' in small, 'memory: the first size has no previous one');
  for (const route of ['GET /healthz', 'GET /v1/doors', 'GET /v1/events?limit=50', 'GET /v1/timesheets', 'GET /metrics']) {
    const r = b.http.routes[route];
    t.ok(r && r.requests > 0 && r.errors + r.non2xx === 0, `http: ${route} answered`);
  }

  for (const c of ['cold', 'warm', 'unknown']) t.ok(b.decision[c].decisions > 0 && b.decision[c].p99_us > 0, `decision alone, ${c}: percentiles`);
  t.equal(b.decision.warm.granted, b.decision.warm.decisions, 'decision alone: every known card granted');

  // The report shows every target with its ratio; the chart has both panels.
  const md = await readFile(summary.report, 'utf8');
  t.equal(summary.targets.length, 6);
  for (const target of summary.targets) {
    t.ok(md.includes(`| ${target.name} |`), `report lists target "${target.name}"`);
    t.type(target.ratio, 'number', `target "${target.name}" has a measured ratio`);
  }
  t.match(md, /!\[latency percentiles and throughput over time\]\(.+\.svg\)/, 'report embeds the chart');
  const svg = await readFile(summary.chart, 'utf8');
  t.match(svg, /^<svg /);
  t.match(svg, /<polyline /, 'throughput over time drawn');
  t.match(svg, /p999/, 'percentile bars drawn');
  t.comment(result.targets.map((x: { name: string; ratio: number; pass: boolean | null }) => `${x.name}: ${x.ratio} (${x.pass === null ? 'n/a' : x.pass ? 'pass' : 'miss'})`).join('; '));
});
