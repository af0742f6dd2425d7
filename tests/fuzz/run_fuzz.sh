#!/bin/sh
# Runs the parser fuzz target for a bounded time over a fresh seed corpus.
# Usage: run_fuzz.sh FUZZER SECONDS WORKDIR TEST_DATA [libfuzzer|driver]
set -eu
fuzzer=$1 seconds=$2 work=$3 data=$4 kind=$5
rm -rf "$work"
mkdir -p "$work/seeds" "$work/corpus"
python3 "$(dirname "$0")/make_seeds.py" "$work/seeds" "$data"
if [ "$kind" = libfuzzer ]; then
	exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$work/seeds"
fi
exec "$fuzzer" "$work/seeds"
