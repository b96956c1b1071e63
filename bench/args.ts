// Command-line numbers for the benchmark scripts, checked the same way everywhere.
export function int(name: string, v: string | undefined, def: number, min = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

export function intList(name: string, v: string): number[] {
  const list = v.split(',').map((x) => int(name, x.trim(), 0, 1));
  if (!list.length) throw new Error(`--${name} needs at least one value`);
  return list;
}
