#!/usr/bin/env bash
# Hint bits without data checksums (issue 19, "hint bits, with and without checksums"): on a cluster made
# without --data-checksums and with wal_log_hints off, the first read of freshly committed rows sets their
# hint bits and writes the pages back without a WAL record and without moving their LSN. Neither the block
# maps nor the LSN rule see those pages as changed: an incremental keeps the full backup's image, which
# lacks the hints, and that is right (a hint only caches what pg_xact, restored whole, says). The
# incremental by the maps, and one with --verify-map (0 pages missed), restored and started: every table
# equals the live cluster's, and the visibility and amcheck checks pass. (With checksums, the same first
# read logs FPI_FOR_HINT, which the maps name: tests/backup/pg_versions.sh, on every version.)
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services pg
lv_clean_env

w=$(wal_workdir hints)
LV_TEST_PG_CHECKSUMS=0 wal_archiving "$w" "autovacuum = off" "wal_log_hints = off"
is "$(psql -qAtX -c "SHOW data_checksums" -c "SHOW wal_log_hints")" "off
off" "a cluster without data checksums, wal_log_hints off"

# Rows committed and written to disk before any read set their hint bits (autovacuum off; the full backup
# counts no rows, which would read them).
psql -qAtX -v ON_ERROR_STOP=1 -c "CREATE TABLE h (id int PRIMARY KEY, v text)" \
  -c "INSERT INTO h SELECT g, md5(g::text) FROM generate_series(1, 50000) g" -c "CHECKPOINT" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type full --json --no-row-counts
is "$rc" 0 "full backup: exit 0 ${err:+($err)}"
lsn_before=$(psql -qAtX -c "SELECT lsn FROM page_header(get_raw_page('h', 0))" 2>/dev/null ||
  { psql -qAtX -c "CREATE EXTENSION pageinspect" >/dev/null && psql -qAtX -c "SELECT lsn FROM page_header(get_raw_page('h', 0))"; })
flags_before=$(psql -qAtX -c "SELECT count(*) FROM heap_page_items(get_raw_page('h', 0)) WHERE t_infomask & 256 <> 0")
# The first read: hint bits (HEAP_XMIN_COMMITTED, 0x0100) set, the pages written by the checkpoint.
psql -qAtX -c "SELECT count(*) FROM h" -c "CHECKPOINT" >/dev/null
is "$(psql -qAtX -c "SELECT lsn FROM page_header(get_raw_page('h', 0))")" "$lsn_before" \
  "the read set hint bits without moving the page's LSN"
is "$flags_before $(psql -qAtX -c "SELECT count(*) = count(*) FILTER (WHERE t_infomask & 256 <> 0) FROM heap_page_items(get_raw_page('h', 0))")" \
  "0 t" "... on every row of its first page (none had them when the full backup copied it)"
psql -qAtX -c "UPDATE h SET v = 'changed' WHERE id % 1000 = 0" -c "DELETE FROM h WHERE id > 49900" \
  -c "CHECKPOINT" >/dev/null

restore_compare() { restore_check "$w/local.conf" "$1" "$w/r" "$2" "$(pg_table_sums)" --target-immediate; }

run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json --verify-map
is "$rc" 0 "incremental with --verify-map: exit 0 ${err:+($err)}"
like "$err" "verify-map: .* pages missed: 0" "... the maps miss no page the LSN rule finds changed"
restore_compare "$(out_field id)" "the --verify-map incremental"
run lvpg "$w/local.conf" forget "$(out_field id)"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --json
is "$rc $(out_field incr_method)" "0 maps" "incremental by the block maps: exit 0 ${err:+($err)}"
restore_compare "$(out_field id)" "the incremental by the maps"

done_testing
