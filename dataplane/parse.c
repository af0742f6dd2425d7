/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' packet parser (contract in parse.h).
 *
 * A cursor walks the buffer: `off` is the current header, `len` the bytes
 * that may be read, `end` where the current scope (frame, IP datagram, UDP
 * datagram, PPPoE payload) ends on the wire. Every header is checked once
 * with need(): past `end` it is malformed (its TRUNC_* outcome), past `len`
 * only the capture was cut (snapped) and parsing stops with BL_PARSE_OK.
 * Invariants: off <= len and off <= end at all times; `end` only shrinks.
 * IP layers are parsed iteratively, one loop turn per tunnel level.
 */
#include "parse.h"
#include "parse_fast.h"

#include <stddef.h>
#include <string.h>

/* Internal outcome: the capture ends inside a header that the wire holds. */
#define SNAPPED ((int)BL_PARSE_OUTCOME_MAX)

/* the values the fast path also tests are parse_fast.h's */
#define ETH_IPV4   BL_FAST_ETH_IPV4
#define ETH_ARP	   0x0806
#define ETH_TEB	   0x6558
#define ETH_VLAN   BL_FAST_ETH_VLAN
#define ETH_IPV6   BL_FAST_ETH_IPV6
#define ETH_SLOW   0x8809
#define ETH_MPLS   0x8847
#define ETH_MPLSM  0x8848
#define ETH_PPPOES 0x8864
#define ETH_QINQ   BL_FAST_ETH_QINQ
#define ETH_PPP	   0x880b
#define ETH_LLDP   0x88cc
#define ETH_QINQ1  BL_FAST_ETH_QINQ1

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define VXLAN_PORT  BL_FAST_VXLAN_PORT
#define TEREDO_PORT BL_FAST_TEREDO_PORT

struct cursor {
	const uint8_t *data;
	uint32_t off; /* current header */
	uint32_t len; /* readable bytes */
	uint32_t end; /* end of the current scope on the wire */
};

