#!/bin/sh
# blctl policy check on the shipped examples (exit 0), on a broken copy
# (exit 1, the exact message), in JSON, and its usage exit codes.
# Usage: blctl_check.sh BLCTL EXAMPLES_DIR FIXTURES_DIR
set -eu
blctl=$1 examples=$2 fixtures=$3
work=$(mktemp -d /tmp/blctl_check.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for ex in walled-garden blocklist guest-metered; do
	"$blctl" policy check "$examples/$ex.yaml" >"$work/out" 2>"$work/err" \
		|| { cat "$work/err" >&2; fail "$ex.yaml refused"; }
	grep -q "^$examples/$ex.yaml: ok: " "$work/out" || fail "$ex.yaml: no ok line"
	[ ! -s "$work/err" ] || { cat "$work/err" >&2; fail "$ex.yaml: diagnostics on a shipped example"; }
done

# A broken copy: the first "action: drop" misspelled.
cp -r "$examples/lists" "$work/lists"
line=$(grep -n 'action: drop$' "$examples/blocklist.yaml" | head -1 | cut -d: -f1)
[ -n "$line" ] || fail "blocklist.yaml has no 'action: drop' line"
col=$(sed -n "${line}p" "$examples/blocklist.yaml" | awk '{ print index($0, "drop") }')
sed "${line}s/action: drop\$/action: dorp/" "$examples/blocklist.yaml" >"$work/broken.yaml"
rc=0
"$blctl" policy check "$work/broken.yaml" >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" -eq 1 ] || fail "broken copy: exit $rc, expected 1"
want="$work/broken.yaml:$line:$col: error: unknown action \"dorp\" (did you mean \"drop\"?)"
head -1 "$work/err" | grep -qxF "$want" || { cat "$work/err" >&2; fail "broken copy: expected: $want"; }
tail -1 "$work/err" | grep -qxF "$work/broken.yaml: policy refused (1 error)" || fail "no refusal line"

# JSON
rc=0
"$blctl" -j policy check "$work/broken.yaml" >"$work/out" 2>"$work/err" || rc=$?
[ "$rc" -eq 1 ] || fail "-j broken copy: exit $rc, expected 1"
python3 - "$work/out" "$work/broken.yaml" "$line" "$col" <<'PY' || fail "-j output"
import json, sys
r = json.load(open(sys.argv[1]))
e = r["errors"]
assert r["ok"] is False, r
assert len(e) == 1, e
assert e[0] == {"file": sys.argv[2], "line": int(sys.argv[3]), "column": int(sys.argv[4]),
                "message": 'unknown action "dorp" (did you mean "drop"?)'}, e
PY
"$blctl" -j policy check "$examples/guest-metered.yaml" >"$work/out"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] is True and r["errors"] == [] and len(r["sha256"]) == 64, r' "$work/out" \
	|| fail "-j ok output"

# An error inside a list file names that file and line.
rc=0
"$blctl" policy check "$fixtures/broken.yaml" 2>"$work/err" || rc=$?
[ "$rc" -eq 1 ] || fail "fixture broken.yaml: exit $rc"
grep -qxF "$fixtures/lists/bad-nets.txt:3:4: error: host bits set in \"10.1.2.3/8\" (did you mean \"10.0.0.0/8\"?)" "$work/err" \
	|| { cat "$work/err" >&2; fail "list file error"; }

# Usage: exit 2.
for args in "" "policy" "polcy check x" "policy check" "policy load" "list add x"; do
	rc=0
	# shellcheck disable=SC2086
	"$blctl" $args >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "blctl $args: exit $rc, expected 2"
done
# Verbs that need the daemon: no socket is exit 3, a missing file exit 1.
rc=0
"$blctl" -s "$work/no.sock" stats >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "blctl stats without a daemon: exit $rc, expected 3"
rc=0
"$blctl" -s "$work/no.sock" policy load "$work/missing.yaml" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "blctl policy load of a missing file: exit $rc, expected 1"
"$blctl" polcy check x 2>&1 | grep -qF 'unknown object "polcy" (did you mean "policy"?)' || fail "object suggestion"
echo "blctl policy check: ok"
