// /v1/people, /v1/credentials and /v1/groups: who may open which door when. Every change goes
// through store.mutate, so the next terminal `auth` already decides on it.
import { minutesOf } from '../../../protocol/day-minutes.js';
import { ApiError, type Route } from '../router.js';
import { dateTime, name, nullableDateTime, object, pageOf, pageQuery, uuid } from '../schemas.js';
import type { ApiServices } from '../services.js';

const externalId = { type: 'string', minLength: 1, maxLength: 200, description: 'e.g. the time-clock PIN or an HR number' } as const;
const displayName = { type: ['string', 'null'], minLength: 1, maxLength: 200 } as const;
const status = { type: 'string', enum: ['active', 'suspended'] } as const;
const kind = { type: 'string', enum: ['card', 'pin', 'biometric', 'mobile'] } as const;
const cred = { type: 'string', minLength: 1, maxLength: 256, description: 'the identifier in clear (e.g. a card UID); stored only as a keyed hash, never returned' } as const;
const validity = { valid_from: nullableDateTime, valid_until: nullableDateTime };

const person = object({
  id: uuid, external_id: externalId, display_name: displayName, status, valid_from: nullableDateTime, valid_until: nullableDateTime, created_at: dateTime,
});
const credential = object({
  id: uuid, person_id: uuid, kind, status: { type: 'string', enum: ['active', 'revoked'] },
  fingerprint: { type: 'string', description: 'first 8 hex digits of the keyed hash: tells cards apart, reveals nothing' },
  valid_from: nullableDateTime, valid_until: nullableDateTime, created_at: dateTime,
});
const member = object({ id: uuid, external_id: externalId, display_name: displayName, status });
const hhmm = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' } as const;
const scheduleWindow = object({
  days: { type: 'array', minItems: 1, maxItems: 7, items: { type: 'integer', minimum: 1, maximum: 7 }, description: 'ISO days: 1 Monday .. 7 Sunday' },
  from: hhmm,
  to: { type: 'string', pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$', description: 'exclusive end; 24:00 is the end of the day' },
}, ['days', 'from', 'to']);
const group = object({ id: uuid, name, created_at: dateTime });
const groupDetail = object({
  id: uuid, name, created_at: dateTime, member_count: { type: 'integer' },
  members: { type: 'array', items: member, description: 'the first 500 members by id; members_next pages on with GET /v1/groups/{id}/members' },
  members_next: { type: ['string', 'null'] },
  doors: { type: 'array', items: object({ id: uuid, site_id: uuid, code: { type: 'string' }, name }) },
  windows: { type: 'array', items: scheduleWindow },
});
const uuidList = (max: number) => ({ type: 'array', maxItems: max, items: uuid });

/** HH:MM windows to minutes; a window must end after it starts on the same day. */
function scheduleOf(windows: { days: number[]; from: string; to: string }[]) {
  const fields = windows.flatMap((w, i) => (minutesOf(w.from) < minutesOf(w.to) ? [] : [
    { field: `body.windows.${i}.to`, problem: 'must be after from: a window cannot cross midnight, split it into two (to 24:00 and from 00:00)' },
  ]));
  if (fields.length) throw new ApiError('LINTEL_ERR_API_VALIDATION', undefined, fields);
  return windows.map((w) => ({ days: w.days, startMin: minutesOf(w.from), endMin: minutesOf(w.to) }));
}

export function peopleRoutes({ store }: ApiServices): Route[] {
  return [
    // ---- people
    {
      method: 'GET', path: '/v1/people', tag: 'people', role: 'viewer', summary: 'List people, optionally by external id or status',
      query: object({ ...pageQuery, external_id: externalId, status }), response: pageOf(person),
      handle: async ({ key, query }) => ({ body: await store.run('listPeople', { orgId: key.orgId, ...query }) }),
    },
    {
      method: 'POST', path: '/v1/people', tag: 'people', role: 'operator', summary: 'Create a person', status: 201,
      body: object({ external_id: externalId, display_name: displayName, ...validity }, ['external_id']), response: person,
      handle: async ({ key, actor, body }) => ({
        body: await store.mutate('createPerson', {
          orgId: key.orgId, actor, externalId: body.external_id, displayName: body.display_name, validFrom: body.valid_from, validUntil: body.valid_until,
        }),
      }),
    },
    {
      method: 'GET', path: '/v1/people/{id}', tag: 'people', role: 'viewer', summary: 'One person', response: person,
      handle: async ({ key, params }) => ({ body: await store.run('getPerson', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'PATCH', path: '/v1/people/{id}', tag: 'people', role: 'operator', summary: 'Change a person\'s name or validity (null clears)',
      body: { ...object({ display_name: displayName, ...validity }), minProperties: 1 }, response: person,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('updatePerson', {
          orgId: key.orgId, actor, id: params.id, displayName: body.display_name, validFrom: body.valid_from, validUntil: body.valid_until,
        }),
      }),
    },
    {
      method: 'POST', path: '/v1/people/{id}/suspend', tag: 'people', role: 'operator', summary: 'Suspend a person: every credential of theirs is denied', response: person,
      handle: async ({ key, actor, params }) => ({ body: await store.mutate('setPersonStatus', { orgId: key.orgId, actor, id: params.id, status: 'suspended' }) }),
    },
    {
      method: 'POST', path: '/v1/people/{id}/reinstate', tag: 'people', role: 'operator', summary: 'Reinstate a suspended person', response: person,
      handle: async ({ key, actor, params }) => ({ body: await store.mutate('setPersonStatus', { orgId: key.orgId, actor, id: params.id, status: 'active' }) }),
    },
    // ---- credentials
    {
      method: 'GET', path: '/v1/people/{id}/credentials', tag: 'credentials', role: 'viewer', summary: 'A person\'s credentials',
      query: object(pageQuery), response: pageOf(credential),
      handle: async ({ key, params, query }) => ({ body: await store.run('listCredentials', { orgId: key.orgId, personId: params.id, ...query }) }),
    },
    {
      method: 'POST', path: '/v1/people/{id}/credentials', tag: 'credentials', role: 'operator', status: 201,
      summary: 'Give a person a credential; the identifier is stored only as a keyed hash and never returned',
      body: object({ cred, kind, ...validity }, ['cred']), response: credential,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('addCredential', {
          orgId: key.orgId, actor, personId: params.id, cred: body.cred, kind: body.kind, validFrom: body.valid_from, validUntil: body.valid_until,
        }),
      }),
    },
    {
      method: 'POST', path: '/v1/credentials/lookup', tag: 'credentials', role: 'operator', summary: 'Find a credential and its holder by the identifier',
      body: object({ cred }, ['cred']), response: object({ credential, person }),
      handle: async ({ key, body }) => ({ body: await store.run('lookupCredential', { orgId: key.orgId, cred: body.cred }) }),
    },
    {
      method: 'GET', path: '/v1/credentials/{id}', tag: 'credentials', role: 'viewer', summary: 'One credential', response: credential,
      handle: async ({ key, params }) => ({ body: await store.run('getCredential', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'PATCH', path: '/v1/credentials/{id}', tag: 'credentials', role: 'operator', summary: 'Change a credential\'s validity (null clears)',
      body: { ...object(validity), minProperties: 1 }, response: credential,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('updateCredential', { orgId: key.orgId, actor, id: params.id, validFrom: body.valid_from, validUntil: body.valid_until }),
      }),
    },
    {
      method: 'POST', path: '/v1/credentials/{id}/revoke', tag: 'credentials', role: 'operator', summary: 'Revoke a credential (for good)', response: credential,
      handle: async ({ key, actor, params }) => ({ body: await store.mutate('revokeCredential', { orgId: key.orgId, actor, id: params.id }) }),
    },
    // ---- access groups
    {
      method: 'GET', path: '/v1/groups', tag: 'groups', role: 'viewer', summary: 'List access groups', query: object(pageQuery), response: pageOf(group),
      handle: async ({ key, query }) => ({ body: await store.run('listGroups', { orgId: key.orgId, ...query }) }),
    },
    {
      method: 'POST', path: '/v1/groups', tag: 'groups', role: 'admin', summary: 'Create an access group', status: 201,
      body: object({ name }, ['name']), response: groupDetail,
      handle: async ({ key, actor, body }) => ({ body: await store.mutate('createGroup', { orgId: key.orgId, actor, name: body.name }) }),
    },
    {
      method: 'GET', path: '/v1/groups/{id}', tag: 'groups', role: 'viewer', summary: 'An access group with its members, doors and weekly windows', response: groupDetail,
      handle: async ({ key, params }) => ({ body: await store.run('getGroup', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'PATCH', path: '/v1/groups/{id}', tag: 'groups', role: 'admin', summary: 'Rename an access group',
      body: object({ name }, ['name']), response: groupDetail,
      handle: async ({ key, actor, params, body }) => ({ body: await store.mutate('updateGroup', { orgId: key.orgId, actor, id: params.id, name: body.name }) }),
    },
    {
      method: 'DELETE', path: '/v1/groups/{id}', tag: 'groups', role: 'admin', summary: 'Delete an access group (its members keep their other groups)', status: 204,
      handle: async ({ key, actor, params }) => {
        await store.mutate('deleteGroup', { orgId: key.orgId, actor, id: params.id });
        return { body: undefined };
      },
    },
    {
      method: 'GET', path: '/v1/groups/{id}/members', tag: 'groups', role: 'viewer', summary: 'An access group\'s members, paged',
      query: object(pageQuery), response: pageOf(member),
      handle: async ({ key, params, query }) => ({ body: await store.run('listGroupMembers', { orgId: key.orgId, id: params.id, ...query }) }),
    },
    {
      method: 'PUT', path: '/v1/groups/{id}/members', tag: 'groups', role: 'admin', summary: 'Replace an access group\'s members',
      body: object({ person_ids: uuidList(1000) }, ['person_ids']), response: groupDetail,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('setGroupMembers', { orgId: key.orgId, actor, id: params.id, personIds: body.person_ids }),
      }),
    },
    {
      method: 'POST', path: '/v1/groups/{id}/members', tag: 'groups', role: 'admin', summary: 'Add one person to an access group (201 added, 200 already a member)',
      body: object({ person_id: uuid }, ['person_id']), response: object({ group_id: uuid, person_id: uuid, added: { type: 'boolean' } }), status: 201,
      handle: async ({ key, actor, params, body }) => {
        const r = await store.mutate<{ added: boolean }>('addGroupMember', { orgId: key.orgId, actor, id: params.id, personId: body.person_id });
        return { status: r.added ? 201 : 200, body: r };
      },
    },
    {
      method: 'DELETE', path: '/v1/groups/{id}/members/{personId}', tag: 'groups', role: 'admin', summary: 'Remove one person from an access group', status: 204,
      handle: async ({ key, actor, params }) => {
        await store.mutate('removeGroupMember', { orgId: key.orgId, actor, id: params.id, personId: params.personId });
        return { body: undefined };
      },
    },
    {
      method: 'PUT', path: '/v1/groups/{id}/doors', tag: 'groups', role: 'admin', summary: 'Replace the doors an access group opens',
      body: object({ door_ids: uuidList(500) }, ['door_ids']), response: groupDetail,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('setGroupDoors', { orgId: key.orgId, actor, id: params.id, doorIds: body.door_ids }),
      }),
    },
    {
      method: 'PUT', path: '/v1/groups/{id}/schedule', tag: 'groups', role: 'admin',
      summary: 'Replace an access group\'s weekly windows, in each site\'s local time. An empty list means no time restriction. '
        + 'A window cannot cross midnight: split 22:00-06:00 into 22:00-24:00 and 00:00-06:00 of the next day.',
      body: object({ windows: { type: 'array', maxItems: 100, items: scheduleWindow } }, ['windows']), response: groupDetail,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('setGroupSchedule', {
          orgId: key.orgId, actor, id: params.id, windows: scheduleOf(body.windows as { days: number[]; from: string; to: string }[]),
        }),
      }),
    },
  ];
}
