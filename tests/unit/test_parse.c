/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the packet parser (dataplane/parse.c).
 *
 * Packets are built by small builders that record where each header lies;
 * length fields are filled in by finish(). A case is a recipe, up to two
 * field patches, and the expected record. Every parse runs on a heap copy of
 * exactly `len` bytes so that AddressSanitizer catches any overread.
 * Parameters hold no pointers (Criterion may run tests in a new process).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ---- packet builder ---------------------------------------------------- */

enum hkind {
	H_ETH,
	H_VLAN,
	H_MPLS,
	H_MPLSPAY,
	H_PPPOE,
	H_IP4,
	H_IP6,
	H_EXT,
	H_TCP,
	H_UDP,
	H_ICMP,
	H_SCTP,
	H_GRE,
	H_PPP,
	H_VXLAN,
	H_IETH,
	H_SLL,
	H_PAY,
	H_TEREDO,
};

struct hdr {
	uint8_t kind;
	uint16_t off;
	uint16_t fixed; /* bytes the parser needs before it reads the fields */
	uint8_t trunc;	/* outcome when cut inside `fixed` */
	uint8_t bad;	/* outcome when its length field exceeds the bytes, or 0 */
};

struct pb {
	uint8_t b[2048];
	uint32_t n;
	struct hdr h[48];
	unsigned int nh;
};

static void put(struct pb *pb, const void *p, uint32_t n)
{
	cr_assert_leq(pb->n + n, sizeof(pb->b));
	if (n) /* memcpy's source may not be NULL, even for 0 bytes */
		memcpy(pb->b + pb->n, p, n);
	pb->n += n;
}

static void put8(struct pb *pb, uint8_t v)
{
	put(pb, &v, 1);
}

static void put16(struct pb *pb, uint16_t v)
{
	put8(pb, v >> 8);
	put8(pb, v & 0xff);
}

static void put32(struct pb *pb, uint32_t v)
{
	put16(pb, v >> 16);
	put16(pb, v & 0xffff);
}

static void zeros(struct pb *pb, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		put8(pb, 0);
}

static void set16(struct pb *pb, uint32_t at, uint16_t v)
{
	pb->b[at] = v >> 8;
	pb->b[at + 1] = v & 0xff;
}

static void mark(struct pb *pb, uint8_t kind, uint16_t fixed, uint8_t trunc, uint8_t bad)
{
	cr_assert_lt(pb->nh, 48);
	pb->h[pb->nh++] = (struct hdr){ kind, (uint16_t)pb->n, fixed, trunc, bad };
}

static void eth_as(struct pb *pb, uint16_t et, uint8_t kind, uint8_t trunc)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };

	mark(pb, kind, 14, trunc, 0);
	put(pb, macs, 12);
	put16(pb, et);
}

static void eth(struct pb *pb, uint16_t et)
{
	eth_as(pb, et, H_ETH, BL_PARSE_TRUNC_L2);
}

/* One tag: TCI then the next ethertype (the TPID is in the field before). */
static void vlan(struct pb *pb, uint16_t vid, uint16_t next)
{
	mark(pb, H_VLAN, 4, BL_PARSE_TRUNC_VLAN, 0);
	put16(pb, vid);
	put16(pb, next);
}

static void mpls(struct pb *pb, uint32_t label, bool bos)
{
	mark(pb, H_MPLS, 4, BL_PARSE_TRUNC_MPLS, 0);
	put32(pb, label << 12 | (bos ? 0x100 : 0) | 64);
	if (bos) /* the parser needs one payload byte to pick IPv4 or IPv6 */
		mark(pb, H_MPLSPAY, 1, BL_PARSE_TRUNC_MPLS, 0);
}

static void pppoe(struct pb *pb, uint16_t proto)
{
	mark(pb, H_PPPOE, 8, BL_PARSE_TRUNC_PPPOE, BL_PARSE_BAD_PPPOE);
	put8(pb, 0x11);
	put8(pb, 0);
	put16(pb, 0x1234);
	put16(pb, 0); /* finish() */
	put16(pb, proto);
}

static void ip4_opts(struct pb *pb, uint8_t proto, const uint8_t *opt, uint32_t nopt)
{
	mark(pb, H_IP4, 20, BL_PARSE_TRUNC_IPV4, BL_PARSE_BAD_IPV4_TOTLEN);
	put8(pb, 0x40 | (uint8_t)((20 + nopt) / 4));
	put8(pb, 0);
	put16(pb, 0); /* finish() */
	put16(pb, 0x1234);
	put16(pb, 0);
	put8(pb, 64);
	put8(pb, proto);
	put16(pb, 0);
	put32(pb, 0x0a000001);
	put32(pb, 0x0a000002);
	put(pb, opt, nopt);
}

static void ip4(struct pb *pb, uint8_t proto)
{
	ip4_opts(pb, proto, NULL, 0);
}

static const uint8_t v6src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

static void ip6(struct pb *pb, uint8_t nh)
{
	mark(pb, H_IP6, 40, BL_PARSE_TRUNC_IPV6, BL_PARSE_BAD_IPV6_PAYLEN);
	put32(pb, 0x60000000);
	put16(pb, 0); /* finish() */
	put8(pb, nh);
	put8(pb, 63);
	put(pb, v6src, 16);
	put(pb, v6dst, 16);
}

/* A generic extension header of (len8 + 1) * 8 bytes, zero padded. */
static void ext6(struct pb *pb, uint8_t nh, uint8_t len8)
{
	mark(pb, H_EXT, 8, BL_PARSE_TRUNC_EXTHDR, 0);
	put8(pb, nh);
	put8(pb, len8);
	zeros(pb, (uint32_t)(len8 + 1) * 8 - 2);
}

static void frag6(struct pb *pb, uint8_t nh, uint16_t off, bool m)
{
	mark(pb, H_EXT, 8, BL_PARSE_TRUNC_EXTHDR, 0);
	put8(pb, nh);
	put8(pb, 0);
	put16(pb, (uint16_t)(off | (m ? 1 : 0)));
	put32(pb, 0xcafe0001);
}

static void tcp(struct pb *pb, uint16_t sport, uint16_t dport, uint8_t flags)
{
	mark(pb, H_TCP, 20, BL_PARSE_TRUNC_TCP, 0);
	put16(pb, sport);
	put16(pb, dport);
	put32(pb, 1);
	put32(pb, 0);
	put8(pb, 0x50);
	put8(pb, flags);
	put16(pb, 65535);
	put32(pb, 0);
}

static void udp(struct pb *pb, uint16_t sport, uint16_t dport)
{
	mark(pb, H_UDP, 8, BL_PARSE_TRUNC_UDP, BL_PARSE_BAD_UDP_LEN);
	put16(pb, sport);
	put16(pb, dport);
	put16(pb, 0); /* finish() */
	put16(pb, 0);
}

static void icmp(struct pb *pb, uint8_t type, uint8_t code, uint16_t id)
{
	mark(pb, H_ICMP, 8, BL_PARSE_TRUNC_ICMP, 0);
	put8(pb, type);
	put8(pb, code);
	put16(pb, 0);
	put16(pb, id);
	put16(pb, 7);
}

static void sctp(struct pb *pb, uint16_t sport, uint16_t dport)
{
	mark(pb, H_SCTP, 12, BL_PARSE_TRUNC_SCTP, 0);
	put16(pb, sport);
	put16(pb, dport);
	put32(pb, 0x11223344);
	put32(pb, 0);
}

/* GRE version 0 with the optional fields the flags announce. */
static void gre(struct pb *pb, uint16_t flags, uint16_t proto)
{
	uint16_t hl =
		4 + (flags & 0x8000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0) + (flags & 0x1000 ? 4 : 0);

	mark(pb, H_GRE, hl, BL_PARSE_TRUNC_GRE, 0);
	put16(pb, flags);
	put16(pb, proto);
	zeros(pb, hl - 4u);
}

static void payload(struct pb *pb, uint32_t n)
{
	mark(pb, H_PAY, 0, 0, 0);
	for (uint32_t i = 0; i < n; i++)
		put8(pb, (uint8_t)(0xa0 + i));
}

/* Fill every length field from where its header starts to the end. */
static void finish(struct pb *pb)
{
	for (unsigned int i = 0; i < pb->nh; i++) {
		uint32_t o = pb->h[i].off;

		switch (pb->h[i].kind) {
		case H_IP4: set16(pb, o + 2, (uint16_t)(pb->n - o)); break;
		case H_IP6: set16(pb, o + 4, (uint16_t)(pb->n - o - 40)); break;
		case H_UDP: set16(pb, o + 4, (uint16_t)(pb->n - o)); break;
		case H_PPPOE: set16(pb, o + 4, (uint16_t)(pb->n - o - 6)); break;
		case H_GRE:
			if ((pb->b[o + 1] & 7) == 1) /* PPTP payload length */
				set16(pb, o + 4, (uint16_t)(pb->n - o - pb->h[i].fixed));
			break;
		default: break;
		}
	}
}

/* ---- recipes ----------------------------------------------------------- */

enum recipe {
	R_TCP4,
	R_TCP4_OPT,
	R_UDP4,
	R_ICMP4,
	R_SCTP4,
	R_PAD,
	R_QINQ6,
	R_TCP6,
	R_VLANS,
	R_MPLS,
	R_MPLS6,
	R_MPLS_PW,
	R_PPPOE,
	R_GRE,
	R_GRE_TEB,
	R_PPTP,
	R_VXLAN,
	R_TEREDO,
	R_IPIP,
	R_6IN4,
	R_DEEP,
	R_DEEP_MIX,
	R_ICMP_ERR,
	R_ICMP6_ERR,
	R_ICMP6,
	R_FRAG4,
	R_FRAG6,
	R_EXTS,
	R_EXTKIND,
	R_L2,
	R_SLL,
	R_SLL2,
	R_RAW,
	R_VXLAN_SHORT,
	R_ETH_ONLY,
	R_MPLS_ONLY,
	R_NRECIPES
};

