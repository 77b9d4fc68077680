#!/usr/bin/env bash
# Docker volumes and compose projects against a real engine (tests/harness/docker.sh, one per test):
# --docker-volume backs up a volume exactly; --stop-containers stops the containers writing to it for the
# snapshot and starts them again, also when the backup fails; --compose-project backs up every volume of
# a project (made with plain docker and compose's labels) in one snapshot, its containers stopped as a
# group and started again in dependency order; a [set] with compose-project; errors named clearly.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

lv_clean_env
lv_docker_start
img=$LV_TEST_DOCKER_IMAGE
d=$(lv_tmpdir docker-files)
files_conf "$d/lv.conf" "$d/repo"
run lv repo init
is "$rc" 0 "repo init"

# A writer appends numbered lines, each in two writes with a pause between them: a copy taken while it
# runs almost always ends inside a line. On SIGTERM (docker stop) it finishes its line and writes
# "stopped"; each start writes "started".
writer='trap "stop=1" TERM; echo started >>/data/log; i=0
while [ -z "$stop" ]; do i=$((i + 1)); printf "line %d " $i >>/data/log; usleep 2000; printf "end\n" >>/data/log; done
echo stopped >>/data/log'
mountpoint() { docker volume inspect --format '{{.Mountpoint}}' "$1"; }
running() { docker inspect --format '{{.State.Running}}' "$1"; }
started_ns() { date -d "$(docker inspect --format '{{.State.StartedAt}}' "$1")" +%s%N; }
wait_lines() { # FILE N: until FILE has N lines (20 s at most)
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -f $1 && $(wc -l <"$1") -ge $2 ]] && return 0
    sleep 0.1
  done
  return 1
}
# complete FILE: every line whole (started, stopped or "line N end"), the last one ended by a newline.
complete() { ! grep -qvE '^(started|stopped|line [0-9]+ end)$' "$1" && [[ $(tail -c 1 "$1" | xxd -p) == 0a ]]; }

# --- --docker-volume: the content exactly --------------------------------------------------------------
docker volume create data1 >/dev/null
docker run --rm --network none -v data1:/data "$img" sh -c \
  'mkdir -p /data/a/b && head -c 2000000 /dev/urandom >/data/a/rand && echo hi >/data/a/b/f &&
   chown 999:999 /data/a/b/f && chmod 640 /data/a/b/f && ln -s ../a/rand /data/a/link'
mp1=$(mountpoint data1)
make_tree "$mp1/tree" # every kind of entry and metadata, written by the host into the volume
run lv backup files --docker-volume data1 --json
is "$rc" 0 "backup files --docker-volume data1 ${err:+($err)}"
id=$(jget "$out" 'j["id"]')
is "$(jget "$out" 'j["docker_volume"], j["paths"], j["docker_volumes"]')" \
  "('data1', ['$mp1'], [{'name': 'data1', 'path': '$mp1'}])" "the summary names the volume and its mount point"
run lv restore files "$id" --to "$d/r1"
is "$rc" 0 "restore"
same_tree "$mp1" "$d/r1$mp1" "the volume's content comes back exactly (content, types, owners, modes, xattrs, times)"

# --- errors named clearly ------------------------------------------------------------------------------
run lv backup files --docker-volume nosuch
is "$rc" 1 "an unknown volume: exit 1"
is "$err" "labvault: docker volume nosuch: no such volume" "... one line naming it"
DOCKER_HOST=unix://$d/no-engine.sock run lv backup files --docker-volume data1
is "$rc" 4 "the engine unreachable: exit 4"
like "$err" "^labvault: docker engine unreachable: .*$d/no-engine.sock" "... naming the engine's address"
is "$(wc -l <<<"$err")" 1 "... in one line"
run env PATH=/nonexistent "$LABVAULT_BIN" backup files --docker-volume data1
is "$rc" 3 "no docker CLI: exit 3"
like "$err" "cannot run \`docker\` \(is the docker CLI installed and on PATH\?\)" "... saying so"
run lv backup files "$d" --stop-containers
is "$rc" 2 "--stop-containers without a volume: exit 2"
run lv backup files --docker-volume data1 --compose-project shop
is "$rc" 2 "--docker-volume and --compose-project together: exit 2"
run lv backup files --compose-project shop --stdin x </dev/null
is "$rc" 2 "--compose-project with --stdin: exit 2"

# --- --stop-containers: a consistent copy of a volume written to the whole time --------------------------
docker volume create logs >/dev/null
mpl=$(mountpoint logs)
docker run -d --name writer --network none -v logs:/data "$img" sh -c "$writer" >/dev/null
docker run -d --name bystander --network none -v data1:/data "$img" sh -c 'while true; do sleep 1; done' >/dev/null
wait_lines "$mpl/log" 50 || BAIL_OUT "the writer did not write"
w0=$(started_ns writer)
b0=$(started_ns bystander)
run lv backup files --docker-volume logs --stop-containers --json
is "$rc" 0 "backup files --docker-volume logs --stop-containers ${err:+($err)}"
id=$(jget "$out" 'j["id"]')
lv restore files "$id" --to "$d/r2" >/dev/null
is "$(tail -n 1 "$d/r2$mpl/log")" stopped "the snapshot ends where the writer stopped: it was stopped for the copy"
ok "every line of the copy is whole" complete "$d/r2$mpl/log"
is "$(running writer)" true "the writer runs again"
isnt "$(started_ns writer)" "$w0" "... started again by the backup"
n=$(wc -l <"$d/r2$mpl/log")
ok "... and writes on after its stop" wait_lines "$mpl/log" $((n + 20))
is "$(sed -n "$((n + 1))p" "$mpl/log")" started "... (the live log goes on with 'started' right after the copy's end)"
is "$(running bystander)" true "a container that does not use the volume kept running"
is "$(started_ns bystander)" "$b0" "... untouched"

