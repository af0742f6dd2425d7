/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker IP fragment table: the first fragment decides for the whole
 * datagram, later fragments follow its fate. Originals are forwarded
 * unchanged; nothing is reassembled or re-fragmented.
 *
 * A datagram is keyed by (family, protocol, outermost VLAN id, src, dst,
 * fragment id) of the OUTERMOST fragmented IP layer (the first l3[i] with
 * BL_L3_FRAG; IPv6 atomic fragments are not fragments). Later fragments that
 * arrive before their first are HELD (the mbuf pointer is kept, within a
 * total and a per-datagram budget) until the first is judged, then handed
 * back to the caller in arrival order; or dropped and freed at timeout.
 *
 * Use in the worker:
 *   r = bl_frag_check_first(&pkt)       any fragment, before judging it
 *   first fragment (offset 0, MF):      judge it like any packet, then
 *       bl_frag_first(t, &key, verdict, drop, now, released, max)
 *       and transmit (verdict) or free (drop) the released mbufs
 *   later fragment:                     bl_frag_later(t, &key, m, now, &v)
 *   once per loop:                      bl_frag_expire(t, now, budget)
 *
 * One table per worker, owned by it alone: no locks, nothing allocated per
 * packet. Times are TSC cycles passed in by the caller.
 */
#ifndef BL_FRAG_H
#define BL_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

struct rte_mbuf;

/* Bytes of struct bl_frag_key that are hashed and compared. */
#define BL_FRAG_KEY_LEN 40

/*
 * A datagram key plus this fragment's place in it, built by
 * bl_frag_key_build(). Only the first BL_FRAG_KEY_LEN bytes are the key.
 */
struct bl_frag_key {
	/* hashed part */
	uint8_t family; /* 4 or 6 */
	uint8_t proto;	/* protocol after extension headers */
	uint16_t vlan;	/* outermost VLAN id, 0 when untagged */
	uint32_t id;	/* IPv4 id or IPv6 identification */
	uint8_t src[16];
	uint8_t dst[16];
	/* not hashed: this fragment */
	uint32_t hash;
	uint16_t off; /* fragment offset, bytes */
	uint16_t len; /* fragment payload length, bytes */
	uint8_t mf;   /* more fragments follow */
	uint8_t pad[3];
};

/* Why a fragment is refused before judging (bl_frag_check_first). */
enum bl_frag_reason {
	BL_FRAG_OK = 0,
	BL_FRAG_NOT_FRAGMENT, /* no real fragment (also IPv6 atomic fragments) */
	BL_FRAG_TINY_FIRST,   /* first fragment too short for the L4 header:
				  TCP < 20 (or < its data offset), UDP < 8,
				  ICMP/ICMPv6 < 8, SCTP < 12 (RFC 1858, RFC 8200 4.5) */
	BL_FRAG_TCP_OFFSET1,  /* TCP fragment at offset 8 bytes (RFC 1858 3.2) */
	BL_FRAG_REASON_MAX
};

/* Outcome of bl_frag_later() for one non-first fragment. */
enum bl_frag_result {
	BL_FRAG_FOLLOW = 0, /* first judged, not dropped: act on *verdict_out */
	BL_FRAG_HELD,	    /* the table owns the mbuf now; do not touch it */
	BL_FRAG_DROP,	    /* drop (reason counted); the caller frees the mbuf */
	BL_FRAG_RESULT_MAX
};

/* Table configuration; bl_frag_config_defaults() first. */
struct bl_frag_config {
	const char *name; /* rte_hash name, unique per process */
	int socket_id;
	uint32_t max_datagrams;	     /* datagrams tracked at once (>= 8) */
	uint32_t max_held;	     /* held fragment mbufs in total (0: never hold) */
	uint32_t max_held_per_dgram; /* held fragments per datagram */
	uint32_t timeout_s;	     /* datagram lifetime from its first fragment seen */
	uint64_t tsc_hz;	     /* 0: rte_get_tsc_hz() */
};

