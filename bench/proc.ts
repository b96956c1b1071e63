// Process plumbing shared by the benchmark scripts: free ports, temporary data folders, child
// processes that announce themselves with one JSON line, and CPU read from /proc so every run
// can say who was busy (the hub, its PostgreSQL, or the load generator).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
const TICKS_PER_S = 100; // USER_HZ: 100 on every Linux this runs on

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o755); // the postgres user must reach it when run as root
  return dir;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** user+system CPU seconds of one process (all its threads), or of one thread (`pid/task/tid`), or 0 once it is gone. */
export function cpuSeconds(pid: number | string): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_S; // fields 14 and 15 of stat
  } catch {
    return 0;
  }
}

/** Every live descendant of `pid` (PostgreSQL's postmaster and its backends, for a hub). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch { /* gone meanwhile */ }
  }
  const out: number[] = [];
  const walk = (p: number) => { for (const c of children.get(p) ?? []) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    // idle and iowait are not busy; steal (field 8) is time the hypervisor gave our cores to other machines
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0) - (f[7] ?? 0), total, steal: f[7] ?? 0 };
  } catch {
    return { busy: 0, total: 0, steal: 0 };
  }
}

export interface CpuMeter { stop(): { wall_s: number; cores: Record<string, number> } }

/**
 * CPU used by named process groups between start and stop, in cores (1 = one core busy the whole
 * time). Descendants are listed at start and again at stop, so backends opened meanwhile count.
 * `parts` name single threads (`pid/task/tid`) inside a group, reported beside it (the hub's
 * event loop within the hub) and not counted again in `others`.
 */
export function cpuMeter(groups: Record<string, () => number[]>, parts: Record<string, string> = {}): CpuMeter {
  const t0 = performance.now();
  const m0 = machineTicks();
  const start = new Map<number | string, number>();
  const listed = new Map<string, Set<number>>();
  for (const thread of Object.values(parts)) start.set(thread, cpuSeconds(thread));
  for (const [name, pids] of Object.entries(groups)) {
    const set = new Set(pids());
    listed.set(name, set);
    for (const p of set) start.set(p, cpuSeconds(p));
  }
  return {
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const cores: Record<string, number> = {};
      for (const [name, pids] of Object.entries(groups)) {
        const set = listed.get(name)!;
        for (const p of pids()) set.add(p);
        let s = 0;
        for (const p of set) s += Math.max(0, cpuSeconds(p) - (start.get(p) ?? 0));
        cores[name] = Math.round((s / wall) * 100) / 100;
      }
      const within: Record<string, number> = {};
      for (const [name, thread] of Object.entries(parts)) within[name] = Math.round((Math.max(0, cpuSeconds(thread) - start.get(thread)!) / wall) * 100) / 100;
      // Everything else the machine ran meanwhile (other people's tests): the run's noise.
      const m1 = machineTicks();
      const busy = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * os.cpus().length;
      cores.machine = Math.round(busy * 100) / 100;
      cores.steal = Math.round(((m1.steal - m0.steal) / Math.max(1, m1.total - m0.total)) * os.cpus().length * 100) / 100;
      cores.others = Math.round(Math.max(0, busy - Object.entries(cores).filter(([k]) => k !== 'machine' && k !== 'steal').reduce((a, [, v]) => a + v, 0)) * 100) / 100;
      Object.assign(cores, within);
      return { wall_s: Math.round(wall * 100) / 100, cores };
    },
  };
}

/** The machine's load while a run lasted: other work on the 2 cores shows here. */
export function loadAverage(): number { return Math.round(os.loadavg()[0]! * 100) / 100; }

export interface Child { child: ChildProcess; first: Record<string, unknown>; stderr: string[]; exited: Promise<number | null> }

/**
 * Runs `node --import tsx <script> args` and resolves with the first JSON line it prints on
 * stdout (a server announcing its port, or a benchmark's result). Later lines go to `onLine`.
 */
export function spawnNode(script: string, args: string[], opts: { env?: Record<string, string>; onLine?(line: string): void; timeoutMs?: number } = {}): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let first: Record<string, unknown> | undefined;
    let buf = '';
    const timer = opts.timeoutMs ? setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${script}: no result within ${opts.timeoutMs} ms`)); }, opts.timeoutMs) : undefined;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        if (first === undefined && line.startsWith('{')) {
          try {
            first = JSON.parse(line) as Record<string, unknown>;
            clearTimeout(timer);
            resolve({ child, first, stderr, exited });
            continue;
          } catch { /* not JSON: an ordinary line */ }
        }
        opts.onLine?.(line);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr.push(chunk);
      if (stderr.length > 200) stderr.splice(0, stderr.length - 200);
      if (process.env.LINTEL_BENCH_VERBOSE) process.stderr.write(chunk);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (first === undefined) reject(new Error(`${path.basename(script)} exited with ${code} before printing its JSON line:\n${stderr.join('').slice(-3000)}`));
    });
  });
}

/** One sample of a Prometheus text exposition: the sum over every series of `name`. */
export function metricSum(text: string, name: string): number | null {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'gm');
  let sum: number | null = null;
  for (const m of text.matchAll(re)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

export async function scrape(httpUrl: string): Promise<string> {
  // A kept-alive connection the hub closed as idle fails once ("fetch failed"): ask again.
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${httpUrl}/metrics`);
      if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
      return await res.text();
    } catch (err) {
      if (attempt >= 3) throw err;
      await sleep(200);
    }
  }
}

/** The hub's resident memory from its /metrics (prom-client's default metrics, prefix `lintel_`). */
export function residentBytes(text: string): number | null {
  return metricSum(text, 'lintel_process_resident_memory_bytes');
}
