// What an idle connected terminal costs the hub: its resident memory (from its own /metrics)
// before and after N terminals connect and say hello, divided by N, and the growth from one size
// to the next divided by the terminals added (the figure the target is judged on). The terminals come from
// several helper processes (bench/idle-terminals.ts), so no generator holds 10,000 sockets alone.
//   node --import tsx bench/memory.ts [--terminals 1000,10000] [--procs 4]
import { randomBytes } from 'node:crypto';
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
  const env = { LINTEL_MAX_CONNECTIONS: String(Math.max(...sizes) + 100) };
  const credentialKey = randomBytes(32).toString('hex');
  // Provisioning 10,000 devices through a hub leaves it with pages it gives back only later (seen:
  // RSS 288 -> 361 -> 324 MiB over 20 s), which would hide or fake the terminals' cost. So the
  // fleet is provisioned first and the hub measured is a restart that loads it at start.
  const provisioner = await startHubProcess({ env, credentialKey });
  let fleet;
  try {
    fleet = await provisionFleet(provisioner.admin, Math.max(...sizes), 10);
  } finally {
    await provisioner.stop(true);
  }
  const hub = await startHubProcess({ env, credentialKey, dataDir: provisioner.dataDir, pgPort: Number(new URL(provisioner.databaseUrl).port) });
  try {
    const tokensDir = hub.dataDir;
    const runs = [];
    // Terminals accumulate: the run at 10,000 keeps the first 1,000 connected, and every figure is
    // against the RSS before the first terminal (freed pages would otherwise be reused unseen).
    // The hub settles after start (garbage, V8 giving pages back): measure only once its RSS has
    // held still for three samples in a row.
    const before = await settled(hub.httpUrl);
    const children: Child[] = [];
    let have = 0;
    let previous: { rss: number; heap: number; connected: number } | undefined;
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
          // Against the previous size instead: both samples have terminals connected, so pages the
          // hub held at start and gave back later (seen: 355 -> 278 MiB with 1,000 connected) do not
          // blur the figure. This is what one more idle terminal costs at this size.
          ...(previous && connected > previous.connected ? {
            added_terminals: connected - previous.connected,
            rss_per_added_terminal_kib: Math.round(((after.rss - previous.rss) / (connected - previous.connected) / 1024) * 10) / 10,
            heap_per_added_terminal_kib: Math.round(((after.heap - previous.heap) / (connected - previous.connected) / 1024) * 10) / 10,
          } : {}),
        };
        previous = { rss: after.rss, heap: after.heap, connected };
        const added = 'added_terminals' in run ? `; ${run.rss_per_added_terminal_kib} KiB per terminal added since the previous size (heap ${run.heap_per_added_terminal_kib} KiB)` : '';
        console.error(`memory: ${n} idle terminals: hub rss ${run.rss_before_mib} -> ${run.rss_after_mib} MiB = ${run.rss_per_terminal_kib} KiB per terminal (heap ${run.heap_per_terminal_kib} KiB)${added}`);
        runs.push(run);
      }
    } finally {
      for (const c of children) c.child.kill('SIGTERM');
      await Promise.all(children.map((c) => c.exited));
    }
    console.log(JSON.stringify({ bench: 'memory', procs, method: 'hub RSS (median of 3 scrapes, once it holds still) with N terminals connected minus before the first, over N; and minus the previous size, over the terminals added; terminals accumulate across sizes', runs, load_avg_1m: loadAverage() }));
  } finally {
    await hub.stop();
  }
}

main().catch((err: Error) => {
  console.error(`bench/memory: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
