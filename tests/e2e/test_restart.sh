#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A restart of the daemon comes back with the last policy loaded through
# blctl (kept in the state directory), not the configuration's: load the
# demo blocklist, restart, it is in force; load an allow-all policy,
# restart, that one is.
set -u
BL_TAG=e2e
# shellcheck source=tests/e2e/tap.sh
. "$BL_ROOT/tests/e2e/tap.sh"
t_begin
bl_daemon_start || t_bail "the daemon starts on the veths"
t_expect pass "no policy: https passes" bl_curl "https://$IP_OUT/"
t_load "$BL_ROOT/tests/e2e/demo-blocklist.yaml"
t_expect reject "blocklist: https rejected" bl_curl "https://$IP_OUT/"

bl_daemon_stop
t_check "the daemon stopped with balanced counters" grep -q "accounting .*: ok" "$BL_TMP/daemon.log"
t_check "the state directory is not empty" test -n "$(ls -A "$BL_TMP/state")"
bl_daemon_start || t_bail "the daemon starts again"
t_expect reject "after restart: https still rejected" bl_curl "https://$IP_OUT/"
t_expect drop "after restart: ping bad still dropped" bl_ping "$IP_BAD"
t_expect pass "after restart: http passes" bl_curl "http://$IP_OUT/"

cat >"$BL_TMP/allow.yaml" <<EOP
version: 1
rules:
  - name: nothing-blocked
    match: {dst: 192.0.2.0/24}
    action: drop
default: allow
EOP
t_load "$BL_TMP/allow.yaml"
t_expect pass "allow-all: https passes" bl_curl "https://$IP_OUT/"
bl_daemon_stop
bl_daemon_start || t_bail "the daemon starts a third time"
t_expect pass "after restart: the last policy (allow-all), not the first" bl_curl "https://$IP_OUT/"
t_expect pass "after restart: ping bad passes" bl_ping "$IP_BAD"
t_done
