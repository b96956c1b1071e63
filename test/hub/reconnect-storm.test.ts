// Reconnect storms: new sessions are admitted at a bounded rate (hub/admission.ts), the rest get
// 503 with Retry-After and come back, and a terminal already connected keeps getting answers.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createAdmission } from '../../hub/admission.js';
import type { Terminal } from '../../bench/terminal.js';
import { provisionSite, settle, startTestHub } from '../helpers/hub.js';

const STORM = 600;
const ADMIT_PER_S = 50;

t.test('the token bucket admits a burst, then perSecond a second', async (t) => {
  // [ms since start, admitted?]: a clock the test controls, so no timing is asserted.
  const cases: { name: string; perSecond: number; steps: [number, boolean][] }[] = [
    { name: 'a full bucket lets a burst of perSecond through, then refuses', perSecond: 3, steps: [[0, true], [0, true], [0, true], [0, false]] },
    { name: 'one token comes back every 1/perSecond s', perSecond: 2, steps: [[0, true], [0, true], [0, false], [499, false], [500, true], [500, false], [1000, true]] },
    { name: 'the bucket never holds more than perSecond', perSecond: 2, steps: [[0, true], [0, true], [60_000, true], [60_000, true], [60_000, false]] },
  ];
  for (const c of cases) {
    let clock = 0;
    const a = createAdmission({ perSecond: c.perSecond }, () => clock);
    const got = c.steps.map(([at]) => { clock = at; return a.tryAdmit(); });
    t.same(got, c.steps.map(([, ok]) => ok), c.name);
  }
  const a = createAdmission({ perSecond: 1, maxRetryAfterS: 5 });
  const seen = new Set(Array.from({ length: 500 }, () => a.retryAfterS()));
  t.ok([...seen].every((s) => Number.isInteger(s) && s >= 1 && s <= 5), 'Retry-After is 1..5 s');
  t.ok(seen.size > 1, 'Retry-After is jittered');
});

