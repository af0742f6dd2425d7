/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `rate-limit` and `quota` actions: meters shared by every worker, so a
 * subscriber gets one rate and one quota however its flows are spread.
 *
 * State. One table per daemon (struct bl_meters), outside any policy object:
 * an rte_hash (lock-free lookups, multi-writer adds) maps a key
 * (subscriber, rule id) to a slot of a preallocated array of cache-aligned
 * slots. The rule id is interned from the rule NAME and never reused, so a
 * new policy generation finds the usage and buckets of the previous one.
 * A key that finds the table full (`max_slots`) is denied (fail closed) and
 * counted. Slots that hold nothing worth keeping are reclaimed by the
 * control side (bl_meters_reclaim): a full rate bucket and no quota usage
 * left in its period, unchanged over an idle interval; the key leaves the
 * hash at once and the slot is reused after an RCU grace period of the
 * workers (rte_rcu_qsbr), so no worker ever charges a slot that another
 * key took over. A packet charged between the walk's check and the delete
 * (by a worker that looked the key up before it) is not forgotten: after
 * the grace period the slot's bucket deficit and quota bytes are folded
 * into the key's current slot, then the slot is reset.
 *
 * Subscriber. The inside host: for outbound packets (arrived on the inside
 * port) the source address, for inbound ones the destination. IPv4: the
 * address; IPv6: the address cut to the policy's subscriber-prefix6 (default
 * /64). A meter with `per: rule` has one subscriber, "everyone".
 *
 * Rate. A token bucket of burst bytes refilled at rate_bps/8 bytes/s,
 * implemented as GCRA: one 64-bit "theoretical arrival time" per slot,
 * advanced by compare-and-swap, so the buckets are exact under contention
 * and need no refill step (see struct bl_gcra). Bytes are L2 frame lengths.
 *
 * Quota. Bytes used in the period, in 64-bit words of (16-bit period tag,
 * 48-bit byte count) per slot, charged by compare-and-swap: a packet passes
 * when used + its length <= quota, so the total admitted never exceeds the
 * quota whatever the number of workers. Periods:
 *  - rolling window W: BL_METER_QBUCKETS sub-buckets of W/BL_METER_QBUCKETS
 *    seconds (rounded up, at least 1 s); usage = the current sub-bucket and
 *    the ones before it within the window, so usage expires in steps of
 *    W/BL_METER_QBUCKETS (hourly for "24h");
 *  - calendar day / ISO week / month in a named timezone: the control side
 *    computes the next boundaries with tzdata (TZ + localtime_r/mktime in
 *    bl_meters_tick(), never on the fast path) and publishes them in one
 *    atomic word per rule; workers roll over at the boundary themselves.
 * Used up: `then` drop, reject (BL_METER_REJECT: the caller rejects) or
 * rate-limit (a second bucket in the slot at then_rate).
 * Rate buckets restart full after a restart; quota usage survives it: the
 * control side saves it to state_dir/meters.state (write temp + fsync +
 * rename) every snapshot interval and at shutdown, and loads it at start.
 * Wall time for periods is derived from the TSC anchored at creation.
 */
#ifndef BL_METER_H
#define BL_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "parse.h"
#include "policy.h"

/* Rolling-window sub-buckets per slot. */
#define BL_METER_QBUCKETS		24u
#define BL_METER_MAX_SLOTS_DEFAULT	65536u
#define BL_METER_SNAPSHOT_S_DEFAULT	60u
#define BL_METER_STATE_FILE		"meters.state"
#define BL_METER_RECLAIM_IDLE_S_DEFAULT 300u

/*
 * GCRA token bucket. Time unit: TSC cycles * 16 ("ticks"). `cost_q16` is
 * the ticks one unit (byte, packet) costs, in Q16 fixed point; `tau` the
 * ticks the bucket holds (burst units). A bucket's state is one uint64_t
 * "theoretical arrival time" (TAT), 0 = full.
 */
struct bl_gcra {
	uint64_t cost_q16;
	uint64_t tau;
};

/* Bucket for `rate` units per second with `burst` units, on a TSC of tsc_hz. */
void bl_gcra_init(struct bl_gcra *g, uint64_t rate, uint64_t burst, uint64_t tsc_hz);

