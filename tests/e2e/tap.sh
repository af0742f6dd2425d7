# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# TAP for the end-to-end tests: each test is a bash script that sources this
# file, which sources scripts/netns.sh (the namespaces, servers, daemon and
# clients the demo uses too) with its own tag, so a test never meets the
# demo's namespaces. Every check prints one TAP line; t_done prints the plan
# and the exit status. t_cleanup (bl_cleanup and the test's own helpers)
# runs on EXIT, INT and TERM, also when a test fails half-way.
#
# Environment (set by tests/e2e/meson.build): BL_ROOT (source root),
# BL_BUILD (build root).

# shellcheck source=scripts/netns.sh
. "$BL_ROOT/scripts/netns.sh"

T_N=0
T_FAILED=0
T_PIDS=()   # helpers a test started (listeners, long transfers), killed on exit

t_cleanup() {
	local pid
	for pid in "${T_PIDS[@]}"; do bl_kill_pid "$pid"; done
	T_PIDS=()
	bl_cleanup
}

t_ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
t_not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
t_diag() { sed 's/^/# /'; }

# t_check LABEL CMD...: ok when CMD succeeds; its output becomes TAP
# diagnostics when it fails.
t_check() {
	local label=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_ok "$label"
	else
		t_not_ok "$label"
		[ -z "$out" ] || printf '%s\n' "$out" | tail -n 10 | t_diag
	fi
}

# t_expect WANT LABEL CMD...: a client judged by bl_expect (pass, drop, reject).
t_expect() {
	local line
	if line=$(bl_expect "$@"); then
		t_ok "$(echo "$line" | sed 's/^ *ok *//')"
	else
		t_not_ok "$(echo "$line" | sed 's/^ *FAIL *//')"
	fi
}

# t_skip_all REASON: the whole test is skipped (TAP plan 1..0).
t_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# t_bail REASON: set-up failed; say why (with the daemon's log) and stop.
t_bail() {
	t_not_ok "$*"
	[ -n "$BL_TMP" ] && [ -f "$BL_TMP/daemon.log" ] && tail -n 20 "$BL_TMP/daemon.log" | t_diag
	t_done
}

# t_done: the plan, the daemon log on failure, exit status.
t_done() {
	if [ "$T_FAILED" -gt 0 ] && [ -n "$BL_TMP" ] && [ -f "$BL_TMP/daemon.log" ]; then
		echo "daemon log:" | t_diag
		tail -n 30 "$BL_TMP/daemon.log" | t_diag
	fi
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
	exit
}

# t_begin: root and the tools, the cleanup trap, the two hosts with their
# servers. Does not start the daemon.
t_begin() {
	local tool
	[ "$(id -u)" -eq 0 ] || t_skip_all "needs root (network namespaces, hugepages)"
	for tool in ip ethtool nginx dnsmasq curl dig ping openssl; do
		command -v "$tool" >/dev/null ||
			t_skip_all "$tool is missing (scripts/setup.sh installs it)"
	done
	trap t_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	bl_net_up || t_bail "namespaces and veths"
	bl_servers_up || t_bail "nginx and dnsmasq on the outside host"
}

# t_load POLICY: blctl policy load, one TAP line.
t_load() {
	local out
	if out=$(bl_ctl policy load "$1" 2>&1); then
		t_ok "blctl policy load $(basename "$1")"
	else
		t_not_ok "blctl policy load $(basename "$1"): $out"
	fi
}
