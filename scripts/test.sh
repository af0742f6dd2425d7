#!/usr/bin/env bash
# The README's test command: set up the machine, build, and run every test
# suite, then the unit, parser and fuzz suites again under AddressSanitizer
# and UndefinedBehaviorSanitizer (clang). Ends with one line
# "N passed, N failed, N skipped" over both builds; exits non-zero when any
# test failed or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BL_BUILD:-build}
ASAN_BUILD=${BL_ASAN_BUILD:-build-asan}
opts=()
[ -n "${BL_TEST_DATA:-}" ] && opts+=("-Dtest_data=$BL_TEST_DATA")

scripts/setup.sh

configure() { # DIR [meson options...]
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

status=0
configure "$BUILD" "${opts[@]}"
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs || status=1

CC=clang configure "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false "${opts[@]}"
ninja -C "$ASAN_BUILD"
meson test -C "$ASAN_BUILD" --setup sanitize --print-errorlogs \
	--suite unit --suite parser --suite fuzz || status=1

python3 - "$BUILD/meson-logs/testlog.json" "$ASAN_BUILD/meson-logs/testlog-sanitize.json" <<'PY' || status=1
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for build in sys.argv[1:]:
    with open(build) as f:
        for line in f:
            t = json.loads(line)
            r = t["result"]
            key = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
            counts[key] += 1
            if key == "SKIP":
                print("skipped: %s %s" % (build, t["name"]))
print("%d passed, %d failed, %d skipped" % (counts["OK"], counts["FAIL"], counts["SKIP"]))
if counts["OK"] == 0:
    print("no test ran")
    sys.exit(1)
sys.exit(1 if counts["FAIL"] else 0)
PY
exit $status
