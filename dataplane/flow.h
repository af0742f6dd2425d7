/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker flow table: one table per worker lcore, owned by that worker
 * alone (no locks, no atomics), sized at start-up (no allocation per packet).
 *
 * Key. A flow is the 5-tuple of the OUTERMOST IP layer (bl_pkt.l3[0]) plus
 * the outermost VLAN id (0 when untagged), so that overlapping address spaces
 * behind different VLANs stay apart. Tunnelled traffic is therefore tracked
 * per tunnel endpoint pair; the inner layers are for the classifier. The two
 * endpoints are stored in canonical order ((address, port) compared as
 * bytes, smaller first) so both directions give the same key; `side` tells
 * which endpoint sent this packet, and the entry remembers which side
 * initiated (BL_FLOW_F_INIT1 in its flags), so bl_flow_dir() is 0 for the
 * initiator's packets ("orig") and 1 for the replies.
 * Ports: TCP, UDP, SCTP ports; ICMP/ICMPv6 echo request/reply use the
 * identifier for both ports (the parser gives it as sport, dport = 0) so the
 * request and the reply meet; any other protocol or ICMP type has ports 0.
 * Non-first fragments have no ports and no flow key: they go to frag.h.
 *
 * Use, per burst (see bl_flow_lookup_burst for the order):
 *   for each packet: bl_flow_key_build(&pkt, &keys[i]);
 *   bl_flow_lookup_burst(t, keys, n, now, entries);
 *   for each packet: bl_flow_update(t, &keys[i], &entries[i], bytes, now);
 *   once per loop:   bl_flow_expire(t, now, budget);
 * The worker first runs a burst through its express lane, in three stages
 * a poll apart: bl_flow_key_frames() (keys straight from the frames, their
 * buckets requested), bl_flow_prefetch_slots() (their slots requested),
 * bl_flow_express_burst() (lookups, and updates of the packets of allowed
 * flows). What the lane refuses goes the long way with its lookups:
 * bl_flow_key_build_prefetch() for packets without a key (the key, and its
 * bucket requested at once), then bl_flow_track_burst() (the lookups not
 * yet made and the updates, in one call).
 *
 * TCP state is tracked from flags only (SYN, SYN-ACK, ACK, FIN each side,
 * RST); there is no sequence-window check. Times are TSC cycles passed in by
 * the caller (`now`), never read here, so tests drive a fake clock.
 */
#ifndef BL_FLOW_H
#define BL_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

/* Keys bl_flow_lookup_burst pipelines together (larger n: in chunks). */
#define BL_FLOW_BURST_MAX 64

/*
 * Bytes of struct bl_flow_key that are hashed and compared: 40 bytes of
 * tuple padded to 48 (six 64-bit words), stored in the second cache line
 * of the flow's entry (struct bl_flow_entry.key).
 */
#define BL_FLOW_KEY_LEN 48

/*
 * A flow key, built by bl_flow_key_build(). The first BL_FLOW_KEY_LEN bytes
 * are the key proper (zero padded); the rest is per-packet information the
 * builder computes once so the table does not recompute it.
 */
struct bl_flow_key {
	/* hashed part */
	uint8_t family;	     /* 4 or 6 */
	uint8_t proto;	     /* L4 protocol of l3[0] */
	uint16_t vlan;	     /* outermost VLAN id, 0 when untagged */
	uint16_t port[2];    /* port of endpoint 0 and 1 (host order) */
	uint8_t addr[2][16]; /* endpoint addresses, canonical order; IPv4 in the first 4 */
	uint8_t zero[8];     /* always 0: pads the key to BL_FLOW_KEY_LEN */
	/* not hashed */
	uint32_t hash;	   /* hash of the first BL_FLOW_KEY_LEN bytes */
	uint8_t side;	   /* endpoint (0/1) that sent this packet */
	uint8_t tcp_flags; /* TCP flags of this packet (0 for non-TCP) */
	uint16_t pad;	   /* 0 */
};

