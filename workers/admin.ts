// Piscina task module for provisioning and changes to what the access engine reads: used by the
// operator CLI (and the operator API). Every change bumps the state version in the same
// transaction (a trigger), which tells every hub to reload; waitForHubs waits until they have.
import { createHash, randomBytes } from 'node:crypto';
import { workerData } from 'piscina';
import { credentialHmac } from '../protocol/credential-hash.js';
import { hhmm } from '../protocol/day-minutes.js';
import { LintelError } from '../protocol/errors.js';
import { connect, isUnavailable, type Sql } from './db.js';
import { migrate as runMigrations } from './migrate.js';
import { maintain } from './retention.js';

interface AdminSettings { databaseUrl: string; credentialKey: string; migrationsDir: string }
const settings = workerData as AdminSettings;
let sql: Sql | undefined;
const db = () => (sql ??= connect({ databaseUrl: settings.databaseUrl, poolSize: 2, applicationName: 'lintel-admin' }));
const credentialKey = () => Buffer.from(settings.credentialKey, 'hex');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (s: string) => UUID.test(s);

export const hashCredential = (cred: string) => credentialHmac(credentialKey(), cred);
const newToken = () => `ltd_${randomBytes(32).toString('base64url')}`;
const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();

async function one<T>(rows: Promise<T[]>, what: string): Promise<T> {
  const [row] = await rows;
  if (!row) throw new LintelError('LINTEL_ERR_STORE_NOT_FOUND', what);
  return row;
}

async function unique<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new LintelError('LINTEL_ERR_STORE_CONFLICT', what);
    throw err;
  }
}

// Name-or-id lookups, so operators can type names.
const orgId = (ref: string) =>
  one(isUuid(ref) ? db()<{ id: string }[]>`SELECT id FROM organizations WHERE id = ${ref}` : db()<{ id: string }[]>`SELECT id FROM organizations WHERE name = ${ref}`, `organization ${ref}`).then((r) => r.id);
// Every lookup is scoped by the organization: an id or name of another organization's site,
// door, device, person or group is not found.
const site = async (ref: string, org: string) =>
  isUuid(ref)
    ? one(db()<{ id: string; org_id: string }[]>`SELECT id, org_id FROM sites WHERE id = ${ref} AND org_id = ${org}`, `site ${ref}`)
    : one(db()<{ id: string; org_id: string }[]>`SELECT id, org_id FROM sites WHERE name = ${ref} AND org_id = ${org}`, `site ${ref}`);
const doorId = async (ref: string, siteRef: string | undefined, org: string) => {
  if (isUuid(ref)) return (await one(db()<{ id: string }[]>`SELECT d.id FROM doors d JOIN sites s ON s.id = d.site_id WHERE d.id = ${ref} AND s.org_id = ${org}`, `door ${ref}`)).id;
  if (!siteRef) throw new LintelError('LINTEL_ERR_CLI_USAGE', 'a door code needs --site');
  const s = await site(siteRef, org);
  return (await one(db()<{ id: string }[]>`SELECT id FROM doors WHERE site_id = ${s.id} AND code = ${ref}`, `door ${ref}`)).id;
};
const personId = async (ref: string, org: string) =>
  (await one(isUuid(ref) ? db()<{ id: string }[]>`SELECT id FROM people WHERE id = ${ref} AND org_id = ${org}` : db()<{ id: string }[]>`SELECT id FROM people WHERE external_id = ${ref} AND org_id = ${org}`, `person ${ref}`)).id;
const groupId = async (ref: string, org: string) =>
  (await one(isUuid(ref) ? db()<{ id: string }[]>`SELECT id FROM access_groups WHERE id = ${ref} AND org_id = ${org}` : db()<{ id: string }[]>`SELECT id FROM access_groups WHERE name = ${ref} AND org_id = ${org}`, `group ${ref}`)).id;
const deviceId = async (ref: string, siteRef: string | undefined, org: string) => {
  if (isUuid(ref)) return (await one(db()<{ id: string }[]>`SELECT d.id FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.id = ${ref} AND s.org_id = ${org}`, `device ${ref}`)).id;
  if (!siteRef) throw new LintelError('LINTEL_ERR_CLI_USAGE', 'a device name needs --site');
  const s = await site(siteRef, org);
  return (await one(db()<{ id: string }[]>`SELECT id FROM devices WHERE site_id = ${s.id} AND name = ${ref}`, `device ${ref}`)).id;
};

