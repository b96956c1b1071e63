// The access engine (hub/access.ts) without a server: a snapshot built by hand, loaded, and every
// decision reason of PROTOCOL section 5 that applies today checked at fixed instants. Expected
// schedule results are worked out by hand from the calendar (2026-12-07 is a Monday; the EU
// switches to summer time on 2026-03-29 and back on 2026-10-25, at 01:00 UTC).
import t from 'tap';
import { createAccessEngine, type AccessEngine } from '../../hub/access.js';
import { syntheticSnapshot, warmUpDecisions } from '../../hub/access-warmup.js';
import type { AccessReason } from '../../protocol/frames.js';
import type { AccessSnapshot } from '../../protocol/tasks.js';

const KEY = '7f'.repeat(32);
const MON_FRI: number[] = [1, 2, 3, 4, 5];
const hhmm = (h: number, m = 0) => h * 60 + m;
const at = (iso: string) => Date.parse(iso);
const windows = (days: number[], start: number, end: number): [number, number, number][] => days.map((d) => [d, start, end]);

// Validity bounds used by the people and credentials below.
const FROM = at('2026-06-01T00:00:00Z');
const UNTIL = at('2026-06-30T00:00:00Z');
const INSIDE_VALIDITY = at('2026-06-15T10:00:00Z'); // a Monday: 15:30 in Kolkata