/* IPv4 option blocks (8 bytes each) for R_TCP4_OPT. */
static const uint8_t opt_sets[][8] = {
	{ 1, 1, 1, 1, 0, 0, 0, 0 },	  /* 0: NOPs then EOL */
	{ 7, 0, 0, 0, 0, 0, 0, 0 },	  /* 1: length 0 */
	{ 7, 1, 0, 0, 0, 0, 0, 0 },	  /* 2: length 1 */
	{ 1, 1, 1, 1, 1, 1, 1, 7 },	  /* 3: no room for the length byte */
	{ 7, 9, 4, 0, 0, 0, 0, 0 },	  /* 4: one past the header */
	{ 7, 8, 4, 0, 0, 0, 0, 0 },	  /* 5: exactly fills the header */
	{ 0, 7, 0, 0, 0, 0, 0, 0 },	  /* 6: EOL, then padding is ignored */
	{ 0x44, 0xff, 0, 0, 0, 0, 0, 0 }, /* 7: maximum length */
	{ 7, 7, 4, 0, 0, 0, 0, 0 },	  /* 8: one short, EOL follows */
	{ 7, 3, 4, 1, 0x83, 3, 4, 0 },	  /* 9: RR then LSRR, each 3 long */
};

static void r_l2(struct pb *pb, int a)
{
	switch (a) {
	case 0: /* ARP */
		eth(pb, 0x0806);
		payload(pb, 28);
		break;
	case 1:
		eth(pb, 0x88cc);
		payload(pb, 30);
		break;
	case 2:
		eth(pb, 0x8809);
		payload(pb, 40);
		break;
	case 3: /* 802.3 + LLC BPDU */
		eth(pb, 38);
		put8(pb, 0x42);
		put8(pb, 0x42);
		put8(pb, 0x03);
		payload(pb, 35);
		break;
	case 4: /* 802.3 + LLC SNAP */
		eth(pb, 38);
		put8(pb, 0xaa);
		put8(pb, 0xaa);
		put8(pb, 0x03);
		payload(pb, 35);
		break;
	case 5: /* unknown ethertype */
		eth(pb, 0x88b5);
		payload(pb, 46);
		break;
	case 6: /* ARP in a VLAN */
		eth(pb, 0x8100);
		vlan(pb, 42, 0x0806);
		payload(pb, 28);
		break;
	case 7: /* 802.3 length field with the LLC header cut */
		eth(pb, 2);
		put8(pb, 0x42);
		put8(pb, 0x42);
		break;
	default: /* PPPoE carrying LCP */
		eth(pb, 0x8864);
		pppoe(pb, 0xc021);
		payload(pb, 10);
		break;
	}
}

static void r_icmp_err(struct pb *pb, int keep)
{
	uint32_t q;

	eth(pb, 0x0800);
	ip4(pb, 1);
	icmp(pb, 3, 3, 0);
	q = pb->n;
	/* quoted datagram as sent: 10.0.0.2 -> 10.0.0.9 UDP 5353 -> 53, 100 long */
	put8(pb, 0x45);
	put8(pb, 0);
	put16(pb, 100);
	put16(pb, 0x7777);
	put16(pb, 0);
	put8(pb, 1);
	put8(pb, 17);
	put16(pb, 0);
	put32(pb, 0x0a000002);
	put32(pb, 0x0a000009);
	put16(pb, 5353);
	put16(pb, 53);
	put16(pb, 80);
	put16(pb, 0);
	pb->n = q + (uint32_t)keep; /* routers quote a cut datagram */
}

static void r_icmp6_err(struct pb *pb, int keep)
{
	uint32_t q;

	eth(pb, 0x86dd);
	ip6(pb, 58);
	icmp(pb, 1, 4, 0);
	q = pb->n;
	/* quoted: IPv6, fragment header (first fragment), TCP 40000 -> 443 SYN */
	put32(pb, 0x60000000);
	put16(pb, 1000);
	put8(pb, 44);
	put8(pb, 64);
	put(pb, v6dst, 16);
	put(pb, v6src, 16);
	put8(pb, 6);
	put8(pb, 0);
	put16(pb, 1);
	put32(pb, 99);
	put16(pb, 40000);
	put16(pb, 443);
	put32(pb, 1);
	put32(pb, 0);
	put8(pb, 0x50);
	put8(pb, 0x02);
	put16(pb, 0);
	pb->n = q + (uint32_t)keep;
}

static void r_teredo(struct pb *pb, int a)
{
	eth(pb, 0x0800);
	ip4(pb, 17);
	udp(pb, 3544, 40000);
	if (a & 1) { /* authentication: no id, no value, nonce, confirmation */
		put16(pb, 0x0001);
		put8(pb, 0);
		put8(pb, 0);
		zeros(pb, 9);
	}
	if (a & 2) { /* origin indication */
		put16(pb, 0x0000);
		put16(pb, 0xffff);
		put32(pb, 0xf5ffffff);
	}
	if (a & 4) { /* not IPv6: just UDP */
		payload(pb, 48);
		return;
	}
	ip6(pb, 59); /* a bubble */
	if (a & 16)  /* bytes after "no next header" */
		payload(pb, 8);
	if (a & 8) /* IPv6 whose payload length disagrees: just UDP */
		pb->h[pb->nh - 1].kind = H_TEREDO;
}

static void r_frag4(struct pb *pb, int a)
{
	eth(pb, 0x0800);
	ip4(pb, 17);
	switch (a) {
	case 0: /* first: MF, offset 0, UDP length covers the whole datagram */
		set16(pb, pb->n - 14, 0x2000);
		udp(pb, 5353, 53);
		payload(pb, 16);
		finish(pb);
		set16(pb, pb->n - 20, 3000);
		return;
	case 1: /* later: offset 1480 */
		set16(pb, pb->n - 14, 185);
		payload(pb, 100);
		break;
	case 2: /* offset 65528 + 20 bytes: past 65535 */
		set16(pb, pb->n - 14, 0x1fff);
		payload(pb, 20);
		break;
	case 5: /* first fragment ending inside the TCP header (8 of 20) */
	case 6: /* ... inside the header options (doff 6, 20 of 24 bytes) */
		pb->b[pb->n - 11] = 6;
		set16(pb, pb->n - 14, 0x2000);
		tcp(pb, 1234, 80, 0x02);
		if (a == 6)
			pb->b[pb->n - 8] = 0x60;
		else
			pb->n -= 12;
		break;
	case 7: /* a later fragment at offset 8 */
		set16(pb, pb->n - 14, 1);
		payload(pb, 12);
		break;
	case 3: /* offset 65520 + 15 bytes = 65535 exactly */
		set16(pb, pb->n - 14, 0x1ffe);
		payload(pb, 15);
		break;
	default: /* offset 65520 + 16 bytes: one past */
		set16(pb, pb->n - 14, 0x1ffe);
		payload(pb, 16);
		break;
	}
	finish(pb);
}

static void r_frag6(struct pb *pb, int a)
{
	eth(pb, 0x86dd);
	ip6(pb, 44);
	switch (a) {
	case 0: /* atomic */
		frag6(pb, 17, 0, false);
		udp(pb, 1000, 2000);
		payload(pb, 8);
		break;
	case 1: /* first */
		frag6(pb, 6, 0, true);
		tcp(pb, 1000, 2000, 0x02);
		payload(pb, 8);
		break;
	case 2: /* later */
		frag6(pb, 6, 1480, false);
		payload(pb, 64);
		break;
	case 3: /* offset 65528 + 8 bytes: past 65535 */
		frag6(pb, 6, 65528, false);
		payload(pb, 8);
		break;
	case 4: /* offset 65528 + 7 bytes: exactly 65535 */
		frag6(pb, 6, 65528, false);
		payload(pb, 7);
		break;
	case 6: /* first fragment ending inside the TCP header (RFC 7112) */
		frag6(pb, 6, 0, true);
		tcp(pb, 1000, 2000, 0x02);
		pb->n -= 12;
		break;
	default: /* two fragment headers */
		frag6(pb, 44, 0, true);
		frag6(pb, 17, 0, true);
		udp(pb, 1000, 2000);
		break;
	}
	finish(pb);
}

