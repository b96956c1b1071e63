// LTP/1 frame types and protocol constants (../shared/PROTOCOL.md). Pure: no I/O, no project imports.

export const PROTOCOL_PATH = '/v1/terminal';

// PROTOCOL section 2: limits.
export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_EVENTS_PER_FRAME = 500;
export const MAX_EVENT_DATA_BYTES = 1024;
export const HELLO_TIMEOUT_MS = 10_000;
export const BAD_FRAME_LIMIT = 10;
export const BAD_FRAME_WINDOW_MS = 60_000;

// PROTOCOL section 8.
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  tokenRevoked: 1008,
  tooLarge: 1009,
  saturated: 1013,
  protocolViolation: 4000,
  replaced: 4001,
  deviceDisabled: 4003,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

export const EVENT_KINDS = ['punch', 'access', 'door', 'alarm'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
export const PUNCH_DIRS = ['in', 'out', 'break_out', 'break_in', 'unknown'] as const;
export type PunchDir = (typeof PUNCH_DIRS)[number];
export const DOOR_STATES = ['opened', 'closed', 'forced', 'held', 'unlocked', 'locked'] as const;
export const COMMAND_ACTIONS = ['unlock', 'lock', 'hold_open', 'lockdown', 'release'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

// PROTOCOL section 5: every reason an access decision can carry.
export const ACCESS_REASONS = [
  'granted',
  'unknown_credential',
  'credential_revoked',
  'person_suspended',
  'not_yet_valid',
  'expired',
  'no_access_to_door',
  'outside_schedule',
  'door_locked_down',
  'anti_passback',
] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

// Reason codes in ack.q: why an event went to quarantine (PROTOCOL section 4).
export const QUARANTINE_CODES = [
  'unknown_kind', // kind is not one of EVENT_KINDS
  'bad_field', // a field is missing or has the wrong type or value
  'bad_seq', // seq is not a positive safe integer: the event has no identity
  'data_too_large', // data map over MAX_EVENT_DATA_BYTES encoded
  'implausible_time', // ts is not a real instant within the accepted window
  'unknown_credential', // a punch whose cred resolves to no credential of the organization
  'unknown_person', // a punch whose person resolves to no person of the organization
  'unknown_door', // the door is not one the device drives
  'store_rejected', // PostgreSQL refused a value every check before it passed (detail: its SQLSTATE and message)
] as const;
export type QuarantineCode = (typeof QUARANTINE_CODES)[number];

export type Encoding = 'msgpack' | 'json';

export interface HelloFrame { t: 'hello'; boot: number; time: number; fw?: string; model?: string }
export interface WelcomeFrame {
  t: 'welcome'; device: string; site_tz: string; server_time: number; last_seq: number;
  heartbeat_s: number; max_batch: number;
}
export interface TerminalEvent {
  seq: number; ts: number; kind: string; data?: Record<string, unknown>; [field: string]: unknown;
}
export interface EvFrame { t: 'ev'; boot: number; events: TerminalEvent[] }
export interface AckFrame { t: 'ack'; boot: number; seqs: number[]; q?: { seq: number; code: QuarantineCode }[] }
export interface BusyFrame { t: 'busy'; boot: number; seqs: number[]; retry_ms: number }
export interface ErrorFrame { t: 'error'; code: string; msg: string }
export interface AuthFrame { t: 'auth'; id: number; cred: string; door: string; ts?: number }
export interface AuthResFrame {
  t: 'auth_res'; id: number; ok: boolean; reason: AccessReason; person?: string; open_ms?: number;
}
export interface CmdFrame {
  t: 'cmd'; id: string; action: CommandAction; door?: string; duration_ms?: number; expires_at: number;
}
export interface CmdResFrame { t: 'cmd_res'; id: string; ok: boolean; code?: string }
export interface PingFrame { t: 'ping'; id: number | string; time: number }
export interface PongFrame { t: 'pong'; id: number | string; time: number; server_time: number }

export type TerminalFrame = HelloFrame | EvFrame | AuthFrame | CmdResFrame | PingFrame;
export type HubFrame =
  | WelcomeFrame | AckFrame | BusyFrame | ErrorFrame | AuthResFrame | CmdFrame | PongFrame;
