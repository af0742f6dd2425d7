#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Deployment: `meson install` puts the binaries, the unit, the man pages,
# the example configuration and policies in place; `systemd-analyze verify`
# accepts the installed unit without a word (its commands exist in the
# install tree, its man pages are found); and the daemon tells systemd
# READY=1 (Type=notify) only once the ports forward and the policy is in
# force, STOPPING=1 on SIGTERM, and never READY=1 when its policy is refused.
set -u
BL_TAG=e2e
# shellcheck source=tests/e2e/tap.sh
. "$BL_ROOT/tests/e2e/tap.sh"
command -v systemd-analyze >/dev/null || t_skip_all "systemd-analyze is missing (package systemd)"
t_begin

# ---- meson install into a scratch root ----
root=$BL_TMP/root
if meson install -C "$BL_BUILD" --no-rebuild --destdir "$root" >"$BL_TMP/install.log" 2>&1; then
	t_ok "meson install --destdir"
else
	t_not_ok "meson install --destdir"
	tail -n 20 "$BL_TMP/install.log" | t_diag
fi
prefix=$(meson introspect "$BL_BUILD" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
P=$root$prefix
for f in bin/brightline bin/blctl lib/systemd/system/brightline.service \
	lib/sysusers.d/brightline.conf share/man/man8/brightline.8 share/man/man8/blctl.8 \
	share/brightline/brightline.yaml share/brightline/examples/blocklist.yaml \
	share/brightline/examples/walled-garden.yaml share/brightline/examples/guest-metered.yaml \
	share/brightline/examples/lists/threat-prefixes.txt; do
	t_check "installed $prefix/$f" test -s "$P/$f"
done
t_check "installed example policies pass blctl policy check" \
	"$P/bin/blctl" policy check "$P/share/brightline/examples/blocklist.yaml"

# ---- systemd-analyze verify: silent and 0 ----
unit=$P/lib/systemd/system/brightline.service
mkdir -p "$BL_TMP/verify"
# the unit names $prefix/bin; verify looks for them on this host, so point
# it at the install tree (only the paths change)
sed "s#$prefix/bin/#$P/bin/#g" "$unit" >"$BL_TMP/verify/brightline.service"
out=$(MANPATH=$P/share/man systemd-analyze verify "$BL_TMP/verify/brightline.service" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then t_ok "systemd-analyze verify brightline.service"
else t_not_ok "systemd-analyze verify brightline.service (exit $rc)"; echo "$out" | t_diag; fi
unit_has() { grep -qx "$1" "$unit"; }
t_check "unit: Type=notify" unit_has "Type=notify"
t_check "unit: ExecReload through blctl policy load" \
	unit_has "ExecReload=$prefix/bin/blctl -s /run/brightline/control.sock policy load /etc/brightline/policy.yaml"
for d in RuntimeDirectory StateDirectory ConfigurationDirectory; do
	t_check "unit: $d=brightline" unit_has "$d=brightline"
done
# the unit's directories are the ones the example configuration names
t_check "example config: state_dir and control_socket match the unit" \
	grep -q "^state_dir: /var/lib/brightline" "$P/share/brightline/brightline.yaml"

# ---- sd_notify: READY=1 only when forwarding with the policy in force ----
listen() {
	python3 - "$1" "$2" <<'EOP' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        try:
            m = s.recv(4096).decode(errors="replace")
        except socket.timeout:
            break
        out.write(m.replace("\n", " ") + "\n")
EOP
	T_PIDS+=("$!")
	bl_wait 5 test -S "$1"
}
notes=$BL_TMP/notify.log
: >"$notes"
listen "$BL_TMP/notify.sock" "$notes" || t_bail "a NOTIFY_SOCKET listener"
bl_config "$BL_TMP/brightline.yaml" "$BL_ROOT/tests/e2e/demo-blocklist.yaml"
NOTIFY_SOCKET=$BL_TMP/notify.sock bl_daemon_start || t_bail "the daemon starts with a policy"
ready() { grep -q "READY=1" "$notes"; }
t_check "READY=1 sent" bl_wait 10 ready
# the first thing after READY=1: traffic forwarded and judged by the policy
t_expect pass "at READY: ping www crosses" bl_ping "$IP_OUT"
t_expect reject "at READY: the policy rejects https" bl_curl "https://$IP_OUT/"
bl_daemon_stop
t_check "STOPPING=1 sent on SIGTERM" grep -q "STOPPING=1" "$notes"

# a refused policy: the daemon exits non-zero and never says READY=1
: >"$notes"
printf 'version: 1\nrules: [{name: x, action: maybe}]\ndefault: allow\n' >"$BL_TMP/bad.yaml"
rm -rf "$BL_TMP/state"
mkdir -p "$BL_TMP/state"
bl_config "$BL_TMP/bad.conf.yaml" "$BL_TMP/bad.yaml"
NOTIFY_SOCKET=$BL_TMP/notify.sock timeout 60 "$BRIGHTLINE" run --config "$BL_TMP/bad.conf.yaml" \
	--file-prefix "$BL_PREFIX" >"$BL_TMP/bad.log" 2>&1
rc=$?
bl_dpdk_files_rm
t_check "refused policy: the daemon exits non-zero (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
t_check "refused policy: the error names the file" grep -q "bad.yaml:" "$BL_TMP/bad.log"
t_check "refused policy: no READY=1" test "$(grep -c READY=1 "$notes")" -eq 0
t_done