/*
 * Take `n` units at TSC `now` from the bucket whose state is *tat. True
 * when they conform (state advanced), false when the bucket lacks them
 * (state unchanged). Atomic (CAS) when `shared`, plain otherwise.
 */
bool bl_gcra_take(const struct bl_gcra *g, uint64_t *tat, uint64_t n, uint64_t now, bool shared);

/* What the caller does with the packet. */
enum bl_meter_verdict {
	BL_METER_PASS = 0,
	BL_METER_DROP,
	BL_METER_REJECT, /* quota used up with then: reject */
};

/* Outcome counters of one worker (that worker writes them only). */
struct bl_meter_stats {
	uint64_t rate_pass;	  /* rate-limit: within the rate */
	uint64_t rate_drop;	  /* rate-limit: over the rate */
	uint64_t quota_pass;	  /* quota: within the quota */
	uint64_t quota_drop;	  /* quota used up, then: drop */
	uint64_t quota_reject;	  /* quota used up, then: reject */
	uint64_t quota_then_pass; /* quota used up, then: rate-limit, within */
	uint64_t quota_then_drop; /* quota used up, then: rate-limit, over */
	uint64_t table_full;	  /* no slot for a new key: dropped */
	uint64_t no_subscriber;	  /* no IP layer to take a subscriber from: dropped */
};

/* Creation settings (control side). */
struct bl_meter_config {
	const char *name; /* rte_hash name, unique per process */
	int socket_id;
	uint32_t max_slots;	 /* 0: BL_METER_MAX_SLOTS_DEFAULT */
	uint64_t tsc_hz;	 /* 0: rte_get_tsc_hz() */
	uint64_t tsc_base;	 /* TSC at epoch_base (tests); 0 with epoch_base 0: now */
	int64_t epoch_base;	 /* wall seconds at tsc_base; 0: time(NULL) */
	const char *state_dir;	 /* NULL or "": no persistence */
	uint64_t (*tsc)(void);	 /* the control side's clock; NULL: rte_rdtsc (tests fake it) */
	unsigned reclaim_idle_s; /* 0: BL_METER_RECLAIM_IDLE_S_DEFAULT */
};

struct bl_meters; /* opaque, one per daemon */
struct rte_rcu_qsbr;
struct bl_meter_rule; /* one per metered rule per policy generation */

/* ---- control side (meter_ctl.c) ---- */

/* Create the table. NULL with errno on failure. Needs the EAL. */
struct bl_meters *bl_meters_create(const struct bl_meter_config *c);

/* Free (NULL is fine); no worker may use it any more. */
void bl_meters_free(struct bl_meters *m);

/*
 * The meter of rule `name` with action `a` (BL_ACT_RATE_LIMIT or
 * BL_ACT_QUOTA) for one policy generation: parameters converted for the
 * fast path, the rule's stable id, its calendar boundaries. Store it in the
 * compiled rule (bl_rt_rule.meter); free it with the generation, after its
 * grace period. NULL with errno (EINVAL: not a metered action or unknown
 * timezone; ENOMEM).
 */
struct bl_meter_rule *bl_meter_rule_create(struct bl_meters *m, const char *name,
					   const struct bl_policy_action *a);
void bl_meter_rule_free(struct bl_meter_rule *r);

/*
 * Control chores at wall time `now_epoch` (seconds): refresh calendar
 * boundaries of every rule, clear usage that left its window. Called
 * once a second by the persistence thread; tests call it directly.
 */
void bl_meters_tick(struct bl_meters *m, int64_t now_epoch);

/* Save usage to state_dir/meters.state atomically. 0 or -errno. */
int bl_meters_save(struct bl_meters *m, int64_t now_epoch);

/*
 * Load usage saved by bl_meters_save (before the workers start). A missing
 * file is fine (0); a corrupt one is refused whole (-EINVAL, `err` says
 * where) and renamed aside. 0 or -errno.
 */
int bl_meters_load(struct bl_meters *m, char *err, size_t errlen);

/* Start / stop the control thread: tick every second, save every
 * `snapshot_s` seconds and once more at stop. 0 or -errno. */
