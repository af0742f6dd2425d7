/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parser's fast path as an inline test (internal to the dataplane).
 *
 * bl_parse_fast_fields() accepts the frames a perimeter box sees most and
 * returns their fields; it writes nothing else. Two callers share it so
 * that they accept exactly the same frames:
 * - parse.c's fast path writes the per-packet record from the fields;
 * - flow.c's bl_flow_key_frame() (the worker's express lane) builds the
 *   flow key straight from them, with no record in between.
 * One exception, for speed: flow.c's key_frame_v4() repeats this
 * function's tests for untagged IPv4 on fixed offsets (the bulk of the
 * traffic). A change to the tests here must be made there too; the unit
 * test flow/key_frame_is_the_parsers_key fails when the two disagree.
 * Accepted: Ethernet with at most two VLAN tags, IPv4 without options and
 * not a fragment, or IPv6 without extension headers, then TCP, or UDP that
 * is not VXLAN or Teredo; every header within the captured bytes and every
 * length field consistent. Each test is the general path's test for that
 * field, or stricter: an accepted frame is one on which the general path
 * returns BL_PARSE_OK with one IP layer (the unit tests, the tshark oracle
 * and the fuzzer check this).
 */
#ifndef BL_PARSE_FAST_H
#define BL_PARSE_FAST_H

#include <stdbool.h>
#include <stdint.h>

/* The parser's values (parse.c names them without the prefix). */
#define BL_FAST_ETH_IPV4    0x0800
#define BL_FAST_ETH_IPV6    0x86dd
#define BL_FAST_ETH_VLAN    0x8100
#define BL_FAST_ETH_QINQ    0x88a8
#define BL_FAST_ETH_QINQ1   0x9100
#define BL_FAST_VXLAN_PORT  4789
#define BL_FAST_TEREDO_PORT 3544

/* What an accepted frame holds. Offsets from the start of the frame. */
struct bl_fast {
	const uint8_t *ip; /* the IP header */
	uint64_t vlans;	   /* VLAN ids (12 bits), 16 bits each, outermost first */
	uint32_t nvlan;
	uint32_t l3_off;
	uint32_t l4_off;
	uint32_t l3_len; /* the datagram length as the header states it */
	uint16_t ethertype;
	uint16_t sport;
	uint16_t dport;
	uint16_t ipv4_id; /* 0 for IPv6 */
	uint8_t family;	  /* 4 or 6 */
	uint8_t proto;	  /* 6 or 17 */
	uint8_t ttl;
	uint8_t tcp_flags; /* 0 for UDP */
};

/* A big-endian 16-bit field. */
static inline uint16_t bl_fast_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A VLAN tag's TPID: 802.1Q, 802.1ad, or the older QinQ 0x9100. */
static inline bool bl_fast_is_vlan(uint16_t et)
{
	return et == BL_FAST_ETH_VLAN || et == BL_FAST_ETH_QINQ || et == BL_FAST_ETH_QINQ1;
}

/*
 * `len` bytes of the frame at `d` may be read; `end` (>= len) is its
 * length on the wire. True with `f` filled when the frame is one of the
 * above; false otherwise (then `f` means nothing).
 */
static inline bool bl_parse_fast_fields(const uint8_t *d, uint32_t len, uint32_t end,
					struct bl_fast *f)
{
	const uint8_t *p, *q;
	uint32_t off = 14, dlen, l4;
	uint64_t vlans = 0;
	uint32_t nvlan;
	uint16_t et;

	/* the shortest frame taken (Ethernet, IPv4, UDP) holds two VLAN tags
	 * and the fixed IPv4 header wherever they start */
	if (len < 14 + 20 + 8)
		return false;
	et = bl_fast_rd16(d + 12);
	nvlan = 0;
	/* untagged IPv4 (the most frequent) skips the tag tests */
	if (et != BL_FAST_ETH_IPV4) {
		for (; bl_fast_is_vlan(et); nvlan++) {
			if (nvlan == 2) /* a third tag */
				return false;
			vlans |= (uint64_t)(bl_fast_rd16(d + off) & 0x0fff) << (16 * nvlan);
			et = bl_fast_rd16(d + off + 2);
			off += 4;
		}
	}
	p = d + off;
	if (et == BL_FAST_ETH_IPV4) {
		/* version 4, IHL 5, 20 <= total length <= frame, no MF, offset 0 */
		dlen = bl_fast_rd16(p + 2);
		if (p[0] != 0x45 || dlen < 20 || dlen > end - off || (bl_fast_rd16(p + 6) & 0x3fff))
			return false;
		f->family = 4;
		f->l3_len = dlen;
		f->ipv4_id = bl_fast_rd16(p + 4);
		f->proto = p[9];
		f->ttl = p[8];
		l4 = off + 20;
		dlen -= 20;
	} else if (et == BL_FAST_ETH_IPV6) {
		/* version 6, payload length within the frame, no extension header
		 * (the protocol tests below leave none through) */
		if (off + 40 > len || p[0] >> 4 != 6)
			return false;
		dlen = bl_fast_rd16(p + 4);
		if (dlen > end - off - 40)
			return false;
		f->family = 6;
		f->l3_len = (uint16_t)(40 + dlen);
		f->ipv4_id = 0;
		f->proto = p[6];
		f->ttl = p[7];
		l4 = off + 40;
	} else {
		return false;
	}

	/* `dlen` is the IP payload; the transport header lies within it and
	 * within the capture */
	q = d + l4;
	if (f->proto == 6) {
		/* 20 <= data offset <= payload */
		if (dlen < 20 || l4 + 20 > len || q[12] < 0x50 || (uint32_t)(q[12] >> 4) * 4 > dlen)
			return false;
		f->tcp_flags = q[13];
	} else if (f->proto == 17) {
		/* 8 <= UDP length <= payload */
		if (dlen < 8 || l4 + 8 > len || bl_fast_rd16(q + 4) < 8 ||
		    bl_fast_rd16(q + 4) > dlen)
			return false;
		f->tcp_flags = 0;
		/* VXLAN and Teredo carry another layer: the general path */
		if (bl_fast_rd16(q + 2) == BL_FAST_VXLAN_PORT ||
		    bl_fast_rd16(q) == BL_FAST_TEREDO_PORT ||
		    bl_fast_rd16(q + 2) == BL_FAST_TEREDO_PORT)
			return false;
	} else {
		return false;
	}
	f->sport = bl_fast_rd16(q);
	f->dport = bl_fast_rd16(q + 2);
	f->ip = p;
	f->vlans = vlans;
	f->nvlan = nvlan;
	f->l3_off = off;
	f->l4_off = l4;
	f->ethertype = et;
	return true;
}

#endif /* BL_PARSE_FAST_H */
