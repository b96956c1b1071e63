// The one module that knows where uWebSockets.js comes from. The build used here ships native
// binaries per Node ABI and silently falls back to a slow JavaScript server on any other ABI;
// Lintel refuses that fallback unless told to allow it. Moving to another uWS build or Node
// version is a change to this file alone.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as UWS from '@trufflesuite/uws-js-unofficial';

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket, us_socket_context_t } from '@trufflesuite/uws-js-unofficial';

const PACKAGE = '@trufflesuite/uws-js-unofficial';
const require = createRequire(import.meta.url);

export interface UwsBinding { uws: typeof UWS; native: boolean; detail: string }

export function loadUws(allowFallback: boolean): UwsBinding {
  const root = path.dirname(require.resolve(`${PACKAGE}/package.json`));
  const binary = path.join(root, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    return { uws: require(binary) as typeof UWS, native: true, detail: binary };
  } catch (err) {
    const detail = `no native uWebSockets.js for ${process.platform}-${process.arch} Node ABI ${process.versions.modules} (${(err as Error).message.split('\n')[0]})`;
    if (!allowFallback) {
      throw Object.assign(new Error(`${detail}; set LINTEL_ALLOW_UWS_FALLBACK=true to run on the slow JavaScript fallback`), {
        code: 'LINTEL_ERR_UWS_FALLBACK',
      });
    }
    process.env.UWS_USE_FALLBACK = 'true';
    return { uws: require(PACKAGE) as typeof UWS, native: false, detail };
  }
}

export function listenPort(uws: typeof UWS, socket: UWS.us_listen_socket): number {
  return uws.us_socket_local_port(socket);
}

/** Listens on host:port, refusing a port another process already listens on (uWS shares it by default). */
export function listenExclusive(app: UWS.TemplatedApp, host: string, port: number, cb: (socket: UWS.us_listen_socket | false) => void): void {
  // (host, port, options, cb) exists in this build; its type declarations only list (port, options, cb).
  (app as unknown as { listen(h: string, p: number, o: number, cb: (s: UWS.us_listen_socket | false) => void): void }).listen(host, port, 1 /* LIBUS_LISTEN_EXCLUSIVE_PORT */, cb);
}
