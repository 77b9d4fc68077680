#!/usr/bin/env bash
# The WAL record reader on real PostgreSQL 15 WAL: a cluster archiving with `labvault wal push` commits,
# aborts, drops a table (also inside a prepared transaction), truncates, writes a restore point and drops a
# database; the segments are fetched back from the repository and the reader's events (test_wal_records
# dump) must equal pg_waldump's on the same files, record count included. Then what `wal push` recorded
# in the catalog (each segment's first and last commit time) and the DROP TABLE commit by its xid.
# Usage: records.sh TEST_WAL_RECORDS_BINARY
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/walib.sh"

lv_require_services pg
lv_clean_env
lv=${LABVAULT_BIN:?}
dumper=${1:?usage: records.sh TEST_WAL_RECORDS_BINARY}
waldump=${LV_TEST_PG_BINDIR:-/usr/lib/postgresql/15/bin}/pg_waldump

w=$(wal_workdir records)
wal_conf "$w/local.conf" "$w/repo"
ok "repository created" lvpg "$w/local.conf" repo init
lv_pg_start "archive_mode = on" "archive_command = '$lv --config $w/local.conf wal push %p'" \
  "wal_level = replica" "max_prepared_transactions = 2" "wal_keep_size = 1GB"
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
wal_switch
first=$(q -c "SELECT pg_walfile_name(pg_current_wal_lsn() + 1)")

q -c "CREATE TABLE keep(id int primary key, t text)" -c "INSERT INTO keep SELECT g, 'x' FROM generate_series(1, 500) g"
q -c "BEGIN" -c "CREATE TABLE gone(id int)" -c "ROLLBACK"
# About 20 MiB of WAL: records continued across pages and segment boundaries.
q -c "CREATE TABLE bulk AS SELECT g, repeat('b', 200) AS t FROM generate_series(1, 70000) g"
bulk_node=$(q -c "SELECT pg_relation_filenode('bulk')")
q -c "SELECT pg_create_restore_point('before_victim')" >/dev/null
q -c "CREATE TABLE victim(id int primary key, t text)" -c "INSERT INTO victim SELECT g, repeat('v', 3000) FROM generate_series(1, 100) g"
victim_node=$(q -c "SELECT pg_relation_filenode('victim')")
# A backup, when `backup pg` works, gives `wal drops` the table names (its relation map).
have_backup=0
if lvpg "$w/local.conf" backup pg --pgdata "$PGDATA" --no-row-counts >"$w/backup.out" 2>&1; then
  have_backup=1
else
  diag "backup pg failed, wal drops is checked without names: $(tail -1 "$w/backup.out")"
fi
drop_xid=$(q -c "BEGIN" -c "SELECT txid_current()" -c "DROP TABLE victim" -c "COMMIT")
q -c "TRUNCATE keep"
q -c "CREATE TABLE twopc(id int)"
q -c "BEGIN" -c "DROP TABLE twopc" -c "PREPARE TRANSACTION 'p1'" -c "COMMIT PREPARED 'p1'"
q -c "CREATE DATABASE victimdb" 2>/dev/null
q -c "DROP DATABASE victimdb"
q -c "SELECT pg_switch_wal()" >/dev/null
last=$(q -c "SELECT pg_walfile_name(pg_current_wal_lsn() + 1)")
wal_switch
ok "PostgreSQL archived every segment" wal_wait_archived 60

# The segments from $first to the one before $last, fetched back from the repository.
segs=()
while read -r s; do segs+=("$s"); done < <(cd "$PGDATA/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' |
  awk -v a="$first" -v b="$last" '("" $0) >= ("" a) && ("" $0) < ("" b)' | sort)
ok "the scenario wrote segments (${#segs[@]})" test "${#segs[@]}" -ge 2
d=$(lv_tmpdir segs)
chmod 0777 "$d"
for s in "${segs[@]}"; do
  lvpg "$w/local.conf" wal fetch "$s" "$d/$s" || fail "fetch $s"
done

