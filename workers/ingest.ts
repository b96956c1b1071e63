// Piscina task: decode a batch of ev frames (from many terminals) plus the hub's own access
// decisions, validate them, and store them with one COPY and one statement in one transaction.
// The outcome of every seq goes back so the hub can ack only what is committed (PROTOCOL section 4).
import { readFile } from 'node:fs/promises';
import { workerData } from 'piscina';
import { decodeFrame } from '../protocol/codec.js';
import { MAX_EVENTS_PER_FRAME, type QuarantineCode } from '../protocol/frames.js';
import { compileFrameValidators, describeErrors } from '../protocol/schemas.js';
import { readSegment } from '../protocol/spool.js';
import type { DrainResult, DrainTask, FrameItem, FrameOutcome, HubEventItem, IngestResult, IngestTask, WorkerSettings } from '../protocol/tasks.js';
import { classify, rawOf, type EventRow } from './classify.js';
import { byteaHex, copyRow, type CopyValue } from './copy-text.js';
import type postgres from 'postgres';
import { connect, copyFrom, isUnavailable, type Sql } from './db.js';
import { resolutionMaps, stageFast, storeFast, type ReadFrame } from './fast-path.js';

const settings = workerData as WorkerSettings;
const credentialKey = Buffer.from(settings.credentialKey, 'hex');
const frameValidators = compileFrameValidators();
let sql: Sql | undefined;
const db = () => (sql ??= connect({ databaseUrl: settings.databaseUrl, poolSize: 1, applicationName: 'lintel-ingest' }));

// postgres.js 3.4.9 does not recover a connection that died inside begin() (porsager/postgres#1208,
// #1215): every later query ends in CONNECT_TIMEOUT, and a stray write to the dead socket throws
// from a timer, killing this worker. A fresh client for the next batch is the reliable way back.
function dropClient(): void {
  const old = sql;
  sql = undefined;
  old?.end({ timeout: 0 }).catch(() => {});
}

const STAGING_COLUMNS = [
  'ord', 'org_id', 'site_id', 'device_id', 'source', 'boot', 'seq', 'ts', 'kind', 'cred_hash', 'person_ext',
  'door_code', 'person_id', 'door_id', 'dir', 'granted', 'reason', 'state', 'code', 'detail', 'rid', 'rule',
  'data', 'q_code', 'q_detail', 'raw',
] as const;

const CREATE_STAGING = `CREATE TEMP TABLE IF NOT EXISTS staging_events (
  ord int, org_id uuid, site_id uuid, device_id uuid, source "char", boot bigint, seq bigint, ts timestamptz,
  kind text, cred_hash bytea, person_ext text, door_code text, person_id uuid, door_id uuid, dir text,
  granted boolean, reason text, state text, code text, detail text, rid bigint, rule text, data jsonb,
  q_code text, q_detail text, raw jsonb) ON COMMIT DELETE ROWS`;

