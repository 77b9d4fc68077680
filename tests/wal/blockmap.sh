#!/usr/bin/env bash
# WAL block maps (issue 19) on a real PostgreSQL cluster archiving into a local repository, sync and async:
#   - the rules on real WAL (the map of each segment, read by test_blockmap's dump): an UPDATE names its
#     block; TRUNCATE, VACUUM FULL, CLUSTER and ALTER TABLE SET TABLESPACE create a new relfilenode (every
#     block new: limit 0) and drop the old one at commit (limit 0); CREATE DATABASE with FILE_COPY and
#     WAL_LOG and ALTER DATABASE SET TABLESPACE mark the whole database directory; a DELETE and VACUUM that
#     truncates the table sets the limit to its new length; DROP TABLE drops it;
#   - every archived segment has its sealed map walmap/<segment> and its row with the bytes in the
#     catalog, sync and async pushes alike; `catalog rebuild` refills the rows from the repository;
#   - an incremental with --verify-map after all of these: the maps name every page it found changed;
#     restored (tablespace mapped), every table of every database equals the live cluster's;
#   - repo check is clean; a deleted map is a warning (exit 0) naming the segment; a damaged one an
#     error (exit 6) with --read-data;
#   - an incremental by the maps (the default) after updates, a delete, TRUNCATE and VACUUM FULL reads a small
#     part of the relation pages, records incr_method "maps", and restores every table exactly;
#   - a map of an incremental's range missing: --verify-map says the maps cannot be used, naming it; an
#     incremental by default falls back to the LSN scan, says why and records incr_method "lsn".
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"
. "$(dirname "$0")/../lib/pgcheck.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}
tool=${1:?the test_blockmap program}

w=$(wal_workdir blockmap)
wal_conf "$w/local.conf" "$w/repo"
ok "repository created" lvpg "$w/local.conf" repo init
as_pg mkdir -p "$w/ts1"
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" \
  "wal_level = replica" "wal_keep_size = 1GB"
q() { psql -qAtX "$@"; }
fnode() { q -d "${2:-postgres}" -c "SELECT pg_relation_filenode('$1')"; }
dboid() { q -c "SELECT oid FROM pg_database WHERE datname = '$1'"; }
spcoid() { q -c "SELECT oid FROM pg_tablespace WHERE spcname = '$1'"; }
pgdb=$(dboid postgres)

q -c "CREATE TABLE upd (i int PRIMARY KEY, v text)" -c "INSERT INTO upd SELECT g, 'x' FROM generate_series(1, 5000) g" \
  -c "CREATE TABLE tr (i int)" -c "INSERT INTO tr SELECT generate_series(1, 2000)" \
  -c "CREATE TABLE vf (i int)" -c "INSERT INTO vf SELECT generate_series(1, 2000)" \
  -c "CREATE TABLE cl (i int PRIMARY KEY)" -c "INSERT INTO cl SELECT generate_series(1, 2000)" \
  -c "CREATE TABLE mv (i int)" -c "INSERT INTO mv SELECT generate_series(1, 2000)" \
  -c "CREATE TABLE vt (i int)" -c "INSERT INTO vt SELECT generate_series(1, 20000)" \
  -c "CREATE TABLE dr (i int)" -c "INSERT INTO dr SELECT generate_series(1, 100)" \
  -c "CREATE TABLESPACE ts1 LOCATION '$w/ts1'" -c "CHECKPOINT" >/dev/null
