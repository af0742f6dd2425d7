/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker IP fragment table (see frag.h): rte_hash of datagrams, an
 * entry array indexed by the rte_hash position, and a preallocated pool of
 * held-fragment slots chained per datagram in arrival order.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "frag.h"

#define HASH_SEED 0x2f8e41a7
#define NONE	  UINT32_MAX

#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_SCTP_	132

/* One datagram. */
struct dgram {
	uint64_t created_tsc;
	uint32_t hash;
	uint32_t covered; /* payload bytes accounted (first + later) */
	uint32_t total;	  /* payload length, known once MF=0 is seen; 0 before */
	uint32_t head;	  /* held list, arrival order */
	uint32_t tail;
	uint16_t first_len; /* payload bytes of the first fragment */
	uint16_t nheld;
	uint8_t in_use;
	uint8_t decided; /* first fragment judged */
	uint8_t drop;	 /* ... and dropped: every fragment follows */
	uint8_t verdict;
};

/* One held later fragment. */
struct held {
	struct rte_mbuf *m;
	uint32_t next; /* next in its datagram's list, or in the free list */
	uint16_t off;
	uint16_t len;
};

struct bl_frag_table {
	struct rte_hash *h;
	struct dgram *dg;  /* nslots */
	struct held *held; /* max_held */
	uint32_t nslots;
	uint32_t max_dgrams;
	uint32_t live;
	uint32_t max_held;
	uint32_t max_per_dgram;
	uint32_t nheld;
	uint32_t free_head;
	uint32_t hand;
	uint64_t timeout; /* TSC */
	struct bl_frag_counters ctr;
};

_Static_assert(offsetof(struct bl_frag_key, hash) == BL_FRAG_KEY_LEN, "hashed part of the key");
_Static_assert(BL_FRAG_KEY_LEN % 8 == 0, "key_crc() hashes 8 bytes at a time");

/*
 * CRC32-C of a key (len a multiple of 8), equal to rte_hash_crc() but
 * loading through memcpy: rte_hash_crc() reads the key as uint64_t, and
 * under strict aliasing the compiler may hoist those reads above the stores
 * that build the key. Also the table's hash_func, so both agree.
 */
static uint32_t key_crc(const void *key, uint32_t len, uint32_t init)
{
	const uint8_t *p = key;
	uint64_t v;

	for (uint32_t i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, p + i, sizeof(v));
		init = rte_hash_crc_8byte(v, init);
	}
	return init;
}

const char *const bl_frag_counter_names[] = {
	"firsts",
	"laters",
	"followed",
	"held",
	"released",
	"completed",
	"drop_tiny_first",
	"drop_tcp_offset1",
	"drop_follow_drop",
	"drop_hold_budget",
	"drop_dgram_limit",
	"drop_timeout",
	"drop_overlap_first",
	"drop_table_full",
	"first_duplicate",
	"first_conflict",
	"timeouts",
	"first_no_room",
};
_Static_assert(RTE_DIM(bl_frag_counter_names) == BL_FRAG_NCOUNTERS, "one name per counter");

void bl_frag_config_defaults(struct bl_frag_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = "bl_frag";
	c->socket_id = SOCKET_ID_ANY;
	c->max_datagrams = 4096;
	c->max_held = 1024;
	c->max_held_per_dgram = 64;
	c->timeout_s = 30; /* Linux ipfrag_time */
}

struct bl_frag_table *bl_frag_create(const struct bl_frag_config *c)
{
	struct rte_hash_parameters hp = { 0 };
	struct bl_frag_table *t;
	int32_t max_id;
	uint32_t i;
	int err;

