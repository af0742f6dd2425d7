#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`brightline inspect` as a command: bad input gives one error line and a
non-zero exit (missing, empty, non-pcap, truncated captures, an unsupported
link type), usage errors exit 2, random packet bytes do not crash it, and
on a real capture the JSON lines and the table cover every frame.

TAP. usage: inspect_cli.py BRIGHTLINE DATA SCRATCH_DIR
"""
import json
import os
import random
import struct
import subprocess
import sys

CAPTURE = 'zeek_gre-sample.pcap'   # classic pcap, tunnels and ICMP quotes
KEYS = ('frame', 'len', 'vlan', 'src', 'dst', 'proto', 'sport', 'dport', 'inner',
        'icmp_quote', 'frag', 'l2', 'mpls', 'outcome')
COLUMNS = ('frame', 'len', 'vlan', 'src', 'dst', 'proto', 'sport', 'dport',
           'outcome', 'inner')


class Tap:
    """Numbered TAP lines, with the plan printed at the end."""
    def __init__(self):
        self.n = 0

    def check(self, ok, name, why=''):
        self.n += 1
        print('%s %d - %s' % ('ok' if ok else 'not ok', self.n, name))
        if not ok and why:
            for line in str(why).splitlines():
                print('# ' + line)

    def skip(self, name, why):
        self.n += 1
        print('ok %d - %s # SKIP %s' % (self.n, name, why))

    def done(self):
        print('1..%d' % self.n)


def run(exe, *args):
    res = subprocess.run([exe, 'inspect', *args], capture_output=True, text=True,
                         timeout=60)
    return res.returncode, res.stdout.splitlines(), res.stderr.splitlines()


def pcap_records(path):
    """Byte offsets where each record of a classic pcap starts, and its end."""
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    offs, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + 'I', data[off + 8:off + 12])[0]
        offs.append(off)
        off += 16 + incl
    return offs, off


def write_pcap(path, linktype, frames):
    """A classic little-endian pcap of `frames` (bytes each)."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, linktype))
        for i, fr in enumerate(frames):
            f.write(struct.pack('<IIII', i, 0, len(fr), len(fr)) + fr)


def one_error_line(tap, exe, path, name, *opts):
    """Exit 1, nothing on stdout, one `brightline inspect: PATH: ...` line."""
    rc, out, err = run(exe, *opts, path)
    ok = (rc == 1 and out == [] and len(err) == 1 and
          err[0].startswith('brightline inspect: %s: ' % path) and
          len(err[0]) > len('brightline inspect: %s: ' % path))
    tap.check(ok, '%s %s: one error line, exit 1' % (name, ' '.join(opts) or 'table'),
              'rc %d\nstdout %r\nstderr %r' % (rc, out[:3], err[:3]))


def check_usage(tap, exe):
    rc, out, err = run(exe, '--help')
    tap.check(rc == 0 and out and out[0].startswith('usage:') and not err, '--help',
              (rc, out, err))
    for args in ([], ['--bogus', 'x.pcap'], ['a.pcap', 'b.pcap'], ['--json']):
        rc, out, err = run(exe, *args)
        tap.check(rc == 2 and out == [] and len(err) == 1,
                  'usage error %r exits 2 with one line' % (args,), (rc, out, err))


def check_bad_files(tap, exe, scratch):
    missing = os.path.join(scratch, 'no-such-capture.pcap')
    text = os.path.join(scratch, 'not-a-capture.txt')
    empty = os.path.join(scratch, 'empty.pcap')
    odd = os.path.join(scratch, 'linktype-147.pcap')
    with open(text, 'w') as f:
        f.write('this is not a capture\n' * 20)
    open(empty, 'wb').close()
    write_pcap(odd, 147, [b'\x00' * 60])
    for path, name in ((missing, 'missing file'), (text, 'non-pcap file'),
                       (empty, 'empty file'), (odd, 'unsupported link type')):
        one_error_line(tap, exe, path, name)
        one_error_line(tap, exe, path, name, '--json')


