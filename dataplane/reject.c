/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replies of the `reject` action (see reject.h), worker side: checks that
 * a reply is allowed (RFC 1812 4.3.2.7, RFC 4443 2.4 (e), RFC 9293), then
 * a TCP RST or an ICMP/ICMPv6 unreachable built in a fresh mbuf.
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "reject.h"

#define REPLY_TTL    64
#define ICMP4_MAX_IP 576  /* RFC 1812 4.3.2.3 */
#define ICMP6_MAX_IP 1280 /* RFC 4443 2.4 (c): the IPv6 minimum MTU */
#define ICMP_HDR_LEN 8
#define TCP_HDR_LEN  20

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

void bl_reject_init(struct bl_reject *r, struct rte_mempool *pool, uint32_t rate_pps,
		    uint32_t burst, uint64_t tsc_hz)
{
	memset(r, 0, sizeof(*r));
	r->pool = pool;
	bl_gcra_init(&r->limit, rate_pps ? rate_pps : BL_REJECT_RATE_DEFAULT,
		     burst ? burst : BL_REJECT_BURST_DEFAULT, tsc_hz);
}

const char *bl_reject_skip_name(enum bl_reject_skip s)
{
	static const char *const names[BL_REJECT_SKIP_MAX] = {
		[BL_REJECT_SKIP_NOT_IP] = "not_ip",
		[BL_REJECT_SKIP_ENCAP] = "encap",
		[BL_REJECT_SKIP_ICMP_ERROR] = "icmp_error",
		[BL_REJECT_SKIP_RST] = "rst",
		[BL_REJECT_SKIP_LATER_FRAG] = "later_frag",
		[BL_REJECT_SKIP_MCAST] = "mcast",
		[BL_REJECT_SKIP_BAD_SRC] = "bad_src",
		[BL_REJECT_SKIP_TOO_SMALL] = "too_small",
		[BL_REJECT_SKIP_RATE] = "rate",
		[BL_REJECT_SKIP_NOMBUF] = "nombuf",
	};

	return (unsigned)s < BL_REJECT_SKIP_MAX ? names[s] : "?";
}

static bool icmp_is_error(const struct bl_l3 *l3)
{
	if (l3->family == 4 && l3->proto == IPPROTO_ICMP)
		return l3->icmp_type == 3 || l3->icmp_type == 4 || l3->icmp_type == 5 ||
		       l3->icmp_type == 11 || l3->icmp_type == 12;
	if (l3->family == 6 && l3->proto == IPPROTO_ICMPV6)
		return l3->icmp_type < 128;
	return false;
}

/* Destination is not one host: broadcast or multicast (IP or link). */
static bool dst_is_group(const struct bl_l3 *l3, const uint8_t *frame)
{
	if (frame[0] & 1) /* I/G bit of the destination MAC */
		return true;
	if (l3->family == 4)
		return l3->dst[0] >= 224 ||
		       (l3->dst[0] == 0 && l3->dst[1] == 0 && l3->dst[2] == 0 && l3->dst[3] == 0);
	return l3->dst[0] == 0xff;
}

/* Source is not one host: unspecified, loopback, multicast, class E, broadcast. */
static bool src_is_bad(const struct bl_l3 *l3)
{
	static const uint8_t any6[16], lo6[16] = { [15] = 1 };

	if (l3->family == 4)
		return l3->src[0] == 0 || l3->src[0] == 127 || l3->src[0] >= 224;
	return l3->src[0] == 0xff || !memcmp(l3->src, any6, 16) || !memcmp(l3->src, lo6, 16);
}

/* Copy `len` bytes at `off` of a possibly segmented mbuf into `dst`. */
static void copy_out(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint8_t *dst)
{
	const void *p = rte_pktmbuf_read(m, off, len, dst);

	if (p && p != dst)
		memcpy(dst, p, len);
}

