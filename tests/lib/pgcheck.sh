# shellcheck shell=bash
# Checks of a restored PostgreSQL cluster (started with tests/lib/walib.sh's start_restored) as users' queries see it, for the integration tests. A table
# checksum computed by a sequential scan does not see a stale visibility map: an index-only scan trusts
# the map and counts dead row versions as live. So, in every database that allows connections:
#   - pg_visibility: pg_check_visible and pg_check_frozen are empty for every table, materialized view
#     and TOAST table (no tuple on a page the map calls all-visible / all-frozen is not);
#   - amcheck: bt_index_check(index, heapallindexed => true) passes for every valid B-tree index;
#   - every table with a B-tree index gives the same count(*) with index-only scans forced as with
#     sequential scans forced.
# The extensions are created in the checked cluster (a restored copy: nothing else uses it).
#
#   pg_table_sums [PSQL_ARG...]       every permanent table's rows as an md5, one line per table
#   pg_check_restored [PSQL_ARG...]   prints one line per problem ("DB: ..."), nothing when all pass;
#                                     returns 1 when something failed (a problem or a failed query).
# PSQL_ARG select the cluster (-h SOCKDIR -p PORT ...); PG* variables apply as usual.

_pgcheck_sql=$(
  cat <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_visibility;
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE FUNCTION pg_temp.lv_problems() RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
  r record;
  n bigint;
  via_index bigint;
  via_seq bigint;
BEGIN
  FOR r IN SELECT c.oid, c.oid::regclass::text AS name FROM pg_class c
           WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence = 'p' ORDER BY c.oid LOOP
    SELECT count(*) INTO n FROM pg_check_visible(r.oid);
    IF n > 0 THEN RETURN NEXT format('%s: pg_check_visible lists %s tuples', r.name, n); END IF;
    SELECT count(*) INTO n FROM pg_check_frozen(r.oid);
    IF n > 0 THEN RETURN NEXT format('%s: pg_check_frozen lists %s tuples', r.name, n); END IF;
  END LOOP;
  FOR r IN SELECT i.indexrelid, i.indexrelid::regclass::text AS name FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
           WHERE a.amname = 'btree' AND c.relpersistence = 'p' AND i.indisvalid AND i.indisready
           ORDER BY i.indexrelid LOOP
    BEGIN
      PERFORM bt_index_check(r.indexrelid, true);
    EXCEPTION WHEN OTHERS THEN
      RETURN NEXT format('%s: bt_index_check(heapallindexed): %s', r.name, SQLERRM);
    END;
  END LOOP;
  FOR r IN SELECT DISTINCT c.oid, c.oid::regclass::text AS name FROM pg_class c
           JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_am a ON a.oid = ic.relam
           WHERE a.amname = 'btree' AND c.relkind IN ('r', 'm') AND c.relpersistence = 'p'
             AND i.indisvalid ORDER BY c.oid LOOP
    PERFORM set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
            set_config('enable_indexscan', 'on', true), set_config('enable_indexonlyscan', 'on', true);
    EXECUTE format('SELECT count(*) FROM %s', r.name) INTO via_index;
    PERFORM set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'off', true),
            set_config('enable_indexonlyscan', 'off', true);
    EXECUTE format('SELECT count(*) FROM %s', r.name) INTO via_seq;
    IF via_index <> via_seq THEN
      RETURN NEXT format('%s: count(*) is %s by index-only scan, %s by sequential scan', r.name, via_index,
                         via_seq);
    END IF;
  END LOOP;
END
$f$;
SELECT * FROM pg_temp.lv_problems();
SQL
)

pg_check_restored() {
  local db dbs out rc=0
  dbs=$(psql "$@" -d postgres -qAtX -c "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1") ||
    { echo "cannot list the databases"; return 1; }
  for db in $dbs; do
    if ! out=$(psql "$@" -d "$db" -qAtX -v ON_ERROR_STOP=1 -c "$_pgcheck_sql" 2>&1); then
      printf '%s: %s\n' "$db" "$(tr '\n' ' ' <<<"$out")"
      rc=1
      continue
    fi
    out=$(grep -v -e '^CREATE ' <<<"$out" | grep . || true)
    if [[ -n $out ]]; then
      sed "s/^/$db: /" <<<"$out"
      rc=1
    fi
  done
  return "$rc"
}

# pg_table_sums [PSQL_ARG...]: every permanent table of every database as "db table md5-of-rows" (rows
# ordered by their text), by sequential scans: compared between a restored copy and the live cluster.
pg_table_sums() {
  local db
  for db in $(psql "$@" -d postgres -qAtX -c "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT LIKE 'template%' ORDER BY 1"); do
    psql "$@" -d "$db" -qAtX <<SQL
SELECT format('SELECT %L || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''empty'') FROM %s t',
              current_database() || ' ' || c.oid::regclass::text, c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY c.oid::regclass::text \gexec
SQL
  done
}

# restore_check CONF ID DIR WHAT EXPECTED [RESTORE_ARG...]: `restore pg --backup ID --to DIR RESTORE_ARG...`
# (DIR removed first; needs walib.sh), start the copy, compare its pg_table_sums with EXPECTED (the source's,
# taken by the caller when it should be) and check it as queries see it (pg_check_restored): three TAP
# results, WHAT in each. The copy is stopped afterwards.
restore_check() {
  local conf=$1 id=$2 dir=$3 what=$4 expected=$5
  shift 5
  rm -rf "$dir"
  run lvpg "$conf" restore pg --backup "$id" --to "$dir" "$@"
  is "$rc" 0 "$what: restore exits 0 ${err:+($err)}"
  if start_restored "$dir"; then
    is "$(pg_table_sums -h "$dir.sock" -p "$R_PORT")" "$expected" "$what: every table equals the source's"
    is "$(pg_check_restored -h "$dir.sock" -p "$R_PORT")" "" \
      "$what: as queries see it: visibility map right, index-only and sequential scans agree, amcheck passes"
  else
    fail "$what: the restored cluster starts"
    skip "no cluster" 1
  fi
  stop_restored "$dir"
}
