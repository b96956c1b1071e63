// The operator API under /v1: every resource's routes, the OpenAPI document, one router.
import type { Logger } from '../log.js';
import type { TemplatedApp } from '../uws.js';
import { openApiDocument } from './openapi.js';
import { createApi, type Route } from './router.js';
import type { ApiServices } from './services.js';
import { devicesRoutes } from './routes/devices.js';
import { eventsRoutes } from './routes/events.js';
import { peopleRoutes } from './routes/people.js';
import { retentionRoutes } from './routes/retention.js';
import { sitesDoorsRoutes } from './routes/sites-doors.js';
import { timesheetsRoutes } from './routes/timesheets.js';

export function registerApi(app: TemplatedApp, services: ApiServices, log: Logger): Route[] {
  const routes: Route[] = [
    ...sitesDoorsRoutes(services),
    ...peopleRoutes(services),
    ...devicesRoutes(services),
    ...eventsRoutes(services),
    ...timesheetsRoutes(services),
    ...retentionRoutes(services),
  ];
  const doc = JSON.stringify(openApiDocument(routes, '1'));
  // Public: the contract is no secret, and tools fetch it before they have a key.
  app.get('/v1/openapi.json', (res) => {
    res.cork(() => res.writeStatus('200').writeHeader('Content-Type', 'application/json').end(doc));
  });
  createApi(app, routes, { log, apiKey: (hash) => services.engine.apiKeyByHash(hash) });
  return routes;
}