// Resolves credentials, people and doors, records each identity once in event_keys, and routes
// new rows to events or quarantine. Returns only the rows that are not "new and stored".
const RESOLVE_AND_STORE = `
WITH r AS (
  SELECT s.*, c.id AS rcred, coalesce(s.person_id, c.person_id, p.id) AS rperson, coalesce(s.door_id, d.id) AS rdoor
  FROM staging_events s
  LEFT JOIN credentials c ON s.cred_hash IS NOT NULL AND c.org_id = s.org_id AND c.cred_hash = s.cred_hash
  LEFT JOIN people p ON s.person_ext IS NOT NULL AND p.org_id = s.org_id AND p.external_id = s.person_ext
  LEFT JOIN doors d ON s.door_code IS NOT NULL AND d.site_id = s.site_id AND d.code = s.door_code
), v AS (
  SELECT r.*, CASE
    WHEN r.q_code IS NOT NULL THEN r.q_code
    WHEN r.kind = 'punch' AND r.cred_hash IS NOT NULL AND r.rcred IS NULL THEN 'unknown_credential'
    WHEN r.kind = 'punch' AND r.person_ext IS NOT NULL AND r.rperson IS NULL THEN 'unknown_person'
    WHEN r.door_code IS NOT NULL AND r.rdoor IS NULL THEN 'unknown_door'
  END AS fq
  FROM r
), k AS (
  INSERT INTO event_keys (device_id, source, boot, seq, outcome)
  SELECT device_id, source, boot, seq, CASE WHEN fq IS NULL THEN 's' ELSE 'q' END FROM v WHERE seq IS NOT NULL
  ON CONFLICT DO NOTHING
  RETURNING device_id, source, boot, seq
), e AS (
  INSERT INTO events (ts, org_id, site_id, device_id, source, boot, seq, kind, person_id, credential_id, cred_hash,
                      door_id, dir, granted, reason, state, code, detail, rid, rule, data)
  SELECT v.ts, v.org_id, v.site_id, v.device_id, CASE v.source WHEN 'h' THEN 'hub' ELSE 'terminal' END, v.boot, v.seq,
         v.kind, v.rperson, v.rcred, v.cred_hash, v.rdoor, v.dir, v.granted, v.reason, v.state, v.code, v.detail,
         v.rid, v.rule, v.data
  FROM v JOIN k USING (device_id, source, boot, seq)
  WHERE v.fq IS NULL
  RETURNING 1
), q AS (
  INSERT INTO quarantine (org_id, site_id, device_id, source, boot, seq, code, detail, raw)
  SELECT v.org_id, v.site_id, v.device_id, CASE v.source WHEN 'h' THEN 'hub' ELSE 'terminal' END, v.boot, v.seq,
         v.fq, v.q_detail, coalesce(v.raw, '{}'::jsonb)
  FROM v LEFT JOIN k USING (device_id, source, boot, seq)
  WHERE v.fq IS NOT NULL AND (v.seq IS NULL OR k.seq IS NOT NULL)
  RETURNING 1
)
SELECT v.ord, v.fq, (k.seq IS NOT NULL) AS fresh, (SELECT count(*) FROM e) AS n_events, (SELECT count(*) FROM q) AS n_quarantined
FROM v LEFT JOIN k USING (device_id, source, boot, seq)
WHERE v.fq IS NOT NULL OR k.seq IS NULL
UNION ALL
SELECT -1, NULL, NULL, (SELECT count(*) FROM e), (SELECT count(*) FROM q)`;

interface Staged {
  values: CopyValue[][]; // one per row, in staging column order (ord first)
  /** Rows whose raw column waits for the staging path (the fast path never needs it): ord -> the event as received. */
  lazyRaw: Map<number, unknown>;
  rows?: string[]; // COPY text for staging and the spool, made on first use (stagingRows)
  frames: { item: FrameItem; boot: number; ords: { seq: number; ord: number }[]; q: Map<number, QuarantineCode>; unsequenced: number }[];
  outcomes: FrameOutcome[];
}

/** Decodes, validates and classifies one ev frame; the answer instead when the frame cannot be read. */
function readFrame(item: FrameItem, now: number): ReadFrame | FrameOutcome {
  let frame: Record<string, unknown>;
  try {
    frame = decodeFrame(item.bytes, item.encoding);
  } catch (err) {
    return { ref: item.ref, ok: false, code: 'LINTEL_ERR_FRAME_UNDECODABLE', msg: (err as Error).message };
  }
  const events = frame.events;
  if (Array.isArray(events) && events.length > MAX_EVENTS_PER_FRAME) {
    return { ref: item.ref, ok: false, code: 'LINTEL_ERR_FRAME_TOO_MANY_EVENTS', msg: `${events.length} events; at most ${MAX_EVENTS_PER_FRAME}` };
  }
  if (!frameValidators.ev(frame)) return { ref: item.ref, ok: false, code: 'LINTEL_ERR_FRAME_INVALID', msg: describeErrors(frameValidators.ev) };
  const opts = { now, maxAgeMs: settings.maxEventAgeMs, maxFutureMs: settings.maxEventFutureMs, credentialKey, encoding: item.encoding };
  const list = events as unknown[];
  const rows: EventRow[] = new Array(list.length);
  try {
    for (let i = 0; i < list.length; i++) rows[i] = classify(list[i], opts);
  } catch (err) {
    // Whatever a frame holds must not fail the batch it shares with other terminals' frames.
    return { ref: item.ref, ok: false, code: 'LINTEL_ERR_FRAME_INVALID', msg: `an event cannot be read: ${(err as Error).message}` };
  }
  return { item, boot: frame.boot as number, rows, events: list };
}

