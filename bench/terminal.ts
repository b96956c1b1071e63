// A terminal that speaks LTP/1 like a careful real one: keeps every event until it is acked,
// sends them in frames of up to max_batch, obeys busy/retry_ms, reconnects with exponential
// backoff and full jitter (1 s to 60 s, PROTOCOL section 8) and then resends what is unacked.
// Used by the simulator, the ZKTeco replay and the tests.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../protocol/codec.js';
import type { AckFrame, AuthResFrame, BusyFrame, Encoding, PongFrame, TerminalEvent, WelcomeFrame } from '../protocol/frames.js';

export interface TerminalOptions {
  url: string; // ws://host:port/v1/terminal
  token: string;
  encoding?: Encoding;
  boot?: number;
  tokenInQuery?: boolean;
  reconnect?: boolean;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  fw?: string;
  /** Send frames on their own as events are queued (default) or only on flush(). */
  autoFlush?: boolean;
  /** Other hubs to try, in turn, when a connection to the current one fails or drops (a device's fallback server list). */
  fallbackUrls?: string[];
}

export interface TerminalStats {
  framesSent: number; eventsSent: number; acked: number; busy: number; quarantined: Record<string, number>;
  reconnects: number; errors: string[]; closes: number[];
  /** Upgrades the hub refused, by HTTP status (503 during admission, 401...): no session, so no close code. */
  refused: Record<string, number>;
}

type Pending<T> = { resolve(v: T): void; reject(e: Error): void };

export class Terminal extends EventEmitter {
  readonly opts: Required<Omit<TerminalOptions, 'fw'>> & { fw?: string };
  readonly outbox = new Map<number, TerminalEvent>(); // unacked, by seq
  readonly stats: TerminalStats = { framesSent: 0, eventsSent: 0, acked: 0, busy: 0, quarantined: {}, reconnects: 0, errors: [], closes: [], refused: {} };
  welcome: WelcomeFrame | undefined;
  #ws: WebSocket | undefined;
  #seq = 0;
  #inflight = new Set<number>();
  #auth = new Map<number, Pending<AuthResFrame>>();
  #pings = new Map<number, Pending<PongFrame>>();
  #nextId = 1;
  #closed = false;
  #attempt = 0;
  #idle: (() => void)[] = [];
  #retryTimer: NodeJS.Timeout | undefined;
  #flushQueued = false;

  constructor(opts: TerminalOptions) {
    super();
    this.opts = {
      encoding: 'msgpack', boot: 1, tokenInQuery: false, reconnect: true, backoffMinMs: 1000, backoffMaxMs: 60_000, autoFlush: true, fallbackUrls: [], ...opts,
    };
  }

