#!/usr/bin/env python3
"""Print a canonical description of every entry below DIR, one line each, for comparing a restored tree
with its source: relative path, type, permission bits (setuid/setgid/sticky included), owner and group
(numbers), size, mtime in nanoseconds, symlink target, device numbers, every xattr (hex), a hardlink
group (the first path of the inode within DIR), the data regions (SEEK_DATA/SEEK_HOLE, so holes show),
and the SHA-256 of the content. ctime, inode numbers and directory sizes are left out: they cannot be
restored. Usage: treeinfo.py DIR [--no-owner] [--no-holes]"""
import hashlib
import os
import stat
import sys


def regions(path, size):
    out = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        return ['error:%s' % e.strerror]
    try:
        off = 0
        while off < size:
            try:
                data = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            out.append('%d-%d' % (data, hole))
            off = hole
    finally:
        os.close(fd)
    return out


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def main():
    root = sys.argv[1]
    no_owner = '--no-owner' in sys.argv
    no_holes = '--no-holes' in sys.argv
    inodes = {}
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            t = stat.S_IFMT(st.st_mode)
            f = [repr(rel), {stat.S_IFREG: 'file', stat.S_IFDIR: 'dir', stat.S_IFLNK: 'symlink',
                             stat.S_IFIFO: 'fifo', stat.S_IFCHR: 'chr', stat.S_IFBLK: 'blk'}.get(t, 'other'),
                 'mode=%o' % stat.S_IMODE(st.st_mode)]
            if not no_owner:
                f.append('owner=%d:%d' % (st.st_uid, st.st_gid))
            if t != stat.S_IFLNK:  # a symlink's times are restored, but some tools cannot set them
                f.append('mtime=%d' % st.st_mtime_ns)
            if t == stat.S_IFLNK:
                f.append('target=%r' % os.readlink(p))
            if t in (stat.S_IFCHR, stat.S_IFBLK):
                f.append('rdev=%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev)))
            try:
                names = sorted(os.listxattr(p, follow_symlinks=False))
            except OSError:
                names = []
            for x in names:
                f.append('xattr:%s=%s' % (x, os.getxattr(p, x, follow_symlinks=False).hex()))
            if t != stat.S_IFDIR and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                inodes.setdefault(key, rel)
                f.append('link=%r' % inodes[key])
            if t == stat.S_IFREG:
                f.append('size=%d' % st.st_size)
                if not no_holes:
                    f.append('data=' + ','.join(regions(p, st.st_size)))
                f.append('sha256=' + sha(p))
            lines.append(' '.join(f))
    print('\n'.join(lines))


main()