# pg_waldump's lines for the same events, in the dumper's form.
normalize() {
  python3 -c '
import re, sys
def rel(p):
    p = p.split("/")
    if p[0] == "base": return "1663/%s/%s" % (p[1], p[2])
    if p[0] == "global": return "1664/0/%s" % p[1]
    if p[0] == "pg_tblspc": return "%s/%s/%s" % (p[1], p[3], p[4])
    return "?"
n = 0
for line in sys.stdin:
    m = re.match(r"rmgr: (\S+) .*tx: +(\d+), lsn: (\S+), prev \S+, desc: (.*)", line)
    if not m: continue
    n += 1
    rm, tx, lsn, desc = m.groups()
    if rm == "Transaction" and desc.startswith("PREPARE"):
        print("%s PREPARE %s %s" % (lsn, tx, re.match(r"PREPARE gid (.*?): ", desc).group(1)))
    elif rm == "Transaction" and desc.startswith("ASSIGNMENT"):
        m2 = re.match(r"ASSIGNMENT xtop (\d+): subxacts:((?: \d+)*)", desc)
        print("%s ASSIGNMENT %s %s" % (lsn, m2.group(1), ",".join(m2.group(2).split())))
    elif rm == "Transaction":
        k = re.match(r"(COMMIT_PREPARED|ABORT_PREPARED|COMMIT|ABORT) (?:(\d+): )?(\S+ \S+) UTC", desc)
        if not k: continue
        kind, pxid, ts = k.groups()
        rels = re.search(r"; rels: ([^;]*)", desc)
        out = "%s %s %s %s" % (lsn, kind, pxid or tx, ts)
        if rels: out += " " + ",".join(rel(x) for x in rels.group(1).split())
        print(out)
    elif rm == "Storage" and desc.startswith("TRUNCATE "):
        t = re.match(r"TRUNCATE (\S+) to (\d+) blocks flags (\d+)", desc)
        print("%s TRUNCATE %s %s %s" % (lsn, rel(t.group(1)), t.group(2), t.group(3)))
    elif rm == "Database" and desc.startswith("DROP dir"):
        print("%s DB_DROP %s" % (lsn, desc.split()[2].split("/")[1]))
    elif rm == "XLOG" and desc.startswith("RESTORE_POINT"):
        print("%s RESTORE_POINT %s" % (lsn, desc.split()[1]))
    elif rm == "Heap" and desc.startswith("INPLACE"):
        b = re.search(r"blkref #0: rel 1664/0/1262 (?:fork main )?blk (\d+)", line)
        if b:
            print("%s DB_INVALIDATE %s %s" % (lsn, b.group(1), re.match(r"INPLACE off:? (\d+)", desc).group(1)))
    elif rm in ("Heap", "Heap2"):
        op = desc.split()[0].split("+")[0]
        b = re.search(r"blkref #0: rel (\d+/\d+/\d+)", line)
        if not b: continue
        if rm == "Heap" and op in ("INSERT", "UPDATE", "HOT_UPDATE", "DELETE"):
            if op == "DELETE" and int(re.search(r"flags:? (0x[0-9A-F]+)", desc).group(1), 16) & 0x18: continue
            print("%s HEAP %s %s %s 1" % (lsn, {"HOT_UPDATE": "UPDATE"}.get(op, op), tx, b.group(1)))
        elif rm == "Heap2" and op == "MULTI_INSERT":
            nt = re.search(r"(?:ntuples: (\d+)|(\d+) tuples)", desc)
            print("%s HEAP INSERT %s %s %s" % (lsn, tx, b.group(1), nt.group(1) or nt.group(2)))
print("records %d" % n)
'
}

all_ours=$d/ours.txt
: >"$all_ours"
for s in "${segs[@]}"; do
  theirs=$(TZ=UTC PGTZ=UTC "$waldump" --path "$d" "$s" "$s" 2>/dev/null | normalize)
  ours=$("$dumper" dump "$d/$s" | grep -v '^end ')
  printf '%s\n' "$ours" >>"$all_ours"
  if [[ $ours == "$theirs" ]]; then
    pass "segment $s: the same events and record count as pg_waldump"
  else
    fail "segment $s: the same events and record count as pg_waldump"
    diag "$(diff <(printf '%s\n' "$theirs") <(printf '%s\n' "$ours") | head -20)"
  fi
done
# What the scenario must have produced (checked once over all segments, wherever they fell).
ok "the DROP TABLE commit: xid $drop_xid, dropping relfilenode $victim_node" \
  grep -Eq "COMMIT $drop_xid [0-9-]+ [0-9:.]+ (.*,)?1663/[0-9]+/$victim_node(,|\$)" "$all_ours"
ok "an abort dropping the rolled-back table's file" grep -Eq ' ABORT [0-9]+ [0-9-]+ [0-9:.]+ 1663/' "$all_ours"
ok "a COMMIT_PREPARED with the dropped table" grep -Eq ' COMMIT_PREPARED [0-9]+ [0-9-]+ [0-9:.]+ 1663/' "$all_ours"
ok "the restore point" grep -q ' RESTORE_POINT before_victim$' "$all_ours"
ok "DROP DATABASE: the pg_database in-place update, then the drop" \
  bash -c "grep -A6 ' DB_INVALIDATE ' '$all_ours' | grep -q ' DB_DROP '"
diag "$(grep -v '^records' "$all_ours" | head -20)"

