#!/bin/sh
# Runs the policy fuzz target for a bounded time, seeded with the shipped
# examples and the unit-test fixtures (a list file's text after a NUL).
# Usage: run_fuzz_policy.sh FUZZER SECONDS WORKDIR SOURCE_ROOT [libfuzzer|driver]
set -eu
fuzzer=$1 seconds=$2 work=$3 src=$4 kind=$5
rm -rf "$work"
mkdir -p "$work/seeds" "$work/corpus"
for f in "$src"/examples/*.yaml "$src"/tests/unit/policy/*.yaml; do
	case $(basename "$f") in brightline.yaml) continue ;; esac
	cp "$f" "$work/seeds/$(basename "$f")"
	{ cat "$f"; printf '\0'; cat "$src/examples/lists/threat-hosts.txt"; } \
		>"$work/seeds/$(basename "$f" .yaml)-hosts"
done
if [ "$kind" = libfuzzer ]; then
	exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$work/seeds"
fi
exec "$fuzzer" "$work/seeds"
