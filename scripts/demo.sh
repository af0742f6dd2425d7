#!/usr/bin/env bash
# The README's main command: set up the machine, build, and show the box at
# work. For now that is the packet parser the workers run, over a sample
# capture of every encapsulation it reads and, when the test data is beside
# the clone, over a real capture from it.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BL_BUILD:-build}
scripts/setup.sh
if [ -f "$BUILD/build.ninja" ]; then meson setup --reconfigure "$BUILD" >/dev/null
else meson setup "$BUILD" >/dev/null; fi
ninja -C "$BUILD" >/dev/null

sample="$BUILD/sample.pcap"
python3 examples/sample_pcap.py "$sample"
echo "== brightline inspect $sample"
"$BUILD/dataplane/brightline" inspect "$sample"

real=../shared/data/pcap/zeek_mixed-vlan-mpls.pcap
if [ -f "$real" ]; then
	echo
	echo "== brightline inspect $real"
	"$BUILD/dataplane/brightline" inspect "$real"
fi
