// `npm run bench` (quick mode; `-- --full` for the full one): runs every benchmark script in turn, each in its own
// processes (never two at once: the machine has 2 cores), and writes bench/results/<time>.json,
// <time>.md and <time>.svg. A full run also refreshes bench/results/latest-full.* and the table
// in bench/README.md. Exit code 1 when a benchmark failed or a burst lost or duplicated a punch.
//   npm run bench -- --quick [--out DIR] [--only burst,copy,echo,naive,curves,memory,http,decision]
//   npm run bench -- --report FILE.json   (the report and chart again from a run's JSON, no benchmark)
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, loadAverage, spawnNode } from './proc.js';
import { computeTargets, markdown, referenceBurst, svgChart, targetsTable, type RunResult } from './report.js';

interface Mode {
  sizes: number[]; events: number; frame: number; authRate: number; people: number;
  curves: { terminals: number; events: number; frames: number[] };
  memory: number[]; memoryProcs: number;
  http: { duration: number; events: number };
}

const MODES: Record<'quick' | 'full', Mode> = {
  quick: {
    sizes: [50, 200], events: 20, frame: 500, authRate: 5, people: 1000,
    curves: { terminals: 10, events: 500, frames: [1, 10, 100, 500] },
    memory: [200, 1000], memoryProcs: 2,
    http: { duration: 2, events: 1000 },
  },
  full: {
    sizes: [500, 1000, 2000], events: 50, frame: 500, authRate: 5, people: 5000,
    curves: { terminals: 200, events: 500, frames: [1, 10, 100, 500] },
    memory: [1000, 10000], memoryProcs: 4,
    http: { duration: 10, events: 5000 },
  },
};

const STEPS = ['burst', 'copy', 'echo', 'naive', 'curves', 'memory', 'http', 'decision'] as const;
type Step = (typeof STEPS)[number];

