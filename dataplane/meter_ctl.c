/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Meters, control side (see meter.h): the shared table, rule parameters,
 * calendar boundaries from tzdata, and the persistence of quota usage.
 * Nothing here runs on a worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "meter_int.h"

#define STATE_MAGIC "brightline-meters 1"

/* rte_rdtsc is inline: the default control clock needs an address. */
static uint64_t real_tsc(void)
{
	return rte_rdtsc();
}

/* TZ is process-wide: calendar computations take turns. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

struct bl_meters *bl_meters_create(const struct bl_meter_config *c)
{
	struct rte_hash_parameters hp = { 0 }, np = { 0 };
	char name[RTE_HASH_NAMESIZE];
	struct bl_meters *m;
	int err = ENOMEM;

	m = rte_zmalloc("bl_meters", sizeof(*m), 64);
	if (!m)
		goto out_err;
	pthread_mutex_init(&m->lock, NULL);
	m->max_keys = c->max_slots ? c->max_slots : BL_METER_MAX_SLOTS_DEFAULT;
	if (m->max_keys < 8)
		m->max_keys = 8;
	m->tsc_hz = c->tsc_hz ? c->tsc_hz : rte_get_tsc_hz();
	m->tsc = c->tsc ? c->tsc : real_tsc;
	if (c->epoch_base) {
		m->epoch_base = c->epoch_base;
		m->tsc_base = c->tsc_base;
	} else {
		m->epoch_base = time(NULL);
		m->tsc_base = m->tsc();
	}
	if (c->state_dir && snprintf(m->state_dir, sizeof(m->state_dir), "%s", c->state_dir) >=
				    (int)sizeof(m->state_dir)) {
		err = ENAMETOOLONG;
		goto out_free;
	}
	hp.name = c->name ? c->name : "bl_meters";
	hp.entries = m->max_keys;
	hp.key_len = sizeof(struct meter_key);
	hp.hash_func = rte_hash_crc;
	hp.socket_id = c->socket_id;
	hp.extra_flag =
		RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
	m->h = rte_hash_create(&hp);
	if (!m->h) {
		err = rte_errno ? rte_errno : ENOMEM;
		goto out_free;
	}
	/* with multi-writer adds, positions reach past `entries` by what the
	 * per-lcore free-slot caches may hold */
	m->nslots = m->max_keys + (RTE_MAX_LCORE - 1) * (BL_METER_HASH_LCORE_CACHE - 1) + 1;
	m->slots = rte_zmalloc_socket("bl_meter_slots", (size_t)m->nslots * sizeof(*m->slots), 64,
				      c->socket_id);
	m->marks = calloc(m->nslots, sizeof(*m->marks));
	m->retired = calloc(m->nslots, sizeof(*m->retired));
	if (!m->slots || !m->marks || !m->retired)
		goto out_hash;
	m->reclaim_every =
		(c->reclaim_idle_s ? c->reclaim_idle_s : BL_METER_RECLAIM_IDLE_S_DEFAULT) *
		m->tsc_hz;
	m->next_walk = m->tsc() + m->reclaim_every;
	snprintf(name, sizeof(name), "%.20s_n", hp.name);
	np.name = name;
	np.entries = BL_METER_MAX_RULES;
	np.key_len = BL_POLICY_MAX_NAME + 1;
	np.hash_func = rte_hash_crc;
	np.socket_id = c->socket_id;
	m->names_h = rte_hash_create(&np);
	if (!m->names_h) {
		err = rte_errno ? rte_errno : ENOMEM;
		goto out_hash;
	}
	m->names = calloc(BL_METER_MAX_RULES, sizeof(*m->names));
	if (!m->names)
		goto out_names;
	return m;

out_names:
	rte_hash_free(m->names_h);
out_hash:
	free(m->retired);
	free(m->marks);
	rte_free(m->slots);
	rte_hash_free(m->h);
out_free:
	pthread_mutex_destroy(&m->lock);
	rte_free(m);
out_err:
	errno = err;
	return NULL;
}

