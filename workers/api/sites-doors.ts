// The organization itself, its sites and their doors.
import { audit, decodeCursor, db, one, page, stateVersion, unique, type Scope } from './common.js';

const SITE = 'id, name, tz, created_at';
const DOOR = 'd.id, d.site_id, d.code, d.name, d.open_ms, d.locked_down, d.created_at';

export async function getOrganization(a: { orgId: string }) {
  return one(db()`SELECT id, name, created_at FROM organizations WHERE id = ${a.orgId}`, 'organization');
}

export async function updateOrganization(a: Scope & { name: string }) {
  return db().begin(async (tx) => {
    const before = await one(tx`SELECT id, name FROM organizations WHERE id = ${a.orgId} FOR UPDATE`, 'organization');
    const after = await unique(one(tx`UPDATE organizations SET name = ${a.name} WHERE id = ${a.orgId} RETURNING id, name, created_at`, 'organization'), `organization ${a.name}`);
    await audit(tx, a, 'organization.update', 'organization', a.orgId, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

export async function listSites(a: { orgId: string; limit: number; cursor?: string }) {
  const after = decodeCursor(a.cursor, 1)?.[0] as string | undefined;
  const rows = await db().unsafe(
    `SELECT ${SITE} FROM sites WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [a.orgId, after ?? null, a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function getSite(a: { orgId: string; id: string }) {
  return one(db().unsafe(`SELECT ${SITE} FROM sites WHERE org_id = $1 AND id = $2`, [a.orgId, a.id]), 'site');
}

export async function createSite(a: Scope & { name: string; tz: string }) {
  return db().begin(async (tx) => {
    const site = await unique(one(tx.unsafe(`INSERT INTO sites (org_id, name, tz) VALUES ($1, $2, $3) RETURNING ${SITE}`, [a.orgId, a.name, a.tz]), 'site'), `site ${a.name}`);
    await audit(tx, a, 'site.create', 'site', site.id, null, site);
    return { value: site, version: await stateVersion(tx) };
  });
}

export async function updateSite(a: Scope & { id: string; name?: string; tz?: string }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${SITE} FROM sites WHERE org_id = $1 AND id = $2 FOR UPDATE`, [a.orgId, a.id]), 'site');
    const after = await unique(one(tx.unsafe(
      `UPDATE sites SET name = coalesce($3, name), tz = coalesce($4, tz) WHERE org_id = $1 AND id = $2 RETURNING ${SITE}`,
      [a.orgId, a.id, a.name ?? null, a.tz ?? null],
    ), 'site'), `site ${a.name}`);
    await audit(tx, a, 'site.update', 'site', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}

export async function listDoors(a: { orgId: string; site?: string; limit: number; cursor?: string }) {
  const after = decodeCursor(a.cursor, 1)?.[0] as string | undefined;
  const rows = await db().unsafe(
    `SELECT ${DOOR} FROM doors d JOIN sites s ON s.id = d.site_id
     WHERE s.org_id = $1 AND ($2::uuid IS NULL OR d.site_id = $2) AND ($3::uuid IS NULL OR d.id > $3)
     ORDER BY d.id LIMIT $4`,
    [a.orgId, a.site ?? null, after ?? null, a.limit + 1],
  );
  return page(rows, a.limit, (r) => [r.id]);
}

export async function getDoor(a: { orgId: string; id: string }) {
  return one(db().unsafe(`SELECT ${DOOR} FROM doors d JOIN sites s ON s.id = d.site_id WHERE s.org_id = $1 AND d.id = $2`, [a.orgId, a.id]), 'door');
}

export async function createDoor(a: Scope & { siteId: string; code: string; name?: string; openMs?: number }) {
  return db().begin(async (tx) => {
    await one(tx`SELECT id FROM sites WHERE org_id = ${a.orgId} AND id = ${a.siteId}`, 'site');
    const door = await unique(one(tx.unsafe(
      `INSERT INTO doors AS d (site_id, code, name, open_ms) VALUES ($1, $2, $3, $4) RETURNING ${DOOR}`,
      [a.siteId, a.code, a.name ?? a.code, a.openMs ?? 5000],
    ), 'door'), `door ${a.code}`);
    await audit(tx, a, 'door.create', 'door', door.id, null, door);
    return { value: door, version: await stateVersion(tx) };
  });
}

export async function updateDoor(a: Scope & { id: string; name?: string; openMs?: number; lockedDown?: boolean }) {
  return db().begin(async (tx) => {
    const before = await one(tx.unsafe(`SELECT ${DOOR} FROM doors d JOIN sites s ON s.id = d.site_id WHERE s.org_id = $1 AND d.id = $2 FOR UPDATE OF d`, [a.orgId, a.id]), 'door');
    const after = await one(tx.unsafe(
      `UPDATE doors AS d SET name = coalesce($2, name), open_ms = coalesce($3, open_ms), locked_down = coalesce($4, locked_down)
       WHERE d.id = $1 RETURNING ${DOOR}`,
      [a.id, a.name ?? null, a.openMs ?? null, a.lockedDown ?? null],
    ), 'door');
    await audit(tx, a, 'door.update', 'door', a.id, before, after);
    return { value: after, version: await stateVersion(tx) };
  });
}
