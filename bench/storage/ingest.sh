#!/bin/bash
# Insert cost and size of one index variant at a time: one day's app (or action) logs
# of a bench storage database, in time order, inserted in batches of 5,000 (one
# statement each, autocommit) into a plain table carrying only that index; then
# VACUUM (GIN pending lists merged) and the index's bytes per row. Variants rotate
# between rounds.
# Usage: DB=loggraph_storage_x T=app|action ROUNDS=3 VARIANTS="none gin1mb gist48" bench/storage/ingest.sh
set -euo pipefail
P="psql -X -At -q -v ON_ERROR_STOP=1 -d ${DB:?set DB to the bench storage database}"
T=${T:-app}
if [ "$T" = app ]; then ORD='"timestamp", id'; SRC=app_logs; else ORD='created_at, id'; SRC=action_logs; fi
# The fullest day partition.
PART=$($P -c "SELECT tableoid::regclass FROM $SRC GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
$P -c "CREATE TABLE IF NOT EXISTS stage_$T AS SELECT row_number() OVER (ORDER BY $ORD) rn, * FROM $PART"
N=$($P -c "SELECT count(*) FROM stage_$T")
declare -A IDX=(
  [none]=""
  [gin1mb]="USING gin (workspace_id, message gin_trgm_ops) WITH (gin_pending_list_limit = 1024)"
  [gin_nows]="USING gin (message gin_trgm_ops) WITH (gin_pending_list_limit = 1024)"
  [gin_off]="USING gin (workspace_id, message gin_trgm_ops) WITH (fastupdate = off)"
  [gistws64]="USING gist (workspace_id, message gist_trgm_ops(siglen=64))"
  [id_ws]="(workspace_id, id)"
  [id_ws_ff100]="(workspace_id, id) WITH (fillfactor = 100)"
  [id_only]="(id)"
  [id_only_ff100]="(id) WITH (fillfactor = 100)"
  [id_hash]="USING hash (id)"
  [list]="(workspace_id, $ORD)"
  [list_ff100]="(workspace_id, $ORD) WITH (fillfactor = 100)"
)
for s in 12 24 48 64 96 128; do IDX[gist$s]="USING gist (message gist_trgm_ops(siglen=$s))"; done
read -r -a vs <<<"${VARIANTS:-none gin1mb gin_off gist24 gist48 gist64 gist96 gist128}"
for r in $(seq 1 "${ROUNDS:-3}"); do
  k=$(( (r - 1) % ${#vs[@]} ))
  for v in "${vs[@]:$k}" "${vs[@]:0:$k}"; do
    tb=ing_${T}_$v
    $P -c "DROP TABLE IF EXISTS $tb" -c "CREATE TABLE $tb (LIKE stage_$T)" -c "ALTER TABLE $tb DROP COLUMN rn"
    [ -n "${IDX[$v]}" ] && $P -c "CREATE INDEX ${tb}_i ON $tb ${IDX[$v]}"
    cols=$($P -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$tb'::regclass AND attnum > 0 AND NOT attisdropped")
    f=$(mktemp)
    for ((b = 0; b * 5000 < N; b++)); do
      echo "INSERT INTO $tb ($cols) SELECT $cols FROM stage_$T WHERE rn > $((b * 5000)) AND rn <= $(((b + 1) * 5000)) ORDER BY rn;" >>"$f"
    done
    st=$(date +%s.%N); $P -f "$f"; en=$(date +%s.%N); rm -f "$f"
    $P -c "VACUUM $tb"
    isz=0; [ -n "${IDX[$v]}" ] && isz=$($P -c "SELECT pg_relation_size('${tb}_i')")
    echo "round=$r table=$T variant=$v rows=$N insert_s=$(echo "$en - $st" | bc) index_B_per_row=$(echo "scale=1; $isz / $N" | bc)"
  done
done
