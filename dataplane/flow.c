/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker flow table (see flow.h): rte_hash for the keys, a preallocated
 * entry array indexed by the rte_hash position for the data.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "flow.h"

#define HASH_SEED 0x6b1c3f2d

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

struct bl_flow_table {
	struct rte_hash *h;
	struct bl_flow_entry *entries; /* nslots, indexed by rte_hash position */
	uint32_t nslots;
	uint32_t max_flows;
	uint32_t live;
	uint32_t hand;	     /* expiry clock hand */
	uint32_t evict_hand; /* evict-idle probe hand */
	uint32_t evict_probe;
	uint32_t del_seq;	  /* bumped by every delete */
	uint32_t lookup_del_seq;  /* del_seq at the last bulk lookup */
	uint64_t timeout[TO_MAX]; /* TSC */
	uint64_t evict_idle;	  /* TSC */
	enum bl_flow_midstream midstream;
	enum bl_flow_full_policy full_policy;
	struct bl_flow_counters ctr;
};

_Static_assert(sizeof(struct bl_flow_entry) == 64, "flow entry is one cache line");
_Static_assert(offsetof(struct bl_flow_key, hash) == BL_FLOW_KEY_LEN, "hashed part of the key");
_Static_assert(BL_FLOW_KEY_LEN % 16 == 0 && BL_FLOW_KEY_LEN <= 128,
	       "a key length rte_hash compares with vector instructions");
_Static_assert(offsetof(struct bl_flow_key, addr) == 8 &&
		       offsetof(struct bl_flow_key, zero) == 40 && BL_FLOW_KEY_LEN == 48,
	       "key_hash() knows the key's words");
_Static_assert(sizeof(struct bl_flow_counters) % sizeof(uint64_t) == 0,
	       "counters are uint64_t only");

/*
 * CRC32-C of a key (len a multiple of 8), equal to rte_hash_crc() but
 * loading through memcpy: rte_hash_crc() reads the key as uint64_t, and
 * under strict aliasing the compiler may then hoist those reads above the
 * stores that build the key (seen at -O3: keys differing only in their
 * ports all hashed alike). Also the table's hash_func, so both agree.
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

/* Create the hash (with ~25% headroom so cuckoo paths rarely fail below
 * max_flows) and the entry array. */
struct bl_flow_table *bl_flow_create(const struct bl_flow_config *c)
{
	struct rte_hash_parameters hp = { 0 };
	struct bl_flow_table *t;
	uint64_t hz;
	int32_t max_id;
	int err;