/* The L2 header of `m` as it came (VLAN tags and all), MACs swapped if `back`. */
static void put_l2(uint8_t *d, const struct rte_mbuf *m, const struct bl_pkt *p, bool back)
{
	const uint8_t *s = rte_pktmbuf_mtod(m, const uint8_t *);

	memcpy(d, s, p->l2_len);
	if (back) {
		memcpy(d, s + 6, 6);
		memcpy(d + 6, s, 6);
	}
}

/* An IP header of `l4len` payload bytes, protocol `proto`, src -> dst. */
static void put_ip(uint8_t *d, unsigned family, uint8_t proto, const uint8_t *src,
		   const uint8_t *dst, uint16_t l4len)
{
	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)d;

		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + l4len);
		ip->time_to_live = REPLY_TTL;
		ip->next_proto_id = proto;
		memcpy(&ip->src_addr, src, 4);
		memcpy(&ip->dst_addr, dst, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)d;

		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16(l4len);
		ip->proto = proto;
		ip->hop_limits = REPLY_TTL;
		memcpy(ip->src_addr, src, 16);
		memcpy(ip->dst_addr, dst, 16);
	}
}

/* TCP or ICMPv6 checksum over the pseudo-header; ICMPv4 over the message. */
static uint16_t l4_cksum(unsigned family, const uint8_t *ip, const uint8_t *l4)
{
	const struct rte_ipv4_hdr *ip4 = (const struct rte_ipv4_hdr *)ip;

	if (family == 6)
		return rte_ipv6_udptcp_cksum((const struct rte_ipv6_hdr *)ip, l4);
	if (ip4->next_proto_id == IPPROTO_TCP)
		return rte_ipv4_udptcp_cksum(ip4, l4);
	return (uint16_t)~rte_raw_cksum(l4, rte_be_to_cpu_16(ip4->total_length) - sizeof(*ip4));
}

/* One reply token, or false (counted). */
static bool token(struct bl_reject *r, uint64_t now)
{
	if (bl_gcra_take(&r->limit, &r->limit_tat, 1, now, false))
		return true;
	r->stats.skip[BL_REJECT_SKIP_RATE]++;
	return false;
}

/* A fresh mbuf of `len` bytes, or NULL (counted). */
static struct rte_mbuf *reply_alloc(struct bl_reject *r, const struct rte_mbuf *m, uint16_t len,
				    uint8_t **data)
{
	struct rte_mbuf *o = rte_pktmbuf_alloc(r->pool);

	if (unlikely(!o)) {
		r->stats.skip[BL_REJECT_SKIP_NOMBUF]++;
		return NULL;
	}
	*data = (uint8_t *)rte_pktmbuf_append(o, len);
	if (unlikely(!*data)) {
		rte_pktmbuf_free(o);
		r->stats.skip[BL_REJECT_SKIP_NOMBUF]++;
		return NULL;
	}
	o->port = m->port;
	return o;
}

/* The segment's TCP fields the RSTs need. */
struct seg {
	uint32_t seq, ack, len;
	uint8_t flags;
};

/*
 * One RST. To the sender (RFC 9293 3.10.7.1, "reset generation" for a
 * segment the box refuses): if the segment has ACK, <SEQ=SEG.ACK><CTL=RST>;
 * else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN counting one
 * each. Onward, to the receiver of an established connection:
 * <SEQ=SEG.SEQ><CTL=RST>, in the window the receiver expects.
 */
