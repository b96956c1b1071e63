// A helper process for bench/memory.ts: opens one WebSocket per token, says hello, waits for
// every welcome, prints {"connected":N,...} and then holds the sockets idle until SIGTERM.
//   node --import tsx bench/idle-terminals.ts URL TOKENS_FILE
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { encodeFrame } from '../protocol/codec.js';

const [url, file] = process.argv.slice(2) as [string, string];
const tokens = readFileSync(file, 'utf8').split('\n').filter(Boolean);
const sockets: WebSocket[] = [];
let failed = 0;

function open(token: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    sockets.push(ws);
    ws.once('open', () => ws.send(encodeFrame({ t: 'hello', boot: 1, time: Date.now(), fw: 'idle' }, 'msgpack'), { binary: true }));
    ws.once('message', () => resolve()); // the welcome
    ws.once('error', () => { failed++; resolve(); });
    ws.once('close', () => resolve());
  });
}

const started = performance.now();
for (let i = 0; i < tokens.length; i += 250) await Promise.all(tokens.slice(i, i + 250).map(open)); // a bounded SYN backlog
console.log(JSON.stringify({ connected: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, failed, ms: Math.round(performance.now() - started) }));
process.on('SIGTERM', () => { for (const s of sockets) s.terminate(); process.exit(0); });
setInterval(() => {}, 1 << 30);