	if (c == NULL || c->name == NULL || c->max_datagrams < 8 || c->max_datagrams > (1u << 24) ||
	    c->max_held > (1u << 24) || c->max_held_per_dgram == 0 ||
	    c->max_held_per_dgram > UINT16_MAX || c->timeout_s == 0) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("bl_frag_table", sizeof(*t), RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	hp.name = c->name;
	hp.entries = c->max_datagrams + c->max_datagrams / 4;
	hp.key_len = BL_FRAG_KEY_LEN;
	hp.hash_func = key_crc;
	hp.hash_func_init_val = HASH_SEED;
	hp.socket_id = c->socket_id;
	t->h = rte_hash_create(&hp);
	if (t->h == NULL) {
		err = rte_errno ? rte_errno : ENOMEM;
		goto out_free_table;
	}
	max_id = rte_hash_max_key_id(t->h);
	if (max_id < 0) {
		err = EINVAL;
		goto out_free_hash;
	}
	t->nslots = (uint32_t)max_id + 1;
	t->dg = rte_zmalloc_socket("bl_frag_dgrams", (size_t)t->nslots * sizeof(*t->dg),
				   RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t->dg == NULL) {
		err = ENOMEM;
		goto out_free_hash;
	}
	t->held = rte_zmalloc_socket("bl_frag_held",
				     (size_t)RTE_MAX(c->max_held, 1u) * sizeof(*t->held),
				     RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t->held == NULL) {
		err = ENOMEM;
		goto out_free_dg;
	}
	for (i = 0; i < c->max_held; i++)
		t->held[i].next = i + 1 < c->max_held ? i + 1 : NONE;
	t->free_head = c->max_held ? 0 : NONE; /* 0: never hold */
	t->max_dgrams = c->max_datagrams;
	t->max_held = c->max_held;
	t->max_per_dgram = c->max_held_per_dgram;
	t->timeout = (c->tsc_hz ? c->tsc_hz : rte_get_tsc_hz()) * c->timeout_s;
	return t;

out_free_dg:
	rte_free(t->dg);
out_free_hash:
	rte_hash_free(t->h);
out_free_table:
	rte_free(t);
	errno = err;
	return NULL;
}

void bl_frag_free(struct bl_frag_table *t)
{
	uint32_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->max_held; i++)
		rte_pktmbuf_free(t->held[i].m);
	rte_free(t->held);
	rte_free(t->dg);
	rte_hash_free(t->h);
	rte_free(t);
}

/* The outermost layer that is a real fragment, or -1. */
static int frag_layer(const struct bl_pkt *p)
{
	unsigned i;

	for (i = 0; i < p->nlayers && i < BL_MAX_LAYERS; i++)
		if ((p->l3[i].flags & BL_L3_FRAG) && !(p->l3[i].flags & BL_L3_ATOMIC_FRAG))
			return (int)i;
	return -1;
}

/*
 * Payload bytes carried by this fragment, counted from l4_off. For an IPv6
 * first fragment with extension headers after the fragment header this is
 * less than its fragmentable part: completion then waits for the timeout.
 */
static uint32_t frag_payload(const struct bl_l3 *l3)
{
	uint32_t end = (uint32_t)l3->l3_off + l3->l3_len;

	return end > l3->l4_off ? end - l3->l4_off : 0;
}

/* Smallest first fragment that holds the whole L4 header (RFC 1858). */
static uint32_t l4_min(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP_: return 20;
	case IPPROTO_UDP_:
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_: return 8;
	case IPPROTO_SCTP_: return 12;
	default: return 0;
	}
}

/*
 * Tiny first fragment: shorter than its L4 header, or the parser stopped
 * inside that header (which also catches a TCP data offset past the
 * fragment). TCP at offset 8: RFC 1858 3.2 overlap attack.
 */
enum bl_frag_reason bl_frag_check_first(const struct bl_pkt *p)
{
	const struct bl_l3 *l3;
	int i = frag_layer(p);

	if (i < 0)
		return BL_FRAG_NOT_FRAGMENT;
	l3 = &p->l3[i];
	if (l3->flags & BL_L3_FRAG_LATER)
		return l3->proto == IPPROTO_TCP_ && l3->frag_off == 8 ? BL_FRAG_TCP_OFFSET1
								      : BL_FRAG_OK;
	if (frag_payload(l3) < l4_min(l3->proto))
		return BL_FRAG_TINY_FIRST;
	if (i == p->nlayers - 1) {
		switch (p->outcome) {
		case BL_PARSE_TRUNC_TCP:
		case BL_PARSE_BAD_TCP_DOFF:
		case BL_PARSE_TRUNC_UDP:
		case BL_PARSE_TRUNC_ICMP:
		case BL_PARSE_TRUNC_SCTP: return BL_FRAG_TINY_FIRST;
		default: break;
		}
	}
	return BL_FRAG_OK;
}

void bl_frag_count_reason(struct bl_frag_table *t, enum bl_frag_reason r)
{
	if (r == BL_FRAG_TINY_FIRST)
		t->ctr.drop_tiny_first++;
	else if (r == BL_FRAG_TCP_OFFSET1)
		t->ctr.drop_tcp_offset1++;
}

