// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * bl_prefilter: the XDP stage in front of the DPDK RX queue. It parses
 * L2..L4 of every packet and counts the outcome per CPU. Prefix blocklists
 * and rate limits come later; today every packet goes on to user space.
 */
#include "parsing.h"
#include "prefilter.h"

_Static_assert(BL_VLAN_MAX_DEPTH == BL_PF_VLAN_MAX_DEPTH,
	       "parsing.h and prefilter.h disagree on the VLAN depth");

/* Packets and bytes per enum bl_pf_outcome, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BL_PF_OUTCOME_MAX);
	__type(key, __u32);
	__type(value, struct bl_pf_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bl_pf_stats SEC(".maps");

/* L4 after an IP header: the outcome names the family and protocol. */
static __always_inline enum bl_pf_outcome parse_l4(struct bl_cursor *c, __u8 proto,
						   enum bl_pf_outcome tcp, enum bl_pf_outcome udp,
						   enum bl_pf_outcome other)
{
	struct tcphdr *th;
	struct udphdr *uh;
	int rc;

	switch (proto) {
	case IPPROTO_TCP:
		rc = bl_parse_tcp(c, &th);
		if (rc == BL_PARSE_TRUNC)
			return BL_PF_BAD_TCP_TRUNC;
		if (rc != BL_PARSE_OK)
			return BL_PF_BAD_TCP_DOFF;
		return tcp;
	case IPPROTO_UDP:
		rc = bl_parse_udp(c, &uh);
		if (rc != BL_PARSE_OK)
			return BL_PF_BAD_UDP_TRUNC;
		return udp;
	default: return other;
	}
}

/* IPv4 and what it carries; later fragments carry no L4 header. */
static __always_inline enum bl_pf_outcome parse_ipv4(struct bl_cursor *c)
{
	struct iphdr *iph;

	switch (bl_parse_ipv4(c, &iph)) {
	case BL_PARSE_OK: break;
	case BL_PARSE_BAD_VERSION: return BL_PF_BAD_IPV4_VERSION;
	case BL_PARSE_BAD_HDRLEN: return BL_PF_BAD_IPV4_IHL;
	case BL_PARSE_BAD_LEN: return BL_PF_BAD_IPV4_LEN;
	default: return BL_PF_BAD_IPV4_TRUNC;
	}
	if (bl_ipv4_is_later_fragment(iph))
		return BL_PF_IPV4_OTHER;
	return parse_l4(c, iph->protocol, BL_PF_IPV4_TCP, BL_PF_IPV4_UDP, BL_PF_IPV4_OTHER);
}

/*
 * IPv6 and what its fixed header names next. Extension headers count as
 * "other": user space walks them, the prefilter only needs the addresses.
 */
static __always_inline enum bl_pf_outcome parse_ipv6(struct bl_cursor *c)
{
	struct ipv6hdr *ip6h;

	switch (bl_parse_ipv6(c, &ip6h)) {
	case BL_PARSE_OK: break;
	case BL_PARSE_BAD_VERSION: return BL_PF_BAD_IPV6_VERSION;
	default: return BL_PF_BAD_IPV6_TRUNC;
	}
	return parse_l4(c, ip6h->nexthdr, BL_PF_IPV6_TCP, BL_PF_IPV6_UDP, BL_PF_IPV6_OTHER);
}

/* Ethernet, VLAN tags, then IPv4 or IPv6. */
static __always_inline enum bl_pf_outcome parse_packet(struct bl_cursor *c)
{
	__be16 proto;

	if (bl_parse_eth(c, &proto) != BL_PARSE_OK)
		return BL_PF_BAD_ETH_TRUNC;
	switch (bl_parse_vlans(c, &proto)) {
	case BL_PARSE_OK: break;
	case BL_PARSE_TOO_DEEP: return BL_PF_BAD_VLAN_DEPTH;
	default: return BL_PF_BAD_VLAN_TRUNC;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(c);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(c);
	return BL_PF_NON_IP;
}

/*
 * The XDP action for an outcome. Malformed packets pass too, for now:
 * the worker parses them again, counts them under its own reasons and
 * applies the policy's verdict (a policy may log or mirror them), so the
 * prefilter must not decide alone. Well-formed packets pass until the
 * prefix blocklist and rate limits arrive.
 */
static __always_inline int action_for(enum bl_pf_outcome outcome)
{
	(void)outcome;
	return XDP_PASS;
}

/* The one exit: count the outcome on this CPU, return its action. */
static __always_inline int record(const struct xdp_md *ctx, enum bl_pf_outcome outcome)
{
	__u32 key = outcome;
	struct bl_pf_stats *st = bpf_map_lookup_elem(&bl_pf_stats, &key);

	if (st) {
		st->packets++;
		st->bytes += ctx->data_end - ctx->data;
	}
	return action_for(outcome);
}

SEC("xdp")
int bl_prefilter(struct xdp_md *ctx)
{
	struct bl_cursor c;

	bl_cursor_init(&c, ctx);
	return record(ctx, parse_packet(&c));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