static struct rte_mbuf *build_rst(struct bl_reject *r, const struct rte_mbuf *m,
				  const struct bl_pkt *p, const struct seg *sg, bool back,
				  uint64_t now)
{
	const struct bl_l3 *l3 = &p->l3[0];
	unsigned iplen =
		l3->family == 4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	uint16_t len = p->l2_len + iplen + TCP_HDR_LEN;
	struct rte_tcp_hdr *th;
	struct rte_mbuf *o;
	uint8_t *d;

	if (!token(r, now))
		return NULL;
	o = reply_alloc(r, m, len, &d);
	if (!o)
		return NULL;
	put_l2(d, m, p, back);
	if (back)
		put_ip(d + p->l2_len, l3->family, IPPROTO_TCP, l3->dst, l3->src, TCP_HDR_LEN);
	else
		put_ip(d + p->l2_len, l3->family, IPPROTO_TCP, l3->src, l3->dst, TCP_HDR_LEN);
	th = (struct rte_tcp_hdr *)(d + p->l2_len + iplen);
	memset(th, 0, sizeof(*th));
	th->src_port = rte_cpu_to_be_16(back ? l3->dport : l3->sport);
	th->dst_port = rte_cpu_to_be_16(back ? l3->sport : l3->dport);
	th->data_off = (TCP_HDR_LEN / 4) << 4;
	if (!back) {
		th->sent_seq = rte_cpu_to_be_32(sg->seq);
		th->tcp_flags = TCP_RST;
	} else if (sg->flags & TCP_ACK) {
		th->sent_seq = rte_cpu_to_be_32(sg->ack);
		th->tcp_flags = TCP_RST;
	} else {
		uint32_t ack =
			sg->seq + sg->len + !!(sg->flags & TCP_SYN) + !!(sg->flags & TCP_FIN);

		th->recv_ack = rte_cpu_to_be_32(ack);
		th->tcp_flags = TCP_RST | TCP_ACK;
	}
	th->cksum = l4_cksum(l3->family, d + p->l2_len, (uint8_t *)th);
	if (back)
		r->stats.tcp_rst++;
	else
		r->stats.tcp_rst_peer++;
	return o;
}

/*
 * ICMP type 3 code 13 / ICMPv6 type 1 code 1 ("administratively
 * prohibited") from the offending destination to its source, quoting the
 * datagram from its IP header: as much as fits in the frame size that came
 * in and in 576 / 1280 bytes of IP, at least the IP header(s) and 8 bytes
 * (what the sender needs to match it to a socket), else nothing.
 */
static struct rte_mbuf *build_icmp(struct bl_reject *r, const struct rte_mbuf *m,
				   const struct bl_pkt *p, uint64_t now)
{
	const struct bl_l3 *l3 = &p->l3[0];
	bool v4 = l3->family == 4;
	unsigned iplen = v4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	uint32_t frame = rte_pktmbuf_pkt_len(m), have, quote, need, room;
	struct rte_icmp_hdr *ih;
	struct rte_mbuf *o;
	uint8_t *d;

	have = RTE_MIN((uint32_t)l3->l3_len, frame - l3->l3_off);
	need = RTE_MIN(have, (uint32_t)(l3->l4_off - l3->l3_off) + 8);
	room = (v4 ? ICMP4_MAX_IP : ICMP6_MAX_IP) - iplen - ICMP_HDR_LEN;
	if (frame < (uint32_t)p->l2_len + iplen + ICMP_HDR_LEN + need) {
		r->stats.skip[BL_REJECT_SKIP_TOO_SMALL]++;
		return NULL;
	}
	quote = RTE_MIN(RTE_MIN(have, room), frame - p->l2_len - iplen - ICMP_HDR_LEN);
	if (!token(r, now))
		return NULL;
	o = reply_alloc(r, m, p->l2_len + iplen + ICMP_HDR_LEN + quote, &d);
	if (!o)
		return NULL;
	put_l2(d, m, p, true);
	put_ip(d + p->l2_len, l3->family, v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, l3->dst, l3->src,
	       ICMP_HDR_LEN + quote);
	ih = (struct rte_icmp_hdr *)(d + p->l2_len + iplen);
	ih->icmp_type = v4 ? 3 : 1;
	ih->icmp_code = v4 ? 13 : 1;
	ih->icmp_ident = 0; /* unused (and next-hop MTU 0) */
	ih->icmp_seq_nb = 0;
	copy_out(m, l3->l3_off, quote, (uint8_t *)(ih + 1));
	ih->icmp_cksum = 0;
	ih->icmp_cksum = l4_cksum(l3->family, d + p->l2_len, (uint8_t *)ih);
	if (v4)
		r->stats.icmp4++;
	else
		r->stats.icmp6++;
	return o;
}

