#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bad input gives one clear line and a non-zero exit: a bad config file
(with file:line:column), a port that does not exist, a bad vdev, a mempool
too small for net_pcap's infinite_rx. And `--version` answers."""
import re
import subprocess
from blpkt import *

c = Check("bad_input")
EAL = "eal: {no-huge: true, no-shconf: true, no-pci: true, m: 256}\n"


def run(args):
    p = subprocess.run([brightline(), "run", "--duration", "1"] + args,
                       capture_output=True, text=True, timeout=60)
    lines = [l for l in (p.stdout + p.stderr).splitlines() if l.strip()]
    return p.returncode, lines


with Workdir("bad") as wd:
    cfg = wd("bad.yaml")
    write_config(cfg, EAL + "flow_table:\n  capacity: 64\n  ful: drop-new\n")
    rc, lines = run(["--config", cfg])
    c.true("unknown key: non-zero exit", rc != 0)
    c.eq("unknown key: one line", len(lines), 1)
    c.true("unknown key: file:line:column (%s)" % lines,
           lines and lines[0].startswith("brightline: %s:4:3: unknown key \"flow_table.ful\"" % cfg))

    write_config(cfg, EAL + "mtu: [1500\n")
    rc, lines = run(["--config", cfg])
    c.true("bad yaml: non-zero exit", rc != 0)
    c.true("bad yaml: one line with position (%s)" % lines,
           len(lines) == 1 and lines[0].startswith("brightline: %s:" % cfg))

    write_config(cfg, EAL + "workers: lots\n")
    rc, lines = run(["--config", cfg])
    c.true("bad number: one line (%s)" % lines,
           rc != 0 and len(lines) == 1 and "%s:2:10:" % cfg in lines[0])

    write_config(cfg, EAL)
    empty = wd("e.pcap")
    write_pcap(empty, [])
    rc, lines = run(["--config", cfg, "--file-prefix", "bl-it-bad1", "--inside", "0000:99:00.0",
                     "--outside", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, wd("o.pcap"))])
    c.true("missing port: non-zero exit", rc != 0)
    c.true("missing port: one line naming it (%s)" % lines,
           len(lines) == 1 and "0000:99:00.0" in lines[0] and "no such device" in lines[0])

    rc, lines = run(["--config", cfg, "--file-prefix", "bl-it-bad2",
                     "--inside", "net_pcap0,rx_pcap=/nonexistent/x.pcap",
                     "--outside", "net_pcap1,rx_pcap=%s,tx_pcap=%s" % (empty, wd("o.pcap"))])
    c.true("bad vdev: non-zero exit", rc != 0)
    c.true("bad vdev: one line (%s)" % lines, len(lines) == 1 and lines[0].startswith("brightline: "))

    # net_pcap infinite_rx holds the whole capture in mbufs: a mempool too
    # small for it is refused before the driver (which, in DPDK 22.11,
    # then crashes at exit) with the numbers to fix it
    write_config(cfg, EAL + "mempool: 1024\n")
    big = wd("big.pcap")
    write_pcap(big, [v4_udp("10.0.0.1", "10.0.0.2", 1000 + i % 50000, 53, b"x") for i in range(3000)])
    rc, lines = run(["--config", cfg, "--file-prefix", "bl-it-bad3",
                     "--inside", "net_pcap0,rx_pcap=%s,infinite_rx=1" % big,
                     "--outside", "net_null0,no-rx=1"])
    c.eq("small pool for infinite_rx: exit 1, not a crash", rc, 1)
    c.true("small pool for infinite_rx: one line with the numbers (%s)" % lines,
           len(lines) == 1 and "3000 packets" in lines[0] and "set mempool to at least" in lines[0])

    p = subprocess.run([brightline(), "--version"], capture_output=True, text=True, timeout=30)
    c.true("--version: one line, the version and DPDK's (%r)" % p.stdout,
           p.returncode == 0 and re.fullmatch(r"brightline \d+\.\d+\.\d+ \(DPDK \d+\.\d+\.\d+\)\n",
                                              p.stdout) is not None)
c.done()