int bl_frag_key_build(const struct bl_pkt *p, struct bl_frag_key *k)
{
	const struct bl_l3 *l3;
	uint32_t len;
	int i = frag_layer(p);

	if (i < 0)
		return -ENOENT;
	l3 = &p->l3[i];
	memset(k, 0, sizeof(*k));
	k->family = l3->family;
	k->proto = l3->proto;
	k->vlan = p->nvlan ? p->vlan[0] & 0x0fff : 0;
	k->id = l3->frag_id;
	memcpy(k->src, l3->src, 16);
	memcpy(k->dst, l3->dst, 16);
	k->hash = key_crc(k, BL_FRAG_KEY_LEN, HASH_SEED);
	len = frag_payload(l3);
	k->off = l3->frag_off;
	k->len = len > UINT16_MAX ? UINT16_MAX : (uint16_t)len;
	k->mf = !!(l3->flags & BL_L3_MF);
	return 0;
}

/* Find or create the datagram of `k`; NULL when the table is full. */
static struct dgram *dgram_get(struct bl_frag_table *t, const struct bl_frag_key *k, uint64_t now,
			       int32_t *pos)
{
	struct dgram *d;

	*pos = rte_hash_lookup_with_hash(t->h, k, k->hash);
	if (*pos >= 0)
		return &t->dg[*pos];
	if (t->live >= t->max_dgrams)
		return NULL;
	*pos = rte_hash_add_key_with_hash(t->h, k, k->hash);
	if (*pos < 0)
		return NULL;
	d = &t->dg[*pos];
	memset(d, 0, sizeof(*d));
	d->hash = k->hash;
	d->created_tsc = now;
	d->head = d->tail = NONE;
	d->in_use = 1;
	t->live++;
	return d;
}

/* Free every held mbuf of `d` (timeout), return the slots to the pool. */
static void held_drop_all(struct bl_frag_table *t, struct dgram *d)
{
	uint32_t i, next;

	for (i = d->head; i != NONE; i = next) {
		next = t->held[i].next;
		rte_pktmbuf_free(t->held[i].m);
		t->held[i].m = NULL;
		t->held[i].next = t->free_head;
		t->free_head = i;
		t->nheld--;
		t->ctr.drop_timeout++;
	}
	d->head = d->tail = NONE;
	d->nheld = 0;
}

static void dgram_delete(struct bl_frag_table *t, uint32_t pos)
{
	struct dgram *d = &t->dg[pos];
	void *key;

	held_drop_all(t, d);
	if (rte_hash_get_key_with_position(t->h, (int32_t)pos, &key) == 0)
		rte_hash_del_key_with_hash(t->h, key, d->hash);
	memset(d, 0, sizeof(*d));
	t->live--;
}

/* Account a fragment's bytes; MF=0 tells the datagram's length. */
static void dgram_cover(struct dgram *d, const struct bl_frag_key *k)
{
	d->covered += k->len;
	if (!k->mf)
		d->total = (uint32_t)k->off + k->len;
}

/* Delete a judged datagram once its last fragment and all bytes were seen. */
static void dgram_maybe_complete(struct bl_frag_table *t, uint32_t pos)
{
	struct dgram *d = &t->dg[pos];

	if (d->decided && d->total != 0 && d->covered >= d->total && d->head == NONE) {
		dgram_delete(t, pos);
		t->ctr.completed++;
	}
}

/* Record the first fragment's fate and hand back the held ones in order. */
int bl_frag_first(struct bl_frag_table *t, const struct bl_frag_key *k, uint8_t verdict, bool drop,
		  uint64_t now, struct rte_mbuf **released, unsigned max)
{
	struct dgram *d;
	uint32_t i, next;
	unsigned n = 0;
	int32_t pos;

	d = dgram_get(t, k, now, &pos);
	if (d == NULL) {
		t->ctr.first_no_room++;
		return -ENOSPC;
	}
	if (d->decided) {
		if (d->verdict == verdict && d->drop == drop) {
			t->ctr.first_duplicate++;
		} else {
			/* two judgements for one datagram: fail closed */
			t->ctr.first_conflict++;
			d->drop = 1;
		}
		return 0;
	}
	t->ctr.firsts++;
	d->decided = 1;
	d->drop = drop;
	d->verdict = verdict;
	d->first_len = k->len;
	dgram_cover(d, k);
	for (i = d->head; i != NONE; i = next) {
		struct held *hf = &t->held[i];

		next = hf->next;
		if (!drop && hf->off < d->first_len) {
			rte_pktmbuf_free(hf->m);
			t->ctr.drop_overlap_first++;
		} else if (n >= max) {
			rte_pktmbuf_free(hf->m);
			t->ctr.drop_dgram_limit++;
		} else {
			released[n++] = hf->m;
			t->ctr.released++;
			if (drop)
				t->ctr.drop_follow_drop++;
		}
		hf->m = NULL;
		hf->next = t->free_head;
		t->free_head = i;
		t->nheld--;
	}
	d->head = d->tail = NONE;
	d->nheld = 0;
	dgram_maybe_complete(t, (uint32_t)pos);
	return (int)n;
}

