// Hands ev frames (still encoded) and the hub's own decision records to the worker pool in
// coalesced batches: a batch closes on size or after batchMs. While every worker is busy, frames
// gather in the open batch until it reaches its size, then it waits in line sealed and the next
// one opens: a shift-change burst becomes a row of full-size COPYs that keeps every worker busy to
// the end, rather than one batch that grows without bound and leaves one worker to store the
// whole tail alone. In-flight bytes are bounded: past the bound the caller answers busy
// (PROTOCOL section 4).
import type { Piscina } from 'piscina';
import type { Encoding } from '../protocol/frames.js';
import type { DeviceRef, FrameOutcome, HubEventItem, IngestResult, IngestTask, FrameItem } from '../protocol/tasks.js';
import type { Accounting } from './accounting.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Spool } from './spool.js';

export interface IngestOptions { batchMs: number; batchMaxBytes: number; maxInflightBytes: number; maxBatchesInFlight: number; maxPendingHubEvents: number }
export interface IngestDeps {
  pool: Piscina; metrics: Metrics; log: Logger; accounting: Accounting;
  /** Where batches go while PostgreSQL is unreachable; undefined: answer busy. */
  spool?: Spool;
  isStoreDown(): boolean;
  /** The access state version decided on now: workers resolve events with maps at least this new. */
  stateVersion(): number;
  onStoreError(unavailable: boolean): void;
  onStoreOk(): void;
}

type Reply = (outcome: FrameOutcome) => void;
interface OpenBatch { items: IngestTask['items']; transfer: ArrayBuffer[]; bytes: number; replies: Map<number, { reply: Reply; bytes: number; at: number; deviceId: string; siteId: string }> }
type Counts = { stored: number; duplicates: number; quarantined: number; spooled: number; busy: number };

const newBatch = (): OpenBatch => ({ items: [], transfer: [], bytes: 0, replies: new Map() });

