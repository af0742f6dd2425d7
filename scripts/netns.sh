# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# The box in a pair of network namespaces: the one implementation that
# scripts/demo.sh and the end-to-end tests (tests/e2e/) source.
#
#   inside host (netns NS_IN)                       outside host (netns NS_OUT)
#   eth0 10.99.0.1/24 fd99::1/64                    eth0 10.99.0.2/24 fd99::2/64
#     |                                                  10.99.0.3/24 fd99::3/64
#     | veth                                          | veth
#   IF_IN ==== brightline (root netns, net_af_packet) ==== IF_OUT
#
# The box is a bump in the wire: both hosts share one /24 and one /64 and
# reach each other only through the daemon. The outside host runs nginx
# (HTTP 80, HTTPS 443 with a certificate made at run time) and dnsmasq (DNS
# on every address, no DHCP, A and AAAA records for www and bad.demo.test);
# the inside host runs the clients (ping, curl, dig). Everything the functions create lives under
# $BL_TMP or carries the tag; bl_cleanup removes all of it and may be called
# any number of times (it is the EXIT/INT/TERM trap).
#
# Set before sourcing (defaults in brackets):
#   BL_TAG    [demo]  names: netns bl-TAG-in/out, veths bl-TAG-i/o, DPDK prefix
#   BL_BUILD  [build] the build folder holding dataplane/brightline, control/blctl