/* A later fragment follows a judged first, or waits for it. */
enum bl_frag_result bl_frag_later(struct bl_frag_table *t, const struct bl_frag_key *k,
				  struct rte_mbuf *m, uint64_t now, uint8_t *verdict_out)
{
	struct dgram *d;
	uint32_t i;
	int32_t pos;

	t->ctr.laters++;
	d = dgram_get(t, k, now, &pos);
	if (d == NULL) {
		t->ctr.drop_table_full++;
		return BL_FRAG_DROP;
	}
	if (d->decided) {
		if (d->drop) {
			t->ctr.drop_follow_drop++;
			dgram_cover(d, k);
			dgram_maybe_complete(t, (uint32_t)pos);
			return BL_FRAG_DROP;
		}
		if (k->off < d->first_len) {
			t->ctr.drop_overlap_first++;
			return BL_FRAG_DROP;
		}
		t->ctr.followed++;
		*verdict_out = d->verdict;
		dgram_cover(d, k);
		dgram_maybe_complete(t, (uint32_t)pos);
		return BL_FRAG_FOLLOW;
	}
	if (d->nheld >= t->max_per_dgram) {
		t->ctr.drop_dgram_limit++;
		return BL_FRAG_DROP;
	}
	if (t->free_head == NONE) {
		t->ctr.drop_hold_budget++;
		return BL_FRAG_DROP;
	}
	i = t->free_head;
	t->free_head = t->held[i].next;
	t->held[i].m = m;
	t->held[i].next = NONE;
	t->held[i].off = k->off;
	t->held[i].len = k->len;
	if (d->tail == NONE)
		d->head = i;
	else
		t->held[d->tail].next = i;
	d->tail = i;
	d->nheld++;
	t->nheld++;
	t->ctr.held++;
	dgram_cover(d, k);
	return BL_FRAG_HELD;
}

/* Clock-hand expiry: datagrams live `timeout` from their first fragment. */
unsigned bl_frag_expire(struct bl_frag_table *t, uint64_t now, unsigned budget)
{
	struct dgram *d;
	unsigned i, n = 0;
	uint32_t pos;

	/* nothing held: the sweep would read its slots for nothing (on a busy
	 * worker with no fragments, 640,000 slots a second; perf put it at
	 * 0.6% of the worker) */
	if (t->live == 0)
		return 0;
	if (budget > t->nslots)
		budget = t->nslots;
	for (i = 0; i < budget; i++) {
		pos = t->hand;
		t->hand = pos + 1 == t->nslots ? 0 : pos + 1;
		d = &t->dg[pos];
		if (!d->in_use || now <= d->created_tsc || now - d->created_tsc <= t->timeout)
			continue;
		dgram_delete(t, pos);
		n++;
	}
	t->ctr.timeouts += n;
	return n;
}

uint32_t bl_frag_count(const struct bl_frag_table *t)
{
	return t->live;
}

uint32_t bl_frag_held(const struct bl_frag_table *t)
{
	return t->nheld;
}

const struct bl_frag_counters *bl_frag_counters(const struct bl_frag_table *t)
{
	return &t->ctr;
}

uint64_t bl_frag_counter_value(const struct bl_frag_counters *c, unsigned i)
{
	uint64_t v;

	if (i >= BL_FRAG_NCOUNTERS)
		return 0;
	memcpy(&v, (const char *)c + i * sizeof(uint64_t), sizeof(v));
	return v;
}

static const char *const reason_names[BL_FRAG_REASON_MAX] = {
	[BL_FRAG_OK] = "ok",
	[BL_FRAG_NOT_FRAGMENT] = "not_fragment",
	[BL_FRAG_TINY_FIRST] = "tiny_first",
	[BL_FRAG_TCP_OFFSET1] = "tcp_offset1",
};

const char *bl_frag_reason_name(enum bl_frag_reason r)
{
	return (unsigned)r < BL_FRAG_REASON_MAX ? reason_names[r] : "unknown";
}

static const char *const result_names[BL_FRAG_RESULT_MAX] = {
	[BL_FRAG_FOLLOW] = "follow",
	[BL_FRAG_HELD] = "held",
	[BL_FRAG_DROP] = "drop",
};

const char *bl_frag_result_name(enum bl_frag_result r)
{
	return (unsigned)r < BL_FRAG_RESULT_MAX ? result_names[r] : "unknown";
}
