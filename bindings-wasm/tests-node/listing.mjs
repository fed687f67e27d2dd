// Test helper (Node): path → SHA-256 of every file under a folder, '/'-separated.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export function listing(dir) {
  const out = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = join(e.parentPath ?? e.path, e.name);
    out[relative(dir, abs).split(sep).join('/')] = createHash('sha256').update(readFileSync(abs)).digest('hex');
  }
  return Object.fromEntries(Object.entries(out).sort());
}
