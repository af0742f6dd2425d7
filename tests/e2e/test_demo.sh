#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's main command as written, `scripts/demo.sh`, in its
# non-interactive mode (--check): it sets up, builds (this build folder,
# BL_BUILD), runs the live demo and exits 0 only when every step behaved as
# expected; afterwards nothing of it is left (namespaces, veths, daemon,
# servers, hugepage files, temp dir). Then the demo interrupted with Ctrl-C
# (SIGINT) while the daemon runs: it exits 130 and cleans up just the same.
set -u
BL_TAG=demo   # only to name the demo's leftovers; this test creates nothing itself
# shellcheck source=tests/e2e/tap.sh
. "$BL_ROOT/tests/e2e/tap.sh"
[ "$(id -u)" -eq 0 ] || t_skip_all "needs root (the demo makes namespaces and uses hugepages)"
BL_TMP=$(mktemp -d /tmp/bl-e2e-demo.XXXXXX)
trap 'rm -rf "$BL_TMP"' EXIT

# leftovers DIR: anything of the demo still there (one line each)
leftovers() {
	ip netns list | grep -E "^bl-demo-(in|out)\b"
	ip -br link | grep -oE "^bl-demo-[io]\b"
	ls /dev/hugepages 2>/dev/null | grep "^bl-demomap_"
	[ -e /run/dpdk/bl-demo ] && echo /run/dpdk/bl-demo
	[ -e /run/brightline-demo.pid ] && echo /run/brightline-demo.pid
	[ -n "$1" ] && [ -e "$1" ] && echo "$1"
}
tmpdir_of() { sed -n 's/.*files in \([^ ]*\) .*/\1/p' "$1" | head -n 1; }

cd "$BL_ROOT" || exit 1
BL_BUILD=$BL_BUILD timeout 400 scripts/demo.sh --check >"$BL_TMP/demo.log" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then t_ok "scripts/demo.sh --check exits 0"
else t_not_ok "scripts/demo.sh --check exits 0 (exit $rc)"; tail -n 40 "$BL_TMP/demo.log" | t_diag; fi
t_check "the demo says every step behaved" grep -q "every step behaved as expected" "$BL_TMP/demo.log"
t_check "the demo showed a drop and a reject" \
	test "$(grep -cE '^  ok .* (drop|reject) ' "$BL_TMP/demo.log")" -ge 2
left=$(leftovers "$(tmpdir_of "$BL_TMP/demo.log")")
t_check "nothing left after the demo${left:+: $(echo $left)}" test -z "$left"

# interrupted: SIGINT once the daemon forwards (env restores the default
# disposition that a background job would otherwise ignore)
BL_BUILD=$BL_BUILD env --default-signal=INT timeout 400 scripts/demo.sh --check \
	>"$BL_TMP/int.log" 2>&1 &
pid=$!
t_check "the interrupted demo got its daemon running" bl_wait 120 grep -q "^== 2\." "$BL_TMP/int.log"
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
t_check "interrupted demo exits 130 (exit $rc)" test "$rc" -eq 130
left=$(leftovers "$(tmpdir_of "$BL_TMP/int.log")")
t_check "nothing left after the interrupt${left:+: $(echo $left)}" test -z "$left"
t_done
