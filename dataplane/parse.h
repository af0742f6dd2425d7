/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' packet parser: L2 (Ethernet, Linux SLL/SLL2, raw IP), VLAN
 * and QinQ tags, MPLS, PPPoE session, IPv4/IPv6 with options, extension
 * headers and fragments, TCP/UDP/ICMP/ICMPv6/SCTP, and tunnels (GRE, VXLAN,
 * Teredo, IP-in-IP, 6in4) to a bounded depth.
 *
 * It reads a contiguous buffer through a cursor with one bounds check per
 * header, never reads past `len`, and runs every loop to a fixed bound. It has
 * no DPDK dependency so that `inspect`, the unit tests and the fuzzer use the
 * very code the workers run.
 */
#ifndef BL_PARSE_H
#define BL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Bounds. A packet past any of them is malformed, never truncated silently. */
#define BL_MAX_VLAN   3 /* 802.1Q / 802.1ad tags */
#define BL_MAX_MPLS   8 /* labels in one stack */
#define BL_MAX_EXTHDR 8 /* IPv6 extension headers per IP layer */
#define BL_MAX_TUNNEL 2 /* encapsulations below the outermost IP layer */
#define BL_MAX_LAYERS (1 + BL_MAX_TUNNEL)

/* How the first byte of the buffer is to be read (pcap link types map here). */
enum bl_linktype {
	BL_LINK_ETHER = 0,
	BL_LINK_SLL,  /* Linux cooked capture v1 */
	BL_LINK_SLL2, /* Linux cooked capture v2 */
	BL_LINK_RAW,  /* raw IP: version from the first nibble */
};

/*
 * One outcome per parse; everything but BL_PARSE_OK is a named malformed
 * reason, each with its own counter in the dataplane. Keep
 * bl_parse_outcome_name() in step.
 */
enum bl_parse_outcome {
	BL_PARSE_OK = 0,
	BL_PARSE_TRUNC_L2, /* shorter than its L2 header */
	BL_PARSE_TRUNC_VLAN,
	BL_PARSE_TOO_MANY_VLANS,
	BL_PARSE_TRUNC_MPLS,
	BL_PARSE_TOO_MANY_LABELS,
	BL_PARSE_BAD_MPLS_PAYLOAD, /* first nibble after the stack is not 4 or 6 */
	BL_PARSE_TRUNC_PPPOE,
	BL_PARSE_BAD_PPPOE, /* version/type/code or length wrong */
	BL_PARSE_TRUNC_IPV4,
	BL_PARSE_BAD_IP_VERSION,   /* version field disagrees with the ethertype */
	BL_PARSE_BAD_IPV4_IHL,	   /* IHL < 5 or beyond total length */
	BL_PARSE_BAD_IPV4_TOTLEN,  /* total length < IHL*4 or > bytes present */
	BL_PARSE_BAD_IPV4_OPTIONS, /* an option runs past the header, or is 0 long */
	BL_PARSE_TRUNC_IPV6,
	BL_PARSE_BAD_IPV6_PAYLEN, /* payload length > bytes present */
	BL_PARSE_TRUNC_EXTHDR,
	BL_PARSE_TOO_MANY_EXTHDRS,
	BL_PARSE_BAD_FRAG, /* offset + length past 65535, or bad fragment */
	BL_PARSE_TRUNC_TCP,
	BL_PARSE_BAD_TCP_DOFF, /* data offset < 5 or past the segment */
	BL_PARSE_TRUNC_UDP,
	BL_PARSE_BAD_UDP_LEN, /* length < 8 or > bytes present */
	BL_PARSE_TRUNC_ICMP,
	BL_PARSE_TRUNC_SCTP,
	BL_PARSE_TRUNC_GRE,
	BL_PARSE_BAD_GRE, /* unknown version, or routing present */
	BL_PARSE_TRUNC_VXLAN,
	BL_PARSE_TUNNEL_TOO_DEEP, /* encapsulation nested past BL_MAX_TUNNEL */
	BL_PARSE_OUTCOME_MAX
};

/* What kind of frame this is, for the dataplane's non-IP defaults. */
enum bl_l2class {
	BL_L2_IP = 0, /* IPv4 or IPv6 datagram (not one of the classes below) */
	BL_L2_ARP,
	BL_L2_LLDP,
	BL_L2_SLOW,  /* LACP and other slow protocols (0x8809) */
	BL_L2_STP,   /* 802.3 frame with LLC DSAP 0x42 */
	BL_L2_OTHER, /* any other non-IP frame */
	BL_L2_ND,    /* ICMPv6 router/neighbour solicitation/advert, redirect */
	BL_L2_MLD,   /* ICMPv6 multicast listener query/report/done */
};

/* How an IP layer was reached from the one above it. */
enum bl_tunnel {
	BL_TUN_NONE = 0, /* outermost IP layer */
	BL_TUN_GRE,
	BL_TUN_VXLAN,
	BL_TUN_TEREDO,
	BL_TUN_IPIP, /* IPv4 or IPv6 in IPv4/IPv6 (protocol 4 or 41) */
};