# wal drops: the DROP TABLE, the TRUNCATE, the prepared drop and the DROP DATABASE, with their targets.
lvpg "$w/local.conf" wal drops --json >"$w/drops.json" 2>"$w/drops.err" || fail "wal drops: $(cat "$w/drops.err")"
inval=$(awk '/ DB_INVALIDATE / {print $1}' "$all_ours" | tail -1 | python3 -c 'import sys; h,l=sys.stdin.read().strip().split("/"); print("%X/%X" % (int(h,16), int(l,16)))')
drops=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for x in d["drops"]:
    names = ",".join((r["name"] or "") + "#" + str(r["relfilenode"]) for r in x["relations"])
    print(x["kind"], x["xid"], x["target_lsn"] if x["kind"] == "drop-database" else "-", names, x["restore"])
' "$w/drops.json")
diag "$drops"
like "$drops" "drop $drop_xid - [^ ]*#$victim_node[^ ]* labvault restore pg --to DIR --target-xid $drop_xid --target-exclusive" \
  "wal drops: the DROP TABLE, its xid and the restore command that stops before it"
like "$drops" "truncate-or-rewrite [0-9]+ - " "wal drops: the TRUNCATE (files replaced in the same transaction)"
is "$(grep -c '^drop ' <<<"$drops")" 2 "wal drops: two table drops (plain and prepared), the rolled-back CREATE is not one"
like "$drops" "drop-database [0-9]+ $inval  labvault restore pg --to DIR --target-lsn $inval --target-exclusive" \
  "wal drops: DROP DATABASE stops before the pg_database in-place update ($inval)"
if ((have_backup)); then
  like "$drops" "drop $drop_xid - ([^ ]*,)?public.victim#$victim_node" "wal drops: the table's name from the backup's relation map"
else
  skip "no backup: no names"
fi
since=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([x for x in d["drops"] if x["kind"]=="drop-database"][0]["time"])' "$w/drops.json")
is "$(lvpg "$w/local.conf" wal drops --since "$since" --json | python3 -c 'import json,sys; print(" ".join(x["kind"] for x in json.load(sys.stdin)["drops"]))')" \
  "drop-database" "wal drops --since TIME: only what was committed from then on"
rc=0
err=$(lvpg "$w/local.conf" wal drops --since yesterday 2>&1 >/dev/null) || rc=$?
is "$rc" 2 "wal drops --since with a bad time: usage error"
like "$err" "--since 'yesterday': expected an LSN" "... naming the value"

