// The operator CLI (hub/cli.ts) as operators run it: a child process on the test hub's database
// and data folder (so it shares the credential key). Provisioning through it yields a working
// door, and a revoke through it is in force for the very next auth, with no wait in between.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from '../../hub/config.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

interface Run { code: number; stdout: string; stderr: string }

// The shell's own LINTEL_* / PG* settings (say, a credential key) must not point the CLI elsewhere.
const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(LINTEL_|PG)/.test(k)));

function lintel(th: TestHub, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join('hub', 'cli.ts'), ...args],
      { cwd: PROJECT_ROOT, env: { ...inherited, ...th.env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

/** Runs a command that must succeed and returns its one JSON line. */
async function ok<T = Record<string, unknown>>(t: { equal(...args: any[]): unknown }, th: TestHub, args: string[]): Promise<T> {
  const r = await lintel(th, args);
  t.equal(r.code, 0, `lintel ${args.slice(0, 2).join(' ')} exits 0${r.code ? `: ${r.stderr}` : ''}`);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 1, `lintel ${args.slice(0, 2).join(' ')} prints one line`);
  return JSON.parse(lines[0] ?? 'null') as T;
}

t.test('the operator CLI', async (t) => {
  const th = await startTestHub(t);
  const org = await ok<{ id: string; name: string }>(t, th, ['org', 'create', '--name', 'acme']);
  t.equal(org.name, 'acme');
  // Independent chains run side by side (each CLI call is a process start and a migration check).
  const [device] = await Promise.all([
    (async () => {
      const site = await ok<{ tz: string }>(t, th, ['site', 'create', '--org', 'acme', '--name', 'hq', '--tz', 'Asia/Kolkata']);
      t.equal(site.tz, 'Asia/Kolkata');
      const door = await ok<{ code: string; open_ms: number }>(t, th, ['door', 'create', '--org', 'acme', '--site', 'hq', '--code', 'FRONT', '--open-ms', '4000']);
      t.same({ code: door.code, open_ms: door.open_ms }, { code: 'FRONT', open_ms: 4000 });
      return ok<{ id: string; token: string }>(t, th, ['device', 'create', '--org', 'acme', '--site', 'hq', '--name', 'r1', '--doors', 'FRONT']);
    })(),
    (async () => {
      await ok(t, th, ['person', 'create', '--org', 'acme', '--external-id', 'E-7', '--name', 'Asha']);
      await ok(t, th, ['credential', 'add', '--org', 'acme', '--person', 'E-7', '--cred', '04A1B2C3']);
    })(),
    ok(t, th, ['group', 'create', '--org', 'acme', '--name', 'staff']),
  ]);
  t.match(device.token, /^ltd_[A-Za-z0-9_-]{20,}$/, 'the token is printed');
  const stored = await th.query<{ token_hash: Buffer }>('SELECT token_hash FROM devices WHERE id = $1', [device.id]);
  t.same(stored.map((r) => Buffer.from(r.token_hash).toString('hex')), [createHash('sha256').update(device.token).digest('hex')], 'only its hash is stored');
  await Promise.all([
    ok(t, th, ['group', 'add-member', '--org', 'acme', '--group', 'staff', '--person', 'E-7']),
    ok(t, th, ['group', 'add-door', '--org', 'acme', '--group', 'staff', '--site', 'hq', '--door', 'FRONT']),
  ]);

  // No settle() from the test: the CLI itself returns only once every live hub has the change.
  const term = th.terminal(device.token);
  const welcome = await term.connect();
  t.equal(welcome.site_tz, 'Asia/Kolkata');
  const granted = await term.auth('04A1B2C3', 'FRONT');
  t.same({ ok: granted.ok, reason: granted.reason, person: granted.person, open_ms: granted.open_ms },
    { ok: true, reason: 'granted', person: 'E-7', open_ms: 4000 });

  const revoked = await ok<{ status: string }>(t, th, ['credential', 'revoke', '--org', 'acme', '--cred', '04A1B2C3']);
  t.equal(revoked.status, 'revoked');
  const denied = await term.auth('04A1B2C3', 'FRONT');
  t.same({ ok: denied.ok, reason: denied.reason }, { ok: false, reason: 'credential_revoked' }, 'the very next auth is denied');

  // The failing calls run side by side; each subtest then reads its own result.
  const usage: { args: string[]; why: string; says?: RegExp }[] = [
    { args: [], why: 'no command' },
    { args: ['org', 'destroy', '--name', 'x'], why: 'an unknown action', says: /unknown command "org destroy"/ },
    { args: ['org', 'create'], why: 'a missing flag', says: /missing --name/ },
    { args: ['org', 'create', '--name', 'x', '--bogus', '1'], why: 'an unknown flag', says: /bogus/ },
    { args: ['site', 'create', '--org', 'acme', '--name', 'hq2', '--tz', 'Mars/Olympus_Mons'], why: 'an invalid --tz', says: /Mars\/Olympus_Mons is not an IANA time zone/ },
    { args: ['group', 'add-window', '--org', 'acme', '--group', 'staff', '--days', '1-5', '--from', '8:00', '--to', '18:00'], why: 'a time not HH:MM', says: /8:00 is not HH:MM/ },
  ];
  const [duplicate, notFound, ...usageRuns] = await Promise.all([
    lintel(th, ['org', 'create', '--name', 'acme']),
    lintel(th, ['credential', 'revoke', '--org', 'acme', '--cred', 'never-issued']),
    ...usage.map((c) => lintel(th, c.args)),
  ]);

  await t.test('a duplicate organization exits 1 with a JSON error', async (t) => {
    t.equal(duplicate!.code, 1);
    t.equal(duplicate!.stdout, '', 'nothing on stdout');
    const line = duplicate!.stderr.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    const body = JSON.parse(line ?? '{}') as { error?: { code?: string; message?: string } };
    t.equal(body.error?.code, 'LINTEL_ERR_STORE_CONFLICT');
    t.match(body.error?.message ?? '', /acme/);
  });

  await t.test('an unknown credential to revoke exits 1 (not found)', async (t) => {
    t.equal(notFound!.code, 1);
    t.match(notFound!.stderr, /"code":"LINTEL_ERR_STORE_NOT_FOUND"/);
  });

  await t.test('bad usage exits 2 with the usage text and touches nothing', async (t) => {
    usage.forEach((c, i) => {
      const r = usageRuns[i]!;
      t.equal(r.code, 2, `${c.why}: exit 2`);
      t.match(r.stderr, /usage: npm run lintel -- <command>/, `${c.why}: usage text`);
      if (c.says) t.match(r.stderr, c.says, `${c.why}: says what is wrong`);
      t.equal(r.stdout, '', `${c.why}: nothing on stdout`);
    });
    t.same(await th.query('SELECT name FROM organizations'), [{ name: 'acme' }], 'no organization was added');
    t.same(await th.query(`SELECT name FROM sites`), [{ name: 'hq' }], 'no site was added');
    t.same(await th.query('SELECT count(*)::int AS n FROM access_group_schedules'), [{ n: 0 }], 'no window was added');
  });

  await t.test('a window is printed the way the API shows it (HH:MM) and stored per day in minutes', async (t) => {
    const w = await ok(t, th, ['group', 'add-window', '--org', 'acme', '--group', 'staff', '--days', '1-5', '--from', '07:30', '--to', '24:00']);
    t.same({ days: w.days, from: w.from, to: w.to }, { days: [1, 2, 3, 4, 5], from: '07:30', to: '24:00' });
    t.same(await th.query('SELECT dow, start_min, end_min FROM access_group_schedules ORDER BY dow'),
      [1, 2, 3, 4, 5].map((dow) => ({ dow, start_min: 450, end_min: 1440 })));
  });
});