/* struct bl_l3.flags */
#define BL_L3_FRAG	  0x01 /* a real fragment (offset > 0 or MF set) */
#define BL_L3_FRAG_FIRST  0x02 /* offset 0 with more fragments: holds the L4 header */
#define BL_L3_FRAG_LATER  0x04 /* offset > 0: no L4 header here */
#define BL_L3_MF	  0x08 /* more fragments follow */
#define BL_L3_ATOMIC_FRAG 0x10 /* IPv6 fragment header with offset 0 and no MF */
#define BL_L3_OPTIONS	  0x20 /* IPv4 options or IPv6 extension headers present */
#define BL_L3_HAS_PORTS	  0x40 /* sport/dport are valid (TCP, UDP, SCTP) */
#define BL_L3_L4_PARTIAL  0x80 /* L4 header cut short: ICMP quotes, tiny IPv4 first fragments */

/* One IP layer with the transport header that follows it. */
struct bl_l3 {
	uint8_t family;	   /* 4 or 6 */
	uint8_t proto;	   /* final L4 protocol after extension headers */
	uint8_t flags;	   /* BL_L3_* */
	uint8_t tunnel;	   /* enum bl_tunnel: how this layer was reached */
	uint16_t l3_off;   /* IP header offset from the start of the buffer */
	uint16_t l4_off;   /* transport header offset (or fragment payload) */
	uint16_t l3_len;   /* IP datagram length as the header states it */
	uint16_t frag_off; /* fragment offset in bytes */
	uint32_t frag_id;  /* IPv4 id or IPv6 fragment identification */
	uint8_t ttl;	   /* TTL / hop limit */
	uint8_t tcp_flags;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t sport;	 /* host byte order; valid with BL_L3_HAS_PORTS */
	uint16_t dport;	 /* for ICMP echo: sport = identifier, dport = 0 */
	uint8_t src[16]; /* IPv4 in the first 4 bytes */
	uint8_t dst[16];
};

/* struct bl_pkt.flags */
#define BL_PKT_PPPOE	 0x01
#define BL_PKT_HAS_QUOTE 0x02 /* ICMP error: `quote` holds the quoted header */

/* The per-packet record: what the parser found, or how far it got. */
struct bl_pkt {
	uint8_t outcome; /* enum bl_parse_outcome */
	uint8_t l2class; /* enum bl_l2class */
	uint8_t flags;	 /* BL_PKT_* */
	uint8_t nvlan;
	uint8_t nmpls;
	uint8_t nlayers;	    /* IP layers filled in `l3`, outermost first */
	uint16_t ethertype;	    /* last ethertype before the first IP header */
	uint16_t vlan[BL_MAX_VLAN]; /* VLAN ids (12 bits), outermost first */
	uint16_t l2_len;	    /* offset of the first IP header (or payload) */
	uint32_t mpls_top;	    /* top label value (20 bits) when nmpls > 0 */
	struct bl_l3 l3[BL_MAX_LAYERS];
	struct bl_l3 quote; /* header quoted by an ICMP error (lenient parse) */
};

/*
 * Parse `len` bytes at `data` read as link type `lt` into `out`. Returns the
 * outcome, also stored in out->outcome; on a malformed packet `out` keeps
 * every header parsed before the fault.
 * What is valid afterwards (the rest is left as it was, so the fast path
 * writes no more of the record than the packet fills): every field before
 * `l3` (unused vlan[] entries are 0); l3[0 .. nlayers-1], each cleared
 * before it is filled, so fields a layer does not set are 0 (IPv4
 * addresses are zero-padded to 16 bytes); `quote` only when
 * BL_PKT_HAS_QUOTE is set. Never read l3[i] for i >= nlayers, nor `quote`
 * without that flag.
 * `wire_len` is the packet's length on the wire: pass `len` in the
 * dataplane; `inspect` passes the original length of a snapped capture so
 * IP length fields are checked against it while reads stay within `len`.
 */
enum bl_parse_outcome bl_parse(const uint8_t *data, uint32_t len, uint32_t wire_len,
			       enum bl_linktype lt, struct bl_pkt *out);

/* Short stable name for an outcome ("ok", "trunc_ipv4", ...). */
const char *bl_parse_outcome_name(enum bl_parse_outcome o);

/* Short stable names for the other enums ("ip", "arp", ..., "gre", ...). */
const char *bl_l2class_name(enum bl_l2class c);
const char *bl_tunnel_name(enum bl_tunnel t);

/* The innermost IP layer, or NULL when there is none. */
static inline const struct bl_l3 *bl_pkt_inner(const struct bl_pkt *p)
{
	return p->nlayers ? &p->l3[p->nlayers - 1] : 0;
}

#endif /* BL_PARSE_H */
