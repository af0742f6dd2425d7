/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The XDP prefilter's parser, run in the kernel with BPF_PROG_TEST_RUN on
 * packets built here: each case asserts the XDP action and that exactly
 * its outcome's per-CPU counter moved (by one packet and the packet's
 * bytes). Needs CAP_BPF (or root); without it every case is skipped.
 *
 * BL_PF_BAD_ETH_TRUNC cannot be reached here: the kernel refuses XDP test
 * input shorter than an Ethernet header.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "prefilter.h"
#include "prefilter.skel.h"

#define ETH_IPV4      0x0800
#define ETH_IPV6      0x86dd
#define ETH_ARP	      0x0806
#define TPID_8021Q    0x8100
#define TPID_8021AD   0x88a8
#define PROTO_ICMP    1
#define PROTO_TCP     6
#define PROTO_UDP     17
#define PROTO_HOPOPTS 0

struct pkt {
	uint8_t buf[256];
	size_t len;
};

/* One packet builder and what the prefilter must conclude about it. */
struct pf_case {
	const char *name;
	void (*build)(struct pkt *p);
	uint32_t outcome;
};

static struct prefilter_bpf *skel;
static int load_err;

/* Append n bytes (or n zero bytes when src is NULL). */
static uint8_t *put(struct pkt *p, const void *src, size_t n)
{
	uint8_t *at = p->buf + p->len;

	cr_assert_leq(p->len + n, sizeof(p->buf), "packet buffer too small");
	if (src)
		memcpy(at, src, n);
	else
		memset(at, 0, n);
	p->len += n;
	return at;
}

static void put_be16(uint8_t *at, uint16_t v)
{
	at[0] = v >> 8;
	at[1] = v & 0xff;
}

static void put_eth(struct pkt *p, uint16_t type)
{
	static const uint8_t macs[12] = {
		0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02,
	};

	put(p, macs, sizeof(macs));
	put_be16(put(p, NULL, 2), type);
}

/* A VLAN tag: TCI (VID only), then the EtherType that follows it. */
static void put_vlan(struct pkt *p, uint16_t vid, uint16_t next)
{
	uint8_t *at = put(p, NULL, 4);

	put_be16(at, vid & 0x0fff);
	put_be16(at + 2, next);
}

/*
 * An IPv4 header of max(ihl, 5) * 4 bytes, zero options; ver_ihl is the
 * raw first byte so that tests can break either nibble.
 */
static void put_ipv4(struct pkt *p, uint8_t ver_ihl, uint16_t tot_len, uint16_t frag_off,
		     uint8_t proto)
{
	size_t words = (ver_ihl & 0x0f) < 5 ? 5 : (ver_ihl & 0x0f);
	uint8_t *at = put(p, NULL, words * 4);

	at[0] = ver_ihl;
	put_be16(at + 2, tot_len);
	put_be16(at + 6, frag_off);
	at[8] = 64;
	at[9] = proto;
	at[12] = 10;
	at[15] = 1; /* 10.0.0.1 -> 10.0.0.2 */
	at[16] = 10;
	at[19] = 2;
}

static void put_ipv6(struct pkt *p, uint8_t version, uint8_t nexthdr, uint16_t payload_len)
{
	uint8_t *at = put(p, NULL, 40);

	at[0] = version << 4;
	put_be16(at + 4, payload_len);
	at[6] = nexthdr;
	at[7] = 64;
	at[8] = 0xfd;
	at[23] = 1; /* fd00::1 -> fd00::2 */
	at[24] = 0xfd;
	at[39] = 2;
}

/* A TCP header of max(doff, 5) * 4 bytes, SYN set. */
static void put_tcp(struct pkt *p, uint8_t doff)
{
	size_t words = doff < 5 ? 5 : doff;
	uint8_t *at = put(p, NULL, words * 4);

	put_be16(at, 40000);
	put_be16(at + 2, 443);
	at[12] = doff << 4;
	at[13] = 0x02;
	put_be16(at + 14, 65535);
}

