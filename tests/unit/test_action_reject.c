/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `reject` replies (reject.h): frames are built here byte by byte, put
 * in mbufs, parsed with bl_parse like the worker does, and rejected; each
 * reply is parsed again and every field checked, its checksums recomputed
 * here independently (one's complement sums written out, no DPDK helper).
 * Also: the packets that get no reply, the size bounds, the reply limiter
 * on a fake clock, and an empty pool.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "parse.h"
#include "reject.h"
#include "eal_down.h"

#define NB_MBUF 64
#define TSC_HZ	1000000ull /* fake TSC: 1 MHz */
#define T0	(1000 * TSC_HZ)

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

static struct rte_mempool *mp;

static void eal_up(void)
{
	char *argv[] = { "test_action_reject",
			 "--no-huge",
			 "--no-shconf",
			 "--no-pci",
			 "--no-telemetry",
			 "--file-prefix=bl-test-action-reject",
			 "--log-level=error",
			 "-l",
			 "0",
			 NULL };

	cr_assert_geq(rte_eal_init(RTE_DIM(argv) - 1, argv), 0, "rte_eal_init failed");
	mp = rte_pktmbuf_pool_create("test_rej", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     SOCKET_ID_ANY);
	cr_assert_not_null(mp, "mempool");
}

static void eal_down(void)
{
	rte_mempool_free(mp);
	bl_test_eal_cleanup();
}

TestSuite(reject, .init = eal_up, .fini = eal_down, .timeout = 60);

/* ---- frames ---------------------------------------------------------------- */

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 2, 0, 0, 0, 0, 0xb };
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* What to build: one packet from src to dst. */
struct spec {
	int family; /* 4 or 6 */
	int proto;  /* 6, 17, 1, 58 */
	const char *src, *dst;
	uint16_t sport, dport; /* ICMP: type, code */
	uint8_t flags;	       /* TCP flags */
	uint32_t seq, ack;
	unsigned payload; /* L4 payload bytes (pattern i & 0xff) */
	unsigned nvlan;
	int frag; /* 0 none, 1 first (MF), 2 later (offset 8) */
	bool bcast_mac;
	unsigned pad_to; /* pad the frame (Ethernet minimum) */
};

static unsigned put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
	return 2;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* One's complement sum of 16-bit big-endian words, folded (independent of DPDK). */