function snapshot(engine: AccessEngine, changes: { revoke?: string[] } = {}): AccessSnapshot {
  const h = engine.hashCredential;
  const site = (id: string, orgId: string, tz: string) => ({ id, orgId, name: id, tz });
  const door = (id: string, siteId: string, code: string, extra: { openMs?: number; lockedDown?: boolean } = {}) =>
    ({ id, siteId, code, name: code, openMs: extra.openMs ?? 5000, lockedDown: extra.lockedDown ?? false });
  const device = (id: string, siteId: string, doorIds: string[]) => ({ id, siteId, name: id, tokenHash: `tok-${id}`, enabled: true, doorIds });
  const person = (id: string, orgId: string, extra: { status?: string; validFrom?: number; validUntil?: number } = {}) =>
    ({ id, orgId, externalId: `E-${id}`, status: extra.status ?? 'active', validFrom: extra.validFrom ?? null, validUntil: extra.validUntil ?? null });
  const cred = (cred: string, orgId: string, personId: string, extra: { status?: string; validFrom?: number; validUntil?: number } = {}) =>
    ({ id: `c-${cred}`, orgId, personId, credHash: h(cred), status: changes.revoke?.includes(cred) ? 'revoked' : (extra.status ?? 'active'),
       validFrom: extra.validFrom ?? null, validUntil: extra.validUntil ?? null });
  return {
    version: changes.revoke ? 2 : 1,
    sites: [site('s-kol', 'o1', 'Asia/Kolkata'), site('s-ber', 'o1', 'Europe/Berlin'), site('s-ny', 'o1', 'America/New_York'),
      site('s-utc', 'o1', 'UTC'), site('s-other', 'o2', 'UTC')],
    doors: [
      door('d-k1', 's-kol', 'K1', { openMs: 3000 }), door('d-k2', 's-kol', 'K2'), door('d-k3', 's-kol', 'K3', { lockedDown: true }),
      door('d-k4', 's-kol', 'K4'), door('d-kx', 's-kol', 'KX'), door('d-k5', 's-kol', 'K5'),
      door('d-b1', 's-ber', 'B1'), door('d-n1', 's-ny', 'N1'), door('d-u1', 's-utc', 'U1'), door('d-o1', 's-other', 'O1'),
    ],
    devices: [
      // KX is a door of the site that this reader does not drive.
      device('dev-kol', 's-kol', ['d-k1', 'd-k2', 'd-k3', 'd-k4', 'd-k5']),
      device('dev-ber', 's-ber', ['d-b1']), device('dev-ny', 's-ny', ['d-n1']), device('dev-utc', 's-utc', ['d-u1']),
      device('dev-other', 's-other', ['d-o1']),
    ],
    people: [
      person('alice', 'o1'), person('bob', 'o1'), person('sus', 'o1', { status: 'suspended' }),
      person('later', 'o1', { validFrom: FROM }), person('gone', 'o1', { validUntil: UNTIL }),
      person('window', 'o1', { validFrom: FROM, validUntil: UNTIL }), person('nogroup', 'o1'), person('olga', 'o2'),
    ],
    credentials: [
      cred('card-alice', 'o1', 'alice'), cred('card-revoked', 'o1', 'alice', { status: 'revoked' }),
      cred('card-later', 'o1', 'alice', { validFrom: FROM }), cred('card-gone', 'o1', 'alice', { validUntil: UNTIL }),
      cred('card-bob', 'o1', 'bob'), cred('card-sus', 'o1', 'sus'), cred('card-plater', 'o1', 'later'),
      cred('card-pgone', 'o1', 'gone'), cred('card-pwindow', 'o1', 'window'), cred('card-nogroup', 'o1', 'nogroup'),
      cred('card-olga', 'o2', 'olga'),
      // Validity on both the credential and the person: the credential is checked first.
      cred('card-both', 'o1', 'later', { validUntil: FROM - 1 }),
    ],
    groups: [
      // Kolkata office hours, also used at the UTC site (the window is always the device site's local time).
      { id: 'g-office', orgId: 'o1', name: 'office', members: ['alice', 'sus', 'later', 'gone', 'window'],
        doors: ['d-k1', 'd-k3', 'd-kx', 'd-u1', 'd-b1', 'd-n1'], windows: windows(MON_FRI, hhmm(8), hhmm(18)) },
      { id: 'g-anytime', orgId: 'o1', name: 'anytime', members: ['alice', 'later', 'gone', 'window'], doors: ['d-k2'], windows: [] },
      // Bob: the first group listed does not cover the instant, the second one does.
      { id: 'g-early', orgId: 'o1', name: 'early', members: ['bob'], doors: ['d-k5'], windows: windows(MON_FRI, hhmm(6), hhmm(8)) },
      { id: 'g-late', orgId: 'o1', name: 'late', members: ['bob'], doors: ['d-k5'], windows: windows(MON_FRI, hhmm(16), hhmm(22)) },
      // Berlin weekend mornings, across both DST changes; New York Saturday evenings.
      { id: 'g-weekend', orgId: 'o1', name: 'weekend', members: ['bob'], doors: ['d-b1'], windows: windows([6, 7], hhmm(7), hhmm(9)) },
      { id: 'g-saturday', orgId: 'o1', name: 'saturday', members: ['bob'], doors: ['d-n1'], windows: windows([6], hhmm(20), hhmm(23)) },
      { id: 'g-other', orgId: 'o2', name: 'other', members: ['olga'], doors: ['d-o1'], windows: [] },
    ],
    apiKeys: [],
  };
}

interface Case { why: string; device: string; cred: string; door: string; now: number; reason: AccessReason; rule: string; person?: string }