BL_ROOT=${BL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BL_TAG=${BL_TAG:-demo}
BL_BUILD=${BL_BUILD:-build}
case $BL_BUILD in /*) ;; *) BL_BUILD=$BL_ROOT/$BL_BUILD ;; esac
BRIGHTLINE=${BRIGHTLINE:-$BL_BUILD/dataplane/brightline}
BLCTL=${BLCTL:-$BL_BUILD/control/blctl}

NS_IN=bl-$BL_TAG-in
NS_OUT=bl-$BL_TAG-out
IF_IN=bl-$BL_TAG-i             # root-namespace ends, owned by the daemon
IF_OUT=bl-$BL_TAG-o
IP_IN=10.99.0.1
IP_OUT=10.99.0.2               # the servers
IP_BAD=10.99.0.3               # a second address of the outside host ("bad.demo.test")
IP6_IN=fd99::1
IP6_OUT=fd99::2
IP6_BAD=fd99::3
BL_PREFIX=bl-$BL_TAG           # DPDK --file-prefix: hugepage files and /run/dpdk/PREFIX
BL_PIDFILE=/run/brightline-$BL_TAG.pid # the daemon of a run killed with -9, for the next run
BL_TMPFILE=/run/brightline-$BL_TAG.tmp # and its temp folder
BL_TMP=${BL_TMP:-}
BL_DAEMON_PID=

bl_log() { printf '%s\n' "$*" >&2; }

# bl_in CMD...: run CMD on the inside host; bl_out: on the outside host.
bl_in() { ip netns exec "$NS_IN" "$@"; }
bl_out() { ip netns exec "$NS_OUT" "$@"; }

# bl_now_ms: a monotonic-enough clock in milliseconds for timing clients.
bl_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# bl_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
bl_wait() {
	local tries=$(($1 * 10))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# Kill one process we started, by id: TERM, then KILL after a bounded wait.
bl_kill_pid() {
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# The leftovers of an earlier run of this tag (killed with -9): its daemon
# (by the pid file, only if it is a brightline), its temp folder, the
# processes in its namespaces (by id), the namespaces, veths and DPDK files.
bl_stale_cleanup() {
	local pid ns
	if [ -f "$BL_PIDFILE" ]; then
		pid=$(cat "$BL_PIDFILE" 2>/dev/null)
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = brightline ]; then
			bl_kill_pid "$pid"
		fi
		rm -f "$BL_PIDFILE"
	fi
	if [ -f "$BL_TMPFILE" ]; then
		pid=$(cat "$BL_TMPFILE" 2>/dev/null)
		case $pid in "$BL_TMP") ;; /tmp/bl-"$BL_TAG".??????) rm -rf "$pid" ;; esac
		rm -f "$BL_TMPFILE"
	fi
	for ns in "$NS_IN" "$NS_OUT"; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do bl_kill_pid "$pid"; done
		ip netns del "$ns" 2>/dev/null || true
	done
	ip link del "$IF_IN" 2>/dev/null || true
	ip link del "$IF_OUT" 2>/dev/null || true
	bl_dpdk_files_rm
}

bl_dpdk_files_rm() {
	rm -f /dev/hugepages/"$BL_PREFIX"map_* 2>/dev/null || true
	rm -rf "/run/dpdk/$BL_PREFIX" "/var/run/dpdk/$BL_PREFIX" 2>/dev/null || true
}

# No offloads on a veth end: with partial checksums the daemon would forward
# frames whose TCP/UDP checksum is left for a NIC that never computes it
# (ping works, TCP does not).
bl_no_offload() {
	"$@" ethtool -K "$IF" tx off tso off gso off gro off >/dev/null 2>&1 ||
		{ bl_log "netns: ethtool -K $IF failed"; return 1; }
}

# bl_net_up: the two hosts and the two veth pairs, addresses, offloads off.
bl_net_up() {
	local side ns ifc addr4 addr6
	bl_stale_cleanup
	[ -n "$BL_TMP" ] || { BL_TMP=$(mktemp -d "/tmp/bl-$BL_TAG.XXXXXX") && echo "$BL_TMP" >"$BL_TMPFILE"; }
	chmod 755 "$BL_TMP"
	for side in in out; do
		if [ $side = in ]; then ns=$NS_IN ifc=$IF_IN addr4=$IP_IN addr6=$IP6_IN
		else ns=$NS_OUT ifc=$IF_OUT addr4=$IP_OUT addr6=$IP6_OUT; fi
		ip netns add "$ns" || return 1
		ip link add "$ifc" type veth peer name "$ifc-p" || return 1
		ip link set "$ifc-p" netns "$ns" || return 1
		ip -n "$ns" link set "$ifc-p" name eth0 || return 1
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$addr4/24" dev eth0
		ip -n "$ns" addr add "$addr6/64" dev eth0 nodad
		if [ $side = out ]; then
			ip -n "$ns" addr add "$IP_BAD/24" dev eth0
			ip -n "$ns" addr add "$IP6_BAD/64" dev eth0 nodad
		fi
		ip -n "$ns" link set eth0 up
		ip link set "$ifc" up
		# the root-namespace end carries no IP of its own and sends no RS/DAD
		sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null || true
		IF=$ifc bl_no_offload || return 1
		IF=eth0 bl_no_offload ip netns exec "$ns" || return 1
	done
}

# bl_servers_up: nginx (80, 443 with a fresh self-signed certificate, a
# 64 MiB file for long transfers) and dnsmasq on the outside host.
bl_servers_up() {
	local d=$BL_TMP/srv
	mkdir -p "$d/www" "$d/tmp"
	echo "hello from the outside host" >"$d/www/index.html"
	truncate -s 64M "$d/www/big.bin"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=www.demo.test" \
		-addext "subjectAltName=DNS:www.demo.test,DNS:bad.demo.test,IP:$IP_OUT" \
		-keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1 ||
		{ bl_log "netns: openssl could not make a certificate"; return 1; }
	cat >"$d/nginx.conf" <<-EOF
		# generated by scripts/netns.sh
		user root;
		worker_processes 1;
		daemon off;
		pid $d/nginx.pid;
		error_log $d/nginx-error.log warn;
		events { worker_connections 256; }
		http {
		    access_log off;
		    client_body_temp_path $d/tmp/body;
		    proxy_temp_path $d/tmp/proxy;
		    fastcgi_temp_path $d/tmp/fastcgi;
		    uwsgi_temp_path $d/tmp/uwsgi;
		    scgi_temp_path $d/tmp/scgi;
		    default_type application/octet-stream;
		    server {
		        listen 80;
		        listen [::]:80;
		        listen 443 ssl;
		        listen [::]:443 ssl;
		        ssl_certificate $d/cert.pem;
		        ssl_certificate_key $d/key.pem;
		        root $d/www;
		    }
		}
	EOF
	bl_out nginx -c "$d/nginx.conf" -p "$d" >"$d/nginx.out" 2>&1 &
	BL_NGINX_PID=$!
	bl_out dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --pid-file="$d/dnsmasq.pid" --bind-interfaces \
		--listen-address="$IP_OUT" --listen-address="$IP6_OUT" \
		--listen-address="$IP_BAD" --listen-address="$IP6_BAD" --port=53 \
		--host-record="www.demo.test,$IP_OUT,$IP6_OUT" \
		--host-record="bad.demo.test,$IP_BAD,$IP6_BAD" \
		--log-facility="$d/dnsmasq.log" >"$d/dnsmasq.out" 2>&1 &
	BL_DNSMASQ_PID=$!
	if ! bl_wait 10 bl_out bash -c "exec 3<>/dev/tcp/$IP_OUT/443" ||
	   ! bl_wait 10 bl_out dig +short +time=1 +tries=1 "@$IP_OUT" www.demo.test; then
		bl_log "netns: the servers did not come up: $(cat "$d"/nginx.out "$d"/dnsmasq.out 2>/dev/null)"
		return 1
	fi
}

# bl_config FILE [POLICY]: the daemon's configuration for this pair of veths.
bl_config() {
	cat >"$1" <<-EOF
		# generated by scripts/netns.sh
		eal:
		  no-pci: true
		  no-telemetry: true
		ports:
		  inside: "net_af_packet0,iface=$IF_IN"
		  outside: "net_af_packet1,iface=$IF_OUT"
		workers: 1
		mempool: 8191
		rx_desc: 512
		tx_desc: 512
		state_dir: $BL_TMP/state
		control_socket: $BL_TMP/control.sock
		event_log: $BL_TMP/eve.json
	EOF
	[ -z "${2:-}" ] || echo "policy: $2" >>"$1"
}

# bl_daemon_start [POLICY]: brightline run on the two root-namespace veth
# ends, log in $BL_TMP/daemon.log; returns once the ports forward (and the
# control socket is there when this brightline has one).
bl_daemon_start() {
	mkdir -p "$BL_TMP/state"
	[ -f "$BL_TMP/brightline.yaml" ] || bl_config "$BL_TMP/brightline.yaml" "${1:-}"
	"$BRIGHTLINE" run --config "$BL_TMP/brightline.yaml" --file-prefix "$BL_PREFIX" \
		>>"$BL_TMP/daemon.log" 2>&1 &
	BL_DAEMON_PID=$!
	echo "$BL_DAEMON_PID" >"$BL_PIDFILE"
	BL_DAEMON_DIED=
	if ! bl_wait 30 bl_daemon_up || [ -n "$BL_DAEMON_DIED" ]; then
		bl_log "netns: the daemon did not start:"
		tail -n 20 "$BL_TMP/daemon.log" >&2
		return 1
	fi
	if bl_has_ctl && ! bl_wait 10 test -S "$BL_TMP/control.sock"; then
		bl_log "netns: no control socket at $BL_TMP/control.sock"
		return 1
	fi
}

# bl_alive PID: the process runs (a zombie does not).
bl_alive() {
	[ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# For bl_wait: true once the daemon said "running", or once it died (then
# BL_DAEMON_DIED is set), so that a daemon that fails does not cost the timeout.
bl_daemon_up() {
	grep -q "brightline: running" "$BL_TMP/daemon.log" && return 0
	bl_alive "$BL_DAEMON_PID" || { BL_DAEMON_DIED=1; return 0; }
	return 1
}

# bl_daemon_stop: SIGTERM (the daemon prints its counters and saves its
# state), then its DPDK files go.
bl_daemon_stop() {
	bl_kill_pid "$BL_DAEMON_PID"
	BL_DAEMON_PID=
	rm -f "$BL_PIDFILE"
	bl_dpdk_files_rm
}

# Does this build's blctl speak to a daemon (policy load), or only check?
bl_has_ctl() {
	local out
	[ -x "$BLCTL" ] || return 1
	out=$("$BLCTL" -s /nonexistent stats 2>&1)
	case $out in *"not implemented"*) return 1 ;; esac
}

bl_ctl() { "$BLCTL" -s "$BL_TMP/control.sock" "$@"; }

# bl_cleanup: everything above, in reverse; safe to call twice.
bl_cleanup() {
	bl_kill_pid "${BL_DAEMON_PID:-}"
	BL_DAEMON_PID=
	bl_kill_pid "${BL_NGINX_PID:-}"
	bl_kill_pid "${BL_DNSMASQ_PID:-}"
	BL_NGINX_PID= BL_DNSMASQ_PID=
	bl_stale_cleanup
	if [ -n "$BL_TMP" ] && [ -d "$BL_TMP" ] && [ -z "${BL_KEEP_TMP:-}" ]; then
		rm -rf "$BL_TMP"
		rm -f "$BL_TMPFILE"
	fi
}

# ---- clients on the inside host, each bounded by a timeout ----

BL_T=2     # seconds a client waits before calling a flow dropped

# bl_ping ADDR: one echo, BL_T seconds at most.
bl_ping() { bl_in ping -c 1 -W "$BL_T" "$1" >/dev/null 2>&1; }

# bl_curl URL [CURL-ARGS]: body on stdout; exit status of curl (7 refused,
# 28 timed out, 35/56 reset).
bl_curl() {
	local url=$1
	shift
	bl_in curl -sS -k --connect-timeout "$BL_T" --max-time $((BL_T + 2)) "$@" "$url"
}

# bl_dig NAME [TYPE [SERVER]]: the answer's first line; fails without an answer.
bl_dig() {
	local out rc
	out=$(bl_in dig +short +time="$BL_T" +tries=1 "@${3:-$IP_OUT}" "$1" "${2:-A}" 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] && [ -n "$out" ] || { echo "$out"; return $((rc ? rc : 1)); }
	echo "${out%%$'\n'*}"
}

# bl_timed CMD...: run CMD, set BL_RC to its status and BL_MS to its duration.
bl_timed() {
	local t0
	t0=$(bl_now_ms)
	"$@" >"$BL_TMP/last.out" 2>&1
	BL_RC=$?
	BL_MS=$(($(bl_now_ms) - t0))
}

BL_REJECT_MS=1000  # a reject is answered within this; a drop takes the whole timeout
BL_FAILS=0

# bl_outcome: pass, reject or drop, from BL_RC and BL_MS of the last bl_timed.
bl_outcome() {
	if [ "$BL_RC" -eq 0 ]; then echo pass
	elif [ "$BL_MS" -lt "$BL_REJECT_MS" ]; then echo reject
	elif [ "$BL_MS" -ge $((BL_T * 900)) ]; then echo drop
	else echo "failed"
	fi
}

# bl_expect WANT LABEL CMD...: run a client (bl_timed) and judge it: pass
# (exit 0), reject (failed within BL_REJECT_MS: an RST or ICMP came back) or
# drop (failed after the timeout: nothing came back). One line on stdout;
# 0 when the outcome is WANT, else 1 and BL_FAILS grows.
bl_expect() {
	local want=$1 label=$2 got first
	shift 2
	bl_timed "$@"
	got=$(bl_outcome)
	first=$(head -c 200 "$BL_TMP/last.out" | head -n 1)
	if [ "$got" = "$want" ]; then
		printf '  ok    %-44s %-6s %5d ms  %s\n' "$label" "$got" "$BL_MS" "$first"
		return 0
	fi
	printf '  FAIL  %-44s %-6s %5d ms  (wanted %s, exit %d) %s\n' "$label" "$got" "$BL_MS" \
		"$want" "$BL_RC" "$first"
	BL_FAILS=$((BL_FAILS + 1))
	return 1
}