static uint32_t sum16(const uint8_t *d, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (n & 1)
		acc += (uint32_t)d[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

/* Pseudo-header sum: addresses, upper-layer length, protocol. */
static uint32_t pseudo(int family, const uint8_t *src, const uint8_t *dst, uint32_t len,
		       uint8_t proto)
{
	uint8_t ph[40];
	unsigned al = family == 4 ? 4 : 16;

	memset(ph, 0, sizeof(ph));
	memcpy(ph, src, al);
	memcpy(ph + al, dst, al);
	if (family == 4) {
		ph[9] = proto;
		put16(ph + 10, (uint16_t)len);
		return sum16(ph, 12, 0);
	}
	put32(ph + 32, len);
	ph[39] = proto;
	return sum16(ph, 40, 0);
}

static void addr(int family, const char *s, uint8_t *out)
{
	cr_assert_eq(inet_pton(family == 4 ? AF_INET : AF_INET6, s, out), 1, "address %s", s);
}

/* Build the frame of `s` into b; returns its length. */
static uint32_t build(const struct spec *s, uint8_t *b)
{
	uint8_t src[16], dst[16], *ip, *l4;
	unsigned off = 0, l4len, iplen = s->family == 4 ? 20 : 40, hl;

	memcpy(b, s->bcast_mac ? MAC_BCAST : MAC_B, 6);
	memcpy(b + 6, MAC_A, 6);
	off = 12;
	for (unsigned i = 0; i < s->nvlan; i++) {
		off += put16(b + off, i + 1 < s->nvlan ? 0x88a8 : 0x8100);
		off += put16(b + off, (uint16_t)(100 + i));
	}
	off += put16(b + off, s->family == 4 ? 0x0800 : 0x86dd);
	ip = b + off;
	addr(s->family, s->src, src);
	addr(s->family, s->dst, dst);
	hl = s->proto == 6 ? 20 : 8;
	l4len = hl + s->payload;
	if (s->family == 6 && s->frag)
		iplen += 8; /* fragment header */
	l4 = ip + iplen;
	memset(l4, 0, hl);
	for (unsigned i = 0; i < s->payload; i++)
		l4[hl + i] = (uint8_t)i;
	if (s->proto == 6) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put32(l4 + 4, s->seq);
		put32(l4 + 8, s->ack);
		l4[12] = 5 << 4;
		l4[13] = s->flags;
		put16(l4 + 14, 65535);
	} else if (s->proto == 17) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, (uint16_t)l4len);
	} else {
		l4[0] = (uint8_t)s->sport;
		l4[1] = (uint8_t)s->dport;
		if (s->sport == 3 || s->sport == 1) { /* an error: quote a UDP header */
			uint8_t *q = l4 + 8;

			memset(q, 0, RTE_MIN(s->payload, 28u));
		}
	}
	if (s->family == 4) {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + l4len));
		put16(ip + 4, 7);
		if (s->frag == 1)
			put16(ip + 6, 0x2000);
		else if (s->frag == 2)
			put16(ip + 6, 0x2001);
		ip[8] = 50;
		ip[9] = (uint8_t)s->proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put16(ip + 10, (uint16_t)~sum16(ip, 20, 0));
	} else {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(iplen - 40 + l4len));
		ip[6] = s->frag ? 44 : (uint8_t)s->proto;
		ip[7] = 50;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		if (s->frag) {
			uint8_t *fh = ip + 40;

			memset(fh, 0, 8);
			fh[0] = (uint8_t)s->proto;
			put16(fh + 2, s->frag == 1 ? 0x0001 : 0x0009);
			put32(fh + 4, 7);
		}
	}
	{
		uint16_t ck = (uint16_t)~sum16(
			l4, l4len,
			s->proto == 1 ? 0 : pseudo(s->family, src, dst, l4len, (uint8_t)s->proto));

		if (s->proto == 6)
			put16(l4 + 16, ck);
		else if (s->proto == 17)
			put16(l4 + 6, ck ? ck : 0xffff);
		else
			put16(l4 + 2, ck);
	}
	off = (unsigned)(l4 - b) + l4len;
	if (off < s->pad_to) {
		memset(b + off, 0, s->pad_to - off);
		off = s->pad_to;
	}
	return off;
}

/* The frame of `s` in an mbuf, parsed into *p as the worker does. */
static struct rte_mbuf *mk(const struct spec *s, struct bl_pkt *p)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	uint8_t *d;
	uint32_t len;

	cr_assert_not_null(m);
	d = (uint8_t *)rte_pktmbuf_append(m, 1600);
	cr_assert_not_null(d);
	len = build(s, d);
	rte_pktmbuf_trim(m, 1600 - len);
	m->port = 3;
	cr_assert_eq(bl_parse(d, len, len, BL_LINK_ETHER, p), BL_PARSE_OK, "test frame parses");
	return m;
}

static struct bl_reject *rej(uint32_t rate, uint32_t burst)
{
	static struct bl_reject r;

	bl_reject_init(&r, mp, rate, burst, TSC_HZ);
	return &r;
}

/* ---- checks on a reply ------------------------------------------------------- */

/* A reply parsed, with the common checks: L2 as the request's (swapped when
 * it goes back), IP header checksum and TTL. Returns the frame bytes. */
