/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore: receive, parse, distribute, fragment check, flow
 * lookup, verdict, transmit on the other port; run to completion in bursts.
 * The control side (daemon.c) builds each struct bl_worker and launches
 * bl_worker_main() on it; the worker touches nothing else.
 */
#ifndef BL_WORKER_H
#define BL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_spinlock.h>

#include "config.h"
#include "flow.h"
#include "frag.h"
#include "meter.h"
#include "parse.h"
#include "reject.h"
#include "stats.h"
#include "verdict.h"

#define BL_BURST      32
#define BL_TX_BUF     128 /* packets buffered per port before a flush */
#define BL_TX_RETRIES 8	  /* tx_burst attempts for leftovers before tx_full */
#define BL_MAX_RXQ    8	  /* (port, queue) pairs one worker polls */
#define BL_GEN_BUF    32  /* generated replies buffered per port before a flush */

struct rte_ring;
struct rte_mbuf;

/* Shared by the main lcore and the workers: the stop protocol. */
struct bl_run_ctl {
	volatile uint32_t stop_rx; /* main: stop polling the ports */
	uint32_t rx_stopped;	   /* workers that polled their last burst */
	uint32_t n_workers;
};

/* One TX queue a worker uses; `lock` set when workers share it. */
struct bl_txq {
	uint16_t port;
	uint16_t queue;
	rte_spinlock_t *lock;
};

/*
 * An event, passed from a worker to the main lcore's side through the
 * worker's `events` ring (single producer). Two uses share it:
 * - --verdicts (replay, run): one per judged packet (events_all);
 * - the EVE log (eventlog.h): one per FLOW DECISION worth recording (the
 *   first verdict of a flow under a generation that drops, rejects or met
 *   a `log` rule), flagged BL_EV_F_DECISION; never one per packet.
 */
struct bl_event {
	struct bl_flow_key key; /* family 0: no flow (malformed, non-IP) */
	uint8_t kind;		/* enum bl_event_kind */
	uint8_t worker;
	uint8_t verdict; /* enum bl_verdict */
	uint8_t l2class;
	uint16_t reason;    /* BL_REASON_* / drop reason */
	uint8_t action;	    /* enum bl_rt_action of the deciding rule (BL_RT_NONE: none) */
	uint8_t flags;	    /* BL_EV_F_* */
	uint32_t gen;	    /* policy generation that decided; 0: none */
	uint32_t rule_slot; /* counter slot of the deciding rule (0: default); BL_EV_NO_RULE */
	uint32_t log_slot;  /* slot of the `log` rule met on the way, or BL_EV_NO_RULE */
	uint16_t pkt_len;   /* bytes of the packet judged (capped at 65535) */
	uint16_t pad;
	uint64_t tsc; /* when it was judged (rte_rdtsc) */
};

#define BL_EV_F_DECISION 0x01 /* a flow decision for the EVE log */
#define BL_EV_F_REPLY	 0x02 /* the judged packet came from the responder */
#define BL_EV_F_OUTSIDE	 0x04 /* the judged packet arrived on the outside port */

#define BL_EV_NO_RULE UINT32_MAX

enum bl_event_kind {
	BL_EV_FLOW = 0, /* key is a flow key */
	BL_EV_FRAG,	/* later fragment: addresses and protocol, ports 0 */
	BL_EV_NOFLOW,	/* malformed or non-IP: no key */
};

/* The reason field of an event when no drop reason applies. */
#define BL_REASON_DEFAULT    0xffff /* the verdict seam's default */
#define BL_REASON_NONIP	     0xfffe /* the non-IP default (pass) */
#define BL_REASON_FOLLOW     0xfffd /* later fragment followed its first */
#define BL_REASON_UNTRACKED  0xfffc /* passed without a flow entry */
#define BL_REASON_FRAG_TABLE 0xfffb /* dropped by the fragment table */
#define BL_REASON_RULE	     0xfffa /* a policy rule decided */
#define BL_REASON_QUOTE	     0xfff9 /* ICMP error: followed the flow it quotes */

