// Forward-only migrations: every migrations/NNN_*.sql not yet recorded runs once, in order, each in
// its own transaction, under an advisory lock so that several hubs starting at once take turns.
import { readdir, readFile } from 'node:fs/promises';
import type { Sql } from './db.js';

const LOCK_KEY = 0x4c696e74; // 'Lint'

export async function migrate(sql: Sql, dir: URL): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set((await tx<{ name: string }[]>`SELECT name FROM schema_migrations`).map((r) => r.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.unsafe(await readFile(new URL(file, dir), 'utf8'));
      await tx`INSERT INTO schema_migrations (name) VALUES (${file})`;
      applied.push(file);
    }
    return applied;
  });
}
