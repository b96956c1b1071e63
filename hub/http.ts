// Plain HTTP routes beside the terminal endpoint: liveness, readiness and Prometheus metrics.
import type { Metrics } from './metrics.js';
import type { HttpResponse, TemplatedApp } from './uws.js';

export interface HealthState { ready(): { ok: boolean; reasons: string[]; [more: string]: unknown } }

export function json(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.cork(() => {
    res.writeStatus(String(status)).writeHeader('Content-Type', 'application/json');
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.end(JSON.stringify(body));
  });
}

export function registerHttpRoutes(app: TemplatedApp, metrics: Metrics, health: HealthState): void {
  app.get('/healthz', (res) => json(res, 200, { ok: true }));
  app.get('/readyz', (res) => {
    const r = health.ready();
    json(res, r.ok ? 200 : 503, r);
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    metrics.registry.metrics().then((text) => {
      if (aborted) return;
      res.cork(() => { res.writeStatus('200').writeHeader('Content-Type', metrics.registry.contentType).end(text); });
    }, () => {
      if (!aborted) json(res, 500, { error: { code: 'LINTEL_ERR_STORE_UNAVAILABLE', message: 'metrics unavailable' } });
    });
  });
  app.any('/*', (res) => json(res, 404, { error: { code: 'LINTEL_ERR_HUB_NOT_FOUND', message: 'no such route' } }));
}