static const uint8_t *check_common(struct rte_mbuf *o, const struct rte_mbuf *m,
				   const struct bl_pkt *req, bool back, struct bl_pkt *rp)
{
	const uint8_t *d = rte_pktmbuf_mtod(o, const uint8_t *);
	const uint8_t *q = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct bl_l3 *l3;

	cr_assert_eq(o->nb_segs, 1);
	cr_assert_eq(bl_parse(d, rte_pktmbuf_pkt_len(o), rte_pktmbuf_pkt_len(o), BL_LINK_ETHER, rp),
		     BL_PARSE_OK, "reply parses");
	cr_assert_leq(rte_pktmbuf_pkt_len(o), rte_pktmbuf_pkt_len(m), "reply never larger");
	cr_assert_eq(o->port, m->port);
	/* L2: MACs swapped (back) or as they came (onward); tags kept */
	cr_assert_arr_eq(d, back ? q + 6 : q, 6);
	cr_assert_arr_eq(d + 6, back ? q : q + 6, 6);
	cr_assert_eq(rp->l2_len, req->l2_len);
	cr_assert_arr_eq(d + 12, q + 12, req->l2_len - 12, "VLAN tags and ethertype as they came");
	cr_assert_eq(rp->nvlan, req->nvlan);
	for (unsigned i = 0; i < req->nvlan; i++)
		cr_assert_eq(rp->vlan[i], req->vlan[i]);
	cr_assert_eq(rp->nlayers, 1);
	l3 = &rp->l3[0];
	cr_assert_eq(l3->family, req->l3[0].family);
	cr_assert_eq(l3->ttl, 64);
	cr_assert_eq(l3->flags & BL_L3_FRAG, 0);
	if (back) {
		cr_assert_arr_eq(l3->src, req->l3[0].dst, 16);
		cr_assert_arr_eq(l3->dst, req->l3[0].src, 16);
	} else {
		cr_assert_arr_eq(l3->src, req->l3[0].src, 16);
		cr_assert_arr_eq(l3->dst, req->l3[0].dst, 16);
	}
	if (l3->family == 4)
		cr_assert_eq(sum16(d + l3->l3_off, 20, 0), 0xffff, "IPv4 header checksum");
	cr_assert_eq(rte_pktmbuf_pkt_len(o), (uint32_t)l3->l3_off + l3->l3_len,
		     "no trailing bytes");
	return d;
}

/* L4 checksum over the pseudo-header (TCP, ICMPv6) or the message (ICMP). */
static void check_l4_cksum(const uint8_t *d, const struct bl_l3 *l3)
{
	uint32_t len = l3->l3_len - (l3->l4_off - l3->l3_off);
	uint32_t acc = l3->proto == 1 ? 0 : pseudo(l3->family, l3->src, l3->dst, len, l3->proto);

	cr_assert_eq(sum16(d + l3->l4_off, len, acc), 0xffff, "L4 checksum (proto %u)", l3->proto);
}

/* A RST reply: ports, seq, ack, flags, window, checksum. */
static void check_rst(struct rte_mbuf *o, const struct rte_mbuf *m, const struct bl_pkt *req,
		      bool back, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct bl_pkt rp;
	const uint8_t *d = check_common(o, m, req, back, &rp), *th;
	const struct bl_l3 *l3 = &rp.l3[0];

	cr_assert_eq(l3->proto, 6);
	cr_assert_eq(l3->l3_len, (l3->family == 4 ? 20 : 40) + 20, "bare RST, no options or data");
	th = d + l3->l4_off;
	cr_assert_eq(l3->sport, back ? req->l3[0].dport : req->l3[0].sport);
	cr_assert_eq(l3->dport, back ? req->l3[0].sport : req->l3[0].dport);
	cr_assert_eq(get32(th + 4), seq, "seq %u want %u", get32(th + 4), seq);
	cr_assert_eq(get32(th + 8), ack, "ack %u want %u", get32(th + 8), ack);
	cr_assert_eq(th[12] >> 4, 5);
	cr_assert_eq(th[13], flags, "flags %#x want %#x", th[13], flags);
	cr_assert_eq(get16(th + 14), 0, "window 0");
	check_l4_cksum(d, l3);
}

