/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's counters: per worker (written by that worker only, read
 * by the main lcore), per drop reason, per port; the accounting invariant
 * rx = forwarded + dropped + held (+ in handoff rings while running).
 */
#ifndef BL_STATS_H
#define BL_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "config.h"
#include "flow.h"
#include "frag.h"
#include "meter.h"
#include "parse.h"
#include "reject.h"

/*
 * Why a worker dropped a packet. The first BL_PARSE_OUTCOME_MAX entries are
 * the parser's malformed outcomes (entry 0, "ok", stays zero). Drops the
 * fragment table decides itself (later fragments, timeouts) are counted in
 * its own counters and reported with the prefix "frag_".
 */
enum bl_drop {
	BL_DROP_HDR_SPLIT = BL_PARSE_OUTCOME_MAX,	     /* headers straddle mbuf segments */
	BL_DROP_NONIP,					     /* + enum bl_nonip: configured drop */
	BL_DROP_HANDOFF_FULL = BL_DROP_NONIP + BL_NONIP_MAX, /* handoff ring full */
	BL_DROP_TX_FULL,				     /* TX queue still full after retries */
	BL_DROP_VERDICT,	    /* followed a dropped verdict (later fragment, ICMP error) */
	BL_DROP_FLOW_MIDSTREAM,	    /* TCP without SYN, midstream: drop */
	BL_DROP_FLOW_FULL,	    /* flow table full, no room made */
	BL_DROP_FRAG_TINY_FIRST,    /* first fragment too short for L4 */
	BL_DROP_FRAG_TCP_OFFSET1,   /* TCP fragment at offset 8 bytes */
	BL_DROP_FRAG_RELEASED_DROP, /* held fragment released by a dropped first */
	BL_DROP_POLICY,		    /* policy: drop (a rule or the default) */
	BL_DROP_REJECT,		    /* policy: reject (replies generated apart) */
	BL_DROP_RATELIMIT,	    /* policy: rate-limit, over the rate */
	BL_DROP_QUOTA,		    /* policy: quota used up (then drop/reject/rate) */
	BL_DROP_MAX
};

/* Stages timed with --stage-timing (TSC cycles per packet). */
enum bl_stage {
	BL_STAGE_PARSE = 0, /* rx burst, parse */
	BL_STAGE_DIST,	    /* symmetric hash, handoff enqueue/dequeue */
	BL_STAGE_FLOW,	    /* fragment check, flow lookup/update, verdict */
	BL_STAGE_TX,	    /* tx burst and retries */
	BL_STAGE_MAX
};

/* Counters of one worker; only that worker writes them. */
struct bl_worker_stats {
	uint64_t rx;	      /* received from a port by this worker */
	uint64_t tx;	      /* accepted by rte_eth_tx_burst */
	uint64_t handoff_out; /* enqueued to another worker */
	uint64_t handoff_in;  /* dequeued from another worker */
	uint64_t nonip_pass[BL_NONIP_MAX];
	uint64_t untracked_pass; /* passed without a flow entry (stateless/midstream pass) */
	uint64_t frag_followed;	 /* later fragments that followed their first */
	uint64_t frag_released;	 /* held fragments released by their first */
	uint64_t events_lost;	 /* verdict events that found the ring full */
	uint64_t drop[BL_DROP_MAX];
	uint64_t stage_cycles[BL_STAGE_MAX];
	uint64_t stage_pkts[BL_STAGE_MAX];
} __attribute__((aligned(64)));

/* Name of a drop reason ("trunc_ipv4", "nonip_arp", "tx_full", ...). */
const char *bl_drop_name(unsigned reason);
const char *bl_stage_name(enum bl_stage s);

/* Indices in struct bl_frag_counters of the drops the fragment table makes. */
#define BL_FRAG_TABLE_DROPS 6
extern const unsigned bl_frag_table_drop_idx[BL_FRAG_TABLE_DROPS];

/* Port counters as the driver reports them. */
struct bl_port_stats {
	char name[64];
	uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
};

/* Packets and bytes of one policy rule (by name), summed over workers. */
struct bl_stats_rule {
	char name[64];
	uint64_t packets, bytes;
};

/* Everything at one instant, gathered by the main lcore. */
struct bl_stats_snapshot {
	unsigned n_workers;
	struct bl_worker_stats w[BL_CONFIG_MAX_WORKERS];
	struct bl_flow_counters flow[BL_CONFIG_MAX_WORKERS];
	struct bl_frag_counters frag[BL_CONFIG_MAX_WORKERS];
	uint32_t flows_live[BL_CONFIG_MAX_WORKERS];
	uint32_t frag_held[BL_CONFIG_MAX_WORKERS];
	struct bl_reject_stats rej[BL_CONFIG_MAX_WORKERS];  /* generated replies */
	struct bl_meter_stats meter[BL_CONFIG_MAX_WORKERS]; /* rate-limit and quota outcomes */
	struct bl_port_stats port[2];
	uint64_t in_rings;	     /* packets sitting in handoff rings */
	uint64_t generated;	     /* packets the box made itself (none yet) */
	struct bl_stats_rule *rules; /* malloc'd: bl_stats_snapshot_release() */
	uint32_t n_rules;
	/* a worker did not settle its flows in time: the rule counters lag by
	 * at most one expiry sweep (worker.h, bl_worker_settle()) */
	bool rules_lag;
	uint32_t policy_gen; /* generation of the published policy */
	/* the EVE log (eventlog.h): lines written, suppressed by the per-rule
	 * rate, failed writes; lost = sum of the workers' events_lost */
	uint64_t events_written, events_suppressed, event_write_errors;
	/* the shared meter table: live (subscriber, rule) slots, reclaimed ones,
	 * and reclaimed ones charged late (bl_meters_late()) */
	uint32_t meter_slots;
	uint64_t meter_reclaimed, meter_late_merged, meter_late_lost;
};

/* Free what a snapshot holds besides itself (the rule counters). */
void bl_stats_snapshot_release(struct bl_stats_snapshot *s);

/* Totals over workers, and the accounting check. */
struct bl_stats_totals {
	uint64_t rx, tx, dropped, held, in_rings;
	uint64_t drop[BL_DROP_MAX];
	uint64_t frag_drop[BL_FRAG_TABLE_DROPS];
	bool balanced; /* rx == tx + dropped + held + in_rings */
};

/* Sum the workers of `s` into `t` and check the invariant. */
void bl_stats_totals(const struct bl_stats_snapshot *s, struct bl_stats_totals *t);

/* Human-readable counters. */
void bl_stats_print(const struct bl_stats_snapshot *s, FILE *f);

/* The same as one JSON object (new reference, NULL: no memory); the
 * `stats` reply of the control socket and the --stats-json file. */
json_t *bl_stats_json(const struct bl_stats_snapshot *s);

/* The same as one JSON object in `path`. 0 or -errno. */
int bl_stats_write_json(const struct bl_stats_snapshot *s, const char *path);

#endif /* BL_STATS_H */
