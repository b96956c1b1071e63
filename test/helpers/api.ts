// Calls the operator API of a test hub with an API key of a given role.
import type { TestHub } from './hub.js';

export interface ApiResponse<T = any> { status: number; body: T; headers: Headers }

export async function createKey(th: TestHub, org: string, role: 'admin' | 'operator' | 'viewer'): Promise<string> {
  const r = await th.admin.run<{ key: string }>('createApiKey', { org, name: `${role}-key`, role });
  const v = await th.admin.run<number>('stateVersion');
  await th.hub.waitForState(v);
  return r.key;
}

export function client(th: TestHub, key: string | null) {
  async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const h: Record<string, string> = { ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${th.httpUrl}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    call,
    get: <T = any>(p: string) => call<T>('GET', p),
    post: <T = any>(p: string, b?: unknown) => call<T>('POST', p, b ?? {}),
    patch: <T = any>(p: string, b: unknown) => call<T>('PATCH', p, b),
    put: <T = any>(p: string, b: unknown) => call<T>('PUT', p, b),
    del: <T = any>(p: string) => call<T>('DELETE', p),
  };
}
