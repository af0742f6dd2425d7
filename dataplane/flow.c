/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker flow table (see flow.h). A bucketized two-choice hash of our
 * own instead of rte_hash; README "Flow table" says why and what it cost.
 *
 * Layout. `buckets`: one cache line each, 8 ways of (16-bit signature,
 * slot index); a key lives in its primary bucket, or in its secondary one
 * when the primary was full (the primary then counts it in `spilled`, so a
 * miss looks at the secondary only when something spilled). `slots`: the
 * struct bl_flow_entry of each flow, 128 bytes: a line of what its packets
 * read and write, ending with a compact copy of an IPv4 TCP or UDP key
 * (key_eq()), then a line with the full key and what only new flows and
 * deletes need. A lookup is two dependent misses (bucket, entry) where
 * rte_hash needs three (bucket, key store, our entry), and for IPv4 TCP
 * and UDP the entry is one line; the burst lookup issues each stage's
 * prefetches for the whole burst before it reads any of them.
 * There are 4 bucket ways per slot (load <= 25% at max_flows), so without
 * cuckoo moves a key finds both its buckets full about never; when it does
 * the flow is refused like on a full table (insert_fail_full).
 * Slot indexes come from a stack of free slots (LIFO: a freed, cache-warm
 * slot is the next one used).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#if defined(RTE_ARCH_X86)
#include <emmintrin.h>
#endif
#if defined(RTE_ARCH_X86_64) && defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "flow.h"
#include "parse_fast.h"

#define HASH_SEED   0x6b1c3f2d
#define HASH_SEED_B 0x2f3a9c61

#define BUCKET_WAYS 8

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_SCTP_	132

/* Timeout classes (struct bl_flow_entry.tclass). */
enum { TC_TCP = 0, TC_UDP, TC_OTHER };

/* Index into bl_flow_table.timeout[]. */
enum { TO_TCP_EST = 0, TO_TCP_TRANSIENT, TO_UDP, TO_OTHER, TO_MAX };

/* One bucket, one cache line: sig 0 marks a free way. */
struct bucket {
	uint16_t sig[BUCKET_WAYS];
	uint32_t slot[BUCKET_WAYS];
	uint32_t spilled; /* keys of this primary bucket placed in their secondary */
	uint32_t pad[3];
} __attribute__((aligned(64)));

struct bl_flow_table {
	struct bucket *buckets;
	struct bl_flow_entry *slots; /* nslots: the flows themselves */
	uint32_t *free;		     /* stack of free slot indexes */
	uint32_t nfree;
	uint32_t bmask; /* buckets - 1 (a power of two) */
	uint32_t nslots;
	uint32_t max_flows;
	uint32_t live;
	uint32_t hand;	     /* expiry clock hand */
	uint32_t evict_hand; /* evict-idle probe hand */
	uint32_t evict_probe;
	uint32_t del_seq;	  /* bumped by every delete */
	uint32_t lookup_del_seq;  /* del_seq at the last bulk lookup */
	uint64_t timeout[TO_MAX]; /* TSC */
	uint64_t timeout_min;	  /* the least of them */
	uint64_t evict_idle;	  /* TSC */
	enum bl_flow_midstream midstream;
	enum bl_flow_full_policy full_policy;
	struct bl_flow_counters ctr;
	struct bl_rule_ctr *rule_ctr; /* bl_flow_set_rule_counters() */
};

_Static_assert(sizeof(struct bl_flow_entry) == 128 && offsetof(struct bl_flow_entry, ck_w) == 49 &&
		       offsetof(struct bl_flow_entry, flags) == 48 &&
		       offsetof(struct bl_flow_entry, ck_ad) + 8 == 64 &&
		       offsetof(struct bl_flow_entry, key) == 64,
	       "a flow is its packet line (ending with the compact key) then its key line");
_Static_assert(sizeof(((struct bl_flow_entry *)0)->key) == BL_FLOW_KEY_LEN, "the whole key");
_Static_assert(sizeof(struct bucket) == 64, "a bucket is one cache line");
_Static_assert(offsetof(struct bl_flow_key, hash) == BL_FLOW_KEY_LEN &&
		       offsetof(struct bl_flow_key, side) == BL_FLOW_KEY_LEN + 4 &&
		       offsetof(struct bl_flow_key, tcp_flags) == BL_FLOW_KEY_LEN + 5 &&
		       offsetof(struct bl_flow_key, pad) == BL_FLOW_KEY_LEN + 6 &&
		       sizeof(struct bl_flow_key) == BL_FLOW_KEY_LEN + 8,
	       "hashed part of the key, then hash, side, tcp_flags");
_Static_assert(offsetof(struct bl_flow_key, addr) == 8 &&
		       offsetof(struct bl_flow_key, zero) == 40 && BL_FLOW_KEY_LEN == 48,
	       "bl_flow_key_from_l3() knows the key's words");
_Static_assert(sizeof(struct bl_flow_counters) % sizeof(uint64_t) == 0,
	       "counters are uint64_t only");

/*
 * The flow hash, over the key's words as a little-endian load sees them
 * (w0: family, proto, vlan, ports; a0, a1: endpoint 0's address; b0, b1:
 * endpoint 1's). Two independent CRC32-C chains so their latencies
 * overlap; an IPv4 key's second address words are zero and skipped, and
 * its two addresses go in as one word (the family in w0 keeps the
 * families apart). Low bits pick the bucket, the high 16 are the
 * signature.
 */
static inline uint32_t crc8b(uint64_t data, uint32_t init)
{
#if defined(RTE_ARCH_X86_64) && defined(__SSE4_2__)
	/* the instruction itself: rte_hash_crc_8byte() tests which
	 * implementation to use on every call */
	return (uint32_t)_mm_crc32_u64(init, data);
#else
	return rte_hash_crc_8byte(data, init);
#endif
}

static inline uint32_t words_hash(uint64_t w0, uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1,
				  bool v6)
{
	uint32_t x = crc8b(w0, HASH_SEED), y;

	if (v6) {
		y = crc8b(b0, HASH_SEED_B);
		x = crc8b(a0, x);
		x = crc8b(a1, x);
		y = crc8b(b1, y);
	} else {
		/* both IPv4 addresses in one word: a0 and b0 hold theirs in
		 * the same half (the low one on little-endian), and b0's is
		 * rotated into the other */
		y = crc8b(a0 ^ (b0 << 32 | b0 >> 32), HASH_SEED_B);
	}
	return x ^ (y << 16 | y >> 16);
}

/* words_hash() of a key in memory (a stored key, or a built one read back). */
static uint32_t key_mem_hash(const void *key)
{
	uint64_t w[BL_FLOW_KEY_LEN / 8];

	memcpy(w, key, sizeof(w));
	w[0] = rte_cpu_to_le_64(w[0]);
	w[1] = rte_cpu_to_le_64(w[1]);
	w[2] = rte_cpu_to_le_64(w[2]);
	w[3] = rte_cpu_to_le_64(w[3]);
	w[4] = rte_cpu_to_le_64(w[4]);
	return words_hash(w[0], w[1], w[2], w[3], w[4], ((const uint8_t *)key)[0] == 6);
}

const char *const bl_flow_counter_names[] = {
	"lookups",	     "hits",
	"inserts",	     "insert_fail_full",
	"new_dropped_full",  "stateless_passed",
	"evicted_idle",	     "expired",
	"removed",	     "midstream_tracked",
	"midstream_dropped", "midstream_passed",
	"tcp_syn",	     "tcp_syn_recv",
	"tcp_established",   "tcp_fin",
	"tcp_closed_fin",    "tcp_rst",
	"tcp_reopened",	     "udp_active",
};
_Static_assert(RTE_DIM(bl_flow_counter_names) == BL_FLOW_NCOUNTERS, "one name per counter");