/* Why no reply may be sent to this packet, or BL_REJECT_SKIP_MAX. */
static enum bl_reject_skip refuse(const struct rte_mbuf *m, const struct bl_pkt *p)
{
	const struct bl_l3 *l3;

	if (!p->nlayers || p->outcome != BL_PARSE_OK)
		return BL_REJECT_SKIP_NOT_IP;
	if (p->nmpls || (p->flags & BL_PKT_PPPOE) || p->l2_len < RTE_ETHER_HDR_LEN)
		return BL_REJECT_SKIP_ENCAP;
	l3 = &p->l3[0];
	if (l3->flags & BL_L3_FRAG_LATER)
		return BL_REJECT_SKIP_LATER_FRAG;
	if (icmp_is_error(l3))
		return BL_REJECT_SKIP_ICMP_ERROR;
	if (l3->proto == IPPROTO_TCP && (l3->tcp_flags & TCP_RST))
		return BL_REJECT_SKIP_RST;
	if (dst_is_group(l3, rte_pktmbuf_mtod(m, const uint8_t *)))
		return BL_REJECT_SKIP_MCAST;
	if (src_is_bad(l3))
		return BL_REJECT_SKIP_BAD_SRC;
	return BL_REJECT_SKIP_MAX;
}

unsigned bl_reject_build(struct bl_reject *r, const struct rte_mbuf *m, const struct bl_pkt *p,
			 bool established, uint64_t now, struct rte_mbuf *out[BL_REJECT_OUT_MAX],
			 enum bl_reject_out dir[BL_REJECT_OUT_MAX])
{
	enum bl_reject_skip why = refuse(m, p);
	const struct bl_l3 *l3 = &p->l3[0];
	unsigned n = 0;
	struct seg sg;

	if (why != BL_REJECT_SKIP_MAX) {
		r->stats.skip[why]++;
		return 0;
	}
	if (l3->proto != IPPROTO_TCP || (l3->flags & BL_L3_FRAG)) {
		/* not TCP, or a TCP first fragment (its segment length is unknown) */
		if (!(out[0] = build_icmp(r, m, p, now)))
			return 0;
		dir[0] = BL_REJECT_OUT_BACK;
		return 1;
	}
	{
		uint8_t th[TCP_HDR_LEN];

		copy_out(m, l3->l4_off, sizeof(th), th);
		sg.seq = rte_be_to_cpu_32(*(const unaligned_uint32_t *)(th + 4));
		sg.ack = rte_be_to_cpu_32(*(const unaligned_uint32_t *)(th + 8));
		sg.flags = th[13];
		sg.len = (uint32_t)l3->l3_len - (l3->l4_off - l3->l3_off) - (th[12] >> 4) * 4u;
	}
	if ((out[n] = build_rst(r, m, p, &sg, true, now)))
		dir[n++] = BL_REJECT_OUT_BACK;
	if (!established)
		return n;
	if ((out[n] = build_rst(r, m, p, &sg, false, now)))
		dir[n++] = BL_REJECT_OUT_ONWARD;
	/*
	 * A segment without data, SYN or FIN is an ACK at the receiver's
	 * next sequence number, or a zero-window or keepalive probe one below
	 * it (RFC 9293 3.8.6.1, 3.8.4; what Linux sends while the receiver's
	 * window is full). The RST at SEG.SEQ is outside the receiver's window
	 * for a probe and is dropped there, and the receiver of a slow
	 * download would learn of the reset only when it next sent: so a
	 * second RST at SEG.SEQ+1. One of the two is exact; the other falls
	 * on a closed connection, or outside the window, and is dropped.
	 */
	if (sg.len == 0 && !(sg.flags & (TCP_SYN | TCP_FIN))) {
		struct seg next = sg;

		next.seq = sg.seq + 1;
		if ((out[n] = build_rst(r, m, p, &next, false, now)))
			dir[n++] = BL_REJECT_OUT_ONWARD;
	}
	return n;
}
