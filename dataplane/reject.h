/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `reject` action's replies, built by the worker that judged the
 * packet: a TCP RST to the sender (and, on an established connection, a
 * second RST to the other end), or an ICMP / ICMPv6 "administratively
 * prohibited" destination unreachable for any other protocol.
 *
 * Replies concern the OUTERMOST IP layer (l3[0], the layer the flow key is
 * built from). Each is built in a fresh mbuf from the worker's pool: the L2
 * header as it came (VLAN tags kept; MACs swapped for the reply that goes
 * back), IP TTL/hop limit 64, checksums computed. Never in reply to an
 * ICMP error, a RST, a non-first fragment, a link-layer or IP broadcast /
 * multicast, or a source that is not one host; never larger than the frame
 * that came in, nor than 576 (IPv4) / 1280 (IPv6) bytes of IP datagram
 * (RFC 1812 4.3.2.3, RFC 4443 2.4). Frames behind MPLS or PPPoE get none.
 * Replies are rate-limited per worker by a token bucket (packets/s, burst)
 * and are counted apart as `generated`: they are outside the accounting
 * invariant rx = forwarded + dropped + held.
 *
 * Worker side only; allocation-free except the reply mbufs.
 */
#ifndef BL_REJECT_H
#define BL_REJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "meter.h"
#include "parse.h"

struct rte_mbuf;
struct rte_mempool;

/* Reply limiter defaults: replies per second and burst, per worker. */
#define BL_REJECT_RATE_DEFAULT	1000u
#define BL_REJECT_BURST_DEFAULT 100u

/* Why no reply was sent; each has its own counter. Keep names in step. */
enum bl_reject_skip {
	BL_REJECT_SKIP_NOT_IP = 0, /* no IP layer */
	BL_REJECT_SKIP_ENCAP,	   /* behind MPLS or PPPoE */
	BL_REJECT_SKIP_ICMP_ERROR, /* never answer an ICMP/ICMPv6 error */
	BL_REJECT_SKIP_RST,	   /* never answer a TCP RST (RFC 9293) */
	BL_REJECT_SKIP_LATER_FRAG, /* non-first fragment */
	BL_REJECT_SKIP_MCAST,	   /* L2 or IP broadcast/multicast destination */
	BL_REJECT_SKIP_BAD_SRC,	   /* source is not one host (0/8, ::, multicast, ...) */
	BL_REJECT_SKIP_TOO_SMALL,  /* the reply (IP header + 8 quoted) would outgrow the frame */
	BL_REJECT_SKIP_RATE,	   /* reply limiter empty */
	BL_REJECT_SKIP_NOMBUF,	   /* pool ran dry */
	BL_REJECT_SKIP_MAX
};

/* Counters of one worker's replies (written by that worker only). */
struct bl_reject_stats {
	uint64_t generated;    /* replies accepted by the driver */
	uint64_t tcp_rst;      /* RSTs built (to the sender) */
	uint64_t tcp_rst_peer; /* RSTs built toward the other end */
	uint64_t icmp4;	       /* ICMP unreachables built */
	uint64_t icmp6;	       /* ICMPv6 unreachables built */
	uint64_t tx_full;      /* built but the TX queue stayed full */
	uint64_t skip[BL_REJECT_SKIP_MAX];
};

/* Per-worker reply context; set up with bl_reject_init() before launch. */
struct bl_reject {
	struct rte_mempool *pool; /* reply mbufs come from here */
	struct bl_gcra limit;	  /* reply rate limiter (one packet = one unit) */
	uint64_t limit_tat;	  /* its state (this worker only) */
	struct bl_reject_stats stats;
};

/* Replies bl_reject_build() may build for one packet. */
#define BL_REJECT_OUT_MAX 3

/* Where a reply goes, relative to the port the offending packet came in on. */
enum bl_reject_out {
	BL_REJECT_OUT_BACK = 0,	  /* back out of the receiving port (to the sender) */
	BL_REJECT_OUT_ONWARD = 1, /* out of the other port (to the receiver) */
};

/* Set up `r`: replies from `pool`, at most rate_pps/s with burst `burst`
 * (0, 0: the defaults). tsc_hz as rte_get_tsc_hz(). */
void bl_reject_init(struct bl_reject *r, struct rte_mempool *pool, uint32_t rate_pps,
		    uint32_t burst, uint64_t tsc_hz);

/*
 * Build the replies to `m` (parsed into `p`). `established`: the flow is
 * in TCP state ESTABLISHED (entry->state == BL_FLOW_ESTABLISHED), which
 * adds the RST toward the receiver (two for a segment without data, SYN
 * or FIN: see reject.c). Stores up to BL_REJECT_OUT_MAX mbufs in out[]
 * with where each goes in dir[], and returns how many (0: nothing to
 * send, counted under a skip reason). `m` is not consumed: the caller
 * still drops it. Each built reply takes one token; `now` is the TSC.
 */
unsigned bl_reject_build(struct bl_reject *r, const struct rte_mbuf *m, const struct bl_pkt *p,
			 bool established, uint64_t now, struct rte_mbuf *out[BL_REJECT_OUT_MAX],
			 enum bl_reject_out dir[BL_REJECT_OUT_MAX]);

/* Stable name of a skip reason ("icmp_error", "rate", ...). */
const char *bl_reject_skip_name(enum bl_reject_skip s);

#endif /* BL_REJECT_H */