/* Defaults an operator would expect of a perimeter box. */
void bl_flow_config_defaults(struct bl_flow_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = "bl_flow";
	c->socket_id = SOCKET_ID_ANY;
	c->max_flows = 1u << 20;
	c->timeout_tcp_established = 3600;
	c->timeout_tcp_transient = 120;
	c->timeout_udp = 60;
	c->timeout_other = 30;
	c->midstream = BL_FLOW_MIDSTREAM_TRACK;
	c->full_policy = BL_FLOW_FULL_DROP_NEW;
	c->evict_idle_s = 60;
	c->evict_probe = 32;
}

/* Buckets: a power of two with 4 ways per slot (two at the least). */
static uint32_t bucket_count(uint32_t slots)
{
	uint32_t n = 2;

	while (n * BUCKET_WAYS < 4 * (uint64_t)slots)
		n *= 2;
	return n;
}

/* Create the buckets, the slots and the free stack on the config's socket. */
struct bl_flow_table *bl_flow_create(const struct bl_flow_config *c)
{
	struct bl_flow_table *t;
	uint32_t nb;
	uint64_t hz;

	if (c == NULL || c->name == NULL || c->max_flows < 8 || c->max_flows > (1u << 28) ||
	    (c->full_policy == BL_FLOW_FULL_EVICT_IDLE && c->evict_idle_s == 0) ||
	    c->timeout_tcp_established == 0 || c->timeout_tcp_transient == 0 ||
	    c->timeout_udp == 0 || c->timeout_other == 0 || c->midstream > BL_FLOW_MIDSTREAM_PASS ||
	    c->full_policy > BL_FLOW_FULL_STATELESS) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket(c->name, sizeof(*t), RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t == NULL)
		goto out_nomem;
	nb = bucket_count(c->max_flows);
	t->bmask = nb - 1;
	t->nslots = c->max_flows;
	t->buckets = rte_zmalloc_socket(c->name, (size_t)nb * sizeof(*t->buckets),
					RTE_CACHE_LINE_SIZE, c->socket_id);
	t->slots = rte_zmalloc_socket(c->name, (size_t)t->nslots * sizeof(*t->slots),
				      RTE_CACHE_LINE_SIZE, c->socket_id);
	t->free = rte_malloc_socket(c->name, (size_t)t->nslots * sizeof(*t->free),
				    RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t->buckets == NULL || t->slots == NULL || t->free == NULL)
		goto out_free;
	/* slot 0 on top: the first flows fill the array from its start */
	for (uint32_t i = 0; i < t->nslots; i++)
		t->free[i] = t->nslots - 1 - i;
	t->nfree = t->nslots;
	hz = c->tsc_hz ? c->tsc_hz : rte_get_tsc_hz();
	t->timeout[TO_TCP_EST] = hz * c->timeout_tcp_established;
	t->timeout[TO_TCP_TRANSIENT] = hz * c->timeout_tcp_transient;
	t->timeout[TO_UDP] = hz * c->timeout_udp;
	t->timeout[TO_OTHER] = hz * c->timeout_other;
	t->timeout_min = t->timeout[0];
	for (unsigned i = 1; i < TO_MAX; i++)
		t->timeout_min = RTE_MIN(t->timeout_min, t->timeout[i]);
	t->evict_idle = hz * c->evict_idle_s;
	t->evict_probe = c->evict_probe ? c->evict_probe : 1;
	t->max_flows = c->max_flows;
	t->midstream = c->midstream;
	t->full_policy = c->full_policy;
	return t;

out_free:
	bl_flow_free(t);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

void bl_flow_free(struct bl_flow_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->free);
	rte_free(t->slots);
	rte_free(t->buckets);
	rte_free(t);
}

/* An unaligned native-endian load and store of one key word. */
static inline uint64_t ld64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void st64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline uint32_t ld32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* An IPv4 address as ld64() loads it zero-padded to 8 bytes. */
static inline uint64_t ld32_pad8(const void *p)
{
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	return ld32(p);
#else
	return (uint64_t)ld32(p) << 32;
#endif
}

/*
 * The compact key: IPv4 flows (most of them) are compared in the entry's
 * first line, the one their packets update, so that a lookup and its
 * update touch one line of the flow instead of two. An IPv4 key is its
 * first word (family, protocol, VLAN, ports) and its two addresses: the
 * entry keeps the word's bytes 1-7 (ck_w, right after its flags byte, so
 * one load and a mask compare them; the family is 4 by construction) and
 * the addresses as one word (ck_ad), so a compact match is exactly a key
 * match. The flags byte's LIVE bit is compared too: a deleted entry is
 * zeroed, and a stale candidate (bl_flow_prefetch_slots()) pointing at it
 * must not match IPv4's key of zeros. An IPv6 flow's ck_w holds VLAN
 * 0xffff, which no key has (12 bits), so no IPv4 key matches it.
 */
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
#define CK_W_MASK (~(uint64_t)0xff) /* all but the first byte in memory */
#define CK_LIVE	  ((uint64_t)BL_FLOW_F_LIVE)
#else
#define CK_W_MASK (~((uint64_t)0xff << 56))
#define CK_LIVE	  ((uint64_t)BL_FLOW_F_LIVE << 56)
#endif

/* Both IPv4 addresses of a key as one word: endpoint 0's bytes first. */
static inline uint64_t ck_ad_of(const struct bl_flow_key *k)
{
	uint64_t v;

	memcpy(&v, k->addr[0], 4);
	memcpy((uint8_t *)&v + 4, k->addr[1], 4);
	return v;
}

/* Write `k`'s compact form into `e` (after its flags: one word). */
static inline void ck_set(struct bl_flow_entry *e, const struct bl_flow_key *k)
{
	uint8_t w[8];

	memcpy(w, k, 8);
	w[0] = e->flags;
	if (k->family != 4) {
		memset(w + 1, 0, 7);
		w[2] = w[3] = 0xff; /* VLAN 0xffff */
	}
	memcpy(&e->flags, w, 8);
	e->ck_ad = k->family == 4 ? ck_ad_of(k) : 0;
}

/*
 * Canonical key from its words: endpoints ordered by (address, port) as
 * bytes. a0/a1 and b0/b1 are the two addresses' 8-byte halves as loaded
 * from memory (an IPv4 address zero-extended in a0/b0, a1 = b1 = 0),
 * pa/pb their ports. The order is one comparison and the swap masks, then
 * each key word is stored once and hashed from its register. (Pointers to
 * on-stack copies made the compiler spill the words and read them back as
 * 16-byte loads over 8-byte stores, a store-forwarding stall on every
 * packet.)
 */
