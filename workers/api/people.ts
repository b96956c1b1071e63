// People, their credentials and access groups (members, doors, weekly windows) for the operator
// API. A credential's identifier arrives in clear and leaves this module only as its keyed HMAC.
import { credentialHmac } from '../../protocol/credential-hash.js';
import { hhmm } from '../../protocol/day-minutes.js';
import { LintelError } from '../../protocol/errors.js';
import { audit, decodeCursor, db, notFound, one, page, settings, stateVersion, unique, type Scope, type Tx } from './common.js';

const PERSON = 'p.id, p.external_id, p.display_name, p.status, p.valid_from, p.valid_until, p.created_at';
// The fingerprint (32 bits of a keyed hash) tells two cards apart on screen; it cannot be turned
// back into the identifier.
const CREDENTIAL = `c.id, c.person_id, c.kind, c.status, encode(substring(c.cred_hash from 1 for 4), 'hex') AS fingerprint,
  c.valid_from, c.valid_until, c.created_at`;
const GROUP = 'g.id, g.name, g.created_at';
const MEMBER = 'p.id, p.external_id, p.display_name, p.status';
/** Members shown inline by GET /v1/groups/{id}; the rest are paged by GET .../members. */
const INLINE_MEMBERS = 500;

type Q = Pick<Tx, 'unsafe'>;

const hashCredential = (cred: string) => credentialHmac(Buffer.from(settings.credentialKey, 'hex'), cred);

/** undefined keeps the stored value, null clears it. */
type Patch<T> = T | null | undefined;
const ts = (v: string | null | undefined) => (v == null ? null : new Date(v).toISOString());
const merged = (patch: Patch<string>, stored: unknown) => (patch === undefined ? (stored as Date | null) : ts(patch));

function checkValidity(from: Date | string | null, until: Date | string | null): void {
  if (from !== null && until !== null && new Date(from).getTime() >= new Date(until).getTime()) {
    throw Object.assign(new LintelError('LINTEL_ERR_API_VALIDATION', 'valid_until must be after valid_from'), {
      fields: [{ field: 'body.valid_until', problem: 'must be after valid_from' }],
    });
  }
}

const afterId = (cursor: string | undefined) => (decodeCursor(cursor, 1)?.[0] as string | undefined) ?? null;

// ---- people ------------------------------------------------------------------------------