/* enum bl_flow_state: where a flow is. */
enum bl_flow_state {
	BL_FLOW_NEW = 0,     /* UDP/other: seen from the initiator only */
	BL_FLOW_ACTIVE,	     /* UDP/other: seen both ways */
	BL_FLOW_SYN_SENT,    /* TCP: SYN from the initiator */
	BL_FLOW_SYN_RECV,    /* TCP: SYN-ACK from the responder */
	BL_FLOW_ESTABLISHED, /* TCP: handshake ACK seen (or tracked midstream) */
	BL_FLOW_FIN_WAIT,    /* TCP: FIN from one side */
	BL_FLOW_CLOSING,     /* TCP: FIN from both sides, last ACK pending */
	BL_FLOW_CLOSED,	     /* TCP: last ACK or RST seen; kept until it times out */
	BL_FLOW_STATE_MAX
};

/* struct bl_flow_entry.flags */
#define BL_FLOW_F_MIDSTREAM	0x01 /* first packet seen was not a SYN */
#define BL_FLOW_F_FIN_ORIG	0x02 /* FIN seen from the initiator */
#define BL_FLOW_F_FIN_REPLY	0x04 /* FIN seen from the responder */
#define BL_FLOW_F_LASTFIN_REPLY 0x08 /* the second FIN came from the responder */
#define BL_FLOW_F_TCP		0x10 /* proto is TCP (state machine applies) */
/* the slot holds a flow (in the first line, which expiry reads; set and
 * cleared by the table) */
#define BL_FLOW_F_LIVE		0x20
#define BL_FLOW_F_INIT1		0x40 /* key endpoint 1 initiated (else endpoint 0) */

/* Verdict slot value meaning "not judged yet"; other values are policy's. */
#define BL_FLOW_VERDICT_NONE 0

/*
 * One flow: two cache lines, and the table's slot itself (the table keeps
 * no other copy of the key). The worker reads and writes the verdict slot;
 * everything else is maintained by bl_flow_update().
 * dir index: 0 = from the initiator (orig), 1 = from the responder (reply).
 * The first line holds what a packet of an established flow reads and
 * writes, and for IPv4 flows (most of them) a compact copy of the key,
 * so that looking such a packet up and accounting it touch this line only
 * (and its bucket): README, "Flow table". The second holds the full key
 * and what only new flows, deletes and the long way read.
 */
struct bl_flow_entry {
	/* line 1 */
	uint64_t last_tsc;    /* last packet seen, TSC */
	uint64_t pkts[2];     /* per dir */
	uint64_t bytes[2];    /* per dir */
	uint32_t verdict_gen; /* policy generation that set `verdict` */
	uint16_t rule_slot;   /* counter slot of rule_id: the flow's packets count
				 to their rule without reading the policy's rules */
	uint8_t verdict;      /* BL_FLOW_VERDICT_NONE or the policy's action */
	uint8_t state;	      /* enum bl_flow_state */
	uint8_t flags;	      /* BL_FLOW_F_* */
	/* internal: the compact key (flow.c) */
	uint8_t ck_w[7]; /* bytes 1-7 of the key: protocol, VLAN, ports */
	uint64_t ck_ad;	 /* the two IPv4 addresses */
	/* line 2 */
	uint64_t key[6]; /* internal: the hashed part of the flow's key */
	uint32_t hash;	 /* key hash (for delete without rehash) */
	/* internal: the packets (mod 2^32) and bytes (mod 2^40, little-endian)
	 * of both directions already counted to a rule (bl_flow_settle()) */
	uint32_t settled_pkts;
	uint16_t rule_id; /* rule that decided */
	uint8_t tclass;	  /* timeout class (internal) */
	uint8_t settled_bytes[5];
} __attribute__((aligned(64)));

/*
 * Packets and bytes counted to one rule on one worker (a counter slot of
 * the policy, policy_rt.h). A flow's packets reach their rule's counter
 * through the flow table: bl_flow_set_rule_counters().
 */
struct bl_rule_ctr {
	uint64_t packets;
	uint64_t bytes;
};

/* What to do with a TCP packet that is not a SYN and has no entry. */
enum bl_flow_midstream {
	BL_FLOW_MIDSTREAM_TRACK = 0, /* create an entry flagged midstream */
	BL_FLOW_MIDSTREAM_DROP,	     /* drop, counted */
	BL_FLOW_MIDSTREAM_PASS,	     /* pass without an entry, counted */
};