void bl_meters_free(struct bl_meters *m)
{
	if (!m)
		return;
	bl_meters_thread_stop(m);
	for (uint32_t i = 0; i < m->nnames; i++)
		rte_free(m->names[i]);
	free(m->names);
	rte_hash_free(m->names_h);
	free(m->retired);
	free(m->marks);
	rte_free(m->slots);
	rte_hash_free(m->h);
	pthread_mutex_destroy(&m->lock);
	rte_free(m);
}

uint32_t bl_meters_count(const struct bl_meters *m)
{
	return (uint32_t)rte_hash_count(m->h);
}

/* The stable record of rule `name`, created on first use. Under m->lock. */
static struct meter_name *name_get(struct bl_meters *m, const char *name)
{
	char key[BL_POLICY_MAX_NAME + 1] = { 0 };
	struct meter_name *nm;
	void *data;

	if (strlen(name) > BL_POLICY_MAX_NAME) {
		errno = EINVAL;
		return NULL;
	}
	memcpy(key, name, strlen(name));
	if (rte_hash_lookup_data(m->names_h, key, &data) >= 0)
		return data;
	if (m->nnames >= BL_METER_MAX_RULES) {
		errno = ENOSPC;
		return NULL;
	}
	nm = rte_zmalloc("bl_meter_name", sizeof(*nm), 64);
	if (!nm) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(nm->name, key, sizeof(nm->name));
	nm->id = m->nnames;
	if (rte_hash_add_key_data(m->names_h, key, nm) < 0) {
		rte_free(nm);
		errno = ENOSPC;
		return NULL;
	}
	m->names[m->nnames++] = nm;
	return nm;
}

/* A zone name tzdata knows ("UTC" always). */
static bool tz_known(const char *tz)
{
	const char *dir;
	char path[PATH_MAX];

	if (!strcmp(tz, "UTC"))
		return true;
	if (tz[0] == '/' || strstr(tz, ".."))
		return false;
	/* the environment is read under the lock its writer (next_boundary) holds */
	pthread_mutex_lock(&tz_lock);
	dir = getenv("TZDIR");
	snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", tz);
	pthread_mutex_unlock(&tz_lock);
	return access(path, R_OK) == 0;
}

void bl_meter_tz_pin(void)
{
	/* the same zone glibc uses with TZ unset */
	setenv("TZ", ":/etc/localtime", 0);
	tzset();
}

struct tm *bl_meter_localtime(const time_t *t, struct tm *tm)
{
	struct tm *r;

	pthread_mutex_lock(&tz_lock);
	r = localtime_r(t, tm);
	pthread_mutex_unlock(&tz_lock);
	return r;
}

/*
 * The first calendar boundary after `t` (epoch seconds) in zone `tz`:
 * next local midnight, next Monday 00:00, or the first of next month
 * 00:00. mktime() resolves DST (a skipped midnight moves forward).
 */
static int64_t next_boundary(int64_t t, enum bl_calendar cal, const char *tz)
{
	char saved[256] = "";
	const char *old;
	bool had;
	time_t tt = (time_t)t, r;
	struct tm tm;

	pthread_mutex_lock(&tz_lock);
	old = getenv("TZ");
	had = old != NULL;
	if (had)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&tt, &tm);
	tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
	switch (cal) {
	case BL_CAL_DAY: tm.tm_mday += 1; break;
	case BL_CAL_WEEK:
		/* ISO week: Monday (tm_wday 1) to Monday */
		tm.tm_mday += tm.tm_wday == 1 ? 7 : (8 - tm.tm_wday) % 7;
		break;
	case BL_CAL_MONTH:
		tm.tm_mday = 1;
		tm.tm_mon += 1;
		break;
	}
	tm.tm_isdst = -1;
	r = mktime(&tm);
	/*
	 * Restored as a value, never removed: replacing an existing variable's
	 * value leaves glibc's environment array where it is, while removing
	 * it and adding it again at the next boundary may move the array under
	 * a getenv() of another thread (a library's). ":/etc/localtime" is what
	 * glibc reads when TZ is unset; the daemon sets TZ before any thread
	 * (bl_meter_tz_pin()), so this is only for callers that did not.
	 */
	setenv("TZ", had ? saved : ":/etc/localtime", 1);
	tzset();
	pthread_mutex_unlock(&tz_lock);
	if (r == (time_t)-1 || r <= tt)
		return t + 86400; /* cannot happen with tzdata; keep periods moving */
	return (int64_t)r;
}

