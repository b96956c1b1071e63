// The access engine: in-memory indexes built from a snapshot of the store, and the decision for
// an `auth` request made from them alone (PROTOCOL section 5). A reload builds new indexes and
// swaps them in one assignment, so a decision never sees half of a change.
import { credentialHasher } from '../protocol/credential-hash.js';
import type { AccessReason } from '../protocol/frames.js';
import type { AccessSnapshot } from '../protocol/tasks.js';
import { localWeekMinute } from './local-time.js';

export interface DoorEntry { id: string; siteId: string; code: string; openMs: number; lockedDown: boolean }
export interface DeviceEntry {
  id: string; name: string; orgId: string; siteId: string; siteTz: string; tokenHash: string; enabled: boolean;
  doors: Map<string, DoorEntry>; // by code
}
interface PersonEntry { id: string; externalId: string; status: string; validFrom: number | null; validUntil: number | null; groups: GroupEntry[] }
interface CredentialEntry { id: string; personId: string; status: string; validFrom: number | null; validUntil: number | null }
interface GroupEntry { id: string; name: string; rule: string; doors: Set<string>; windows: [number, number, number][] } // rule: `group:<name>`, built once

export interface ApiKeyEntry { id: string; orgId: string; name: string; role: 'admin' | 'operator' | 'viewer' }

interface Indexes {
  version: number;
  apiKeys: Map<string, ApiKeyEntry>; // by sha256 of the key
  doors: Map<string, DoorEntry>;
  sites: Map<string, { id: string; orgId: string; tz: string }>;
  devicesByToken: Map<string, DeviceEntry>;
  devicesById: Map<string, DeviceEntry>;
  credentials: Map<string, Map<string, CredentialEntry>>; // orgId -> credHash -> entry (no string built per decision)
  people: Map<string, PersonEntry>;
}

export interface Decision {
  ok: boolean;
  reason: AccessReason;
  credHash: string;
  personId: string | null;
  personExternalId: string | null;
  door: DoorEntry | null;
  rule: string | null;
}

export function buildIndexes(s: AccessSnapshot): Indexes {
  const sites = new Map(s.sites.map((x) => [x.id, x]));
  const doors = new Map(s.doors.map((d) => [d.id, { id: d.id, siteId: d.siteId, code: d.code, openMs: d.openMs, lockedDown: d.lockedDown }]));
  const devicesByToken = new Map<string, DeviceEntry>();
  const devicesById = new Map<string, DeviceEntry>();
  for (const d of s.devices) {
    const site = sites.get(d.siteId);
    if (!site) continue;
    const entry: DeviceEntry = {
      id: d.id, name: d.name, orgId: site.orgId, siteId: d.siteId, siteTz: site.tz, tokenHash: d.tokenHash, enabled: d.enabled,
      doors: new Map(d.doorIds.flatMap((id) => (doors.has(id) ? [[doors.get(id)!.code, doors.get(id)!]] : []))),
    };
    devicesByToken.set(d.tokenHash, entry);
    devicesById.set(d.id, entry);
  }
  const people = new Map<string, PersonEntry>(
    s.people.map((p) => [p.id, { id: p.id, externalId: p.externalId, status: p.status, validFrom: p.validFrom, validUntil: p.validUntil, groups: [] }]),
  );
  for (const g of s.groups) {
    const entry: GroupEntry = { id: g.id, name: g.name, rule: `group:${g.name}`, doors: new Set(g.doors), windows: g.windows };
    for (const m of g.members) people.get(m)?.groups.push(entry);
  }
  const credentials = new Map<string, Map<string, CredentialEntry>>();
  for (const c of s.credentials) {
    let org = credentials.get(c.orgId);
    if (!org) credentials.set(c.orgId, (org = new Map()));
    org.set(c.credHash, { id: c.id, personId: c.personId, status: c.status, validFrom: c.validFrom, validUntil: c.validUntil });
  }
  const apiKeys = new Map(s.apiKeys.map((k) => [k.keyHash, { id: k.id, orgId: k.orgId, name: k.name, role: k.role }]));
  return { version: s.version, devicesByToken, devicesById, credentials, people, apiKeys, doors, sites: new Map(s.sites.map((x) => [x.id, { id: x.id, orgId: x.orgId, tz: x.tz }])) };
}