/* What to do with a new flow when the table is full. */
enum bl_flow_full_policy {
	BL_FLOW_FULL_DROP_NEW = 0, /* drop the new flow's packet, counted */
	BL_FLOW_FULL_EVICT_IDLE,   /* evict a flow idle >= evict_idle_s, else drop */
	BL_FLOW_FULL_STATELESS,	   /* pass without an entry, counted */
};

/* Table configuration. Timeouts in seconds; bl_flow_config_defaults() first. */
struct bl_flow_config {
	const char *name;		  /* names the table's memory zones */
	int socket_id;			  /* NUMA socket of the worker (SOCKET_ID_ANY ok) */
	uint32_t max_flows;		  /* live entries at most (>= 8) */
	uint64_t tsc_hz;		  /* 0: rte_get_tsc_hz(); tests pass their own */
	uint32_t timeout_tcp_established; /* ESTABLISHED */
	uint32_t timeout_tcp_transient;	  /* SYN_*, FIN_WAIT, CLOSING, CLOSED */
	uint32_t timeout_udp;		  /* UDP (NEW or ACTIVE) */
	uint32_t timeout_other;		  /* ICMP and any other protocol */
	enum bl_flow_midstream midstream;
	enum bl_flow_full_policy full_policy;
	uint32_t evict_idle_s; /* evict-idle: only flows idle this long (>= 1) */
	uint32_t evict_probe;  /* evict-idle: slots probed per new flow */
};

/*
 * Counters of one table, in the order of bl_flow_counter_names[]; read them
 * as an array of BL_FLOW_NCOUNTERS uint64_t via bl_flow_counter_value().
 */
struct bl_flow_counters {
	uint64_t lookups;	    /* keys looked up */
	uint64_t hits;		    /* keys found */
	uint64_t inserts;	    /* entries created */
	uint64_t insert_fail_full;  /* new flow found the table full (any policy) */
	uint64_t new_dropped_full;  /* ... and its packet was dropped */
	uint64_t stateless_passed;  /* ... and its packet passed without an entry */
	uint64_t evicted_idle;	    /* idle entries evicted to make room */
	uint64_t expired;	    /* entries deleted by idle timeout */
	uint64_t removed;	    /* entries deleted by bl_flow_remove() */
	uint64_t midstream_tracked; /* non-SYN TCP without entry: entry created */
	uint64_t midstream_dropped; /* ... dropped */
	uint64_t midstream_passed;  /* ... passed without an entry */
	uint64_t tcp_syn;	    /* flows opened by a SYN */
	uint64_t tcp_syn_recv;	    /* SYN-ACK seen */
	uint64_t tcp_established;   /* handshake completed */
	uint64_t tcp_fin;	    /* FINs that changed state */
	uint64_t tcp_closed_fin;    /* flows closed by FIN/FIN/ACK */
	uint64_t tcp_rst;	    /* flows closed by RST */
	uint64_t tcp_reopened;	    /* SYN on a CLOSED flow: entry reused, verdict reset */
	uint64_t udp_active;	    /* UDP/other flows that saw a reply */
};

#define BL_FLOW_NCOUNTERS (sizeof(struct bl_flow_counters) / sizeof(uint64_t))

/* Stable counter names ("lookups", "hits", ...), BL_FLOW_NCOUNTERS of them. */
extern const char *const bl_flow_counter_names[];

/* Outcome of bl_flow_update() for one packet. */
enum bl_flow_outcome {
	BL_FLOW_TRACKED = 0,	/* *entry is valid (found or just created) */
	BL_FLOW_PASS_UNTRACKED, /* no entry (midstream pass or full+stateless): judge statelessly */
	BL_FLOW_DROP_MIDSTREAM, /* drop: non-SYN TCP without entry, policy drop */
	BL_FLOW_DROP_FULL,	/* drop: table full and no room could be made */
	BL_FLOW_OUTCOME_MAX
};

struct bl_flow_table; /* opaque, one per worker */

/* Fill `c` with the defaults (1M flows, 3600/120/60/30 s, track, drop-new). */
void bl_flow_config_defaults(struct bl_flow_config *c);