/* Per-worker context, built by the control side before launch. */
struct bl_worker {
	unsigned id;
	unsigned n_workers;
	bool sw_dist; /* distribute by software hash + rings */
	bool stage_timing;
	bool events_lossless; /* replay: wait for room rather than lose */
	bool events_all;      /* --verdicts: an event per judged packet, not only decisions */
	uint16_t port[2];     /* port ids: [0] inside, [1] outside */
	unsigned n_rxq;
	struct {
		uint16_t port, queue;
	} rxq[BL_MAX_RXQ];
	struct bl_txq txq[2];				  /* by side: 0 inside, 1 outside */
	struct rte_ring *ring_in[BL_CONFIG_MAX_WORKERS];  /* [src] -> me */
	struct rte_ring *ring_out[BL_CONFIG_MAX_WORKERS]; /* me -> [dst] */
	struct rte_ring *events; /* NULL: no events (neither --verdicts nor EVE) */
	struct bl_flow_table *flows;
	struct bl_frag_table *frags;
	unsigned frag_release_max;
	bool nonip_drop[BL_NONIP_MAX];
	struct bl_verdict_seam seam;
	struct bl_run_ctl *ctl;
	uint64_t tsc_hz;
	/*
	 * The express lane's lookahead (worker.c, lane_key()): a burst is keyed
	 * when it arrives and judged after the next poll, so the flow table
	 * lines it needs arrive meanwhile. `held` waits; `spare` receives.
	 */
	struct bl_ahead {
		struct rte_mbuf *pkts[BL_BURST];
		struct bl_flow_key keys[BL_BURST];
		uint32_t bytes[BL_BURST];
		uint32_t cand[BL_BURST]; /* candidate slots (second stage) */
		uint16_t n;		 /* packets held (0: none) */
		uint16_t nk;		 /* the leading ones keyed by the lane */
		bool slots;		 /* their slots requested (second stage done) */
		bool one_port;		 /* all came in on one port (an RX burst) */
		/* software distribution: parsed[i] when the private area of
		 * pkts[i] already holds its parse (spread() parsed it), so the
		 * long way does not parse it again; read only if any_parsed */
		bool any_parsed;
		uint8_t parsed[BL_BURST];
	} ahead[2], *held, *spare;
	/* worker-private scratch */
	uint16_t tx_n[2];
	struct rte_mbuf *tx_buf[2][BL_TX_BUF];
	/* packets the box generates (reject replies): built, limited and
	 * counted apart from forwarded ones (rej.stats, not stats.tx) */
	struct bl_reject rej;
	uint16_t gen_n[2];
	struct rte_mbuf *gen_buf[2][BL_GEN_BUF];
	struct bl_meter_stats meter_stats; /* outcomes of bl_meter_charge() */
	struct bl_worker_stats stats;
	/* Rule counters settled for readers (bl_worker_settle()): a reader
	 * adds a request, the worker settles its whole flow table in slices
	 * between bursts and then publishes the requests it served. */
	uint32_t settle_req;  /* readers: requests made (atomic) */
	uint32_t settle_done; /* worker: requests served (release) */
	uint32_t settle_want; /* worker: what the pass under way serves */
	uint32_t settle_pos;  /* worker: next slot of that pass (0: none) */
	bool running;	      /* worker: in its loop; cleared after its last settle */
} __attribute__((aligned(64)));

/* Bytes of mbuf private area the worker needs (the parse record). */
unsigned bl_worker_priv_size(void);

/*
 * The symmetric 32-bit hash of a packet's outermost address pair; equal for
 * both directions. Exposed for tests and for the control side.
 */
uint32_t bl_worker_sym_hash(const struct bl_pkt *p);

/* The 40-byte symmetric RSS key (0x6d5a repeated) for NICs with RSS. */
extern const uint8_t bl_sym_rss_key[40];

/*
 * The `reject` action for packet `m` (flow entry `e`, NULL when untracked):
 * build its replies (reject.h) and queue them out of the right ports; they
 * leave with this loop's TX flush. `m` itself is not consumed: the caller
 * drops it. Replies count as generated, never as forwarded.
 */
void bl_worker_reject(struct bl_worker *w, struct rte_mbuf *m, const struct bl_flow_entry *e,
		      uint64_t now);

/*
 * For a reader of the rule counters (any thread but the worker's): have
 * worker `w` settle every flow (bl_flow_settle()), so that its counters
 * hold every packet its flows were accounted before the call. Waits at
 * most `timeout_ms`; returns false if the worker did not finish in that
 * time (its counters then lag by at most one expiry sweep, a second). A
 * worker not running needs nothing: it settled all before it stopped.
 */
bool bl_worker_settle(struct bl_worker *w, unsigned timeout_ms);

/* The lcore entry point: arg is a struct bl_worker. Returns 0. */
int bl_worker_main(void *arg);

#endif /* BL_WORKER_H */
