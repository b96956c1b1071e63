// The operator API's HTTP layer on uWS: route matching (404/405), body reading with a size limit
// (413), content type (415), JSON (400), ajv validation with the offending fields (400), API-key
// authentication from memory (401) and roles (403), and one error envelope everywhere:
// { error: { code, message, fields? } }. A handler only sees a validated request.
import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { ERRORS, LintelError, type ErrorCode, type ErrorSpec } from '../../protocol/errors.js';
import type { ApiKeyEntry } from '../access.js';
import { isValidTimeZone } from '../local-time.js';
import type { Logger } from '../log.js';
import type { HttpResponse, TemplatedApp } from '../uws.js';

export type Role = 'admin' | 'operator' | 'viewer';
export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface RequestContext {
  key: ApiKeyEntry;
  actor: string; // for the audit log
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
}

export interface ApiResult {
  status?: number;
  body: unknown;
  /** A body that is not JSON (e.g. CSV for payroll): sent as is with its content type. */
  text?: { contentType: string; content: string; filename?: string };
}

export interface Route {
  method: Method;
  path: string; // '/v1/doors/{id}/commands'
  summary: string;
  tag: string;
  /** Least role allowed: viewer < operator < admin. */
  role: Role;
  query?: object; // JSON Schema of the query string (all values strings before coercion)
  body?: object; // JSON Schema of the body
  response?: object; // JSON Schema of a 2xx body, for the OpenAPI document
  status?: number; // success status, 200 unless said
  handle(ctx: RequestContext): Promise<ApiResult>;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const MAX_BODY_BYTES = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Compiled { route: Route; parts: string[]; query?: ValidateFunction; body?: ValidateFunction }

export interface ApiDeps { log: Logger; apiKey(hash: string): ApiKeyEntry | undefined }

export class ApiError extends LintelError {
  readonly fields?: { field: string; problem: string }[];
  constructor(code: ErrorCode, detail?: string, fields?: { field: string; problem: string }[]) {
    super(code, detail);
    this.fields = fields;
  }
}

function fieldsOf(v: ValidateFunction, where: 'body' | 'query'): { field: string; problem: string }[] {
  return (v.errors ?? []).map((e) => {
    const extra = e.params as { additionalProperty?: string; missingProperty?: string };
    const name = extra.additionalProperty ?? extra.missingProperty;
    const path = `${where}${e.instancePath.replaceAll('/', '.')}${name ? `.${name}` : ''}`;
    return { field: path, problem: extra.additionalProperty ? 'unknown field' : (e.message ?? 'invalid') };
  });
}

function parseQuery(q: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(q)) out[k] = v;
  return out;
}