static __rte_always_inline void key_from_words(struct bl_flow_key *k, uint8_t family, uint8_t proto,
					       uint16_t vlan, uint32_t pa, uint32_t pb,
					       uint32_t tcp_flags, uint64_t a0, uint64_t a1,
					       uint64_t b0, uint64_t b1)
{
	uint64_t x0, x1, y0, y1;
	uint32_t swap;

	/* memcmp order of (address, port): big-endian words compare as bytes */
	x0 = rte_be_to_cpu_64(a0);
	y0 = rte_be_to_cpu_64(b0);
	x1 = rte_be_to_cpu_64(a1);
	y1 = rte_be_to_cpu_64(b1);
	/*
	 * Which endpoint sorts first is data, a coin toss per flow on real
	 * traffic. gcc compiled the ternaries as branches around a register
	 * spill, where perf put 40% of the key's time (100 flows); computed as
	 * bits and applied with masks there is nothing to mispredict.
	 */
	swap = (unsigned)(x0 > y0) |
	       ((unsigned)(x0 == y0) & ((unsigned)(x1 > y1) | ((unsigned)(x1 == y1) & (pa > pb))));
	{
		uint64_t m = -(uint64_t)swap, d0 = (a0 ^ b0) & m, d1 = (a1 ^ b1) & m;
		uint32_t dp = (pa ^ pb) & (uint32_t)m;

		x0 = a0 ^ d0;
		x1 = a1 ^ d1;
		y0 = b0 ^ d0;
		y1 = b1 ^ d1;
		pa ^= dp;
		pb ^= dp;
	}
	st64(k->addr[0], x0);
	st64(k->addr[0] + 8, x1);
	st64(k->addr[1], y0);
	st64(k->addr[1] + 8, y1);
	st64(k->zero, 0);
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	{
		/* family, proto, vlan, port[0], port[1] as the struct lays them */
		uint64_t w0 = (uint64_t)family | (uint64_t)proto << 8 |
			      (uint64_t)(vlan & 0x0fff) << 16 | (uint64_t)pa << 32 |
			      (uint64_t)pb << 48;
		uint32_t h = words_hash(w0, x0, x1, y0, y1, family == 6);

		st64(k, w0);
		/* hash, side, tcp_flags, pad: one store (byte stores read
		 * back as a word would not forward) */
		st64(&k->hash, (uint64_t)h | (uint64_t)swap << 32 | (uint64_t)tcp_flags << 40);
	}
#else
	k->family = family;
	k->proto = proto;
	k->vlan = vlan & 0x0fff;
	k->port[0] = (uint16_t)pa;
	k->port[1] = (uint16_t)pb;
	k->hash = key_mem_hash(k);
	k->side = (uint8_t)swap;
	k->tcp_flags = (uint8_t)tcp_flags;
	k->pad = 0;
#endif
}

/* Canonical key of one IP layer (key_from_words()). */
static inline int key_from_l3(const struct bl_l3 *l3, uint16_t vlan, struct bl_flow_key *k)
{
	uint32_t pa = 0, pb = 0, tcp_flags = 0;

	if ((l3->family != 4 && l3->family != 6) || (l3->flags & BL_L3_FRAG_LATER))
		return -ENOENT;
	switch (l3->proto) {
	case IPPROTO_TCP_:
		tcp_flags = l3->tcp_flags;
		/* fall through */
	case IPPROTO_UDP_:
	case IPPROTO_SCTP_:
		if (l3->flags & BL_L3_HAS_PORTS) {
			pa = l3->sport;
			pb = l3->dport;
		}
		break;
	case IPPROTO_ICMP_:
		if (l3->family == 4 && (l3->icmp_type == 8 || l3->icmp_type == 0))
			pa = pb = l3->sport; /* echo identifier */
		break;
	case IPPROTO_ICMPV6_:
		if (l3->family == 6 && (l3->icmp_type == 128 || l3->icmp_type == 129))
			pa = pb = l3->sport;
		break;
	default: break;
	}
	key_from_words(k, l3->family, l3->proto, vlan, pa, pb, tcp_flags, ld64(l3->src),
		       ld64(l3->src + 8), ld64(l3->dst), ld64(l3->dst + 8));
	return 0;
}

int bl_flow_key_from_l3(const struct bl_l3 *l3, uint16_t vlan, struct bl_flow_key *k)
{
	return key_from_l3(l3, vlan, k);
}

/* Key of a parsed packet: outermost IP layer, outermost VLAN tag. */
static inline int key_build(const struct bl_pkt *p, struct bl_flow_key *k)
{
	if (p->outcome != BL_PARSE_OK || p->nlayers == 0)
		return -ENOENT;
	return key_from_l3(&p->l3[0], p->nvlan ? p->vlan[0] : 0, k);
}

int bl_flow_key_build(const struct bl_pkt *p, struct bl_flow_key *k)
{
	return key_build(p, k);
}

/* Signature of a hash: never 0, which marks a free way. */
static inline uint16_t hash_sig(uint32_t h)
{
	return (uint16_t)(h >> 16) | 1;
}

static inline struct bucket *prim_bucket(const struct bl_flow_table *t, uint32_t h)
{
	return &t->buckets[h & t->bmask];
}

/* A key's other bucket, never its primary: the xor flips bit 0 at least. */
static inline struct bucket *sec_bucket(const struct bl_flow_table *t, uint32_t h)
{
	uint32_t alt = (((uint32_t)hash_sig(h) * 0x9e3779b1u) >> 8) | 1;

	return &t->buckets[(h ^ alt) & t->bmask];
}

/* Ways of `b` holding signature `sig`: bit 2*w for way w. */
static inline unsigned ways_of(const struct bucket *b, uint16_t sig)
{
#if defined(RTE_ARCH_X86)
	__m128i v = _mm_load_si128((const __m128i *)(const void *)b->sig);
	__m128i eq = _mm_cmpeq_epi16(v, _mm_set1_epi16((short)sig));

	return (unsigned)_mm_movemask_epi8(eq) & 0x5555u;
#else
	unsigned m = 0;

	for (unsigned w = 0; w < BUCKET_WAYS; w++)
		if (b->sig[w] == sig)
			m |= 1u << (2 * w);
	return m;
#endif
}

/* First way in a ways_of() mask. */
static inline unsigned way_first(unsigned m)
{
	return (unsigned)__builtin_ctz(m) >> 1;
}

static inline bool key_eq(const struct bl_flow_entry *e, const struct bl_flow_key *k)
{
	uint64_t w[BL_FLOW_KEY_LEN / 8];

	if (k->family == 4)
		return (((ld64(&e->flags) ^ ((ld64(k) & CK_W_MASK) | CK_LIVE)) &
			 (CK_W_MASK | CK_LIVE)) |
			(e->ck_ad ^ ck_ad_of(k))) == 0;
	memcpy(w, k, sizeof(w));
	return ((e->key[0] ^ w[0]) | (e->key[1] ^ w[1]) | (e->key[2] ^ w[2]) | (e->key[3] ^ w[3]) |
		(e->key[4] ^ w[4]) | (e->key[5] ^ w[5])) == 0;
}

/* Request the lines of flow `e` a lookup of `k` reads. */
static inline void entry_prefetch(const struct bl_flow_entry *e, const struct bl_flow_key *k)
{
	rte_prefetch0(e);
	if (k->family != 4)
		rte_prefetch0(e->key);
}

/*
 * Rule counters from the flows' counts (flow.h, bl_flow_set_rule_counters()).
 * The settled mark is modular: 2^32 packets and 2^40 bytes (1 TB) between
 * two settles of one flow, where the expiry sweep settles every live flow
 * about once a second (EXPIRE_SWEEP_MS in worker.c). It lives in the
 * entry's second line, so a packet that only counts never reads it.
 */
#define SETTLED_BYTES_MASK ((UINT64_C(1) << 40) - 1)

static inline uint64_t settled_bytes(const struct bl_flow_entry *e)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < sizeof(e->settled_bytes); i++)
		v |= (uint64_t)e->settled_bytes[i] << (8 * i);
	return v;
}

static inline void settled_set(struct bl_flow_entry *e, uint32_t pkts, uint64_t bytes)
{
	e->settled_pkts = pkts;
	for (unsigned i = 0; i < sizeof(e->settled_bytes); i++)
		e->settled_bytes[i] = (uint8_t)(bytes >> (8 * i));
}

