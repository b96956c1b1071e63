// The ingest fast path (issue P5): a batch whose events all resolve in memory goes from the
// decoded frames straight to COPY text, and is written with one INSERT into event_keys and COPYs
// into events and quarantine, in one transaction. No staging table, no resolving statement, no
// row arrays in between: each frame's constant columns (organization, site, device, source,
// boot) are written once as a prefix, and each frame's seqs go to the ledger as runs
// (lo..hi), expanded by generate_series in PostgreSQL.
//
// It is optimistic about identity: event_keys' primary key rejects the INSERT if any event was
// stored before (a resend) or comes twice in this batch, and the caller then stores the batch
// through the staging path (workers/ingest.ts), which sorts out duplicates row by row. (The
// ledger is an INSERT from arrays, not a COPY, so that a resend fails at once, before any row is
// copied; events and quarantine have no unique key of ours.) What cannot be resolved in memory
// (a credential, person or door this worker's copy does not know) also goes the staging path:
// PostgreSQL is the authority.
import type postgres from 'postgres';
import type { QuarantineCode } from '../protocol/frames.js';
import type { FrameOutcome, IngestTask } from '../protocol/tasks.js';
import type { EventRow } from './classify.js';
import { copyField } from './copy-text.js';
import { copyFrom, type Sql } from './db.js';

interface Cred { id: string; personId: string }
interface Maps {
  version: number;
  creds: Map<string, Map<string, Cred>>; // org -> credential HMAC (hex) -> credential
  people: Map<string, Map<string, string>>; // org -> external id -> person id
  doors: Map<string, Map<string, string>>; // site -> door code -> door id
}

let maps: Maps | undefined;
let loading: Promise<Maps> | undefined;

function nest<V>(rows: Iterable<[string, string, V]>): Map<string, Map<string, V>> {
  const out = new Map<string, Map<string, V>>();
  for (const [outer, inner, v] of rows) {
    let m = out.get(outer);
    if (!m) out.set(outer, (m = new Map()));
    m.set(inner, v);
  }
  return out;
}

/** The worker's copy of what resolves events, reloaded when the hub decides on a newer state version. */
export async function resolutionMaps(sql: Sql, version: number): Promise<Maps> {
  if (maps && maps.version >= version) return maps;
  loading ??= (async () => {
    try {
      return await sql.begin('ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
        const [v] = await tx`SELECT v FROM state_version`;
        const [creds, people, doors] = await Promise.all([
          tx<{ org_id: string; cred_hash: Buffer; id: string; person_id: string }[]>`SELECT org_id, cred_hash, id, person_id FROM credentials`,
          tx<{ org_id: string; external_id: string; id: string }[]>`SELECT org_id, external_id, id FROM people`,
          tx<{ site_id: string; code: string; id: string }[]>`SELECT site_id, code, id FROM doors`,
        ]);
        maps = {
          version: Number(v!.v),
          creds: nest(creds.map((c) => [c.org_id, c.cred_hash.toString('hex'), { id: c.id, personId: c.person_id }])),
          people: nest(people.map((p) => [p.org_id, p.external_id, p.id])),
          doors: nest(doors.map((d) => [d.site_id, d.code, d.id])),
        };
        return maps;
      });
    } finally {
      loading = undefined;
    }
  })();
  return loading;
}

/** A frame the worker could read: its events classified (workers/classify.ts), in order. */
export interface ReadFrame {
  item: Extract<IngestTask['items'][number], { kind: 'frame' }>;
  boot: number;
  rows: EventRow[];
  /** The events as received, row for row: an event the store refuses is quarantined with it. */
  events: unknown[];
}

export interface FastBatch {
  /** event_keys as runs of consecutive seqs with one outcome: row i stands for seqs lo[i]..hi[i]. */
  runs: { device: string[]; source: string[]; boot: number[]; lo: number[]; hi: number[]; outcome: string[] };
  events: string; // COPY text in EVENT_COLUMNS order
  quarantine: string; // COPY text in QUARANTINE_COLUMNS order
  nEvents: number;
  nQuarantined: number;
  frames: FrameOutcome[];
}

/** Column order puts what a frame shares first, so each line starts with the frame's prefix. */
const EVENT_COLUMNS = 'org_id, site_id, device_id, source, boot, seq, ts, kind, person_id, credential_id, cred_hash, door_id, dir, granted, reason, state, code, detail, rid, rule, data';
const QUARANTINE_COLUMNS = 'org_id, site_id, device_id, source, boot, seq, code, detail, raw';

const N = '\\N';
const text = (v: string | null) => (v === null ? N : copyField(v));
const num = (v: number | null) => (v === null ? N : String(v));
const bool = (v: boolean | null) => (v === null ? N : v ? 't' : 'f');
const json = (v: unknown) => (v === null || v === undefined ? N : copyField(JSON.stringify(v)));

let lastTsMs = NaN;
let lastTs = '';
/** ISO text of a timestamp; a frame's events often share one. */
function iso(ms: number): string {
  if (ms !== lastTsMs) {
    lastTsMs = ms;
    lastTs = new Date(ms).toISOString();
  }
  return lastTs;
}