async function metric(httpUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

t.test(`${STORM} terminals reconnecting at once are admitted at a bounded rate`, async (t) => {
  const th = await startTestHub(t, { LINTEL_ADMIT_PER_S: String(ADMIT_PER_S) });
  const p = await provisionSite(th);
  await th.admin.run('createPerson', { org: p.org, externalId: 'E-1' });
  await th.admin.run('addCredential', { org: p.org, person: 'E-1', cred: 'card-1' });
  await th.admin.run('createGroup', { org: p.org, name: 'all' });
  await th.admin.run('addGroupMember', { org: p.org, group: 'all', person: 'E-1' });
  await th.admin.run('addGroupDoor', { org: p.org, group: 'all', site: p.site, door: 'D1' });
  await th.admin.run('addGroupWindow', { org: p.org, group: 'all', days: [1, 2, 3, 4, 5, 6, 7], startMin: 0, endMin: 1440 });
  const bulk = await th.admin.run<{ devices: { id: string; token: string }[] }>('bulkProvision', {
    org: p.org, site: 'storm', tz: 'UTC', doors: ['S1'], devices: Array.from({ length: STORM }, (_, i) => `storm-${i}`),
  });
  await settle(th);
  t.equal(bulk.devices.length, STORM, `${STORM} devices provisioned`);

  // The terminal connected before the storm asks for its door all through it.
  const door = th.terminal(p.token);
  await door.connect();
  t.equal((await door.auth('card-1', 'D1')).ok, true, 'granted before the storm');
  let stormOver = false;
  let answered = 0;
  let asked = 0;
  const doorLoop = (async () => {
    while (!stormOver) {
      asked++;
      const res = await door.auth('card-1', 'D1');
      if (res.ok) answered++; // granted, as before the storm
      await sleep(5);
    }
  })();

  const before = await metric(th.httpUrl, 'lintel_terminal_connections_total', '{outcome="saturated"}');
  const started = performance.now();
  const terms: Terminal[] = bulk.devices.map((d) => th.terminal(d.token, { reconnect: true, backoffMinMs: 200, backoffMaxMs: 2000 }));
  const first = await Promise.allSettled(terms.map((x) => x.connect()));
  const refusedFirst = first.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as { status?: number; retryAfter?: string });
  t.ok(refusedFirst.length > 0, `some of the first attempts were refused (${refusedFirst.length} of ${STORM})`);
  t.ok(refusedFirst.length < STORM, 'and some admitted');
  t.ok(refusedFirst.every((e) => e.status === 503), 'every refusal is a 503');
  t.ok(refusedFirst.every((e) => /^[1-5]$/.test(String(e.retryAfter))), 'with Retry-After of 1..5 s');

  const deadline = Date.now() + 120_000; // hang detector only
  while (terms.some((x) => !x.connected) && Date.now() < deadline) await sleep(100);
  const admittedAllMs = performance.now() - started;
  t.equal(terms.filter((x) => x.connected).length, STORM, `all ${STORM} terminals are connected in the end`);

  stormOver = true;
  await doorLoop;
  t.equal(answered, asked, `every auth of the terminal connected before the storm was answered (${answered})`);
  t.ok(answered > 0, 'the door terminal asked during the storm');

  const saturated = (await metric(th.httpUrl, 'lintel_terminal_connections_total', '{outcome="saturated"}')) - before;
  const refusedClient = terms.reduce((n, x) => n + (x.stats.refused['503'] ?? 0), 0);
  t.ok(saturated >= refusedFirst.length, `refusals are counted in lintel_terminal_connections_total{outcome="saturated"} (${saturated})`);
  t.equal(refusedClient, saturated, 'the terminals saw each of them as a 503 refusal');
  t.same(terms.flatMap((x) => Object.keys(x.stats.refused)), terms.flatMap((x) => (x.stats.refused['503'] ? ['503'] : [])), 'and no other refusal');
  t.same(terms.flatMap((x) => x.stats.closes), [], 'no session of theirs was closed: a refusal is not a close');
  t.same(terms.flatMap((x) => x.stats.errors), [], 'no terminal got an error frame');
  for (const outcome of ['no_token', 'bad_token', 'disabled', 'draining']) {
    t.equal(await metric(th.httpUrl, 'lintel_terminal_connections_total', `{outcome="${outcome}"}`), 0, `no ${outcome} refusal`);
  }
  const decisions = await metric(th.httpUrl, 'lintel_access_decision_seconds_count');
  t.ok(decisions >= answered, `the hub's decision histogram counts them (${decisions})`);
  t.comment(JSON.stringify({ storm: STORM, admitPerS: ADMIT_PER_S, admittedAllMs: Math.round(admittedAllMs), refusals: saturated, refusedFirstAttempt: refusedFirst.length, authsAnswered: answered }));

  // Established sessions are not held by the bucket: the whole crowd stays connected and usable.
  const pongs = await Promise.all(terms.slice(0, 50).map((x) => x.ping()));
  t.equal(pongs.length, 50, 'admitted terminals are served');
});

t.test('a device that has a session is let in past an empty bucket', async (t) => {
  const th = await startTestHub(t, { LINTEL_ADMIT_PER_S: '1' });
  const p = await provisionSite(th);
  const other = await th.admin.run<{ token: string }>('createDevice', { org: p.org, site: p.site, name: 'other', doors: ['D1'] });
  await settle(th);
  const held = th.terminal(p.token);
  await held.connect();
  // Empty the bucket: the other device is refused once no token is left.
  let refusal: { status?: number } | undefined;
  for (let i = 0; i < 10 && !refusal; i++) {
    const x = th.terminal(other.token);
    try { await x.connect(); await x.close(); } catch (err) { refusal = err as { status?: number }; }
  }
  t.equal(refusal?.status, 503, 'a new session is refused once the bucket is empty');
  const replaced = held.closed();
  const again = th.terminal(p.token);
  const welcome = await again.connect();
  t.ok(welcome, 'the device that had a session is admitted anyway');
  t.equal(await replaced, 4001, 'and its older session is replaced');
});