export function createIngest(opts: IngestOptions, deps: IngestDeps) {
  const { pool, metrics, log, accounting } = deps;
  let inflightFrames = 0;
  let open = newBatch();
  const sealed: OpenBatch[] = []; // full batches waiting for a worker, oldest first
  let timer: NodeJS.Timeout | undefined;
  let inflightBytes = 0;
  let batchesInFlight = 0;
  let draining = false; // shutdown: frames arriving now are answered busy, so the drain ends
  let nextRef = 1;
  let pendingHub: HubEventItem[] = [];
  let spoolWrites = 0; // batches waiting for their spool record's fsync
  let spoolFullLogged = false;
  let stopped = false; // after shutdown gave up: nothing more goes to the pool
  const idleWaiters: (() => void)[] = [];
  const frameWaiters: (() => void)[] = [];

  function schedule() {
    if (open.bytes >= opts.batchMaxBytes) {
      sealed.push(open);
      open = newBatch();
      return flush();
    }
    timer ??= setTimeout(() => { timer = undefined; flush(); }, opts.batchMs);
  }

  /** Sends sealed batches, then the open one, while a worker is free. */
  function flush() {
    if (timer) { clearTimeout(timer); timer = undefined; }
    if (stopped) return;
    while (batchesInFlight < opts.maxBatchesInFlight) {
      let batch = sealed.shift();
      if (!batch) {
        if (open.items.length === 0 && pendingHub.length === 0) return;
        batch = open;
        open = newBatch();
      }
      if (pendingHub.length) {
        batch.items.push(...pendingHub);
        pendingHub = [];
      }
      send(batch);
    }
  }

  function send(batch: OpenBatch) {
    batchesInFlight++;
    metrics.batchEvents.observe(batch.items.length);
    metrics.poolQueue.set(pool.queueSize);
    const task: IngestTask = { items: batch.items, spoolOnly: deps.isStoreDown() && deps.spool?.enabled, stateVersion: deps.stateVersion() };
    (pool.run(task, { transferList: batch.transfer }) as Promise<IngestResult>).then(
      (result) => settle(batch, result),
      (err: Error) => {
        // A worker died mid-task: nothing was acked; answer busy so terminals resend.
        log.error({ err }, 'ingest task failed');
        settle(batch, undefined);
      },
    );
  }

  function settle(batch: OpenBatch, result: IngestResult | undefined) {
    batchesInFlight--;
    if (result) {
      metrics.commitSeconds.observe(result.commitMs / 1000);
      if (result.path) metrics.batches.inc({ path: result.path });
      if (result.error) {
        if (!result.spool || !deps.isStoreDown()) log.warn({ code: result.error.code, err: result.error.message }, 'batch not stored');
        deps.onStoreError(result.error.unavailable);
      } else {
        // result.stored also holds the hub's decision records: terminal events are the frames' share.
        const terminalStored = result.frames.reduce((n, f) => n + (f.ok ? f.stored : 0), 0);
        metrics.hubRecordsStored.inc(result.stored - terminalStored);
        deps.onStoreOk();
      }
      if (result.spool && toSpool(batch, result, result.spool)) return afterSettle();
      if (result.error && result.hubEvents) requeueHub(batch.items.filter((i): i is HubEventItem => i.kind === 'hub'));
      answer(batch, result.frames, false);
    } else {
      requeueHub(batch.items.filter((i): i is HubEventItem => i.kind === 'hub'));
    }
    // Frames the worker did not answer (it failed): the session decodes seqs and answers busy.
    for (const [ref, r] of batch.replies) {
      inflightBytes -= r.bytes;
      inflightFrames--;
      accounting.frameAnswered(r.deviceId); // its event count is unknown; the session closes and the terminal resends
      r.reply({ ref, ok: false, code: 'busy_error', msg: 'ingest worker failed', boot: -1, seqs: [] });
    }
    afterSettle();
  }

  function afterSettle() {
    metrics.inflightBytes.set(inflightBytes);
    metrics.inflightFrames.set(inflightFrames);
    if (sealed.length || open.items.length || pendingHub.length) flush();
    if (framesIdle()) for (const w of frameWaiters.splice(0)) w();
    if (idle()) for (const w of idleWaiters.splice(0)) w();
  }

  const framesIdle = () => inflightFrames === 0 && spoolWrites === 0;
  const idle = () => batchesInFlight === 0 && spoolWrites === 0 && sealed.length === 0 && open.items.length === 0 && pendingHub.length === 0;

  /** Answers each frame of a batch; `spooled`: the batch's spool record is fsynced, so spoolable frames are acked. */
  function answer(batch: OpenBatch, outcomes: FrameOutcome[], spooled: boolean) {
    const now = performance.now();
    for (let outcome of outcomes) {
      const r = batch.replies.get(outcome.ref);
      if (!r) continue;
      batch.replies.delete(outcome.ref);
      inflightBytes -= r.bytes;
      inflightFrames--;
      if (spooled && !outcome.ok && 'spool' in outcome && outcome.spool) {
        const events = outcome.spool.events;
        outcome = { ref: outcome.ref, ok: true, boot: outcome.boot, seqs: outcome.seqs, q: outcome.spool.q, stored: 0, duplicates: 0, quarantined: 0, spooled: events };
      }
      if (outcome.ok) count(r, { stored: outcome.stored, duplicates: outcome.duplicates, quarantined: outcome.quarantined, spooled: outcome.spooled ?? 0, busy: 0 });
      else if (outcome.seqs) count(r, { stored: 0, duplicates: 0, quarantined: 0, spooled: 0, busy: outcome.seqs.length });
      else accounting.frameAnswered(r.deviceId); // error bad_frame: no event of it is counted
      metrics.ackSeconds.observe((now - r.at) / 1000);
      r.reply(outcome);
    }
  }

  /**
   * The store was unreachable: append the batch to the spool and ack its frames once the record
   * is fsynced (PROTOCOL section 4: durable means committed or in the spool). False when the
   * spool is off or full: the caller answers busy and the terminals keep their events.
   */
  function toSpool(batch: OpenBatch, result: IngestResult, payload: Uint8Array): boolean {
    const { spool } = deps;
    if (!spool?.fits(payload.byteLength)) {
      if (spool?.enabled && !spoolFullLogged) { spoolFullLogged = true; log.warn({ code: 'LINTEL_ERR_SPOOL_FULL', bytes: spool.bytes }, 'spool full; answering busy'); }
      return false;
    }
    spoolFullLogged = false;
    spoolWrites++;
    spool.append(payload).then(
      () => answer(batch, result.frames, true),
      () => {
        requeueHub(batch.items.filter((i): i is HubEventItem => i.kind === 'hub'));
        answer(batch, result.frames, false);
      },
    ).finally(() => { spoolWrites--; afterSettle(); });
    return true;
  }

  /** One frame's answer, in the device's ledger and in the totals at once, so both balance at every instant. */
  function count(r: { deviceId: string; siteId: string }, c: Counts) {
    accounting.frameAnswered(r.deviceId, c);
    const received = c.stored + c.duplicates + c.quarantined + c.spooled + c.busy;
    metrics.eventsReceived.inc(received);
    metrics.siteEventsReceived.inc({ site: r.siteId }, received);
    metrics.eventsSpooled.inc(c.spooled);
    metrics.eventsStored.inc(c.stored);
    metrics.eventsDuplicate.inc(c.duplicates);
    metrics.eventsQuarantined.inc(c.quarantined);
    metrics.eventsBusy.inc(c.busy);
  }

  function requeueHub(items: HubEventItem[]) {
    const room = opts.maxPendingHubEvents - pendingHub.length;
    if (items.length > room) metrics.hubEventsDropped.inc(items.length - room);
    pendingHub.push(...items.slice(0, Math.max(0, room)));
  }

  return {
    /** Queues one ev frame; false when the in-flight bound is reached (answer busy). */
    submitFrame(device: DeviceRef, encoding: Encoding, message: ArrayBuffer, reply: Reply): boolean {
      if (draining || inflightBytes + message.byteLength > opts.maxInflightBytes) return false;
      const copy = message.slice(0); // uWS reuses `message` after the callback returns
      const ref = nextRef++;
      const item: FrameItem = { kind: 'frame', ref, deviceId: device.deviceId, orgId: device.orgId, siteId: device.siteId, encoding, bytes: new Uint8Array(copy) };
      open.items.push(item);
      open.transfer.push(copy);
      open.bytes += copy.byteLength;
      open.replies.set(ref, { reply, bytes: copy.byteLength, at: performance.now(), deviceId: device.deviceId, siteId: device.siteId });
      inflightBytes += copy.byteLength;
      inflightFrames++;
      accounting.frameSubmitted(device.deviceId);
      metrics.inflightBytes.set(inflightBytes);
      metrics.inflightFrames.set(inflightFrames);
      schedule();
      return true;
    },
    /** Events answered busy on the event loop (past the in-flight bound), never handed to the pool. */
    countBusy(device: DeviceRef, events: number) {
      accounting.busyNow(device.deviceId, events);
      metrics.eventsReceived.inc(events);
      metrics.siteEventsReceived.inc({ site: device.siteId }, events);
      metrics.eventsBusy.inc(events);
    },
    recordHubEvent(item: HubEventItem) {
      if (pendingHub.length >= opts.maxPendingHubEvents) { metrics.hubEventsDropped.inc(); return; }
      pendingHub.push(item);
      schedule();
    },
    get inflightBytes() { return inflightBytes; },
    get saturated() { return inflightBytes >= opts.maxInflightBytes; },
    /**
     * Shutdown, first step: sends the open batch now, answers later frames busy, resolves when
     * every frame received has its answer. The hub's decision records may still be in flight:
     * connected doors keep asking while a slow database commits.
     */
    drainFrames(): Promise<void> {
      draining = true;
      flush();
      return framesIdle() ? Promise.resolve() : new Promise((resolve) => frameWaiters.push(resolve));
    },
    /** Shutdown, once sessions are closed: resolves when the decision records are stored too. */
    drain(): Promise<void> {
      draining = true;
      flush();
      return idle() ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
    /**
     * Shutdown gave up waiting (the database is stalled): nothing more goes to the pool, so a
     * batch the pool rejects while it is destroyed is not sent again. The frames of such a batch
     * are answered busy and resent by their terminals.
     */
    stop() {
      stopped = true;
      if (timer) { clearTimeout(timer); timer = undefined; }
    },
    /** Decision records not stored (read after stop() and the pool's end). */
    get unsavedHubRecords() { return pendingHub.length + [...sealed, open].reduce((n, b) => n + b.items.filter((i) => i.kind === 'hub').length, 0); },
  };
}

export type Ingest = ReturnType<typeof createIngest>;
