#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's main command: set up the machine, build, and show the box at
# work on live traffic. Two network namespaces, an inside host (clients:
# ping, curl, dig) and an outside host (nginx on HTTP and HTTPS, dnsmasq),
# joined only through `brightline run` on two veth pairs (net_af_packet).
# Traffic crosses; then `blctl policy load` puts a blocklist in force without
# a restart: one host is dropped (clients time out), HTTPS is rejected
# (clients fail at once); `blctl stats` shows the counters. Everything is
# removed at the end, also on Ctrl-C (scripts/netns.sh, bl_cleanup).
#
#   scripts/demo.sh [--check]
#
# --check (or BL_DEMO_CHECK=1): no pauses, exit 0 only when every step
# behaved as expected (the e2e suite runs it so). BL_BUILD: build folder
# (default build). Idempotent: a run killed with -9 is cleaned up by the next.
set -uo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/demo.sh [--check]"; }
CHECK=${BL_DEMO_CHECK:-0}
for arg in "$@"; do
	case $arg in
	--check) CHECK=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

BUILD=${BL_BUILD:-build}
# the demo's daemon needs about 40 MiB of hugepages, not the test suite's 1 GiB
BL_HUGEPAGES_MIN_FREE=${BL_HUGEPAGES_MIN_FREE:-64} scripts/setup.sh || exit 1
if [ -f "$BUILD/build.ninja" ]; then
	ninja -C "$BUILD" >/dev/null || { echo "demo: build failed (ninja -C $BUILD)" >&2; exit 1; }
else
	{ meson setup "$BUILD" >/dev/null && ninja -C "$BUILD" >/dev/null; } ||
		{ echo "demo: build failed (meson setup $BUILD)" >&2; exit 1; }
fi

BL_TAG=demo
BL_BUILD=$BUILD
# shellcheck source=scripts/netns.sh
. scripts/netns.sh
trap bl_cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up" >&2; exit 130' INT
trap 'exit 143' TERM

POLICY=tests/e2e/demo-blocklist.yaml
WWW="www.demo.test $IP_OUT"
BAD="bad.demo.test $IP_BAD"

step() { printf '\n== %s\n' "$*"; }
pause() {
	[ "$CHECK" = 1 ] || [ ! -t 0 ] || read -r -t 120 -p "   (Enter to go on) " _ || true
}
fail() { echo "  FAIL  $*"; BL_FAILS=$((BL_FAILS + 1)); }

step "1. the two hosts and the box"
bl_net_up || { echo "demo: cannot create the namespaces" >&2; exit 1; }
bl_servers_up || exit 1
bl_daemon_start || exit 1
DAEMON_PID=$BL_DAEMON_PID
cat <<EOF
   inside host  (netns $NS_IN)  $IP_IN $IP6_IN           clients: ping curl dig
   outside host (netns $NS_OUT) $IP_OUT $IP6_OUT (www.demo.test)
                                $IP_BAD $IP6_BAD (bad.demo.test)  nginx :80 :443, dnsmasq :53
   brightline (pid $DAEMON_PID) bridges $IF_IN <-> $IF_OUT on net_af_packet
   files in $BL_TMP (config, log, control socket, state)
EOF
pause

step "2. traffic crosses the box (no policy yet: everything passes)"
bl_expect pass "ping $WWW" bl_ping "$IP_OUT"
bl_expect pass "ping -6 www.demo.test $IP6_OUT" bl_ping "$IP6_OUT"
bl_expect pass "ping $BAD" bl_ping "$IP_BAD"
bl_expect pass "dig www.demo.test" bl_dig www.demo.test
bl_expect pass "dig @$IP_BAD bad.demo.test" bl_dig bad.demo.test A "$IP_BAD"
bl_expect pass "curl http://$IP_OUT/" bl_curl "http://$IP_OUT/"
bl_expect pass "curl -k https://$IP_OUT/" bl_curl "https://$IP_OUT/"
bl_expect pass "curl http://$IP_BAD/" bl_curl "http://$IP_BAD/"
pause

step "3. blctl policy load $POLICY (while traffic flows, no restart)"
grep -v '^#' "$POLICY" | sed '/^$/d; s/^/   | /'
if ! bl_has_ctl; then
	fail "this build's blctl cannot talk to the daemon yet (blctl policy load missing)"
elif bl_ctl policy load "$POLICY"; then
	echo "  ok    blctl policy load"
else
	fail "blctl policy load $POLICY (exit $?)"
fi
pause

step "4. the policy at work"
bl_expect pass "ping $WWW" bl_ping "$IP_OUT"
bl_expect pass "dig www.demo.test" bl_dig www.demo.test
bl_expect pass "curl http://$IP_OUT/" bl_curl "http://$IP_OUT/"
echo "   -- bad.demo.test is dropped: nothing comes back, clients wait ${BL_T} s"
bl_expect drop "ping $BAD" bl_ping "$IP_BAD"
bl_expect drop "ping -6 bad.demo.test $IP6_BAD" bl_ping "$IP6_BAD"
bl_expect drop "dig @$IP_BAD bad.demo.test" bl_dig bad.demo.test A "$IP_BAD"
bl_expect drop "curl http://$IP_BAD/" bl_curl "http://$IP_BAD/"
echo "   -- HTTPS is rejected: the box answers with a TCP RST, clients fail at once"
bl_expect reject "curl -k https://$IP_OUT/" bl_curl "https://$IP_OUT/"
bl_expect reject "curl -k https://[$IP6_OUT]/" bl_curl "https://[$IP6_OUT]/"
if [ "$(cat "/proc/$DAEMON_PID/comm" 2>/dev/null)" = brightline ]; then
	echo "  ok    the same daemon (pid $DAEMON_PID) ran throughout: no restart"
else
	fail "the daemon (pid $DAEMON_PID) is gone"
fi
pause

step "5. blctl stats"
if bl_has_ctl; then
	bl_ctl stats || fail "blctl stats (exit $?)"
else
	fail "blctl stats: not available in this build"
fi

step "6. the event log: one EVE JSON line per dropped or rejected flow"
bl_wait 3 test -s "$BL_TMP/eve.json"
if [ -s "$BL_TMP/eve.json" ]; then
	sed 's/^/   /' "$BL_TMP/eve.json" | cut -c 1-200 | tail -n 8
else
	echo "   (no events written)"
fi

step "7. stopping the box (its final counters)"
bl_daemon_stop
grep -v '^brightline: running' "$BL_TMP/daemon.log" | sed 's/^/   /' | tail -n 20

echo
if [ "$BL_FAILS" -eq 0 ]; then
	echo "demo: every step behaved as expected"
	exit 0
fi
echo "demo: $BL_FAILS step(s) did not behave as expected (daemon log above)"
exit 1
