#!/usr/bin/env python3
"""Simulated nightly history of file snapshots for the retention tests.

The tree of day D (D = 0 on the first day): static/base.bin (1 MiB, the same every day), counter (the
day's number) and rot/f0..f9, where rot/fK holds 64 KiB of bytes unique to the newest day E <= D with
E % 10 == K (so every day writes one new file of incompressible bytes, kept for ten days).

  history.py tree DIR D              write day D's tree into DIR (a fresh directory)
  history.py backup LABVAULT SRC FIRST_DATE DAYS [ARG...]
                                     make SRC day 0's tree, then for each day: update SRC and run
                                     `LABVAULT backup files --time 'DATE 03:00:00' ARG... SRC`
  history.py expect FIRST_DATE DAYS  the dates the policy of year.sh keeps (daily 7, weekly 4 ISO weeks,
                                     monthly 12), one per line, newest first, computed independently of
                                     labvault
  history.py days FIRST_DATE DATE... the set of days whose unique file the trees of those dates hold
"""
import datetime
import os
import random
import subprocess
import sys

UNIQUE = 65536


def unique_bytes(day):
    return random.Random(day * 7919 + 17).randbytes(UNIQUE)


def write_day(src, day, full):
    os.makedirs(os.path.join(src, "static"), exist_ok=True)
    os.makedirs(os.path.join(src, "rot"), exist_ok=True)
    base = os.path.join(src, "static", "base.bin")
    if full or not os.path.exists(base):
        with open(base, "wb") as f:
            f.write(random.Random(0).randbytes(1 << 20))
    with open(os.path.join(src, "counter"), "w") as f:
        f.write("day %d\n" % day)
    for k in range(10):
        newest = day - ((day - k) % 10)
        if newest < 0 or (not full and newest != day):
            continue
        with open(os.path.join(src, "rot", "f%d" % k), "wb") as f:
            f.write(unique_bytes(newest))


def date_of(first, day):
    return datetime.date.fromisoformat(first) + datetime.timedelta(days=day)


def main():
    cmd = sys.argv[1]
    if cmd == "tree":
        write_day(sys.argv[2], int(sys.argv[3]), True)
    elif cmd == "backup":
        lv, src, first, days = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        extra = sys.argv[6:]
        for day in range(days):
            write_day(src, day, day == 0)
            when = "%s 03:00:00" % date_of(first, day).isoformat()
            r = subprocess.run([lv, "backup", "files", "--time", when] + extra + [src], capture_output=True,
                               text=True)
            if r.returncode != 0:
                sys.exit("backup of day %d failed (%d): %s" % (day, r.returncode, r.stderr.strip()))
    elif cmd == "expect":
        first, days = sys.argv[2], int(sys.argv[3])
        dates = [date_of(first, d) for d in range(days)][::-1]
        keep = set(dates[:7])
        weeks = []
        for d in dates:
            w = d.isocalendar()[:2]
            if w not in [x[0] for x in weeks]:
                weeks.append((w, d))
        keep |= {d for _, d in weeks[:4]}
        months = []
        for d in dates:
            if (d.year, d.month) not in [x[0] for x in months]:
                months.append(((d.year, d.month), d))
        keep |= {d for _, d in months[:12]}
        for d in sorted(keep, reverse=True):
            print(d.isoformat())
    elif cmd == "days":
        first = datetime.date.fromisoformat(sys.argv[2])
        held = set()
        for s in sys.argv[3:]:
            day = (datetime.date.fromisoformat(s) - first).days
            held |= {e for e in range(day - 9, day + 1) if e >= 0}
        print(len(held))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
