#!/usr/bin/env python3
"""Test trees of many small files, written fast and reproducibly (tests/backup/scale.sh).

  smalltree.py files DIR N PER_DIR [FIRST]  N files of 20-120 bytes, PER_DIR per directory (d00000/...),
                                            numbered from FIRST (default 0): a second call adds to a tree
  smalltree.py random FILE MIB              MIB MiB of random bytes (fills the packer in any run)
  smalltree.py deep DIR LEVELS              a chain of LEVELS nested directories, a small file in each
  smalltree.py rewrite DIR                  append a line to every regular file below DIR
  smalltree.py peak OUT CMD...              run CMD (stdout to OUT), print "RC PEAK_KIB" (its peak RSS,
                                            getrusage of the child: no /usr/bin/time needed)
  smalltree.py killfcache DB CMD...         run CMD; as soon as the catalog DB holds a files cache record
                                            not yet verified (written by CMD, its snapshot not committed),
                                            SIGKILL it; print "killed" or "finished" (it ended first)
"""
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time


def files(root, n, per_dir, first=0):
    rnd = random.Random(first)
    d = os.path.join(root, 'd%05d' % (first // per_dir))
    os.makedirs(d, exist_ok=True)
    for i in range(first, first + n):
        if i % per_dir == 0:
            d = os.path.join(root, 'd%05d' % (i // per_dir))
            os.makedirs(d, exist_ok=True)
        body = ('file %d of %s\n' % (i, root)).encode() + rnd.randbytes(rnd.randint(0, 80)).hex()[:rnd.randint(0, 80)].encode()
        fd = os.open(os.path.join(d, 'f%06d' % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, body[:120])
        os.close(fd)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'files':
        files(args[0], int(args[1]), int(args[2]), int(args[3]) if len(args) > 3 else 0)
    elif cmd == 'random':
        with open(args[0], 'wb') as f:
            for _ in range(int(args[1])):
                f.write(os.urandom(1 << 20))
    elif cmd == 'deep':
        d = args[0]
        for i in range(int(args[1])):
            d = os.path.join(d, 'l%03d' % i)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, 'f'), 'w') as f:
                f.write('level %d\n' % i)
    elif cmd == 'rewrite':
        for dirpath, _, names in os.walk(args[0]):
            for n in names:
                p = os.path.join(dirpath, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    with open(p, 'a') as f:
                        f.write('changed\n')
    elif cmd == 'peak':
        with open(args[0], 'wb') as out:
            rc = subprocess.run(args[1:], stdout=out).returncode
        print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    elif cmd == 'killfcache':
        p = subprocess.Popen(args[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        state = 'finished'
        while p.poll() is None:
            try:
                db = sqlite3.connect('file:%s?mode=ro' % args[0], uri=True, timeout=0.2)
                n = db.execute('SELECT count(*) FROM files_dirs WHERE epoch IS NULL').fetchone()[0]
                db.close()
            except sqlite3.Error:
                n = 0
            if n:
                p.send_signal(signal.SIGKILL)
                state = 'killed'
                break
            time.sleep(0.02)
        p.wait()
        print(state)
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