export async function listPeople(a: { orgId: string; limit: number; cursor?: string; external_id?: string; status?: string }) {
  const rows = await db().unsafe(
    `SELECT ${PERSON} FROM people p
     WHERE p.org_id = $1 AND ($2::text IS NULL OR p.external_id = $2) AND ($3::text IS NULL OR p.status = $3) AND ($4::uuid IS NULL OR p.id > $4)
     ORDER BY p.id LIMIT $5`,
    [a.orgId, a.external_id ?? null, a.status ?? null, afterId(a.cursor), a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function getPerson(a: { orgId: string; id: string }) {
  return one(db().unsafe(`SELECT ${PERSON} FROM people p WHERE p.org_id = $1 AND p.id = $2`, [a.orgId, a.id]), 'person');
}

export async function createPerson(a: Scope & { externalId: string; displayName?: string | null; validFrom?: string | null; validUntil?: string | null }) {
  checkValidity(ts(a.validFrom), ts(a.validUntil));
  return db().begin(async (tx) => {
    const person = await unique(one(tx.unsafe(
      `INSERT INTO people AS p (org_id, external_id, display_name, valid_from, valid_until) VALUES ($1, $2, $3, $4, $5) RETURNING ${PERSON}`,
      [a.orgId, a.externalId, a.displayName ?? null, ts(a.validFrom), ts(a.validUntil)],
    ), 'person'), `person ${a.externalId}`);
    await audit(tx, a, 'person.create', 'person', person.id, null, person);
    return { value: person, version: await stateVersion(tx) };
  });
}

export async function updatePerson(a: Scope & { id: string; displayName?: Patch<string>; validFrom?: Patch<string>; validUntil?: Patch<string> }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${PERSON} FROM people p WHERE p.org_id = $1 AND p.id = $2 FOR UPDATE`, [a.orgId, a.id]), 'person');
    const from = merged(a.validFrom, before.valid_from);
    const until = merged(a.validUntil, before.valid_until);
    checkValidity(from, until);
    const after = await one(tx.unsafe(
      `UPDATE people AS p SET display_name = $3, valid_from = $4, valid_until = $5 WHERE p.org_id = $1 AND p.id = $2 RETURNING ${PERSON}`,
      [a.orgId, a.id, a.displayName === undefined ? before.display_name : a.displayName, from, until],
    ), 'person');
    await audit(tx, a, 'person.update', 'person', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

export async function setPersonStatus(a: Scope & { id: string; status: 'active' | 'suspended' }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${PERSON} FROM people p WHERE p.org_id = $1 AND p.id = $2 FOR UPDATE`, [a.orgId, a.id]), 'person');
    const after = await one(tx.unsafe(
      `UPDATE people AS p SET status = $3 WHERE p.org_id = $1 AND p.id = $2 RETURNING ${PERSON}`, [a.orgId, a.id, a.status],
    ), 'person');
    await audit(tx, a, a.status === 'suspended' ? 'person.suspend' : 'person.reinstate', 'person', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

// ---- credentials -------------------------------------------------------------------------

export async function listCredentials(a: { orgId: string; personId: string; limit: number; cursor?: string }) {
  await one(db()`SELECT id FROM people WHERE org_id = ${a.orgId} AND id = ${a.personId}`, 'person');
  const rows = await db().unsafe(
    `SELECT ${CREDENTIAL} FROM credentials c WHERE c.org_id = $1 AND c.person_id = $2 AND ($3::uuid IS NULL OR c.id > $3) ORDER BY c.id LIMIT $4`,
    [a.orgId, a.personId, afterId(a.cursor), a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function getCredential(a: { orgId: string; id: string }) {
  return one(db().unsafe(`SELECT ${CREDENTIAL} FROM credentials c WHERE c.org_id = $1 AND c.id = $2`, [a.orgId, a.id]), 'credential');
}

export async function addCredential(a: Scope & { personId: string; cred: string; kind?: string; validFrom?: string | null; validUntil?: string | null }) {
  checkValidity(ts(a.validFrom), ts(a.validUntil));
  return db().begin(async (tx) => {
    await one(tx`SELECT id FROM people WHERE org_id = ${a.orgId} AND id = ${a.personId} FOR SHARE`, 'person');
    const credential = await unique(one(tx.unsafe(
      `INSERT INTO credentials AS c (org_id, person_id, kind, cred_hash, valid_from, valid_until) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${CREDENTIAL}`,
      [a.orgId, a.personId, a.kind ?? 'card', hashCredential(a.cred), ts(a.validFrom), ts(a.validUntil)],
    ), 'credential'), 'credential already registered');
    await audit(tx, a, 'credential.create', 'credential', credential.id, null, credential);
    return { value: credential, version: await stateVersion(tx) };
  });
}

export async function updateCredential(a: Scope & { id: string; validFrom?: Patch<string>; validUntil?: Patch<string> }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${CREDENTIAL} FROM credentials c WHERE c.org_id = $1 AND c.id = $2 FOR UPDATE`, [a.orgId, a.id]), 'credential');
    const from = merged(a.validFrom, before.valid_from);
    const until = merged(a.validUntil, before.valid_until);
    checkValidity(from, until);
    const after = await one(tx.unsafe(
      `UPDATE credentials AS c SET valid_from = $3, valid_until = $4 WHERE c.org_id = $1 AND c.id = $2 RETURNING ${CREDENTIAL}`,
      [a.orgId, a.id, from, until],
    ), 'credential');
    await audit(tx, a, 'credential.update', 'credential', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

export async function revokeCredential(a: Scope & { id: string }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${CREDENTIAL} FROM credentials c WHERE c.org_id = $1 AND c.id = $2 FOR UPDATE`, [a.orgId, a.id]), 'credential');
    const after = await one(tx.unsafe(
      `UPDATE credentials AS c SET status = 'revoked' WHERE c.org_id = $1 AND c.id = $2 RETURNING ${CREDENTIAL}`, [a.orgId, a.id],
    ), 'credential');
    await audit(tx, a, 'credential.revoke', 'credential', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

export async function lookupCredential(a: { orgId: string; cred: string }) {
  const credential = await one(db().unsafe(
    `SELECT ${CREDENTIAL} FROM credentials c WHERE c.org_id = $1 AND c.cred_hash = $2`, [a.orgId, hashCredential(a.cred)],
  ), 'credential');
  const person = await one(db().unsafe(`SELECT ${PERSON} FROM people p WHERE p.org_id = $1 AND p.id = $2`, [a.orgId, credential.person_id]), 'person');
  return { credential, person };
}

// ---- access groups -----------------------------------------------------------------------

async function windowsOf(q: Q, groupId: string) {
  // One stored row per day; the API shows windows with the same hours as one entry.
  const rows = await q.unsafe(
    `SELECT array_agg(DISTINCT dow ORDER BY dow) AS days, start_min, end_min FROM access_group_schedules
     WHERE group_id = $1 GROUP BY start_min, end_min ORDER BY start_min, end_min`, [groupId],
  );
  return rows.map((r) => ({ days: (r.days as unknown[]).map(Number), from: hhmm(Number(r.start_min)), to: hhmm(Number(r.end_min)) }));
}

async function doorsOf(q: Q, groupId: string) {
  return q.unsafe(
    `SELECT d.id, d.site_id, d.code, d.name FROM access_group_doors gd JOIN doors d ON d.id = gd.door_id WHERE gd.group_id = $1 ORDER BY d.id`, [groupId],
  );
}

async function memberIds(q: Q, groupId: string): Promise<string[]> {
  const [r] = await q.unsafe(
    `SELECT coalesce(array_agg(person_id ORDER BY person_id), '{}') AS ids FROM access_group_members WHERE group_id = $1`, [groupId],
  );
  return (r?.ids ?? []) as string[];
}

async function groupDetail(q: Q, orgId: string, id: string, lock = false) {
  const group = await one(q.unsafe(`SELECT ${GROUP} FROM access_groups g WHERE g.org_id = $1 AND g.id = $2${lock ? ' FOR UPDATE' : ''}`, [orgId, id]), 'group');
  const [count] = await q.unsafe('SELECT count(*)::int AS n FROM access_group_members WHERE group_id = $1', [id]);
  const members = await q.unsafe(
    `SELECT ${MEMBER} FROM access_group_members m JOIN people p ON p.id = m.person_id WHERE m.group_id = $1 ORDER BY p.id LIMIT $2`,
    [id, INLINE_MEMBERS + 1],
  );
  const first = page(members, INLINE_MEMBERS, (r) => [r.id]);
  return {
    ...group, member_count: Number(count?.n ?? 0), members: first.items, members_next: first.next,
    doors: await doorsOf(q, id), windows: await windowsOf(q, id),
  };
}

export async function listGroups(a: { orgId: string; limit: number; cursor?: string }) {
  const rows = await db().unsafe(
    `SELECT ${GROUP} FROM access_groups g WHERE g.org_id = $1 AND ($2::uuid IS NULL OR g.id > $2) ORDER BY g.id LIMIT $3`,
    [a.orgId, afterId(a.cursor), a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function getGroup(a: { orgId: string; id: string }) {
  return db().begin('READ ONLY', (tx) => groupDetail(tx, a.orgId, a.id));
}

export async function listGroupMembers(a: { orgId: string; id: string; limit: number; cursor?: string }) {
  await one(db()`SELECT id FROM access_groups WHERE org_id = ${a.orgId} AND id = ${a.id}`, 'group');
  const rows = await db().unsafe(
    `SELECT ${MEMBER} FROM access_group_members m JOIN people p ON p.id = m.person_id
     WHERE m.group_id = $1 AND p.org_id = $2 AND ($3::uuid IS NULL OR p.id > $3) ORDER BY p.id LIMIT $4`,
    [a.id, a.orgId, afterId(a.cursor), a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function createGroup(a: Scope & { name: string }) {
  return db().begin(async (tx) => {
    const group = await unique(one(tx.unsafe(`INSERT INTO access_groups AS g (org_id, name) VALUES ($1, $2) RETURNING ${GROUP}`, [a.orgId, a.name]), 'group'), `group ${a.name}`);
    await audit(tx, a, 'group.create', 'group', group.id, null, group);
    return { value: await groupDetail(tx, a.orgId, group.id as string), version: await stateVersion(tx) };
  });
}

export async function updateGroup(a: Scope & { id: string; name: string }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${GROUP} FROM access_groups g WHERE g.org_id = $1 AND g.id = $2 FOR UPDATE`, [a.orgId, a.id]), 'group');
    const after = await unique(one(tx.unsafe(
      `UPDATE access_groups AS g SET name = $3 WHERE g.org_id = $1 AND g.id = $2 RETURNING ${GROUP}`, [a.orgId, a.id, a.name],
    ), 'group'), `group ${a.name}`);
    await audit(tx, a, 'group.update', 'group', a.id, before, after);
    return { value: await groupDetail(tx, a.orgId, a.id), version: await stateVersion(tx) };
  });
}

export async function deleteGroup(a: Scope & { id: string }) {
  return db().begin(async (tx) => {
    const group = await one(tx.unsafe(`SELECT ${GROUP} FROM access_groups g WHERE g.org_id = $1 AND g.id = $2 FOR UPDATE`, [a.orgId, a.id]), 'group');
    // The audit keeps everything the cascade removes, so the group could be rebuilt from it.
    const before = {
      ...group, members: await memberIds(tx, a.id),
      doors: (await doorsOf(tx, a.id)).map((d) => d.id), windows: await windowsOf(tx, a.id),
    };
    await tx`DELETE FROM access_groups WHERE org_id = ${a.orgId} AND id = ${a.id}`;
    await audit(tx, a, 'group.delete', 'group', a.id, before, null);
    return { value: before, version: await stateVersion(tx) };
  });
}

async function lockGroup(tx: Tx, orgId: string, id: string) {
  await one(tx`SELECT id FROM access_groups WHERE org_id = ${orgId} AND id = ${id} FOR UPDATE`, 'group');
}

export async function setGroupMembers(a: Scope & { id: string; personIds: string[] }) {
  const ids = [...new Set(a.personIds)];
  return db().begin(async (tx) => {
    await lockGroup(tx, a.orgId, a.id);
    const found = await tx<{ id: string }[]>`SELECT id FROM people WHERE org_id = ${a.orgId} AND id = ANY(${ids}::uuid[]) FOR SHARE`;
    const known = new Set(found.map((r) => r.id));
    const missing = ids.find((id) => !known.has(id));
    if (missing) notFound(`person ${missing}`);
    const before = await memberIds(tx, a.id);
    await tx`DELETE FROM access_group_members WHERE group_id = ${a.id} AND person_id <> ALL(${ids}::uuid[])`;
    await tx`INSERT INTO access_group_members (group_id, person_id) SELECT ${a.id}, unnest(${ids}::uuid[]) ON CONFLICT DO NOTHING`;
    await audit(tx, a, 'group.members.replace', 'group', a.id, { members: before }, { members: ids.sort() });
    return { value: await groupDetail(tx, a.orgId, a.id), version: await stateVersion(tx) };
  });
}

export async function addGroupMember(a: Scope & { id: string; personId: string }) {
  return db().begin(async (tx) => {
    await lockGroup(tx, a.orgId, a.id);
    await one(tx`SELECT id FROM people WHERE org_id = ${a.orgId} AND id = ${a.personId} FOR SHARE`, 'person');
    const added = await tx`INSERT INTO access_group_members (group_id, person_id) VALUES (${a.id}, ${a.personId}) ON CONFLICT DO NOTHING RETURNING person_id`;
    const membership = { group_id: a.id, person_id: a.personId };
    if (added.length) await audit(tx, a, 'group.members.add', 'group', a.id, null, membership);
    return { value: { ...membership, added: added.length > 0 }, version: await stateVersion(tx) };
  });
}

export async function removeGroupMember(a: Scope & { id: string; personId: string }) {
  return db().begin(async (tx) => {
    await lockGroup(tx, a.orgId, a.id);
    const removed = await tx`DELETE FROM access_group_members m USING people p
      WHERE m.group_id = ${a.id} AND m.person_id = ${a.personId} AND p.id = m.person_id AND p.org_id = ${a.orgId} RETURNING m.person_id`;
    if (!removed.length) notFound(`person ${a.personId} in group`);
    const membership = { group_id: a.id, person_id: a.personId };
    await audit(tx, a, 'group.members.remove', 'group', a.id, membership, null);
    return { value: membership, version: await stateVersion(tx) };
  });
}

export async function setGroupDoors(a: Scope & { id: string; doorIds: string[] }) {
  const ids = [...new Set(a.doorIds)];
  return db().begin(async (tx) => {
    await lockGroup(tx, a.orgId, a.id);
    const found = await tx<{ id: string }[]>`SELECT d.id FROM doors d JOIN sites s ON s.id = d.site_id
      WHERE s.org_id = ${a.orgId} AND d.id = ANY(${ids}::uuid[]) FOR SHARE OF d`;
    const known = new Set(found.map((r) => r.id));
    const missing = ids.find((id) => !known.has(id));
    if (missing) notFound(`door ${missing}`);
    const before = (await doorsOf(tx, a.id)).map((d) => d.id);
    await tx`DELETE FROM access_group_doors WHERE group_id = ${a.id} AND door_id <> ALL(${ids}::uuid[])`;
    await tx`INSERT INTO access_group_doors (group_id, door_id) SELECT ${a.id}, unnest(${ids}::uuid[]) ON CONFLICT DO NOTHING`;
    await audit(tx, a, 'group.doors.replace', 'group', a.id, { doors: before }, { doors: ids.sort() });
    return { value: await groupDetail(tx, a.orgId, a.id), version: await stateVersion(tx) };
  });
}

/** Windows in minutes of the site-local day; the route has checked start < end. */
export async function setGroupSchedule(a: Scope & { id: string; windows: { days: number[]; startMin: number; endMin: number }[] }) {
  const rows = new Map<string, { dow: number; start: number; end: number }>();
  for (const w of a.windows) for (const dow of w.days) rows.set(`${dow}:${w.startMin}:${w.endMin}`, { dow, start: w.startMin, end: w.endMin });
  const list = [...rows.values()];
  return db().begin(async (tx) => {
    await lockGroup(tx, a.orgId, a.id);
    const before = await windowsOf(tx, a.id);
    await tx`DELETE FROM access_group_schedules WHERE group_id = ${a.id}`;
    if (list.length) {
      await tx`INSERT INTO access_group_schedules (group_id, dow, start_min, end_min)
        SELECT ${a.id}, * FROM unnest(${list.map((r) => r.dow)}::smallint[], ${list.map((r) => r.start)}::smallint[], ${list.map((r) => r.end)}::smallint[])`;
    }
    const after = await windowsOf(tx, a.id);
    await audit(tx, a, 'group.schedule.replace', 'group', a.id, { windows: before }, { windows: after });
    return { value: await groupDetail(tx, a.orgId, a.id), version: await stateVersion(tx) };
  });
}