/* Compute and publish a calendar rule's boundaries if `now_s` passed them. */
static void period_refresh(struct meter_name *nm, int64_t now_s, bool force)
{
	uint64_t w = __atomic_load_n(&nm->period, __ATOMIC_RELAXED);
	int64_t e1, e2;

	if (!force && w && now_s < (int64_t)(w >> 32))
		return;
	e1 = next_boundary(now_s, nm->cal, nm->tz);
	e2 = next_boundary(e1, nm->cal, nm->tz);
	/* relaxed: workers read the word alone, never data behind it */
	__atomic_store_n(&nm->period, ((uint64_t)e1 << 32) | (uint64_t)(e2 - e1), __ATOMIC_RELAXED);
}

struct bl_meter_rule *bl_meter_rule_create(struct bl_meters *m, const char *name,
					   const struct bl_policy_action *a)
{
	const struct bl_rate_limit *rl = NULL;
	struct bl_meter_rule *r;
	struct meter_name *nm;
	uint8_t p6;

	if (!m || !name || !a || (a->kind != BL_ACT_RATE_LIMIT && a->kind != BL_ACT_QUOTA)) {
		errno = EINVAL;
		return NULL;
	}
	if (a->kind == BL_ACT_QUOTA && a->quota.period == BL_PERIOD_CALENDAR &&
	    !tz_known(a->quota.timezone ? a->quota.timezone : "UTC")) {
		errno = EINVAL;
		return NULL;
	}
	r = rte_zmalloc("bl_meter_rule", sizeof(*r), 64);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	nm = name_get(m, name);
	if (!nm) {
		int e = errno;

		pthread_mutex_unlock(&m->lock);
		rte_free(r);
		errno = e;
		return NULL;
	}
	r->m = m;
	r->nm = nm;
	r->id = nm->id;
	r->kind = (uint8_t)a->kind;
	if (a->kind == BL_ACT_RATE_LIMIT) {
		rl = &a->rate;
		r->per_rule = rl->per == BL_PER_RULE;
		p6 = rl->subscriber_prefix6;
	} else {
		const struct bl_quota *q = &a->quota;

		r->per_rule = q->per == BL_PER_RULE;
		p6 = q->subscriber_prefix6;
		r->quota = q->bytes > QW_BYTES_MASK ? QW_BYTES_MASK : q->bytes;
		r->then = (uint8_t)q->then;
		if (q->then == BL_ACT_RATE_LIMIT)
			rl = &q->then_rate;
		if (q->period == BL_PERIOD_CALENDAR) {
			r->qmode = QMODE_CALENDAR | (uint32_t)q->calendar;
			nm->calendar = true;
			nm->cal = q->calendar;
			snprintf(nm->tz, sizeof(nm->tz), "%s", q->timezone ? q->timezone : "UTC");
			period_refresh(nm, meter_epoch(m, m->tsc()), true);
		} else {
			uint64_t g = (q->rolling_s + BL_METER_QBUCKETS - 1) / BL_METER_QBUCKETS;

			r->qmode = (uint32_t)RTE_MIN(RTE_MAX(g, (uint64_t)1), (uint64_t)0x7fffffff);
			nm->calendar = false;
		}
	}
	r->plen6 = p6 ? p6 : 64;
	if (rl)
		bl_gcra_init(&r->rate, rl->rate_bps / 8 ? rl->rate_bps / 8 : 1, rl->burst_bytes,
			     m->tsc_hz);
	pthread_mutex_unlock(&m->lock);
	return r;
}

void bl_meter_rule_free(struct bl_meter_rule *r)
{
	rte_free(r);
}