/*
 * Clear a flow's state for a new connection, keeping what identifies it:
 * its key (both copies) and hash.
 */
static inline void entry_clear(struct bl_flow_entry *e)
{
	memset(e, 0, offsetof(struct bl_flow_entry, ck_w));
	e->rule_id = 0;
	e->tclass = 0;
	settled_set(e, 0, 0);
}

/* Settle `e` up to its totals (`pkts`, `bytes`): what lies between its
 * mark and them counts to its verdict's rule (none without a verdict). */
static inline void settle_to(struct bl_flow_table *t, struct bl_flow_entry *e, uint64_t pkts,
			     uint64_t bytes)
{
	uint32_t dp = (uint32_t)pkts - e->settled_pkts;
	uint64_t db = (bytes - settled_bytes(e)) & SETTLED_BYTES_MASK;

	if (dp == 0 && db == 0)
		return;
	if (t->rule_ctr && e->verdict != BL_FLOW_VERDICT_NONE) {
		t->rule_ctr[e->rule_slot].packets += dp;
		t->rule_ctr[e->rule_slot].bytes += db;
	}
	settled_set(e, (uint32_t)pkts, bytes);
}

static inline void settle(struct bl_flow_table *t, struct bl_flow_entry *e)
{
	settle_to(t, e, e->pkts[0] + e->pkts[1], e->bytes[0] + e->bytes[1]);
}

void bl_flow_set_rule_counters(struct bl_flow_table *t, struct bl_rule_ctr *ctr)
{
	t->rule_ctr = ctr;
}

void bl_flow_settle(struct bl_flow_table *t, struct bl_flow_entry *e)
{
	settle(t, e);
}

uint32_t bl_flow_settle_slots(struct bl_flow_table *t, uint32_t pos, uint32_t n)
{
	uint32_t end = pos < t->nslots && n < t->nslots - pos ? pos + n : t->nslots;

	for (; pos < end; pos++)
		if (t->slots[pos].flags & BL_FLOW_F_LIVE)
			settle(t, &t->slots[pos]);
	return end == t->nslots ? 0 : end;
}

void bl_flow_judge(struct bl_flow_table *t, struct bl_flow_entry *e, uint8_t verdict, uint32_t gen,
		   uint16_t rule_id, uint32_t rule_slot, uint32_t tail_pkts, uint64_t tail_bytes)
{
	/* without a verdict, what it holds unsettled is this burst's: all of
	 * it counts to the new rule */
	if (e->verdict != BL_FLOW_VERDICT_NONE)
		settle_to(t, e, e->pkts[0] + e->pkts[1] - tail_pkts,
			  e->bytes[0] + e->bytes[1] - tail_bytes);
	bl_flow_verdict_set(e, verdict, gen, rule_id, rule_slot);
}

void bl_flow_uncount(struct bl_flow_entry *e, uint32_t bytes)
{
	settled_set(e, e->settled_pkts + 1, settled_bytes(e) + bytes);
}

/* Slot of `k` among the ways `m` of `b`, or -1. */
static inline int32_t ways_find(const struct bl_flow_table *t, const struct bucket *b, unsigned m,
				const struct bl_flow_key *k)
{
	for (; m; m &= m - 1) {
		uint32_t s = b->slot[way_first(m)];

		if (key_eq(&t->slots[s], k))
			return (int32_t)s;
	}
	return -1;
}

/*
 * Slot of `k`, or -1: among the ways `m` (its signature's) of its primary
 * bucket `b`, then in its secondary bucket when `b` spilled any key.
 */
static inline int32_t pair_find(const struct bl_flow_table *t, const struct bucket *b, unsigned m,
				const struct bl_flow_key *k)
{
	int32_t s = ways_find(t, b, m, k);

	if (s < 0 && b->spilled) {
		const struct bucket *b2 = sec_bucket(t, k->hash);

		s = ways_find(t, b2, ways_of(b2, hash_sig(k->hash)), k);
	}
	return s;
}

/* Slot of `k`, or -1. */
static int32_t table_find(const struct bl_flow_table *t, const struct bl_flow_key *k)
{
	const struct bucket *b = prim_bucket(t, k->hash);

	return pair_find(t, b, ways_of(b, hash_sig(k->hash)), k);
}

/*
 * Take a free slot for `k` (not in the table) and link it in a free way of
 * its primary bucket, else of its secondary. Returns the slot or -ENOSPC.
 */
static int32_t table_insert(struct bl_flow_table *t, const struct bl_flow_key *k)
{
	struct bucket *p = prim_bucket(t, k->hash), *b = p;
	unsigned w = ways_of(b, 0);
	uint32_t s;

	if (t->nfree == 0)
		return -ENOSPC;
	if (!w) {
		b = sec_bucket(t, k->hash);
		w = ways_of(b, 0);
		if (!w)
			return -ENOSPC;
		p->spilled++;
	}
	s = t->free[--t->nfree];
	memcpy(t->slots[s].key, k, BL_FLOW_KEY_LEN);
	ck_set(&t->slots[s], k);
	t->slots[s].hash = k->hash;
	b->slot[way_first(w)] = s;
	b->sig[way_first(w)] = hash_sig(k->hash);
	return (int32_t)s;
}

/* Unlink slot `s` (key hash `h`) from its bucket and free it. */
static void table_remove(struct bl_flow_table *t, uint32_t s, uint32_t h)
{
	struct bucket *p = prim_bucket(t, h), *b = p;
	uint16_t sig = hash_sig(h);

	for (unsigned pass = 0; pass < 2; pass++, b = sec_bucket(t, h)) {
		for (unsigned m = ways_of(b, sig); m; m &= m - 1) {
			unsigned w = way_first(m);

			if (b->slot[w] != s)
				continue;
			b->sig[w] = 0;
			if (b != p)
				p->spilled--;
			t->free[t->nfree++] = s;
			return;
		}
	}
}

int bl_flow_key_build_prefetch(const struct bl_flow_table *t, const struct bl_pkt *p,
			       struct bl_flow_key *k)
{
	int r = key_build(p, k);

	if (r == 0)
		rte_prefetch0(prim_bucket(t, k->hash));
	return r;
}

#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
/* A 16-bit field as it lies in the frame (compared with RTE_BE16()). */
static inline uint16_t ld16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Untagged IPv4 TCP and UDP, most of a perimeter box's frames, on fixed
 * offsets: bl_parse_fast_fields()'s tests for this shape (the same, in
 * the same terms) and key_from_words()'s key, its endpoints ordered as
 * one 48-bit number each ((address, port) big-endian: the key's byte
 * order). Returns 1 with `k` built when the fast path takes the frame, 0
 * when it is such a frame and the fast path declines it, -1 when it is
 * not untagged IPv4 (the general walk decides). The addresses and ports
 * are read as two words and ordered with masks. Callgrind, IPv4 UDP:
 * bl_flow_key_frames() went from 173 instructions a frame through the
 * general walk to 129. The unit test key_frame_is_the_parsers_key checks
 * both ways against the parser, over every cut and random damage.
 */
static __rte_always_inline int key_frame_v4(const uint8_t *d, uint32_t len, uint32_t end,
					    struct bl_flow_key *k)
{
	const uint8_t *p = d + 14, *q = d + 14 + 20;
	uint32_t dlen, pp, flags, swap, x, h;
	uint64_t ad, m, w0;
	uint8_t proto;