/* An unreachable: type/code, quote = the request's datagram from its IP header. */
static void check_unreach(struct rte_mbuf *o, const struct rte_mbuf *m, const struct bl_pkt *req,
			  uint32_t want_quote)
{
	struct bl_pkt rp;
	const uint8_t *d = check_common(o, m, req, true, &rp), *ih;
	const struct bl_l3 *l3 = &rp.l3[0];
	bool v4 = l3->family == 4;

	cr_assert_eq(l3->proto, v4 ? 1 : 58);
	cr_assert_eq(l3->icmp_type, v4 ? 3 : 1);
	cr_assert_eq(l3->icmp_code, v4 ? 13 : 1, "administratively prohibited");
	cr_assert(rp.flags & BL_PKT_HAS_QUOTE, "the reply quotes the request");
	ih = d + l3->l4_off;
	cr_assert_eq(get32(ih + 4), 0, "unused word");
	cr_assert_eq(l3->l3_len - (l3->l4_off - l3->l3_off) - 8, want_quote, "quote length %u",
		     l3->l3_len - (l3->l4_off - l3->l3_off) - 8);
	cr_assert_arr_eq(ih + 8, rte_pktmbuf_mtod(m, const uint8_t *) + req->l3[0].l3_off,
			 want_quote, "quote = the datagram from its IP header");
	cr_assert_leq(l3->l3_len, v4 ? 576 : 1280);
	check_l4_cksum(d, l3);
	cr_assert_arr_eq(rp.quote.src, req->l3[0].src, 16);
	cr_assert_eq(rp.quote.proto, req->l3[0].proto);
}

static void free_all(struct rte_mbuf *m, struct rte_mbuf **out, unsigned n)
{
	rte_pktmbuf_free(m);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(out[i]);
}

/* ---- TCP ---------------------------------------------------------------------- */

Test(reject, tcp_syn_gets_rst_ack)
{
	struct spec s = {
		4, 6, "192.0.2.1", "198.51.100.7", 40000, 443, SYN, 1000, 0, 0, 0, 0, 0, 0
	};
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);
	struct bl_reject *r = rej(0, 0);

	cr_assert_eq(bl_reject_build(r, m, &p, false, T0, out, dir), 1);
	cr_assert_eq(dir[0], BL_REJECT_OUT_BACK);
	/* no ACK in the segment: <SEQ=0><ACK=SEG.SEQ+SEG.LEN+SYN><CTL=RST,ACK> */
	check_rst(out[0], m, &p, true, 0, 1001, RST | ACK);
	cr_assert_eq(r->stats.tcp_rst, 1);
	free_all(m, out, 1);
}

Test(reject, tcp_syn_fin_with_data_counts_length)
{
	struct spec s = { 4,	 6,   "192.0.2.1", "198.51.100.7",
			  40000, 80,  SYN | FIN,   0xfffffff0u,
			  0,	 100, 0,	   0,
			  0,	 0 };
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);

	cr_assert_eq(bl_reject_build(rej(0, 0), m, &p, false, T0, out, dir), 1);
	/* 100 data bytes + SYN + FIN, modulo 2^32 */
	check_rst(out[0], m, &p, true, 0, 0xfffffff0u + 102, RST | ACK);
	free_all(m, out, 1);
}

Test(reject, tcp_ack_segment_gets_rst_at_its_ack)
{
	struct spec s = { 4,	 6,   "192.0.2.1", "198.51.100.7",
			  40000, 443, PSH | ACK,   5000,
			  77777, 200, 0,	   0,
			  0,	 0 };
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);

	cr_assert_eq(bl_reject_build(rej(0, 0), m, &p, false, T0, out, dir), 1,
		     "not established: the sender only");
	check_rst(out[0], m, &p, true, 77777, 0, RST);
	free_all(m, out, 1);
}

