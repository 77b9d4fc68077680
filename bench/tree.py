#!/usr/bin/env python3
"""The benchmark tree of bench/files.sh and bench/prune.sh, and its changes.

  tree.py make ROOT MIB             write a tree of about MIB MiB under ROOT
  tree.py make --small N ROOT       write N small files (20 B to 4 KiB) under ROOT
  tree.py rewrite ROOT PERCENT SEED rewrite PERCENT % of ROOT's files (chosen by SEED) with new bytes
  tree.py edit FILE...              insert a line in the middle of each file (an editor's change)

make: ~40 % text (compressible), ~45 % random (incompressible: media, archives), ~15 % copies of other
files. Sizes log-uniform: 92 % from 256 B to 64 KiB, 7.8 % from 64 KiB to 1 MiB, 0.2 % from 8 to 32 MiB
(about 15,000 files per GiB); 32 files per directory, 3 levels. The text comes from a fixed seed, so the
same MIB gives the same file names, sizes and text (random files differ from run to run).

make --small: the many-small-files case (configuration directories, mail spools, object caches,
node_modules): sizes log-uniform from 20 B to 4 KiB (median about 280 B), 90 % text and 10 % random bytes,
every file unique; 400 files per directory, in directories of 100 subdirectories (N = 1,000,000 gives 2,500
directories under 25 parents). Names and text come from a fixed seed: the same N gives the same tree.

rewrite: each chosen file gets new content of the same size and kind (text: other lines of the same
vocabulary; anything else: random bytes), unique, so the blobs of its previous version are referenced
only by the snapshots taken before: what forgetting them frees.
"""
import math
import os
import random
import sys


def vocabulary():
    rnd = random.Random(4)
    words = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz_') for _ in range(rnd.randint(2, 12)))
             for _ in range(20000)]
    lines = [' ' * rnd.choice((0, 4, 8)) + ' '.join(rnd.choices(words, k=rnd.randint(3, 14))) + '\n'
             for _ in range(200000)]
    return rnd, lines


def text(rnd, lines, size):
    buf, got = [], 0
    while got < size:
        chunk = ''.join(rnd.choices(lines, k=256)).encode()
        buf.append(chunk)
        got += len(chunk)
    return b''.join(buf)[:size]


def make(root, mib):
    rnd, lines = vocabulary()
    total = mib << 20
    made, n, written = [], 0, 0
    while written < total:
        d = os.path.join(root, 'd%02d' % (n // 1024), 'e%02d' % (n // 32 % 32))
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, 'f%05d' % n)
        u = rnd.random()
        lo, hi = (256, 64 << 10) if u < 0.92 else (64 << 10, 1 << 20) if u < 0.998 else (8 << 20, 32 << 20)
        size = int(math.exp(rnd.uniform(math.log(lo), math.log(hi))))
        kind = rnd.random()
        with open(p, 'wb') as f:
            if kind < 0.15 and made:
                src = rnd.choice(made)
                with open(src, 'rb') as s:
                    data = s.read()
                f.write(data)
                size = len(data)
            elif kind < 0.55:
                f.write(text(rnd, lines, size))
            else:
                f.write(os.urandom(size))
        made.append(p)
        written += size
        n += 1
    print('%d files, %d bytes' % (n, written))


def make_small(root, n):
    rnd, lines = vocabulary()
    written = 0
    for i in range(n):
        if i % 400 == 0:
            d = os.path.join(root, 'p%03d' % (i // 40000), 'd%03d' % (i // 400 % 100))
            os.makedirs(d, exist_ok=True)
        size = int(math.exp(rnd.uniform(math.log(20), math.log(4096))))
        if rnd.random() < 0.9:
            # a unique first line, so that no two files are one blob whatever the sample of lines
            data, k = b'%d ' % i, max(1, size // 60)
            while len(data) < size:
                data += ''.join(rnd.choices(lines, k=k)).encode()
            data = data[:size]
        else:
            data = os.urandom(size)
        fd = os.open(os.path.join(d, 'f%07d' % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        written += len(data)
    print('%d files, %d bytes' % (n, written))


TEXT_BYTES = frozenset(b'abcdefghijklmnopqrstuvwxyz_ \n')


def rewrite(root, percent, seed):
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    rnd = random.Random(seed)
    chosen = rnd.sample(files, max(1, round(len(files) * percent / 100)))
    _, lines = vocabulary()
    written = 0
    for p in chosen:
        with open(p, 'rb') as f:
            head = f.read(4096)
            size = f.seek(0, os.SEEK_END)
        data = text(rnd, lines, size) if set(head) <= TEXT_BYTES else os.urandom(size)
        with open(p, 'wb') as f:
            f.write(data)
        written += size
    print('%d files, %d bytes rewritten' % (len(chosen), written))


def edit(paths):
    for p in paths:
        with open(p, 'rb') as f:
            d = f.read()
        m = len(d) // 2
        with open(p, 'wb') as f:
            f.write(d[:m] + b'edited by bench/files.sh\n' + d[m:])


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'make' and args[:1] == ['--small']:
        make_small(args[2], int(args[1]))
    elif cmd == 'make':
        make(args[0], int(args[1]))
    elif cmd == 'rewrite':
        rewrite(args[0], float(args[1]), int(args[2]))
    elif cmd == 'edit':
        edit(args)
    else:
        sys.exit('usage: tree.py make ROOT MIB | make --small N ROOT | rewrite ROOT PERCENT SEED | edit FILE...')