/*
 * The tag of the current period of a slot's quota words and how many tags
 * back still count (the window). False when the slot has no quota words
 * (mode 0) or its calendar rule is unknown. Under m->lock (names).
 */
static bool slot_period(const struct bl_meters *m, const struct meter_slot *s, int64_t now_s,
			uint16_t *tag, unsigned *span)
{
	uint32_t mode = __atomic_load_n(&s->qmode, __ATOMIC_RELAXED);

	if (!mode)
		return false;
	if (mode & QMODE_CALENDAR) {
		const struct meter_name *nm =
			s->key.rule_id < m->nnames ? m->names[s->key.rule_id] : NULL;

		if (!nm)
			return false;
		*tag = cal_tag(
			cal_period_end(__atomic_load_n(&nm->period, __ATOMIC_RELAXED), now_s));
		*span = 1;
	} else {
		*tag = (uint16_t)((uint64_t)now_s / mode);
		*span = BL_METER_QBUCKETS;
	}
	return true;
}

/* A quota word of tag `t` has left its window (a future tag, negative age,
 * is a clock step back: it has not). */
static inline bool word_expired(uint16_t tag, unsigned span, uint64_t w)
{
	uint16_t age = (uint16_t)(tag - QW_TAG(w));

	return age >= span && age < 0x8000;
}

/* Empty quota words that left their period, so a 16-bit tag never aliases. */
static void sweep_slot(struct bl_meters *m, struct meter_slot *s, int64_t now_s)
{
	uint16_t tag;
	unsigned span;

	if (!slot_period(m, s, now_s, &tag, &span))
		return;
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		uint64_t w = __atomic_load_n(&s->q[i], __ATOMIC_RELAXED);

		if (w && word_expired(tag, span, w))
			__atomic_compare_exchange_n(&s->q[i], &w, 0, false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
	}
}

/*
 * Whether slot `s` holds nothing a fresh slot would not: its GCRA bucket
 * is full (TAT at or before now) and none of its quota words holds bytes
 * of the current period or window. *sig is a fold of its words, so two
 * walks can tell whether a packet was charged in between. Under m->lock.
 */
static bool slot_idle(const struct bl_meters *m, const struct meter_slot *s, uint64_t now,
		      uint64_t *sig)
{
	uint64_t tat = __atomic_load_n(&s->tat, __ATOMIC_RELAXED), h = tat;
	uint32_t mode = __atomic_load_n(&s->qmode, __ATOMIC_RELAXED);
	bool period, idle = tat <= now << 4; /* GCRA time is TSC * 16 */
	uint16_t tag = 0;
	unsigned span = 0;

	period = slot_period(m, s, meter_epoch(m, now), &tag, &span);
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		uint64_t w = __atomic_load_n(&s->q[i], __ATOMIC_RELAXED);

		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		/* bytes in a word whose period cannot be told: keep the slot */
		if (QW_BYTES(w) && (!period || !word_expired(tag, span, w)))
			idle = false;
	}
	*sig = h ^ mode;
	return idle;
}

/*
 * What retired slot `s` took after the walk found it idle: a worker that
 * looked its key up before the delete charged it after the check. The
 * check saw a full bucket and no quota bytes of the current period or
 * window, so whatever the slot holds now beyond that is such a charge: its
 * bucket's deficit (TAT past now, GCRA time) and its quota words of the
 * current period or window. False when there is none. Under m->lock.
 */
static bool late_charges(const struct bl_meters *m, const struct meter_slot *s, uint64_t now,
			 uint64_t *deficit, uint64_t q[BL_METER_QBUCKETS])
{
	uint64_t tat = __atomic_load_n(&s->tat, __ATOMIC_RELAXED), t = now << 4;
	uint16_t tag = 0;
	unsigned span = 0;
	bool any, period = slot_period(m, s, meter_epoch(m, now), &tag, &span);

	*deficit = tat > t ? tat - t : 0;
	any = *deficit != 0;
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		uint64_t w = __atomic_load_n(&s->q[i], __ATOMIC_RELAXED);

		q[i] = period && QW_BYTES(w) && !word_expired(tag, span, w) ? w : 0;
		any |= q[i] != 0;
	}
	return any;
}