/*
 * An established connection: the sender gets its RST, the receiver one at
 * the segment's own seq. A segment without data, SYN or FIN (an ACK, or a
 * zero-window or keepalive probe one below the receiver's next sequence
 * number) gets a second one at SEG.SEQ+1, so that one of the two is exact.
 */
Test(reject, established_resets_both_ends)
{
	static const struct {
		uint8_t flags;
		uint32_t seq, len;
		unsigned n; /* replies */
	} segs[] = {
		{ PSH | ACK, 5000, 200, 2 },
		{ ACK, 0xffffffffu, 0, 3 }, /* the second at 0: modulo 2^32 */
	};

	for (unsigned i = 0; i < RTE_DIM(segs); i++) {
		struct spec s = { 4,
				  6,
				  "192.0.2.1",
				  "198.51.100.7",
				  40000,
				  443,
				  segs[i].flags,
				  segs[i].seq,
				  77777,
				  segs[i].len,
				  0,
				  0,
				  0,
				  0 };
		struct rte_mbuf *out[BL_REJECT_OUT_MAX];
		enum bl_reject_out dir[BL_REJECT_OUT_MAX];
		struct bl_pkt p;
		struct rte_mbuf *m = mk(&s, &p);
		struct bl_reject *r = rej(0, 0);

		cr_assert_eq(bl_reject_build(r, m, &p, true, T0, out, dir), segs[i].n, "seg %u", i);
		cr_assert_eq(dir[0], BL_REJECT_OUT_BACK);
		check_rst(out[0], m, &p, true, 77777, 0, RST);
		/* to the receiver: from the sender, at the segment's own seq (+1) */
		for (unsigned k = 1; k < segs[i].n; k++) {
			cr_assert_eq(dir[k], BL_REJECT_OUT_ONWARD);
			check_rst(out[k], m, &p, false, segs[i].seq + (k - 1), 0, RST);
		}
		cr_assert_eq(r->stats.tcp_rst, 1);
		cr_assert_eq(r->stats.tcp_rst_peer, segs[i].n - 1);
		free_all(m, out, segs[i].n);
		/* not established: the sender's only */
		m = mk(&s, &p);
		cr_assert_eq(bl_reject_build(r, m, &p, false, T0, out, dir), 1);
		free_all(m, out, 1);
	}
}

Test(reject, ipv6_tcp_with_qinq)
{
	struct spec s = {
		6, 6, "2001:db8::1", "2001:db8:1::2", 1234, 22, SYN, 42, 0, 0, 2, 0, 0, 0
	};
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);

	cr_assert_eq(p.nvlan, 2);
	cr_assert_eq(bl_reject_build(rej(0, 0), m, &p, true, T0, out, dir), 2);
	check_rst(out[0], m, &p, true, 0, 43, RST | ACK);
	check_rst(out[1], m, &p, false, 42, 0, RST);
	free_all(m, out, 2);
}

/* ---- ICMP / ICMPv6 --------------------------------------------------------------- */

Test(reject, udp4_gets_admin_prohibited_with_whole_quote)
{
	struct spec s = { 4, 17, "192.0.2.1", "198.51.100.7", 5353, 53, 0, 0, 0, 100, 1, 0, 0, 0 };
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);
	struct bl_reject *r = rej(0, 0);

	cr_assert_eq(bl_reject_build(r, m, &p, true, T0, out, dir), 1, "no second reply for UDP");
	cr_assert_eq(dir[0], BL_REJECT_OUT_BACK);
	/* frame 18 + 128: reply 18 + 28 + quote <= 146 -> quote 100 of 128 */
	check_unreach(out[0], m, &p, 100);
	cr_assert_eq(r->stats.icmp4, 1);
	free_all(m, out, 1);
}

Test(reject, udp4_quote_bounded_by_576)
{
	struct spec s = { 4, 17, "192.0.2.1", "198.51.100.7", 5353, 53, 0, 0, 0, 1400, 0, 0, 0, 0 };
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);

	cr_assert_eq(bl_reject_build(rej(0, 0), m, &p, false, T0, out, dir), 1);
	check_unreach(out[0], m, &p, 576 - 28);
	free_all(m, out, 1);
}

