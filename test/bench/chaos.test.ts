// `npm run chaos -- --quick` as a real child process: PostgreSQL stopped and started, the hub
// killed, all sessions dropped, a graceful restart; afterwards every punch a terminal numbered is
// stored exactly once. Only counts are asserted; the timings in its table are only printed.
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDataDir } from '../helpers/hub.js';
import { postmastersOn } from '../helpers/hub-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PHASES = ['baseline', 'pg-outage', 'hub-kill', 'pg-and-hub', 'storm', 'sigterm', 'sigterm-stalled-db'];

/** What the run left for a failure: its hang reports and the end of each hub's log. */
async function diagnostics(workDir: string): Promise<string> {
  const out: string[] = [];
  for (const name of (await readdir(workDir).catch(() => [] as string[])).sort()) {
    if (name.startsWith('hang-')) out.push(`== ${name}`, (await readFile(path.join(workDir, name), 'utf8')).slice(0, 8000));
    if (name.startsWith('hub-') && name.endsWith('.log')) {
      const lines = (await readFile(path.join(workDir, name), 'utf8')).split('\n').filter((l) => l && !l.includes('"component":"terminals"'));
      out.push(`== ${name} (without session lines)`, ...lines.slice(-15).map((l) => l.slice(0, 400)));
    }
  }
  return out.join('\n');
}

interface Phase { phase: string; sent: number; reconnects: number; hung: string | null; notes: Record<string, unknown>; auth: { sent: number; answered: number } }
interface Result {
  terminals: number; phases: Phase[]; ok: boolean;
  totals: { sent: number; acknowledged: number; stored: number; duplicated: number; duplicate_rows: number; missing: number; acked_missing: number; beyond_sent: number; quarantined: number; event_keys: number };
  drain: { every_punch_acked: boolean; spool_empty: boolean; unacked_left: number };
  last_hub_exit: { code: number | null } | null;
  work_dir: string | null;
}

t.test('npm run chaos -- --quick: nothing missing, nothing stored twice', async (t) => {
  const dir = await tempDataDir();
  // Its own process group, so a teardown after a failure can stop npm, the script and the hub at once.
  // --hang-s: a hang detector (not a speed threshold), short enough to report inside tap's timeout.
  const child = spawn('npm', ['run', '--silent', 'chaos', '--', '--quick', '--hang-s', '45', '--dir', dir], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([exited, sleep(40_000)]);
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const pid of postmastersOn(dir)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await rm(dir, { recursive: true, force: true });
  });

  const code = await exited;
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  t.ok(line, 'one JSON line on stdout');
  if (!line) { t.comment(stderr.slice(-4000)); return; }
  const r = JSON.parse(line) as Result;
  t.comment(stderr.split('\n').filter((l) => l.startsWith('|') || l.startsWith('chaos:')).join('\n'));
  if (!r.ok && r.work_dir) t.comment(await diagnostics(r.work_dir));

  t.equal(code, 0, 'exit code 0');
  t.same(r.phases.map((p) => p.phase), PHASES, 'every phase ran, in order');
  t.same(r.phases.filter((p) => p.hung).map((p) => `${p.phase}: ${p.hung}`), [], 'no phase hung');
  t.ok(r.phases.every((p) => p.sent > 0), 'punches made in every phase');
  t.ok(r.totals.sent > 0, `${r.totals.sent} punches sent`);
  t.equal(r.totals.missing, 0, 'missing 0');
  t.equal(r.totals.duplicated, 0, 'duplicated 0');
  t.equal(r.totals.duplicate_rows, 0);
  t.equal(r.totals.acked_missing, 0, 'every acked punch is stored');
  t.equal(r.totals.beyond_sent, 0, 'nothing stored that was never sent');
  t.equal(r.totals.stored, r.totals.sent, 'stored = sent');
  t.equal(r.totals.acknowledged, r.totals.sent, 'every punch acked in the end');
  t.equal(r.totals.event_keys, r.totals.sent, 'one ledger key per punch');
  t.equal(r.totals.quarantined, 0, 'nothing quarantined');
  t.same(r.drain, { ...r.drain, every_punch_acked: true, spool_empty: true, unacked_left: 0 }, 'outboxes and spool empty at the end');
  t.equal(r.ok, true);

  const phase = (name: string) => r.phases.find((p) => p.phase === name)!;
  // The faults really happened: sessions came back after each hub-side fault and the storm.
  for (const name of ['hub-kill', 'pg-and-hub', 'storm', 'sigterm']) t.ok(phase(name).reconnects >= r.terminals, `${name}: every terminal reconnected`);
  t.equal(phase('pg-outage').reconnects, 0, 'pg-outage: sessions stayed up while PostgreSQL was away');
  t.ok(Number(phase('pg-and-hub').notes.spool_left_bytes) > 0, 'pg-and-hub: the killed hub left a spool on disk');
  t.equal(phase('pg-and-hub').notes.restarted_hub_recovered_spool, true, 'pg-and-hub: the restarted hub recovered it');
  t.equal(phase('sigterm').notes.exit_code, 0, 'sigterm: the hub exits 0');
  t.equal(r.last_hub_exit?.code, 0, 'the last hub exits 0 on SIGTERM');
  t.ok(r.phases.every((p) => p.auth.answered <= p.auth.sent), 'auth answers never exceed requests');
});