/*
 * Late quota words `q` (0: none) of a slot in quota mode `mode` into slot
 * `n`: the same period adds; an older one there (out of the window, as
 * the late word is in it) is replaced. A fresh slot takes the mode; a slot
 * in another mode (a new policy changed the period) would clear the words
 * anyway, so they are left out.
 */
static void merge_quota(struct meter_slot *n, uint32_t mode, const uint64_t *q)
{
	uint32_t zero = 0;

	if (!mode)
		return;
	__atomic_compare_exchange_n(&n->qmode, &zero, mode, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
	if (__atomic_load_n(&n->qmode, __ATOMIC_RELAXED) != mode)
		return;
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		uint64_t cur = __atomic_load_n(&n->q[i], __ATOMIC_RELAXED), nw;

		if (!q[i])
			continue;
		do
			nw = QW_TAG(cur) == QW_TAG(q[i]) && QW_BYTES(cur)
				     ? QW_MAKE(QW_TAG(q[i]), QW_BYTES(cur) + QW_BYTES(q[i]))
				     : q[i];
		while (!__atomic_compare_exchange_n(&n->q[i], &cur, nw, true, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED));
	}
}

/*
 * Fold the late charges of retired slot `old` into the slot its key has
 * now (a new one when its subscriber has not come back yet), so the
 * reclaim loses nothing: the deficits of two buckets add, and the quota
 * bytes join the word of the same period. The new slot may be charged by
 * workers meanwhile: every word changes by compare-and-swap. Under m->lock.
 */
static void merge_late(struct bl_meters *m, const struct meter_slot *old, uint64_t now)
{
	uint64_t deficit, q[BL_METER_QBUCKETS], t = now << 4, cur;
	struct meter_slot *n;
	int pos;

	if (!late_charges(m, old, now, &deficit, q))
		return;
	pos = rte_hash_lookup(m->h, &old->key);
	if (pos < 0)
		pos = rte_hash_add_key(m->h, &old->key);
	n = meter_slot_claim(m, pos, &old->key);
	if (!n) {
		__atomic_fetch_add(&m->late_lost, 1, __ATOMIC_RELAXED);
		return;
	}
	cur = __atomic_load_n(&n->tat, __ATOMIC_RELAXED);
	while (deficit && !__atomic_compare_exchange_n(&n->tat, &cur, (cur > t ? cur : t) + deficit,
						       true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	merge_quota(n, __atomic_load_n(&old->qmode, __ATOMIC_RELAXED), q);
	__atomic_fetch_add(&m->late_merged, 1, __ATOMIC_RELAXED);
}

/*
 * Reset the retired slots and give their positions back to rte_hash, each
 * after its late charges went to its key's current slot (merge_late()).
 */
static unsigned free_retired(struct bl_meters *m, uint64_t now)
{
	unsigned n = m->nretired;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < n; i++) {
		struct meter_slot *s = &m->slots[m->retired[i]];

		merge_late(m, s, now);
		memset(&s->key, 0, sizeof(s->key));
		s->qmode = 0;
		s->tat = 0;
		memset(s->q, 0, sizeof(s->q));
		/* release: the cleared slot before the state a new key claims */
		__atomic_store_n(&s->state, SLOT_FREE, __ATOMIC_RELEASE);
		rte_hash_free_key_with_position(m->h, (int32_t)m->retired[i]);
		m->marks[m->retired[i]].armed = 0;
	}
	pthread_mutex_unlock(&m->lock);
	m->nretired = 0;
	__atomic_fetch_add(&m->reclaimed, n, __ATOMIC_RELAXED);
	return n;
}

/* Slots a walk examines per call: a walk is spread over calls so that the
 * lock and the caller's loop are held for tens of microseconds at most. */
#define RECLAIM_CHUNK 2048u

/* Part of a walk: retire slots seen idle and unchanged by the previous walk. */
static void reclaim_walk(struct bl_meters *m, uint64_t now)
{
	uint32_t end = m->walk_pos + RTE_MIN(RECLAIM_CHUNK, m->nslots - m->walk_pos);

	pthread_mutex_lock(&m->lock);
	for (uint32_t pos = m->walk_pos; pos < end; pos++) {
		struct meter_slot *s = &m->slots[pos];
		struct reclaim_mark *k = &m->marks[pos];
		struct meter_key key;
		uint64_t sig;

		/* acquire: the key copy is complete (see slot_get) */
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_PUBLISHED ||
		    !slot_idle(m, s, now, &sig)) {
			k->armed = 0;
			continue;
		}
		if (!k->armed || k->sig != sig) {
			k->armed = 1;
			k->sig = sig;
			continue;
		}
		/* only this thread deletes, so the key still maps here unless a
		 * load or an old copy says otherwise: check before deleting */
		key = s->key;
		if (unlikely(m->walk_hook))
			m->walk_hook(m->walk_hook_arg, &key);
		if (rte_hash_lookup(m->h, &key) != (int32_t)pos ||
		    rte_hash_del_key(m->h, &key) < 0) {
			k->armed = 0;
			continue;
		}
		__atomic_store_n(&s->state, SLOT_RETIRED, __ATOMIC_RELAXED);
		m->retired[m->nretired++] = pos;
	}
	pthread_mutex_unlock(&m->lock);
	m->walk_pos = end;
	m->walking = end < m->nslots;
}

