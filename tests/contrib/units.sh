#!/usr/bin/env bash
# `meson install` puts the binary, the systemd units of contrib/systemd (with the installed paths) and the
# documents in their places under the prefix; every unit passes `systemd-analyze verify` (a broken one
# does not: the check works); every labvault unit has OnFailure=labvault-failure@%n.service.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"

command -v systemd-analyze >/dev/null || { plan skip_all "no systemd-analyze"; }
build=${LV_BUILD_ROOT:?}
d=$(lv_tmpdir units)
run env DESTDIR="$d/dest" meson install -C "$build" --quiet --no-rebuild
is "$rc" 0 "meson install --destdir: exit 0 ${err:+($err)}"
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
root=$d/dest$prefix
ok "the binary is installed ($prefix/bin/labvault) and runs" "$root/bin/labvault" version
units=$(ls "$root/lib/systemd/system")
is "$(wc -w <<<"$units")" 12 "twelve units in $prefix/lib/systemd/system"
ok "the documents are in $prefix/share/doc/labvault" test -s "$root/share/doc/labvault/README.md" \
  -a -s "$root/share/doc/labvault/retention.md" -a -s "$root/share/doc/labvault/drills.md"
ok "the units start $prefix/bin/labvault and point at $prefix/share/doc/labvault" \
  grep -q "ExecStart=$prefix/bin/labvault" "$root/lib/systemd/system/labvault-forget.service"
is "$(grep -L '^OnFailure=labvault-failure@%n.service' "$root"/lib/systemd/system/*.service | grep -v failure@ || true)" "" \
  "every labvault service has OnFailure=labvault-failure@%n.service"

# systemd-analyze verify needs the ExecStart programs: point them at the installed binary
mkdir -p "$d/verify"
for f in "$root"/lib/systemd/system/*; do
  sed "s|$prefix/bin/labvault|$root/bin/labvault|g" "$f" >"$d/verify/${f##*/}"
done
v=$d/verify
run systemd-analyze verify "$v/labvault-backup-pg@full.service" "$v/labvault-backup-pg@incr.service" \
  "$v/labvault-backup-pg-full.timer" "$v/labvault-backup-pg-incr.timer" "$v/labvault-backup-files@etc.service" \
  "$v/labvault-backup-files@etc.timer" "$v/labvault-forget.service" "$v/labvault-forget.timer" \
  "$v/labvault-status.service" "$v/labvault-status.timer" "$v/labvault-drill.service" "$v/labvault-drill.timer" \
  "$v/labvault-failure@labvault-forget.service.service"
is "$rc" 0 "systemd-analyze verify: every unit and timer: exit 0"
is "$out$err" "" "... with nothing to say"
sed 's/^OnCalendar=.*/OnCalendar=every now and then/' "$v/labvault-forget.timer" >"$d/broken.timer"
cp "$v/labvault-forget.service" "$d/broken.service"
run systemd-analyze verify "$d/broken.timer"
ok "a timer with a bad OnCalendar fails the same verification ($(head -n 1 <<<"$err"))" test "$rc" -ne 0 -o -n "$err"

done_testing
