// JSON Schema building blocks of the operator API: the validator and the OpenAPI document are
// both made from these.
export const uuid = { type: 'string', format: 'uuid' } as const;
export const name = { type: 'string', minLength: 1, maxLength: 200 } as const;
export const timeZone = { type: 'string', format: 'time-zone', description: 'IANA time zone, e.g. Europe/Berlin' } as const;
export const dateTime = { type: 'string', format: 'date-time' } as const;
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  cursor: { type: 'string', maxLength: 512 },
} as const;

export function object(properties: Record<string, object>, required: string[] = []) {
  return { type: 'object', additionalProperties: false, properties, required } as const;
}

export function pageOf(item: object) {
  return object({ items: { type: 'array', items: item }, next: { type: ['string', 'null'], description: 'cursor of the next page' } }, ['items', 'next']);
}

export const errorEnvelope = object({
  error: object({
    code: { type: 'string', description: 'a LINTEL_ERR_* code, listed in README' },
    message: { type: 'string' },
    fields: { type: 'array', items: object({ field: { type: 'string' }, problem: { type: 'string' } }) },
  }, ['code', 'message']),
}, ['error']);
