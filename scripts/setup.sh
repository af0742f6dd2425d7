#!/usr/bin/env bash
# One idempotent set-up for both README commands and CI: installs the Debian
# packages brightline needs, reserves 2 GiB of 2 MiB hugepages, mounts
# hugetlbfs and bpffs where they are missing, and checks HugePages_Free.
# Each failure is one clear line on stderr and a non-zero exit.
set -euo pipefail

HUGEPAGES=${BL_HUGEPAGES:-1024}         # 1024 x 2 MiB = 2 GiB
HUGEPAGES_MIN_FREE=${BL_HUGEPAGES_MIN_FREE:-512}

die() { echo "setup: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, hugepages and bpffs need it)"

# Build, test and demo dependencies, one line each in README.md.
PACKAGES=(
	build-essential meson ninja-build pkg-config python3
	clang llvm libclang-rt-14-dev
	dpdk dpdk-dev libdpdk-dev
	libbpf-dev bpftool linux-libc-dev
	libhyperscan-dev
	libcriterion-dev
	libpcap-dev libyaml-dev libjansson-dev libssl-dev
	libidn2-dev
	iproute2 ethtool
	# the live demo and the e2e suite: servers on the outside host (dnsmasq-base:
	# the binary without a service that would take port 53 on this machine),
	# clients on the inside host, systemd-analyze for the unit
	nginx-light dnsmasq-base curl dnsutils iputils-ping openssl systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
		|| die "apt-get install failed for: ${missing[*]}"
fi

# Hugepages: reserve only when fewer are there, never shrink a bigger pool.
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ -w "$nr" ] || die "no 2 MiB hugepage support in this kernel ($nr missing)"
if [ "$(cat "$nr")" -lt "$HUGEPAGES" ]; then
	echo "$HUGEPAGES" > "$nr" 2>/dev/null || true
fi
if ! mountpoint -q /dev/hugepages; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages \
		|| die "cannot mount hugetlbfs on /dev/hugepages"
fi
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
[ "${free:-0}" -ge "$HUGEPAGES_MIN_FREE" ] \
	|| die "only ${free:-0} free 2 MiB hugepages, need $HUGEPAGES_MIN_FREE (free memory, or set BL_HUGEPAGES)"

# bpffs for the prefilter's pinned maps.
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs on /sys/fs/bpf"
fi
echo "setup: ok ($free free 2 MiB hugepages, hugetlbfs and bpffs mounted)"
