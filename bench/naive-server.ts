// The naive server the customer's previous vendor shipped, rebuilt for comparison: the `ws`
// package, one INSERT per event awaited in order, an ack after each insert, an access decision
// by SELECT. It speaks just enough LTP/1 for bench/terminal.ts and writes the same tables (the
// identity through event_keys, so a resend is still stored once). Not part of Lintel.
//   node --import tsx bench/naive-server.ts   (DATABASE_URL, LINTEL_CREDENTIAL_KEY in the environment)
import { createHash, createHmac, randomInt } from 'node:crypto';
import postgres from 'postgres';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';

const sql = postgres(process.env.DATABASE_URL!, { max: 10, onnotice: () => {} }); // postgres.js's default pool
const key = Buffer.from(process.env.LINTEL_CREDENTIAL_KEY!, 'hex');
const hubBoot = randomInt(1, 2 ** 31);
let hubSeq = 0;

interface Device { id: string; site_id: string; org_id: string }

const INSERT_EVENT = `WITH k AS (
  INSERT INTO event_keys (device_id, source, boot, seq, outcome) VALUES ($1, 't', $2, $3, 's') ON CONFLICT DO NOTHING RETURNING 1
) INSERT INTO events (ts, org_id, site_id, device_id, source, boot, seq, kind, person_id, credential_id, cred_hash, dir)
  SELECT $4, $5, $6, $1, 'terminal', $2, $3, $7, c.person_id, c.id, $8, $9
  FROM k LEFT JOIN credentials c ON c.org_id = $5 AND c.cred_hash = $8`;

const INSERT_DECISION = `WITH k AS (
  INSERT INTO event_keys (device_id, source, boot, seq, outcome) VALUES ($1, 'h', $2, $3, 's') RETURNING 1
) INSERT INTO events (ts, org_id, site_id, device_id, source, boot, seq, kind, person_id, credential_id, cred_hash, granted, reason)
  SELECT now(), $4, $5, $1, 'hub', $2, $3, 'access', $6, $7, $8, $9, $10 FROM k`;

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws: WebSocket, req) => {
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  const hash = createHash('sha256').update(token).digest();
  let device: Device | undefined;
  const ready = sql<Device[]>`SELECT d.id, d.site_id, s.org_id FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.token_hash = ${hash}`
    .then(([d]) => { if (!d) ws.close(1008); device = d; });
  let chain: Promise<unknown> = ready; // frames of one socket in order, as a simple server would
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    chain = chain.then(() => handle(ws, device, decodeFrame(new Uint8Array(data), isBinary ? 'msgpack' : 'json'), isBinary)).catch((err: Error) => {
      console.error(`naive-server: ${err.message}`);
    });
  });
});

async function handle(ws: WebSocket, device: Device | undefined, f: Record<string, unknown>, binary: boolean): Promise<void> {
  if (!device) return;
  const send = (frame: Record<string, unknown>) => ws.send(encodeFrame(frame, binary ? 'msgpack' : 'json'), { binary });
  if (f.t === 'hello') {
    const [r] = await sql<{ last: number }[]>`SELECT coalesce(max(seq), 0)::int AS last FROM event_keys WHERE device_id = ${device.id} AND source = 't' AND boot = ${f.boot as number}`;
    send({ t: 'welcome', device: device.id, site_tz: 'UTC', server_time: Date.now(), last_seq: r!.last, heartbeat_s: 30, max_batch: 500 });
  } else if (f.t === 'ev') {
    for (const e of f.events as Record<string, unknown>[]) {
      const cred = typeof e.cred === 'string' ? createHmac('sha256', key).update(e.cred).digest() : null;
      await sql.unsafe(INSERT_EVENT, [device.id, f.boot as number, e.seq as number, new Date(e.ts as number), device.org_id, device.site_id, e.kind as string, cred, (e.dir as string) ?? null]);
      send({ t: 'ack', boot: f.boot, seqs: [e.seq] });
    }
  } else if (f.t === 'auth') {
    const cred = createHmac('sha256', key).update(String(f.cred)).digest();
    const [c] = await sql<{ id: string; person_id: string }[]>`SELECT id, person_id FROM credentials WHERE org_id = ${device.org_id} AND cred_hash = ${cred} AND status = 'active'`;
    const ok = Boolean(c);
    await sql.unsafe(INSERT_DECISION, [device.id, hubBoot, ++hubSeq, device.org_id, device.site_id, c?.person_id ?? null, c?.id ?? null, cred, ok, ok ? 'granted' : 'unknown_credential']);
    send({ t: 'auth_res', id: f.id, ok, reason: ok ? 'granted' : 'unknown_credential' });
  } else if (f.t === 'ping') {
    send({ t: 'pong', id: f.id, time: f.time, server_time: Date.now() });
  }
}

wss.on('listening', () => {
  const addr = wss.address();
  console.log(JSON.stringify({ port: addr && typeof addr === 'object' ? addr.port : 0, pid: process.pid }));
});
process.on('SIGTERM', () => { wss.close(); void sql.end({ timeout: 2 }).then(() => process.exit(0)); });
