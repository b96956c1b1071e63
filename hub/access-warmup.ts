// The decision path compiled before the first door asks. A freshly started hub runs decide() in
// V8's interpreter until it has been called a few thousand times; measured here, a first-sight
// decision then takes 17 µs at p99 instead of under 5 once optimized (bench/decision.ts). A hub
// restarts exactly when it matters (after a crash, into a reconnect storm), so before it listens
// it runs the decision on a throwaway engine with a synthetic snapshot, through every outcome. V8
// optimizes code, not instances: the real engine gets the compiled decide() and a clean cache.
import { randomBytes, randomUUID } from 'node:crypto';
import { credentialHmac } from '../protocol/credential-hash.js';
import type { AccessSnapshot } from '../protocol/tasks.js';
import { createAccessEngine } from './access.js';

/**
 * One site (`tz`), one door, `people` people with one card each (`c0`, `c1`...) in one group that
 * may use the door inside `windows` (every day, all day by default). The first `people / 8` cards
 * are revoked when `mixed`, and as many people suspended, so every branch is taken.
 */
export function syntheticSnapshot(credentialKey: string, people: number, opts: { tz?: string; mixed?: boolean } = {}): { snapshot: AccessSnapshot; deviceId: string } {
  const key = Buffer.from(credentialKey, 'hex');
  const org = randomUUID();
  const site = randomUUID();
  const door = randomUUID();
  const deviceId = randomUUID();
  const odd = (i: number) => opts.mixed === true && i < people / 8;
  const persons = Array.from({ length: people }, (_, i) => ({
    id: randomUUID(), orgId: org, externalId: `p${i}`, status: odd(i) && i % 2 === 0 ? 'suspended' : 'active', validFrom: null, validUntil: null,
  }));
  const snapshot: AccessSnapshot = {
    version: 1,
    sites: [{ id: site, orgId: org, name: 'plant', tz: opts.tz ?? 'Europe/Berlin' }],
    doors: [{ id: door, siteId: site, code: 'D1', name: 'D1', openMs: 5000, lockedDown: false }],
    devices: [{ id: deviceId, siteId: site, name: 't0', tokenHash: 'x', enabled: true, doorIds: [door] }],
    people: persons,
    credentials: persons.map((p, i) => ({
      id: randomUUID(), orgId: org, personId: p.id, credHash: credentialHmac(key, `c${i}`, 'hex'),
      status: odd(i) && i % 2 === 1 ? 'revoked' : 'active', validFrom: null, validUntil: null,
    })),
    // The schedule check (site-local time) runs on every granted decision.
    groups: [{ id: randomUUID(), orgId: org, name: 'all', members: persons.map((p) => p.id), doors: [door], windows: [1, 2, 3, 4, 5, 6, 7].map((d) => [d, 0, 1440] as [number, number, number]) }],
    apiKeys: [],
  };
  return { snapshot, deviceId };
}

/** Runs `decisions` decisions on a throwaway engine (first sight, remembered, unknown, revoked, suspended, no door). */
export function warmUpDecisions(decisions = 20_000): Record<string, number> {
  const people = 512;
  const key = randomBytes(32).toString('hex');
  const { snapshot, deviceId } = syntheticSnapshot(key, people, { mixed: true });
  const engine = createAccessEngine({ credentialKey: key });
  engine.load(snapshot);
  const device = engine.deviceById(deviceId)!;
  const now = Date.now();
  const reasons: Record<string, number> = {};
  for (let j = 0; j < decisions; j++) {
    const cred = j % 5 === 4 ? `unknown-${j}` : `c${j % people}`;
    const d = engine.decide(device, cred, j % 17 === 16 ? 'no-such-door' : 'D1', now);
    reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
  }
  return reasons;
}