static void put_udp(struct pkt *p, uint16_t payload)
{
	uint8_t *at = put(p, NULL, 8);

	put_be16(at, 40000);
	put_be16(at + 2, 53);
	put_be16(at + 4, 8 + payload);
	put(p, NULL, payload);
}

static void ipv4_tcp(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x45, 40, 0, PROTO_TCP);
	put_tcp(p, 5);
}

static void ipv4_tcp_options(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x46, 24 + 32, 0, PROTO_TCP);
	put_tcp(p, 8);
}

static void ipv4_udp(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x45, 20 + 8 + 12, 0, PROTO_UDP);
	put_udp(p, 12);
}

static void ipv4_icmp(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x45, 28, 0, PROTO_ICMP);
	put(p, NULL, 8);
}

/* A later fragment names TCP but carries none of its header. */
static void ipv4_later_fragment(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x45, 24, 185, PROTO_TCP);
	put(p, NULL, 4);
}

static void ipv6_udp(struct pkt *p)
{
	put_eth(p, ETH_IPV6);
	put_ipv6(p, 6, PROTO_UDP, 8 + 16);
	put_udp(p, 16);
}

static void ipv6_tcp(struct pkt *p)
{
	put_eth(p, ETH_IPV6);
	put_ipv6(p, 6, PROTO_TCP, 20);
	put_tcp(p, 5);
}

static void ipv6_hopopts(struct pkt *p)
{
	put_eth(p, ETH_IPV6);
	put_ipv6(p, 6, PROTO_HOPOPTS, 8);
	put(p, NULL, 8);
}

static void vlan1_ipv4_udp(struct pkt *p)
{
	put_eth(p, TPID_8021Q);
	put_vlan(p, 100, ETH_IPV4);
	put_ipv4(p, 0x45, 28, 0, PROTO_UDP);
	put_udp(p, 0);
}

static void qinq_ipv4_tcp(struct pkt *p)
{
	put_eth(p, TPID_8021AD);
	put_vlan(p, 10, TPID_8021Q);
	put_vlan(p, 20, ETH_IPV4);
	put_ipv4(p, 0x45, 40, 0, PROTO_TCP);
	put_tcp(p, 5);
}

static void vlan3_ipv6_tcp(struct pkt *p)
{
	put_eth(p, TPID_8021AD);
	put_vlan(p, 10, TPID_8021Q);
	put_vlan(p, 20, TPID_8021Q);
	put_vlan(p, 30, ETH_IPV6);
	put_ipv6(p, 6, PROTO_TCP, 20);
	put_tcp(p, 5);
}

static void vlan4_too_deep(struct pkt *p)
{
	put_eth(p, TPID_8021AD);
	put_vlan(p, 10, TPID_8021Q);
	put_vlan(p, 20, TPID_8021Q);
	put_vlan(p, 30, TPID_8021Q);
	put_vlan(p, 40, ETH_IPV4);
	put_ipv4(p, 0x45, 40, 0, PROTO_TCP);
	put_tcp(p, 5);
}

static void vlan_truncated(struct pkt *p)
{
	put_eth(p, TPID_8021Q);
	put(p, NULL, 2);
}

static void arp(struct pkt *p)
{
	static const uint8_t req[8] = { 0, 1, 0x08, 0, 6, 4, 0, 1 };

	put_eth(p, ETH_ARP);
	put(p, req, sizeof(req));
	put(p, NULL, 20);
}

static void ipv4_truncated(struct pkt *p)
{
	ipv4_tcp(p);
	p->len = 14 + 10;
}

/* IHL announces 60 bytes; the packet ends after 40. */
static void ipv4_options_truncated(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x4f, 60, 0, PROTO_TCP);
	p->len = 14 + 40;
}

static void ipv4_bad_ihl(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x44, 40, 0, PROTO_TCP);
	put_tcp(p, 5);
}

static void ipv4_bad_version(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x65, 40, 0, PROTO_TCP);
	put_tcp(p, 5);
}