/*
 * Create a table on the config's socket: max_flows slots (key and entry)
 * and their buckets, all allocated here. Call from the control
 * thread before the worker starts. Returns NULL with errno on failure.
 */
struct bl_flow_table *bl_flow_create(const struct bl_flow_config *c);

/* Free a table (NULL is fine). Only once its worker has stopped. */
void bl_flow_free(struct bl_flow_table *t);

/*
 * Build the flow key of a parsed packet from l3[0] and vlan[0]: canonical
 * endpoint order, side, tcp flags and hash. Returns 0, or -ENOENT when the
 * packet has no flow key (not IP, parse failed before l3[0], or a non-first
 * fragment: use frag.h). Pure: any thread, no table needed.
 */
int bl_flow_key_build(const struct bl_pkt *p, struct bl_flow_key *k);

/*
 * Same for one given IP layer (e.g. the header quoted by an ICMP error, to
 * find the flow it belongs to) and VLAN id.
 */
int bl_flow_key_from_l3(const struct bl_l3 *l3, uint16_t vlan, struct bl_flow_key *k);

/*
 * bl_flow_key_build(), then, when it built a key, request the cache line
 * where bl_flow_lookup_burst() will first look for it (its bucket). The
 * worker builds each key this way, so the line arrives while the rest of
 * the burst's keys are built.
 */
int bl_flow_key_build_prefetch(const struct bl_flow_table *t, const struct bl_pkt *p,
			       struct bl_flow_key *k);

/*
 * The express lane's key: straight from a frame, without the per-packet
 * record. `len` bytes at `d` are readable, `wire_len` is the frame's length
 * (bl_parse()'s arguments). For a frame the parser's fast path takes
 * (parse_fast.h: Ethernet, up to two VLAN tags, IPv4 without options and
 * not a fragment or IPv6 without extension headers, TCP or plain UDP),
 * builds into `k` the key bl_flow_key_build() would build from
 * bl_parse()'s record, requests its bucket like
 * bl_flow_key_build_prefetch(), and returns 0; any other frame: -ENOENT,
 * `k` unspecified (the caller parses it the long way).
 */
int bl_flow_key_frame(const struct bl_flow_table *t, const uint8_t *d, uint32_t len,
		      uint32_t wire_len, struct bl_flow_key *k);

/*
 * bl_flow_key_frame() over a burst of mbufs (their first segment, wire
 * length pkt_len) from the first, up to the first frame it declines:
 * keys[i] and bytes[i] (pkt_len) for each i below the returned count. One
 * call per burst, so the per-packet work is inlined in one loop.
 */
struct rte_mbuf;
unsigned bl_flow_key_frames(const struct bl_flow_table *t, struct rte_mbuf *const *pkts, unsigned n,
			    struct bl_flow_key *keys, uint32_t *bytes);

/*
 * The second stage of a lookup, ahead of it: for each key whose bucket was
 * requested a while ago (bl_flow_key_frame()), match its signature and
 * request the candidate slot's lines; cand[i] is that slot, or
 * BL_FLOW_NO_CAND when the primary bucket holds no way with the key's
 * signature. Reads only, and a hint: the slot may be freed or reused
 * before the lookup, which compares the key before trusting it.
 */
#define BL_FLOW_NO_CAND UINT32_MAX
void bl_flow_prefetch_slots(const struct bl_flow_table *t, const struct bl_flow_key *keys,
			    unsigned n, uint32_t *cand);

/*
 * Look up `n` keys (any n; done in bulks of BL_FLOW_BURST_MAX) with their
 * precomputed hashes and set out[i] to the entry or NULL on a miss. Found
 * entries are prefetched. Nothing is created or changed here except the
 * lookups/hits counters: call bl_flow_update() for every packet afterwards,
 * in packet order, hits and misses alike. Returns the number of hits.
 */
unsigned bl_flow_lookup_burst(struct bl_flow_table *t, const struct bl_flow_key *keys, unsigned n,
			      uint64_t now, struct bl_flow_entry **out);