def check_random_bytes(tap, exe, scratch):
    """Random and cut-down frames on every link type: no crash, one line each."""
    rnd = random.Random(4613)
    for lt in (1, 101, 113, 276, 228, 229, 0):
        frames = []
        for _ in range(300):
            n = rnd.choice((0, 1, 4, 14, 18, 20, 34, 40, 54, 60, 64, 128, 600))
            head = bytes([0x45 if lt in (101, 228) else 0x60 if lt == 229 else rnd.randrange(256)])
            frames.append((head + bytes(rnd.randrange(256) for _ in range(n)))[:n])
        path = os.path.join(scratch, 'random-lt%d.pcap' % lt)
        write_pcap(path, lt, frames)
        rc, out, err = run(exe, '--json', path)
        try:
            ok = rc == 0 and [json.loads(line)['frame'] for line in out] == list(range(1, 301))
        except ValueError as e:
            ok, err = False, [str(e)]
        tap.check(ok, 'random frames, link type %d: 300 JSON records, exit 0' % lt,
                  'rc %d, %d lines, stderr %r' % (rc, len(out), err[:3]))


def check_truncated(tap, exe, scratch, real):
    with open(real, 'rb') as f:
        data = f.read()
    offs, _ = pcap_records(real)
    head = os.path.join(scratch, 'cut-in-header.pcap')
    with open(head, 'wb') as f:
        f.write(data[:10])
    one_error_line(tap, exe, head, 'pcap cut in its header')
    # cut in the middle of record 4: three frames, then the error line
    mid = os.path.join(scratch, 'cut-in-record.pcap')
    with open(mid, 'wb') as f:
        f.write(data[:offs[3] + 16 + 20])
    rc, out, err = run(exe, '--json', mid)
    frames = [json.loads(line)['frame'] for line in out]
    tap.check(rc == 1 and frames == [1, 2, 3] and len(err) == 1 and
              err[0].startswith('brightline inspect: %s: ' % mid),
              'pcap cut in record 4 --json: 3 frames, one error line, exit 1',
              (rc, frames, err))
    rc, out, err = run(exe, mid)
    tap.check(rc == 1 and len(out) == 4 and out[0].split() == list(COLUMNS) and
              len(err) == 1, 'pcap cut in record 4, table: header, 3 rows, one error line',
              (rc, out, err))


def check_good(tap, exe, real):
    offs, _ = pcap_records(real)
    rc, out, err = run(exe, '--json', real)
    recs = []
    try:
        recs = [json.loads(line) for line in out]
        ok = (rc == 0 and not err and [r['frame'] for r in recs] ==
              list(range(1, len(offs) + 1)) and all(all(k in r for k in KEYS) for r in recs))
    except ValueError as e:
        ok, err = False, [str(e)]
    tap.check(ok, 'JSON: one record per frame (%d), every field present' % len(offs),
              'rc %d, %d lines for %d records, stderr %r' % (rc, len(out), len(offs), err[:3]))
    rc2, out2, _ = run(exe, real, '--json')
    tap.check(rc2 == 0 and out2 == out, 'options after FILE give the same output')

    rc, out, err = run(exe, real)
    ok = rc == 0 and not err and len(out) == len(offs) + 1
    ok = ok and out[0].split() == list(COLUMNS)
    tap.check(ok, 'table: a header and one row per frame', (rc, out[:2], err))
    # aligned: every column starts at the header's offset in every row
    starts = [out[0].index(c) for c in COLUMNS] if ok else []
    bad = [line for line in out[1:] if not all(
        line[s] != ' ' and (s == 0 or line[s - 1] == ' ') for s in starts)]
    tap.check(ok and not bad, 'table columns aligned', '\n'.join(bad[:3]))
    rows = [line.split()[0:6] for line in out[1:]]
    want = [[str(r['frame']), str(r['len'])] for r in recs]
    tap.check([r[:2] for r in rows] == want, 'table frame and len agree with JSON')


def main(argv):
    if len(argv) != 4:
        print('usage: inspect_cli.py BRIGHTLINE DATA SCRATCH_DIR', file=sys.stderr)
        return 2
    exe, data, scratch = argv[1:]
    scratch = os.path.join(scratch, 'inspect-cli')
    os.makedirs(scratch, exist_ok=True)
    tap = Tap()
    check_usage(tap, exe)
    check_bad_files(tap, exe, scratch)
    check_random_bytes(tap, exe, scratch)
    real = os.path.join(data, 'pcap', CAPTURE)
    if os.path.isfile(real):
        check_truncated(tap, exe, scratch, real)
        check_good(tap, exe, real)
    else:
        tap.skip('truncated and well-formed real capture',
                 'test data not found at %s (set -Dtest_data=PATH)' % data)
    tap.done()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