ts1=$(spcoid ts1)
# The maps from here on: the tables' own creation (limit 0 from their SMGR_CREATE) is before.
wal_switch
start=$(q -c "SELECT pg_walfile_name(pg_current_wal_lsn())")
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type full
is "$rc" 0 "full backup before the changes ${err:+($err)}"
upd=$(fnode upd) tr0=$(fnode tr) vf0=$(fnode vf) cl0=$(fnode cl) mv0=$(fnode mv) vt=$(fnode vt) dr=$(fnode dr)
upd_blk=$(q -c "SELECT (ctid::text::point)[0]::int FROM upd WHERE i = 4000")
q -c "UPDATE upd SET v = 'y' WHERE i = 4000" -c "TRUNCATE tr" -c "VACUUM FULL vf" -c "CLUSTER cl USING cl_pkey" \
  -c "ALTER TABLE mv SET TABLESPACE ts1" -c "DELETE FROM vt WHERE i > 1000" -c "VACUUM vt" -c "DROP TABLE dr" >/dev/null
tr1=$(fnode tr) vf1=$(fnode vf) cl1=$(fnode cl) mv1=$(fnode mv)
vt_blocks=$(q -c "SELECT pg_relation_size('vt') / 8192")
q -c "CREATE DATABASE d_copy STRATEGY FILE_COPY" -c "CREATE DATABASE d_wal STRATEGY WAL_LOG" \
  -c "CREATE DATABASE d_move STRATEGY WAL_LOG" -c "ALTER DATABASE d_move SET TABLESPACE ts1" >/dev/null
d_copy=$(dboid d_copy) d_wal=$(dboid d_wal) d_move=$(dboid d_move)
wal_switch
ok "PostgreSQL archived every segment" wal_wait_archived 120
segs=$(wal_done_list | awk -v s="$start" '$0 >= s')
# shellcheck disable=SC2086
(cd "$PGDATA/pg_wal" && for s in $segs; do "$tool" dump "$s"; done) >"$w/dump"
has() { grep -qE "$1" "$w/dump" || { diag "$(grep -E "^${1%% limit*}" "$w/dump" | cut -c1-200)"; return 1; }; }
names_block() { # FORK BLOCK: some map of the range names the block
  python3 -c '
import sys
f, b = sys.argv[2], int(sys.argv[3])
for l in open(sys.argv[1]):
    p = l.split()
    if p[0] == "fork" and p[1] + " " + p[2] == f:
        for r in p[6:]:
            lo, hi = map(int, r.split("-"))
            if lo <= b <= hi:
                sys.exit(0)
sys.exit(1)' "$w/dump" "$1" "$2"
}
ok "an UPDATE names its block (upd block $upd_blk)" names_block "1663/$pgdb/$upd 0" "$upd_blk"
for t in "TRUNCATE:$tr0:$tr1" "VACUUM FULL:$vf0:$vf1" "CLUSTER:$cl0:$cl1"; do
  IFS=: read -r what old new <<<"$t"
  ok "$what: the old relfilenode dropped ($old: limit 0)" has "^fork 1663/$pgdb/$old 0 limit 0 "
  ok "$what: the new one created ($new: limit 0)" has "^fork 1663/$pgdb/$new 0 limit 0 "
done
ok "ALTER TABLE SET TABLESPACE: the new relfilenode in the tablespace created" has "^fork $ts1/$pgdb/$mv1 0 limit 0 "
ok "... the old one dropped" has "^fork 1663/$pgdb/$mv0 0 limit 0 "
ok "VACUUM truncating a table: the limit is its new length ($vt_blocks)" has "^fork 1663/$pgdb/$vt 0 limit $vt_blocks "
ok "DROP TABLE: dropped at commit" has "^fork 1663/$pgdb/$dr 0 limit 0 "
ok "CREATE DATABASE STRATEGY FILE_COPY: the database directory" has "^db 1663/$d_copy\$"
ok "CREATE DATABASE STRATEGY WAL_LOG: the database directory" has "^db 1663/$d_wal\$"
ok "ALTER DATABASE SET TABLESPACE: the directory in the new tablespace" has "^db $ts1/$d_move\$"
ok "no fsm fork in any map" bash -c "! grep -qE '^fork [0-9/]+ 1 ' '$w/dump'"
ok "no map is unsafe" bash -c "! grep -q '^unsafe' '$w/dump'"