static void build(struct pb *pb, int recipe, int a)
{
	memset(pb, 0, sizeof(*pb));
	switch (recipe) {
	case R_TCP4:
		eth(pb, 0x0800);
		ip4(pb, 6);
		tcp(pb, 1234, 80, 0x02);
		payload(pb, 4);
		break;
	case R_TCP4_OPT:
		eth(pb, 0x0800);
		ip4_opts(pb, 6, opt_sets[a], 8);
		tcp(pb, 1234, 80, 0x12);
		break;
	case R_UDP4:
		eth(pb, 0x0800);
		ip4(pb, 17);
		udp(pb, 5353, 53);
		payload(pb, 12);
		break;
	case R_ICMP4:
		eth(pb, 0x0800);
		ip4(pb, 1);
		icmp(pb, (uint8_t)a, 0, 0x4242);
		payload(pb, 8);
		break;
	case R_SCTP4:
		eth(pb, 0x0800);
		ip4(pb, 132);
		sctp(pb, 5000, 6000);
		payload(pb, 16);
		break;
	case R_PAD: /* 54-byte frame padded to 60 */
		eth(pb, 0x0800);
		ip4(pb, 6);
		tcp(pb, 1234, 80, 0x10);
		finish(pb);
		zeros(pb, 6);
		return;
	case R_QINQ6:
		eth(pb, (uint16_t)(a ? a : 0x88a8));
		vlan(pb, 100, 0x8100);
		vlan(pb, 200, 0x86dd);
		ip6(pb, 0);
		ext6(pb, 60, 0); /* hop-by-hop */
		ext6(pb, 43, 2); /* destination options, 24 bytes */
		ext6(pb, 17, 0); /* routing */
		udp(pb, 1000, 2000);
		payload(pb, 10);
		break;
	case R_TCP6:
		eth(pb, 0x86dd);
		ip6(pb, 6);
		tcp(pb, 40000, 443, 0x18);
		payload(pb, 6);
		break;
	case R_VLANS:
		eth(pb, 0x8100);
		for (int i = 0; i < a; i++)
			vlan(pb, (uint16_t)(10 + i), i + 1 < a ? 0x8100 : 0x0800);
		ip4(pb, 17);
		udp(pb, 1, 2);
		break;
	case R_MPLS:
		eth(pb, 0x8847);
		for (int i = 0; i < a; i++)
			mpls(pb, (uint32_t)(1000 + i), i + 1 == a);
		ip4(pb, 17);
		udp(pb, 1111, 2222);
		payload(pb, 4);
		break;
	case R_MPLS6:
		eth(pb, 0x8848);
		mpls(pb, 16, false);
		mpls(pb, 17, true);
		ip6(pb, 6);
		tcp(pb, 1, 2, 0x10);
		break;
	case R_MPLS_PW: /* pseudowire control word: first nibble 0 */
		eth(pb, 0x8847);
		mpls(pb, 77, true);
		put32(pb, 0);
		payload(pb, 20);
		break;
	case R_PPPOE:
		eth(pb, 0x8864);
		if (a == 6) {
			pppoe(pb, 0x0057);
			ip6(pb, 17);
			udp(pb, 546, 547);
		} else {
			pppoe(pb, 0x0021);
			ip4(pb, 6);
			tcp(pb, 1, 2, 0x02);
		}
		break;
	case R_GRE:
		eth(pb, 0x0800);
		ip4(pb, 47);
		gre(pb, (uint16_t)a, 0x0800);
		ip4(pb, 17);
		udp(pb, 7, 9);
		payload(pb, 3);
		break;
	case R_GRE_TEB:
		eth(pb, 0x0800);
		ip4(pb, 47);
		gre(pb, 0x2000, 0x6558);
		eth_as(pb, 0x8100, H_IETH, BL_PARSE_TRUNC_GRE);
		for (int i = 0, n = a ? a : 1; i < n; i++) /* inner tags */
			vlan(pb, (uint16_t)(7 + i), i + 1 < n ? 0x8100 : 0x86dd);
		ip6(pb, 6);
		tcp(pb, 3, 4, 0x02);
		break;
	case R_PPTP:
		eth(pb, 0x0800);
		ip4(pb, 47);
		/* K and S, version 1, PPP; length, call id, sequence */
		mark(pb, H_GRE, 12, BL_PARSE_TRUNC_GRE, 0);
		put16(pb, a == 2 ? 0x2081 : 0x3001);
		put16(pb, 0x880b);
		put16(pb, 0);
		put16(pb, 0x4000);
		put32(pb, 5);
		if (a == 2) /* acknowledgement only, no payload */
			break;
		mark(pb, H_PPP, a == 1 ? 1 : 4, BL_PARSE_TRUNC_GRE, 0);
		if (a == 1) { /* ACFC and PFC: one protocol byte */
			put8(pb, 0x21);
		} else {
			put16(pb, 0xff03);
			put16(pb, 0x0021);
		}
		ip4(pb, 1);
		icmp(pb, 8, 0, 0x99);
		break;
	case R_VXLAN:
		eth(pb, 0x0800);
		ip4(pb, 17);
		udp(pb, 50000, 4789);
		mark(pb, H_VXLAN, 8, BL_PARSE_TRUNC_VXLAN, 0);
		put32(pb, a ? 0 : 0x08000000); /* a: I flag clear */
		put32(pb, 0x00123400);
		eth_as(pb, 0x8100, H_IETH, BL_PARSE_TRUNC_VXLAN);
		vlan(pb, 5, 0x0800);
		ip4(pb, 6);
		tcp(pb, 80, 1234, 0x10);
		break;
	case R_VXLAN_SHORT:
		eth(pb, 0x0800);
		ip4(pb, 17);
		udp(pb, 50000, 4789);
		put32(pb, 0x08000000);
		break;
	case R_TEREDO: r_teredo(pb, a); break;
	case R_IPIP:
		eth(pb, 0x0800);
		ip4(pb, 4);
		ip4(pb, 17);
		udp(pb, 53, 53);
		break;
	case R_6IN4:
		eth(pb, 0x0800);
		ip4(pb, 41);
		ip6(pb, 6);
		tcp(pb, 22, 50000, 0x10);
		break;
	case R_DEEP: /* `a` IP-in-IP encapsulations */
		eth(pb, 0x0800);
		for (int i = 0; i < a; i++)
			ip4(pb, 4);
		ip4(pb, 17);
		udp(pb, 1, 2);
		break;
	case R_DEEP_MIX: /* IPv4 / VXLAN / IPv6 / GRE / IPv4 / 6in4 / IPv6 */
		eth(pb, 0x0800);
		ip4(pb, 17);
		udp(pb, 1, 4789);
		put32(pb, 0x08000000);
		put32(pb, 0);
		eth_as(pb, 0x86dd, H_IETH, BL_PARSE_TRUNC_VXLAN);
		ip6(pb, 47);
		gre(pb, 0, 0x0800);
		ip4(pb, 41);
		ip6(pb, 59);
		break;
	case R_ICMP_ERR: r_icmp_err(pb, a); break;
	case R_ICMP6_ERR: r_icmp6_err(pb, a); break;
	case R_ICMP6:
		eth(pb, 0x86dd);
		ip6(pb, 58);
		icmp(pb, (uint8_t)a, 0, 0x5151);
		payload(pb, 16);
		break;
	case R_FRAG4: r_frag4(pb, a); return;
	case R_FRAG6: r_frag6(pb, a); return;
	case R_EXTS: /* `a` destination-options headers, then TCP */
		eth(pb, 0x86dd);
		ip6(pb, a ? 60 : 6);
		for (int i = 0; i < a; i++)
			ext6(pb, i + 1 < a ? 60 : 6, 0);
		tcp(pb, 5, 6, 0x01);
		break;
	case R_EXTKIND: /* one extension header of kind `a`, then UDP */
		eth(pb, 0x86dd);
		ip6(pb, (uint8_t)a);
		if (a == 51) { /* AH: (2 + 2) * 4 = 16 bytes */
			mark(pb, H_EXT, 8, BL_PARSE_TRUNC_EXTHDR, 0);
			put8(pb, 17);
			put8(pb, 2);
			zeros(pb, 14);
		} else if (a == 50 || a == 59) { /* ESP, no next header */
			payload(pb, 24);
			break;
		} else {
			ext6(pb, 17, 1);
		}
		udp(pb, 7, 8);
		break;
	case R_L2: r_l2(pb, a); break;
	case R_SLL: /* Linux cooked v1, protocol at 14 */
		mark(pb, H_SLL, 16, BL_PARSE_TRUNC_L2, 0);
		put16(pb, 0);
		put16(pb, 1);
		put16(pb, 6);
		zeros(pb, 8);
		put16(pb, (uint16_t)(a ? a : 0x0800));
		if (a == 4) { /* 802.2 LLC frame */
			put8(pb, 0x42);
			put8(pb, 0x42);
			put8(pb, 3);
			payload(pb, 35);
			break;
		}
		ip4(pb, 6);
		tcp(pb, 1, 2, 0x02);
		break;
	case R_SLL2: /* Linux cooked v2, protocol at 0 */
		mark(pb, H_SLL, 20, BL_PARSE_TRUNC_L2, 0);
		put16(pb, 0x86dd);
		zeros(pb, 18);
		ip6(pb, 17);
		udp(pb, 3, 4);
		break;
	case R_RAW:
		if (a == 6) {
			ip6(pb, 6);
			tcp(pb, 1, 2, 0x04);
		} else if (a == 4) {
			ip4(pb, 17);
			udp(pb, 1, 2);
		} else {
			put8(pb, 0x55);
			payload(pb, 30);
		}
		break;
	case R_ETH_ONLY: eth(pb, 0x0800); break;
	case R_MPLS_ONLY:
		eth(pb, 0x8847);
		mpls(pb, 5, true);
		break;
	default: cr_assert_fail("no recipe %d", recipe);
	}
	finish(pb);
}

/* ---- running a parse -------------------------------------------------- */

/* Parse the first `len` bytes from an exact-size heap copy. */
static enum bl_parse_outcome run(const struct pb *pb, uint32_t len, uint32_t wire,
				 enum bl_linktype lt, struct bl_pkt *out)
{
	uint8_t *buf = malloc(len);
	enum bl_parse_outcome rc;

	cr_assert(len == 0 || buf != NULL);
	memcpy(buf, pb->b, len);
	rc = bl_parse(buf, len, wire, lt, out);
	free(buf);
	cr_assert_eq(rc, out->outcome);
	return rc;
}

/* A field patch on the n-th header of a kind (or an absolute offset). */
enum pmode { P_NONE = 0, P_SET, P_ADD };
struct patch {
	uint8_t mode;
	uint8_t kind;  /* H_* */
	uint8_t idx;   /* n-th header of that kind */
	uint8_t at;    /* byte offset in that header */
	uint8_t width; /* 1 or 2 */
	uint8_t mask;  /* width 1: bits replaced (0 = all) */
	int32_t value;
};

static void apply(struct pb *pb, const struct patch *p)
{
	unsigned int i, seen = 0;
	uint32_t o = UINT32_MAX, v;

	if (p->mode == P_NONE)
		return;
	for (i = 0; i < pb->nh; i++)
		if (pb->h[i].kind == p->kind && seen++ == p->idx) {
			o = pb->h[i].off + p->at;
			break;
		}
	cr_assert_neq(o, UINT32_MAX, "patch target missing");
	if (p->width == 2) {
		v = (uint32_t)(pb->b[o] << 8 | pb->b[o + 1]);
		v = p->mode == P_SET ? (uint32_t)p->value : v + (uint32_t)p->value;
		set16(pb, o, (uint16_t)v);
	} else {
		uint8_t m = p->mask ? p->mask : 0xff;

		v = p->mode == P_SET ? (uint32_t)p->value : pb->b[o] + (uint32_t)p->value;
		pb->b[o] = (uint8_t)((pb->b[o] & ~m) | (v & m));
	}
}

/* ---- the case table --------------------------------------------------- */

#define W_PROTO 0x01 /* inner proto */
#define W_PORTS 0x02 /* inner sport/dport */
#define W_L3F	0x04 /* inner flags & l3f_mask == l3f */
#define W_TUN	0x08 /* inner tunnel */
#define W_PKTF	0x10 /* pkt flags == pktf */
#define W_NVLAN 0x20
#define W_NMPLS 0x40
#define W_ICMP	0x80 /* inner icmp type/code */

struct pcase {
	char name[40];
	uint8_t recipe;
	int16_t arg;
	uint8_t link;
	struct patch p[2];
	uint16_t snap; /* > 0: len = snap, wire = the whole packet */
	uint8_t outcome;
	uint8_t nlayers;
	uint8_t l2class;
	uint8_t want; /* W_* */
	uint8_t proto;
	uint8_t tunnel;
	uint8_t l3f_mask, l3f;
	uint8_t pktf;
	uint8_t nvlan, nmpls;
	uint8_t icmp_type, icmp_code;
	uint16_t sport, dport;
};

#define SET1(K, AT, V)                                                                             \
	{                                                                                          \
		P_SET, K, 0, AT, 1, 0, V                                                           \
	}
#define SETN(K, N, AT, V)                                                                          \
	{                                                                                          \
		P_SET, K, N, AT, 1, 0, V                                                           \
	}