int bl_meters_thread_start(struct bl_meters *m, unsigned snapshot_s);
void bl_meters_thread_stop(struct bl_meters *m);

/* Live slots (keys) in the table. */
uint32_t bl_meters_count(const struct bl_meters *m);

/*
 * Reclaim idle slots, at TSC `now`. Every `reclaim_idle_s` it walks the
 * slots, a bounded chunk per call: one that is idle (rate bucket full, no quota usage left in its
 * period or window) and unchanged since the previous walk loses its key at
 * once (new packets of that subscriber start a fresh slot); its position is
 * reset and given back to rte_hash on a later call, once every worker
 * registered on `qsv` has passed a quiescent state. The workers' own RCU
 * variable serves: they report once per loop.
 * Call it regularly (the daemon: its main loop, every 10 ms) from the one
 * EAL lcore that runs it, which must not charge meters: rte_hash returns a
 * freed position through the calling lcore's free-slot cache. Returns the
 * number of positions freed in this call. No-op with `qsv` NULL.
 */
unsigned bl_meters_reclaim(struct bl_meters *m, struct rte_rcu_qsbr *qsv, uint64_t now);

/* Slots reclaimed since the table was created. */
uint64_t bl_meters_reclaimed(const struct bl_meters *m);

/*
 * Reclaimed slots that a worker charged after the walk's idle check (it
 * had looked the key up before the delete): `merged` had those charges
 * folded into their subscriber's current slot after the grace period,
 * `lost` found the table full for it (the charges are then forgotten).
 */
void bl_meters_late(const struct bl_meters *m, uint64_t *merged, uint64_t *lost);

/* ---- worker side (meter.c) ---- */

/* A subscriber key as charged: family 0 means "the whole rule". */
struct bl_meter_sub {
	uint8_t family;	  /* 0, 4 or 6 */
	uint8_t plen;	  /* 32 for IPv4, subscriber_prefix6 for IPv6 */
	uint8_t addr[16]; /* host bits cleared */
};

/*
 * The subscriber of packet `p` for meter `r`: the inside host of l3[0]
 * (source when it came in on the inside port, `inbound` false; destination
 * otherwise), cut to the rule's prefix length. -ENOENT without an IP layer.
 */
int bl_meter_subscriber(const struct bl_meter_rule *r, const struct bl_pkt *p, bool inbound,
			struct bl_meter_sub *sub);

/*
 * Charge `bytes` (the frame length) of one packet to (sub, rule) at TSC
 * `now`, across all workers. Lock-free except when the key is new (its
 * first packet inserts it under rte_hash's writer lock). No allocation.
 */
enum bl_meter_verdict bl_meter_charge_sub(const struct bl_meter_rule *r,
					  const struct bl_meter_sub *sub, uint32_t bytes,
					  uint64_t now, struct bl_meter_stats *st);

/* bl_meter_subscriber + bl_meter_charge_sub (no subscriber: DROP, counted). */
enum bl_meter_verdict bl_meter_charge(const struct bl_meter_rule *r, const struct bl_pkt *p,
				      bool inbound, uint32_t bytes, uint64_t now,
				      struct bl_meter_stats *st);

/* Bytes used in the current period by (sub, rule), for tests and `blctl`. */
uint64_t bl_meter_usage(const struct bl_meter_rule *r, const struct bl_meter_sub *sub,
			uint64_t now);

const char *bl_meter_verdict_name(enum bl_meter_verdict v);

/*
 * localtime_r() for any other thread of the daemon (EVE time stamps): the
 * control side switches the process's zone (TZ, tzset()) for a moment to
 * compute a calendar boundary, and a local time taken meanwhile would be
 * in the quota's zone. This one waits for the zone to be switched back.
 */
struct tm *bl_meter_localtime(const time_t *t, struct tm *tm);

/*
 * Before any thread starts: give TZ a value when it has none (the zone
 * glibc uses then, ":/etc/localtime") and read it. The switch above then
 * only ever replaces TZ's value, which never moves the environment array
 * under another thread's getenv().
 */
void bl_meter_tz_pin(void);

#endif /* BL_METER_H */