	if (len < 14 + 20 + 8 || ld16(d + 12) != RTE_BE16(BL_FAST_ETH_IPV4))
		return -1;
	dlen = rte_be_to_cpu_16(ld16(p + 2));
	/* 20 <= dlen <= end - 14 as one unsigned compare (end >= len >= 42) */
	if (p[0] != 0x45 || dlen - 20 > end - 14 - 20 || (ld16(p + 6) & RTE_BE16(0x3fff)))
		return 0;
	dlen -= 20;
	proto = p[9];
	if (proto == IPPROTO_TCP_) {
		if (dlen < 20 || len < 14 + 20 + 20 || q[12] < 0x50 ||
		    (uint32_t)(q[12] >> 4) * 4 > dlen)
			return 0;
		flags = q[13];
	} else if (proto == IPPROTO_UDP_) {
		/* 8 <= UDP length <= dlen (so dlen >= 8) */
		uint32_t ulen = rte_be_to_cpu_16(ld16(q + 4));

		if (ulen < 8 || ulen > dlen || ld16(q + 2) == RTE_BE16(BL_FAST_VXLAN_PORT) ||
		    ld16(q) == RTE_BE16(BL_FAST_TEREDO_PORT) ||
		    ld16(q + 2) == RTE_BE16(BL_FAST_TEREDO_PORT))
			return 0;
		flags = 0;
	} else {
		return 0;
	}
	/* the addresses and the ports lie together: source, destination,
	 * source port, destination port */
	ad = ld64(p + 12);
	pp = rte_be_to_cpu_32(ld32(q)); /* source port << 16 | destination port */
	swap = ((uint64_t)rte_be_to_cpu_32((uint32_t)ad) << 16 | pp >> 16) >
	       ((uint64_t)rte_be_to_cpu_32((uint32_t)(ad >> 32)) << 16 | (pp & 0xffff));
	m = -(uint64_t)swap;
	ad ^= (ad ^ (ad << 32 | ad >> 32)) & m; /* the endpoints' addresses in key order */
	pp = (pp << 16 | pp >> 16) ^ ((pp ^ (pp << 16 | pp >> 16)) & (uint32_t)m); /* port[0] low */
	/* family 4, the protocol, VLAN 0, the ports: key_from_words()'s w0;
	 * words_hash() of it and of the addresses, which `ad` holds as
	 * words_hash() combines them */
	w0 = 4 | (uint64_t)proto << 8 | (uint64_t)pp << 32;
	x = crc8b(w0, HASH_SEED);
	h = crc8b(ad, HASH_SEED_B);
	h = x ^ (h << 16 | h >> 16);
	st64(k, w0);
	st64(k->addr[0], (uint32_t)ad);
	st64(k->addr[0] + 8, 0);
	st64(k->addr[1], ad >> 32);
	st64(k->addr[1] + 8, 0);
	st64(k->zero, 0);
	st64(&k->hash, (uint64_t)h | (uint64_t)swap << 32 | (uint64_t)flags << 40);
	return 1;
}
#endif

/*
 * The general walk's key: any frame bl_parse_fast_fields() takes (VLAN
 * tags, IPv6). Out of line: the keying loop is laid out for untagged
 * IPv4, and the other frames pay a call.
 */
static __rte_noinline int key_frame_general(const uint8_t *d, uint32_t len, uint32_t end,
					    struct bl_flow_key *k)
{
	struct bl_fast f;

	if (!bl_parse_fast_fields(d, len, end, &f))
		return -ENOENT;
	/*
	 * One call per family with the family a constant, so that the IPv4
	 * key is built with its second address words known to be zero: half
	 * the comparisons, swaps and hashing of the general one (Callgrind,
	 * IPv4 UDP: 187 instructions a frame before, 162 after).
	 */
	if (f.family == 4)
		key_from_words(k, 4, f.proto, (uint16_t)f.vlans, f.sport, f.dport, f.tcp_flags,
			       ld32_pad8(f.ip + 12), 0, ld32_pad8(f.ip + 16), 0);
	else
		key_from_words(k, 6, f.proto, (uint16_t)f.vlans, f.sport, f.dport, f.tcp_flags,
			       ld64(f.ip + 8), ld64(f.ip + 16), ld64(f.ip + 24), ld64(f.ip + 32));
	return 0;
}

static __rte_always_inline int key_frame(const struct bl_flow_table *t, const uint8_t *d,
					 uint32_t len, uint32_t wire_len, struct bl_flow_key *k)
{
	uint32_t end = wire_len > len ? wire_len : len;

#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	int r = key_frame_v4(d, len, end, k);

	if (r == 0)
		return -ENOENT;
	if (r < 0 && key_frame_general(d, len, end, k) != 0)
		return -ENOENT;
#else
	if (key_frame_general(d, len, end, k) != 0)
		return -ENOENT;
#endif
	rte_prefetch0(prim_bucket(t, k->hash));
	return 0;
}

int bl_flow_key_frame(const struct bl_flow_table *t, const uint8_t *d, uint32_t len,
		      uint32_t wire_len, struct bl_flow_key *k)
{
	return key_frame(t, d, len, wire_len, k);
}

unsigned bl_flow_key_frames(const struct bl_flow_table *t, struct rte_mbuf *const *pkts, unsigned n,
			    struct bl_flow_key *keys, uint32_t *bytes)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];

		if (i + 3 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 3], void *));
		if (key_frame(t, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			      rte_pktmbuf_pkt_len(m), &keys[i]) != 0)
			break;
		bytes[i] = rte_pktmbuf_pkt_len(m);
	}
	return i;
}

void bl_flow_prefetch_slots(const struct bl_flow_table *t, const struct bl_flow_key *keys,
			    unsigned n, uint32_t *cand)
{
	for (unsigned i = 0; i < n; i++) {
		const struct bucket *b = prim_bucket(t, keys[i].hash);
		unsigned m = ways_of(b, hash_sig(keys[i].hash));
		uint32_t s = BL_FLOW_NO_CAND;

		if (m) {
			s = b->slot[way_first(m)];
			entry_prefetch(&t->slots[s], &keys[i]);
		}
		cand[i] = s;
	}
}

/*
 * Entry of `k` given its candidate slot from bl_flow_prefetch_slots(): the
 * candidate when it holds `k` (most often: one key compare, no bucket read
 * again), else a whole lookup. A candidate is only a hint (its slot may
 * have been freed or reused since); comparing the key makes it safe.
 */
static inline struct bl_flow_entry *cand_find(struct bl_flow_table *t, const struct bl_flow_key *k,
					      uint32_t s)
{
	int32_t pos;

	if (likely(s < t->nslots) && key_eq(&t->slots[s], k))
		return &t->slots[s];
	pos = table_find(t, k);
	return pos >= 0 ? &t->slots[pos] : NULL;
}

/*
 * Bulk lookups with the precomputed hashes, BL_FLOW_BURST_MAX at a time,
 * in three passes so each pass's cache misses overlap: every bucket line
 * is requested, then signatures are matched and the first candidate
 * slot's two lines requested, then keys compared.
 */
static inline unsigned lookup_burst(struct bl_flow_table *t, const struct bl_flow_key *keys,
				    unsigned n, struct bl_flow_entry **out)
{
	const struct bucket *b[BL_FLOW_BURST_MAX];
	unsigned ways[BL_FLOW_BURST_MAX];
	unsigned done, m, i, hits = 0;

	for (done = 0; done < n; done += m) {
		const struct bl_flow_key *k = keys + done;

		m = RTE_MIN(n - done, (unsigned)BL_FLOW_BURST_MAX);
		for (i = 0; i < m; i++) {
			b[i] = prim_bucket(t, k[i].hash);
			rte_prefetch0(b[i]);
		}
		for (i = 0; i < m; i++) {
			ways[i] = ways_of(b[i], hash_sig(k[i].hash));
			if (ways[i]) {
				entry_prefetch(&t->slots[b[i]->slot[way_first(ways[i])]], &k[i]);
			}
		}
		for (i = 0; i < m; i++) {
			int32_t s = pair_find(t, b[i], ways[i], &k[i]);

			out[done + i] = s >= 0 ? &t->slots[s] : NULL;
			hits += s >= 0;
		}
	}
	t->lookup_del_seq = t->del_seq;
	return hits;
}

