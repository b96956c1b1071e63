// PostgreSQL COPY text format (one row a line, tab-separated, \N for null). Strings lose NUL
// characters, which PostgreSQL text cannot hold.
export type CopyValue = string | number | boolean | null | undefined;

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '' };
const NEEDS_ESCAPE = /[\\\t\n\r\0]/g;

export function copyField(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  return v.replace(NEEDS_ESCAPE, (c) => ESCAPES[c] ?? '');
}

export function copyRow(values: CopyValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i ? '\t' : '') + copyField(values[i]);
  return line + '\n';
}

/** bytea from hex, in COPY text form. */
export const byteaHex = (hex: string | null) => (hex === null ? null : `\\x${hex}`);