static void ipv4_bad_total_length(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x46, 20, 0, PROTO_TCP);
	put_tcp(p, 5);
}

static void ipv6_truncated(struct pkt *p)
{
	ipv6_udp(p);
	p->len = 14 + 39;
}

static void ipv6_bad_version(struct pkt *p)
{
	put_eth(p, ETH_IPV6);
	put_ipv6(p, 4, PROTO_UDP, 8);
	put_udp(p, 0);
}

static void tcp_truncated(struct pkt *p)
{
	ipv4_tcp(p);
	p->len -= 1;
}

static void tcp_options_truncated(struct pkt *p)
{
	ipv6_tcp(p);
	p->buf[14 + 40 + 12] = 15 << 4;
}

static void tcp_bad_doff(struct pkt *p)
{
	put_eth(p, ETH_IPV4);
	put_ipv4(p, 0x45, 40, 0, PROTO_TCP);
	put_tcp(p, 4);
}

static void udp_truncated(struct pkt *p)
{
	ipv6_udp(p);
	p->len = 14 + 40 + 7;
}

static const struct pf_case cases[] = {
	{ "ipv4_tcp", ipv4_tcp, BL_PF_IPV4_TCP },
	{ "ipv4_tcp_options", ipv4_tcp_options, BL_PF_IPV4_TCP },
	{ "ipv4_udp", ipv4_udp, BL_PF_IPV4_UDP },
	{ "ipv4_icmp", ipv4_icmp, BL_PF_IPV4_OTHER },
	{ "ipv4_later_fragment", ipv4_later_fragment, BL_PF_IPV4_OTHER },
	{ "ipv6_udp", ipv6_udp, BL_PF_IPV6_UDP },
	{ "ipv6_tcp", ipv6_tcp, BL_PF_IPV6_TCP },
	{ "ipv6_hopopts", ipv6_hopopts, BL_PF_IPV6_OTHER },
	{ "vlan1_ipv4_udp", vlan1_ipv4_udp, BL_PF_IPV4_UDP },
	{ "qinq_ipv4_tcp", qinq_ipv4_tcp, BL_PF_IPV4_TCP },
	{ "vlan3_ipv6_tcp", vlan3_ipv6_tcp, BL_PF_IPV6_TCP },
	{ "vlan4_too_deep", vlan4_too_deep, BL_PF_BAD_VLAN_DEPTH },
	{ "vlan_truncated", vlan_truncated, BL_PF_BAD_VLAN_TRUNC },
	{ "arp", arp, BL_PF_NON_IP },
	{ "ipv4_truncated", ipv4_truncated, BL_PF_BAD_IPV4_TRUNC },
	{ "ipv4_options_truncated", ipv4_options_truncated, BL_PF_BAD_IPV4_TRUNC },
	{ "ipv4_bad_ihl", ipv4_bad_ihl, BL_PF_BAD_IPV4_IHL },
	{ "ipv4_bad_version", ipv4_bad_version, BL_PF_BAD_IPV4_VERSION },
	{ "ipv4_bad_total_length", ipv4_bad_total_length, BL_PF_BAD_IPV4_LEN },
	{ "ipv6_truncated", ipv6_truncated, BL_PF_BAD_IPV6_TRUNC },
	{ "ipv6_bad_version", ipv6_bad_version, BL_PF_BAD_IPV6_VERSION },
	{ "tcp_truncated", tcp_truncated, BL_PF_BAD_TCP_TRUNC },
	{ "tcp_options_truncated", tcp_options_truncated, BL_PF_BAD_TCP_TRUNC },
	{ "tcp_bad_doff", tcp_bad_doff, BL_PF_BAD_TCP_DOFF },
	{ "udp_truncated", udp_truncated, BL_PF_BAD_UDP_TRUNC },
};

/* libbpf prints warnings only: a refused load is reported by the test. */
static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool not_permitted(int err)
{
	return err == -EPERM || err == -EACCES;
}