unsigned bl_flow_lookup_burst(struct bl_flow_table *t, const struct bl_flow_key *keys, unsigned n,
			      uint64_t now, struct bl_flow_entry **out)
{
	unsigned hits = lookup_burst(t, keys, n, out);

	RTE_SET_USED(now);
	t->ctr.lookups += n;
	t->ctr.hits += hits;
	return hits;
}

/* Delete the flow in slot `pos`. */
static void slot_delete(struct bl_flow_table *t, uint32_t pos)
{
	struct bl_flow_entry *e = &t->slots[pos];

	settle(t, e);
	table_remove(t, pos, e->hash);
	memset(e, 0, sizeof(*e));
	t->live--;
	t->del_seq++;
}

/* Idle timeout of an entry, from its protocol and state. */
static uint64_t entry_timeout(const struct bl_flow_table *t, const struct bl_flow_entry *e)
{
	switch (e->tclass) {
	case TC_TCP:
		return e->state == BL_FLOW_ESTABLISHED ? t->timeout[TO_TCP_EST]
						       : t->timeout[TO_TCP_TRANSIENT];
	case TC_UDP: return t->timeout[TO_UDP];
	default: return t->timeout[TO_OTHER];
	}
}

/*
 * evict-idle: probe a bounded number of slots from the evict hand and evict
 * the longest idle entry among those idle at least evict_idle. A flow that
 * is not idle that long is never chosen, whatever its state.
 */
static bool evict_one(struct bl_flow_table *t, uint64_t now)
{
	uint32_t i, pos, best = UINT32_MAX;
	uint64_t best_idle = 0, idle;

	for (i = 0; i < t->evict_probe; i++) {
		pos = t->evict_hand;
		t->evict_hand = pos + 1 == t->nslots ? 0 : pos + 1;
		if (!(t->slots[pos].flags & BL_FLOW_F_LIVE) || now < t->slots[pos].last_tsc)
			continue;
		idle = now - t->slots[pos].last_tsc;
		if (idle >= t->evict_idle && idle >= best_idle) {
			best = pos;
			best_idle = idle;
		}
	}
	if (best == UINT32_MAX)
		return false;
	slot_delete(t, best);
	t->ctr.evicted_idle++;
	return true;
}

/* Add the key; on a full table apply the full-table policy. */
static enum bl_flow_outcome slot_add(struct bl_flow_table *t, const struct bl_flow_key *k,
				     uint64_t now, int32_t *pos)
{
	*pos = t->live < t->max_flows ? table_insert(t, k) : -ENOSPC;
	if (*pos >= 0)
		return BL_FLOW_TRACKED;
	t->ctr.insert_fail_full++;
	switch (t->full_policy) {
	case BL_FLOW_FULL_STATELESS: t->ctr.stateless_passed++; return BL_FLOW_PASS_UNTRACKED;
	case BL_FLOW_FULL_EVICT_IDLE:
		if (evict_one(t, now)) {
			*pos = table_insert(t, k);
			if (*pos >= 0)
				return BL_FLOW_TRACKED;
		}
		/* fall through */
	case BL_FLOW_FULL_DROP_NEW:
	default: t->ctr.new_dropped_full++; return BL_FLOW_DROP_FULL;
	}
}

/*
 * Create the entry of a flow's first packet. TCP without a bare SYN is
 * midstream and follows the midstream policy; a midstream SYN-ACK tells
 * the initiator (its receiver), any other segment is taken as established.
 */
static enum bl_flow_outcome flow_create(struct bl_flow_table *t, const struct bl_flow_key *k,
					uint64_t now, struct bl_flow_entry **ep)
{
	uint8_t fl = k->tcp_flags, state, flags = 0, init_side = k->side;
	enum bl_flow_outcome o;
	struct bl_flow_entry *e;
	uint8_t tclass;
	int32_t pos;

	if (k->proto == IPPROTO_TCP_) {
		tclass = TC_TCP;
		flags = BL_FLOW_F_TCP;
		if ((fl & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
			state = BL_FLOW_SYN_SENT;
		} else if (t->midstream == BL_FLOW_MIDSTREAM_DROP) {
			t->ctr.midstream_dropped++;
			return BL_FLOW_DROP_MIDSTREAM;
		} else if (t->midstream == BL_FLOW_MIDSTREAM_PASS) {
			t->ctr.midstream_passed++;
			return BL_FLOW_PASS_UNTRACKED;
		} else {
			flags |= BL_FLOW_F_MIDSTREAM;
			if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
				state = BL_FLOW_SYN_RECV;
				init_side = !k->side;
			} else {
				state = BL_FLOW_ESTABLISHED;
			}
		}
	} else {
		tclass = k->proto == IPPROTO_UDP_ ? TC_UDP : TC_OTHER;
		state = BL_FLOW_NEW;
	}
	o = slot_add(t, k, now, &pos);
	if (o != BL_FLOW_TRACKED)
		return o;
	e = &t->slots[pos];
	entry_clear(e); /* table_insert() wrote its key */
	e->state = state;
	e->flags = flags | BL_FLOW_F_LIVE | (init_side ? BL_FLOW_F_INIT1 : 0);
	e->tclass = tclass;
	e->last_tsc = now;
	t->live++;
	t->ctr.inserts++;
	if (flags & BL_FLOW_F_MIDSTREAM)
		t->ctr.midstream_tracked++;
	else if (state == BL_FLOW_SYN_SENT)
		t->ctr.tcp_syn++;
	*ep = e;
	return BL_FLOW_TRACKED;
}

/* A SYN on a CLOSED flow opens a new connection on the same tuple. */
static void tcp_reopen(struct bl_flow_table *t, struct bl_flow_entry *e,
		       const struct bl_flow_key *k)
{
	uint64_t last = e->last_tsc;

	settle(t, e); /* what came before counts to the rule that judged it */
	entry_clear(e);
	e->last_tsc = last;
	e->state = BL_FLOW_SYN_SENT;
	e->flags = BL_FLOW_F_TCP | BL_FLOW_F_LIVE | (k->side ? BL_FLOW_F_INIT1 : 0);
	e->tclass = TC_TCP;
	t->ctr.tcp_reopened++;
}

/*
 * TCP state from flags (RFC 9293 3.3.2, without sequence checks): the
 * handshake, a FIN from each side and the last ACK, or a RST, close it.
 */