# --- a backup that fails after the containers were stopped: they run again ------------------------------
mkdir "$d/small"
mount -t tmpfs -o size=1m tmpfs "$d/small"
lv_at_exit umount -l "$d/small"
files_conf "$d/small.conf" "$d/small/repo"
lv repo init >/dev/null 2>&1
head -c 4000000 /dev/urandom >"$mpl/noise" # does not fit in 1 MiB
w1=$(started_ns writer)
run lv backup files --docker-volume logs --stop-containers --post-hook "echo post \$LABVAULT_BACKUP_STATUS >$d/post"
is "$rc" 11 "a repository that fills up during the backup: exit 11 ${err:+($err)}"
like "$err" "[Nn]o space left" "... saying why"
is "$(running writer)" true "the writer runs again after the failed backup"
isnt "$(started_ns writer)" "$w1" "... it was stopped and started again"
is "$(cat "$d/post")" "post failed" "the post hook ran, told the backup failed"
rm -f "$mpl/noise"
export LABVAULT_CONFIG=$d/lv.conf

# --- --compose-project: every volume of the project, one snapshot, containers stopped as a group ---------
P=com.docker.compose.project
docker volume create --label $P=shop --label com.docker.compose.volume=db shop_db >/dev/null
docker volume create --label $P=shop --label com.docker.compose.volume=files shop_files >/dev/null
docker volume create shared_cfg >/dev/null # external to the project: no label, but mounted by its web service
docker volume create --label $P=other other_data >/dev/null
docker run --rm --network none -v shared_cfg:/cfg "$img" sh -c 'echo "listen 8080" >/cfg/app.conf'
svc() { # NAME SERVICE [DOCKER RUN ARG...] : a container of project shop, writing to /data
  local name=$1 service=$2
  shift 2
  docker run -d --name "$name" --network none --label $P=shop --label com.docker.compose.service="$service" \
    --label com.docker.compose.oneoff=False "$@" "$img" sh -c "$writer" >/dev/null
}
svc shop-db-1 db -v shop_db:/data
svc shop-web-1 web --label com.docker.compose.depends_on=db:service_started:false -v shop_files:/data \
  -v shared_cfg:/cfg:ro
docker run --name shop-init-1 --network none --label $P=shop --label com.docker.compose.service=init \
  -v shop_db:/init "$img" sh -c 'echo done >/init/init-ran'
docker run -d --name other-app-1 --network none --label $P=other -v other_data:/data "$img" sh -c "$writer" >/dev/null
for v in shop_db shop_files other_data; do
  wait_lines "$(mountpoint $v)/log" 50 || BAIL_OUT "the writer of $v did not write"
done
o0=$(started_ns other-app-1)
run lv backup files --compose-project shop --json
is "$rc" 0 "backup files --compose-project shop ${err:+($err)}"
id=$(jget "$out" 'j["id"]')
is "$(jget "$out" '[v["name"] for v in j["docker_volumes"]]')" "['shared_cfg', 'shop_db', 'shop_files']" \
  "the project's labelled volumes and the external one its containers mount; not other projects'"
is "$(jget "$out" 'j["compose_project"], sorted(j["paths"]) == sorted(v["path"] for v in j["docker_volumes"])')" \
  "('shop', True)" "summary: the project, and a path per volume (its mount point)"
is "$(jget "$out" 'j["tags"]')" "['compose:shop']" "tagged compose:shop"
lv restore files "$id" --to "$d/r3" >/dev/null
for v in shop_db shop_files; do
  m=$(mountpoint $v)
  is "$(tail -n 1 "$d/r3$m/log")" stopped "$v: the copy ends where its writer stopped"
  ok "$v: every line whole" complete "$d/r3$m/log"
done
same_tree "$(mountpoint shared_cfg)" "$d/r3$(mountpoint shared_cfg)" "shared_cfg restored exactly"
is "$(cat "$d/r3$(mountpoint shop_db)/init-ran")" done "a file the stopped one-off container wrote is there"
is "$(running shop-db-1) $(running shop-web-1)" "true true" "both services run again"
db=$(started_ns shop-db-1)
web=$(started_ns shop-web-1)
ok "db started before web, which depends on it ($db <= $web)" test "$db" -le "$web"
is "$(running shop-init-1)" false "the one-off container that had exited was not started"
is "$(started_ns other-app-1)" "$o0" "another project's container was not touched"

run lv backup files --compose-project nosuch
is "$rc" 1 "an unknown project: exit 1"
is "$err" "labvault: compose project nosuch: no container or volume is labelled $P=nosuch" "... one line naming it"

# --- a backup set with compose-project -----------------------------------------------------------------
cat >>"$d/lv.conf" <<CONF

[set shop]
compose-project = shop
tag = nightly
CONF
web=$(started_ns shop-web-1)
run lv backup files --set shop --json
is "$rc" 0 "backup files --set shop ${err:+($err)}"
is "$(jget "$out" 'sorted(j["tags"])')" "['compose:shop', 'nightly', 'set:shop']" "tagged with the set and the project"
is "$(jget "$out" 'len(j["docker_volumes"])')" 3 "every volume of the project"
is "$(running shop-web-1)" true "the project runs again"
isnt "$(started_ns shop-web-1)" "$web" "... after being stopped"

done_testing
