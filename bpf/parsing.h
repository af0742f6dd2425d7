/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Header parsing for XDP programs: a cursor walks the packet, and every
 * helper checks its header against the end of the packet once before it
 * reads it (variable-length headers check the fixed part, then the length
 * they announce). Helpers return enum bl_parse_rc; on BL_PARSE_OK the
 * cursor has moved past the header. On failure the cursor is unspecified.
 */
#ifndef BL_BPF_PARSING_H
#define BL_BPF_PARSING_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* 802.1Q/802.1ad tags bl_parse_vlans() walks before giving up. */
#define BL_VLAN_MAX_DEPTH 3

/* IPv4 fragment offset bits of frag_off (RFC 791). */
#define BL_IPV4_FRAG_OFFSET 0x1fff

struct bl_cursor {
	void *pos;
	void *end;
};

/* An 802.1Q or 802.1ad tag after the MAC addresses' EtherType. */
struct bl_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

enum bl_parse_rc {
	BL_PARSE_OK = 0,
	BL_PARSE_TRUNC,	      /* header runs past the end of the packet */
	BL_PARSE_BAD_VERSION, /* IP version field disagrees with EtherType */
	BL_PARSE_BAD_HDRLEN,  /* IHL or TCP data offset below the minimum */
	BL_PARSE_BAD_LEN,     /* IPv4 total length below the header length */
	BL_PARSE_TOO_DEEP,    /* more than BL_VLAN_MAX_DEPTH VLAN tags */
};

/* Start a cursor over the packet an XDP program was given. */
static __always_inline void bl_cursor_init(struct bl_cursor *c, const struct xdp_md *ctx)
{
	c->pos = (void *)(long)ctx->data;
	c->end = (void *)(long)ctx->data_end;
}

/* Take len bytes at the cursor: the header's start, or NULL if too short. */
static __always_inline void *bl_cursor_pull(struct bl_cursor *c, __u32 len)
{
	void *hdr = c->pos;

	if (hdr + len > c->end)
		return NULL;
	c->pos = hdr + len;
	return hdr;
}

/* Is this EtherType (network order) a VLAN tag protocol identifier? */
static __always_inline bool bl_eth_type_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet header; *proto gets the outer EtherType (network order). */
static __always_inline int bl_parse_eth(struct bl_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = bl_cursor_pull(c, sizeof(*eth));

	if (!eth)
		return BL_PARSE_TRUNC;
	*proto = eth->h_proto;
	return BL_PARSE_OK;
}

/*
 * Skip up to BL_VLAN_MAX_DEPTH stacked tags (802.1Q, 802.1ad in any
 * order); *proto goes from the outer to the inner EtherType. A tag beyond
 * the bound is BL_PARSE_TOO_DEEP, so the verifier sees a fixed trip count.
 */
static __always_inline int bl_parse_vlans(struct bl_cursor *c, __be16 *proto)
{
	struct bl_vlan_hdr *vh;
	int i;

#pragma unroll
	for (i = 0; i < BL_VLAN_MAX_DEPTH; i++) {
		if (!bl_eth_type_is_vlan(*proto))
			return BL_PARSE_OK;
		vh = bl_cursor_pull(c, sizeof(*vh));
		if (!vh)
			return BL_PARSE_TRUNC;
		*proto = vh->encap_proto;
	}
	return bl_eth_type_is_vlan(*proto) ? BL_PARSE_TOO_DEEP : BL_PARSE_OK;
}

/* IPv4 header with its options (RFC 791); the cursor lands on L4. */
static __always_inline int bl_parse_ipv4(struct bl_cursor *c, struct iphdr **out)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return BL_PARSE_TRUNC;
	if (iph->version != 4)
		return BL_PARSE_BAD_VERSION;
	hlen = iph->ihl * 4;
	if (hlen < sizeof(*iph))
		return BL_PARSE_BAD_HDRLEN;
	if (bpf_ntohs(iph->tot_len) < hlen)
		return BL_PARSE_BAD_LEN;
	if (!bl_cursor_pull(c, hlen))
		return BL_PARSE_TRUNC;
	*out = iph;
	return BL_PARSE_OK;
}

/* Does this IPv4 header belong to a fragment other than the first? */
static __always_inline bool bl_ipv4_is_later_fragment(const struct iphdr *iph)
{
	return (iph->frag_off & bpf_htons(BL_IPV4_FRAG_OFFSET)) != 0;
}

/* Fixed IPv6 header (RFC 8200); extension headers are left to the caller. */
static __always_inline int bl_parse_ipv6(struct bl_cursor *c, struct ipv6hdr **out)
{
	struct ipv6hdr *ip6h = bl_cursor_pull(c, sizeof(*ip6h));

	if (!ip6h)
		return BL_PARSE_TRUNC;
	if (ip6h->version != 6)
		return BL_PARSE_BAD_VERSION;
	*out = ip6h;
	return BL_PARSE_OK;
}

/* TCP header with its options (RFC 9293); the cursor lands on payload. */
static __always_inline int bl_parse_tcp(struct bl_cursor *c, struct tcphdr **out)
{
	struct tcphdr *th = c->pos;
	__u32 hlen;

	if ((void *)(th + 1) > c->end)
		return BL_PARSE_TRUNC;
	hlen = th->doff * 4;
	if (hlen < sizeof(*th))
		return BL_PARSE_BAD_HDRLEN;
	if (!bl_cursor_pull(c, hlen))
		return BL_PARSE_TRUNC;
	*out = th;
	return BL_PARSE_OK;
}

/* UDP header (RFC 768); the cursor lands on payload. */
static __always_inline int bl_parse_udp(struct bl_cursor *c, struct udphdr **out)
{
	struct udphdr *uh = bl_cursor_pull(c, sizeof(*uh));

	if (!uh)
		return BL_PARSE_TRUNC;
	*out = uh;
	return BL_PARSE_OK;
}

#endif /* BL_BPF_PARSING_H */