  #urlIndex = 0;
  /** The hub this terminal talks to now (the url, or one of the fallbacks after a failure). */
  get currentUrl(): string {
    const all = [this.opts.url, ...this.opts.fallbackUrls];
    return all[this.#urlIndex % all.length]!;
  }

  get connected(): boolean { return this.#ws?.readyState === WebSocket.OPEN && this.welcome !== undefined; }
  get lastSeq(): number { return this.#seq; }
  set lastSeq(v: number) { this.#seq = v; }

  /** Opens the socket, says hello and resolves with the welcome. Rejects on refusal (e.g. 401). */
  connect(): Promise<WelcomeFrame> {
    this.#closed = false;
    return new Promise((resolve, reject) => {
      const base = this.currentUrl;
      const url = this.opts.tokenInQuery ? `${base}?token=${encodeURIComponent(this.opts.token)}` : base;
      const ws = new WebSocket(url, { headers: this.opts.tokenInQuery ? {} : { authorization: `Bearer ${this.opts.token}` }, perMessageDeflate: false });
      this.#ws = ws;
      this.welcome = undefined;
      let settled = false;
      let refused = false;
      ws.on('unexpected-response', (_req, res) => {
        settled = true;
        refused = true;
        const status = String(res.statusCode);
        this.stats.refused[status] = (this.stats.refused[status] ?? 0) + 1;
        const err = Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, retryAfter: res.headers['retry-after'] });
        ws.terminate(); // its close event schedules the reconnect
        reject(err);
      });
      ws.on('error', (err) => {
        if (!settled) { settled = true; reject(err); }
      });
      ws.on('open', () => {
        this.#send({ t: 'hello', boot: this.opts.boot, time: Date.now(), fw: this.opts.fw ?? 'lintel-sim/1' });
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        let frame: Record<string, unknown>;
        try {
          frame = decodeFrame(new Uint8Array(data), isBinary ? 'msgpack' : 'json');
        } catch {
          this.stats.errors.push('undecodable frame from hub');
          return;
        }
        if (frame.t === 'welcome') {
          this.welcome = frame as unknown as WelcomeFrame;
          this.#attempt = 0;
          settled = true;
          resolve(this.welcome);
          this.flush();
        }
        this.#onFrame(frame);
      });
      ws.on('close', (code) => {
        if (!refused) this.stats.closes.push(code); // a refused upgrade's terminate() reads as 1006: it is counted in refused
        if (ws !== this.#ws) return; // an older socket of this terminal: nothing of ours to reset
        this.#inflight.clear();
        for (const p of [...this.#auth.values(), ...this.#pings.values()]) p.reject(new Error(`closed ${code}`));
        this.#auth.clear();
        this.#pings.clear();
        this.emit('close', code);
        if (!settled) { settled = true; reject(Object.assign(new Error(`closed ${code} before welcome`), { closeCode: code })); }
        // PROTOCOL section 8: 1008 and 4003 need an operator; 4001 means another session took over.
        if (code !== 1008 && code !== 4003 && code !== 4001) this.#scheduleReconnect();
      });
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || !this.opts.reconnect) return;
    const cap = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** this.#attempt++);
    const delay = Math.random() * cap; // full jitter
    if (this.opts.fallbackUrls.length) this.#urlIndex++; // the next hub in the list
    setTimeout(() => {
      if (this.#closed) return;
      this.stats.reconnects++;
      this.connect().catch(() => {});
    }, delay).unref();
  }

  #send(frame: Record<string, unknown>): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const data = encodeFrame(frame, this.opts.encoding);
    ws.send(data, { binary: this.opts.encoding === 'msgpack' });
    return true;
  }

  /** Sends raw bytes as they are (tests: malformed frames). */
  sendRaw(data: Uint8Array | string, binary = typeof data !== 'string'): void {
    this.#ws?.send(data, { binary });
  }

  sendFrame(frame: Record<string, unknown>, encoding: Encoding = this.opts.encoding): void {
    this.#ws?.send(encodeFrame(frame, encoding), { binary: encoding === 'msgpack' });
  }

  #onFrame(f: Record<string, unknown>): void {
    switch (f.t) {
      case 'ack': {
        const ack = f as unknown as AckFrame;
        if (ack.boot === this.opts.boot) {
          for (const seq of ack.seqs) {
            if (this.outbox.delete(seq)) this.stats.acked++;
            this.#inflight.delete(seq);
          }
          for (const q of ack.q ?? []) this.stats.quarantined[q.code] = (this.stats.quarantined[q.code] ?? 0) + 1;
        }
        this.emit('ack', ack);
        if (this.outbox.size === 0) for (const w of this.#idle.splice(0)) w();
        break;
      }
      case 'busy': {
        const busy = f as unknown as BusyFrame;
        this.stats.busy += busy.seqs.length;
        for (const seq of busy.seqs) this.#inflight.delete(seq);
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => this.flush(), busy.retry_ms);
        this.emit('busy', busy);
        break;
      }
      case 'auth_res': {
        const r = f as unknown as AuthResFrame;
        this.#auth.get(r.id)?.resolve(r);
        this.#auth.delete(r.id);
        break;
      }
      case 'pong': {
        const p = f as unknown as PongFrame;
        this.#pings.get(p.id as number)?.resolve(p);
        this.#pings.delete(p.id as number);
        break;
      }
      case 'error':
        this.stats.errors.push(String(f.msg));
        break;
    }
    this.emit('frame', f);
  }

  /** Queues an event with the next seq; returns the seq. */
  enqueue(event: Omit<TerminalEvent, 'seq'> & { seq?: number }): number {
    const seq = event.seq ?? ++this.#seq;
    if (seq > this.#seq) this.#seq = seq;
    this.outbox.set(seq, { ...event, seq } as TerminalEvent);
    if (this.opts.autoFlush && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => { this.#flushQueued = false; this.flush(); });
    }
    return seq;
  }

  /** Sends every unacked event not already in flight, in seq order, in frames of up to max_batch. */
  flush(): void {
    if (!this.connected) return;
    const max = this.welcome?.max_batch ?? 500;
    let batch: TerminalEvent[] = [];
    const sendBatch = () => {
      if (!batch.length) return;
      if (this.#send({ t: 'ev', boot: this.opts.boot, events: batch })) {
        for (const e of batch) this.#inflight.add(e.seq);
        this.stats.framesSent++;
        this.stats.eventsSent += batch.length;
      }
      batch = [];
    };
    for (const [seq, e] of [...this.outbox].sort((a, b) => a[0] - b[0])) {
      if (this.#inflight.has(seq)) continue;
      batch.push(e);
      if (batch.length >= max) sendBatch();
    }
    sendBatch();
  }

  /** Resolves when every queued event is acked. */
  drained(): Promise<void> {
    return this.outbox.size === 0 ? Promise.resolve() : new Promise((r) => this.#idle.push(r));
  }

  auth(cred: string, door: string): Promise<AuthResFrame> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#auth.set(id, { resolve, reject });
      if (!this.#send({ t: 'auth', id, cred, door, ts: Date.now() })) { this.#auth.delete(id); reject(new Error('not connected')); }
    });
  }

  ping(): Promise<PongFrame> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pings.set(id, { resolve, reject });
      if (!this.#send({ t: 'ping', id, time: Date.now() })) { this.#pings.delete(id); reject(new Error('not connected')); }
    });
  }

  /** Waits for the next frame of type `t` (tests). */
  next(t: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('frame', on); reject(new Error(`no ${t} within ${timeoutMs} ms`)); }, timeoutMs);
      const on = (f: Record<string, unknown>) => { if (f.t === t) { clearTimeout(timer); this.off('frame', on); resolve(f); } };
      this.on('frame', on);
    });
  }

  /** Resolves with the close code of the current socket. */
  closed(): Promise<number> {
    if (!this.#ws || this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve(this.stats.closes.at(-1) ?? 0);
    return new Promise((resolve) => this.#ws!.once('close', (code) => resolve(code)));
  }

  close(code = 1000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code);
    });
  }
}