#define SETM(K, AT, M, V)                                                                          \
	{                                                                                          \
		P_SET, K, 0, AT, 1, M, V                                                           \
	}
#define SET2(K, AT, V)                                                                             \
	{                                                                                          \
		P_SET, K, 0, AT, 2, 0, V                                                           \
	}
#define ADD2(K, AT, V)                                                                             \
	{                                                                                          \
		P_ADD, K, 0, AT, 2, 0, V                                                           \
	}
#define ADD2N(K, N, AT, V)                                                                         \
	{                                                                                          \
		P_ADD, K, N, AT, 2, 0, V                                                           \
	}

#define OK   BL_PARSE_OK
#define F(x) BL_L3_##x

static struct pcase cases[] = {
	/* well-formed packets of every kind */
	{ "tcp4", R_TCP4, .outcome = OK, .nlayers = 1, .want = W_PROTO | W_PORTS | W_L3F,
	  .proto = 6, .sport = 1234, .dport = 80, .l3f_mask = 0xff, .l3f = F(HAS_PORTS) },
	{ "udp4", R_UDP4, .outcome = OK, .nlayers = 1, .want = W_PROTO | W_PORTS, .proto = 17,
	  .sport = 5353, .dport = 53 },
	{ "icmp4_echo", R_ICMP4, 8, .outcome = OK, .nlayers = 1, .want = W_PORTS | W_ICMP | W_L3F,
	  .sport = 0x4242, .icmp_type = 8, .l3f_mask = F(HAS_PORTS) },
	{ "icmp4_echo_reply", R_ICMP4, 0, .outcome = OK, .nlayers = 1, .want = W_PORTS | W_ICMP,
	  .sport = 0x4242 },
	{ "icmp4_other_no_id", R_ICMP4, 13, .outcome = OK, .nlayers = 1, .want = W_PORTS | W_ICMP,
	  .icmp_type = 13 },
	{ "sctp4", R_SCTP4, .outcome = OK, .nlayers = 1, .want = W_PROTO | W_PORTS, .proto = 132,
	  .sport = 5000, .dport = 6000 },
	{ "eth_padding", R_PAD, .outcome = OK, .nlayers = 1, .want = W_PORTS, .sport = 1234,
	  .dport = 80 },
	{ "qinq_ip6_ext_udp", R_QINQ6, .outcome = OK, .nlayers = 1,
	  .want = W_PROTO | W_PORTS | W_NVLAN | W_L3F, .proto = 17, .sport = 1000, .dport = 2000,
	  .nvlan = 2, .l3f_mask = F(OPTIONS) | F(FRAG), .l3f = F(OPTIONS) },
	{ "qinq_9100", R_QINQ6, 0x9100, .outcome = OK, .nlayers = 1, .want = W_NVLAN, .nvlan = 2 },
	{ "tcp6", R_TCP6, .outcome = OK, .nlayers = 1, .want = W_PROTO | W_PORTS | W_L3F,
	  .proto = 6, .sport = 40000, .dport = 443, .l3f_mask = F(OPTIONS), .l3f = 0 },
	{ "vlan_3_tags", R_VLANS, 3, .outcome = OK, .nlayers = 1, .want = W_NVLAN, .nvlan = 3 },
	{ "vlan_4_tags", R_VLANS, 4, .outcome = BL_PARSE_TOO_MANY_VLANS, .want = W_NVLAN,
	  .nvlan = 3 },
	{ "mpls_1", R_MPLS, 1, .outcome = OK, .nlayers = 1, .want = W_NMPLS | W_PORTS, .nmpls = 1,
	  .sport = 1111, .dport = 2222 },
	{ "mpls_8", R_MPLS, 8, .outcome = OK, .nlayers = 1, .want = W_NMPLS, .nmpls = 8 },
	{ "mpls_9", R_MPLS, 9, .outcome = BL_PARSE_TOO_MANY_LABELS, .want = W_NMPLS, .nmpls = 8 },
	{ "mpls_ip6", R_MPLS6, .outcome = OK, .nlayers = 1, .want = W_NMPLS | W_PROTO, .nmpls = 2,
	  .proto = 6 },
	/* no bottom of stack: IPv4/UDP header words read as labels 3..8 */
	{ "mpls_no_bos", R_MPLS, 2, .p = { { P_SET, H_MPLS, 1, 2, 1, 0x01, 0 } },
	  .outcome = BL_PARSE_TOO_MANY_LABELS, .want = W_NMPLS, .nmpls = 8 },
	{ "mpls_pw_control_word", R_MPLS_PW, .outcome = BL_PARSE_BAD_MPLS_PAYLOAD, .want = W_NMPLS,
	  .nmpls = 1 },
	{ "mpls_empty_payload", R_MPLS_ONLY, .outcome = BL_PARSE_TRUNC_MPLS },
	{ "pppoe_ip4", R_PPPOE, 4, .outcome = OK, .nlayers = 1, .want = W_PKTF | W_PROTO,
	  .pktf = BL_PKT_PPPOE, .proto = 6 },
	{ "pppoe_ip6", R_PPPOE, 6, .outcome = OK, .nlayers = 1, .want = W_PKTF | W_PORTS,
	  .pktf = BL_PKT_PPPOE, .sport = 546, .dport = 547 },
	{ "pppoe_lcp", R_L2, 8, .outcome = OK, .l2class = BL_L2_OTHER, .want = W_PKTF,
	  .pktf = BL_PKT_PPPOE },
	{ "arp", R_L2, 0, .outcome = OK, .l2class = BL_L2_ARP },
	{ "lldp", R_L2, 1, .outcome = OK, .l2class = BL_L2_LLDP },
	{ "slow", R_L2, 2, .outcome = OK, .l2class = BL_L2_SLOW },
	{ "stp", R_L2, 3, .outcome = OK, .l2class = BL_L2_STP },
	{ "llc_snap", R_L2, 4, .outcome = OK, .l2class = BL_L2_OTHER },
	{ "other_ethertype", R_L2, 5, .outcome = OK, .l2class = BL_L2_OTHER },
	{ "vlan_arp", R_L2, 6, .outcome = OK, .l2class = BL_L2_ARP, .want = W_NVLAN, .nvlan = 1 },
	{ "llc_cut", R_L2, 7, .outcome = BL_PARSE_TRUNC_L2 },
	{ "sll_ip4", R_SLL, 0, BL_LINK_SLL, .outcome = OK, .nlayers = 1, .want = W_PROTO,
	  .proto = 6 },
	{ "sll_llc_stp", R_SLL, 4, BL_LINK_SLL, .outcome = OK, .l2class = BL_L2_STP },
	{ "sll_arp", R_SLL, 0x0806, BL_LINK_SLL, .outcome = OK, .l2class = BL_L2_ARP },
	{ "sll2_ip6", R_SLL2, 0, BL_LINK_SLL2, .outcome = OK, .nlayers = 1, .want = W_PORTS,
	  .sport = 3, .dport = 4 },
	{ "raw_ip4", R_RAW, 4, BL_LINK_RAW, .outcome = OK, .nlayers = 1, .want = W_PROTO,
	  .proto = 17 },
	{ "raw_ip6", R_RAW, 6, BL_LINK_RAW, .outcome = OK, .nlayers = 1, .want = W_PROTO,
	  .proto = 6 },
	{ "raw_bad_version", R_RAW, 5, BL_LINK_RAW, .outcome = BL_PARSE_BAD_IP_VERSION },
	{ "ether_ip6_in_0800", R_TCP4, .p = { SETM(H_IP4, 0, 0xf0, 0x60) },
	  .outcome = BL_PARSE_BAD_IP_VERSION },
	{ "ether_ip4_in_86dd", R_TCP6, .p = { SETM(H_IP6, 0, 0xf0, 0x40) },
	  .outcome = BL_PARSE_BAD_IP_VERSION },
	{ "eth_header_only", R_ETH_ONLY, .outcome = BL_PARSE_TRUNC_IPV4 },

