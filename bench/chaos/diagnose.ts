// When the hub hangs (does not exit, does not listen), what it was doing, written next to its
// logs before it is killed: its threads and their kernel wait, a Node diagnostic report (SIGUSR2,
// if its main thread still runs JavaScript), native stacks from gdb when installed, and what
// PostgreSQL's sessions wait for.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function threads(pid: number): string[] {
  const out: string[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const read = (f: string) => { try { return readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim(); } catch { return '?'; } };
      const state = read('stat').split(') ')[1]?.split(' ')[0] ?? '?';
      out.push(`${tid} ${read('comm')} state=${state} wchan=${read('wchan')}`);
    }
  } catch { out.push('(process gone)'); }
  return out;
}

export async function diagnoseHang(pid: number, dir: string, what: string, pgActivity: () => Promise<unknown[]>): Promise<string> {
  const file = path.join(dir, `hang-${pid}.txt`);
  const parts: string[] = [`hang: ${what}`, '', '## threads', ...threads(pid)];
  try { process.kill(pid, 'SIGUSR2'); } catch { /* gone */ } // --report-on-signal: report-*.json in the same folder
  await new Promise((r) => setTimeout(r, 2000));
  try {
    const { stdout } = await run('gdb', ['-p', String(pid), '-batch', '-ex', 'thread apply all bt 30'], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    parts.push('', '## gdb', stdout);
  } catch (err) {
    parts.push('', `## gdb: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    parts.push('', '## pg_stat_activity', ...(await pgActivity()).map((r) => JSON.stringify(r)));
  } catch (err) {
    parts.push('', `## pg_stat_activity: ${(err as Error).message}`);
  }
  await writeFile(file, parts.join('\n'));
  return file;
}

export const PG_ACTIVITY = `SELECT pid, application_name, state, wait_event_type, wait_event, backend_type,
  round(extract(epoch FROM now() - xact_start))::int AS xact_s, left(query, 160) AS query
  FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;