static inline uint16_t rd16(const uint8_t *p)
{
	return bl_fast_rd16(p);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The one bounds check per header: 0, `trunc` past the scope, or SNAPPED. */
static inline int need(const struct cursor *c, uint32_t n, int trunc)
{
	if (n > c->end - c->off)
		return trunc;
	if (n > c->len - c->off)
		return SNAPPED;
	return 0;
}

static inline const uint8_t *at(const struct cursor *c)
{
	return c->data + c->off;
}

static inline bool is_vlan_tpid(uint16_t et)
{
	return bl_fast_is_vlan(et);
}

/*
 * Skip 802.1Q/802.1ad tags, updating *et to the inner ethertype. Ids go to
 * vlan[] (the outermost L2 only; inner Ethernet passes NULL).
 */
static int skip_vlans(struct cursor *c, uint16_t *et, uint16_t *vlan, uint8_t *nvlan)
{
	unsigned int n;
	int rc;

	for (n = 0; is_vlan_tpid(*et); n++) {
		if (n == BL_MAX_VLAN)
			return BL_PARSE_TOO_MANY_VLANS;
		rc = need(c, 4, BL_PARSE_TRUNC_VLAN);
		if (rc)
			return rc;
		if (vlan) {
			vlan[n] = rd16(at(c)) & 0x0fff;
			*nvlan = (uint8_t)(n + 1);
		}
		*et = rd16(at(c) + 2);
		c->off += 4;
	}
	return 0;
}

/* An MPLS label stack; the payload's first nibble picks IPv4 or IPv6. */
static int parse_mpls(struct cursor *c, struct bl_pkt *out, int *family)
{
	unsigned int n;
	uint32_t lse;
	int rc;

	for (n = 0;; n++) {
		if (n == BL_MAX_MPLS)
			return BL_PARSE_TOO_MANY_LABELS;
		rc = need(c, 4, BL_PARSE_TRUNC_MPLS);
		if (rc)
			return rc;
		lse = rd32(at(c));
		if (n == 0)
			out->mpls_top = lse >> 12;
		out->nmpls = (uint8_t)(n + 1);
		c->off += 4;
		if (lse & 0x100) /* bottom of stack */
			break;
	}
	rc = need(c, 1, BL_PARSE_TRUNC_MPLS);
	if (rc)
		return rc;
	switch (at(c)[0] >> 4) {
	case 4: *family = 4; return 0;
	case 6: *family = 6; return 0;
	default: return BL_PARSE_BAD_MPLS_PAYLOAD;
	}
}

/* A PPPoE session header (RFC 2516) and the PPP protocol field. */
static int parse_pppoe(struct cursor *c, struct bl_pkt *out, int *family)
{
	const uint8_t *p;
	uint32_t plen;
	int rc;

	out->flags |= BL_PKT_PPPOE;
	rc = need(c, 8, BL_PARSE_TRUNC_PPPOE);
	if (rc)
		return rc;
	p = at(c);
	plen = rd16(p + 4);
	/* ver 1, type 1, code 0 (session data); length covers the PPP field */
	if (p[0] != 0x11 || p[1] != 0 || plen < 2 || plen > c->end - c->off - 6)
		return BL_PARSE_BAD_PPPOE;
	c->end = c->off + 6 + plen;
	c->off += 8;
	switch (rd16(p + 6)) {
	case PPP_IPV4: *family = 4; break;
	case PPP_IPV6: *family = 6; break;
	default: out->l2class = BL_L2_OTHER; break;
	}
	return 0;
}

/* An 802.2 LLC header: STP when DSAP is 0x42. */
static int parse_llc(struct cursor *c, struct bl_pkt *out)
{
	int rc = need(c, 3, BL_PARSE_TRUNC_L2);

	if (rc)
		return rc;
	out->l2class = at(c)[0] == 0x42 ? BL_L2_STP : BL_L2_OTHER;
	return 0;
}

/*
 * Link header, tags, MPLS and PPPoE. Leaves the cursor at the first IP
 * header with *family 4 or 6, or classifies a non-IP frame (*family 0).
 */
static int parse_l2(struct cursor *c, enum bl_linktype lt, struct bl_pkt *out, int *family)
{
	uint32_t hl;
	uint16_t et;
	int rc;

	switch (lt) {
	case BL_LINK_ETHER:
		rc = need(c, 14, BL_PARSE_TRUNC_L2);
		if (rc)
			return rc;
		et = rd16(at(c) + 12);
		c->off = 14;
		break;
	case BL_LINK_SLL:
	case BL_LINK_SLL2:
		hl = lt == BL_LINK_SLL ? 16 : 20;
		rc = need(c, hl, BL_PARSE_TRUNC_L2);
		if (rc)
			return rc;
		et = rd16(at(c) + (lt == BL_LINK_SLL ? 14 : 0));
		c->off = hl;
		if (et < 0x0600) { /* link-layer codes, not ethertypes */
			out->ethertype = et;
			out->l2_len = (uint16_t)c->off;
			if (et == 0x0004) /* 802.2 LLC frame */
				return parse_llc(c, out);
			out->l2class = BL_L2_OTHER;
			return 0;
		}
		break;
	case BL_LINK_RAW:
		rc = need(c, 1, BL_PARSE_TRUNC_L2);
		if (rc)
			return rc;
		switch (at(c)[0] >> 4) {
		case 4:
			*family = 4;
			out->ethertype = ETH_IPV4;
			return 0;
		case 6:
			*family = 6;
			out->ethertype = ETH_IPV6;
			return 0;
		default: return BL_PARSE_BAD_IP_VERSION;
		}
	default: return BL_PARSE_TRUNC_L2;
	}

	rc = skip_vlans(c, &et, out->vlan, &out->nvlan);
	out->ethertype = et;
	out->l2_len = (uint16_t)c->off;
	if (rc)
		return rc;

	switch (et) {
	case ETH_IPV4: *family = 4; return 0;
	case ETH_IPV6: *family = 6; return 0;
	case ETH_MPLS:
	case ETH_MPLSM: rc = parse_mpls(c, out, family); break;
	case ETH_PPPOES: rc = parse_pppoe(c, out, family); break;
	case ETH_ARP: out->l2class = BL_L2_ARP; return 0;
	case ETH_LLDP: out->l2class = BL_L2_LLDP; return 0;
	case ETH_SLOW: out->l2class = BL_L2_SLOW; return 0;
	default:
		if (et <= 1500 && lt == BL_LINK_ETHER) /* 802.3 length */
			return parse_llc(c, out);
		out->l2class = BL_L2_OTHER;
		return 0;
	}
	out->l2_len = (uint16_t)c->off;
	return rc;
}

/*
 * Walk IPv4 options (RFC 791): EOL ends the list, NOP is one byte, every
 * other option is a TLV whose length is at least 2 and fits the header.
 */
static int check_ipv4_options(const uint8_t *p, uint32_t hlen)
{
	uint32_t i = 20;

	while (i < hlen) { /* i grows by >= 1 each turn: at most 40 turns */
		if (p[i] == 0)
			return 0;
		if (p[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || p[i + 1] < 2 || p[i + 1] > hlen - i)
			return BL_PARSE_BAD_IPV4_OPTIONS;
		i += p[i + 1];
	}
	return 0;
}

/* Fragment flags shared by IPv4 and the IPv6 fragment header. */
static void set_frag(struct bl_l3 *l3, uint32_t off, bool mf, uint32_t id)
{
	l3->frag_off = (uint16_t)off;
	l3->frag_id = id;
	if (mf)
		l3->flags |= BL_L3_MF;
	if (off > 0)
		l3->flags |= BL_L3_FRAG | BL_L3_FRAG_LATER;
	else if (mf)
		l3->flags |= BL_L3_FRAG | BL_L3_FRAG_FIRST;
}

/*
 * An IPv4 first fragment may end inside its transport header (RFC 791; the
 * rest follows in the next fragment): not malformed, but L4 is partial. The
 * ports are kept when the 4 bytes that hold them are here, so the datagram
 * can still be named (and its tiny first fragment refused by the fragment
 * stage, RFC 1858). IPv6 first fragments must hold the whole header chain
 * (RFC 7112). `ports` says whether this protocol starts with two ports.
 */
static int l4_short(const struct cursor *c, struct bl_l3 *l3, int rc, bool ports)
{
	if (rc != SNAPPED && l3->family == 4 && (l3->flags & BL_L3_FRAG_FIRST)) {
		l3->flags |= BL_L3_L4_PARTIAL;
		if (ports && need(c, 4, rc) == 0) {
			l3->sport = rd16(at(c));
			l3->dport = rd16(at(c) + 2);
			l3->flags |= BL_L3_HAS_PORTS;
		}
		return 0;
	}
	return rc;
}

/*
 * IPv4 header (RFC 791). On success the cursor sits on the payload and
 * `end` is the end of the datagram (Ethernet padding beyond it is allowed).
 */
static int parse_ipv4(struct cursor *c, struct bl_l3 *l3, struct bl_pkt *out)
{
	uint32_t hlen, totlen, foff;
	const uint8_t *p;
	uint16_t ff;
	int rc;

	rc = need(c, 20, BL_PARSE_TRUNC_IPV4);
	if (rc)
		return rc;
	p = at(c);
	if (p[0] >> 4 != 4)
		return BL_PARSE_BAD_IP_VERSION;
	out->nlayers++;
	l3->family = 4;
	l3->proto = p[9];
	l3->ttl = p[8];
	memcpy(l3->src, p + 12, 4);
	memcpy(l3->dst, p + 16, 4);
	hlen = (p[0] & 0x0fu) * 4;
	totlen = rd16(p + 2);
	l3->l3_len = (uint16_t)totlen;
	l3->l4_off = (uint16_t)(c->off + 20); /* inside the buffer until IHL holds */
	if (hlen < 20)
		return BL_PARSE_BAD_IPV4_IHL;
	if (totlen < 20 || totlen > c->end - c->off)
		return BL_PARSE_BAD_IPV4_TOTLEN;
	if (hlen > totlen)
		return BL_PARSE_BAD_IPV4_IHL;
	c->end = c->off + totlen;
	ff = rd16(p + 6);
	foff = (ff & 0x1fffu) * 8;
	set_frag(l3, foff, ff & 0x2000, rd16(p + 4));
	if (foff + (totlen - hlen) > 65535)
		return BL_PARSE_BAD_FRAG;
	if (hlen > 20) {
		l3->flags |= BL_L3_OPTIONS;
		rc = need(c, hlen, BL_PARSE_TRUNC_IPV4);
		if (rc)
			return rc;
		rc = check_ipv4_options(p, hlen);
		if (rc)
			return rc;
	}
	c->off += hlen;
	l3->l4_off = (uint16_t)c->off;
	return 0;
}

static inline bool is_exthdr(uint8_t nh)
{
	switch (nh) {
	case 0:
	case 43:
	case 44:
	case 51:
	case 60:
	case 135:
	case 139:
	case 140: return true;
	default: return false;
	}
}

/*
 * IPv6 header and its extension-header chain (RFC 8200). Leaves the cursor
 * on the upper-layer header, or on the fragment payload of a later fragment.
 */
static int parse_ipv6(struct cursor *c, struct bl_l3 *l3, struct bl_pkt *out)
{
	const uint8_t *p;
	uint32_t plen, hl, foff, n;
	bool seen_frag = false;
	uint8_t nh;
	int rc;

	rc = need(c, 40, BL_PARSE_TRUNC_IPV6);
	if (rc)
		return rc;
	p = at(c);
	if (p[0] >> 4 != 6)
		return BL_PARSE_BAD_IP_VERSION;
	out->nlayers++;
	l3->family = 6;
	l3->ttl = p[7];
	memcpy(l3->src, p + 8, 16);
	memcpy(l3->dst, p + 24, 16);
	plen = rd16(p + 4);
	nh = p[6];
	l3->proto = nh;
	l3->l3_len = (uint16_t)(40 + plen);
	l3->l4_off = (uint16_t)(c->off + 40);
	/* plen 0 with hop-by-hop would be a jumbogram (RFC 2675): unsupported */
	if (plen > c->end - c->off - 40 || (plen == 0 && nh == 0))
		return BL_PARSE_BAD_IPV6_PAYLEN;
	c->end = c->off + 40 + plen;
	c->off += 40;

	for (n = 0; is_exthdr(nh); n++) {
		if (n == BL_MAX_EXTHDR)
			return BL_PARSE_TOO_MANY_EXTHDRS;
		l3->flags |= BL_L3_OPTIONS;
		rc = need(c, 8, BL_PARSE_TRUNC_EXTHDR);
		if (rc)
			return rc;
		p = at(c);
		if (nh == 44) {
			if (seen_frag)
				return BL_PARSE_BAD_FRAG;
			seen_frag = true;
			foff = rd16(p + 2) & 0xfff8u;
			set_frag(l3, foff, p[3] & 1, rd32(p + 4));
			if (foff == 0 && !(p[3] & 1))
				l3->flags |= BL_L3_ATOMIC_FRAG;
			if (foff + (c->end - c->off - 8) > 65535)
				return BL_PARSE_BAD_FRAG;
			hl = 8;
		} else if (nh == 51) {
			hl = ((uint32_t)p[1] + 2) * 4; /* AH: 4-byte units, RFC 4302 */
		} else {
			hl = ((uint32_t)p[1] + 1) * 8;
		}
		rc = need(c, hl, BL_PARSE_TRUNC_EXTHDR);
		if (rc)
			return rc;
		nh = p[0];
		l3->proto = nh;
		c->off += hl;
		l3->l4_off = (uint16_t)c->off;
		if (l3->flags & BL_L3_FRAG_LATER)
			break; /* the rest of the chain is in the payload */
	}
	return 0;
}

/*
 * Lenient parse of the IP header quoted by an ICMP error, within `lim`
 * bytes of the buffer. False when not even the fixed IP header is there.
 */
static bool parse_quote(const uint8_t *data, uint32_t off, uint32_t lim, struct bl_l3 *q)
{
	const uint8_t *p = data + off;
	uint32_t avail = lim - off, hl, n, l4;
	uint8_t nh;
	uint16_t ff;

	if (avail < 1)
		return false;
	q->l3_off = (uint16_t)off;
	if (p[0] >> 4 == 4) {
		hl = (p[0] & 0x0fu) * 4;
		if (avail < 20 || hl < 20)
			return false;
		q->family = 4;
		q->proto = p[9];
		q->ttl = p[8];
		q->l3_len = rd16(p + 2);
		memcpy(q->src, p + 12, 4);
		memcpy(q->dst, p + 16, 4);
		ff = rd16(p + 6);
		set_frag(q, (ff & 0x1fffu) * 8, ff & 0x2000, rd16(p + 4));
		if (hl > 20)
			q->flags |= BL_L3_OPTIONS;
		l4 = hl;
	} else if (p[0] >> 4 == 6) {
		if (avail < 40)
			return false;
		q->family = 6;
		q->ttl = p[7];
		q->l3_len = (uint16_t)(40 + rd16(p + 4));
		memcpy(q->src, p + 8, 16);
		memcpy(q->dst, p + 24, 16);
		nh = p[6];
		l4 = 40;
		for (n = 0; n < BL_MAX_EXTHDR && is_exthdr(nh); n++) {
			q->flags |= BL_L3_OPTIONS;
			if (avail < l4 + 8) {
				q->proto = nh;
				q->l4_off = (uint16_t)(off + (l4 < avail ? l4 : avail));
				q->flags |= BL_L3_L4_PARTIAL;
				return true;
			}
			if (nh == 44) {
				ff = rd16(p + l4 + 2);
				set_frag(q, ff & 0xfff8u, ff & 1, rd32(p + l4 + 4));
				hl = 8;
			} else if (nh == 51) {
				hl = ((uint32_t)p[l4 + 1] + 2) * 4;
			} else {
				hl = ((uint32_t)p[l4 + 1] + 1) * 8;
			}
			nh = p[l4];
			l4 += hl;
			if (q->flags & BL_L3_FRAG_LATER)
				break;
		}
		q->proto = nh;
	} else {
		return false;
	}
	/* a quote is cut short: offsets stay inside the bytes present */
	q->l4_off = (uint16_t)(off + (l4 < avail ? l4 : avail));
	if (q->flags & BL_L3_FRAG_LATER)
		return true;
	avail = avail > l4 ? avail - l4 : 0;
	p += l4;
	switch (q->proto) {
	case 6:
	case 17:
	case 132:
		if (avail < 4)
			break;
		q->sport = rd16(p);
		q->dport = rd16(p + 2);
		q->flags |= BL_L3_HAS_PORTS;
		if (q->proto == 6 && avail >= 14)
			q->tcp_flags = p[13];
		return true;
	case 1:
	case 58:
		if (avail < 2)
			break;
		q->icmp_type = p[0];
		q->icmp_code = p[1];
		if (avail >= 6 && (q->icmp_type == 8 || q->icmp_type == 0 || q->icmp_type == 128 ||
				   q->icmp_type == 129))
			q->sport = rd16(p + 4);
		return true;
	default: return true;
	}
	q->flags |= BL_L3_L4_PARTIAL;
	return true;
}

static inline bool icmp_is_error(uint8_t proto, uint8_t type)
{
	if (proto == 1)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/* ICMP or ICMPv6: type, code, echo identifier, error quote, ND/MLD class. */
static int parse_icmp(struct cursor *c, struct bl_l3 *l3, struct bl_pkt *out)
{
	const uint8_t *p;
	uint8_t t;
	int rc;

	rc = need(c, 8, BL_PARSE_TRUNC_ICMP);
	if (rc)
		return l4_short(c, l3, rc, false);
	p = at(c);
	t = p[0];
	l3->icmp_type = t;
	l3->icmp_code = p[1];
	if (l3->proto == 1 ? (t == 0 || t == 8) : (t == 128 || t == 129))
		l3->sport = rd16(p + 4);
	if (l3->proto == 58) {
		if (t >= 133 && t <= 137)
			out->l2class = BL_L2_ND;
		else if (t == 130 || t == 131 || t == 132 || t == 143)
			out->l2class = BL_L2_MLD;
	}
	if (!icmp_is_error(l3->proto, t))
		return 0;
	memset(&out->quote, 0, sizeof(out->quote));
	if (parse_quote(c->data, c->off + 8, c->end < c->len ? c->end : c->len, &out->quote))
		out->flags |= BL_PKT_HAS_QUOTE;
	return 0;
}

/*
 * Inner Ethernet of VXLAN or GRE-TEB: tags are skipped (not recorded);
 * *family is set when an IP header follows.
 */
static int parse_inner_ether(struct cursor *c, int trunc, int *family)
{
	uint16_t et;
	int rc;

	rc = need(c, 14, trunc);
	if (rc)
		return rc;
	et = rd16(at(c) + 12);
	c->off += 14;
	rc = skip_vlans(c, &et, NULL, NULL);
	if (rc)
		return rc;
	if (et == ETH_IPV4)
		*family = 4;
	else if (et == ETH_IPV6)
		*family = 6;
	return 0;
}

/*
 * A PPP header inside enhanced GRE; address/control and protocol may be
 * compressed (RFC 1661 ACFC, PFC).
 */
static int parse_ppp(struct cursor *c, int *family)
{
	const uint8_t *p;
	uint32_t skip = 0;
	uint16_t proto;
	int rc;

	rc = need(c, 2, BL_PARSE_TRUNC_GRE);
	if (rc)
		return rc;
	p = at(c);
	if (p[0] == 0xff && p[1] == 0x03)
		skip = 2;
	rc = need(c, skip + 1, BL_PARSE_TRUNC_GRE);
	if (rc)
		return rc;
	if (p[skip] & 1) {
		proto = p[skip];
		skip += 1;
	} else {
		rc = need(c, skip + 2, BL_PARSE_TRUNC_GRE);
		if (rc)
			return rc;
		proto = rd16(p + skip);
		skip += 2;
	}
	c->off += skip;
	if (proto == PPP_IPV4)
		*family = 4;
	else if (proto == PPP_IPV6)
		*family = 6;
	return 0;
}

/* GRE (RFC 2784/2890) and PPTP's enhanced GRE (RFC 2637). */
static int parse_gre(struct cursor *c, int *family)
{
	const uint8_t *p;
	uint32_t hl, plen;
	uint16_t fl, proto;
	int rc;

	rc = need(c, 4, BL_PARSE_TRUNC_GRE);
	if (rc)
		return rc;
	p = at(c);
	fl = rd16(p);
	proto = rd16(p + 2);
	if (fl & 0x4000) /* routing present (RFC 1701): deprecated */
		return BL_PARSE_BAD_GRE;
	switch (fl & 7) {
	case 0:
		hl = 4 + (fl & 0x8000 ? 4 : 0) + (fl & 0x2000 ? 4 : 0) + (fl & 0x1000 ? 4 : 0);
		rc = need(c, hl, BL_PARSE_TRUNC_GRE);
		if (rc)
			return rc;
		c->off += hl;
		if (proto == ETH_IPV4)
			*family = 4;
		else if (proto == ETH_IPV6)
			*family = 6;
		else if (proto == ETH_TEB)
			return parse_inner_ether(c, BL_PARSE_TRUNC_GRE, family);
		return 0;
	case 1:
		/* key present (payload length, call id), no checksum */
		if (!(fl & 0x2000) || (fl & 0x8000) || proto != ETH_PPP)
			return BL_PARSE_BAD_GRE;
		hl = 8 + (fl & 0x1000 ? 4 : 0) + (fl & 0x0080 ? 4 : 0);
		rc = need(c, hl, BL_PARSE_TRUNC_GRE);
		if (rc)
			return rc;
		plen = rd16(p + 4);
		if (plen > c->end - c->off - hl)
			return BL_PARSE_BAD_GRE;
		c->off += hl;
		c->end = c->off + plen;
		if (plen == 0) /* acknowledgement only */
			return 0;
		return parse_ppp(c, family);
	default: return BL_PARSE_BAD_GRE;
	}
}

/*
 * Teredo (RFC 4380): optional authentication and origin indication, then
 * IPv6 only when it looks like a whole IPv6 packet; otherwise plain UDP.
 */
static void parse_teredo(struct cursor *c, int *family)
{
	const uint8_t *p;
	uint32_t hl;

	if (need(c, 4, -1))
		return;
	p = at(c);
	if (rd16(p) == 0x0001) {
		hl = 4 + (uint32_t)p[2] + p[3] + 8 + 1;
		if (need(c, hl, -1))
			return;
		c->off += hl;
	}
	if (need(c, 8, -1))
		return;
	p = at(c);
	if (rd16(p) == 0x0000) {
		c->off += 8;
		if (need(c, 8, -1))
			return;
		p = at(c);
	}
	if (need(c, 40, -1))
		return;
	if (p[0] >> 4 == 6 && 40u + rd16(p + 4) == c->end - c->off)
		*family = 6;
}

/*
 * The header after an IP layer. Fills ports/ICMP fields and, for a tunnel,
 * leaves the cursor on the inner IP header with *family and *tun set.
 */
static int parse_l4(struct cursor *c, struct bl_l3 *l3, struct bl_pkt *out, int *family,
		    uint8_t *tun)
{
	const uint8_t *p;
	uint32_t ulen, doff;
	bool frag = l3->flags & BL_L3_FRAG;
	int rc;

	*family = 0;
	if (l3->flags & BL_L3_FRAG_LATER)
		return 0;
	switch (l3->proto) {
	case 6:
		rc = need(c, 20, BL_PARSE_TRUNC_TCP);
		if (rc)
			return l4_short(c, l3, rc, true);
		p = at(c);
		doff = (uint32_t)(p[12] >> 4) * 4;
		if (doff < 20)
			return BL_PARSE_BAD_TCP_DOFF;
		if (doff > c->end - c->off && l4_short(c, l3, BL_PARSE_BAD_TCP_DOFF, false))
			return BL_PARSE_BAD_TCP_DOFF;
		l3->sport = rd16(p);
		l3->dport = rd16(p + 2);
		l3->tcp_flags = p[13];
		l3->flags |= BL_L3_HAS_PORTS;
		return 0;
	case 17:
		rc = need(c, 8, BL_PARSE_TRUNC_UDP);
		if (rc)
			return l4_short(c, l3, rc, true);
		p = at(c);
		ulen = rd16(p + 4);
		/* a first fragment's UDP length covers the whole datagram */
		if (ulen < 8 || (!frag && ulen > c->end - c->off))
			return BL_PARSE_BAD_UDP_LEN;
		l3->sport = rd16(p);
		l3->dport = rd16(p + 2);
		l3->flags |= BL_L3_HAS_PORTS;
		if (frag)
			return 0;
		c->end = c->off + ulen;
		c->off += 8;
		if (l3->dport == VXLAN_PORT) {
			rc = need(c, 8, BL_PARSE_TRUNC_VXLAN);
			if (rc || !(at(c)[0] & 0x08)) /* I flag: valid VNI */
				return rc;
			c->off += 8;
			*tun = BL_TUN_VXLAN;
			return parse_inner_ether(c, BL_PARSE_TRUNC_VXLAN, family);
		}
		if (l3->sport == TEREDO_PORT || l3->dport == TEREDO_PORT) {
			*tun = BL_TUN_TEREDO;
			parse_teredo(c, family);
		}
		return 0;
	case 1:
	case 58: return parse_icmp(c, l3, out);
	case 132:
		rc = need(c, 12, BL_PARSE_TRUNC_SCTP);
		if (rc)
			return l4_short(c, l3, rc, true);
		p = at(c);
		l3->sport = rd16(p);
		l3->dport = rd16(p + 2);
		l3->flags |= BL_L3_HAS_PORTS;
		return 0;
	case 4:
	case 41:
		if (frag)
			return 0;
		*tun = BL_TUN_IPIP;
		*family = l3->proto == 4 ? 4 : 6;
		return 0;
	case 47:
		if (frag)
			return 0;
		*tun = BL_TUN_GRE;
		return parse_gre(c, family);
	default: return 0;
	}
}

/* IP layers, outermost first, one turn per tunnel level. */
static int parse_layers(struct cursor *c, int family, struct bl_pkt *out)
{
	uint8_t tun = BL_TUN_NONE;
	struct bl_l3 *l3;
	unsigned int i;
	int rc = 0;

	for (i = 0; i <= BL_MAX_LAYERS && family; i++) {
		if (out->nlayers == BL_MAX_LAYERS)
			return BL_PARSE_TUNNEL_TOO_DEEP;
		l3 = &out->l3[out->nlayers];
		memset(l3, 0, sizeof(*l3)); /* a layer is zeroed when begun */
		l3->tunnel = tun;
		l3->l3_off = (uint16_t)c->off;
		if (family == 4)
			rc = parse_ipv4(c, l3, out);
		else
			rc = parse_ipv6(c, l3, out);
		if (rc)
			return rc;
		rc = parse_l4(c, l3, out, &family, &tun);
		if (rc)
			return rc;
	}
	return 0;
}

/* An unaligned little-endian store of one record word (see parse_fast()). */
static inline void st64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* The record words parse_fast() writes lie where these say. */
_Static_assert(offsetof(struct bl_pkt, nvlan) == 3 && offsetof(struct bl_pkt, nlayers) == 5 &&
		       offsetof(struct bl_pkt, ethertype) == 6 &&
		       offsetof(struct bl_pkt, vlan) == 8 &&
		       offsetof(struct bl_pkt, l2_len) == 14 &&
		       offsetof(struct bl_pkt, mpls_top) == 16 && offsetof(struct bl_pkt, l3) == 20,
	       "parse_fast: fixed part layout");
_Static_assert(offsetof(struct bl_l3, proto) == 1 && offsetof(struct bl_l3, flags) == 2 &&
		       offsetof(struct bl_l3, l3_off) == 4 && offsetof(struct bl_l3, l4_off) == 6 &&
		       offsetof(struct bl_l3, l3_len) == 8 &&
		       offsetof(struct bl_l3, frag_id) == 12 && offsetof(struct bl_l3, ttl) == 16 &&
		       offsetof(struct bl_l3, tcp_flags) == 17 &&
		       offsetof(struct bl_l3, sport) == 20 && offsetof(struct bl_l3, dport) == 22 &&
		       offsetof(struct bl_l3, src) == 24 && offsetof(struct bl_l3, dst) == 40 &&
		       sizeof(struct bl_l3) == 56,
	       "parse_fast: layer layout");

/*
 * Fast path for the frames a perimeter box sees most (parse_fast.h says
 * which; the express lane of the workers takes the same ones). The general
 * path spends most of its time on what such a frame never needs (cursor,
 * layer loop, tunnel and fragment cases, field-by-field clearing); this one
 * reads each field once and writes the record in 64-bit words
 * (little-endian hosts; elsewhere it always declines).
 * It must agree with the general path exactly: it returns true only for a
 * frame on which the general path returns BL_PARSE_OK with one IP layer, and
 * then the valid part of the record (parse.h) is what that path writes: the
 * fixed part and l3[0], unset fields 0. When it declines (false) it has
 * written nothing; bl_parse() then runs the general path, so outcome and
 * record, malformed or not, are the general path's. The unit tests, the
 * tshark oracle and the fuzzer run through both paths.
 */
static inline bool parse_fast(const uint8_t *d, uint32_t len, uint32_t end, struct bl_pkt *out)
{
	uint8_t *l3 = (uint8_t *)&out->l3[0];
	struct bl_fast f;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ || !bl_parse_fast_fields(d, len, end, &f))
		return false;
	/* fixed part: outcome OK, l2class IP, flags 0, nvlan, nmpls 0,
	 * nlayers 1, ethertype | vlan[0..2], l2_len | mpls_top 0 */
	st64(out, (uint64_t)f.nvlan << 24 | (uint64_t)1 << 40 | (uint64_t)f.ethertype << 48);
	st64((uint8_t *)out + 8, f.vlans | (uint64_t)f.l3_off << 48);
	memset((uint8_t *)out + 16, 0, 4);
	/* l3[0] words: family, proto, flags, tunnel 0, l3_off, l4_off |
	 * l3_len, frag_off 0, frag_id | ttl, tcp_flags, icmp 0, sport, dport |
	 * src | dst */
	st64(l3, f.family | (uint64_t)f.proto << 8 | (uint64_t)BL_L3_HAS_PORTS << 16 |
			 (uint64_t)f.l3_off << 32 | (uint64_t)f.l4_off << 48);
	st64(l3 + 8, f.l3_len | (uint64_t)f.ipv4_id << 32);
	st64(l3 + 16, f.ttl | (uint64_t)f.tcp_flags << 8 | (uint64_t)f.sport << 32 |
			      (uint64_t)f.dport << 48);
	if (f.family == 4) {
		memset(l3 + 24, 0, 32);
		memcpy(l3 + 24, f.ip + 12, 4);
		memcpy(l3 + 40, f.ip + 16, 4);
	} else {
		memcpy(l3 + 24, f.ip + 8, 32);
	}
	return true;
}

/*
 * The general path: any link type, any frame. Kept out of line so that the
 * fast path in bl_parse() does not pay for its stack frame and registers.
 */
static __attribute__((noinline)) enum bl_parse_outcome parse_general(const uint8_t *data,
								     uint32_t len, uint32_t end,
								     enum bl_linktype lt,
								     struct bl_pkt *out)
{
	struct cursor c = {
		.data = data,
		.off = 0,
		.len = len,
		.end = end,
	};
	int family = 0;
	int rc;

	/* Only the fixed part is cleared here; see parse.h for which parts of
	 * the record are valid. Clearing all of it costs four cache lines per
	 * packet on the fast path. */
	memset(out, 0, offsetof(struct bl_pkt, l3));
	rc = parse_l2(&c, lt, out, &family);
	if (rc == 0 && family)
		rc = parse_layers(&c, family, out);
	if (rc == SNAPPED)
		rc = BL_PARSE_OK;
	out->outcome = (uint8_t)rc;
	return (enum bl_parse_outcome)rc;
}

enum bl_parse_outcome bl_parse(const uint8_t *data, uint32_t len, uint32_t wire_len,
			       enum bl_linktype lt, struct bl_pkt *out)
{
	uint32_t end = wire_len > len ? wire_len : len;

	if (lt == BL_LINK_ETHER && parse_fast(data, len, end, out))
		return BL_PARSE_OK;
	return parse_general(data, len, end, lt, out);
}

static const char *const outcome_names[BL_PARSE_OUTCOME_MAX] = {
	[BL_PARSE_OK] = "ok",
	[BL_PARSE_TRUNC_L2] = "trunc_l2",
	[BL_PARSE_TRUNC_VLAN] = "trunc_vlan",
	[BL_PARSE_TOO_MANY_VLANS] = "too_many_vlans",
	[BL_PARSE_TRUNC_MPLS] = "trunc_mpls",
	[BL_PARSE_TOO_MANY_LABELS] = "too_many_labels",
	[BL_PARSE_BAD_MPLS_PAYLOAD] = "bad_mpls_payload",
	[BL_PARSE_TRUNC_PPPOE] = "trunc_pppoe",
	[BL_PARSE_BAD_PPPOE] = "bad_pppoe",
	[BL_PARSE_TRUNC_IPV4] = "trunc_ipv4",
	[BL_PARSE_BAD_IP_VERSION] = "bad_ip_version",
	[BL_PARSE_BAD_IPV4_IHL] = "bad_ipv4_ihl",
	[BL_PARSE_BAD_IPV4_TOTLEN] = "bad_ipv4_totlen",
	[BL_PARSE_BAD_IPV4_OPTIONS] = "bad_ipv4_options",
	[BL_PARSE_TRUNC_IPV6] = "trunc_ipv6",
	[BL_PARSE_BAD_IPV6_PAYLEN] = "bad_ipv6_paylen",
	[BL_PARSE_TRUNC_EXTHDR] = "trunc_exthdr",
	[BL_PARSE_TOO_MANY_EXTHDRS] = "too_many_exthdrs",
	[BL_PARSE_BAD_FRAG] = "bad_frag",
	[BL_PARSE_TRUNC_TCP] = "trunc_tcp",
	[BL_PARSE_BAD_TCP_DOFF] = "bad_tcp_doff",
	[BL_PARSE_TRUNC_UDP] = "trunc_udp",
	[BL_PARSE_BAD_UDP_LEN] = "bad_udp_len",
	[BL_PARSE_TRUNC_ICMP] = "trunc_icmp",
	[BL_PARSE_TRUNC_SCTP] = "trunc_sctp",
	[BL_PARSE_TRUNC_GRE] = "trunc_gre",
	[BL_PARSE_BAD_GRE] = "bad_gre",
	[BL_PARSE_TRUNC_VXLAN] = "trunc_vxlan",
	[BL_PARSE_TUNNEL_TOO_DEEP] = "tunnel_too_deep",
};

const char *bl_parse_outcome_name(enum bl_parse_outcome o)
{
	if ((unsigned int)o >= BL_PARSE_OUTCOME_MAX || !outcome_names[o])
		return "invalid";
	return outcome_names[o];
}

static const char *const l2class_names[] = {
	[BL_L2_IP] = "ip",   [BL_L2_ARP] = "arp",     [BL_L2_LLDP] = "lldp", [BL_L2_SLOW] = "slow",
	[BL_L2_STP] = "stp", [BL_L2_OTHER] = "other", [BL_L2_ND] = "nd",     [BL_L2_MLD] = "mld",
};

const char *bl_l2class_name(enum bl_l2class c)
{
	if ((unsigned int)c >= sizeof(l2class_names) / sizeof(l2class_names[0]))
		return "invalid";
	return l2class_names[c];
}

static const char *const tunnel_names[] = {
	[BL_TUN_NONE] = "none",	    [BL_TUN_GRE] = "gre",   [BL_TUN_VXLAN] = "vxlan",
	[BL_TUN_TEREDO] = "teredo", [BL_TUN_IPIP] = "ipip",
};

const char *bl_tunnel_name(enum bl_tunnel t)
{
	if ((unsigned int)t >= sizeof(tunnel_names) / sizeof(tunnel_names[0]))
		return "invalid";
	return tunnel_names[t];
}
