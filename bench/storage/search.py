#!/usr/bin/env python3
"""Search latency per trigram index, by EXPLAIN (ANALYZE, BUFFERS).

The statements are the ones the log store sends for `search` (db/kinds.go
whereSearch): the first page (51 rows, newest first) and its count, for a common
term, a rare one (an order number of one log) and an absent one. Each variant runs
in a transaction that drops the other trigram indexes (gist_build.sh made them) and
is rolled back; variants rotate between rounds. Prints the median execution time
(ms) per statement and the buffers (shared hit + read) of the last round.

Usage: DB=loggraph_storage_x bench/storage/search.py app|action [rounds] [variant,...]
"""
import json
import os
import re
import statistics
import subprocess
import sys

DB = os.environ["DB"]
T = sys.argv[1] if len(sys.argv) > 1 else "app"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def psql(sql):
    return subprocess.run(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB],
                          input=sql, capture_output=True, text=True, check=True).stdout


WS = psql("SELECT id FROM workspaces WHERE slug = 'bench-storage'").strip()
if T == "app":
    table, tcol, common = "app_logs", '"timestamp"', "circuit breaker"
    rare = psql("SELECT substring(message FROM 'order ([0-9]{7})') FROM app_logs "
                "WHERE message ~ 'order [0-9]{7}' ORDER BY id OFFSET 1000 LIMIT 1").strip()
else:
    table, tcol, common = "action_logs", "created_at", "payment capture fa"
    rare = psql("SELECT substring(message FROM '^Order ([0-9]{6}) ') FROM action_logs "
                "WHERE message ~ '^Order [0-9]{6} ' ORDER BY id OFFSET 500 LIMIT 1").strip()
terms = [("common", common), ("rare", rare), ("absent", "no-such-text")]
trgm = {"gin": f"{table}_message_trgm_idx", "gin-built": f"{table}_ginbuilt", "gistws64": f"{table}_gistws64"}
for s in (12, 24, 48, 64, 96, 128):
    trgm[f"gist{s}"] = f"{table}_gist{s}"
variants = sys.argv[3].split(",") if len(sys.argv) > 3 else list(trgm) + ["none"]


def statements(term):
    w = f"(t.workspace_id = '{WS}') AND (message ILIKE '%{term}%')"
    return [("page", f'SELECT t.* FROM "{table}" AS t WHERE {w} ORDER BY {tcol} DESC, id DESC LIMIT 51'),
            ("count", f'SELECT count(*) FROM "{table}" AS t WHERE {w}')]


def indexes(node, acc):
    if "Index Name" in node:
        acc.add(node["Node Type"] + " " + re.sub(r"_p\d{8}", "", node["Index Name"]))
    for c in node.get("Plans", []):
        indexes(c, acc)
    return acc


times, last = {}, {}
for r in range(ROUNDS):
    k = r % len(variants)
    for v in variants[k:] + variants[:k]:
        sql, keys = ["BEGIN;"] + [f"DROP INDEX {i};" for n, i in trgm.items() if n != v], []
        for tn, term in terms:
            for sn, q in statements(term):
                keys.append((tn, sn))
                sql += ["\\echo @@@", f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {q};"]
        sql.append("ROLLBACK;")
        for key, out in zip(keys, psql("\n".join(sql)).split("@@@\n")[1:]):
            plan = json.loads(out)[0]
            times.setdefault((v, *key), []).append(plan["Execution Time"])
            p = plan["Plan"]
            last[(v, *key)] = (p.get("Shared Hit Blocks", 0) + p.get("Shared Read Blocks", 0), sorted(indexes(p, set())))

print(f"{table}: terms {terms}; median ms of {ROUNDS} (buffers)")
print("| index | " + " | ".join(f"{tn} {sn}" for tn, _ in terms for sn in ("page", "count")) + " |")
for v in variants:
    cells = [f"{statistics.median(times[(v, tn, sn)]):.1f} ({last[(v, tn, sn)][0]})" for tn, _ in terms for sn in ("page", "count")]
    print(f"| {v} | " + " | ".join(cells) + " |")
for key, (_, idx) in last.items():
    print(key, idx)
