#!/bin/bash
# Trigram index sizes built by CREATE INDEX over a bench storage database's app and
# action logs: GiST (gist_trgm_ops) at several signature lengths, with and without
# workspace_id (btree_gist), against the GIN the schema has. The indexes stay (named
# <table>_gist<siglen>, <table>_gistws64, <table>_ginbuilt) for search.py.
# Usage: DB=loggraph_storage_x bench/storage/gist_build.sh
set -euo pipefail
P="psql -X -At -v ON_ERROR_STOP=1 -d ${DB:?set DB to the bench storage database}"
$P -c "CREATE EXTENSION IF NOT EXISTS btree_gist" >/dev/null
size() { $P -c "SELECT sum(pg_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = '$1'::regclass"; }
for t in app_logs action_logs; do
  n=$($P -c "SELECT count(*) FROM $t")
  build() { # name, definition
    local st en
    st=$(date +%s.%N); $P -c "CREATE INDEX $1 ON $t $2" >/dev/null; en=$(date +%s.%N)
    echo "$t $1: $(echo "$(size "$1") / $n" | bc) B/row, built in $(echo "$en - $st" | bc) s"
  }
  for s in 12 24 48 64 96 128; do build "${t}_gist$s" "USING gist (message gist_trgm_ops(siglen=$s))"; done
  build "${t}_gistws64" "USING gist (workspace_id, message gist_trgm_ops(siglen=64))"
  build "${t}_ginbuilt" "USING gin (workspace_id, message gin_trgm_ops) WITH (gin_pending_list_limit = 1024)"
  echo "$t ${t}_message_trgm_idx (as seeded, vacuumed): $(echo "$(size "${t}_message_trgm_idx") / $n" | bc) B/row"
done