Test(reject, udp6_quote_bounded_by_1280)
{
	struct spec s = {
		6, 17, "2001:db8::1", "2001:db8:1::2", 5353, 53, 0, 0, 0, 1400, 0, 0, 0, 0
	};
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);
	struct bl_reject *r = rej(0, 0);

	cr_assert_eq(bl_reject_build(r, m, &p, false, T0, out, dir), 1);
	check_unreach(out[0], m, &p, 1280 - 48);
	cr_assert_eq(r->stats.icmp6, 1);
	free_all(m, out, 1);
}

Test(reject, quote_bounded_by_incoming_frame)
{
	/* 14 + 20 + 8 + 40 = 82 bytes in: the reply may quote 82 - 14 - 28 = 40 */
	struct spec s = { 4, 17, "192.0.2.1", "198.51.100.7", 5353, 53, 0, 0, 0, 40, 0, 0, 0, 0 };
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);

	cr_assert_eq(bl_reject_build(rej(0, 0), m, &p, false, T0, out, dir), 1);
	check_unreach(out[0], m, &p, 40);
	cr_assert_eq(rte_pktmbuf_pkt_len(out[0]), rte_pktmbuf_pkt_len(m));
	free_all(m, out, 1);
}

Test(reject, icmp_echo_and_first_fragment_get_unreachable)
{
	struct spec echo = { 4, 1, "192.0.2.1", "198.51.100.7", 8, 0, 0, 0, 0, 56, 0, 0, 0, 0 };
	struct spec echo6 = {
		6, 58, "2001:db8::1", "2001:db8:1::2", 128, 0, 0, 0, 0, 56, 0, 0, 0, 0
	};
	struct spec first = { 4, 6, "192.0.2.1", "198.51.100.7", 1, 2, ACK, 1, 1, 100, 0, 1, 0, 0 };
	const struct spec *all[] = { &echo, &echo6, &first };

	for (unsigned i = 0; i < RTE_DIM(all); i++) {
		struct rte_mbuf *out[BL_REJECT_OUT_MAX];
		enum bl_reject_out dir[BL_REJECT_OUT_MAX];
		struct bl_pkt p;
		struct rte_mbuf *m = mk(all[i], &p);
		uint32_t frame = rte_pktmbuf_pkt_len(m);
		uint32_t have = p.l3[0].l3_len, hdr = (p.l3[0].family == 4 ? 20 : 40) + 8;

		cr_assert_eq(bl_reject_build(rej(0, 0), m, &p, true, T0, out, dir), 1, "case %u",
			     i);
		check_unreach(out[0], m, &p, RTE_MIN(have, frame - p.l2_len - hdr));
		free_all(m, out, 1);
	}
}

/* ---- no reply ---------------------------------------------------------------------- */

struct skip_case {
	struct spec s;
	enum bl_reject_skip why;
};

