/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Layouts shared by the XDP prefilter (prefilter.bpf.c) and user space.
 * Fixed-width types only: both sides must agree byte for byte.
 */
#ifndef BL_BPF_PREFILTER_H
#define BL_BPF_PREFILTER_H

#include <linux/types.h>

/* 802.1Q/802.1ad tags the prefilter walks before giving up. */
#define BL_PF_VLAN_MAX_DEPTH 3

/*
 * What the prefilter concluded about one packet; each value has its own
 * counter in bl_pf_stats. Values are stable: user space indexes by them.
 * The BL_PF_BAD_* outcomes are malformed packets, one reason each.
 */
enum bl_pf_outcome {
	BL_PF_IPV4_TCP = 0,
	BL_PF_IPV4_UDP,
	BL_PF_IPV4_OTHER, /* other protocol, or a non-first fragment */
	BL_PF_IPV6_TCP,
	BL_PF_IPV6_UDP,
	BL_PF_IPV6_OTHER,	/* other next header, extension headers too */
	BL_PF_NON_IP,		/* ARP, LLDP, ...: any other EtherType */
	BL_PF_BAD_ETH_TRUNC,	/* shorter than an Ethernet header */
	BL_PF_BAD_VLAN_TRUNC,	/* a VLAN tag cut short */
	BL_PF_BAD_VLAN_DEPTH,	/* more than BL_PF_VLAN_MAX_DEPTH tags */
	BL_PF_BAD_IPV4_TRUNC,	/* IPv4 header (with options) cut short */
	BL_PF_BAD_IPV4_VERSION, /* EtherType IPv4, version field not 4 */
	BL_PF_BAD_IPV4_IHL,	/* IHL below 5 */
	BL_PF_BAD_IPV4_LEN,	/* total length below the header length */
	BL_PF_BAD_IPV6_TRUNC,	/* fixed IPv6 header cut short */
	BL_PF_BAD_IPV6_VERSION, /* EtherType IPv6, version field not 6 */
	BL_PF_BAD_TCP_TRUNC,	/* TCP header (with options) cut short */
	BL_PF_BAD_TCP_DOFF,	/* data offset below 5 */
	BL_PF_BAD_UDP_TRUNC,	/* UDP header cut short */
	BL_PF_OUTCOME_MAX
};

/* One counter slot; per CPU, so user space sums over possible CPUs. */
struct bl_pf_stats {
	__u64 packets;
	__u64 bytes; /* linear bytes seen by XDP (data_end - data) */
};

/*
 * Maps (BPF object names are limited to 15 characters):
 *   bl_pf_stats   per-CPU array, key __u32 enum bl_pf_outcome, value
 *                 struct bl_pf_stats: packets and bytes per outcome.
 *                 Pinned by name (/sys/fs/bpf/bl_pf_stats) because the
 *                 net_af_xdp PMD, not the daemon, opens the object.
 */
#define BL_PF_STATS_MAP "bl_pf_stats"

#endif /* BL_BPF_PREFILTER_H */
