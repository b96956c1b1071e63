// The local durable spool (issue P4): while PostgreSQL is unreachable, batches of events are
// appended to segment files under <data dir>/spool and fsynced before their frames are acked.
// One writer (this module, on the event loop; the file system calls run on libuv's threads).
// Appends that arrive while a write is in progress are written together with one fsync (group
// commit). A segment is sealed when it reaches the segment size or when the drain asks; only
// sealed segments are drained (by an ingest worker) and each is deleted only after its events
// are committed. Record format and torn-tail rules: protocol/spool.ts.
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { encodeRecord, SPOOL_MAGIC } from '../protocol/spool.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export interface SpoolOptions { dir: string; maxBytes: number; segmentBytes: number }

interface Segment { file: string; bytes: number }
interface Pending { record: Buffer; resolve(): void; reject(err: Error): void }

const SEGMENT = /^\d{16,}\.seg$/; // numbered in write order; the drain takes the lowest first

export async function openSpool(opts: SpoolOptions, deps: { log: Logger; metrics: Metrics }) {
  const { log, metrics } = deps;
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const sealed: Segment[] = [];
  let next = 1;
  const names = (await readdir(opts.dir)).filter((n) => SEGMENT.test(n)).sort((a, b) => (BigInt(a.split('.')[0]!) < BigInt(b.split('.')[0]!) ? -1 : 1));
  for (const name of names) {
    const file = path.join(opts.dir, name);
    const { size } = await stat(file);
    next = Math.max(next, Number(name.split('.')[0]) + 1);
    if (size <= SPOOL_MAGIC.byteLength) { await rm(file, { force: true }); continue; } // created, never written
    sealed.push({ file, bytes: size });
  }
  if (sealed.length) log.warn({ segments: sealed.length, bytes: sealed.reduce((n, s) => n + s.bytes, 0) }, 'spool recovered from a previous run; it drains once PostgreSQL answers');

  let current: (Segment & { fh: FileHandle }) | undefined;
  let bytes = sealed.reduce((n, s) => n + s.bytes, 0); // on disk plus reserved by queued appends
  let pending: Pending[] = [];
  let writing: Promise<void> | undefined;
  let sealWanted = false;
  let full = false; // an append was refused for room; cleared when a segment drains

  const gauges = () => {
    metrics.spoolBytes.set(bytes);
    metrics.spoolSegments.set(sealed.length + (current ? 1 : 0));
  };
  metrics.spoolCapacity.set(opts.maxBytes);
  gauges();

  async function syncDir(): Promise<void> {
    const dir = await open(opts.dir, 'r');
    try { await dir.sync(); } finally { await dir.close(); }
  }

  async function newSegment(): Promise<Segment & { fh: FileHandle }> {
    const file = path.join(opts.dir, `${String(next++).padStart(16, '0')}.seg`);
    const fh = await open(file, 'wx', 0o600);
    await fh.write(SPOOL_MAGIC);
    await syncDir(); // the file's name must survive a crash as well as its contents
    bytes += SPOOL_MAGIC.byteLength;
    return { file, bytes: SPOOL_MAGIC.byteLength, fh };
  }

  async function sealCurrent(): Promise<void> {
    const seg = current;
    if (!seg) return;
    current = undefined;
    await seg.fh.close().catch(() => {});
    sealed.push({ file: seg.file, bytes: seg.bytes });
  }

  async function pump(): Promise<void> {
    while (pending.length) {
      const group = pending;
      pending = [];
      const size = group.reduce((n, p) => n + p.record.byteLength, 0);
      try {
        current ??= await newSegment();
        let written = 0;
        const data = Buffer.concat(group.map((p) => p.record));
        while (written < data.byteLength) written += (await current.fh.write(data, written)).bytesWritten;
        await current.fh.datasync();
        current.bytes += size;
        for (const p of group) p.resolve();
        if (current.bytes >= opts.segmentBytes) await sealCurrent();
      } catch (err) {
        // A failed write may leave a partial record at the end of this segment: seal it (reading
        // stops at the torn record) and start a new segment for the next append.
        bytes -= size;
        log.error({ err }, 'spool write failed; those frames are answered busy');
        await sealCurrent();
        for (const p of group) p.reject(err as Error);
      }
      gauges();
    }
    if (sealWanted) { sealWanted = false; await sealCurrent(); gauges(); }
  }

  function kick(): void {
    writing ??= pump().finally(() => { writing = undefined; if (pending.length || sealWanted) kick(); });
  }

  return {
    get enabled() { return opts.maxBytes > 0; },
    get bytes() { return bytes; },
    get capacity() { return opts.maxBytes; },
    /** Segments on disk (sealed or being written). */
    get segments() { return sealed.length + (current ? 1 : 0); },
    get empty() { return sealed.length === 0 && !current && pending.length === 0; },
    /** Whether a record of this many payload bytes fits. */
    fits(payloadBytes: number): boolean {
      const fits = opts.maxBytes > 0 && bytes + payloadBytes + 8 + SPOOL_MAGIC.byteLength <= opts.maxBytes;
      if (!fits) full = true;
      return fits;
    },
    /** Whether the last append that asked found no room (and nothing has drained since). */
    get full() { return full || opts.maxBytes === 0; },
    /** Appends one record; resolves once it is on disk (fsynced). Rejects when it could not be written. */
    append(payload: Uint8Array): Promise<void> {
      const record = encodeRecord(payload);
      bytes += record.byteLength;
      gauges();
      return new Promise<void>((resolve, reject) => {
        pending.push({ record, resolve, reject });
        kick();
      });
    },
    /** The oldest sealed segment, sealing the one being written if it is the only one left. */
    async oldest(): Promise<string | undefined> {
      if (!sealed.length && current) {
        sealWanted = true;
        kick();
        await writing;
      }
      return sealed[0]?.file;
    },
    /** The segment's events are committed: delete it. */
    async remove(file: string): Promise<void> {
      const i = sealed.findIndex((s) => s.file === file);
      if (i < 0) return;
      const [seg] = sealed.splice(i, 1);
      await rm(seg!.file, { force: true });
      bytes -= seg!.bytes;
      full = false;
      gauges();
    },
    /** The segment is not a spool file at all: keep it aside for inspection, never drain or delete it. */
    async setAside(file: string): Promise<void> {
      const i = sealed.findIndex((s) => s.file === file);
      if (i < 0) return;
      const [seg] = sealed.splice(i, 1);
      await rename(seg!.file, `${seg!.file}.corrupt`);
      bytes -= seg!.bytes;
      gauges();
    },
    async close(): Promise<void> {
      while (writing) await writing;
      await sealCurrent();
      gauges();
    },
  };
}

export type Spool = Awaited<ReturnType<typeof openSpool>>;
