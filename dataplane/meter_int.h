/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the meters (meter.h), shared by the worker side (meter.c)
 * and the control side (meter_ctl.c) only.
 */
#ifndef BL_METER_INT_H
#define BL_METER_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "meter.h"

struct rte_hash;

#define BL_METER_MAX_RULES	  65536u /* distinct metered rule names per daemon */
#define BL_METER_HASH_LCORE_CACHE 64u	 /* rte_hash's per-lcore free-slot cache */

/* Quota words: (16-bit period tag << 48) | bytes used (48 bits). */
#define QW_BYTES_MASK ((UINT64_C(1) << 48) - 1)
#define QW_TAG(w)     ((uint16_t)((w) >> 48))
#define QW_BYTES(w)   ((w)&QW_BYTES_MASK)
#define QW_MAKE(t, b) (((uint64_t)(t) << 48) | ((b)&QW_BYTES_MASK))

/* slot.qmode: how the quota words were written (0: never). */
#define QMODE_CALENDAR 0x80000000u /* | enum bl_calendar; else rolling sub-bucket seconds */

/* The hashed key: 24 bytes, zero padded. */
struct meter_key {
	uint32_t rule_id;
	uint8_t family; /* 0: the whole rule, 4, 6 */
	uint8_t plen;
	uint16_t pad;
	uint8_t addr[16];
};

/* slot.state */
#define SLOT_FREE      0u
#define SLOT_CLAIMED   1u /* a worker is writing the key copy */
#define SLOT_PUBLISHED 2u /* key copy readable (acquire) */
#define SLOT_RETIRED   3u /* key deleted, waiting for a grace period (control side) */

/* One (subscriber, rule): the rate bucket and the quota words. */
struct meter_slot {
	struct meter_key key; /* copy for the persistence thread */
	uint32_t state;	      /* SLOT_* */
	uint32_t qmode;	      /* QMODE_* or the rolling granularity */
	uint64_t tat;	      /* GCRA state: rate-limit, or quota's then-rate */
	uint64_t q[BL_METER_QBUCKETS];
} __attribute__((aligned(64)));

/* Per slot, control side: what the last reclaim walk saw of an idle slot. */
struct reclaim_mark {
	uint64_t sig; /* fold of the slot's words */
	uint32_t armed;
	uint32_t pad;
};

/* Per rule name, stable for the daemon's life. */
struct meter_name {
	char name[BL_POLICY_MAX_NAME + 1];
	uint32_t id;
	/* calendar boundaries, (end epoch << 32) | length of the next period;
	 * written by the control side, read by workers (relaxed: self-contained) */
	uint64_t period;
	bool calendar;
	enum bl_calendar cal;
	char tz[65];
};

struct bl_meters {
	struct rte_hash *h; /* meter_key -> position = slot index */
	struct meter_slot *slots;
	uint32_t nslots; /* positions rte_hash may return */
	uint32_t max_keys;
	uint64_t tsc_hz, tsc_base;
	uint64_t (*tsc)(void); /* control side's clock */
	int64_t epoch_base;
	char state_dir[PATH_MAX - 64];
	/* control side only, under `lock` */
	pthread_mutex_t lock;
	struct rte_hash *names_h;  /* name[64] -> id */
	struct meter_name **names; /* by id */
	uint32_t nnames;
	/* reclamation (bl_meters_reclaim), on one control lcore */
	struct reclaim_mark *marks; /* per slot: seen idle at the last walk */
	uint32_t *retired;	    /* positions waiting for their grace period */
	uint32_t nretired;
	uint64_t retired_token; /* rte_rcu_qsbr_start() after they were retired */
	uint64_t reclaim_every; /* TSC between walks */
	uint64_t next_walk;	/* TSC */
	uint32_t walk_pos;	/* next slot of the walk under way */
	bool walking;
	uint64_t reclaimed; /* read by any thread (relaxed) */
	/* charges a retired slot took after its idle check, folded into the
	 * subscriber's current slot, or lost to a full table (relaxed) */
	uint64_t late_merged, late_lost;
	/* tests only: called by the walk between a slot's idle check and the
	 * delete of its key, the window a worker's charge can fall in */
	void (*walk_hook)(void *arg, const struct meter_key *k);
	void *walk_hook_arg;
	/* persistence thread */
	pthread_t thread;
	bool thread_up;
	uint32_t thread_stop;
	unsigned snapshot_s;
};

/* What a compiled rule's meter holds for the fast path. */
struct bl_meter_rule {
	struct bl_meters *m;
	const struct meter_name *nm;
	uint32_t id;
	uint8_t kind;	     /* BL_ACT_RATE_LIMIT or BL_ACT_QUOTA */
	uint8_t per_rule;    /* one meter for the whole rule */
	uint8_t plen6;	     /* IPv6 subscriber prefix length */
	uint8_t then;	     /* quota used up: BL_ACT_DROP, _REJECT, _RATE_LIMIT */
	struct bl_gcra rate; /* rate-limit, or quota's then-rate */
	uint64_t quota;	     /* bytes per period */
	uint32_t qmode;	     /* QMODE_CALENDAR | cal, or rolling granularity (s) */
};

/*
 * The slot at `pos`, rte_hash's position for key `k`: the first user of a
 * fresh position claims it and publishes the key copy (the saver reads it
 * after an acquire load of the state). Workers (slot_get()) and the control
 * side (late charges of a retired slot) both come through here.
 */
static inline struct meter_slot *meter_slot_claim(struct bl_meters *m, int pos,
						  const struct meter_key *k)
{
	struct meter_slot *s;
	uint32_t st = SLOT_FREE;

	if (pos < 0 || (uint32_t)pos >= m->nslots)
		return NULL;
	s = &m->slots[pos];
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == SLOT_FREE &&
	    __atomic_compare_exchange_n(&s->state, &st, SLOT_CLAIMED, false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED)) {
		s->key = *k;
		/* release: the key copy before the state the saver acquires */
		__atomic_store_n(&s->state, SLOT_PUBLISHED, __ATOMIC_RELEASE);
	}
	return s;
}

/* Tests only: set the walk's hook (struct bl_meters.walk_hook). */
void bl_meters_set_walk_hook(struct bl_meters *m, void (*fn)(void *, const struct meter_key *),
			     void *arg);

/* Wall seconds at TSC `now`, from the anchor taken at creation. */
static inline int64_t meter_epoch(const struct bl_meters *m, uint64_t now)
{
	if (now <= m->tsc_base)
		return m->epoch_base;
	return m->epoch_base + (int64_t)((now - m->tsc_base) / m->tsc_hz);
}

/* The 16-bit tag of a calendar period, from its end (hours since epoch). */
static inline uint16_t cal_tag(uint64_t end)
{
	return (uint16_t)(end / 3600);
}

/* End (epoch) of the calendar period holding `now_s`, from the rule's word. */
static inline uint64_t cal_period_end(uint64_t word, int64_t now_s)
{
	uint64_t end = word >> 32, next = word & 0xffffffffu;

	if ((uint64_t)now_s < end || !end)
		return end;
	return end + next; /* rolled over before the control side noticed */
}

#endif /* BL_METER_INT_H */