/*
 * Account one packet of `bytes` to its flow and advance its state. With
 * *entry NULL (a miss) it looks again (an earlier packet of the same burst
 * may have created the flow; likewise when an entry was deleted since the
 * bulk lookup, so a stale hit is never used), then creates the entry following the
 * midstream and full-table policies, and stores it in *entry. Returns what
 * the worker must do; every non-TRACKED outcome has been counted.
 * An entry stays valid until the next bl_flow_expire() or bl_flow_remove();
 * evict-idle never takes an entry updated in the same burst (it was just
 * seen, so it is not idle).
 */
enum bl_flow_outcome bl_flow_update(struct bl_flow_table *t, const struct bl_flow_key *k,
				    struct bl_flow_entry **entry, uint32_t bytes, uint64_t now);

/*
 * The worker's express lane: look up `n` keys and account, in order, each
 * packet whose flow exists, holds `verdict` set by policy generation `gen`,
 * carries no TCP SYN, FIN or RST (so that bl_flow_update() cannot clear the
 * verdict), and has no packet of its flow refused earlier in the burst
 * (per-flow order; past BL_FLOW_BURST_MAX refused flows nothing more is
 * taken). taken[i] says which; returns how many. out[i] is every packet's
 * lookup (entry or NULL). The packets not taken are untouched and
 * uncounted: the caller gives them, with their lookups, to
 * bl_flow_track_burst() (`looked`), after the taken ones of the burst.
 * `cand`: NULL, or the candidates bl_flow_prefetch_slots() gave for these
 * keys a while ago; then each lookup starts from its candidate and skips
 * the prefetch passes (the answer is the same either way, only the speed
 * differs).
 */
unsigned bl_flow_express_burst(struct bl_flow_table *t, const struct bl_flow_key *keys,
			       const uint32_t *bytes, unsigned n, uint64_t now, uint8_t verdict,
			       uint32_t gen, const uint32_t *cand, struct bl_flow_entry **out,
			       uint8_t *taken);

/*
 * bl_flow_lookup_burst() then bl_flow_update() for each key in order, in
 * one call (the worker's per-burst path): packet i has `bytes[i]` bytes;
 * entries[i] and outcomes[i] (enum bl_flow_outcome) are what
 * bl_flow_update() would have left and returned.
 * The first `looked` keys come with their lookup already in entries[]:
 * the packets bl_flow_express_burst() refused in this burst (it looked
 * them up without counting, and nothing is deleted in between), so they
 * are not looked up twice; they are counted here. 0: look up all.
 */
void bl_flow_track_burst(struct bl_flow_table *t, const struct bl_flow_key *keys,
			 const uint32_t *bytes, unsigned n, unsigned looked, uint64_t now,
			 struct bl_flow_entry **entries, uint8_t *outcomes);

/*
 * Incremental expiry: examine at most `budget` slots from where the last
 * call stopped (a clock hand over the entry array) and delete entries idle
 * longer than their state's timeout. Every slot examined is a cache line:
 * pace the calls (see bl_flow_expire_budget). Returns the number deleted.
 */
unsigned bl_flow_expire(struct bl_flow_table *t, uint64_t now, unsigned budget);

/*
 * The budget per bl_flow_expire() call that sweeps the whole table in
 * `calls` calls (at least 1 slot). An idle entry then goes at most `calls`
 * calls after its timeout.
 */
unsigned bl_flow_expire_budget(const struct bl_flow_table *t, unsigned calls);

/* Delete one flow now (e.g. after a reject). 0 or -ENOENT. */
int bl_flow_remove(struct bl_flow_table *t, struct bl_flow_entry *e);

/* Live entries in the table. */
uint32_t bl_flow_count(const struct bl_flow_table *t);

/*
 * Live flows placed in their second bucket because the first was full: a
 * walk over every bucket, for tests and status, never the fast path.
 */
uint32_t bl_flow_spilled(const struct bl_flow_table *t);

/* The table's counters (read by its worker, or while it is stopped). */
const struct bl_flow_counters *bl_flow_counters(const struct bl_flow_table *t);

/* Counter `i` (< BL_FLOW_NCOUNTERS) of `c`, in bl_flow_counter_names order. */
uint64_t bl_flow_counter_value(const struct bl_flow_counters *c, unsigned i);