	if (c == NULL || c->name == NULL || c->max_flows < 8 || c->max_flows > (1u << 28) ||
	    (c->full_policy == BL_FLOW_FULL_EVICT_IDLE && c->evict_idle_s == 0) ||
	    c->timeout_tcp_established == 0 || c->timeout_tcp_transient == 0 ||
	    c->timeout_udp == 0 || c->timeout_other == 0 || c->midstream > BL_FLOW_MIDSTREAM_PASS ||
	    c->full_policy > BL_FLOW_FULL_STATELESS) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc_socket("bl_flow_table", sizeof(*t), RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	hp.name = c->name;
	hp.entries = c->max_flows + c->max_flows / 4;
	hp.key_len = BL_FLOW_KEY_LEN;
	hp.hash_func = key_crc;
	hp.hash_func_init_val = HASH_SEED;
	hp.socket_id = c->socket_id;
	hp.extra_flag = 0; /* one writer, one reader: the owning worker */
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
	t->entries = rte_zmalloc_socket("bl_flow_entries", (size_t)t->nslots * sizeof(*t->entries),
					RTE_CACHE_LINE_SIZE, c->socket_id);
	if (t->entries == NULL) {
		err = ENOMEM;
		goto out_free_hash;
	}
	hz = c->tsc_hz ? c->tsc_hz : rte_get_tsc_hz();
	t->timeout[TO_TCP_EST] = hz * c->timeout_tcp_established;
	t->timeout[TO_TCP_TRANSIENT] = hz * c->timeout_tcp_transient;
	t->timeout[TO_UDP] = hz * c->timeout_udp;
	t->timeout[TO_OTHER] = hz * c->timeout_other;
	t->evict_idle = hz * c->evict_idle_s;
	t->evict_probe = c->evict_probe ? c->evict_probe : 1;
	t->max_flows = c->max_flows;
	t->midstream = c->midstream;
	t->full_policy = c->full_policy;
	return t;

out_free_hash:
	rte_hash_free(t->h);
out_free_table:
	rte_free(t);
	errno = err;
	return NULL;
}

void bl_flow_free(struct bl_flow_table *t)
{
	if (t == NULL)
		return;
	rte_free(t->entries);
	rte_hash_free(t->h);
	rte_free(t);
}

/* memcmp() of two 16-byte addresses held as two words each, inline. */
static inline int addr_cmp(const uint64_t *a, const uint64_t *b)
{
	for (unsigned i = 0; i < 2; i++) {
		uint64_t x = rte_be_to_cpu_64(a[i]), y = rte_be_to_cpu_64(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/*
 * key_crc() of a key just built, from the values in registers: reading the
 * key back right after its narrow stores stalls on store forwarding. The
 * first word is the key's first 8 bytes as a little-endian load sees them.
 */
static inline uint32_t key_hash(const struct bl_flow_key *k, uint16_t pa, uint16_t pb,
				const uint64_t *lo, const uint64_t *hi)
{
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	uint64_t w0 = (uint64_t)k->family | (uint64_t)k->proto << 8 | (uint64_t)k->vlan << 16 |
		      (uint64_t)pa << 32 | (uint64_t)pb << 48;
	uint32_t h = rte_hash_crc_8byte(w0, HASH_SEED);

	h = rte_hash_crc_8byte(lo[0], h);
	h = rte_hash_crc_8byte(lo[1], h);
	h = rte_hash_crc_8byte(hi[0], h);
	h = rte_hash_crc_8byte(hi[1], h);
	return rte_hash_crc_8byte(0, h); /* k->zero */
#else
	RTE_SET_USED(pa);
	RTE_SET_USED(pb);
	RTE_SET_USED(lo);
	RTE_SET_USED(hi);
	return key_crc(k, BL_FLOW_KEY_LEN, HASH_SEED);
#endif
}

/* Canonical key of one IP layer: endpoints ordered by (address, port). */
int bl_flow_key_from_l3(const struct bl_l3 *l3, uint16_t vlan, struct bl_flow_key *k)
{
	uint64_t a[2], b[2];
	const uint64_t *lo, *hi;
	uint16_t pa = 0, pb = 0;
	int cmp;

	if ((l3->family != 4 && l3->family != 6) || (l3->flags & BL_L3_FRAG_LATER))
		return -ENOENT;
	memset(k, 0, sizeof(*k));
	k->family = l3->family;
	k->proto = l3->proto;
	k->vlan = vlan & 0x0fff;
	switch (l3->proto) {
	case IPPROTO_TCP_:
		k->tcp_flags = l3->tcp_flags;
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
	memcpy(a, l3->src, 16);
	memcpy(b, l3->dst, 16);
	cmp = addr_cmp(a, b);
	if (cmp < 0 || (cmp == 0 && pa <= pb)) {
		lo = a;
		hi = b;
		k->side = 0;
	} else {
		lo = b;
		hi = a;
		RTE_SWAP(pa, pb);
		k->side = 1;
	}
	memcpy(k->addr[0], lo, 16);
	memcpy(k->addr[1], hi, 16);
	k->port[0] = pa;
	k->port[1] = pb;
	k->hash = key_hash(k, pa, pb, lo, hi);
	return 0;
}

/* Key of a parsed packet: outermost IP layer, outermost VLAN tag. */
int bl_flow_key_build(const struct bl_pkt *p, struct bl_flow_key *k)
{
	if (p->outcome != BL_PARSE_OK || p->nlayers == 0)
		return -ENOENT;
	return bl_flow_key_from_l3(&p->l3[0], p->nvlan ? p->vlan[0] : 0, k);
}

/* Bulk lookups with the precomputed hashes, BL_FLOW_BURST_MAX at a time. */
unsigned bl_flow_lookup_burst(struct bl_flow_table *t, const struct bl_flow_key *keys, unsigned n,
			      uint64_t now, struct bl_flow_entry **out)
{
	const void *kp[BL_FLOW_BURST_MAX];
	hash_sig_t sig[BL_FLOW_BURST_MAX];
	int32_t pos[BL_FLOW_BURST_MAX];
	unsigned done, m, i, hits = 0;

	RTE_SET_USED(now);
	for (done = 0; done < n; done += m) {
		m = RTE_MIN(n - done, (unsigned)BL_FLOW_BURST_MAX);
		for (i = 0; i < m; i++) {
			kp[i] = &keys[done + i];
			sig[i] = keys[done + i].hash;
		}
		if (rte_hash_lookup_with_hash_bulk(t->h, kp, sig, m, pos) < 0) {
			for (i = 0; i < m; i++)
				pos[i] = -ENOENT;
		}
		for (i = 0; i < m; i++) {
			if (pos[i] >= 0) {
				out[done + i] = &t->entries[pos[i]];
				rte_prefetch0(out[done + i]);
				hits++;
			} else {
				out[done + i] = NULL;
			}
		}
	}
	t->ctr.lookups += n;
	t->ctr.hits += hits;
	t->lookup_del_seq = t->del_seq;
	return hits;
}

/* Delete the entry at `pos` from the hash and the array. */
static void slot_delete(struct bl_flow_table *t, uint32_t pos)
{
	struct bl_flow_entry *e = &t->entries[pos];
	void *key;

	if (rte_hash_get_key_with_position(t->h, (int32_t)pos, &key) == 0)
		rte_hash_del_key_with_hash(t->h, key, e->hash);
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
		if (!t->entries[pos].in_use || now < t->entries[pos].last_tsc)
			continue;
		idle = now - t->entries[pos].last_tsc;
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
	*pos = t->live < t->max_flows ? rte_hash_add_key_with_hash(t->h, k, k->hash) : -ENOSPC;
	if (*pos >= 0)
		return BL_FLOW_TRACKED;
	t->ctr.insert_fail_full++;
	switch (t->full_policy) {
	case BL_FLOW_FULL_STATELESS: t->ctr.stateless_passed++; return BL_FLOW_PASS_UNTRACKED;
	case BL_FLOW_FULL_EVICT_IDLE:
		if (evict_one(t, now)) {
			*pos = rte_hash_add_key_with_hash(t->h, k, k->hash);
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
	e = &t->entries[pos];
	memset(e, 0, sizeof(*e));
	e->hash = k->hash;
	e->state = state;
	e->flags = flags;
	e->init_side = init_side;
	e->tclass = tclass;
	e->in_use = 1;
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
	uint32_t hash = e->hash;

	memset(e, 0, sizeof(*e));
	e->hash = hash;
	e->last_tsc = last;
	e->state = BL_FLOW_SYN_SENT;
	e->flags = BL_FLOW_F_TCP;
	e->init_side = k->side;
	e->tclass = TC_TCP;
	e->in_use = 1;
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

/* Account a packet to its flow, creating the flow on a miss. */
enum bl_flow_outcome bl_flow_update(struct bl_flow_table *t, const struct bl_flow_key *k,
				    struct bl_flow_entry **entry, uint32_t bytes, uint64_t now)
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
	if (e != NULL && t->del_seq != t->lookup_del_seq)
		e = NULL;
	if (e == NULL) {
		/* an earlier packet of this burst may have created it */
		pos = rte_hash_lookup_with_hash(t->h, k, k->hash);
		if (pos >= 0) {
			e = &t->entries[pos];
		} else {
			o = flow_create(t, k, now, &e);
			if (o != BL_FLOW_TRACKED)
				return o;
		}
		*entry = e;
	}
	if ((e->flags & BL_FLOW_F_TCP) && e->state == BL_FLOW_CLOSED &&
	    (k->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
		tcp_reopen(t, e, k);
	dir = bl_flow_dir(e, k);
	if (now > e->last_tsc)
		e->last_tsc = now;
	e->pkts[dir]++;
	e->bytes[dir] += bytes;
	if (e->flags & BL_FLOW_F_TCP) {
		tcp_advance(t, e, dir, k->tcp_flags);
	} else if (e->state == BL_FLOW_NEW && dir == 1) {
		e->state = BL_FLOW_ACTIVE;
		t->ctr.udp_active++;
	}
	return BL_FLOW_TRACKED;
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
		e = &t->entries[pos];
		if (!e->in_use || now <= e->last_tsc || now - e->last_tsc <= entry_timeout(t, e))
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

	if (e < t->entries || e >= t->entries + t->nslots || !e->in_use)
		return -ENOENT;
	pos = (uintptr_t)(e - t->entries);
	slot_delete(t, (uint32_t)pos);
	t->ctr.removed++;
	return 0;
}

uint32_t bl_flow_count(const struct bl_flow_table *t)
{
	return t->live;
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
		const volatile struct bl_flow_entry *ve = &t->entries[pos];

		if (!ve->in_use)
			continue;
		/* a few tries: a busy flow changes between two copies */
		for (unsigned attempt = 0; attempt < 4; attempt++) {
			struct bl_flow_entry again;
			void *key;

			memcpy(e, (const void *)ve, sizeof(*e));
			if (!e->in_use || rte_hash_get_key_with_position(t->h, (int32_t)pos, &key))
				continue;
			memcpy(k, key, BL_FLOW_KEY_LEN);
			/* the key and the first copy are read before the second copy */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			memcpy(&again, (const void *)ve, sizeof(again));
			if (memcmp(&again, e, sizeof(again)) ||
			    key_crc(k, BL_FLOW_KEY_LEN, HASH_SEED) != e->hash)
				continue;
			k->hash = e->hash;
			k->side = e->init_side;
			*cursor = pos + 1;
			return 0;
		}
		(*skipped)++;
	}
	*cursor = t->nslots;
	return -ENOENT;
}