static void tcp_advance(struct bl_flow_table *t, struct bl_flow_entry *e, unsigned dir, uint8_t fl)
{
	uint8_t finbit = dir ? BL_FLOW_F_FIN_REPLY : BL_FLOW_F_FIN_ORIG;

	if (fl & TCP_RST) {
		if (e->state != BL_FLOW_CLOSED) {
			e->state = BL_FLOW_CLOSED;
			t->ctr.tcp_rst++;
		}
		return;
	}
	switch (e->state) {
	case BL_FLOW_SYN_SENT:
		if ((fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && dir == 1) {
			e->state = BL_FLOW_SYN_RECV;
			t->ctr.tcp_syn_recv++;
		}
		return;
	case BL_FLOW_SYN_RECV:
		if ((fl & (TCP_SYN | TCP_ACK)) != TCP_ACK || dir != 0)
			return;
		e->state = BL_FLOW_ESTABLISHED;
		t->ctr.tcp_established++;
		break; /* the handshake ACK may carry a FIN */
	case BL_FLOW_CLOSING:
		/* last ACK: from the side that did not send the second FIN */
		if ((fl & (TCP_ACK | TCP_FIN)) == TCP_ACK &&
		    dir != !!(e->flags & BL_FLOW_F_LASTFIN_REPLY)) {
			e->state = BL_FLOW_CLOSED;
			t->ctr.tcp_closed_fin++;
		}
		return;
	case BL_FLOW_ESTABLISHED:
	case BL_FLOW_FIN_WAIT: break;
	default: return;
	}
	if (!(fl & TCP_FIN) || (e->flags & finbit))
		return;
	e->flags |= finbit;
	t->ctr.tcp_fin++;
	if ((e->flags & (BL_FLOW_F_FIN_ORIG | BL_FLOW_F_FIN_REPLY)) ==
	    (BL_FLOW_F_FIN_ORIG | BL_FLOW_F_FIN_REPLY)) {
		e->state = BL_FLOW_CLOSING;
		if (dir)
			e->flags |= BL_FLOW_F_LASTFIN_REPLY;
	} else {
		e->state = BL_FLOW_FIN_WAIT;
	}
}

/* A packet of direction `dir` to its flow `e`: time stamp, packets and
 * bytes of that direction. */
static inline void entry_account_dir(struct bl_flow_entry *e, unsigned dir, uint32_t bytes,
				     uint64_t now)
{
	if (now > e->last_tsc)
		e->last_tsc = now;
	e->pkts[dir]++;
	e->bytes[dir] += bytes;
}

/* A packet of `k` to its flow `e`; returns its direction. */
static inline unsigned entry_account(struct bl_flow_entry *e, const struct bl_flow_key *k,
				     uint32_t bytes, uint64_t now)
{
	unsigned dir = bl_flow_dir(e, k);

	entry_account_dir(e, dir, bytes, now);
	return dir;
}

/*
 * Account a packet to its flow, creating the flow on a miss. Inline in
 * bl_flow_track_burst(). Most packets are of a live entry and change no
 * state (TCP ESTABLISHED without FIN or RST, UDP/other after the reply):
 * a time stamp and two counters, the state machines not entered.
 */
static inline enum bl_flow_outcome flow_update(struct bl_flow_table *t, const struct bl_flow_key *k,
					       struct bl_flow_entry **entry, uint32_t bytes,
					       uint64_t now)
{
	struct bl_flow_entry *e = *entry;
	enum bl_flow_outcome o;
	unsigned dir;
	int32_t pos;

	/*
	 * An entry found by the bulk lookup may have been deleted since (an
	 * eviction or removal for an earlier packet of the burst) and its slot
	 * reused: then look again.
	 */
	if (unlikely(e == NULL || t->del_seq != t->lookup_del_seq)) {
		/* an earlier packet of this burst may have created it */
		pos = table_find(t, k);
		if (pos >= 0) {
			e = &t->slots[pos];
		} else {
			o = flow_create(t, k, now, &e);
			if (o != BL_FLOW_TRACKED)
				return o;
		}
		*entry = e;
	}
	if (unlikely((e->flags & BL_FLOW_F_TCP) && e->state == BL_FLOW_CLOSED &&
		     (k->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN))
		tcp_reopen(t, e, k);
	dir = entry_account(e, k, bytes, now);
	if (e->flags & BL_FLOW_F_TCP) {
		/* tcp_advance() changes nothing else for an established flow */
		if (unlikely(e->state != BL_FLOW_ESTABLISHED ||
			     (k->tcp_flags & (TCP_FIN | TCP_RST))))
			tcp_advance(t, e, dir, k->tcp_flags);
	} else if (unlikely(e->state == BL_FLOW_NEW && dir == 1)) {
		e->state = BL_FLOW_ACTIVE;
		t->ctr.udp_active++;
	}
	return BL_FLOW_TRACKED;
}

enum bl_flow_outcome bl_flow_update(struct bl_flow_table *t, const struct bl_flow_key *k,
				    struct bl_flow_entry **entry, uint32_t bytes, uint64_t now)
{
	return flow_update(t, k, entry, bytes, now);
}

void bl_flow_track_burst(struct bl_flow_table *t, const struct bl_flow_key *keys,
			 const uint32_t *bytes, unsigned n, unsigned looked, uint64_t now,
			 struct bl_flow_entry **entries, uint8_t *outcomes)
{
	if (looked > n)
		looked = n;
	for (unsigned i = 0; i < looked; i++)
		t->ctr.hits += entries[i] != NULL;
	t->ctr.lookups += looked;
	if (looked < n)
		bl_flow_lookup_burst(t, keys + looked, n - looked, now, entries + looked);
	for (unsigned i = 0; i < n; i++)
		outcomes[i] = (uint8_t)flow_update(t, &keys[i], &entries[i], bytes[i], now);
}

/* (state, dir) pairs whose packet changes no state (bit state * 2 + dir) */
#define EXPRESS_ONLY_COUNTS                                                                        \
	(1u << (BL_FLOW_ESTABLISHED * 2) | 1u << (BL_FLOW_ESTABLISHED * 2 + 1) |                   \
	 1u << (BL_FLOW_ACTIVE * 2) | 1u << (BL_FLOW_ACTIVE * 2 + 1) | 1u << (BL_FLOW_NEW * 2))
_Static_assert(BL_FLOW_STATE_MAX * 2 <= 32, "EXPRESS_ONLY_COUNTS has a bit per (state, dir)");

unsigned bl_flow_express_burst(struct bl_flow_table *t, const struct bl_flow_key *keys,
			       const uint32_t *bytes, unsigned n, uint64_t now, uint8_t verdict,
			       uint32_t gen, const uint32_t *cand, struct bl_flow_entry **out,
			       uint8_t *taken)
{
	const struct bl_flow_entry *refused[BL_FLOW_BURST_MAX];
	unsigned i, nt = 0, nr = 0;
	bool full = false; /* more refused flows than `refused` holds: take no more */
	uint64_t vg, vg_mask;
	uint8_t img[8] = { 0 };

	/* the entry's verdict_gen and verdict, which lie in one word with
	 * rule_slot and state, compared as one: the word's image and mask */
	_Static_assert(offsetof(struct bl_flow_entry, verdict) ==
				       offsetof(struct bl_flow_entry, verdict_gen) + 6 &&
			       offsetof(struct bl_flow_entry, verdict_gen) % 8 == 0,
		       "verdict_gen, rule_slot, verdict, state: one word");
	memcpy(img, &gen, 4);
	img[6] = verdict;
	memcpy(&vg, img, 8);
	memset(img, 0xff, 4);
	img[6] = 0xff;
	memcpy(&vg_mask, img, 8);

	/* with candidates, each packet is looked up in the loop below (its
	 * lines were requested a while ago); the packets taken before it
	 * change no bucket (an update of a taken packet never creates,
	 * deletes or reopens a flow) */
	if (cand == NULL)
		lookup_burst(t, keys, n, out);
	else
		t->lookup_del_seq = t->del_seq;
	for (i = 0; i < n; i++) {
		struct bl_flow_entry *e =
			cand ? (out[i] = cand_find(t, &keys[i], cand[i])) : out[i];
		unsigned dir;
		bool ok;

		/* no SYN, FIN or RST: the TCP state stays or only advances
		 * (never reopens, which clears the verdict) */
		ok = e != NULL && (ld64(&e->verdict_gen) & vg_mask) == vg &&
		     !(keys[i].tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)) && !full;
		/* a flow with a packet refused earlier in the burst: its later
		 * packets wait behind it (a miss needs no entry here: its flow's
		 * later packets miss too) */
		for (unsigned r = 0; ok && r < nr; r++)
			ok = refused[r] != e;
		taken[i] = ok;
		if (!ok) {
			if (e != NULL && nr < RTE_DIM(refused))
				refused[nr++] = e;
			else if (e != NULL)
				full = true;
			continue;
		}
		/* what flow_update() does for an established or active flow,
		 * or a packet of a UDP/other flow's initiator before any reply
		 * (NEW is never a TCP state), where nothing was deleted since
		 * the lookup and the packet has no SYN, FIN or RST: the time
		 * stamp and the counters only; (state, dir) as one bit index */
		dir = bl_flow_dir(e, &keys[i]);
		if (likely((EXPRESS_ONLY_COUNTS >> (e->state * 2 + dir)) & 1))
			entry_account_dir(e, dir, bytes[i], now);
		else
			flow_update(t, &keys[i], &out[i], bytes[i], now);
		nt++;
	}
	/* only the packets taken were looked up, as far as the counters go */
	t->ctr.lookups += nt;
	t->ctr.hits += nt;
	return nt;
}

/* Clock-hand expiry over at most `budget` slots. */
unsigned bl_flow_expire(struct bl_flow_table *t, uint64_t now, unsigned budget)
{
	struct bl_flow_entry *e;
	unsigned i, n = 0;
	uint32_t pos;

	if (budget > t->nslots)
		budget = t->nslots;
	for (i = 0; i < budget; i++) {
		pos = t->hand;
		t->hand = pos + 1 == t->nslots ? 0 : pos + 1;
		e = &t->slots[pos];
		/* the first line tells free slots apart; a live one is settled
		 * (its second line) and, when idle past its timeout, deleted */
		if (!(e->flags & BL_FLOW_F_LIVE))
			continue;
		settle(t, e);
		if (now <= e->last_tsc || now - e->last_tsc <= t->timeout_min ||
		    now - e->last_tsc <= entry_timeout(t, e))
			continue;
		slot_delete(t, pos);
		n++;
	}
	t->ctr.expired += n;
	return n;
}

unsigned bl_flow_expire_budget(const struct bl_flow_table *t, unsigned calls)
{
	if (calls == 0)
		calls = 1;
	return (unsigned)(((uint64_t)t->nslots + calls - 1) / calls);
}

int bl_flow_remove(struct bl_flow_table *t, struct bl_flow_entry *e)
{
	uintptr_t pos;

	if ((uintptr_t)e < (uintptr_t)t->slots || (uintptr_t)e >= (uintptr_t)(t->slots + t->nslots))
		return -ENOENT;
	pos = ((uintptr_t)e - (uintptr_t)t->slots) / sizeof(*t->slots);
	if (e != &t->slots[pos] || !(e->flags & BL_FLOW_F_LIVE))
		return -ENOENT;
	slot_delete(t, (uint32_t)pos);
	t->ctr.removed++;
	return 0;
}

uint32_t bl_flow_count(const struct bl_flow_table *t)
{
	return t->live;
}

uint32_t bl_flow_spilled(const struct bl_flow_table *t)
{
	uint32_t n = 0;

	for (uint32_t b = 0; b <= t->bmask; b++)
		n += t->buckets[b].spilled;
	return n;
}

const struct bl_flow_counters *bl_flow_counters(const struct bl_flow_table *t)
{
	return &t->ctr;
}

uint64_t bl_flow_counter_value(const struct bl_flow_counters *c, unsigned i)
{
	uint64_t v;

	if (i >= BL_FLOW_NCOUNTERS)
		return 0;
	memcpy(&v, (const char *)c + i * sizeof(uint64_t), sizeof(v));
	return v;
}

static const char *const state_names[BL_FLOW_STATE_MAX] = {
	[BL_FLOW_NEW] = "new",
	[BL_FLOW_ACTIVE] = "active",
	[BL_FLOW_SYN_SENT] = "syn_sent",
	[BL_FLOW_SYN_RECV] = "syn_recv",
	[BL_FLOW_ESTABLISHED] = "established",
	[BL_FLOW_FIN_WAIT] = "fin_wait",
	[BL_FLOW_CLOSING] = "closing",
	[BL_FLOW_CLOSED] = "closed",
};

const char *bl_flow_state_name(enum bl_flow_state s)
{
	return (unsigned)s < BL_FLOW_STATE_MAX ? state_names[s] : "unknown";
}

static const char *const outcome_names[BL_FLOW_OUTCOME_MAX] = {
	[BL_FLOW_TRACKED] = "tracked",
	[BL_FLOW_PASS_UNTRACKED] = "pass_untracked",
	[BL_FLOW_DROP_MIDSTREAM] = "drop_midstream",
	[BL_FLOW_DROP_FULL] = "drop_full",
};

const char *bl_flow_outcome_name(enum bl_flow_outcome o)
{
	return (unsigned)o < BL_FLOW_OUTCOME_MAX ? outcome_names[o] : "unknown";
}

static const char *const midstream_names[] = { "track", "drop", "pass" };
static const char *const full_names[] = { "drop-new", "evict-idle", "stateless" };

const char *bl_flow_midstream_name(enum bl_flow_midstream m)
{
	return (unsigned)m < RTE_DIM(midstream_names) ? midstream_names[m] : "unknown";
}

const char *bl_flow_full_policy_name(enum bl_flow_full_policy p)
{
	return (unsigned)p < RTE_DIM(full_names) ? full_names[p] : "unknown";
}

/* Index of `s` in `names`, or -EINVAL. */
static int name_index(const char *const *names, unsigned n, const char *s)
{
	unsigned i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

int bl_flow_midstream_parse(const char *s)
{
	return name_index(midstream_names, RTE_DIM(midstream_names), s);
}

int bl_flow_full_policy_parse(const char *s)
{
	return name_index(full_names, RTE_DIM(full_names), s);
}

/* Control-thread read of a live table (flow.h); see there for why it is safe. */
int bl_flow_peek(const struct bl_flow_table *t, uint32_t *cursor, struct bl_flow_key *k,
		 struct bl_flow_entry *e, uint64_t *skipped)
{
	for (uint32_t pos = *cursor; pos < t->nslots; pos++) {
		const volatile struct bl_flow_entry *ve = &t->slots[pos];

		if (!(ve->flags & BL_FLOW_F_LIVE))
			continue;
		/* a few tries: a busy flow changes between two copies */
		for (unsigned attempt = 0; attempt < 4; attempt++) {
			struct bl_flow_entry again;

			memcpy(e, (const void *)ve, sizeof(*e));
			if (!(e->flags & BL_FLOW_F_LIVE))
				continue;
			memcpy(k, e->key, BL_FLOW_KEY_LEN);
			/* the first copy (its key too) is read before the second */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			memcpy(&again, (const void *)ve, sizeof(again));
			if (memcmp(&again, e, sizeof(again)) || key_mem_hash(k) != e->hash)
				continue;
			k->hash = e->hash;
			k->side = (uint8_t)bl_flow_init_side(e);
			k->tcp_flags = 0;
			k->pad = 0;
			*cursor = pos + 1;
			return 0;
		}
		(*skipped)++;
	}
	*cursor = t->nslots;
	return -ENOENT;
}