const cases: Case[] = [
  // Identity and status.
  { why: 'a member of a group without windows', device: 'dev-kol', cred: 'card-alice', door: 'K2', now: at('2026-12-06T21:00:00Z'), reason: 'granted', rule: 'group:anytime', person: 'E-alice' },
  { why: 'an unknown credential', device: 'dev-kol', cred: 'card-nobody', door: 'K2', now: at('2026-12-07T06:00:00Z'), reason: 'unknown_credential', rule: 'credential_lookup' },
  { why: "another organization's credential is unknown here", device: 'dev-kol', cred: 'card-olga', door: 'K2', now: at('2026-12-07T06:00:00Z'), reason: 'unknown_credential', rule: 'credential_lookup' },
  { why: 'and ours is unknown there', device: 'dev-other', cred: 'card-alice', door: 'O1', now: at('2026-12-07T06:00:00Z'), reason: 'unknown_credential', rule: 'credential_lookup' },
  { why: "olga's credential works at her own organization", device: 'dev-other', cred: 'card-olga', door: 'O1', now: at('2026-12-07T06:00:00Z'), reason: 'granted', rule: 'group:other', person: 'E-olga' },
  { why: 'a credential is matched exactly, not by prefix or case', device: 'dev-kol', cred: 'CARD-ALICE', door: 'K2', now: at('2026-12-07T06:00:00Z'), reason: 'unknown_credential', rule: 'credential_lookup' },
  { why: 'a revoked credential', device: 'dev-kol', cred: 'card-revoked', door: 'K2', now: at('2026-12-07T06:00:00Z'), reason: 'credential_revoked', rule: 'credential_status' },
  { why: 'a suspended person', device: 'dev-kol', cred: 'card-sus', door: 'K1', now: at('2026-12-07T06:00:00Z'), reason: 'person_suspended', rule: 'person_status' },
  // Validity: from is inclusive, until exclusive.
  { why: 'credential before valid_from', device: 'dev-kol', cred: 'card-later', door: 'K2', now: FROM - 1, reason: 'not_yet_valid', rule: 'credential_validity' },
  { why: 'credential at valid_from', device: 'dev-kol', cred: 'card-later', door: 'K2', now: FROM, reason: 'granted', rule: 'group:anytime', person: 'E-alice' },
  { why: 'credential just before valid_until', device: 'dev-kol', cred: 'card-gone', door: 'K2', now: UNTIL - 1, reason: 'granted', rule: 'group:anytime', person: 'E-alice' },
  { why: 'credential at valid_until', device: 'dev-kol', cred: 'card-gone', door: 'K2', now: UNTIL, reason: 'expired', rule: 'credential_validity' },
  { why: 'person before valid_from', device: 'dev-kol', cred: 'card-plater', door: 'K2', now: FROM - 1, reason: 'not_yet_valid', rule: 'person_validity' },
  { why: 'person at valid_from', device: 'dev-kol', cred: 'card-plater', door: 'K2', now: FROM, reason: 'granted', rule: 'group:anytime', person: 'E-later' },
  { why: 'person at valid_until', device: 'dev-kol', cred: 'card-pgone', door: 'K2', now: UNTIL, reason: 'expired', rule: 'person_validity' },
  { why: 'person just before valid_until', device: 'dev-kol', cred: 'card-pgone', door: 'K2', now: UNTIL - 1, reason: 'granted', rule: 'group:anytime', person: 'E-gone' },
  { why: 'person with both bounds, before', device: 'dev-kol', cred: 'card-pwindow', door: 'K2', now: FROM - 1, reason: 'not_yet_valid', rule: 'person_validity' },
  { why: 'person with both bounds, inside', device: 'dev-kol', cred: 'card-pwindow', door: 'K2', now: INSIDE_VALIDITY, reason: 'granted', rule: 'group:anytime', person: 'E-window' },
  { why: 'person with both bounds, after', device: 'dev-kol', cred: 'card-pwindow', door: 'K2', now: UNTIL, reason: 'expired', rule: 'person_validity' },
  { why: 'an expired credential of a person not yet valid: the credential decides', device: 'dev-kol', cred: 'card-both', door: 'K2', now: FROM - 1, reason: 'expired', rule: 'credential_validity' },
  // Doors.
  { why: 'a door in none of the person\'s groups', device: 'dev-kol', cred: 'card-alice', door: 'K4', now: at('2026-12-07T06:00:00Z'), reason: 'no_access_to_door', rule: 'no_group' },
  { why: 'a person in no group at all', device: 'dev-kol', cred: 'card-nogroup', door: 'K2', now: at('2026-12-07T06:00:00Z'), reason: 'no_access_to_door', rule: 'no_group' },
  { why: 'a door of the site, in the group, that this device does not drive', device: 'dev-kol', cred: 'card-alice', door: 'KX', now: at('2026-12-07T06:00:00Z'), reason: 'no_access_to_door', rule: 'door_not_driven_by_device' },
  { why: 'a door code that exists nowhere', device: 'dev-kol', cred: 'card-alice', door: 'NOPE', now: at('2026-12-07T06:00:00Z'), reason: 'no_access_to_door', rule: 'door_not_driven_by_device' },
  { why: 'a door of another site, by its code', device: 'dev-kol', cred: 'card-alice', door: 'U1', now: at('2026-12-07T06:00:00Z'), reason: 'no_access_to_door', rule: 'door_not_driven_by_device' },
  { why: 'a locked-down door, inside the schedule', device: 'dev-kol', cred: 'card-alice', door: 'K3', now: at('2026-12-07T06:00:00Z'), reason: 'door_locked_down', rule: 'lockdown' },
  // Mon-Fri 08:00-18:00 in Asia/Kolkata (UTC+5:30).
  { why: 'Kolkata Monday 07:59', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-07T02:29:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Kolkata Monday 07:59:59', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-07T02:29:59Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Kolkata Monday 08:00', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-07T02:30:00Z'), reason: 'granted', rule: 'group:office', person: 'E-alice' },
  { why: 'Kolkata Monday 17:59:59', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-07T12:29:59Z'), reason: 'granted', rule: 'group:office', person: 'E-alice' },
  { why: 'Kolkata Monday 18:00', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-07T12:30:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Kolkata Saturday 10:00', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-12T04:30:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Kolkata Friday 17:30 (Friday 12:00 UTC)', device: 'dev-kol', cred: 'card-alice', door: 'K1', now: at('2026-12-11T12:00:00Z'), reason: 'granted', rule: 'group:office', person: 'E-alice' },
  // The same group and instant at a UTC site: the window is read in that site's zone.
  { why: 'UTC site, Monday 02:30 UTC', device: 'dev-utc', cred: 'card-alice', door: 'U1', now: at('2026-12-07T02:30:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'UTC site, Monday 12:29:59 UTC', device: 'dev-utc', cred: 'card-alice', door: 'U1', now: at('2026-12-07T12:29:59Z'), reason: 'granted', rule: 'group:office', person: 'E-alice' },
  { why: 'UTC site, Monday 17:59 UTC', device: 'dev-utc', cred: 'card-alice', door: 'U1', now: at('2026-12-07T17:59:00Z'), reason: 'granted', rule: 'group:office', person: 'E-alice' },
  // Two groups for one door: early (06:00-08:00) is listed first, late (16:00-22:00) second.
  { why: 'bob at 07:00 Kolkata: the first group', device: 'dev-kol', cred: 'card-bob', door: 'K5', now: at('2026-12-07T01:30:00Z'), reason: 'granted', rule: 'group:early', person: 'E-bob' },
  { why: 'bob at 17:00 Kolkata: outside the first group, inside the second', device: 'dev-kol', cred: 'card-bob', door: 'K5', now: at('2026-12-07T11:30:00Z'), reason: 'granted', rule: 'group:late', person: 'E-bob' },
  { why: 'bob at 12:00 Kolkata: outside both', device: 'dev-kol', cred: 'card-bob', door: 'K5', now: at('2026-12-07T06:30:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'bob at 22:00 Kolkata: end is exclusive', device: 'dev-kol', cred: 'card-bob', door: 'K5', now: at('2026-12-07T16:30:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  // Europe/Berlin, Sat+Sun 07:00-09:00, across the spring change (2026-03-29, Sunday).
  { why: 'Berlin Saturday 06:59 CET', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-03-28T05:59:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Berlin Saturday 07:00 CET', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-03-28T06:00:00Z'), reason: 'granted', rule: 'group:weekend', person: 'E-bob' },
  { why: 'Berlin Sunday 06:59 CEST (05:59 if read as CET)', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-03-29T04:59:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Berlin Sunday 07:00 CEST (06:00 if read as CET)', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-03-29T05:00:00Z'), reason: 'granted', rule: 'group:weekend', person: 'E-bob' },
  { why: 'Berlin Sunday 08:59:59 CEST', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-03-29T06:59:59Z'), reason: 'granted', rule: 'group:weekend', person: 'E-bob' },
  { why: 'Berlin Sunday 09:00 CEST (08:00 if read as CET)', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-03-29T07:00:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  // ... and across the autumn change (2026-10-25, Sunday).
  { why: 'Berlin Saturday 07:00 CEST', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-10-24T05:00:00Z'), reason: 'granted', rule: 'group:weekend', person: 'E-bob' },
  { why: 'Berlin Saturday 09:00 CEST', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-10-24T07:00:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Berlin Sunday 06:59 CET (07:59 if read as CEST)', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-10-25T05:59:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'Berlin Sunday 07:00 CET', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-10-25T06:00:00Z'), reason: 'granted', rule: 'group:weekend', person: 'E-bob' },
  { why: 'Berlin Sunday 08:59 CET (09:59 if read as CEST)', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-10-25T07:59:00Z'), reason: 'granted', rule: 'group:weekend', person: 'E-bob' },
  { why: 'Berlin Monday 07:00 CET: weekend group only', device: 'dev-ber', cred: 'card-bob', door: 'B1', now: at('2026-10-26T06:00:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  // America/New_York, Saturday 20:00-23:00, when it is already Sunday in UTC.
  { why: 'New York Saturday 21:00 EST = Sunday 02:00 UTC', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-12-13T02:00:00Z'), reason: 'granted', rule: 'group:saturday', person: 'E-bob' },
  { why: 'New York Saturday 20:00 EST = Sunday 01:00 UTC', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-12-13T01:00:00Z'), reason: 'granted', rule: 'group:saturday', person: 'E-bob' },
  { why: 'New York Saturday 19:59 EST', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-12-13T00:59:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'New York Saturday 23:00 EST: end is exclusive', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-12-13T04:00:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'New York Sunday 21:00 EST', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-12-14T02:00:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  { why: 'New York Saturday 21:00 EDT = Sunday 01:00 UTC', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-07-12T01:00:00Z'), reason: 'granted', rule: 'group:saturday', person: 'E-bob' },
  { why: 'New York Saturday 23:30 EDT = Sunday 03:30 UTC', device: 'dev-ny', cred: 'card-bob', door: 'N1', now: at('2026-07-12T03:30:00Z'), reason: 'outside_schedule', rule: 'schedule' },
  // Office hours at New York and Berlin doors for alice (same group as Kolkata's K1).
  { why: 'alice in New York, Monday 08:00 EST = 13:00 UTC', device: 'dev-ny', cred: 'card-alice', door: 'N1', now: at('2026-12-07T13:00:00Z'), reason: 'granted', rule: 'group:office', person: 'E-alice' },
  { why: 'alice in New York, Monday 07:59 EST', device: 'dev-ny', cred: 'card-alice', door: 'N1', now: at('2026-12-07T12:59:00Z'), reason: 'outside_schedule', rule: 'schedule' },
];

t.test('decisions from a hand-built snapshot', async (t) => {
  const engine = createAccessEngine({ credentialKey: KEY });
  engine.load(snapshot(engine));
  t.equal(engine.version, 1);
  for (const c of cases) {
    const device = engine.deviceById(c.device);
    t.ok(device, `device ${c.device} is indexed`);
    if (!device) continue;
    const d = engine.decide(device, c.cred, c.door, c.now);
    const label = `${c.why} -> ${c.reason}`;
    t.equal(d.reason, c.reason, label);
    t.equal(d.ok, c.reason === 'granted', `${label}: ok`);
    t.equal(d.rule, c.rule, `${label}: rule`);
    if (c.reason === 'granted') {
      t.equal(d.personExternalId, c.person, `${label}: person is the external id`);
      t.equal(d.door?.code, c.door, `${label}: door`);
    }
    t.equal(d.credHash, engine.hashCredential(c.cred), `${label}: the decision carries the credential hash`);
  }
});

t.test('open_ms and door identity come from the door', async (t) => {
  const engine = createAccessEngine({ credentialKey: KEY });
  engine.load(snapshot(engine));
  const d = engine.decide(engine.deviceById('dev-kol')!, 'card-alice', 'K1', at('2026-12-07T06:00:00Z'));
  t.same({ ok: d.ok, personId: d.personId, doorId: d.door?.id, openMs: d.door?.openMs }, { ok: true, personId: 'alice', doorId: 'd-k1', openMs: 3000 });
});

t.test('a reload replaces the whole state at once', async (t) => {
  const engine = createAccessEngine({ credentialKey: KEY });
  engine.load(snapshot(engine));
  const now = at('2026-12-07T06:00:00Z');
  const device = engine.deviceById('dev-kol')!;
  t.equal(engine.decide(device, 'card-alice', 'K2', now).reason, 'granted');
  engine.load(snapshot(engine, { revoke: ['card-alice'] }));
  t.equal(engine.version, 2);
  t.equal(engine.decide(engine.deviceById('dev-kol')!, 'card-alice', 'K2', now).reason, 'credential_revoked');
  t.equal(engine.decide(engine.deviceById('dev-kol')!, 'card-bob', 'K5', at('2026-12-07T01:30:00Z')).reason, 'granted', 'others are untouched');
  t.equal(engine.deviceByTokenHash('tok-dev-kol')?.id, 'dev-kol');
  t.equal(engine.deviceByTokenHash('tok-nobody'), undefined);
});

t.test('the credential hash is a keyed HMAC', async (t) => {
  const a = createAccessEngine({ credentialKey: KEY });
  const b = createAccessEngine({ credentialKey: 'a0'.repeat(32) });
  t.match(a.hashCredential('card-alice'), /^[0-9a-f]{64}$/);
  t.equal(a.hashCredential('card-alice'), a.hashCredential('card-alice'));
  t.ok(a.hashCredential('card-alice') !== b.hashCredential('card-alice'), 'another key gives another hash');
  t.ok(a.hashCredential('card-alice') !== a.hashCredential('card-alicf'), 'another credential gives another hash');
  // A snapshot hashed with one key finds nothing in an engine keyed with another.
  b.load(snapshot(a));
  t.equal(b.decide(b.deviceById('dev-kol')!, 'card-alice', 'K2', at('2026-12-07T06:00:00Z')).reason, 'unknown_credential');
});

t.test('the start-up warm-up takes every branch of the decision, on an engine of its own', async (t) => {
  const reasons = warmUpDecisions(5000);
  for (const r of ['granted', 'unknown_credential', 'credential_revoked', 'person_suspended', 'no_access_to_door'] as AccessReason[]) {
    t.ok((reasons[r] ?? 0) > 0, `${r} decided ${reasons[r] ?? 0} times`);
  }
  t.equal(Object.values(reasons).reduce((a, b) => a + b, 0), 5000, 'every decision counted once');
});

t.test('the synthetic snapshot grants its cards through the engine with the same key', async (t) => {
  const { snapshot, deviceId } = syntheticSnapshot(KEY, 10);
  const e = createAccessEngine({ credentialKey: KEY });
  e.load(snapshot);
  const d = e.decide(e.deviceById(deviceId)!, 'c3', 'D1', at('2026-12-07T09:00:00Z'));
  t.match(d, { ok: true, reason: 'granted' });
  t.match(e.decide(e.deviceById(deviceId)!, 'c10', 'D1', at('2026-12-07T09:00:00Z')), { ok: false, reason: 'unknown_credential' });
});
