// The transport's floor: a bare uWebSockets.js server (the same build the hub loads, through
// hub/uws.ts). An ev frame is answered at once with the ack the hub would send once it had stored
// it (so the client receives what it receives from a hub, not its 100,000 punches back); every
// other message goes back as it came (auth, as the request's own bytes). No state, no database.
//   node --import tsx bench/echo-server.ts   (prints {"port":P,"pid":N} once listening)
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import { peekMsgpackType } from '../protocol/peek.js';
import { listenPort, loadUws } from '../hub/uws.js';

const { uws } = loadUws(false);
const app = uws.App();
app.ws('/*', {
  maxPayloadLength: 16 * 1024 * 1024,
  idleTimeout: 120,
  maxBackpressure: 64 * 1024 * 1024,
  message: (ws, message, isBinary) => {
    const bytes = new Uint8Array(message);
    const peek = isBinary ? peekMsgpackType(bytes) : undefined;
    if (peek && 't' in peek && peek.t === 'ev') {
      const f = decodeFrame(bytes, 'msgpack');
      ws.send(encodeFrame({ t: 'ack', boot: f.boot as number, seqs: (f.events as { seq: number }[]).map((e) => e.seq) }, 'msgpack'), true);
    } else ws.send(message, isBinary);
  },
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) { console.error('echo-server: cannot listen'); process.exit(1); }
  console.log(JSON.stringify({ port: listenPort(uws, socket), pid: process.pid }));
});
process.on('SIGTERM', () => process.exit(0));
