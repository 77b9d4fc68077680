#!/usr/bin/env bash
# Harness test (TAP): a test's own Docker engine (lv_docker_start / docker.sh): the busybox image runs a
# container with a volume and no network; docker.sh stop leaves nothing behind, also after dockerd was
# killed with SIGKILL under running containers; the engine starts again with its data.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$(dirname "$0")/../lib/tap.sh"

lv_docker_start
plan 11
h=$(lv_harness_dir)

pass "engine started in $LV_DOCKER_DIR"
like "$DOCKER_HOST" "^unix://.*/docker.sock$" "DOCKER_HOST is its own socket"
is "$(docker run --rm --network none "$LV_TEST_DOCKER_IMAGE" sh -c 'echo hi from busybox')" "hi from busybox" \
  "the busybox image runs a shell"
docker volume create hv >/dev/null
docker run --rm --network none -v hv:/data "$LV_TEST_DOCKER_IMAGE" sh -c 'echo kept >/data/f'
mp=$(docker volume inspect --format '{{.Mountpoint}}' hv)
is "$(cat "$mp/f")" kept "a volume's content is at its mount point, under the engine's directory"
like "$mp" "^$LV_DOCKER_DIR/" "... which is the test's"

# The processes of this engine: its dockerd, containerd, shims and containers.
ours() {
  local p a ids
  ids=$(ls "$LV_DOCKER_DIR/data/containers" 2>/dev/null | paste -sd '|')
  for p in /proc/[0-9]*; do
    a=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    if [[ $a == *"$LV_DOCKER_DIR"* ]] || { [[ -n $ids ]] && grep -qE "$ids" "$p/cgroup" 2>/dev/null; }; then
      [[ $(cut -d' ' -f3 "$p/stat" 2>/dev/null) == [ZX] ]] || echo "${p#/proc/}"
    fi
  done
}

docker run -d --network none --name w1 "$LV_TEST_DOCKER_IMAGE" sh -c 'while true; do sleep 1; done' >/dev/null
docker run -d --network none --name w2 "$LV_TEST_DOCKER_IMAGE" sh -c 'while true; do sleep 1; done' >/dev/null
is "$(docker ps -q | wc -l)" 2 "two containers run"
kill -KILL "$(cat "$LV_DOCKER_DIR/run/dockerd.pid")"
sleep 0.3
isnt "$(ours)" "" "dockerd killed: its shims and containers are still there"
"$h/docker.sh" stop "$LV_DOCKER_DIR" 2>/dev/null
is "$(ours)" "" "docker.sh stop kills what is left"
is "$(grep -cF "$LV_DOCKER_DIR/" /proc/self/mountinfo)" 0 "... and unmounts what it mounted"
"$h/docker.sh" start "$LV_DOCKER_DIR" >/dev/null
is "$(docker run --rm --network none -v hv:/data "$LV_TEST_DOCKER_IMAGE" cat /data/f)" kept \
  "started again: the volume is still there"
"$h/docker.sh" stop "$LV_DOCKER_DIR" 2>/dev/null
nok "stopped: status says so" "$h/docker.sh" status "$LV_DOCKER_DIR"