export function createApi(app: TemplatedApp, routes: Route[], deps: ApiDeps) {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, coerceTypes: false, useDefaults: true, allowUnionTypes: true });
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s));
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat('time-zone', isValidTimeZone);
  const queryAjv = new Ajv({ allErrors: true, strict: true, coerceTypes: true, useDefaults: true, allowUnionTypes: true });
  queryAjv.addFormat('uuid', UUID);
  queryAjv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s));
  queryAjv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
  queryAjv.addFormat('time-zone', isValidTimeZone);
  const compiled: Compiled[] = routes.map((route) => ({
    route,
    parts: route.path.split('/').filter(Boolean),
    query: route.query ? queryAjv.compile(route.query) : undefined,
    body: route.body ? ajv.compile(route.body) : undefined,
  }));

  function match(method: string, url: string): { c: Compiled; params: Record<string, string> } | { allowed: Method[] } | undefined {
    const parts = url.split('/').filter(Boolean);
    const allowed: Method[] = [];
    for (const c of compiled) {
      if (c.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const p = c.parts[i]!;
        if (p.startsWith('{')) {
          const value = decodeURIComponent(parts[i]!);
          // Ids are UUIDs: anything else cannot exist, so it is a 404 like any unknown id.
          if (!UUID.test(value)) ok = false;
          params[p.slice(1, -1)] = value;
        } else if (p !== parts[i]) ok = false;
      }
      if (!ok) continue;
      if (c.route.method === method) return { c, params };
      allowed.push(c.route.method);
    }
    return allowed.length ? { allowed } : undefined;
  }

  function send(res: HttpResponse, state: { aborted: boolean }, status: number, body: unknown, headers: Record<string, string> = {}) {
    if (state.aborted) return;
    state.aborted = true; // one answer per request
    res.cork(() => {
      res.writeStatus(String(status)).writeHeader('Content-Type', 'application/json');
      for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
      res.end(body === undefined ? '' : JSON.stringify(body));
    });
  }

  function sendText(res: HttpResponse, state: { aborted: boolean }, status: number, t: NonNullable<ApiResult['text']>) {
    if (state.aborted) return;
    state.aborted = true;
    res.cork(() => {
      res.writeStatus(String(status)).writeHeader('Content-Type', t.contentType);
      if (t.filename) res.writeHeader('Content-Disposition', `attachment; filename="${t.filename}"`);
      res.end(t.content);
    });
  }

  function fail(res: HttpResponse, state: { aborted: boolean }, err: unknown, headers: Record<string, string> = {}) {
    const e = err as { code?: string; message?: string; fields?: unknown };
    const known = typeof e.code === 'string' && e.code in ERRORS;
    const code = (known ? e.code : 'LINTEL_ERR_API_INTERNAL') as ErrorCode;
    const spec: ErrorSpec = ERRORS[code];
    if (!known) deps.log.error({ err }, 'API handler failed');
    const body: Record<string, unknown> = { code, message: known ? (e.message ?? spec.message) : spec.message };
    if (e.fields) body.fields = e.fields;
    send(res, state, spec.status ?? 500, { error: body }, headers);
  }

  async function run(res: HttpResponse, state: { aborted: boolean }, c: Compiled, params: Record<string, string>, rawQuery: string, auth: string, raw: Buffer | null) {
    try {
      const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
      const key = token ? deps.apiKey(createHash('sha256').update(token).digest('hex')) : undefined;
      if (!key) throw new ApiError('LINTEL_ERR_API_UNAUTHENTICATED');
      if (RANK[key.role] < RANK[c.route.role]) throw new ApiError('LINTEL_ERR_API_FORBIDDEN', `needs role ${c.route.role}`);
      const query: Record<string, unknown> = parseQuery(rawQuery);
      if (c.query && !c.query(query)) throw new ApiError('LINTEL_ERR_API_VALIDATION', undefined, fieldsOf(c.query, 'query'));
      let body: Record<string, unknown> = {};
      if (c.body) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw && raw.length ? raw.toString('utf8') : '{}');
        } catch {
          throw new ApiError('LINTEL_ERR_API_BAD_JSON');
        }
        if (!c.body(parsed)) throw new ApiError('LINTEL_ERR_API_VALIDATION', undefined, fieldsOf(c.body, 'body'));
        body = parsed as Record<string, unknown>;
      }
      const result = await c.route.handle({ key, actor: `api_key:${key.id} (${key.name})`, params, query, body });
      if (result.text) sendText(res, state, result.status ?? 200, result.text);
      else send(res, state, result.status ?? c.route.status ?? 200, result.body);
    } catch (err) {
      fail(res, state, err);
    }
  }

  app.any('/v1/*', (res, req) => {
    // Everything from req is read now: it is invalid after this callback returns.
    const method = req.getMethod().toUpperCase();
    const url = req.getUrl();
    const rawQuery = req.getQuery() ?? '';
    const auth = req.getHeader('authorization');
    const contentType = req.getHeader('content-type');
    const state = { aborted: false };
    res.onAborted(() => { state.aborted = true; });
    const m = match(method, url);
    if (!m) return fail(res, state, new ApiError('LINTEL_ERR_API_NOT_FOUND'));
    if ('allowed' in m) return fail(res, state, new ApiError('LINTEL_ERR_API_METHOD_NOT_ALLOWED'), { Allow: m.allowed.join(', ') });
    if (!m.c.body) return void run(res, state, m.c, m.params, rawQuery, auth, null);
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      // Answer without reading the body; the connection is closed so no unread body follows.
      if (state.aborted) return;
      state.aborted = true;
      res.cork(() => res.writeStatus('415').writeHeader('Content-Type', 'application/json')
        .end(JSON.stringify({ error: { code: 'LINTEL_ERR_API_UNSUPPORTED_MEDIA_TYPE', message: ERRORS.LINTEL_ERR_API_UNSUPPORTED_MEDIA_TYPE.message } }), true));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (state.aborted) return;
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) {
        state.aborted = true;
        res.cork(() => res.writeStatus('413').writeHeader('Content-Type', 'application/json')
          .end(JSON.stringify({ error: { code: 'LINTEL_ERR_API_TOO_LARGE', message: `${ERRORS.LINTEL_ERR_API_TOO_LARGE.message} (max ${MAX_BODY_BYTES} bytes)` } }), true));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0))); // the chunk is reused after this callback
      if (isLast) void run(res, state, m.c, m.params, rawQuery, auth, Buffer.concat(chunks));
    });
  });

  return { routes };
}
