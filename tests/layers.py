#!/usr/bin/env python3
"""The layers of the source tree (docs/architecture.md), checked on every test run.

Each source folder has a rank; a file may include headers of its own folder and of folders of a lower
rank, never of a higher one (a dependency that runs back up the layers) nor of another folder of the same
rank (features stay independent of each other). SQLite (the header <sqlite3.h> or any sqlite3 symbol) is
used in catalog/ only: everything else goes through its typed functions. A folder that is not in the table
is an error too, so a new folder gets its place in the layers when it is made.

Usage: tests/layers.py [SOURCE_ROOT]; prints one line per violation and exits 1 when there is any (TAP)."""
import os
import re
import sys

RANKS = {
    "common": 0,                                  # errors, buffers, logging, JSON, times, interrupts, threads
    "config": 1, "crypto": 1,                     # configuration; cryptography
    "store": 2,                                   # storage drivers: local directory, S3
    "catalog": 3,                                 # the local SQLite catalog and its typed tables
    "repo": 4,                                    # the repository: keys, sealing, objects, packs, index
    "chunk": 5, "snapshot": 5, "pg": 5,           # formats over the repository
    "maint": 6,                                   # check, catalog rebuild and sync, the catalog copy
    "wal": 7,                                     # the WAL archive
    "backup": 8, "restore": 8,                    # the features
    "drills": 9, "retention": 9,                  # features built on the features
    "cli": 10, "bench": 10,                       # programs
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


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
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
    print("1..1")
    for p in problems:
        print(f"# {p}")
    print(("not ok" if problems else "ok") + f" 1 - {len(files)} source files: the include graph follows the "
          f"layers and SQLite stays in catalog/ ({len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