	/* IPv4 IHL: 0, one less, one more, maximum */
	{ "ihl_0", R_TCP4, .p = { SETM(H_IP4, 0, 0x0f, 0) }, .outcome = BL_PARSE_BAD_IPV4_IHL,
	  .nlayers = 1 },
	{ "ihl_4", R_TCP4, .p = { SETM(H_IP4, 0, 0x0f, 4) }, .outcome = BL_PARSE_BAD_IPV4_IHL,
	  .nlayers = 1 },
	/* IHL 6 reads TCP's sport 0x04d2 as an option of length 210 */
	{ "ihl_6", R_TCP4, .p = { SETM(H_IP4, 0, 0x0f, 6) }, .outcome = BL_PARSE_BAD_IPV4_OPTIONS,
	  .nlayers = 1 },
	{ "ihl_15", R_TCP4, .p = { SETM(H_IP4, 0, 0x0f, 15) }, .outcome = BL_PARSE_BAD_IPV4_IHL,
	  .nlayers = 1 },
	/* total length: 0, one less (a byte of padding), one more, maximum */
	{ "totlen_0", R_TCP4, .p = { SET2(H_IP4, 2, 0) }, .outcome = BL_PARSE_BAD_IPV4_TOTLEN,
	  .nlayers = 1 },
	{ "totlen_minus1", R_TCP4, .p = { ADD2(H_IP4, 2, -1) }, .outcome = OK, .nlayers = 1,
	  .want = W_PORTS, .sport = 1234, .dport = 80 },
	{ "totlen_plus1", R_TCP4, .p = { ADD2(H_IP4, 2, 1) }, .outcome = BL_PARSE_BAD_IPV4_TOTLEN,
	  .nlayers = 1 },
	{ "totlen_max", R_TCP4, .p = { SET2(H_IP4, 2, 65535) }, .outcome = BL_PARSE_BAD_IPV4_TOTLEN,
	  .nlayers = 1 },
	{ "totlen_19", R_TCP4, .p = { SET2(H_IP4, 2, 19) }, .outcome = BL_PARSE_BAD_IPV4_TOTLEN,
	  .nlayers = 1 },
	{ "totlen_below_ihl", R_TCP4_OPT, 0, .p = { SET2(H_IP4, 2, 24) },
	  .outcome = BL_PARSE_BAD_IPV4_IHL, .nlayers = 1 },
	{ "tcp_cut_by_totlen", R_TCP4, .p = { SET2(H_IP4, 2, 39) }, .outcome = BL_PARSE_TRUNC_TCP,
	  .nlayers = 1 },
	{ "tcp_none", R_TCP4, .p = { SET2(H_IP4, 2, 20) }, .outcome = BL_PARSE_TRUNC_TCP,
	  .nlayers = 1 },
	{ "udp_cut_by_totlen", R_UDP4, .p = { SET2(H_IP4, 2, 27) }, .outcome = BL_PARSE_TRUNC_UDP,
	  .nlayers = 1 },
	{ "icmp_cut_by_totlen", R_ICMP4, 8, .p = { SET2(H_IP4, 2, 27) },
	  .outcome = BL_PARSE_TRUNC_ICMP, .nlayers = 1 },
	{ "sctp_cut_by_totlen", R_SCTP4, .p = { SET2(H_IP4, 2, 31) },
	  .outcome = BL_PARSE_TRUNC_SCTP, .nlayers = 1 },
	/* IPv4 options */
	{ "opt_nop_eol", R_TCP4_OPT, 0, .outcome = OK, .nlayers = 1, .want = W_L3F | W_PORTS,
	  .l3f_mask = F(OPTIONS), .l3f = F(OPTIONS), .sport = 1234, .dport = 80 },
	{ "opt_len_0", R_TCP4_OPT, 1, .outcome = BL_PARSE_BAD_IPV4_OPTIONS, .nlayers = 1 },
	{ "opt_len_1", R_TCP4_OPT, 2, .outcome = BL_PARSE_BAD_IPV4_OPTIONS, .nlayers = 1 },
	{ "opt_no_len_byte", R_TCP4_OPT, 3, .outcome = BL_PARSE_BAD_IPV4_OPTIONS, .nlayers = 1 },
	{ "opt_len_plus1", R_TCP4_OPT, 4, .outcome = BL_PARSE_BAD_IPV4_OPTIONS, .nlayers = 1 },
	{ "opt_len_exact", R_TCP4_OPT, 5, .outcome = OK, .nlayers = 1 },
	{ "opt_eol_padding", R_TCP4_OPT, 6, .outcome = OK, .nlayers = 1 },
	{ "opt_len_max", R_TCP4_OPT, 7, .outcome = BL_PARSE_BAD_IPV4_OPTIONS, .nlayers = 1 },
	{ "opt_len_minus1", R_TCP4_OPT, 8, .outcome = OK, .nlayers = 1 },
	{ "opt_two_tlvs", R_TCP4_OPT, 9, .outcome = OK, .nlayers = 1 },
	/* TCP data offset: 0, one less, one more (within payload), past it, max */
	{ "doff_0", R_TCP4, .p = { SETM(H_TCP, 12, 0xf0, 0x00) }, .outcome = BL_PARSE_BAD_TCP_DOFF,
	  .nlayers = 1 },
	{ "doff_4", R_TCP4, .p = { SETM(H_TCP, 12, 0xf0, 0x40) }, .outcome = BL_PARSE_BAD_TCP_DOFF,
	  .nlayers = 1 },
	{ "doff_6", R_TCP4, .p = { SETM(H_TCP, 12, 0xf0, 0x60) }, .outcome = OK, .nlayers = 1 },
	{ "doff_7", R_TCP4, .p = { SETM(H_TCP, 12, 0xf0, 0x70) }, .outcome = BL_PARSE_BAD_TCP_DOFF,
	  .nlayers = 1 },
	{ "doff_15", R_TCP4, .p = { SETM(H_TCP, 12, 0xf0, 0xf0) }, .outcome = BL_PARSE_BAD_TCP_DOFF,
	  .nlayers = 1 },
	{ "tcp_flags", R_TCP4, .p = { SET1(H_TCP, 13, 0x3f) }, .outcome = OK, .nlayers = 1 },
	/* UDP length */
	{ "udplen_0", R_UDP4, .p = { SET2(H_UDP, 4, 0) }, .outcome = BL_PARSE_BAD_UDP_LEN,
	  .nlayers = 1 },
	{ "udplen_7", R_UDP4, .p = { SET2(H_UDP, 4, 7) }, .outcome = BL_PARSE_BAD_UDP_LEN,
	  .nlayers = 1 },
	{ "udplen_8", R_UDP4, .p = { SET2(H_UDP, 4, 8) }, .outcome = OK, .nlayers = 1 },
	{ "udplen_minus1", R_UDP4, .p = { ADD2(H_UDP, 4, -1) }, .outcome = OK, .nlayers = 1 },
	{ "udplen_plus1", R_UDP4, .p = { ADD2(H_UDP, 4, 1) }, .outcome = BL_PARSE_BAD_UDP_LEN,
	  .nlayers = 1 },
	{ "udplen_max", R_UDP4, .p = { SET2(H_UDP, 4, 65535) }, .outcome = BL_PARSE_BAD_UDP_LEN,
	  .nlayers = 1 },
	/* IPv6 payload length */
	{ "plen_0_hbh_jumbo", R_QINQ6, .p = { SET2(H_IP6, 4, 0) },
	  .outcome = BL_PARSE_BAD_IPV6_PAYLEN, .nlayers = 1 },
	{ "plen_0_tcp", R_TCP6, .p = { SET2(H_IP6, 4, 0) }, .outcome = BL_PARSE_TRUNC_TCP,
	  .nlayers = 1 },
	{ "plen_minus1", R_QINQ6, .p = { ADD2(H_IP6, 4, -1) }, .outcome = BL_PARSE_BAD_UDP_LEN,
	  .nlayers = 1 },
	{ "plen_plus1", R_QINQ6, .p = { ADD2(H_IP6, 4, 1) }, .outcome = BL_PARSE_BAD_IPV6_PAYLEN,
	  .nlayers = 1 },
	{ "plen_max", R_QINQ6, .p = { SET2(H_IP6, 4, 65535) }, .outcome = BL_PARSE_BAD_IPV6_PAYLEN,
	  .nlayers = 1 },
	{ "plen_cuts_exthdr", R_QINQ6, .p = { SET2(H_IP6, 4, 12) },
	  .outcome = BL_PARSE_TRUNC_EXTHDR, .nlayers = 1 },
	/* extension-header length (the 24-byte destination options, len 2) */
	{ "ext_len_0", R_QINQ6, .p = { SETN(H_EXT, 1, 1, 0) }, .outcome = OK, .nlayers = 1,
	  .want = W_PROTO | W_PORTS, .proto = 17, .sport = 1000, .dport = 2000 },
	{ "ext_len_minus1", R_QINQ6, .p = { SETN(H_EXT, 1, 1, 1) }, .outcome = OK, .nlayers = 1,
	  .want = W_PROTO | W_PORTS, .proto = 17, .sport = 1000, .dport = 2000 },
	/* one more: the routing header is skipped, UDP read as routing (len 0xe8) */
	{ "ext_len_plus1", R_QINQ6, .p = { SETN(H_EXT, 1, 1, 3) }, .outcome = BL_PARSE_TRUNC_EXTHDR,
	  .nlayers = 1 },
	{ "ext_len_max", R_QINQ6, .p = { SETN(H_EXT, 1, 1, 255) }, .outcome = BL_PARSE_TRUNC_EXTHDR,
	  .nlayers = 1 },
	{ "exthdrs_8", R_EXTS, 8, .outcome = OK, .nlayers = 1, .want = W_PROTO, .proto = 6 },
	{ "exthdrs_9", R_EXTS, 9, .outcome = BL_PARSE_TOO_MANY_EXTHDRS, .nlayers = 1 },
	{ "ext_ah", R_EXTKIND, 51, .outcome = OK, .nlayers = 1, .want = W_PROTO | W_PORTS,
	  .proto = 17, .sport = 7, .dport = 8 },
	{ "ext_ah_len_plus1", R_EXTKIND, 51, .p = { SET1(H_EXT, 1, 3) },
	  .outcome = BL_PARSE_TRUNC_UDP, .nlayers = 1 },
	{ "ext_ah_len_max", R_EXTKIND, 51, .p = { SET1(H_EXT, 1, 255) },
	  .outcome = BL_PARSE_TRUNC_EXTHDR, .nlayers = 1 },
	{ "ext_routing", R_EXTKIND, 43, .outcome = OK, .nlayers = 1, .want = W_PROTO, .proto = 17 },
	{ "ext_mobility", R_EXTKIND, 135, .outcome = OK, .nlayers = 1, .want = W_PROTO,
	  .proto = 17 },
	{ "ext_hip", R_EXTKIND, 139, .outcome = OK, .nlayers = 1, .want = W_PROTO, .proto = 17 },
	{ "ext_shim6", R_EXTKIND, 140, .outcome = OK, .nlayers = 1, .want = W_PROTO, .proto = 17 },
	{ "ext_esp_stops", R_EXTKIND, 50, .outcome = OK, .nlayers = 1, .want = W_PROTO | W_PORTS,
	  .proto = 50 },
	{ "ext_nonext_stops", R_EXTKIND, 59, .outcome = OK, .nlayers = 1, .want = W_PROTO,
	  .proto = 59 },
	{ "ext_len_past_plen", R_EXTKIND, 60, .p = { SET1(H_EXT, 1, 3) },
	  .outcome = BL_PARSE_TRUNC_EXTHDR, .nlayers = 1 },
	/* fragments */
	{ "frag4_first", R_FRAG4, 0, .outcome = OK, .nlayers = 1, .want = W_L3F | W_PORTS,
	  .l3f_mask = 0xff, .l3f = F(FRAG) | F(FRAG_FIRST) | F(MF) | F(HAS_PORTS), .sport = 5353,
	  .dport = 53 },
	{ "frag4_later", R_FRAG4, 1, .outcome = OK, .nlayers = 1, .want = W_L3F | W_PROTO,
	  .l3f_mask = 0xff, .l3f = F(FRAG) | F(FRAG_LATER), .proto = 17 },
	{ "frag4_overflow", R_FRAG4, 2, .outcome = BL_PARSE_BAD_FRAG, .nlayers = 1 },
	{ "frag4_end_65535", R_FRAG4, 3, .outcome = OK, .nlayers = 1 },
	{ "frag4_end_65536", R_FRAG4, 4, .outcome = BL_PARSE_BAD_FRAG, .nlayers = 1 },
	/* the ports are in the 8 bytes present: kept, so the datagram can be named */
	{ "frag4_first_tiny_tcp", R_FRAG4, 5, .outcome = OK, .nlayers = 1,
	  .want = W_L3F | W_PROTO | W_PORTS, .l3f_mask = 0xff,
	  .l3f = F(FRAG) | F(FRAG_FIRST) | F(MF) | F(L4_PARTIAL) | F(HAS_PORTS), .proto = 6,
	  .sport = 1234, .dport = 80 },
	{ "frag4_first_doff_past_frag", R_FRAG4, 6, .outcome = OK, .nlayers = 1, .want = W_L3F,
	  .l3f_mask = F(L4_PARTIAL) | F(HAS_PORTS), .l3f = F(L4_PARTIAL) | F(HAS_PORTS) },
	{ "frag4_first_doff_4", R_FRAG4, 6, .p = { SETM(H_TCP, 12, 0xf0, 0x40) },
	  .outcome = BL_PARSE_BAD_TCP_DOFF, .nlayers = 1 },
	{ "frag4_later_offset_8", R_FRAG4, 7, .outcome = OK, .nlayers = 1, .want = W_L3F,
	  .l3f_mask = 0xff, .l3f = F(FRAG) | F(FRAG_LATER) },
	{ "frag4_first_tiny_snapped", R_FRAG4, 0, .snap = 14 + 20 + 4, .outcome = OK, .nlayers = 1,
	  .want = W_L3F, .l3f_mask = F(L4_PARTIAL) | F(HAS_PORTS), .l3f = 0 },
	{ "frag6_first_tiny_tcp", R_FRAG6, 6, .outcome = BL_PARSE_TRUNC_TCP, .nlayers = 1 },
	{ "frag6_atomic", R_FRAG6, 0, .outcome = OK, .nlayers = 1,
	  .want = W_L3F | W_PORTS | W_PROTO, .l3f_mask = 0xff,
	  .l3f = F(ATOMIC_FRAG) | F(OPTIONS) | F(HAS_PORTS), .proto = 17, .sport = 1000,
	  .dport = 2000 },
	{ "frag6_first", R_FRAG6, 1, .outcome = OK, .nlayers = 1, .want = W_L3F | W_PORTS | W_PROTO,
	  .l3f_mask = 0xff, .l3f = F(FRAG) | F(FRAG_FIRST) | F(MF) | F(OPTIONS) | F(HAS_PORTS),
	  .proto = 6, .sport = 1000, .dport = 2000 },
	{ "frag6_later", R_FRAG6, 2, .outcome = OK, .nlayers = 1, .want = W_L3F | W_PROTO,
	  .l3f_mask = 0xff, .l3f = F(FRAG) | F(FRAG_LATER) | F(OPTIONS), .proto = 6 },
	{ "frag6_overflow", R_FRAG6, 3, .outcome = BL_PARSE_BAD_FRAG, .nlayers = 1 },
	{ "frag6_end_65535", R_FRAG6, 4, .outcome = OK, .nlayers = 1 },
	{ "frag6_twice", R_FRAG6, 5, .outcome = BL_PARSE_BAD_FRAG, .nlayers = 1 },
	/* ICMP */
	{ "icmp_err_full_quote", R_ICMP_ERR, 28, .outcome = OK, .nlayers = 1,
	  .want = W_PKTF | W_ICMP, .pktf = BL_PKT_HAS_QUOTE, .icmp_type = 3, .icmp_code = 3 },
	{ "icmp_err_quote_ports_only", R_ICMP_ERR, 24, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp_err_quote_l4_3", R_ICMP_ERR, 23, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp_err_quote_ip_only", R_ICMP_ERR, 20, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp_err_quote_19", R_ICMP_ERR, 19, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = 0 },
	{ "icmp_err_quote_0", R_ICMP_ERR, 0, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = 0 },
	{ "icmp6_err_full_quote", R_ICMP6_ERR, 68, .outcome = OK, .nlayers = 1,
	  .want = W_PKTF | W_ICMP, .pktf = BL_PKT_HAS_QUOTE, .icmp_type = 1, .icmp_code = 4 },
	{ "icmp6_err_quote_cut_in_ext", R_ICMP6_ERR, 44, .outcome = OK, .nlayers = 1,
	  .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp6_err_quote_cut_ports", R_ICMP6_ERR, 50, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp4_src_quench_quote", R_ICMP_ERR, 28, .p = { SET1(H_ICMP, 0, 4) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp4_redirect_quote", R_ICMP_ERR, 28, .p = { SET1(H_ICMP, 0, 5) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp4_time_exceeded_quote", R_ICMP_ERR, 28, .p = { SET1(H_ICMP, 0, 11) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp4_param_problem_quote", R_ICMP_ERR, 28, .p = { SET1(H_ICMP, 0, 12) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp4_timestamp_no_quote", R_ICMP_ERR, 28, .p = { SET1(H_ICMP, 0, 13) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = 0 },
	{ "icmp4_echo_no_quote", R_ICMP_ERR, 28, .p = { SET1(H_ICMP, 0, 8) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = 0 },
	{ "icmp6_too_big_quote", R_ICMP6_ERR, 68, .p = { SET1(H_ICMP, 0, 2) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp6_time_exceeded_quote", R_ICMP6_ERR, 68, .p = { SET1(H_ICMP, 0, 3) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp6_param_problem_quote", R_ICMP6_ERR, 68, .p = { SET1(H_ICMP, 0, 4) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "icmp6_echo_no_quote", R_ICMP6_ERR, 68, .p = { SET1(H_ICMP, 0, 128) }, .outcome = OK,
	  .nlayers = 1, .want = W_PKTF, .pktf = 0 },
	{ "icmp6_err_quote_39", R_ICMP6_ERR, 39, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = 0 },
	{ "icmp6_echo", R_ICMP6, 128, .outcome = OK, .nlayers = 1, .l2class = BL_L2_IP,
	  .want = W_PORTS | W_ICMP | W_PKTF, .sport = 0x5151, .icmp_type = 128, .pktf = 0 },
	{ "icmp6_rs", R_ICMP6, 133, .outcome = OK, .nlayers = 1, .l2class = BL_L2_ND },
	{ "icmp6_ns", R_ICMP6, 135, .outcome = OK, .nlayers = 1, .l2class = BL_L2_ND },
	{ "icmp6_redirect", R_ICMP6, 137, .outcome = OK, .nlayers = 1, .l2class = BL_L2_ND },
	{ "icmp6_138_not_nd", R_ICMP6, 138, .outcome = OK, .nlayers = 1, .l2class = BL_L2_IP },
	{ "icmp6_mld_query", R_ICMP6, 130, .outcome = OK, .nlayers = 1, .l2class = BL_L2_MLD },
	{ "icmp6_mld_done", R_ICMP6, 132, .outcome = OK, .nlayers = 1, .l2class = BL_L2_MLD },
	{ "icmp6_mld2_report", R_ICMP6, 143, .outcome = OK, .nlayers = 1, .l2class = BL_L2_MLD },
	{ "icmp6_unreach_quote", R_ICMP6, 1, .outcome = OK, .nlayers = 1, .want = W_PKTF,
	  .pktf = 0 },
	/* PPPoE */
	{ "pppoe_len_0", R_PPPOE, 4, .p = { SET2(H_PPPOE, 4, 0) }, .outcome = BL_PARSE_BAD_PPPOE },
	{ "pppoe_len_1", R_PPPOE, 4, .p = { SET2(H_PPPOE, 4, 1) }, .outcome = BL_PARSE_BAD_PPPOE },
	{ "pppoe_len_minus1", R_PPPOE, 4, .p = { ADD2(H_PPPOE, 4, -1) },
	  .outcome = BL_PARSE_BAD_IPV4_TOTLEN, .nlayers = 1 },
	{ "pppoe_len_plus1", R_PPPOE, 4, .p = { ADD2(H_PPPOE, 4, 1) },
	  .outcome = BL_PARSE_BAD_PPPOE },
	{ "pppoe_len_max", R_PPPOE, 4, .p = { SET2(H_PPPOE, 4, 65535) },
	  .outcome = BL_PARSE_BAD_PPPOE },
	{ "pppoe_vertype", R_PPPOE, 4, .p = { SET1(H_PPPOE, 0, 0x12) },
	  .outcome = BL_PARSE_BAD_PPPOE },
	{ "pppoe_code", R_PPPOE, 4, .p = { SET1(H_PPPOE, 1, 0x09) },
	  .outcome = BL_PARSE_BAD_PPPOE },
	/* tunnels */
	{ "gre_plain", R_GRE, 0, .outcome = OK, .nlayers = 2, .want = W_TUN | W_PORTS,
	  .tunnel = BL_TUN_GRE, .sport = 7, .dport = 9 },
	{ "gre_csum_key_seq", R_GRE, 0xb000, .outcome = OK, .nlayers = 2, .want = W_TUN,
	  .tunnel = BL_TUN_GRE },
	{ "gre_routing", R_GRE, 0x4000, .outcome = BL_PARSE_BAD_GRE, .nlayers = 1 },
	{ "gre_version_2", R_GRE, 0x0002, .outcome = BL_PARSE_BAD_GRE, .nlayers = 1 },
	{ "gre_inner_cut", R_GRE, 0x2000, .p = { ADD2(H_IP4, 2, -34) },
	  .outcome = BL_PARSE_TRUNC_GRE, .nlayers = 1 },
	{ "gre_teb", R_GRE_TEB, .outcome = OK, .nlayers = 2, .want = W_TUN | W_NVLAN | W_PROTO,
	  .tunnel = BL_TUN_GRE, .nvlan = 0, .proto = 6 },
	{ "gre_teb_3_tags", R_GRE_TEB, 3, .outcome = OK, .nlayers = 2, .want = W_NVLAN,
	  .nvlan = 0 },
	{ "gre_teb_4_tags", R_GRE_TEB, 4, .outcome = BL_PARSE_TOO_MANY_VLANS, .nlayers = 1 },
	{ "gre_teb_cut", R_GRE_TEB, 1, .p = { ADD2(H_IP4, 2, -80) }, .outcome = BL_PARSE_TRUNC_GRE,
	  .nlayers = 1 },
	{ "pptp", R_PPTP, 0, .outcome = OK, .nlayers = 2, .want = W_TUN | W_ICMP | W_PORTS,
	  .tunnel = BL_TUN_GRE, .icmp_type = 8, .sport = 0x99 },
	{ "pptp_pfc", R_PPTP, 1, .outcome = OK, .nlayers = 2, .want = W_TUN, .tunnel = BL_TUN_GRE },
	{ "pptp_ack_only", R_PPTP, 2, .outcome = OK, .nlayers = 1, .want = W_PROTO, .proto = 47 },
	{ "pptp_lcp", R_PPTP, 0, .p = { SET2(H_PPP, 2, 0xc021) }, .outcome = OK, .nlayers = 1 },
	{ "pptp_wrong_proto", R_PPTP, 0, .p = { SET2(H_GRE, 2, 0x0800) },
	  .outcome = BL_PARSE_BAD_GRE, .nlayers = 1 },
	{ "pptp_paylen_plus1", R_PPTP, 0, .p = { ADD2(H_GRE, 4, 1) }, .outcome = BL_PARSE_BAD_GRE,
	  .nlayers = 1 },
	{ "vxlan", R_VXLAN, 0, .outcome = OK, .nlayers = 2, .want = W_TUN | W_NVLAN | W_PORTS,
	  .tunnel = BL_TUN_VXLAN, .nvlan = 0, .sport = 80, .dport = 1234 },
	{ "vxlan_no_i_flag", R_VXLAN, 1, .outcome = OK, .nlayers = 1, .want = W_PORTS,
	  .sport = 50000, .dport = 4789 },
	{ "vxlan_short", R_VXLAN_SHORT, .outcome = BL_PARSE_TRUNC_VXLAN, .nlayers = 1 },
	{ "vxlan_inner_cut", R_VXLAN, 0, .p = { ADD2(H_IP4, 2, -50), ADD2(H_UDP, 4, -50) },
	  .outcome = BL_PARSE_TRUNC_VXLAN, .nlayers = 1 },
	{ "teredo_bubble", R_TEREDO, 0, .outcome = OK, .nlayers = 2, .want = W_TUN | W_PROTO,
	  .tunnel = BL_TUN_TEREDO, .proto = 59 },
	{ "teredo_auth", R_TEREDO, 1, .outcome = OK, .nlayers = 2, .want = W_TUN,
	  .tunnel = BL_TUN_TEREDO },
	{ "teredo_origin", R_TEREDO, 2, .outcome = OK, .nlayers = 2, .want = W_TUN,
	  .tunnel = BL_TUN_TEREDO },
	{ "teredo_auth_origin", R_TEREDO, 3, .outcome = OK, .nlayers = 2, .want = W_TUN,
	  .tunnel = BL_TUN_TEREDO },
	{ "teredo_not_ipv6", R_TEREDO, 4, .outcome = OK, .nlayers = 1, .want = W_PORTS,
	  .sport = 3544, .dport = 40000 },
	{ "teredo_bad_plen", R_TEREDO, 8, .p = { ADD2(H_TEREDO, 4, 1) }, .outcome = OK,
	  .nlayers = 1 },
	{ "teredo_trailer", R_TEREDO, 16, .outcome = OK, .nlayers = 2, .want = W_TUN,
	  .tunnel = BL_TUN_TEREDO },
	{ "teredo_plen_minus1", R_TEREDO, 16, .p = { ADD2N(H_IP6, 0, 4, -1) }, .outcome = OK,
	  .nlayers = 1 },
	{ "ipip", R_IPIP, .outcome = OK, .nlayers = 2, .want = W_TUN | W_PORTS,
	  .tunnel = BL_TUN_IPIP, .sport = 53, .dport = 53 },
	{ "ipip_inner_totlen_plus1", R_IPIP, .p = { ADD2N(H_IP4, 1, 2, 1) },
	  .outcome = BL_PARSE_BAD_IPV4_TOTLEN, .nlayers = 2 },
	{ "6in4", R_6IN4, .outcome = OK, .nlayers = 2, .want = W_TUN | W_PROTO,
	  .tunnel = BL_TUN_IPIP, .proto = 6 },
	{ "6in4_bad_version", R_6IN4, .p = { SETM(H_IP6, 0, 0xf0, 0x40) },
	  .outcome = BL_PARSE_BAD_IP_VERSION, .nlayers = 1 },
	{ "nest_2", R_DEEP, 2, .outcome = OK, .nlayers = 3, .want = W_TUN, .tunnel = BL_TUN_IPIP },
	{ "nest_3", R_DEEP, 3, .outcome = BL_PARSE_TUNNEL_TOO_DEEP, .nlayers = 3 },
	{ "nest_mixed", R_DEEP_MIX, .outcome = BL_PARSE_TUNNEL_TOO_DEEP, .nlayers = 3,
	  .want = W_TUN, .tunnel = BL_TUN_GRE },
	/* snapped: the wire had the whole packet, the capture kept a prefix */
	{ "snap_in_ip4", R_TCP4, .snap = 30, .outcome = OK, .nlayers = 0 },
	{ "snap_in_tcp", R_TCP4, .snap = 40, .outcome = OK, .nlayers = 1, .want = W_L3F | W_PROTO,
	  .l3f_mask = F(HAS_PORTS), .l3f = 0, .proto = 6 },
	{ "snap_after_tcp", R_TCP4, .snap = 54, .outcome = OK, .nlayers = 1, .want = W_PORTS,
	  .sport = 1234, .dport = 80 },
	{ "snap_bad_totlen", R_TCP4, .snap = 40, .p = { ADD2(H_IP4, 2, 1) },
	  .outcome = BL_PARSE_BAD_IPV4_TOTLEN, .nlayers = 1 },
	{ "snap_bad_udplen", R_UDP4, .snap = 42, .p = { ADD2(H_UDP, 4, 1) },
	  .outcome = BL_PARSE_BAD_UDP_LEN, .nlayers = 1 },
	{ "snap_in_quote", R_ICMP_ERR, 28, .snap = 14 + 20 + 8 + 22, .outcome = OK, .nlayers = 1,
	  .want = W_PKTF, .pktf = BL_PKT_HAS_QUOTE },
	{ "snap_in_vxlan_inner", R_VXLAN, 0, .snap = 14 + 20 + 8 + 8 + 10, .outcome = OK,
	  .nlayers = 1 },
};

ParameterizedTestParameters(parse, cases)
{
	return cr_make_param_array(struct pcase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct pcase *c, parse, cases)
{
	struct bl_pkt pkt;
	const struct bl_l3 *in;
	struct pb pb;
	uint32_t len;

	build(&pb, c->recipe, c->arg);
	apply(&pb, &c->p[0]);
	apply(&pb, &c->p[1]);
	len = c->snap ? c->snap : pb.n;
	cr_assert_leq(len, pb.n, "%s", c->name);
	run(&pb, len, pb.n, (enum bl_linktype)c->link, &pkt);
	cr_expect_str_eq(bl_parse_outcome_name(pkt.outcome), bl_parse_outcome_name(c->outcome),
			 "%s", c->name);
	cr_expect_eq(pkt.nlayers, c->nlayers, "%s: nlayers %u", c->name, pkt.nlayers);
	cr_expect_str_eq(bl_l2class_name(pkt.l2class), bl_l2class_name(c->l2class), "%s", c->name);
	in = bl_pkt_inner(&pkt);
	if (c->want & (W_PROTO | W_PORTS | W_L3F | W_TUN | W_ICMP))
		cr_assert_not_null(in, "%s: no IP layer", c->name);
	if (c->want & W_PROTO)
		cr_expect_eq(in->proto, c->proto, "%s: proto %u", c->name, in->proto);
	if (c->want & W_PORTS) {
		cr_expect_eq(in->sport, c->sport, "%s: sport %u", c->name, in->sport);
		cr_expect_eq(in->dport, c->dport, "%s: dport %u", c->name, in->dport);
	}
	if (c->want & W_L3F)
		cr_expect_eq(in->flags & c->l3f_mask, c->l3f, "%s: flags %#x", c->name, in->flags);
	if (c->want & W_TUN)
		cr_expect_str_eq(bl_tunnel_name(in->tunnel), bl_tunnel_name(c->tunnel), "%s",
				 c->name);
	if (c->want & W_ICMP) {
		cr_expect_eq(in->icmp_type, c->icmp_type, "%s", c->name);
		cr_expect_eq(in->icmp_code, c->icmp_code, "%s", c->name);
	}
	if (c->want & W_PKTF)
		cr_expect_eq(pkt.flags, c->pktf, "%s: pkt flags %#x", c->name, pkt.flags);
	if (c->want & W_NVLAN)
		cr_expect_eq(pkt.nvlan, c->nvlan, "%s: nvlan %u", c->name, pkt.nvlan);
	if (c->want & W_NMPLS)
		cr_expect_eq(pkt.nmpls, c->nmpls, "%s: nmpls %u", c->name, pkt.nmpls);
	/* every layer below the first says how it was reached */
	for (unsigned int i = 1; i < pkt.nlayers && i < BL_MAX_LAYERS; i++)
		cr_expect_neq(pkt.l3[i].tunnel, BL_TUN_NONE, "%s: layer %u", c->name, i);
	if (pkt.nlayers)
		cr_expect_eq(pkt.l3[0].tunnel, BL_TUN_NONE, "%s", c->name);
}

/* ---- every prefix of valid packets ------------------------------------ */

struct prefix_case {
	char name[24];
	uint8_t recipe;
	int16_t arg;
	uint8_t link;
	uint8_t nlayers; /* of the whole packet */
};

static struct prefix_case prefixes[] = {
	{ "ether_ip4_tcp", R_TCP4, 0, BL_LINK_ETHER, 1 },
	{ "ip4_options", R_TCP4_OPT, 9, BL_LINK_ETHER, 1 },
	{ "qinq_ip6_ext_udp", R_QINQ6, 0, BL_LINK_ETHER, 1 },
	{ "mpls", R_MPLS, 3, BL_LINK_ETHER, 1 },
	{ "mpls_ip6", R_MPLS6, 0, BL_LINK_ETHER, 1 },
	{ "pppoe", R_PPPOE, 4, BL_LINK_ETHER, 1 },
	{ "gre", R_GRE, 0xb000, BL_LINK_ETHER, 2 },
	{ "gre_teb", R_GRE_TEB, 0, BL_LINK_ETHER, 2 },
	{ "pptp", R_PPTP, 0, BL_LINK_ETHER, 2 },
	{ "vxlan", R_VXLAN, 0, BL_LINK_ETHER, 2 },
	{ "teredo", R_TEREDO, 3, BL_LINK_ETHER, 2 },
	{ "ipip", R_IPIP, 0, BL_LINK_ETHER, 2 },
	{ "6in4", R_6IN4, 0, BL_LINK_ETHER, 2 },
	{ "nest_2", R_DEEP, 2, BL_LINK_ETHER, 3 },
	{ "icmp_err", R_ICMP_ERR, 28, BL_LINK_ETHER, 1 },
	{ "icmp6_err", R_ICMP6_ERR, 68, BL_LINK_ETHER, 1 },
	{ "frag6_first", R_FRAG6, 1, BL_LINK_ETHER, 1 },
	{ "sll", R_SLL, 0, BL_LINK_SLL, 1 },
	{ "sll2", R_SLL2, 0, BL_LINK_SLL2, 1 },
	{ "raw6", R_RAW, 6, BL_LINK_RAW, 1 },
	{ "arp", R_L2, 0, BL_LINK_ETHER, 0 },
};

/*
 * The outcome expected for the first `p` bytes when the wire had only them:
 * the first header cut inside its fixed part is truncated, unless a header
 * before it states a length that runs past `p`.
 */
static uint8_t prefix_expect(const struct pb *pb, uint32_t p, uint8_t link)
{
	if (link == BL_LINK_RAW && p == 0)
		return BL_PARSE_TRUNC_L2; /* not even a version nibble */
	for (unsigned int i = 0; i < pb->nh; i++) {
		const struct hdr *h = &pb->h[i];

		if (h->kind == H_PAY)
			break;
		if (p < h->off + (uint32_t)h->fixed)
			return h->trunc;
		if (h->bad)
			return h->bad;
	}
	return BL_PARSE_OK;
}

/* IP headers whose fixed part lies within `p` bytes. */
static unsigned int prefix_layers(const struct pb *pb, uint32_t p)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < pb->nh; i++) {
		const struct hdr *h = &pb->h[i];

		if ((h->kind == H_IP4 && h->off + 20u <= p) ||
		    (h->kind == H_IP6 && h->off + 40u <= p))
			n++;
	}
	return n;
}

ParameterizedTestParameters(parse, prefixes)
{
	return cr_make_param_array(struct prefix_case, prefixes,
				   sizeof(prefixes) / sizeof(prefixes[0]));
}

ParameterizedTest(struct prefix_case *c, parse, prefixes)
{
	struct bl_pkt pkt;
	struct pb pb;
	uint8_t want;

	build(&pb, c->recipe, c->arg);
	run(&pb, pb.n, pb.n, (enum bl_linktype)c->link, &pkt);
	cr_assert_eq(pkt.outcome, BL_PARSE_OK, "%s: whole packet: %s", c->name,
		     bl_parse_outcome_name(pkt.outcome));
	cr_assert_eq(pkt.nlayers, c->nlayers, "%s: whole packet layers", c->name);
	for (uint32_t p = 0; p < pb.n; p++) {
		/* cut on the wire: malformed, except non-IP payload bytes */
		want = prefix_expect(&pb, p, c->link);
		run(&pb, p, p, (enum bl_linktype)c->link, &pkt);
		cr_assert_str_eq(bl_parse_outcome_name(pkt.outcome), bl_parse_outcome_name(want),
				 "%s: prefix %u", c->name, p);
		if (c->nlayers)
			cr_assert(want != BL_PARSE_OK || c->recipe == R_L2,
				  "%s: prefix %u of an IP packet parsed", c->name, p);
		/* cut by the capture only: fine, with the layers it holds */
		run(&pb, p, pb.n, (enum bl_linktype)c->link, &pkt);
		cr_assert_eq(pkt.outcome, BL_PARSE_OK, "%s: snapped %u: %s", c->name, p,
			     bl_parse_outcome_name(pkt.outcome));
		cr_assert_eq(pkt.nlayers, prefix_layers(&pb, p), "%s: snapped %u: %u layers",
			     c->name, p, pkt.nlayers);
	}
}

/* ---- names ------------------------------------------------------------ */

Test(parse, outcome_names_distinct)
{
	for (int i = 0; i < BL_PARSE_OUTCOME_MAX; i++) {
		const char *a = bl_parse_outcome_name((enum bl_parse_outcome)i);

		cr_assert_neq(strcmp(a, "invalid"), 0, "outcome %d has no name", i);
		for (const char *s = a; *s; s++)
			cr_assert((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_',
				  "outcome %d name %s", i, a);
		for (int j = 0; j < i; j++)
			cr_assert_neq(strcmp(a, bl_parse_outcome_name((enum bl_parse_outcome)j)), 0,
				      "%d and %d share %s", i, j, a);
	}
	cr_assert_str_eq(bl_parse_outcome_name(BL_PARSE_OK), "ok");
	cr_assert_str_eq(bl_parse_outcome_name(BL_PARSE_TRUNC_L2), "trunc_l2");
	cr_assert_str_eq(bl_parse_outcome_name(BL_PARSE_TOO_MANY_VLANS), "too_many_vlans");
	cr_assert_str_eq(bl_parse_outcome_name(BL_PARSE_BAD_IPV4_IHL), "bad_ipv4_ihl");
	cr_assert_str_eq(bl_parse_outcome_name(BL_PARSE_OUTCOME_MAX), "invalid");
}

Test(parse, class_and_tunnel_names)
{
	static const char *const l2[] = {
		"ip", "arp", "lldp", "slow", "stp", "other", "nd", "mld"
	};
	static const char *const tun[] = { "none", "gre", "vxlan", "teredo", "ipip" };

	for (unsigned int i = 0; i < sizeof(l2) / sizeof(l2[0]); i++)
		cr_assert_str_eq(bl_l2class_name((enum bl_l2class)i), l2[i]);
	for (unsigned int i = 0; i < sizeof(tun) / sizeof(tun[0]); i++)
		cr_assert_str_eq(bl_tunnel_name((enum bl_tunnel)i), tun[i]);
	cr_assert_str_eq(bl_l2class_name((enum bl_l2class)99), "invalid");
	cr_assert_str_eq(bl_tunnel_name((enum bl_tunnel)99), "invalid");
}

/* ---- field values ----------------------------------------------------- */

Test(parse, fields_of_a_vlan_tcp4_packet)
{
	static const uint8_t a4[4] = { 10, 0, 0, 1 }, b4[4] = { 10, 0, 0, 2 };
	struct bl_pkt pkt;
	struct pb pb;

	build(&pb, R_VLANS, 2);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.outcome, BL_PARSE_OK);
	cr_assert_eq(pkt.vlan[0], 10);
	cr_assert_eq(pkt.vlan[1], 11);
	cr_assert_eq(pkt.ethertype, 0x0800);
	cr_assert_eq(pkt.l2_len, 22);
	cr_assert_eq(pkt.l3[0].family, 4);
	cr_assert_eq(pkt.l3[0].l3_off, 22);
	cr_assert_eq(pkt.l3[0].l4_off, 42);
	cr_assert_eq(pkt.l3[0].l3_len, 28);
	cr_assert_eq(pkt.l3[0].ttl, 64);
	cr_assert_eq(pkt.l3[0].frag_id, 0x1234);
	cr_assert_arr_eq(pkt.l3[0].src, a4, 4);
	cr_assert_arr_eq(pkt.l3[0].dst, b4, 4);
	cr_assert_eq(pkt.l3[0].sport, 1);
	cr_assert_eq(pkt.l3[0].dport, 2);
}

Test(parse, fields_of_ip6_mpls_and_quotes)
{
	struct bl_pkt pkt;
	struct pb pb;

	build(&pb, R_MPLS6, 0);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.mpls_top, 16);
	cr_assert_eq(pkt.ethertype, 0x8848);
	cr_assert_eq(pkt.l2_len, 22);
	cr_assert_arr_eq(pkt.l3[0].src, v6src, 16);
	cr_assert_arr_eq(pkt.l3[0].dst, v6dst, 16);
	cr_assert_eq(pkt.l3[0].ttl, 63);
	cr_assert_eq(pkt.l3[0].l3_len, 60);

	build(&pb, R_ICMP_ERR, 28);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.quote.family, 4);
	cr_assert_eq(pkt.quote.proto, 17);
	cr_assert_eq(pkt.quote.l3_len, 100);
	cr_assert_eq(pkt.quote.sport, 5353);
	cr_assert_eq(pkt.quote.dport, 53);
	cr_assert_eq(pkt.quote.flags, BL_L3_HAS_PORTS);
	cr_assert_eq(pkt.quote.src[3], 2);
	cr_assert_eq(pkt.quote.dst[3], 9);

	build(&pb, R_ICMP_ERR, 23);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.quote.flags, BL_L3_L4_PARTIAL);

	build(&pb, R_ICMP6_ERR, 68);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.quote.family, 6);
	cr_assert_eq(pkt.quote.proto, 6);
	cr_assert_eq(pkt.quote.sport, 40000);
	cr_assert_eq(pkt.quote.dport, 443);
	cr_assert_eq(pkt.quote.tcp_flags, 0x02);
	cr_assert_eq(pkt.quote.frag_id, 99);
	cr_assert_eq(pkt.quote.flags,
		     BL_L3_HAS_PORTS | BL_L3_OPTIONS | BL_L3_FRAG | BL_L3_FRAG_FIRST | BL_L3_MF);

	build(&pb, R_ICMP6_ERR, 50);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert(pkt.quote.flags & BL_L3_L4_PARTIAL);
	cr_assert_eq(pkt.quote.proto, 6);

	build(&pb, R_ICMP6_ERR, 44);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert(pkt.quote.flags & BL_L3_L4_PARTIAL);
	cr_assert_eq(pkt.quote.flags & BL_L3_HAS_PORTS, 0);
}

Test(parse, fragment_fields_and_tunnel_offsets)
{
	struct bl_pkt pkt;
	struct pb pb;

	build(&pb, R_FRAG4, 1);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.l3[0].frag_off, 1480);
	cr_assert_eq(pkt.l3[0].l4_off, 34, "later fragment: l4_off is the payload");

	build(&pb, R_FRAG6, 2);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.l3[0].frag_off, 1480);
	cr_assert_eq(pkt.l3[0].frag_id, 0xcafe0001);
	cr_assert_eq(pkt.l3[0].l4_off, 14 + 40 + 8);

	build(&pb, R_VXLAN, 0);
	run(&pb, pb.n, pb.n, BL_LINK_ETHER, &pkt);
	cr_assert_eq(pkt.nlayers, 2);
	cr_assert_eq(pkt.nvlan, 0, "inner tags stay out of vlan[]");
	cr_assert_eq(pkt.l3[1].l3_off, 14 + 20 + 8 + 8 + 14 + 4);
	cr_assert_eq(pkt.l3[1].tunnel, BL_TUN_VXLAN);
	cr_assert_eq(pkt.l3[0].dport, 4789);
}
