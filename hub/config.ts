// The one place that reads process.env: validated once with ajv (defaults come from the schema),
// failing fast with every problem listed, returned frozen. The hub and the CLI share it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { LintelError } from '../protocol/errors.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const int = (def: number, minimum: number, maximum: number) => ({ type: 'integer', default: def, minimum, maximum }) as const;

// Env var name -> schema. Every variable is documented in README.md (a test checks it).
const schema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    LINTEL_HOST: { type: 'string', default: '0.0.0.0' },
    LINTEL_PORT: int(8080, 0, 65535),
    DATABASE_URL: { type: 'string', minLength: 1 },
    LINTEL_DATA_DIR: { type: 'string', default: path.join(PROJECT_ROOT, 'data') },
    LINTEL_PG_PORT: int(54329, 1, 65535),
    LINTEL_CREDENTIAL_KEY: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
    LINTEL_INGEST_WORKERS: int(2, 1, 64),
    LINTEL_WORKER_NICE: int(10, 0, 19),
    LINTEL_BATCH_MS: int(4, 0, 1000),
    LINTEL_BATCH_MAX_BYTES: int(512 * 1024, 1024, 64 * 1024 * 1024),
    LINTEL_MAX_INFLIGHT_BYTES: int(16 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    LINTEL_BUSY_RETRY_MS: int(1000, 10, 600000),
    LINTEL_HEARTBEAT_S: int(30, 2, 480),
    LINTEL_MAX_CONNECTIONS: int(20000, 1, 1000000),
    LINTEL_ADMIT_PER_S: int(200, 1, 1000000),
    LINTEL_MAX_BACKPRESSURE: int(256 * 1024, 1024, 64 * 1024 * 1024),
    LINTEL_EVENT_MAX_AGE_DAYS: int(3650, 1, 36500),
    LINTEL_EVENT_MAX_FUTURE_S: int(86400, 0, 31536000),
    LINTEL_LOG_LEVEL: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    LINTEL_ALLOW_UWS_FALLBACK: { type: 'boolean', default: false },
    LINTEL_COMMAND_TTL_MS: int(5000, 500, 60000),
    LINTEL_HUB_ID: { type: 'string', minLength: 1, maxLength: 128, default: `${hostname()}-${process.pid}` },
    LINTEL_SPOOL_MAX_BYTES: int(1024 * 1024 * 1024, 0, 1024 * 1024 * 1024 * 1024),
    LINTEL_SPOOL_SEGMENT_BYTES: int(16 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    LINTEL_MAINTENANCE_INTERVAL_S: int(3600, 1, 86400),
  },
} as const;

export interface Config {
  host: string;
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  pgPort: number;
  credentialKey: string;
  ingestWorkers: number;
  /** How much lower than the event loop the hub's worker threads run (Unix nice increment). */
  workerNice: number;
  batchMs: number;
  batchMaxBytes: number;
  maxInflightBytes: number;
  busyRetryMs: number;
  heartbeatS: number;
  maxConnections: number;
  admitPerS: number;
  maxBackpressure: number;
  eventMaxAgeMs: number;
  eventMaxFutureMs: number;
  logLevel: string;
  allowUwsFallback: boolean;
  hubId: string;
  commandTtlMs: number;
  spoolDir: string;
  spoolMaxBytes: number;
  spoolSegmentBytes: number;
  maintenanceIntervalMs: number;
}

export const CONFIG_VARIABLES = Object.keys(schema.properties);

/** Reads and validates the environment. Throws LINTEL_ERR_CONFIG_INVALID listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const raw: Record<string, unknown> = {};
  for (const name of CONFIG_VARIABLES) if (env[name] !== undefined && env[name] !== '') raw[name] = env[name];
  const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true });
  const validate = ajv.compile(schema);
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath.slice(1) || '(env)'} ${e.message}`);
    throw new LintelError('LINTEL_ERR_CONFIG_INVALID', problems.join('; '));
  }
  const v = raw as Record<string, any>;
  const dataDir = path.resolve(v.LINTEL_DATA_DIR);
  return Object.freeze({
    host: v.LINTEL_HOST,
    port: v.LINTEL_PORT,
    databaseUrl: v.DATABASE_URL ?? libpqUrl(env),
    dataDir,
    pgPort: v.LINTEL_PG_PORT,
    credentialKey: (v.LINTEL_CREDENTIAL_KEY as string | undefined)?.toLowerCase() ?? localCredentialKey(dataDir),
    ingestWorkers: v.LINTEL_INGEST_WORKERS,
    workerNice: v.LINTEL_WORKER_NICE,
    batchMs: v.LINTEL_BATCH_MS,
    batchMaxBytes: v.LINTEL_BATCH_MAX_BYTES,
    maxInflightBytes: v.LINTEL_MAX_INFLIGHT_BYTES,
    busyRetryMs: v.LINTEL_BUSY_RETRY_MS,
    heartbeatS: v.LINTEL_HEARTBEAT_S,
    maxConnections: v.LINTEL_MAX_CONNECTIONS,
    admitPerS: v.LINTEL_ADMIT_PER_S,
    maxBackpressure: v.LINTEL_MAX_BACKPRESSURE,
    eventMaxAgeMs: v.LINTEL_EVENT_MAX_AGE_DAYS * 86_400_000,
    eventMaxFutureMs: v.LINTEL_EVENT_MAX_FUTURE_S * 1000,
    logLevel: v.LINTEL_LOG_LEVEL,
    allowUwsFallback: v.LINTEL_ALLOW_UWS_FALLBACK,
    hubId: v.LINTEL_HUB_ID,
    commandTtlMs: v.LINTEL_COMMAND_TTL_MS,
    spoolDir: path.join(dataDir, 'spool'),
    spoolMaxBytes: v.LINTEL_SPOOL_MAX_BYTES,
    spoolSegmentBytes: v.LINTEL_SPOOL_SEGMENT_BYTES,
    maintenanceIntervalMs: v.LINTEL_MAINTENANCE_INTERVAL_S * 1000,
  });
}

/** The libpq variables select an external server too, when PGHOST is set. */
function libpqUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.PGHOST) return undefined;
  const u = new URL('postgres://localhost');
  u.hostname = env.PGHOST;
  if (env.PGPORT) u.port = env.PGPORT;
  if (env.PGUSER) u.username = encodeURIComponent(env.PGUSER);
  if (env.PGPASSWORD) u.password = encodeURIComponent(env.PGPASSWORD);
  u.pathname = `/${encodeURIComponent(env.PGDATABASE ?? env.PGUSER ?? 'postgres')}`;
  return u.toString();
}

/**
 * Without LINTEL_CREDENTIAL_KEY, a key is generated once into the data folder (mode 0600), so a
 * fresh `npm start` works. Production sets the variable, the same on every hub.
 */
function localCredentialKey(dataDir: string): string {
  const file = path.join(dataDir, 'credential.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const key = randomBytes(32).toString('hex');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/** Identifies a credential key without revealing it. */
export function keyFingerprint(hexKey: string): string {
  return createHash('sha256').update('lintel-credential-key-fingerprint').update(Buffer.from(hexKey, 'hex')).digest('hex').slice(0, 16);
}