/* Counters, in the order of bl_frag_counter_names[]. */
struct bl_frag_counters {
	uint64_t firsts;	     /* first fragments recorded */
	uint64_t laters;	     /* later fragments seen */
	uint64_t followed;	     /* later fragments that followed a pass verdict */
	uint64_t held;		     /* later fragments held before their first */
	uint64_t released;	     /* held fragments handed back when the first came */
	uint64_t completed;	     /* datagrams fully seen and deleted */
	uint64_t drop_tiny_first;    /* reason BL_FRAG_TINY_FIRST (bl_frag_count_reason) */
	uint64_t drop_tcp_offset1;   /* reason BL_FRAG_TCP_OFFSET1 (bl_frag_count_reason) */
	uint64_t drop_follow_drop;   /* later fragment of a dropped first */
	uint64_t drop_hold_budget;   /* held budget of the table exhausted */
	uint64_t drop_dgram_limit;   /* held fragments per datagram exceeded */
	uint64_t drop_timeout;	     /* held fragments freed at timeout */
	uint64_t drop_overlap_first; /* later fragment overlapping the first's bytes */
	uint64_t drop_table_full;    /* no datagram entry could be created */
	uint64_t first_duplicate;    /* first fragment seen again, same verdict */
	uint64_t first_conflict;     /* ... with another verdict: datagram dropped */
	uint64_t timeouts;	     /* datagram entries deleted at timeout */
	uint64_t first_no_room;	     /* first fragment judged but no entry could be made */
};

#define BL_FRAG_NCOUNTERS (sizeof(struct bl_frag_counters) / sizeof(uint64_t))

/* Stable counter names, BL_FRAG_NCOUNTERS of them. */
extern const char *const bl_frag_counter_names[];

struct bl_frag_table; /* opaque, one per worker */

/* Defaults: 4096 datagrams, 1024 held, 64 per datagram, 30 s. */
void bl_frag_config_defaults(struct bl_frag_config *c);

/* Create a table (off the fast path). NULL with errno on failure. */
struct bl_frag_table *bl_frag_create(const struct bl_frag_config *c);

/* Free a table and every mbuf it still holds (NULL is fine). */
void bl_frag_free(struct bl_frag_table *t);

/*
 * Check a fragment before judging it: tiny first fragment, TCP fragment at
 * offset 1 (8 bytes). Pure, no table. Call it also when the parse outcome
 * is TRUNC_TCP/BAD_TCP_DOFF/TRUNC_UDP/TRUNC_ICMP/TRUNC_SCTP: on a first
 * fragment those are reported as BL_FRAG_TINY_FIRST (the parser stopped
 * inside the L4 header). BL_FRAG_NOT_FRAGMENT for anything
 * that is not a real fragment. A refused first fragment should still be
 * recorded with bl_frag_first(..., drop = true) so its later fragments
 * follow the drop; count the reason with bl_frag_count_reason().
 */
enum bl_frag_reason bl_frag_check_first(const struct bl_pkt *p);

/* Count a refusal reason from bl_frag_check_first() in the table. */
void bl_frag_count_reason(struct bl_frag_table *t, enum bl_frag_reason r);

/*
 * Build the datagram key and this fragment's offset/length from the
 * outermost fragmented layer. 0, or -ENOENT when `p` is not a fragment.
 */
int bl_frag_key_build(const struct bl_pkt *p, struct bl_frag_key *k);

/*
 * Record the judgement of a first fragment (`drop` true when the verdict
 * drops it). Held later fragments of the datagram are handed back in
 * arrival order in released[] (at most `max` of them; pass max >=
 * config.max_held_per_dgram): the caller transmits them with the verdict
 * or frees them when `drop`. Held fragments overlapping the first's bytes
 * are freed here and counted. Returns the number released, or -ENOSPC
 * when no entry could be made (later fragments then wait and time out).
 */
int bl_frag_first(struct bl_frag_table *t, const struct bl_frag_key *k, uint8_t verdict, bool drop,
		  uint64_t now, struct rte_mbuf **released, unsigned max);

/*
 * A non-first fragment `m`: FOLLOW with the first's verdict in
 * *verdict_out, HELD (the table keeps `m`), or DROP (counted; the caller
 * frees `m`).
 */
enum bl_frag_result bl_frag_later(struct bl_frag_table *t, const struct bl_frag_key *k,
				  struct rte_mbuf *m, uint64_t now, uint8_t *verdict_out);

/*
 * Incremental expiry: examine at most `budget` slots from the clock hand,
 * delete datagrams older than the timeout and free their held mbufs
 * (counted as drop_timeout). Returns the number of datagrams deleted.
 */
unsigned bl_frag_expire(struct bl_frag_table *t, uint64_t now, unsigned budget);

/* Datagrams tracked and mbufs held right now. */
uint32_t bl_frag_count(const struct bl_frag_table *t);
uint32_t bl_frag_held(const struct bl_frag_table *t);

/* The table's counters, and counter `i` in bl_frag_counter_names order. */
const struct bl_frag_counters *bl_frag_counters(const struct bl_frag_table *t);
uint64_t bl_frag_counter_value(const struct bl_frag_counters *c, unsigned i);

/* Short stable names ("ok", "tiny_first", ...; "follow", "held", "drop"). */
const char *bl_frag_reason_name(enum bl_frag_reason r);
const char *bl_frag_result_name(enum bl_frag_result r);

#endif /* BL_FRAG_H */
