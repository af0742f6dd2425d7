/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Meters, worker side (see meter.h): subscriber keys, slot lookup, GCRA
 * buckets and quota words, all charged by compare-and-swap.
 *
 * Memory order. Every bucket and quota word is self-contained: nothing else
 * is published through it, so its loads and CAS are relaxed; atomicity alone
 * makes each admitted byte land in exactly one successful CAS, hence the
 * totals are exact under contention. The one exception is the key copy in a
 * slot, read by the persistence thread: it is written before a release store
 * of slot.state and read after an acquire load of it.
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include "meter_int.h"

void bl_gcra_init(struct bl_gcra *g, uint64_t rate, uint64_t burst, uint64_t tsc_hz)
{
	unsigned __int128 c, t;

	if (!rate)
		rate = 1;
	/* ticks (TSC * 16) per unit, Q16 */
	c = ((unsigned __int128)tsc_hz << 20) / rate;
	if (c > (UINT64_MAX >> 8))
		c = UINT64_MAX >> 8;
	t = ((unsigned __int128)burst * c) >> 16;
	if (t > (UINT64_MAX >> 2))
		t = UINT64_MAX >> 2;
	g->cost_q16 = (uint64_t)c;
	g->tau = (uint64_t)t;
}

/*
 * GCRA: the bucket is full when TAT <= now; taking n units moves TAT to
 * max(TAT, now) + cost(n), allowed while that stays within tau of now (the
 * burst). Equivalent to a token bucket of `burst` refilled at `rate`.
 */