unsigned bl_meters_reclaim(struct bl_meters *m, struct rte_rcu_qsbr *qsv, uint64_t now)
{
	unsigned freed = 0, n;

	if (!m || !qsv)
		return 0;
	/* retired positions: free them once every worker has passed a
	 * quiescent state since the last was retired (the newest token covers
	 * the older ones), so none can still hold them */
	if (m->nretired && rte_rcu_qsbr_check(qsv, m->retired_token, false) == 1)
		freed = free_retired(m, now);
	if (!m->walking) {
		if (now < m->next_walk)
			return freed;
		m->next_walk = now + m->reclaim_every;
		m->walk_pos = 0;
	}
	n = m->nretired;
	reclaim_walk(m, now);
	if (m->nretired != n)
		m->retired_token = rte_rcu_qsbr_start(qsv);
	return freed;
}

uint64_t bl_meters_reclaimed(const struct bl_meters *m)
{
	return m ? __atomic_load_n(&m->reclaimed, __ATOMIC_RELAXED) : 0;
}

void bl_meters_late(const struct bl_meters *m, uint64_t *merged, uint64_t *lost)
{
	*merged = m ? __atomic_load_n(&m->late_merged, __ATOMIC_RELAXED) : 0;
	*lost = m ? __atomic_load_n(&m->late_lost, __ATOMIC_RELAXED) : 0;
}

void bl_meters_set_walk_hook(struct bl_meters *m, void (*fn)(void *, const struct meter_key *),
			     void *arg)
{
	m->walk_hook = fn;
	m->walk_hook_arg = arg;
}

void bl_meters_tick(struct bl_meters *m, int64_t now_epoch)
{
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < m->nnames; i++)
		if (m->names[i]->calendar)
			period_refresh(m->names[i], now_epoch, false);
	pthread_mutex_unlock(&m->lock);
}

/* Create the state directory if it is missing (one level). */
static int state_dir_ready(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* One line per slot holding usage: rule, subscriber, mode, quota words. */
static void save_slot(FILE *f, const struct bl_meters *m, const struct meter_slot *s)
{
	char addr[INET6_ADDRSTRLEN] = "-";
	const struct meter_key *k = &s->key;
	uint64_t w[BL_METER_QBUCKETS];
	bool any = false;

	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		w[i] = __atomic_load_n(&s->q[i], __ATOMIC_RELAXED);
		any |= QW_BYTES(w[i]) != 0;
	}
	if (!any || k->rule_id >= m->nnames)
		return;
	if (k->family)
		inet_ntop(k->family == 4 ? AF_INET : AF_INET6, k->addr, addr, sizeof(addr));
	fprintf(f, "slot %s %u %s %u %" PRIu32, m->names[k->rule_id]->name, k->family, addr,
		k->plen, __atomic_load_n(&s->qmode, __ATOMIC_RELAXED));
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++)
		fprintf(f, " %" PRIx64, w[i]);
	fputc('\n', f);
}

