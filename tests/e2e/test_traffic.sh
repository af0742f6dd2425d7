#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Real clients through the running daemon (net_af_packet on veths): with no
# policy, ping, dig, curl http and https cross both ways on IPv4 and IPv6;
# after `blctl policy load demo-blocklist.yaml`, traffic to and from the bad
# host is dropped (clients time out), HTTPS is rejected (curl fails in under
# a second, far below its timeout), the rest still flows, and the rule
# counters in `blctl -j stats` saw it.
set -u
BL_TAG=e2e
# shellcheck source=tests/e2e/tap.sh
. "$BL_ROOT/tests/e2e/tap.sh"
t_begin
bl_daemon_start || t_bail "the daemon starts on the veths"

t_expect pass "ping www" bl_ping "$IP_OUT"
t_expect pass "ping -6 www" bl_ping "$IP6_OUT"
t_expect pass "dig www.demo.test A" bl_dig www.demo.test A
t_expect pass "dig www.demo.test AAAA" bl_dig www.demo.test AAAA
t_check "dig answers the record dnsmasq serves" test "$(bl_dig bad.demo.test A)" = "$IP_BAD"
t_expect pass "curl http" bl_curl "http://$IP_OUT/"
t_check "http body from nginx" grep -q "hello from the outside host" "$BL_TMP/last.out"
t_expect pass "curl -k https" bl_curl "https://$IP_OUT/"
t_check "https body from nginx" grep -q "hello from the outside host" "$BL_TMP/last.out"
t_expect pass "curl -k https IPv6" bl_curl "https://[$IP6_OUT]/"
t_expect pass "curl http bad (no policy yet)" bl_curl "http://$IP_BAD/"
# 4 MiB in both directions' worth of segments: checksums survive the box
t_check "curl 4 MiB intact" test "$(bl_curl "http://$IP_OUT/big.bin" -r 0-4194303 | md5sum)" = \
	"$(head -c 4194304 /dev/zero | md5sum)"

t_load "$BL_ROOT/tests/e2e/demo-blocklist.yaml"

t_expect drop "ping bad: dropped" bl_ping "$IP_BAD"
t_expect drop "ping -6 bad: dropped" bl_ping "$IP6_BAD"
t_expect drop "dig @bad: dropped" bl_dig bad.demo.test A "$IP_BAD"
t_expect drop "curl http bad: dropped" bl_curl "http://$IP_BAD/"
t_check "dropped curl timed out (exit 28)" grep -q "(28)" "$BL_TMP/last.out"
t_expect reject "curl -k https: rejected" bl_curl "https://$IP_OUT/"
t_check "rejected curl: connection refused (exit 7)" grep -q "(7)" "$BL_TMP/last.out"
t_expect reject "curl -k https IPv6: rejected" bl_curl "https://[$IP6_OUT]/"
t_expect pass "ping www still" bl_ping "$IP_OUT"
t_expect pass "dig www still" bl_dig www.demo.test A
t_expect pass "curl http www still" bl_curl "http://$IP_OUT/"

# the counters saw each rule decide
rule_packets() {
	bl_ctl -j stats | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d.get("result", d)["rules"][sys.argv[1]]["packets"])' "$1" 2>/dev/null
}
for r in threat-nets-out no-https-out; do
	n=$(rule_packets "$r")
	t_check "blctl stats: rule $r counted packets (${n:-none})" test "${n:-0}" -gt 0
done
t_done
