// The transport's floor: a bare uWebSockets.js server (the same build the hub loads, through
// hub/uws.ts) that sends every message back as it came. No decoding, no state, no database.
//   node --import tsx bench/echo-server.ts   (prints {"port":P,"pid":N} once listening)
import { listenPort, loadUws } from '../hub/uws.js';

const { uws } = loadUws(false);
const app = uws.App();
app.ws('/*', {
  maxPayloadLength: 16 * 1024 * 1024,
  idleTimeout: 120,
  maxBackpressure: 64 * 1024 * 1024,
  message: (ws, message, isBinary) => { ws.send(message, isBinary); },
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) { console.error('echo-server: cannot listen'); process.exit(1); }
  console.log(JSON.stringify({ port: listenPort(uws, socket), pid: process.pid }));
});
process.on('SIGTERM', () => process.exit(0));
