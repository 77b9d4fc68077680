#!/usr/bin/env python3
"""pnginfo.py FILE [RRGGBB...]: check that FILE is a valid 8-bit RGB/RGBA PNG (signature, chunk CRCs, one
IHDR, IDAT data that inflates and unfilters to exactly the image) and print JSON: width, height, the
number of distinct colours and, for each RRGGBB given, how many pixels have exactly that colour.
Exits 1 with a message when the file is not such a PNG. No third-party modules (no PIL here)."""
import json
import struct
import sys
import zlib


def fail(msg):
    print("pnginfo: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    data = open(sys.argv[1], "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG signature")
    pos, idat, ihdr, end = 8, b"", None, False
    while pos < len(data):
        if pos + 12 > len(data):
            fail("truncated chunk")
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail("bad CRC in chunk %r" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            end = True
            break
        pos += 12 + n
    if not ihdr or not end:
        fail("no IHDR or no IEND")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        fail("image data has %d bytes, expected %d" % (len(raw), h * (stride + 1)))
    prev = bytearray(stride)
    colours = {}
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
            elif f != 0:
                fail("bad filter %d in row %d" % (f, y))
        for x in range(0, stride, bpp):
            key = bytes(line[x:x + 3])
            colours[key] = colours.get(key, 0) + 1
        prev = line
    want = {c.lower(): colours.get(bytes.fromhex(c), 0) for c in sys.argv[2:]}
    print(json.dumps({"width": w, "height": h, "colors": len(colours), "counts": want}))


main()