# The incremental over all of it: the maps name every page it finds changed; restored, every table equal.
# restore_compare ID WHAT: restore backup ID (tablespace mapped) to its end, start it, compare every table
# of every database with the live cluster's and check it as queries see it.
restore_compare() {
  local expected
  expected=$(pg_table_sums)
  wal_switch
  wal_wait_archived 60 || true
  rm -rf "$w/r"
  restore_check "$w/local.conf" "$1" "$w/r/data" "$2" "$expected" --tablespace-map "ts1=$w/r/ts1" --target-immediate
}
q -d d_copy -c "CREATE TABLE c (i int)" -c "INSERT INTO c SELECT generate_series(1, 3000)" >/dev/null
q -d d_wal -c "CREATE TABLE c (i int)" -c "INSERT INTO c SELECT generate_series(1, 3000)" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --verify-map
is "$rc" 0 "incremental with --verify-map: exit 0 ${err:+($err)}"
like "$out" "verify-map: the block maps of [0-9A-F]{24}\.\.[0-9A-F]{24} name .* pages missed: 0" "... the maps missed no page it found changed"
incr=$(lvpg "$w/local.conf" backups --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][-1]["id"])')
restore_compare "$incr" "the incremental"

# An incremental by the maps (the default): after updates, a delete, a truncation and a rewrite it reads
# only the pages the maps name and restores every table exactly.
q -c "UPDATE upd SET v = 'm' WHERE i % 50 = 0" -c "DELETE FROM upd WHERE i % 97 = 0" >/dev/null
q -d d_copy -c "TRUNCATE c" -c "INSERT INTO c SELECT generate_series(1, 500)" >/dev/null
q -d d_wal -c "VACUUM FULL c" -c "UPDATE c SET i = -i WHERE i < 10" >/dev/null
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr
is "$rc" 0 "incremental by the block maps: exit 0 ${err:+($err)}"
like "$out" "incremental by the block maps of [0-9A-F]{24}\.\.[0-9A-F]{24} \(.*\): [0-9]+ of [0-9]+ relation pages read" \
  "... says so, with the pages it read"
read -r pread ptotal < <(sed -n 's/.*: \([0-9]*\) of \([0-9]*\) relation pages read.*/\1 \2/p' <<<"$out")
ok "... which are a small part of the relation pages ($pread of $ptotal)" test "${pread:-0}" -gt 0 -a "$((pread * 4))" -lt "${ptotal:-0}"
bj=$(lvpg "$w/local.conf" backups --json)
incr2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["backups"][-1]["id"])' "$bj")
is "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["backups"][-1].get("incr_method"))' "$bj")" maps \
  "... and its summary records the method (incr_method maps)"
restore_compare "$incr2" "the incremental by the maps"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --lsn-scan
is "$rc" 0 "--lsn-scan: exit 0 ${err:+($err)}"
unlike "$out" "block maps" "... compares every page's LSN without a word about the maps"

# async pushes make maps too
q -c "ALTER SYSTEM SET archive_command = '$lv --config $w/local.conf wal push --async %p'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
wal_make_segments 2 >/dev/null
wal_switch
ok "async: PostgreSQL archived every segment" wal_wait_archived 120
sleep 1 # the async worker records its batch

cat="$w/local.db"
repo_segs() { (cd "$w/repo/wal" && find . -type f -name '[0-9A-F]*-*' | sed 's|.*/\([0-9A-F]\{24\}\)-.*|\1|' | grep -E '^[0-9A-F]{24}$' | sort -u); }
repo_maps() { (cd "$w/repo/walmap" && find . -type f ! -name '*.tmp-*' | sed 's|^\./||' | sort); }
is "$(comm -23 <(repo_segs) <(repo_maps) | tr '\n' ' ')" "" "every archived segment has its block map in the repository"
rows() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0])' "$cat" "$1"; }
is "$(rows "SELECT count(*) FROM wal_maps WHERE map IS NOT NULL AND format = 1")" "$(repo_maps | wc -l)" \
  "the catalog holds every map's bytes (sync and async pushes)"