const EMPTY: Indexes = {
  version: 0, devicesByToken: new Map(), devicesById: new Map(), credentials: new Map(), people: new Map(), apiKeys: new Map(), doors: new Map(), sites: new Map(),
};

function validity(from: number | null, until: number | null, now: number): AccessReason | null {
  if (from !== null && now < from) return 'not_yet_valid';
  if (until !== null && now >= until) return 'expired';
  return null;
}

// A module-level function, not a closure made per decision: besides the allocation, tsx (esbuild
// with keepNames) wraps every named closure in a defineProperty call, which cost as much as the
// rest of decide() in a burst's profile.
function outcome(credHash: string, door: DoorEntry | null, reason: AccessReason, person: PersonEntry | null, rule: string): Decision {
  return { ok: reason === 'granted', reason, credHash, personId: person?.id ?? null, personExternalId: person?.externalId ?? null, door, rule };
}

function inSchedule(windows: [number, number, number][], tz: string, now: number): boolean {
  if (windows.length === 0) return true; // a group without windows grants at any time
  const { dow, minute } = localWeekMinute(tz, now);
  for (const [d, start, end] of windows) if (d === dow && minute >= start && minute < end) return true;
  return false;
}

export function createAccessEngine(opts: { credentialKey: string }) {
  const key = Buffer.from(opts.credentialKey, 'hex');
  let idx = EMPTY;

  // Remembers recent credentials' HMACs: a decision then costs no HMAC (protocol/credential-hash.ts).
  const hashCredential = credentialHasher(key);

  function decide(device: DeviceEntry, cred: string, doorCode: string, now: number): Decision {
    const credHash = hashCredential(cred);
    const door = device.doors.get(doorCode) ?? null;
    const c = idx.credentials.get(device.orgId)?.get(credHash);
    const person = c ? idx.people.get(c.personId) : undefined;
    // Every outcome names its rule: it is recorded with the access event (PROTOCOL section 5).
    if (!c || !person) return outcome(credHash, door, 'unknown_credential', null, 'credential_lookup');
    if (c.status !== 'active') return outcome(credHash, door, 'credential_revoked', person, 'credential_status');
    const credValidity = validity(c.validFrom, c.validUntil, now);
    if (credValidity) return outcome(credHash, door, credValidity, person, 'credential_validity');
    if (person.status !== 'active') return outcome(credHash, door, 'person_suspended', person, 'person_status');
    const personValidity = validity(person.validFrom, person.validUntil, now);
    if (personValidity) return outcome(credHash, door, personValidity, person, 'person_validity');
    if (!door) return outcome(credHash, door, 'no_access_to_door', person, 'door_not_driven_by_device');
    if (door.lockedDown) return outcome(credHash, door, 'door_locked_down', person, 'lockdown');
    let doorGranted = false;
    for (const g of person.groups) {
      if (!g.doors.has(door.id)) continue;
      doorGranted = true;
      if (inSchedule(g.windows, device.siteTz, now)) return outcome(credHash, door, 'granted', person, g.rule);
    }
    return doorGranted ? outcome(credHash, door, 'outside_schedule', person, 'schedule') : outcome(credHash, door, 'no_access_to_door', person, 'no_group');
  }

  return {
    decide,
    hashCredential,
    load(snapshot: AccessSnapshot) {
      idx = buildIndexes(snapshot);
    },
    get version() {
      return idx.version;
    },
    deviceByTokenHash: (h: string) => idx.devicesByToken.get(h),
    deviceById: (id: string) => idx.devicesById.get(id),
    apiKeyByHash: (h: string) => idx.apiKeys.get(h),
    door: (id: string) => idx.doors.get(id),
    site: (id: string) => idx.sites.get(id),
    /** Devices that drive a door (the ones a command for it can go to). */
    devicesForDoor(doorId: string): DeviceEntry[] {
      const out: DeviceEntry[] = [];
      for (const d of idx.devicesById.values()) for (const door of d.doors.values()) if (door.id === doorId) out.push(d);
      return out;
    },
    doorsOfSite(siteId: string): DoorEntry[] {
      return [...idx.doors.values()].filter((d) => d.siteId === siteId);
    },
  };
}

export type AccessEngine = ReturnType<typeof createAccessEngine>;