/*
 * Load the prefilter without pinning its stats map, so that tests never
 * touch /sys/fs/bpf or a daemon's counters.
 */
static void load_prefilter(void)
{
	libbpf_set_print(quiet_libbpf);
	skel = prefilter_bpf__open();
	if (!skel) {
		load_err = -errno;
		return;
	}
	load_err = bpf_map__set_pin_path(skel->maps.bl_pf_stats, NULL);
	if (!load_err)
		load_err = prefilter_bpf__load(skel);
}

static void unload_prefilter(void)
{
	prefilter_bpf__destroy(skel);
	skel = NULL;
}

/* Sum every outcome's counters over all possible CPUs into totals. */
static void read_stats(struct bl_pf_stats totals[BL_PF_OUTCOME_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.bl_pf_stats);
	struct bl_pf_stats *percpu;
	uint32_t key;
	int cpu;

	cr_assert_gt(ncpu, 0);
	percpu = calloc(ncpu, sizeof(*percpu));
	cr_assert_not_null(percpu);
	for (key = 0; key < BL_PF_OUTCOME_MAX; key++) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &key, percpu), 0, "lookup of outcome %u: %s",
			     key, strerror(errno));
		totals[key] = (struct bl_pf_stats){ 0 };
		for (cpu = 0; cpu < ncpu; cpu++) {
			totals[key].packets += percpu[cpu].packets;
			totals[key].bytes += percpu[cpu].bytes;
		}
	}
	free(percpu);
}

/*
 * Criterion runs each case in a fresh exec of this binary, where pointers
 * of the parent (names, builders) are not valid: pass indexes into cases[].
 */
static void free_ids(struct criterion_test_params *crp)
{
	cr_free(crp->params);
}

ParameterizedTestParameters(unit, bpf_parse)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	size_t *ids = cr_malloc(n * sizeof(*ids));
	size_t i;

	cr_assert_not_null(ids);
	for (i = 0; i < n; i++)
		ids[i] = i;
	return cr_make_param_array(size_t, ids, n, free_ids);
}

ParameterizedTest(size_t *id, unit, bpf_parse, .init = load_prefilter, .fini = unload_prefilter,
		  .timeout = 60)
{
	const struct pf_case *tc = &cases[*id];
	struct bl_pf_stats before[BL_PF_OUTCOME_MAX], after[BL_PF_OUTCOME_MAX];
	struct pkt p = { .len = 0 };
	uint32_t o;
	int err;

	if (not_permitted(load_err))
		cr_skip_test("bpf_parse: loading XDP needs root or CAP_BPF");
	cr_assert_eq(load_err, 0, "%s: load prefilter: %s", tc->name, strerror(-load_err));

	tc->build(&p);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p.buf, .data_size_in = (uint32_t)p.len,
		    .repeat = 1);

	read_stats(before);
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bl_prefilter), &opts);
	if (not_permitted(err))
		cr_skip_test("bpf_parse: BPF_PROG_TEST_RUN needs root or CAP_BPF");
	cr_assert_eq(err, 0, "%s: test run: %s", tc->name, strerror(-err));
	read_stats(after);

	cr_expect_eq(opts.retval, XDP_PASS, "%s: action %u, want XDP_PASS", tc->name, opts.retval);
	for (o = 0; o < BL_PF_OUTCOME_MAX; o++) {
		uint64_t want = o == tc->outcome;

		cr_expect_eq(after[o].packets - before[o].packets, want,
			     "%s: outcome %u counted %llu packets, want %llu", tc->name, o,
			     (unsigned long long)(after[o].packets - before[o].packets),
			     (unsigned long long)want);
		cr_expect_eq(after[o].bytes - before[o].bytes, want * p.len,
			     "%s: outcome %u counted %llu bytes, want %llu", tc->name, o,
			     (unsigned long long)(after[o].bytes - before[o].bytes),
			     (unsigned long long)(want * p.len));
	}
}