/** Every frame of a batch read: the hub's records, the readable frames, the answers of the others. */
function readAll(items: IngestTask['items'], now: number) {
  const hub: HubEventItem[] = [];
  const frames: ReadFrame[] = [];
  const bad: FrameOutcome[] = [];
  for (const item of items) {
    if (item.kind === 'hub') { hub.push(item); continue; }
    const read = readFrame(item, now);
    if ('rows' in read) frames.push(read);
    else bad.push(read);
  }
  return { hub, frames, bad };
}

type Read = ReturnType<typeof readAll>;

/** The batch as staging rows (the path that lets PostgreSQL resolve and deduplicate). */
function stage(read: Read): Staged {
  const staged: Staged = { values: [], lazyRaw: new Map(), frames: [], outcomes: [...read.bad] };
  const firstOrd = new Map<string, number>(); // identity -> ord of its first row in this batch
  const addRow = (key: string | null, values: CopyValue[]): number => {
    if (key !== null) {
      const seen = firstOrd.get(key);
      if (seen !== undefined) return seen;
      firstOrd.set(key, staged.values.length);
    }
    const ord = staged.values.length;
    staged.values.push([ord, ...values]);
    return ord;
  };
  for (const item of read.hub) addRow(`${item.deviceId}|h|${item.boot}|${item.seq}`, hubValues(item));
  for (const { item, boot, rows } of read.frames) {
    const entry: Staged['frames'][number] = { item, boot, ords: [], q: new Map(), unsequenced: 0 };
    for (const row of rows) {
      const key = row.seq === null ? null : `${item.deviceId}|t|${boot}|${row.seq}`;
      const ord = addRow(key, terminalValues(item, boot, row));
      if (row.rawSource !== undefined && !staged.lazyRaw.has(ord)) staged.lazyRaw.set(ord, row.rawSource);
      if (row.seq !== null) {
        entry.ords.push({ seq: row.seq, ord });
        if (row.qCode) entry.q.set(row.seq, row.qCode);
      } else entry.unsequenced++; // quarantined (bad_seq) on every delivery; no seq to ack
    }
    staged.frames.push(entry);
  }
  return staged;
}

