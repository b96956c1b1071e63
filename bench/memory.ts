// What an idle connected terminal costs the hub: its resident memory (from its own /metrics)
// before and after N terminals connect and say hello, divided by N. The terminals come from
// several helper processes (bench/idle-terminals.ts), so no generator holds 10,000 sockets alone.
//   node --import tsx bench/memory.ts [--terminals 1000,10000] [--procs 4]
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { int, intList } from './args.js';
import { loadAverage, metricSum, residentBytes, scrape, sleep, spawnNode, type Child } from './proc.js';
import { provisionFleet, startHubProcess } from './stack.js';

async function sample(httpUrl: string): Promise<{ rss: number; heap: number; connected: number }> {
  const rss: number[] = [];
  const heap: number[] = [];
  let connected = 0;
  for (let i = 0; i < 3; i++) {
    const text = await scrape(httpUrl);
    rss.push(residentBytes(text) ?? NaN);
    heap.push(metricSum(text, 'lintel_nodejs_heap_size_used_bytes') ?? NaN);
    connected = metricSum(text, 'lintel_terminals_connected') ?? 0;
    await sleep(500);
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[1]!;
  return { rss: median(rss), heap: median(heap), connected };
}

/** A sample once RSS has moved less than 512 KiB over three samples in a row (at most about a minute). */
async function settled(httpUrl: string): Promise<{ rss: number; heap: number; connected: number }> {
  let last = await sample(httpUrl);
  let still = 0;
  for (let i = 0; i < 30 && still < 3; i++) {
    await sleep(1000);
    const again = await sample(httpUrl);
    still = Math.abs(again.rss - last.rss) < 512 * 1024 ? still + 1 : 0;
    last = again;
  }
  return last;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { terminals: { type: 'string', default: '1000,10000' }, procs: { type: 'string' } }, strict: true });
  const sizes = intList('terminals', values.terminals!).sort((a, b) => a - b);
  const procs = int('procs', values.procs, 4, 1);
  const hub = await startHubProcess({ env: { LINTEL_MAX_CONNECTIONS: String(Math.max(...sizes) + 100) } });
  try {
    const fleet = await provisionFleet(hub.admin, Math.max(...sizes), 10);
    const tokensDir = hub.dataDir;
    const runs = [];
    // Terminals accumulate: the run at 10,000 keeps the first 1,000 connected, and every figure is
    // against the RSS before the first terminal (freed pages would otherwise be reused unseen).
    // The hub settles after provisioning (state reload, garbage, V8 giving pages back): measure
    // only once its RSS has held still for three samples in a row.
    const before = await settled(hub.httpUrl);
    const children: Child[] = [];
    let have = 0;
    try {
      for (const n of sizes) {
        const started = performance.now();
        const per = Math.ceil((n - have) / procs);
        const spawned = [];
        for (let from = have, p = 0; from < n; from += per, p++) {
          const file = path.join(tokensDir, `tokens-${n}-${p}.txt`);
          await writeFile(file, fleet.devices.slice(from, Math.min(n, from + per)).map((d) => d.token).join('\n'), { mode: 0o600 });
          spawned.push(spawnNode('bench/idle-terminals.ts', [hub.url, file], { timeoutMs: 300_000 }).then((c) => { children.push(c); return c; }));
        }
        await Promise.all(spawned);
        have = n;
        const connectMs = Math.round(performance.now() - started);
        const after = await settled(hub.httpUrl); // sessions settled: welcome sent, timers armed, garbage collected
        const connected = children.reduce((s, c) => s + (c.first.connected as number), 0);
        const run = {
          terminals: n, connected, hub_connected: after.connected, connect_ms: connectMs,
          rss_before_mib: Math.round(before.rss / 1048576), rss_after_mib: Math.round(after.rss / 1048576),
          rss_per_terminal_kib: Math.round(((after.rss - before.rss) / connected / 1024) * 10) / 10,
          heap_per_terminal_kib: Math.round(((after.heap - before.heap) / connected / 1024) * 10) / 10,
        };
        console.error(`memory: ${n} idle terminals: hub rss ${run.rss_before_mib} -> ${run.rss_after_mib} MiB = ${run.rss_per_terminal_kib} KiB per terminal (heap ${run.heap_per_terminal_kib} KiB)`);
        runs.push(run);
      }
    } finally {
      for (const c of children) c.child.kill('SIGTERM');
      await Promise.all(children.map((c) => c.exited));
    }
    console.log(JSON.stringify({ bench: 'memory', procs, method: 'hub RSS (median of 3 scrapes) with N terminals connected minus before the first, over N; terminals accumulate across sizes', runs, load_avg_1m: loadAverage() }));
  } finally {
    await hub.stop();
  }
}

main().catch((err: Error) => {
  console.error(`bench/memory: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
