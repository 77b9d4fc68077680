#!/usr/bin/env python3
"""The layers of the source tree (docs/architecture.md), checked on every test run.

Each source folder has a rank; a file may include headers of its own folder and of folders of a lower
rank, never of a higher one (a dependency that runs back up the layers) nor of another folder of the same
rank (features stay independent of each other). SQLite (the header <sqlite3.h> or any sqlite3 symbol) is
used in catalog/ only: everything else goes through its typed functions. A folder that is not in the table
is an error too, so a new folder gets its place in the layers when it is made.

Usage: tests/layers.py [SOURCE_ROOT]; prints one line per violation and exits 1 when there is any (TAP).
A second test plants violations in a scratch tree and checks that each is caught."""
import os
import re
import sys
import tempfile

RANKS = {
    "common": 0,                                  # errors, buffers, logging, JSON, times, interrupts, threads
    "config": 1, "crypto": 1,                     # configuration; cryptography
    "store": 2,                                   # storage drivers: local directory, S3
    "catalog": 3,                                 # the local SQLite catalog and its typed tables
    "repo": 4,                                    # the repository: keys, sealing, objects, packs, index
    "chunk": 5, "snapshot": 5, "pg": 5,           # formats over the repository
    "maint": 6,                                   # repo check, catalog rebuild and sync
    "wal": 7,                                     # the WAL archive
    "backup": 8, "restore": 8,                    # the features
    "drills": 9, "retention": 9,                  # features built on the features
    "status": 10,                                 # the state of everything: backups, WAL, drills
    "cli": 11, "bench": 11,                       # programs
}
SKIP = {"tests", "docs", "scripts", "contrib", "build", ".git"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)
SQLITE = re.compile(r"\bsqlite3\w*")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def source_files(root):
    for d in sorted(os.listdir(root)):
        path = os.path.join(root, d)
        if d in SKIP or d.startswith(".") or d.startswith("build") or not os.path.isdir(path):
            continue
        for dirpath, _, names in os.walk(path):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield d, os.path.relpath(os.path.join(dirpath, n), root)


def problems_of(root):
    problems = []
    files = list(source_files(root))
    for folder, rel in files:
        if folder not in RANKS:
            problems.append(f"{rel}: folder {folder}/ has no place in the layers (tests/layers.py RANKS)")
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            target = inc.split("/")[0] if "/" in inc else None
            if inc == "sqlite3.h" and folder != "catalog":
                problems.append(f"{rel}: includes <sqlite3.h>: SQLite is used in catalog/ only")
            if target is None or target == folder or target not in RANKS:
                continue
            if RANKS[target] > RANKS[folder]:
                problems.append(f"{rel}: includes {inc}: {target}/ is above {folder}/ in the layers")
            elif RANKS[target] == RANKS[folder]:
                problems.append(f"{rel}: includes {inc}: {target}/ and {folder}/ are features of one layer")
        if folder != "catalog":
            code = COMMENT.sub("", text)
            code = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', code)
            syms = sorted(set(SQLITE.findall(code)))
            if syms:
                problems.append(f"{rel}: uses {', '.join(syms[:4])}{' ...' if len(syms) > 4 else ''}: SQLite is "
                                f"used in catalog/ only")
    return len(files), problems


# Each planted file and the problem it must produce.
PLANTED = {
    "repo/up.c": ('#include "wal/push.h"\n', "above repo/"),
    "backup/side.c": ('#include "restore/pg.h"\n', "features of one layer"),
    "cli/db.c": ("#include <sqlite3.h>\n", "includes <sqlite3.h>"),
    "wal/sym.c": ("/* sqlite3_open in a comment is fine */ static void *h = sqlite3_open;\n", "uses sqlite3_open"),
    "newfolder/x.c": ("\n", "has no place in the layers"),
    "catalog/ok.c": ('#include <sqlite3.h>\n#include "common/buf.h"\n', None),
}


def self_test():
    with tempfile.TemporaryDirectory() as root:
        for rel, (text, _) in PLANTED.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        _, problems = problems_of(root)
    missed = [rel for rel, (_, want) in PLANTED.items()
              if want and not any(p.startswith(rel + ":") and want in p for p in problems)]
    extra = [p for p in problems if not any(p.startswith(rel + ":") for rel, (_, w) in PLANTED.items() if w)]
    return missed, extra


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    nfiles, problems = problems_of(root)
    print("1..2")
    for p in problems:
        print(f"# {p}")
    print(("not ok" if problems else "ok") + f" 1 - {nfiles} source files: the include graph follows the "
          f"layers and SQLite stays in catalog/ ({len(problems)} problems)")
    missed, extra = self_test()
    for m in missed:
        print(f"# planted violation not found: {m}")
    for e in extra:
        print(f"# reported without a planted violation: {e}")
    print(("not ok" if missed or extra else "ok") + f" 2 - each of {len(PLANTED)} planted cases is judged right "
          "(an include up the layers, between features of one layer, <sqlite3.h>, a sqlite3 symbol, an unranked "
          "folder; catalog/ may use SQLite)")
    return 1 if problems or missed or extra else 0


if __name__ == "__main__":
    sys.exit(main())