run lvpg "$w/local.conf" catalog rebuild
is "$rc" 0 "catalog rebuild: exit 0 ${err:+($err)}"
is "$(rows "SELECT count(*) FROM wal_maps")" "$(repo_maps | wc -l)" "... a row per map again"

run lvpg "$w/local.conf" repo check --read-data
is "$rc" 0 "repo check --read-data: exit 0 ${err:+($err)}"
unlike "$out$err" "block map" "... with nothing to say about the maps"
victim=$(repo_maps | head -n 2 | tail -n 1)
cp "$w/repo/walmap/$victim" "$w/victim" && chmod 0644 "$w/victim"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2] ^= 0x20; open(p,"wb").write(b)' "$w/repo/walmap/$victim"
run lvpg "$w/local.conf" repo check --read-data
is "$rc" 6 "a damaged map: repo check --read-data exit 6"
like "$err" "walmap/$victim" "... naming it"
rm -f "$w/repo/walmap/$victim"
run lvpg "$w/local.conf" repo check
is "$rc" 0 "a missing map: repo check exit 0 (an incremental over it falls back)"
like "$err" "$victim has no block map" "... with a warning naming the segment"
as_pg cp "$w/victim" "$w/repo/walmap/$victim"
run lvpg "$w/local.conf" repo check --read-data
is "$rc" 0 "put back: clean again ${err:+($err)}"

# A map of the range missing: --verify-map says the maps cannot be used, naming the segment.
q -c "UPDATE upd SET v = 'z' WHERE i < 100" >/dev/null
wal_switch
wal_wait_archived 60 || true
gone=$(repo_maps | tail -n 1)
mv "$w/repo/walmap/$gone" "$w/gone"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM wal_maps WHERE segment = ?", (sys.argv[2],)); c.commit()' "$cat" "$gone"
# The local copy in pg_wal would stand in for the map: away while the backup runs (after a checkpoint no
# recovery needs it).
q -c "CHECKPOINT" >/dev/null
mv "$PGDATA/pg_wal/$gone" "$w/gone.wal"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr --verify-map
is "$rc" 0 "incremental with a map of its range missing: exit 0 (made by comparing page LSNs) ${err:+($err)}"
mv "$w/gone.wal" "$PGDATA/pg_wal/$gone"
like "$out" "block maps of .* cannot be used \(block map for segment $gone missing\)" "... --verify-map says the maps cannot be used, naming the segment"
as_pg mv "$w/gone" "$w/repo/walmap/$gone"
q -c "UPDATE upd SET v = 'y' WHERE i < 100" >/dev/null
wal_switch
wal_wait_archived 60 || true
gone=$(repo_maps | tail -n 1)
mv "$w/repo/walmap/$gone" "$w/gone"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM wal_maps WHERE segment = ?", (sys.argv[2],)); c.commit()' "$cat" "$gone"
# The local copy in pg_wal would stand in for the map: away while the backup runs (after a checkpoint no
# recovery needs it).
q -c "CHECKPOINT" >/dev/null
mv "$PGDATA/pg_wal/$gone" "$w/gone.wal"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type incr
is "$rc" 0 "incremental by default with a map of its range missing: exit 0 ${err:+($err)}"
mv "$w/gone.wal" "$PGDATA/pg_wal/$gone"
like "$out" "incremental by LSN scan: the block maps of .* cannot be used \(block map for segment $gone missing\)" \
  "... made by the LSN scan, saying why"
is "$(lvpg "$w/local.conf" backups --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["backups"][-1].get("incr_method"))')" lsn \
  "... and its summary records it (incr_method lsn)"
run lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --type full --verify-map
is "$rc" 2 "--verify-map with a full backup: exit 2"

done_testing
