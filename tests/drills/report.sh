#!/usr/bin/env bash
# `drill report --html`: a history of file drills (two passed, one failed after a flipped byte in a pack,
# one more passed after a new snapshot), rendered by headless Chromium: the screenshot is a valid PNG of
# the window size showing the chart's colours, and the DOM has the SVG chart with one point per drill,
# the timeline, one table row per drill and the details of the last failure. No external assets.
set -euo pipefail
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/fileslib.sh"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $chromium ]]; then
  if [[ -n ${CI:-} || -n ${LV_TEST_REQUIRE_SERVICES:-} ]]; then BAIL_OUT "chromium is not installed"; fi
  plan skip_all "chromium is not installed (tests/run installs it)"
fi
w=$(lv_tmpdir report)
files_conf "$w/lv.conf" "$w/repo"
printf '[drill]\nscratch-dir = %s/scratch\n' "$w" >>"$w/lv.conf"
lv repo init >/dev/null 2>&1
mkdir -p "$w/src/a"
head -c 2000000 /dev/urandom >"$w/src/a/big"
printf 'small\n' >"$w/src/a/small"
lv backup files "$w/src" >/dev/null
ok "drill 1 passes" lv drill run --latest-snapshot
ok "drill 2 passes" lv drill run --latest-snapshot
pack=$(find "$w/repo/data" -type f -size +1M | head -n 1)
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[1000] ^= 1; open(p,"wb").write(b)' "$pack"
nok "drill 3 fails on the flipped byte" lv drill run --latest-snapshot
printf 'new\n' >"$w/src/a/small"
rm "$w/src/a/big"
lv backup files "$w/src" >/dev/null
ok "drill 4 (a new snapshot without the damaged pack) passes" lv drill run --latest-snapshot

run lv drill report --html "$w/report.html"
is "$rc" 0 "drill report --html"
like "$out" "^wrote $w/report.html \([0-9]+ bytes\)$" "it says where"
unlike "$(grep -Eo '(src|href)="[a-z]+:[^"]*"|@import|url\(' "$w/report.html" | sort -u | tr '\n' ' ')" \
  '(https?:|file:|@import|url\()' "no external assets (no src/href URLs, no @import, no url())"

browse() { "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$w/chrome" "$@" 2>/dev/null; }
timeout 120 bash -c "$(declare -f browse); chromium=$chromium w=$w browse --screenshot='$w/shot.png' --window-size=1200,900 'file://$w/report.html'" >/dev/null || true
ok "chromium wrote a screenshot" test -s "$w/shot.png"
info=$(python3 "$(dirname "$0")/pnginfo.py" "$w/shot.png" 2563eb d97706 dc2626 16a34a) || info='{}'
is "$(jget "$info" 'j.get("width"), j.get("height")')" "(1200, 900)" "a valid PNG of the window size"
ok "not blank: $(jget "$info" 'j.get("colors")') distinct colours" test "$(jget "$info" 'j.get("colors", 0)')" -gt 50
ok "the chart's files line and points are drawn (orange pixels)" test "$(jget "$info" 'j["counts"]["d97706"]')" -gt 100
ok "the failed drill is drawn in red" test "$(jget "$info" 'j["counts"]["dc2626"]')" -gt 50
ok "passed drills are drawn in green on the timeline" test "$(jget "$info" 'j["counts"]["16a34a"]')" -gt 100

dom=$(timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$w/chrome" \
  --dump-dom "file://$w/report.html" 2>/dev/null) || true
count() { python3 -c 'import re,sys; print(len(re.findall(sys.argv[1], sys.stdin.read())))' "$1" <<<"$dom"; }
is "$(count '<svg id="rto-chart"')" 1 "the DOM has the RTO chart"
ticks=$(python3 -c 'import re,sys; d=sys.stdin.read(); m=re.search(r"<svg id=\"rto-chart\".*?</svg>", d, re.S); print(" ".join(re.findall(r">([0-9.]+) s</text>", m.group(0) if m else "")))' <<<"$dom")
ok "the RTO axis labels (drills of a few hundredths of a second) are distinct and increase: $ticks" \
  python3 -c 'import sys; v=sys.argv[1:]; f=[float(x) for x in v]; sys.exit(not (len(v) >= 3 and len(set(v)) == len(v) and f == sorted(f) and f[-1] > 0))' $ticks
is "$(count '<circle class="pt pt-files (pass|fail)"')" 4 "the chart has one point per drill"
is "$(count '<circle class="pt pt-files fail"')" 1 "one of them marks the failure"
is "$(count '<polyline class="line line-files"')" 1 "the files drills are joined by a line"
is "$(count '<rect class="tl (pass|fail)"')" 4 "the timeline has one mark per drill"
body=$(python3 -c 'import re,sys; m=re.search(r"<table id=\"drills\">.*?<tbody>(.*?)</tbody>", sys.stdin.read(), re.S); print(m.group(1) if m else "")' <<<"$dom")
is "$(grep -c '<tr class=' <<<"$body")" 4 "the table has one row per drill"
is "$(grep -c '<tr class="fail"' <<<"$body")" 1 "one row is a failure"
like "$dom" '<div id="last-failure"><p>Drill <code>[0-9T]+Z-[0-9a-f]{8}</code> \(files, [^)]*\): <b>restore: .*authentication failed' \
  "the last failure's details name the damage"

done_testing
