// The OpenAPI 3.1 document, generated from the same route table and JSON Schemas the validator
// compiles, so the contract cannot drift from what the hub enforces.
import { ERRORS } from '../../protocol/errors.js';
import type { Route } from './router.js';
import { errorEnvelope } from './schemas.js';

export function openApiDocument(routes: Route[], version: string): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }));
    const query = r.query ? Object.entries((r.query as { properties: Record<string, object> }).properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })) : [];
    const errorCodes = Object.entries(ERRORS).filter(([code, spec]) => code.startsWith('LINTEL_ERR_API_') || (code.startsWith('LINTEL_ERR_COMMAND_') && r.path.includes('command'))).map(([code, spec]) => ({ code, status: (spec as { status?: number }).status }));
    const byStatus = new Map<number, string[]>();
    for (const e of errorCodes) if (e.status) byStatus.set(e.status, [...(byStatus.get(e.status) ?? []), e.code]);
    const responses: Record<string, unknown> = {
      [String(r.status ?? 200)]: { description: 'success', content: r.response ? { 'application/json': { schema: r.response } } : undefined },
    };
    for (const [status, codes] of byStatus) responses[String(status)] = { description: codes.join(', '), content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      description: `Needs an API key with role ${r.role} or higher.`,
      parameters: [...params, ...query],
      requestBody: r.body ? { required: true, content: { 'application/json': { schema: r.body } } } : undefined,
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Lintel operator API', version, description: 'People, credentials, doors and rules, remote door commands. Errors: { error: { code, message, fields? } }.' },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (lk_...) created with `npm run lintel -- apikey create`' } },
      schemas: { Error: errorEnvelope },
    },
    paths,
  };
}
