// The hub as a real child process, for tests of what only a process can show: signals, kill -9,
// exit codes, and the PostgreSQL it leaves behind or not.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../../hub/config.js';

export interface HubProcess { child: ChildProcess; output: string[]; exited: Promise<number | null> }

/** Starts `node --import tsx hub/main.ts` and resolves once it logs that it listens. */
export async function spawnHub(env: Record<string, string>): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'hub/main.ts'], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output.push(...chunk.split('\n').filter(Boolean));
      if (chunk.includes('"hub listening"')) resolve();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    void exited.then((code) => reject(new Error(`hub exited with ${code} before listening:\n${output.join('\n')}`)));
  });
  await listening;
  return { child, output, exited };
}

/** Polls until `check` holds; `hangMs` detects a hang, it is not a speed threshold. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, hangMs: number): Promise<void> {
  const deadline = Date.now() + hangMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${hangMs} ms`);
    await sleep(20);
  }
}

/**
 * Pids of processes whose command line names the data folder: the embedded postmaster(s). A
 * backend the postmaster has just forked carries its command line until it sets its own title:
 * a process whose parent is on the list is such a child, not another postmaster.
 */
export function postmastersOn(dir: string): number[] {
  const found = new Map<number, number>(); // pid -> parent pid
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(dir)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      found.set(Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone meanwhile */ }
  }
  return [...found].filter(([, parent]) => !found.has(parent)).map(([pid]) => pid);
}