function addRun(b: FastBatch, device: string, source: string, boot: number, seq: number, outcome: string): void {
  const r = b.runs;
  const i = r.hi.length - 1;
  if (i >= 0 && r.hi[i] === seq - 1 && r.device[i] === device && r.boot[i] === boot && r.outcome[i] === outcome && r.source[i] === source) {
    r.hi[i] = seq;
    return;
  }
  r.device.push(device);
  r.source.push(source);
  r.boot.push(boot);
  r.lo.push(seq);
  r.hi.push(seq);
  r.outcome.push(outcome);
}

/**
 * The batch as COPY text and ledger runs, with each frame's answer, or null when an event needs
 * PostgreSQL to resolve it (the staging path then stores the whole batch). `hub` are the hub's
 * own decision records, `frames` the terminals' frames already read and classified, `bad` the
 * answers of frames that could not be read.
 */
export function stageFast(hub: Extract<IngestTask['items'][number], { kind: 'hub' }>[], frames: ReadFrame[], bad: FrameOutcome[], m: Maps): FastBatch | null {
  const b: FastBatch = { runs: { device: [], source: [], boot: [], lo: [], hi: [], outcome: [] }, events: '', quarantine: '', nEvents: 0, nQuarantined: 0, frames: [...bad] };
  for (const h of hub) {
    const cred = m.creds.get(h.orgId)?.get(h.credHash);
    addRun(b, h.deviceId, 'h', h.boot, h.seq, 's');
    b.events += `${h.orgId}\t${h.siteId}\t${h.deviceId}\thub\t${h.boot}\t${h.seq}\t${iso(h.ts)}\taccess\t${h.personId ?? cred?.personId ?? N}\t${cred?.id ?? N}\t\\\\x${h.credHash}\t${h.doorId ?? N}\t${N}\t${bool(h.granted)}\t${text(h.reason)}\t${N}\t${N}\t${N}\t${h.rid}\t${text(h.rule)}\t${N}\n`;
    b.nEvents++;
  }
  for (const { item, boot, rows } of frames) {
    const creds = m.creds.get(item.orgId);
    const people = m.people.get(item.orgId);
    const doors = m.doors.get(item.siteId);
    const prefix = `${item.orgId}\t${item.siteId}\t${item.deviceId}\tterminal\t${boot}\t`;
    const seqs: number[] = [];
    const q: { seq: number; code: QuarantineCode }[] = [];
    let stored = 0;
    let quarantined = 0;
    for (const r of rows) {
      if (r.qCode) {
        quarantined++;
        if (r.seq !== null) {
          seqs.push(r.seq);
          q.push({ seq: r.seq, code: r.qCode });
          addRun(b, item.deviceId, 't', boot, r.seq, 'q');
        }
        b.quarantine += `${prefix}${num(r.seq)}\t${r.qCode}\t${text(r.qDetail)}\t${r.raw === null || r.raw === undefined ? '{}' : json(r.raw)}\n`;
        continue;
      }
      const cred = r.credHash === null ? undefined : creds?.get(r.credHash);
      const person = cred?.personId ?? (r.personExt === null ? null : people?.get(r.personExt) ?? null);
      const door = r.doorCode === null ? null : doors?.get(r.doorCode) ?? null;
      if (r.kind === 'punch' && r.credHash !== null && !cred) return null;
      if (r.kind === 'punch' && r.personExt !== null && person === null) return null;
      if (r.doorCode !== null && door === null) return null;
      const seq = r.seq!; // only quarantined rows lack one
      seqs.push(seq);
      addRun(b, item.deviceId, 't', boot, seq, 's');
      b.events += `${prefix}${seq}\t${iso(r.ts!)}\t${r.kind}\t${person ?? N}\t${cred?.id ?? N}\t${r.credHash === null ? N : `\\\\x${r.credHash}`}\t${door ?? N}\t${text(r.dir)}\t${bool(r.granted)}\t${text(r.reason)}\t${text(r.state)}\t${text(r.code)}\t${text(r.detail)}\t${num(r.rid)}\t${N}\t${json(r.data)}\n`;
      stored++;
    }
    b.nEvents += stored;
    b.nQuarantined += quarantined;
    b.frames.push({ ref: item.ref, ok: true, boot, seqs, q, stored, duplicates: 0, quarantined });
  }
  return b;
}

async function copyInto(tx: postgres.TransactionSql, table: string, rows: string): Promise<void> {
  if (rows.length) await copyFrom(tx, `COPY ${table} FROM STDIN`, rows);
}

/** Writes a fast batch in one transaction. Rejects with SQLSTATE 23505 when an event was stored before or comes twice. */
export async function storeFast(sql: Sql, b: FastBatch): Promise<void> {
  if (b.nEvents + b.nQuarantined === 0) return; // frames without events: nothing to write
  await sql.begin(async (tx) => {
    const r = b.runs;
    if (r.lo.length) {
      await tx`INSERT INTO event_keys (device_id, source, boot, seq, outcome)
               SELECT d, s, bt, generate_series(lo, hi), o
               FROM unnest(${r.device}::uuid[], ${r.source}::"char"[], ${r.boot}::bigint[], ${r.lo}::bigint[], ${r.hi}::bigint[], ${r.outcome}::"char"[]) AS k(d, s, bt, lo, hi, o)`;
    }
    await copyInto(tx, `events (${EVENT_COLUMNS})`, b.events);
    await copyInto(tx, `quarantine (${QUARANTINE_COLUMNS})`, b.quarantine);
  });
}