int bl_meters_save(struct bl_meters *m, int64_t now_epoch)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int fd, rc;

	/* no metered rule ever (none loaded either): leave the directory alone */
	if (!m->state_dir[0] || !__atomic_load_n(&m->nnames, __ATOMIC_RELAXED))
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", m->state_dir, BL_METER_STATE_FILE) >=
		    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	rc = state_dir_ready(m->state_dir);
	if (rc)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		goto out_unlink;
	}
	pthread_mutex_lock(&m->lock);
	fprintf(f, "%s\nsaved %" PRId64 "\n", STATE_MAGIC, now_epoch);
	for (uint32_t i = 0; i < m->nslots; i++) {
		struct meter_slot *s = &m->slots[i];

		/* acquire: pairs with the worker's release after the key copy */
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_PUBLISHED)
			continue;
		sweep_slot(m, s, now_epoch);
		save_slot(f, m, s);
	}
	fprintf(f, "end\n");
	pthread_mutex_unlock(&m->lock);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = -errno;
		fclose(f);
		goto out_unlink;
	}
	if (fclose(f) != 0) {
		rc = -errno;
		goto out_unlink;
	}
	if (rename(tmp, path) != 0) {
		rc = -errno;
		goto out_unlink;
	}
	fd = open(m->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* the rename itself */
		close(fd);
	}
	return 0;

out_unlink:
	unlink(tmp);
	return rc;
}

/* One parsed "slot" line. */
struct loaded {
	char name[BL_POLICY_MAX_NAME + 1];
	struct meter_key key;
	uint32_t qmode;
	uint64_t q[BL_METER_QBUCKETS];
};

/* Parse a "slot" line into `e`. 0 or -EINVAL. */
static int parse_slot(char *line, struct loaded *e)
{
	char *save = NULL, *tok[6 + BL_METER_QBUCKETS];
	unsigned n = 0;
	unsigned long fam, plen, mode;
	char *end;

	for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		if (n == RTE_DIM(tok))
			return -EINVAL;
		tok[n++] = t;
	}
	if (n != RTE_DIM(tok) || strcmp(tok[0], "slot") || strlen(tok[1]) > BL_POLICY_MAX_NAME)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, tok[1], strlen(tok[1]));
	errno = 0;
	fam = strtoul(tok[2], &end, 10);
	if (*end || (fam != 0 && fam != 4 && fam != 6))
		return -EINVAL;
	plen = strtoul(tok[4], &end, 10);
	if (*end || plen > (fam == 4 ? 32u : 128u))
		return -EINVAL;
	mode = strtoul(tok[5], &end, 10);
	if (*end || mode == 0 || mode > UINT32_MAX)
		return -EINVAL;
	e->key.family = (uint8_t)fam;
	e->key.plen = (uint8_t)plen;
	e->qmode = (uint32_t)mode;
	if (fam && inet_pton(fam == 4 ? AF_INET : AF_INET6, tok[3], e->key.addr) != 1)
		return -EINVAL;
	if (!fam && strcmp(tok[3], "-"))
		return -EINVAL;
	for (unsigned i = 0; i < BL_METER_QBUCKETS; i++) {
		e->q[i] = strtoull(tok[6 + i], &end, 16);
		if (*end || errno)
			return -EINVAL;
	}
	return 0;
}

/* Put one loaded slot in the table (main lcore, before workers run). */
static int apply_slot(struct bl_meters *m, struct loaded *e)
{
	struct meter_name *nm = name_get(m, e->name);
	struct meter_slot *s;
	int pos;

	if (!nm)
		return -errno;
	e->key.rule_id = nm->id;
	pos = rte_hash_add_key(m->h, &e->key);
	if (pos < 0)
		return pos;
	if ((uint32_t)pos >= m->nslots)
		return -ENOSPC;
	s = &m->slots[pos];
	s->key = e->key;
	s->qmode = e->qmode;
	memcpy(s->q, e->q, sizeof(s->q));
	__atomic_store_n(&s->state, SLOT_PUBLISHED, __ATOMIC_RELEASE);
	return 0;
}