bool bl_gcra_take(const struct bl_gcra *g, uint64_t *tat, uint64_t n, uint64_t now, bool shared)
{
	uint64_t t = now << 4;
	uint64_t cost = (uint64_t)(((unsigned __int128)n * g->cost_q16) >> 16);
	uint64_t old = shared ? __atomic_load_n(tat, __ATOMIC_RELAXED) : *tat;

	for (;;) {
		uint64_t base = old > t ? old : t, nw = base + cost;

		if (nw - t > g->tau)
			return false;
		if (!shared) {
			*tat = nw;
			return true;
		}
		/* relaxed: the word carries no other data (see the head comment) */
		if (__atomic_compare_exchange_n(tat, &old, nw, true, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	}
}

int bl_meter_subscriber(const struct bl_meter_rule *r, const struct bl_pkt *p, bool inbound,
			struct bl_meter_sub *sub)
{
	const struct bl_l3 *l3;
	const uint8_t *a;

	memset(sub, 0, sizeof(*sub));
	if (r->per_rule)
		return 0;
	if (!p->nlayers)
		return -ENOENT;
	l3 = &p->l3[0];
	a = inbound ? l3->dst : l3->src;
	sub->family = l3->family;
	if (l3->family == 4) {
		sub->plen = 32;
		memcpy(sub->addr, a, 4);
	} else {
		unsigned full = r->plen6 / 8, rem = r->plen6 % 8;

		sub->plen = r->plen6;
		memcpy(sub->addr, a, full);
		if (rem)
			sub->addr[full] = a[full] & (uint8_t)(0xff00u >> rem);
	}
	return 0;
}

/* The slot of (sub, rule), inserted on first use; NULL when the table is full. */
static struct meter_slot *slot_get(struct bl_meters *m, const struct bl_meter_rule *r,
				   const struct bl_meter_sub *sub)
{
	struct meter_key k;
	hash_sig_t sig;
	int pos;

	memset(&k, 0, sizeof(k));
	k.rule_id = r->id;
	k.family = sub->family;
	k.plen = sub->plen;
	memcpy(k.addr, sub->addr, 16);
	sig = rte_hash_crc(&k, sizeof(k), 0);
	pos = rte_hash_lookup_with_hash(m->h, &k, sig); /* lock-free reader */
	if (unlikely(pos < 0)) {
		/* new key: rte_hash serialises writers; a concurrent add of the
		 * same key returns the same position */
		pos = rte_hash_add_key_with_hash(m->h, &k, sig);
	}
	return meter_slot_claim(m, pos, &k);
}

/* The rule's quota mode changed (new policy): the first to notice clears. */
static void quota_mode(struct meter_slot *s, uint32_t mode)
{
	uint32_t old = __atomic_load_n(&s->qmode, __ATOMIC_RELAXED);

	if (likely(old == mode))
		return;
	if (!__atomic_compare_exchange_n(&s->qmode, &old, mode, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	if (old != 0)
		for (unsigned i = 0; i < BL_METER_QBUCKETS; i++)
			__atomic_store_n(&s->q[i], 0, __ATOMIC_RELAXED);
}

/* Where this instant's bytes go: bucket index and tag. */
static void quota_where(const struct bl_meter_rule *r, int64_t now_s, unsigned *idx, uint16_t *tag)
{
	if (r->qmode & QMODE_CALENDAR) {
		uint64_t w = __atomic_load_n(&r->nm->period, __ATOMIC_RELAXED);

		*idx = 0;
		*tag = cal_tag(cal_period_end(w, now_s));
	} else {
		uint64_t k = (uint64_t)now_s / r->qmode;

		*idx = k % BL_METER_QBUCKETS;
		*tag = (uint16_t)k;
	}
}

/* Bytes in the buckets other than idx that are still in the window. */
static uint64_t quota_others(const struct bl_meter_rule *r, const struct meter_slot *s,
			     unsigned idx, uint16_t tag)
{
	uint64_t sum = 0;

	if (r->qmode & QMODE_CALENDAR)
		return 0;
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		uint64_t w;
		uint16_t age;

		if (i == idx)
			continue;
		w = __atomic_load_n(&s->q[i], __ATOMIC_RELAXED);
		age = (uint16_t)(tag - QW_TAG(w));
		if (age >= 1 && age < BL_METER_QBUCKETS)
			sum += QW_BYTES(w);
	}
	return sum;
}

/*
 * Add `bytes` to the current bucket if the period's total stays within the
 * quota. The CAS on the current word makes check and add one step; the
 * other buckets only shrink (they leave the window), so the bound holds.
 */
static bool quota_take(const struct bl_meter_rule *r, struct meter_slot *s, uint32_t bytes,
		       int64_t now_s)
{
	unsigned idx;
	uint16_t tag;
	uint64_t others, old;

	quota_mode(s, r->qmode);
	quota_where(r, now_s, &idx, &tag);
	others = quota_others(r, s, idx, tag);
	old = __atomic_load_n(&s->q[idx], __ATOMIC_RELAXED);
	for (;;) {
		uint64_t used = QW_TAG(old) == tag ? QW_BYTES(old) : 0;

		if (others + used + bytes > r->quota)
			return false;
		/* relaxed: self-contained word (see the head comment) */
		if (__atomic_compare_exchange_n(&s->q[idx], &old, QW_MAKE(tag, used + bytes), true,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return true;
	}
}

enum bl_meter_verdict bl_meter_charge_sub(const struct bl_meter_rule *r,
					  const struct bl_meter_sub *sub, uint32_t bytes,
					  uint64_t now, struct bl_meter_stats *st)
{
	struct meter_slot *s = slot_get(r->m, r, sub);

	if (unlikely(!s)) {
		st->table_full++;
		return BL_METER_DROP;
	}
	if (r->kind == BL_ACT_RATE_LIMIT) {
		if (bl_gcra_take(&r->rate, &s->tat, bytes, now, true)) {
			st->rate_pass++;
			return BL_METER_PASS;
		}
		st->rate_drop++;
		return BL_METER_DROP;
	}
	if (quota_take(r, s, bytes, meter_epoch(r->m, now))) {
		st->quota_pass++;
		return BL_METER_PASS;
	}
	switch (r->then) {
	case BL_ACT_REJECT: st->quota_reject++; return BL_METER_REJECT;
	case BL_ACT_RATE_LIMIT:
		if (bl_gcra_take(&r->rate, &s->tat, bytes, now, true)) {
			st->quota_then_pass++;
			return BL_METER_PASS;
		}
		st->quota_then_drop++;
		return BL_METER_DROP;
	default: st->quota_drop++; return BL_METER_DROP;
	}
}

enum bl_meter_verdict bl_meter_charge(const struct bl_meter_rule *r, const struct bl_pkt *p,
				      bool inbound, uint32_t bytes, uint64_t now,
				      struct bl_meter_stats *st)
{
	struct bl_meter_sub sub;

	if (unlikely(bl_meter_subscriber(r, p, inbound, &sub) != 0)) {
		st->no_subscriber++;
		return BL_METER_DROP;
	}
	return bl_meter_charge_sub(r, &sub, bytes, now, st);
}

uint64_t bl_meter_usage(const struct bl_meter_rule *r, const struct bl_meter_sub *sub, uint64_t now)
{
	struct meter_key k;
	const struct meter_slot *s;
	unsigned idx;
	uint16_t tag;
	uint64_t w;
	int pos;

	memset(&k, 0, sizeof(k));
	k.rule_id = r->id;
	k.family = sub->family;
	k.plen = sub->plen;
	memcpy(k.addr, sub->addr, 16);
	pos = rte_hash_lookup(r->m->h, &k);
	if (pos < 0 || (uint32_t)pos >= r->m->nslots || r->kind != BL_ACT_QUOTA)
		return 0;
	s = &r->m->slots[pos];
	if (__atomic_load_n(&s->qmode, __ATOMIC_RELAXED) != r->qmode)
		return 0;
	quota_where(r, meter_epoch(r->m, now), &idx, &tag);
	w = __atomic_load_n(&s->q[idx], __ATOMIC_RELAXED);
	return quota_others(r, s, idx, tag) + (QW_TAG(w) == tag ? QW_BYTES(w) : 0);
}

const char *bl_meter_verdict_name(enum bl_meter_verdict v)
{
	switch (v) {
	case BL_METER_PASS: return "pass";
	case BL_METER_DROP: return "drop";
	case BL_METER_REJECT: return "reject";
	}
	return "?";
}
