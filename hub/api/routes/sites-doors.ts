// /v1/organization, /v1/sites, /v1/doors.
import type { Route } from '../router.js';
import { dateTime, name, object, pageOf, pageQuery, timeZone, uuid } from '../schemas.js';
import type { ApiServices } from '../services.js';

const organization = object({ id: uuid, name, created_at: dateTime });
const site = object({ id: uuid, name, tz: timeZone, created_at: dateTime });
const door = object({
  id: uuid, site_id: uuid, code: { type: 'string' }, name, open_ms: { type: 'integer' }, locked_down: { type: 'boolean' }, created_at: dateTime,
});
const doorCode = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\s]+$' } as const;
const openMs = { type: 'integer', minimum: 0, maximum: 600000 } as const;

export function sitesDoorsRoutes({ store }: ApiServices): Route[] {
  return [
    {
      method: 'GET', path: '/v1/organization', tag: 'organization', role: 'admin', summary: 'The API key\'s organization', response: organization,
      handle: async ({ key }) => ({ body: await store.run('getOrganization', { orgId: key.orgId }) }),
    },
    {
      method: 'PATCH', path: '/v1/organization', tag: 'organization', role: 'admin', summary: 'Rename the organization',
      body: object({ name }, ['name']), response: organization,
      handle: async ({ key, actor, body }) => ({ body: await store.mutate('updateOrganization', { orgId: key.orgId, actor, name: body.name }) }),
    },
    {
      method: 'GET', path: '/v1/sites', tag: 'sites', role: 'viewer', summary: 'List sites', query: object(pageQuery), response: pageOf(site),
      handle: async ({ key, query }) => ({ body: await store.run('listSites', { orgId: key.orgId, ...query }) }),
    },
    {
      method: 'POST', path: '/v1/sites', tag: 'sites', role: 'admin', summary: 'Create a site', status: 201,
      body: object({ name, tz: timeZone }, ['name', 'tz']), response: site,
      handle: async ({ key, actor, body }) => ({ body: await store.mutate('createSite', { orgId: key.orgId, actor, ...body }) }),
    },
    {
      method: 'GET', path: '/v1/sites/{id}', tag: 'sites', role: 'viewer', summary: 'One site', response: site,
      handle: async ({ key, params }) => ({ body: await store.run('getSite', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'PATCH', path: '/v1/sites/{id}', tag: 'sites', role: 'admin', summary: 'Rename a site or change its time zone',
      body: { ...object({ name, tz: timeZone }), minProperties: 1 }, response: site,
      handle: async ({ key, actor, params, body }) => ({ body: await store.mutate('updateSite', { orgId: key.orgId, actor, id: params.id, ...body }) }),
    },
    {
      method: 'GET', path: '/v1/doors', tag: 'doors', role: 'viewer', summary: 'List doors, optionally of one site',
      query: object({ ...pageQuery, site: uuid }), response: pageOf(door),
      handle: async ({ key, query }) => ({ body: await store.run('listDoors', { orgId: key.orgId, ...query }) }),
    },
    {
      method: 'POST', path: '/v1/doors', tag: 'doors', role: 'admin', summary: 'Create a door in a site', status: 201,
      body: object({ site_id: uuid, code: doorCode, name, open_ms: openMs }, ['site_id', 'code']), response: door,
      handle: async ({ key, actor, body }) => ({
        body: await store.mutate('createDoor', { orgId: key.orgId, actor, siteId: body.site_id, code: body.code, name: body.name, openMs: body.open_ms }),
      }),
    },
    {
      method: 'GET', path: '/v1/doors/{id}', tag: 'doors', role: 'viewer', summary: 'One door', response: door,
      handle: async ({ key, params }) => ({ body: await store.run('getDoor', { orgId: key.orgId, id: params.id }) }),
    },
    {
      method: 'PATCH', path: '/v1/doors/{id}', tag: 'doors', role: 'admin', summary: 'Rename a door or change its open time',
      body: { ...object({ name, open_ms: openMs }), minProperties: 1 }, response: door,
      handle: async ({ key, actor, params, body }) => ({
        body: await store.mutate('updateDoor', { orgId: key.orgId, actor, id: params.id, name: body.name, openMs: body.open_ms }),
      }),
    },
  ];
}