const README_START = '<!-- latest-full-run:start -->';
const README_END = '<!-- latest-full-run:end -->';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, full: { type: 'boolean', default: false }, out: { type: 'string' }, only: { type: 'string' }, report: { type: 'string' } },
    strict: true,
  });
  if (values.report) return rerender(path.resolve(values.report));
  if (values.quick && values.full) throw new Error('give --quick or --full, not both');
  const modeName = values.full ? 'full' : 'quick';
  const m = MODES[modeName];
  const only = new Set((values.only ?? STEPS.join(',')).split(',') as Step[]);
  for (const s of only) if (!STEPS.includes(s)) throw new Error(`--only: unknown step ${s} (${STEPS.join(', ')})`);
  const outDir = path.resolve(values.out ?? path.join(BENCH_DIR, 'results'));
  await mkdir(outDir, { recursive: true });

  const startedAt = new Date();
  const loadBefore = os.loadavg().map((v) => Math.round(v * 100) / 100);
  const benches: Record<string, any> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
  let failed = false;
  const run = async (name: string, script: string, args: string[]) => {
    const t0 = performance.now();
    console.error(`\n== ${name}: node --import tsx ${script} ${args.join(' ')}  (load ${loadAverage()})`);
    try {
      const c = await spawnNode(script, args, { timeoutMs: 1_800_000 });
      const code = await c.exited;
      benches[name] = { ...c.first, exit_code: code, seconds: Math.round((performance.now() - t0) / 100) / 10 };
      if (code !== 0) failed = true;
      console.error(`   done in ${benches[name].seconds} s (exit ${code})`);
    } catch (err) {
      failed = true;
      benches[name] = { error: (err as Error).message.slice(0, 2000) };
      console.error(`   FAILED: ${(err as Error).message.slice(0, 2000)}`);
    }
  };
  const common = ['--events', String(m.events), '--frame', String(m.frame), '--auth-rate', String(m.authRate), '--people', String(m.people)];
  const nMax = Math.max(...m.sizes);

  if (only.has('burst')) await run('burst', 'bench/shift-change.ts', ['--terminals', m.sizes.join(','), ...common]);
  const hub = referenceBurst(benches);
  // The baselines copy what the burst did: the hub's own batch size, and auth for as long as its burst lasted.
  const batch = hub?.hub_metrics?.events_per_batch || m.frame;
  if (only.has('copy')) await run('baseline-copy', 'bench/baseline-copy.ts', ['--terminals', String(nMax), '--events', String(m.events), '--batch', String(batch), '--people', String(m.people)]);
  if (only.has('echo')) await run('baseline-echo', 'bench/baseline-echo.ts', ['--terminals', String(nMax), '--events', String(m.events), '--frame', String(m.frame), '--auth-rate', String(m.authRate), '--min-ms', String(Math.round(hub?.wall_ms ?? 2000))]);
  if (only.has('naive')) await run('baseline-naive', 'bench/baseline-naive.ts', ['--terminals', String(nMax), ...common]);
  if (only.has('curves')) {
    await run('curves', 'bench/curves.ts', ['--terminals', String(m.curves.terminals), '--events', String(m.curves.events), '--workers', '1,2',
      '--frames', m.curves.frames.join(','), '--auth-rate', String(m.authRate), '--people', String(m.people)]);
  }
  if (only.has('memory')) await run('memory', 'bench/memory.ts', ['--terminals', m.memory.join(','), '--procs', String(m.memoryProcs)]);
  if (only.has('http')) await run('http', 'bench/http.ts', ['--duration', String(m.http.duration), '--events', String(m.http.events)]);
  if (only.has('decision')) await run('decision', 'bench/decision.ts', ['--people', String(m.people), '--decisions', modeName === 'full' ? '500000' : '50000']);

  const result: RunResult = {
    mode: modeName, started_at: startedAt.toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? '?', node: process.version, load_avg_before: loadBefore, load_avg_after: os.loadavg().map((v) => Math.round(v * 100) / 100) },
    duration_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
    benches, targets: computeTargets(benches),
  };
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const base = path.join(outDir, stamp);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
  await writeFile(`${base}.svg`, svgChart(result));
  await writeFile(`${base}.md`, markdown(result, `${stamp}.svg`));
  if (modeName === 'full' && !values.out) {
    for (const ext of ['json', 'svg']) await copyFile(`${base}.${ext}`, path.join(outDir, `latest-full.${ext}`));
    await writeFile(path.join(outDir, 'latest-full.md'), markdown(result, 'latest-full.svg'));
    await updateReadme(result);
  }
  const burstBad = (benches.burst?.runs ?? []).some((x: { lost: number; db?: { duplicates: number } }) => x.lost !== 0 || x.db?.duplicates !== 0);
  console.error(`\n${targetsTable(result.targets)}\n\nwrote ${base}.json, .md and .svg in ${result.duration_s} s`);
  console.log(JSON.stringify({ bench: 'run', mode: modeName, json: `${base}.json`, report: `${base}.md`, chart: `${base}.svg`, failed, burst_lost_or_duplicated: burstBad, targets: result.targets }));
  return failed || burstBad ? 1 : 0;
}

/**
 * Targets, report and chart again from a run's JSON (after a change to how they are computed or
 * shown), next to it; for the committed latest full run, the README table too.
 */
async function rerender(file: string): Promise<number> {
  const result = JSON.parse(await readFile(file, 'utf8')) as RunResult;
  result.targets = computeTargets(result.benches);
  const base = file.replace(/\.json$/, '');
  const name = path.basename(base);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
  await writeFile(`${base}.svg`, svgChart(result));
  await writeFile(`${base}.md`, markdown(result, `${name}.svg`));
  if (name === 'latest-full' && path.dirname(file) === path.join(BENCH_DIR, 'results')) await updateReadme(result);
  console.error(`${targetsTable(result.targets)}\n\nrewrote ${base}.md and .svg`);
  return 0;
}

/** Replaces the table between the markers in bench/README.md with this full run's targets. */
async function updateReadme(r: RunResult): Promise<void> {
  const file = path.join(BENCH_DIR, 'README.md');
  const text = await readFile(file, 'utf8');
  const a = text.indexOf(README_START);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) return;
  const block = [README_START, '', `Full run of ${r.started_at} (${r.machine.cpus} × ${r.machine.cpu_model}; load average ${r.machine.load_avg_before[0]} before, ${r.machine.load_avg_after[0]} after; ${r.duration_s} s). Report: [results/latest-full.md](results/latest-full.md), chart: [results/latest-full.svg](results/latest-full.svg).`, '', targetsTable(r.targets), '', README_END].join('\n');
  await writeFile(file, text.slice(0, a) + block + text.slice(b + README_END.length));
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  console.error(`bench/run: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
