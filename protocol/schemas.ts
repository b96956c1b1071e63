// JSON Schemas of every terminal frame and event kind (PROTOCOL sections 3-7), compiled once
// by ajv on whichever thread needs them. Unknown extra fields are allowed: PROTOCOL section 2.
import { Ajv, type ValidateFunction } from 'ajv';
import { DOOR_STATES, MAX_EVENTS_PER_FRAME, PUNCH_DIRS } from './frames.js';

const uint32 = { type: 'integer', minimum: 0, maximum: 0xffffffff } as const;
const ms = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const str = (maxLength = 128) => ({ type: 'string', minLength: 1, maxLength }) as const;

export const frameSchemas = {
  hello: {
    type: 'object',
    required: ['t', 'boot', 'time'],
    properties: { t: { const: 'hello' }, boot: uint32, time: ms, fw: str(64), model: str(64) },
  },
  ev: {
    type: 'object',
    required: ['t', 'boot', 'events'],
    properties: { t: { const: 'ev' }, boot: uint32, events: { type: 'array', maxItems: MAX_EVENTS_PER_FRAME } },
  },
  auth: {
    type: 'object',
    required: ['t', 'id', 'cred', 'door'],
    properties: { t: { const: 'auth' }, id: uint32, cred: str(), door: str(64), ts: ms },
  },
  cmd_res: {
    type: 'object',
    required: ['t', 'id', 'ok'],
    properties: { t: { const: 'cmd_res' }, id: str(64), ok: { type: 'boolean' }, code: str(64) },
  },
  ping: {
    type: 'object',
    required: ['t', 'id', 'time'],
    properties: { t: { const: 'ping' }, id: { type: ['integer', 'string'], maxLength: 64 }, time: ms },
  },
} as const;

export type FrameType = keyof typeof frameSchemas;
export const FRAME_TYPES = Object.keys(frameSchemas) as FrameType[];

// An event's identity and kind are checked first (they decide bad_seq / unknown_kind);
// these schemas check the fields of each kind.
export const eventSchemas = {
  punch: {
    type: 'object',
    required: ['seq', 'ts', 'kind', 'dir'],
    properties: { cred: str(), person: str(), dir: { enum: PUNCH_DIRS }, data: { type: 'object' } },
    anyOf: [{ required: ['cred'] }, { required: ['person'] }],
  },
  access: {
    type: 'object',
    required: ['seq', 'ts', 'kind', 'cred', 'door', 'granted', 'reason'],
    properties: {
      cred: str(), door: str(64), granted: { type: 'boolean' }, reason: str(64), rid: uint32,
      data: { type: 'object' },
    },
  },
  door: {
    type: 'object',
    required: ['seq', 'ts', 'kind', 'door', 'state'],
    properties: { door: str(64), state: { enum: DOOR_STATES }, data: { type: 'object' } },
  },
  alarm: {
    type: 'object',
    required: ['seq', 'ts', 'kind', 'code'],
    properties: { code: str(64), detail: str(512), data: { type: 'object' } },
  },
} as const;

export type Validators<K extends string> = Record<K, ValidateFunction>;

function compileAll<K extends string>(schemas: Record<K, object>): Validators<K> {
  const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
  const out = {} as Validators<K>;
  for (const [name, schema] of Object.entries(schemas) as [K, object][]) out[name] = ajv.compile(schema);
  return out;
}

export const compileFrameValidators = () => compileAll(frameSchemas);
export const compileEventValidators = () => compileAll(eventSchemas);

/** One line naming the first failing field, for error frames and quarantine detail. */
export function describeErrors(validate: ValidateFunction): string {
  const e = validate.errors?.[0];
  if (!e) return 'invalid';
  const where = e.instancePath || (e.params && 'missingProperty' in e.params ? `/${String(e.params.missingProperty)}` : '/');
  return `${where} ${e.message ?? 'invalid'}`;
}