/** The batch as COPY text in staging column order, each raw column filled in. */
function stagingRows(staged: Staged): string[] {
  staged.rows ??= staged.values.map((v) => {
    const source = staged.lazyRaw.get(v[0] as number);
    if (source === undefined) return copyRow(v);
    const row = [...v];
    row[row.length - 1] = json(rawOf(source, credentialKey));
    return copyRow(row);
  });
  return staged.rows;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

function terminalValues(item: FrameItem, boot: number, r: EventRow): CopyValue[] {
  return [
    item.orgId, item.siteId, item.deviceId, 't', boot, r.seq, iso(r.ts), r.kind, byteaHex(r.credHash), r.personExt,
    r.doorCode, null, null, r.dir, r.granted, r.reason, r.state, r.code, r.detail, r.rid, null, json(r.data),
    r.qCode, r.qDetail, json(r.raw),
  ];
}

function hubValues(h: HubEventItem): CopyValue[] {
  return [
    h.orgId, h.siteId, h.deviceId, 'h', h.boot, h.seq, iso(h.ts), 'access', byteaHex(h.credHash), null, null,
    h.personId, h.doorId, null, h.granted, h.reason, null, null, null, h.rid, h.rule, null, null, null, null,
  ];
}

type Resolved = { ord: number; fq: QuarantineCode | null; fresh: boolean | null; n_events: number; n_quarantined: number }[];

/** COPY rows into the staging table and resolve them into event_keys, events and quarantine. */
async function copyAndResolve(tx: postgres.TransactionSql, rows: string[]): Promise<Resolved> {
  await tx.unsafe(CREATE_STAGING);
  await copyFrom(tx, `COPY staging_events (${STAGING_COLUMNS.join(', ')}) FROM STDIN`, rows.join(''));
  return tx.unsafe<Resolved>(RESOLVE_AND_STORE);
}

/**
 * The fast path (workers/fast-path.ts): null when the batch needs the staging path (an event only
 * PostgreSQL can resolve, or one stored before: SQLSTATE 23505). Other errors propagate.
 */
async function ingestFast(read: Read, stateVersion: number, out: IngestResult): Promise<IngestResult | null> {
  const fast = stageFast(read.hub, read.frames, read.bad, await resolutionMaps(db(), stateVersion));
  if (!fast) return null;
  const started = performance.now();
  try {
    await storeFast(db(), fast);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return null; // an event stored before: sort it out row by row
    throw err;
  }
  return { ...out, frames: fast.frames, stored: fast.nEvents, quarantined: fast.nQuarantined, commitMs: performance.now() - started, path: 'fast' };
}

type StoreError = NonNullable<IngestResult['error']>;

const emptyResult = (hubEvents: number): IngestResult => ({ frames: [], hubEvents, stored: 0, duplicates: 0, quarantined: 0, commitMs: 0 });
const storeError = (err: unknown): StoreError => ({ code: (err as { code?: string }).code ?? 'unknown', message: (err as Error).message, unavailable: isUnavailable(err) });
/** PostgreSQL refused what the batch holds (SQLSTATE class 22 data exception, 23 integrity), not the work: sent again, it fails again. */
const refusesData = (err: unknown) => /^2[23]/.test((err as { code?: string }).code ?? '');

async function ingest(task: IngestTask): Promise<IngestResult> {
  const now = Date.now();
  const read = readAll(task.items, now);
  const out = emptyResult(read.hub.length);
  let failure: unknown;
  if (!task.spoolOnly && task.stateVersion !== undefined && (read.hub.length || read.frames.length)) {
    try {
      const done = await ingestFast(read, task.stateVersion, out);
      if (done) return done;
    } catch (err) {
      failure = err; // not stored: answered below as the staging path's failure would be
    }
  }
  const staged = stage(read);
  out.frames = staged.outcomes;
  if (staged.values.length === 0) return out;
  if (task.spoolOnly) return forSpool(out, staged, { code: 'LINTEL_ERR_STORE_UNAVAILABLE', message: 'store down: batch goes to the spool', unavailable: true });
  try {
    if (failure) throw failure; // the fast path's error is the batch's: the staging path would meet it again
    return await storeStaged(staged, out);
  } catch (err) {
    const error = storeError(err);
    // Nothing of this batch is committed. Unreachable: the hub may spool it and ack. Refused for
    // its data: frame by frame, so that the value PostgreSQL refuses holds up nothing else.
    // Refused otherwise (a timeout, a deadlock): every frame is answered busy and will be resent.
    if (error.unavailable) {
      dropClient();
      return forSpool(out, staged, error);
    }
    if (refusesData(err)) return storeApart(read);
    for (const f of staged.frames) out.frames.push(busyError(f, error));
    out.error = error;
    return out;
  }
}

const busyError = (f: Staged['frames'][number], error: StoreError): FrameOutcome =>
  ({ ref: f.item.ref, ok: false, code: 'busy_error', msg: error.message, boot: f.boot, seqs: f.ords.map((o) => o.seq) });

/** Commits staged rows and answers each frame from what PostgreSQL reports. Throws what the store throws. */
async function storeStaged(staged: Staged, out: IngestResult): Promise<IngestResult> {
  const started = performance.now();
  const result = await db().begin((tx) => copyAndResolve(tx, stagingRows(staged)));
  out.commitMs = performance.now() - started;
  out.path = 'staging';
  const notFresh = new Map<number, { fq: QuarantineCode | null; fresh: boolean }>();
  for (const r of result) {
    if (r.ord === -1) { out.stored = Number(r.n_events); out.quarantined = Number(r.n_quarantined); continue; }
    notFresh.set(r.ord, { fq: r.fq, fresh: Boolean(r.fresh) });
  }
  const counted = new Set<number>(); // a row seen twice in one batch counts once as new
  for (const f of staged.frames) {
    const seqs: number[] = [];
    const q: { seq: number; code: QuarantineCode }[] = [];
    let fresh = 0;
    let duplicates = 0;
    let quarantined = f.unsequenced; // counted so the hub's loss accounting matches the quarantine table
    for (const { seq, ord } of f.ords) {
      seqs.push(seq);
      const r = notFresh.get(ord);
      const code = r?.fq ?? null;
      if (code) q.push({ seq, code });
      if (counted.has(ord) || (r && !r.fresh)) duplicates++;
      else if (code) quarantined++;
      else fresh++;
      counted.add(ord);
    }
    out.duplicates += duplicates;
    out.frames.push({ ref: f.item.ref, ok: true, boot: f.boot, seqs, q, stored: fresh, duplicates, quarantined });
  }
  return out;
}

/**
 * PostgreSQL refused the batch for a value in it. Each frame (and the hub's own records) is
 * stored in its own transaction; a frame refused on its own is stored with the events PostgreSQL
 * refuses quarantined (store_rejected). A store error meanwhile answers the frames it touches
 * busy (once the store is unreachable, every frame left too); what committed stays committed and is acked.
 */
async function storeApart(read: Read): Promise<IngestResult> {
  const out: IngestResult = { ...emptyResult(read.hub.length), frames: [...read.bad], path: 'apart' };
  const units: Read[] = read.frames.map((f) => ({ hub: [], frames: [f], bad: [] }));
  if (read.hub.length) units.unshift({ hub: read.hub, frames: [], bad: [] });
  for (const unit of units) {
    const staged = stage(unit);
    let part: IngestResult | undefined;
    let error = out.error?.unavailable ? out.error : undefined; // unreachable: not tried again in this batch
    if (!error) {
      try {
        part = await storeStaged(staged, emptyResult(unit.hub.length));
      } catch (err) {
        error = storeError(err);
        if (refusesData(err) && unit.frames.length === 1) {
          try {
            part = await storeStaged(stage({ ...unit, frames: [await withRefusedQuarantined(unit.frames[0]!)] }), emptyResult(0));
            error = undefined;
          } catch (again) {
            error = storeError(again);
          }
        }
      }
    }
    if (part) {
      out.frames.push(...part.frames);
      out.stored += part.stored;
      out.duplicates += part.duplicates;
      out.quarantined += part.quarantined;
      out.commitMs += part.commitMs;
      continue;
    }
    if (error!.unavailable && error !== out.error) dropClient();
    for (const f of staged.frames) out.frames.push(busyError(f, error!));
    // The hub requeues its records and counts a store error; its frames alone are answered busy otherwise.
    if (unit.hub.length || error!.unavailable) out.error = error;
  }
  return out;
}

/**
 * The frame with each event PostgreSQL refuses on its own (tried one by one in a transaction
 * that is rolled back) turned into a quarantine row: identity, code store_rejected, PostgreSQL's
 * reason and the event as received. No other column of it is kept, so none can be refused again.
 */
async function withRefusedQuarantined(frame: ReadFrame): Promise<ReadFrame> {
  const rows = [...frame.rows];
  const dryRun = new Error('dry run');
  try {
    await db().begin(async (tx) => {
      for (let i = 0; i < frame.rows.length; i++) {
        const one = stage({ hub: [], frames: [{ ...frame, rows: [frame.rows[i]!], events: [frame.events[i]] }], bad: [] });
        try {
          await tx.savepoint(async (sp) => {
            await copyAndResolve(sp, stagingRows(one));
            await sp.unsafe('TRUNCATE staging_events'); // the next event is tried alone
          });
        } catch (err) {
          if (!refusesData(err)) throw err;
          const e = err as { code?: string; message: string };
          rows[i] = {
            seq: frame.rows[i]!.seq, ts: null, kind: frame.rows[i]!.kind, credHash: null, personExt: null, doorCode: null, dir: null,
            granted: null, reason: null, state: null, code: null, detail: null, rid: null, data: null,
            qCode: 'store_rejected', qDetail: `${e.code}: ${e.message}`, raw: null, rawSource: frame.events[i],
          };
        }
      }
      throw dryRun;
    });
  } catch (err) {
    if (err !== dryRun) throw err;
  }
  return { ...frame, rows };
}

/**
 * The store is unreachable: hand the batch back as one spool record, its rows exactly as they
 * would have been copied (validated and classified now; credentials already HMAC'd, so no
 * credential identifier reaches the disk). Each frame is answered busy, naming what the hub acks
 * once the record is fsynced: its seqs and the quarantine codes known without the store.
 */
function forSpool(out: IngestResult, staged: Staged, error: NonNullable<IngestResult['error']>): IngestResult {
  for (const f of staged.frames) {
    out.frames.push({
      ref: f.item.ref, ok: false, code: 'busy', msg: error.message, boot: f.boot, seqs: f.ords.map((o) => o.seq),
      spool: { q: [...f.q].map(([seq, code]) => ({ seq, code })), events: f.ords.length + f.unsequenced },
    });
  }
  out.spool = Buffer.from(stagingRows(staged).join(''), 'utf8');
  out.error = error;
  return out;
}

/** Spooled bytes per transaction when draining: about a live batch, so a retry is cheap. */
const DRAIN_BYTES = 1024 * 1024;

/**
 * Stores one sealed spool segment, record by record in order; each record is one batch, copied
 * and resolved as the live path does, several to a transaction. Identity is (device, boot, seq)
 * as on the live path, so a segment drained twice (the hub died before deleting it) adds nothing.
 * A torn tail is reported, never stored.
 */
async function drain(task: DrainTask): Promise<DrainResult> {
  let segment;
  try {
    segment = readSegment(await readFile(task.drain));
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unknown';
    return { records: 0, tornBytes: 0, stored: 0, quarantined: 0, duplicates: 0, error: { code, message: (err as Error).message, unavailable: false } };
  }
  const out: DrainResult = { records: segment.records.length, tornBytes: segment.tornBytes, torn: segment.torn, stored: 0, quarantined: 0, duplicates: 0 };
  try {
    for (let i = 0; i < segment.records.length;) {
      const group: Buffer[] = [];
      let bytes = 0;
      while (i < segment.records.length && (group.length === 0 || bytes + segment.records[i]!.byteLength <= DRAIN_BYTES)) {
        bytes += segment.records[i]!.byteLength;
        group.push(segment.records[i++]!);
      }
      await db().begin(async (tx) => {
        for (const record of group) {
          const text = record.toString('utf8');
          const rows = (text.match(/\n/g) ?? []).length; // one line per row: COPY escapes newlines in values
          const result = await copyAndResolve(tx, [text]);
          const totals = result.find((r) => r.ord === -1)!;
          out.stored += Number(totals.n_events);
          out.quarantined += Number(totals.n_quarantined);
          out.duplicates += rows - Number(totals.n_events) - Number(totals.n_quarantined);
          await tx.unsafe('TRUNCATE staging_events'); // the next record of this transaction starts empty
        }
      });
    }
  } catch (err) {
    if (isUnavailable(err)) dropClient();
    out.error = storeError(err);
  }
  return out;
}

/** Piscina entry: a drain task names a segment file; anything else is a batch to ingest. */
export default function run(task: IngestTask | DrainTask): Promise<IngestResult | DrainResult> {
  return 'drain' in task ? drain(task) : ingest(task);
}
