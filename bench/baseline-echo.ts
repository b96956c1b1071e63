// Baseline for `auth` round trips: the burst's traffic (N sockets, K punches each in frames of F,
// a tenth asking for access at the same fixed rate) against bench/echo-server.ts, a bare uWS
// server that sends each auth back and acks each ev frame at once. Same `ws` client, same codec,
// same frames, the same answers to read, same schedule (latency from the intended send time,
// HdrHistogram), so its p99 is what the transport and the generator cost before the hub does any
// work. The echo server runs in its own process.
//   node --import tsx bench/baseline-echo.ts [--terminals 2000] [--events 50] [--frame 500] [--auth-rate 5] [--min-ms 0]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import { int } from './args.js';
import { cpuMeter, loadAverage, spawnNode } from './proc.js';
import { GENERATOR_BOUND_PCT } from './stack.js';

const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
const pct = (h: hdr.Histogram) => {
  const ms = (us: number) => Math.round(us) / 1000;
  return { p50: ms(h.getValueAtPercentile(50)), p99: ms(h.getValueAtPercentile(99)), p999: ms(h.getValueAtPercentile(99.9)), max: ms(h.maxValue), n: h.totalCount };
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { terminals: { type: 'string' }, events: { type: 'string' }, frame: { type: 'string' }, 'auth-rate': { type: 'string' }, 'min-ms': { type: 'string' } },
    strict: true,
  });
  const n = int('terminals', values.terminals, 2000, 1);
  const k = int('events', values.events, 50, 1);
  const frame = Math.min(int('frame', values.frame, 500, 1), k);
  const authRate = int('auth-rate', values['auth-rate'], 5, 1);
  const minMs = int('min-ms', values['min-ms'], 0, 0); // keep asking at least this long (the hub burst's duration)
  const authTerminals = Math.floor(n / 10);

  const server = await spawnNode('bench/echo-server.ts', [], { timeoutMs: 30_000 });
  const url = `ws://127.0.0.1:${server.first.port as number}/v1/terminal`;
  const sockets: WebSocket[] = [];
  try {
    const boot = 1;
    const evHist = histogram();
    const authHist = histogram();
    const pendingAuth = new Map<number, number>(); // id -> intended time
    const frameSent = new Map<string, number>(); // socket/first seq -> intended time
    const total = n * k;
    let echoed = 0;
    let lastAt = 0;
    let done!: () => void;
    const allEchoed = new Promise<void>((r) => { done = r; });

    const t0c = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      sockets[i] = ws;
      ws.on('open', () => { ws.send(encodeFrame({ t: 'hello', boot, time: Date.now(), fw: 'echo' }, 'msgpack'), { binary: true }); });
      ws.on('error', reject);
      ws.on('message', (data: Buffer) => {
        const f = decodeFrame(new Uint8Array(data), 'msgpack');
        const now = performance.now();
        if (f.t === 'hello') resolve();
        else if (f.t === 'ack') {
          const seqs = f.seqs as number[];
          const at = frameSent.get(`${i}/${seqs[0]}`)!;
          evHist.recordValueWithCount(Math.max(1, (now - at) * 1000), seqs.length);
          echoed += seqs.length;
          lastAt = now;
          if (echoed === total) done();
        } else if (f.t === 'auth') {
          const at = pendingAuth.get(f.id as number);
          if (at !== undefined) { pendingAuth.delete(f.id as number); authHist.recordValue(Math.max(1, (now - at) * 1000)); }
        }
      });
    })));
    const connectMs = performance.now() - t0c;

    const meter = cpuMeter({ server: () => [server.child.pid!], generator: () => [process.pid] });
    const cpu0 = process.cpuUsage();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const t0 = performance.now();
    const ts = Date.now();
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < k; f += frame) {
        const events = [];
        for (let j = f; j < Math.min(k, f + frame); j++) events.push({ seq: j + 1, ts, kind: 'punch', cred: `c${(i * k + j) % 5000}`, dir: 'in' });
        frameSent.set(`${i}/${f + 1}`, performance.now());
        sockets[i]!.send(encodeFrame({ t: 'ev', boot, events }, 'msgpack'), { binary: true });
      }
    }
    const t1 = performance.now();
    let over = false;
    let nextId = 1;
    let sent = 0;
    const interval = 1000 / authRate;
    const loops = Array.from({ length: authTerminals }, async (_, i) => {
      for (let j = 0; !over; j++) {
        const at = t1 + (j + i / authTerminals) * interval; // spread as in bench/burst.ts
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (over) break;
        const id = nextId++;
        pendingAuth.set(id, Math.min(at, performance.now())); // as bench/burst.ts: from the send when a timer fired early
        sent++;
        sockets[i]!.send(encodeFrame({ t: 'auth', id, cred: `c${(i * 7919 + j) % 5000}`, door: 'D1', ts: Date.now() }, 'msgpack'), { binary: true });
      }
    });
    await allEchoed;
    const remaining = minMs - (performance.now() - t0);
    if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
    over = true;
    await Promise.all(loops);
    for (let i = 0; i < 200 && pendingAuth.size; i++) await new Promise((r) => setTimeout(r, 10));
    const tEnd = performance.now();
    const cpu = meter.stop();
    const used = process.cpuUsage(cpu0);
    loopDelay.disable();
    const genPct = Math.round(((used.user + used.system) / 1000 / (tEnd - t0)) * 1000) / 10;
    const wallMs = lastAt - t0;
    const out = {
      bench: 'baseline-echo', terminals: n, events_per_terminal: k, frame, connect_ms: Math.round(connectMs),
      echoed, events_per_s: Math.round(echoed / (wallMs / 1000)), wall_ms: Math.round(wallMs * 10) / 10, ev_rtt_ms: pct(evHist),
      auth: { terminals: authTerminals, rate: authRate, sent, answered: authHist.totalCount, lost: pendingAuth.size, rtt_ms: pct(authHist) },
      generator: { cpu_pct: genPct, loop_delay_p99_ms: Math.round(loopDelay.percentile(99) / 1e4) / 100 },
      cpu, load_avg_1m: loadAverage(), generator_bound: genPct >= GENERATOR_BOUND_PCT,
    };
    console.error(`echo: ${echoed}/${total} events echoed in ${out.wall_ms} ms; auth ${out.auth.answered}/${sent} rtt p50 ${out.auth.rtt_ms.p50} p99 ${out.auth.rtt_ms.p99} ms; cpu ${JSON.stringify(cpu.cores)}`);
    console.log(JSON.stringify(out));
    evHist.destroy();
    authHist.destroy();
  } finally {
    for (const ws of sockets) ws?.terminate();
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

main().catch((err: Error) => {
  console.error(`bench/baseline-echo: ${err.stack ?? err.message}`);
  process.exitCode = 2;
});
