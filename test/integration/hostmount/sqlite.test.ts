/**
 * SQLite (through python3) on the host mount: rollback journal and WAL modes, 10 000 inserts in
 * one transaction, queries, PRAGMA integrity_check, and the same results as on a plain directory.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { sh, useMountAndPlain } from './helpers.js';

// Root and /dev/fuse are prerequisites CI meets: without them every test here fails.
const fx = useMountAndPlain();

const PROGRAM = (db: string, journal: string): string => `python3 - <<'EOF'
import sqlite3, random, hashlib
c = sqlite3.connect(${JSON.stringify(db)})
print(c.execute("PRAGMA journal_mode=${journal}").fetchone()[0])
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB, n REAL)")
c.execute("CREATE INDEX t_k ON t(k)")
r = random.Random(42)
with c:
    for i in range(10000):
        c.execute("INSERT INTO t (k, v, n) VALUES (?, ?, ?)", (f"key{r.randrange(1000):04d}", r.randbytes(r.randrange(1, 600)), r.random()))
print(c.execute("SELECT count(*), count(DISTINCT k), sum(length(v)), round(sum(n), 6) FROM t").fetchone())
print(c.execute("SELECT k, count(*) FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 3").fetchall())
with c:
    c.execute("DELETE FROM t WHERE id % 3 = 0")
    c.execute("UPDATE t SET v = zeroblob(100) WHERE id % 5 = 0")
c.execute("VACUUM")
print(c.execute("PRAGMA integrity_check").fetchone()[0])
h = hashlib.sha256()
for row in c.execute("SELECT id, k, v, n FROM t ORDER BY id"):
    h.update(repr(row).encode())
print(h.hexdigest())
c.close()
c = sqlite3.connect(${JSON.stringify(db)})
print(c.execute("SELECT count(*) FROM t").fetchone()[0], c.execute("PRAGMA quick_check").fetchone()[0])
EOF`;

describe('sqlite3 on the host mount', () => {
  for (const journal of ['delete', 'wal']) {
    it(`journal_mode=${journal}: 10k inserts in a transaction, queries, integrity_check — same results as a plain directory`, () => {
      const onMount = sh(PROGRAM(join(fx.m.mnt, `${journal}.db`), journal), '/');
      const onPlain = sh(PROGRAM(join(fx.plain.dir, `${journal}.db`), journal), '/');
      expect(onMount).toBe(onPlain);
      expect(onMount).toContain('\nok\n');
      expect(onMount.split('\n')[0]).toBe(journal);
    });
  }
});