const ts = (v?: string | null) => (v ? new Date(v) : null);

export const ops = {
  async migrate() {
    return runMigrations(db(), new URL(settings.migrationsDir));
  },
  async createOrg(a: { name: string }) {
    return unique(one(db()`INSERT INTO organizations (name) VALUES (${a.name}) RETURNING id, name`, 'organization'), `organization ${a.name}`);
  },
  async createSite(a: { org: string; name: string; tz: string }) {
    const org = await orgId(a.org);
    return unique(one(db()`INSERT INTO sites (org_id, name, tz) VALUES (${org}, ${a.name}, ${a.tz}) RETURNING id, org_id, name, tz`, 'site'), `site ${a.name}`);
  },
  async createDoor(a: { site: string; org: string; code: string; name?: string; openMs?: number }) {
    const s = await site(a.site, await orgId(a.org));
    return unique(one(db()`INSERT INTO doors (site_id, code, name, open_ms) VALUES (${s.id}, ${a.code}, ${a.name ?? a.code}, ${a.openMs ?? 5000})
                           RETURNING id, site_id, code, name, open_ms`, 'door'), `door ${a.code}`);
  },
  async setDoorLockdown(a: { door: string; site?: string; org: string; lockedDown: boolean }) {
    const id = await doorId(a.door, a.site, await orgId(a.org));
    return one(db()`UPDATE doors SET locked_down = ${a.lockedDown} WHERE id = ${id} RETURNING id, code, locked_down`, 'door');
  },
  async createDevice(a: { site: string; org: string; name: string; doors?: string[] }) {
    const s = await site(a.site, await orgId(a.org));
    const token = newToken();
    return db().begin(async (tx) => {
      const [d] = await unique(tx`INSERT INTO devices (site_id, name, token_hash) VALUES (${s.id}, ${a.name}, ${hashToken(token)}) RETURNING id, site_id, name`, `device ${a.name}`);
      for (const code of a.doors ?? []) {
        const [door] = await tx`SELECT id FROM doors WHERE site_id = ${s.id} AND (code = ${code} OR id::text = ${code})`;
        if (!door) throw new LintelError('LINTEL_ERR_STORE_NOT_FOUND', `door ${code}`);
        await tx`INSERT INTO device_doors (device_id, door_id) VALUES (${d!.id}, ${door.id}) ON CONFLICT DO NOTHING`;
      }
      return { ...d, token };
    });
  },
  async rotateDeviceToken(a: { device: string; site?: string; org: string }) {
    const id = await deviceId(a.device, a.site, await orgId(a.org));
    const token = newToken();
    const d = await one(db()`UPDATE devices SET token_hash = ${hashToken(token)}, token_rotated_at = now() WHERE id = ${id} RETURNING id, name`, 'device');
    return { ...d, token };
  },
  async setDeviceEnabled(a: { device: string; site?: string; org: string; enabled: boolean }) {
    const id = await deviceId(a.device, a.site, await orgId(a.org));
    return one(db()`UPDATE devices SET enabled = ${a.enabled} WHERE id = ${id} RETURNING id, name, enabled`, 'device');
  },
  async createPerson(a: { org: string; externalId: string; name?: string; validFrom?: string; validUntil?: string }) {
    const org = await orgId(a.org);
    return unique(one(db()`INSERT INTO people (org_id, external_id, display_name, valid_from, valid_until)
                           VALUES (${org}, ${a.externalId}, ${a.name ?? null}, ${ts(a.validFrom)}, ${ts(a.validUntil)})
                           RETURNING id, external_id, status`, 'person'), `person ${a.externalId}`);
  },
  async updatePerson(a: { org: string; person: string; status?: 'active' | 'suspended'; validFrom?: string | null; validUntil?: string | null }) {
    const org = await orgId(a.org);
    const id = await personId(a.person, org);
    return one(db()`UPDATE people SET
        status = coalesce(${a.status ?? null}, status),
        valid_from = CASE WHEN ${a.validFrom !== undefined} THEN ${ts(a.validFrom)}::timestamptz ELSE valid_from END,
        valid_until = CASE WHEN ${a.validUntil !== undefined} THEN ${ts(a.validUntil)}::timestamptz ELSE valid_until END
      WHERE id = ${id} RETURNING id, external_id, status, valid_from, valid_until`, 'person');
  },
  async addCredential(a: { org: string; person: string; cred: string; kind?: string; validFrom?: string; validUntil?: string }) {
    const org = await orgId(a.org);
    const pid = await personId(a.person, org);
    return unique(one(db()`INSERT INTO credentials (org_id, person_id, kind, cred_hash, valid_from, valid_until)
                           VALUES (${org}, ${pid}, ${a.kind ?? 'card'}, ${hashCredential(a.cred)}, ${ts(a.validFrom)}, ${ts(a.validUntil)})
                           RETURNING id, person_id, kind, status`, 'credential'), 'credential already registered');
  },
  async revokeCredential(a: { org: string; cred: string }) {
    const org = await orgId(a.org);
    return one(db()`UPDATE credentials SET status = 'revoked' WHERE org_id = ${org} AND cred_hash = ${hashCredential(a.cred)}
                    RETURNING id, person_id, status`, 'credential');
  },
  async createGroup(a: { org: string; name: string }) {
    const org = await orgId(a.org);
    return unique(one(db()`INSERT INTO access_groups (org_id, name) VALUES (${org}, ${a.name}) RETURNING id, name`, 'group'), `group ${a.name}`);
  },
  async addGroupMember(a: { org: string; group: string; person: string }) {
    const org = await orgId(a.org);
    const [g, p] = await Promise.all([groupId(a.group, org), personId(a.person, org)]);
    await db()`INSERT INTO access_group_members (group_id, person_id) VALUES (${g}, ${p}) ON CONFLICT DO NOTHING`;
    return { group: g, person: p };
  },
  async addGroupDoor(a: { org: string; group: string; door: string; site?: string }) {
    const org = await orgId(a.org);
    const [g, d] = await Promise.all([groupId(a.group, org), doorId(a.door, a.site, org)]);
    await db()`INSERT INTO access_group_doors (group_id, door_id) VALUES (${g}, ${d}) ON CONFLICT DO NOTHING`;
    return { group: g, door: d };
  },
  async addGroupWindow(a: { org: string; group: string; days: number[]; startMin: number; endMin: number }) {
    const org = await orgId(a.org);
    const g = await groupId(a.group, org);
    return db().begin(async (tx) => {
      for (const dow of a.days) await tx`INSERT INTO access_group_schedules (group_id, dow, start_min, end_min) VALUES (${g}, ${dow}, ${a.startMin}, ${a.endMin})`;
      return { group: g, days: a.days, from: hhmm(a.startMin), to: hhmm(a.endMin) }; // as the API shows windows
    });
  },
  /**
   * Many devices, people and credentials in one transaction (one state change for the hubs to
   * load): fleets for simulators and backfills. Existing people and credentials are kept; each
   * named device gets a fresh token (tokens are never stored, so a rerun must rotate).
   */
  async bulkProvision(a: {
    org: string; site: string; tz: string; doors?: string[];
    devices?: string[]; people?: { externalId: string; creds: string[] }[]; group?: string;
  }) {
    return db().begin(async (tx) => {
      const [org] = await tx<{ id: string }[]>`INSERT INTO organizations (name) VALUES (${a.org})
        ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`;
      const [s] = await tx<{ id: string; tz: string }[]>`INSERT INTO sites (org_id, name, tz) VALUES (${org!.id}, ${a.site}, ${a.tz})
        ON CONFLICT (org_id, name) DO UPDATE SET name = excluded.name RETURNING id, tz`;
      if (s!.tz !== a.tz) throw new LintelError('LINTEL_ERR_STORE_CONFLICT', `site ${a.site} exists in zone ${s!.tz}`);
      const doorIds: string[] = [];
      for (const code of a.doors ?? []) {
        const [d] = await tx<{ id: string }[]>`INSERT INTO doors (site_id, code, name) VALUES (${s!.id}, ${code}, ${code})
          ON CONFLICT (site_id, code) DO UPDATE SET code = excluded.code RETURNING id`;
        doorIds.push(d!.id);
      }
      const devices: { id: string; name: string; token: string }[] = [];
      for (const name of a.devices ?? []) {
        const token = newToken();
        const [d] = await tx<{ id: string }[]>`INSERT INTO devices (site_id, name, token_hash) VALUES (${s!.id}, ${name}, ${hashToken(token)})
          ON CONFLICT (site_id, name) DO UPDATE SET token_hash = excluded.token_hash, token_rotated_at = now() RETURNING id`;
        for (const door of doorIds) await tx`INSERT INTO device_doors (device_id, door_id) VALUES (${d!.id}, ${door}) ON CONFLICT DO NOTHING`;
        devices.push({ id: d!.id, name, token });
      }
      const people = a.people ?? [];
      if (people.length) {
        await tx`INSERT INTO people ${tx(people.map((p) => ({ org_id: org!.id, external_id: p.externalId })))} ON CONFLICT (org_id, external_id) DO NOTHING`;
        const creds = people.flatMap((p) => p.creds.map((c) => ({ externalId: p.externalId, hash: hashCredential(c) })));
        for (let i = 0; i < creds.length; i += 1000) {
          const chunk = creds.slice(i, i + 1000);
          await tx`INSERT INTO credentials (org_id, person_id, cred_hash)
            SELECT ${org!.id}, p.id, decode(c.hash, 'hex') FROM people p
            JOIN unnest(${chunk.map((c) => c.externalId)}::text[], ${chunk.map((c) => c.hash.toString('hex'))}::text[]) AS c(ext, hash) ON p.external_id = c.ext
            WHERE p.org_id = ${org!.id}
            ON CONFLICT (org_id, cred_hash) DO NOTHING`;
        }
      }
      if (a.group) {
        const [g] = await tx<{ id: string }[]>`INSERT INTO access_groups (org_id, name) VALUES (${org!.id}, ${a.group})
          ON CONFLICT (org_id, name) DO UPDATE SET name = excluded.name RETURNING id`;
        for (const door of doorIds) await tx`INSERT INTO access_group_doors (group_id, door_id) VALUES (${g!.id}, ${door}) ON CONFLICT DO NOTHING`;
        if (people.length) {
          await tx`INSERT INTO access_group_members (group_id, person_id)
            SELECT ${g!.id}, id FROM people WHERE org_id = ${org!.id} AND external_id = ANY(${people.map((p) => p.externalId)}::text[])
            ON CONFLICT DO NOTHING`;
        }
      }
      return { orgId: org!.id, siteId: s!.id, doorIds, devices };
    });
  },
  /** An operator API key: shown once, stored as sha256. */
  async createApiKey(a: { org: string; name: string; role: 'admin' | 'operator' | 'viewer' }) {
    const org = await orgId(a.org);
    const key = `lk_${randomBytes(32).toString('base64url')}`;
    const row = await one(db()`INSERT INTO api_keys (org_id, name, role, key_hash) VALUES (${org}, ${a.name}, ${a.role}, ${hashToken(key)})
                               RETURNING id, org_id, name, role`, 'api key');
    return { ...row, key };
  },
  async revokeApiKey(a: { org: string; id: string }) {
    const org = await orgId(a.org);
    return one(db()`UPDATE api_keys SET revoked_at = now() WHERE org_id = ${org} AND id = ${a.id} AND revoked_at IS NULL RETURNING id, name, revoked_at`, 'api key');
  },
  /** The first tool or hub stores the key's fingerprint; a mismatch means another install's database. */
  async checkKeyFingerprint(a: { fingerprint: string }) {
    const [row] = await db()`INSERT INTO lintel_settings (name, value) VALUES ('credential_key_fingerprint', ${a.fingerprint})
                             ON CONFLICT (name) DO UPDATE SET value = lintel_settings.value RETURNING value`;
    return row?.value === a.fingerprint;
  },
  async listApiKeys(a: { org: string }) {
    const org = await orgId(a.org);
    return db()`SELECT id, name, role, created_at, revoked_at FROM api_keys WHERE org_id = ${org} ORDER BY created_at`;
  },
  async showRetention(a: { org: string }) {
    const org = await orgId(a.org);
    const [row] = await db()`SELECT events_days, quarantine_days, updated_at, actor AS updated_by FROM retention_policies WHERE org_id = ${org}`;
    return { org_id: org, events_days: null, quarantine_days: null, updated_at: null, updated_by: null, ...row };
  },
  async setRetention(a: { org: string; eventsDays: number; quarantineDays: number | null }) {
    const org = await orgId(a.org);
    return one(db()`INSERT INTO retention_policies (org_id, events_days, quarantine_days, actor) VALUES (${org}, ${a.eventsDays}, ${a.quarantineDays}, 'cli')
                    ON CONFLICT (org_id) DO UPDATE SET events_days = excluded.events_days, quarantine_days = excluded.quarantine_days,
                      actor = excluded.actor, updated_at = now()
                    RETURNING org_id, events_days, quarantine_days, updated_at`, 'retention policy');
  },
  /** Partitions ahead and every retention policy, now (what each hub runs every LINTEL_MAINTENANCE_INTERVAL_S). */
  async runRetention() {
    return maintain(db());
  },
  async stateVersion() {
    const [r] = await db()`SELECT v FROM state_version`;
    return Number(r?.v ?? 0);
  },
  /** Waits until every hub seen in the last 15 s decides on version `v` (or the timeout passes). */
  async waitForHubs(a: { version: number; timeoutMs: number }) {
    const deadline = Date.now() + a.timeoutMs;
    for (;;) {
      const behind = await db()<{ id: string }[]>`SELECT id FROM hub_instances
        WHERE seen_at > now() - interval '15 seconds' AND applied_version < ${a.version}`;
      if (behind.length === 0) return { behind: [] as string[] };
      if (Date.now() > deadline) return { behind: behind.map((h) => h.id) };
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  async query(a: { text: string; params?: unknown[] }) {
    return db().unsafe(a.text, (a.params ?? []) as never[]);
  },
  async close() {
    await sql?.end({ timeout: 2 });
    sql = undefined;
  },
};

export type AdminOp = keyof typeof ops;

export type AdminReply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** Piscina entry. Errors come back as data: a thread boundary keeps an Error's message, not its code. */
// Operations that change something: each is written to the audit log as the CLI's action.
const MUTATIONS = new Set<AdminOp>([
  'createOrg', 'createSite', 'createDoor', 'setDoorLockdown', 'createDevice', 'rotateDeviceToken', 'setDeviceEnabled',
  'createPerson', 'updatePerson', 'addCredential', 'revokeCredential', 'createGroup', 'addGroupMember', 'addGroupDoor',
  'addGroupWindow', 'createApiKey', 'revokeApiKey', 'bulkProvision', 'setRetention',
]);

async function auditCli(op: AdminOp, arg: Record<string, unknown>, value: unknown): Promise<void> {
  const v = (value ?? {}) as Record<string, unknown>;
  const org = op === 'createOrg' ? (v.id as string) : typeof arg.org === 'string' ? await orgId(arg.org) : null;
  if (!org) return;
  // Secrets shown once (device tokens, API keys) and credential identifiers never reach the log.
  const { token: _t, key: _k, devices, ...after } = v;
  const input = Object.fromEntries(Object.entries(arg).filter(([k]) => k !== 'cred' && k !== 'people'));
  await db()`INSERT INTO audit_log (org_id, actor, action, entity, entity_id, before, after)
             VALUES (${org}, 'cli', ${`cli.${op}`}, ${op.replace(/^(create|update|set|add|revoke|rotate|bulk)/, '').toLowerCase() || op},
                     ${typeof v.id === 'string' ? v.id : null}, null,
                     ${db().json({ input, result: { ...after, ...(Array.isArray(devices) ? { devices: devices.map((d: { id: string; name: string }) => ({ id: d.id, name: d.name })) } : {}) } } as never)})`;
}

export default async function admin({ op, arg }: { op: AdminOp; arg: never }): Promise<AdminReply> {
  try {
    const value = await ops[op](arg);
    if (MUTATIONS.has(op)) await auditCli(op, arg as Record<string, unknown>, value);
    return { ok: true, value };
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (isUnavailable(err)) {
      // postgres.js 3.4 may keep a dead connection after the server restarted: start afresh.
      const old = sql;
      sql = undefined;
      old?.end({ timeout: 0 }).catch(() => {});
    }
    return { ok: false, code: e.code ?? 'LINTEL_ERR_STORE_UNAVAILABLE', message: e.message };
  }
}