int bl_meters_load(struct bl_meters *m, char *err, size_t errlen)
{
	char path[PATH_MAX], aside[PATH_MAX + 16], line[1024];
	struct loaded *v = NULL, *nv;
	size_t n = 0, cap = 0;
	unsigned lineno = 0;
	bool ended = false;
	FILE *f;
	int rc = 0;

	if (!m->state_dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%s", m->state_dir, BL_METER_STATE_FILE);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n')) {
			rc = -EINVAL;
			break;
		}
		if (lineno == 1) {
			if (strncmp(line, STATE_MAGIC "\n", sizeof(STATE_MAGIC)))
				rc = -EINVAL;
		} else if (!strncmp(line, "saved ", 6)) {
			continue;
		} else if (!strcmp(line, "end\n")) {
			ended = true;
		} else if (ended) {
			rc = -EINVAL;
		} else {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					rc = -ENOMEM;
					break;
				}
				v = nv;
			}
			rc = parse_slot(line, &v[n]);
			if (!rc)
				n++;
		}
		if (rc)
			break;
	}
	fclose(f);
	if (!rc && !ended) {
		rc = -EINVAL; /* truncated: no "end" line */
		lineno++;
	}
	if (rc == -EINVAL) {
		snprintf(aside, sizeof(aside), "%s.corrupt", path);
		snprintf(err, errlen, "%s:%u: corrupt meter state, ignored (kept as %s)", path,
			 lineno, aside);
		rename(path, aside);
		goto out_free;
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out_free;
	}
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n && !rc; i++)
		rc = apply_slot(m, &v[i]);
	pthread_mutex_unlock(&m->lock);
	if (rc)
		snprintf(err, errlen, "%s: cannot restore meter state: %s", path, strerror(-rc));
out_free:
	free(v);
	return rc;
}

/* The control thread: tick each second, save every snapshot_s, and at stop. */
static void *meters_thread(void *arg)
{
	struct bl_meters *m = arg;
	struct timespec step = { 0, 100 * 1000 * 1000 };
	unsigned ticks = 0;
	int rc, last = 0;

	while (!__atomic_load_n(&m->thread_stop, __ATOMIC_ACQUIRE)) {
		nanosleep(&step, NULL);
		if (++ticks % 10)
			continue;
		bl_meters_tick(m, meter_epoch(m, m->tsc()));
		if (ticks / 10 % m->snapshot_s)
			continue;
		rc = bl_meters_save(m, meter_epoch(m, m->tsc()));
		if (rc && rc != last) /* once per new error, not every snapshot */
			fprintf(stderr, "brightline: cannot save meter state in %s: %s\n",
				m->state_dir, strerror(-rc));
		last = rc;
	}
	return NULL;
}

int bl_meters_thread_start(struct bl_meters *m, unsigned snapshot_s)
{
	int rc;

	if (m->thread_up)
		return -EALREADY;
	m->snapshot_s = snapshot_s ? snapshot_s : BL_METER_SNAPSHOT_S_DEFAULT;
	__atomic_store_n(&m->thread_stop, 0, __ATOMIC_RELAXED);
	rc = rte_ctrl_thread_create(&m->thread, "bl-meters", NULL, meters_thread, m);
	if (rc)
		return -rc;
	m->thread_up = true;
	return 0;
}

void bl_meters_thread_stop(struct bl_meters *m)
{
	int rc;

	if (!m || !m->thread_up)
		return;
	__atomic_store_n(&m->thread_stop, 1, __ATOMIC_RELEASE);
	pthread_join(m->thread, NULL);
	m->thread_up = false;
	rc = bl_meters_save(m, meter_epoch(m, m->tsc()));
	if (rc)
		fprintf(stderr, "brightline: cannot save meter state in %s: %s\n", m->state_dir,
			strerror(-rc));
}