# wal push recorded each segment's first and last commit/abort time (unix seconds) in the catalog.
bad=0
for s in "${segs[@]}"; do
  want=$({ grep -E ' (COMMIT|ABORT)' <("$dumper" dump "$d/$s") || true; } | awk '{print $4" "$5}' |
    TZ=UTC python3 -c 'import sys,datetime
ts=[int(datetime.datetime.strptime(l.strip(),"%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()) for l in sys.stdin if l.strip()]
print("%d|%d" % (ts[0], ts[-1]) if ts else "0|0")')
  got=$(sqlite3 "$w/local.db" "SELECT begin_time || '|' || end_time FROM wal_files WHERE name = '$s'")
  # -1|-1: the segment's only commit continues into the next one (its time is read from the two joined)
  [[ $got == "$want" || ($want == "0|0" && $got == "-1|-1") ]] || { bad=$((bad + 1)); diag "$s: catalog $got, segment $want"; }
done
is "$bad" 0 "wal push recorded every segment's first and last commit time"

# The per-segment summaries wal push recorded (wal/summary.h): the 70000 rows of the bulk load, counted
# exactly across the segments they span (records cut at segment ends included), the restore point and the
# prepared transaction's GID, and the xid range of the segment holding the DROP TABLE's commit.
# Per segment, the bulk table's rows whose records start in it (pg_waldump over all the segments, so a
# record continued into the next segment counts where it starts): the summaries keep those of 100 rows on,
# and `wal changes` adds up the 70000 exactly (records cut at segment ends included, whichever way).
want=$(TZ=UTC "$waldump" --path "$d" "${segs[0]}" "${segs[-1]}" 2>/dev/null | normalize | python3 -c '
import sys
node = sys.argv[1]
per = {}
for line in sys.stdin:
    f = line.split()
    if len(f) == 6 and f[1] == "HEAP" and f[4].endswith("/" + node):
        h, l = f[0].split("/")
        seg = "00000001%08X%08X" % (int(h, 16), int(l, 16) >> 24)
        per[seg] = per.get(seg, 0) + int(f[5])
print(" ".join(sorted(s for s, n in per.items() if n >= 100)))
print(sum(per.values()))' "$bulk_node")
is "$(sqlite3 "$w/local.db" "SELECT group_concat(segment, ' ') FROM (SELECT segment FROM wal_changes WHERE rel = $bulk_node ORDER BY 1)")" \
  "$(head -1 <<<"$want")" "summaries: a row for each segment holding 100 or more of the bulk load's rows"
is "$(tail -1 <<<"$want")" 70000 "... which has 70000 rows in all (pg_waldump)"
first_lsn=$(python3 -c 'import sys; n=sys.argv[1]; print("%X/%X" % (int(n[8:16],16), int(n[16:24],16) << 24))' "$first")
got=$(lvpg "$w/local.conf" wal changes --inserts --since "$first_lsn" --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["transactions"]:
    for r in t["tables"]:
        if r["relfilenode"] == int(sys.argv[1]):
            print(r["inserted"], r["updated"], r["deleted"], t["end"])' "$bulk_node")
is "$got" "70000 0 0 commit" "wal changes --inserts --since LSN: the bulk load, 70000 inserted rows, committed"
is "$(sqlite3 "$w/local.db" "SELECT count(*) FROM wal_files WHERE kind = 'segment' AND summary = 1")" \
  "$(sqlite3 "$w/local.db" "SELECT count(*) FROM wal_files WHERE kind = 'segment'")" "summaries: every pushed segment has one"
rp_lsn=$(awk '/ RESTORE_POINT before_victim$/ {print $1}' "$all_ours")
is "$(sqlite3 "$w/local.db" "SELECT printf('%X/%08X', lsn >> 32, lsn & 4294967295) FROM wal_points WHERE kind = 1 AND name = 'before_victim'")" \
  "$rp_lsn" "summaries: the restore point and its LSN"
is "$(sqlite3 "$w/local.db" "SELECT name FROM wal_points WHERE kind = 2")" "p1" "summaries: the prepared transaction's GID"
is "$(sqlite3 "$w/local.db" "SELECT count(*) FROM wal_files WHERE summary = 1 AND $drop_xid BETWEEN xid_lo AND xid_hi")" 1 \
  "summaries: one segment's xid range holds the DROP TABLE's xid"

# restore pg resolves an xid and a name to their record before choosing a backup: the restore point lies
# before the only backup (refused, nothing written), the DROP TABLE after it.
if ((have_backup)); then
  rc=0
  err=$(lvpg "$w/local.conf" restore pg --to "$w/r1" --target-name before_victim --dry-run 2>&1 >/dev/null) || rc=$?
  is "$rc" 2 "restore --target-name before the only backup: refused (exit 2)"
  rp_pg=$(python3 -c 'import sys; h,l=sys.argv[1].split("/"); print("%X/%X" % (int(h,16), int(l,16)))' "$rp_lsn")
  like "$err" "no backup became consistent before the target restore point \"before_victim\" \(at $rp_pg\)" \
    "... naming the restore point's LSN"
  ok "... and nothing written" test ! -e "$w/r1"
  run lvpg "$w/local.conf" restore pg --to "$w/r2" --target-xid "$drop_xid" --target-exclusive --dry-run
  is "$rc" 0 "restore --target-xid (the DROP TABLE) --dry-run: planned ${err:+($err)}"
else
  skip "no backup" 4
fi

# catalog rebuild refills wal_files from the listing: the same rows (push times and commit times unknown)
cols="name, timeline, kind, key, stored_size, checksum, begin_lsn, end_lsn"
before=$(sqlite3 "$w/local.db" "SELECT $cols FROM wal_files ORDER BY name")
status_before=$(lvpg "$w/local.conf" wal status | grep -v '^last ')
rm -f "$w/local.db"
ok "catalog rebuild" lvpg "$w/local.conf" catalog rebuild
is "$(sqlite3 "$w/local.db" "SELECT $cols FROM wal_files ORDER BY name")" "$before" "catalog rebuild: wal_files is the same"
is "$(sqlite3 "$w/local.db" "SELECT count(*) FROM wal_files WHERE begin_time IS NOT NULL OR pushed != -1")" 0 \
  "... with push and commit times unknown"
is "$(lvpg "$w/local.conf" wal status | grep -v '^last ')" "$status_before" "wal status says the same"
is "$(sqlite3 "$w/local.db" "SELECT count(*) FROM wal_changes")" 0 "... and no summaries"
if ((have_backup)); then
  run lvpg "$w/local.conf" restore pg --to "$w/r3" --target-xid "$drop_xid" --target-exclusive --dry-run
  is "$rc" 0 "after the rebuild, restore --target-xid --dry-run reads the segments it needs ${err:+($err)}"
  ok "... and records their summaries" test "$(sqlite3 "$w/local.db" "SELECT count(*) FROM wal_files WHERE summary = 1")" -gt 0
else
  skip "no backup" 2
fi

done_testing