static const struct skip_case skips[] = {
	{ { 4, 1, "192.0.2.1", "198.51.100.7", 3, 3, 0, 0, 0, 28, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_ICMP_ERROR },
	{ { 4, 1, "192.0.2.1", "198.51.100.7", 11, 0, 0, 0, 0, 28, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_ICMP_ERROR },
	{ { 6, 58, "2001:db8::1", "2001:db8:1::2", 1, 4, 0, 0, 0, 48, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_ICMP_ERROR },
	{ { 6, 58, "2001:db8::1", "2001:db8:1::2", 2, 0, 0, 0, 0, 48, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_ICMP_ERROR },
	{ { 4, 6, "192.0.2.1", "198.51.100.7", 1, 2, RST, 1, 0, 0, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_RST },
	{ { 4, 6, "192.0.2.1", "198.51.100.7", 1, 2, RST | ACK, 1, 1, 0, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_RST },
	{ { 4, 17, "192.0.2.1", "198.51.100.7", 1, 2, 0, 0, 0, 64, 0, 2, 0, 0 },
	  BL_REJECT_SKIP_LATER_FRAG },
	{ { 6, 17, "2001:db8::1", "2001:db8:1::2", 1, 2, 0, 0, 0, 64, 0, 2, 0, 0 },
	  BL_REJECT_SKIP_LATER_FRAG },
	{ { 4, 17, "192.0.2.1", "198.51.100.7", 1, 2, 0, 0, 0, 64, 0, 0, true, 0 },
	  BL_REJECT_SKIP_MCAST },
	{ { 4, 17, "192.0.2.1", "255.255.255.255", 1, 2, 0, 0, 0, 64, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_MCAST },
	{ { 4, 17, "192.0.2.1", "224.0.0.251", 1, 2, 0, 0, 0, 64, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_MCAST },
	{ { 6, 17, "2001:db8::1", "ff02::fb", 1, 2, 0, 0, 0, 64, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_MCAST },
	{ { 4, 6, "192.0.2.1", "198.51.100.7", 1, 2, SYN, 1, 0, 0, 0, 0, true, 0 },
	  BL_REJECT_SKIP_MCAST },
	{ { 4, 17, "0.0.0.0", "198.51.100.7", 68, 67, 0, 0, 0, 64, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_BAD_SRC },
	{ { 4, 17, "127.0.0.1", "198.51.100.7", 1, 2, 0, 0, 0, 64, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_BAD_SRC },
	{ { 6, 17, "::", "2001:db8:1::2", 1, 2, 0, 0, 0, 64, 0, 0, 0, 0 }, BL_REJECT_SKIP_BAD_SRC },
	/* 14 + 28 + 4 bytes padded to 60: IP header + 8 quoted do not fit */
	{ { 4, 17, "192.0.2.1", "198.51.100.7", 1, 2, 0, 0, 0, 4, 0, 0, 0, 60 },
	  BL_REJECT_SKIP_TOO_SMALL },
	{ { 6, 17, "2001:db8::1", "2001:db8:1::2", 1, 2, 0, 0, 0, 4, 0, 0, 0, 0 },
	  BL_REJECT_SKIP_TOO_SMALL },
};

ParameterizedTestParameters(reject, no_reply)
{
	static unsigned idx[RTE_DIM(skips)];

	for (unsigned i = 0; i < RTE_DIM(skips); i++)
		idx[i] = i;
	return cr_make_param_array(unsigned, idx, RTE_DIM(idx));
}

ParameterizedTest(unsigned *i, reject, no_reply)
{
	const struct skip_case *c = &skips[*i];
	struct rte_mbuf *out[BL_REJECT_OUT_MAX] = { NULL, NULL, NULL };
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_reject *r = rej(0, 0);
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&c->s, &p);
	unsigned avail = rte_mempool_avail_count(mp);

	cr_assert_eq(bl_reject_build(r, m, &p, true, T0, out, dir), 0, "case %u: no reply", *i);
	cr_assert_eq(r->stats.skip[c->why], 1, "case %u counted as %s", *i,
		     bl_reject_skip_name(c->why));
	for (unsigned k = 0; k < BL_REJECT_SKIP_MAX; k++)
		if (k != c->why)
			cr_assert_eq(r->stats.skip[k], 0, "case %u: only one reason", *i);
	cr_assert_eq(rte_mempool_avail_count(mp), avail, "no mbuf taken");
	cr_assert_eq(r->stats.tcp_rst + r->stats.icmp4 + r->stats.icmp6, 0);
	rte_pktmbuf_free(m);
}

/* ---- limiter and pool ---------------------------------------------------------------- */

Test(reject, replies_are_rate_limited)
{
	struct spec s = { 4, 17, "192.0.2.1", "198.51.100.7", 5353, 53, 0, 0, 0, 100, 0, 0, 0, 0 };
	struct bl_reject *r = rej(10, 3); /* 10/s, burst 3 */
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);
	unsigned sent = 0;

	for (unsigned i = 0; i < 6; i++) {
		struct rte_mbuf *out[BL_REJECT_OUT_MAX];
		enum bl_reject_out dir[BL_REJECT_OUT_MAX];
		unsigned n = bl_reject_build(r, m, &p, false, T0, out, dir);

		sent += n;
		if (n)
			rte_pktmbuf_free(out[0]);
	}
	cr_assert_eq(sent, 3, "the burst, then nothing at the same instant");
	cr_assert_eq(r->stats.skip[BL_REJECT_SKIP_RATE], 3);
	/* 0.25 s later: 2.5 tokens -> 2 replies */
	for (unsigned i = 0; i < 4; i++) {
		struct rte_mbuf *out[BL_REJECT_OUT_MAX];
		enum bl_reject_out dir[BL_REJECT_OUT_MAX];
		unsigned n = bl_reject_build(r, m, &p, false, T0 + TSC_HZ / 4, out, dir);

		sent += n;
		if (n)
			rte_pktmbuf_free(out[0]);
	}
	cr_assert_eq(sent, 5);
	rte_pktmbuf_free(m);
}

Test(reject, established_pair_takes_two_tokens)
{
	struct spec s = {
		4, 6, "192.0.2.1", "198.51.100.7", 1, 2, PSH | ACK, 10, 20, 10, 0, 0, 0, 0
	};
	struct bl_reject *r = rej(10, 1);
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);

	cr_assert_eq(bl_reject_build(r, m, &p, true, T0, out, dir), 1, "one token: the sender's");
	cr_assert_eq(dir[0], BL_REJECT_OUT_BACK);
	cr_assert_eq(r->stats.skip[BL_REJECT_SKIP_RATE], 1);
	free_all(m, out, 1);
}

Test(reject, empty_pool_counts_and_skips)
{
	struct spec s = { 4, 17, "192.0.2.1", "198.51.100.7", 5353, 53, 0, 0, 0, 100, 0, 0, 0, 0 };
	struct rte_mbuf *hold[NB_MBUF], *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_reject *r = rej(0, 0);
	struct bl_pkt p;
	struct rte_mbuf *m = mk(&s, &p);
	unsigned n = 0;

	while (n < NB_MBUF && (hold[n] = rte_pktmbuf_alloc(mp)))
		n++;
	cr_assert_eq(bl_reject_build(r, m, &p, false, T0, out, dir), 0);
	cr_assert_eq(r->stats.skip[BL_REJECT_SKIP_NOMBUF], 1);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(hold[i]);
	rte_pktmbuf_free(m);
}

Test(reject, packets_without_reply_take_no_token)
{
	struct spec small = { 4, 17, "192.0.2.1", "198.51.100.7", 1, 2, 0, 0, 0, 4, 0, 0, 0, 60 };
	struct spec mcast = { 4, 17, "192.0.2.1", "224.0.0.251", 1, 2, 0, 0, 0, 64, 0, 0, 0, 0 };
	struct spec good = {
		4, 17, "192.0.2.1", "198.51.100.7", 5353, 53, 0, 0, 0, 100, 0, 0, 0, 0
	};
	const struct spec *first[] = { &small, &mcast };
	struct bl_reject *r = rej(10, 1); /* one token */
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	struct bl_pkt p;
	struct rte_mbuf *m;

	for (unsigned i = 0; i < RTE_DIM(first); i++) {
		m = mk(first[i], &p);
		cr_assert_eq(bl_reject_build(r, m, &p, false, T0, out, dir), 0);
		rte_pktmbuf_free(m);
	}
	m = mk(&good, &p);
	cr_assert_eq(bl_reject_build(r, m, &p, false, T0, out, dir), 1, "the token is still there");
	cr_assert_eq(r->stats.skip[BL_REJECT_SKIP_RATE], 0);
	free_all(m, out, 1);
}
