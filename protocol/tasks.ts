// What the event loop hands the worker pool and what comes back. Everything here crosses a
// thread boundary by structured clone, so it stays plain data.
import type { CmdFrame, Encoding, QuarantineCode } from './frames.js';

/** Settings a worker gets through workerData (never from process.env). */
export interface WorkerSettings {
  databaseUrl: string;
  credentialKey: string; // hex; HMAC key for credential identifiers
  maxEventAgeMs: number;
  maxEventFutureMs: number;
  poolSize: number; // connections per worker
}

/** The device an ev frame was received from: events are attributed to it alone. */
export interface DeviceRef { deviceId: string; orgId: string; siteId: string }

/** One ev frame as received, still encoded. */
export interface FrameItem extends DeviceRef {
  kind: 'frame';
  ref: number; // the session's frame number, to route the answer back
  encoding: Encoding;
  bytes: Uint8Array;
}

/** An access decision the hub made itself (PROTOCOL section 5), recorded like any event. */
export interface HubEventItem extends DeviceRef {
  kind: 'hub';
  boot: number;
  seq: number;
  ts: number;
  credHash: string;
  doorId: string | null;
  personId: string | null;
  granted: boolean;
  reason: string;
  rule: string | null;
  rid: number;
}

export interface IngestTask {
  items: (FrameItem | HubEventItem)[];
  /** PostgreSQL is known to be down: do not try it, return the batch for the spool at once. */
  spoolOnly?: boolean;
  /** The access state version the hub decides on: the worker's resolution maps must be at least this new. */
  stateVersion?: number;
}

/** Drain one sealed spool segment (a file path) into PostgreSQL. */
export interface DrainTask { drain: string }

export interface DrainResult {
  records: number;
  tornBytes: number;
  torn?: string;
  /** Rows new in events / quarantine (hub records included), identities already stored. */
  stored: number;
  quarantined: number;
  duplicates: number;
  error?: { code: string; message: string; unavailable: boolean };
}

export type FrameOutcome =
  | { ref: number; ok: true; boot: number; seqs: number[]; q: { seq: number; code: QuarantineCode }[]; stored: number; duplicates: number; quarantined: number; spooled?: number }
  // The frame itself is bad (PROTOCOL section 4: error bad_frame); nothing of it is stored.
  | { ref: number; ok: false; code: string; msg: string; boot?: undefined; seqs?: undefined }
  // The store did not commit: answer busy (code 'busy': unreachable; 'busy_error': it refused the batch).
  // With `spool` the frame is in the result's spool payload: once that is fsynced the hub acks
  // it (with `q`, the quarantine codes known before the store), else it answers busy.
  | { ref: number; ok: false; code: 'busy' | 'busy_error'; msg: string; boot: number; seqs: number[]; spool?: { q: { seq: number; code: QuarantineCode }[]; events: number } };

export interface IngestResult {
  frames: FrameOutcome[];
  hubEvents: number;
  stored: number;
  duplicates: number;
  quarantined: number;
  commitMs: number;
  error?: { code: string; message: string; unavailable: boolean };
  /** The batch's rows (COPY text) when the store was unreachable: one spool record. */
  spool?: Uint8Array;
  /** How it was stored: fast (plain inserts, resolved in memory), staging (resolving statement), or apart (frame by frame, after PostgreSQL refused the batch's data). */
  path?: 'fast' | 'staging' | 'apart';
}

/** Everything the access engine decides from, as loaded by the control worker. Times are ms. */
export interface AccessSnapshot {
  version: number;
  sites: { id: string; orgId: string; name: string; tz: string }[];
  doors: { id: string; siteId: string; code: string; name: string; openMs: number; lockedDown: boolean }[];
  devices: { id: string; siteId: string; name: string; tokenHash: string; enabled: boolean; doorIds: string[] }[];
  people: { id: string; orgId: string; externalId: string; status: string; validFrom: number | null; validUntil: number | null }[];
  credentials: { id: string; orgId: string; personId: string; credHash: string; status: string; validFrom: number | null; validUntil: number | null }[];
  groups: { id: string; orgId: string; name: string; members: string[]; doors: string[]; windows: [dow: number, start: number, end: number][] }[];
  apiKeys: { id: string; orgId: string; name: string; role: 'admin' | 'operator' | 'viewer'; keyHash: string }[];
}

/** Messages the control worker's listener posts to the hub. */
export type ControlMessage =
  | { type: 'listening' }
  | { type: 'state'; version: number }
  | { type: 'fleet'; message: FleetMessage };

/**
 * What hubs tell each other over PostgreSQL NOTIFY (channel lintel_fleet, JSON, well under the
 * 8000-byte payload limit). `from`/`to` are hub ids; a hub ignores its own messages.
 */
export type FleetMessage =
  // A device's session was claimed on hub `from` with generation `gen`: older sessions close (4001).
  | { t: 'session'; from: string; device: string; gen: number }
  // A door command for the terminal session hub `to` holds.
  | { t: 'cmd'; from: string; to: string; id: string; device: string; frame: Omit<CmdFrame, 't' | 'id'> }
  // Its answer: the terminal's cmd_res, or `offline` when the session is gone.
  | { t: 'cmd_res'; from: string; to: string; id: string; ok: boolean; code?: string; offline?: boolean; sent_at?: number; answered_at?: number };