/* Direction of a packet within its flow: 0 from the initiator, 1 reply. */
static inline unsigned bl_flow_dir(const struct bl_flow_entry *e, const struct bl_flow_key *k)
{
	return (k->side ^ (e->flags / BL_FLOW_F_INIT1)) & 1;
}

/* Key endpoint (0/1) that initiated flow `e`. */
static inline unsigned bl_flow_init_side(const struct bl_flow_entry *e)
{
	return (e->flags / BL_FLOW_F_INIT1) & 1;
}

/* Record the policy's judgement of a flow (the verdict slot). */
static inline void bl_flow_verdict_set(struct bl_flow_entry *e, uint8_t verdict, uint32_t gen,
				       uint16_t rule_id, uint32_t rule_slot)
{
	e->verdict = verdict;
	e->verdict_gen = gen;
	e->rule_id = rule_id;
	e->rule_slot = (uint16_t)rule_slot; /* slots are < 65536 (policy_rt.h) */
}

/*
 * Rule counters folded from the flows' own counts. Every packet accounted
 * to a flow counts to the rule of the flow's verdict (`rule_slot`) when the
 * flow is settled: the packets it received since its last settle are added
 * to that counter at once. A packet of an established flow thus touches
 * no rule counter (README, "Rule counters"). Flows are settled when they
 * are deleted (expiry, eviction, removal), reopened, judged again, by the
 * expiry sweep (each live flow about once a second) and by
 * bl_flow_settle_slots() (a worker's pass on a reader's request). A flow
 * without a verdict counts to no rule. NULL: count nowhere (the flows are
 * still settled).
 */
void bl_flow_set_rule_counters(struct bl_flow_table *t, struct bl_rule_ctr *ctr);

/* Settle flow `e` (live): its unsettled packets to its rule's counter. */
void bl_flow_settle(struct bl_flow_table *t, struct bl_flow_entry *e);

/*
 * Settle slots [pos, pos + n) (clipped to the table); returns the next
 * slot, 0 after the last (a whole pass is done).
 */
uint32_t bl_flow_settle_slots(struct bl_flow_table *t, uint32_t pos, uint32_t n);

/*
 * Judge flow `e` for one of this burst's packets, all of which are already
 * accounted: `tail_pkts` and `tail_bytes` are this burst's packets of `e`
 * from the judged one on. When the flow had a verdict (an older policy
 * generation's), the packets before those count to its old rule; the
 * rest count to the new one. Then bl_flow_verdict_set().
 */
void bl_flow_judge(struct bl_flow_table *t, struct bl_flow_entry *e, uint8_t verdict, uint32_t gen,
		   uint16_t rule_id, uint32_t rule_slot, uint32_t tail_pkts, uint64_t tail_bytes);

/*
 * A packet of `bytes` accounted to `e` that must count to no rule through
 * it (an ICMP error quoting another flow: counted apart or not at all).
 */
void bl_flow_uncount(struct bl_flow_entry *e, uint32_t bytes);

/*
 * For the control thread while the worker runs (blctl flows): copy the next
 * live flow at or after slot *cursor into *k and *e, and set *cursor past
 * it. Reads only, never writes: the slot array (keys and entries) is
 * fixed for the table's life, so a racing worker can at worst make a
 * copy inconsistent; two copies must agree and the key must hash to the
 * entry's hash, else the slot is skipped and counted in *skipped.
 * Returns 0, or -ENOENT past the last slot.
 */
int bl_flow_peek(const struct bl_flow_table *t, uint32_t *cursor, struct bl_flow_key *k,
		 struct bl_flow_entry *e, uint64_t *skipped);

/* Short stable names, and parsers for the config strings. */
const char *bl_flow_state_name(enum bl_flow_state s);
const char *bl_flow_outcome_name(enum bl_flow_outcome o);
const char *bl_flow_midstream_name(enum bl_flow_midstream m);
const char *bl_flow_full_policy_name(enum bl_flow_full_policy p);
/* "track"|"drop"|"pass" -> enum value, or -EINVAL. */
int bl_flow_midstream_parse(const char *s);
/* "drop-new"|"evict-idle"|"stateless" -> enum value, or -EINVAL. */
int bl_flow_full_policy_parse(const char *s);

#endif /* BL_FLOW_H */
