/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy runtime: a normalized policy (control/policy.h) compiled into
 * ONE immutable object (struct bl_rt) that the control side publishes with
 * one atomic pointer store and frees after an RCU grace period
 * (rte_rcu_qsbr); the workers read the pointer once per burst.
 * policy_build.c is the control side (compile, publish, free), and
 * policy_lookup.c the worker side (bulk classification).
 *
 * Design.
 * - 5-tuple rules go to rte_acl. The search key is a small struct built per
 *   packet (policy_rt_int.h): source, destination, ports, outer VLAN, a
 *   flags byte (direction, "has ports"), protocol and two 32-bit list
 *   bitmaps (source and destination). A rule expands to one ACL rule per
 *   combination of its OR-ed values (prefix or list x protocol x port range
 *   x VLAN); its priority is its position (first match wins). Decisive
 *   rules are category 0; `log` rules category 1.
 * - Each expanded rule goes to one of up to three contexts per family by
 *   its shape (policy_rt_int.h): destination prefix, source prefix only, no
 *   prefix; each context's trie tests that shape's distinguishing field
 *   first and the protocol late, and fields wild in all its rules drop out.
 *   A packet is classified in each context of its family and the lowest
 *   rule index wins. Why: in one trie a rule that is wild in an early field
 *   is merged into every branch the specific rules make there; the 10k-rule
 *   bench policy (12,700 IPv4 ACL rules) took 20 s and 5.5 GiB peak RSS to
 *   build in one context, and builds in ~1 s / 320 MiB split by shape
 *   (runtime 300 -> 114 MiB, new-flow lookups 4.9 -> 1.4 us).
 * - Prefix LISTS are never expanded into ACL rules: every prefix of every
 *   list used in an address match goes into one FIB per family (rte_fib
 *   DIR24_8 for IPv4, rte_fib6 TRIE for IPv6) whose next hop is a small
 *   "list-set id"; a table turns the id into the bitmap of lists containing
 *   the address (longest-prefix membership: each prefix carries its own
 *   lists OR the lists of the prefixes covering it, computed once by a sweep
 *   over the prefixes sorted by address and length). An ACL rule "dst in
 *   list L" then matches the destination bitmap field with bit L set.
 *   Why: rte_acl build time and lookup cost grow steeply with overlapping
 *   rules, while a FIB builds 1,000,000 prefixes in seconds and looks up in
 *   a few ns; the ACL then holds only as many rules as the policy has lines.
 *   Measured (`brightline check`, 2-core VM; IPv4 list = the test data's
 *   42k list topped up with random /16../32, plus the 8.7k IPv6 list):
 *   1,000 + 8,752 prefixes 128 ms / 79 MiB; 100,000 + 8,752: 236 ms /
 *   126 MiB; 1,000,000 + 8,752: 1.7 s / 798 MiB (4-byte next hops once
 *   more than 32,000 /24s hold longer prefixes).
 * - Flows keep (action, rule index, generation) in their entry; a verdict of
 *   an older generation is judged again.
 * - Direction: a packet arriving on the inside port travels outbound, on the
 *   outside port inbound. A flow is judged in the direction of its
 *   initiator (a reply re-judged after a new policy is looked up swapped).
 * - The outermost IP layer (bl_pkt.l3[0]) is classified, as the flow table
 *   keys flows by it. Rules on domains or payload patterns are kept (their
 *   names, counters) but match nothing yet: the L7 stage is another issue.
 *
 * Limits (a policy beyond them is refused by the compiler with a message):
 * 65,535 rules (flow entries hold a 16-bit rule index), 32 prefix lists
 * used in address matches, BL_RT_MAX_ACL_RULES expanded ACL rules.
 */
#ifndef BL_POLICY_RT_H
#define BL_POLICY_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parse.h"
#include "policy.h"

#define BL_RT_MAX_RULES	    65535u
#define BL_RT_RULE_DEFAULT  0xffffu    /* rule index of the default action */
#define BL_RT_RULE_NONE	    0xffffu    /* no log rule */
#define BL_RT_MAX_LISTS	    32u	       /* prefix lists used in address matches */
#define BL_RT_MAX_ACL_RULES (1u << 20) /* expanded ACL rules, both families */
#define BL_RT_SLOTS	    65536u     /* rule counter slots; slot 0 = default */
#define BL_RT_BURST	    64u	       /* largest n of bl_rt_classify_burst */
#define BL_RT_ACL_CTX	    3u	       /* ACL contexts per family (rule shapes) */

/* What the policy decided for a flow; stored in bl_flow_entry.verdict. */
enum bl_rt_action {
	BL_RT_NONE = 0, /* = BL_FLOW_VERDICT_NONE: not judged */
	BL_RT_ALLOW,
	BL_RT_DROP,
	BL_RT_REJECT,
	BL_RT_RATE_LIMIT,
	BL_RT_QUOTA,
	BL_RT_ACTION_MAX
};

/* A compiled rule. Its name is its identity across generations. */
struct bl_rt_rule {
	char name[BL_POLICY_MAX_NAME + 1];
	uint32_t slot;		     /* counter slot (stable per name), see bl_rt_slots */
	uint32_t line;		     /* in the policy text */
	uint8_t action;		     /* enum bl_rt_action; BL_RT_NONE for `log` rules */
	bool log;		     /* a `log` rule: records and goes on */
	bool l7;		     /* matches on domains/patterns: not matched yet */
	struct bl_policy_action act; /* parameters (quota.timezone points into tz) */
	char tz[64];
	void *meter; /* actions module state for rate-limit/quota, or NULL */
};

struct rte_acl_ctx;
struct rte_fib;
struct rte_fib6;

/* How the compiler gets the actions module's meter of a rate-limit or
 * quota rule (one per rule per generation), and frees it with the object. */
struct bl_rt_meter_ops {
	void *(*get)(void *ctx, const char *rule, const struct bl_policy_action *a);
	void (*put)(void *meter);
	void *ctx;
};

/* The immutable runtime object. Nothing in it changes once published. */
struct bl_rt {
	uint32_t gen;		/* generation, > 0, increasing */
	uint8_t default_action; /* enum bl_rt_action */
	bool has_policy;	/* false: built from `default_ip` only */
	uint32_t ncat;		/* ACL categories classified: 1, or 4 with log rules */
	uint32_t nrules;
	struct bl_rt_rule *rules;
	/* [0] IPv4, [1] IPv6; per rule shape (policy_rt_int.h); NULL: no rule */
	struct rte_acl_ctx *acl[2][BL_RT_ACL_CTX];
	struct rte_fib *fib4; /* NULL: no IPv4 list prefix */
	struct rte_fib6 *fib6;
	uint32_t nsets[2];
	uint32_t *sets[2]; /* list-set id -> bitmap of lists, per family */
	/* what `brightline check` reports */
	uint32_t nlists, nacl_rules[2], nl7, nacl_ctx;
	uint64_t nentries, nfib[2];
	uint64_t build_ns, mem_bytes;
	char hash[65];
	void (*meter_put)(void *meter);
};

/* Rule name -> counter slot, kept by the control side across generations. */
struct bl_rt_slots;

struct bl_rt_slots *bl_rt_slots_create(void);
void bl_rt_slots_free(struct bl_rt_slots *s);
/* Name of a slot ("default" for 0), or NULL when unused. */
const char *bl_rt_slot_name(const struct bl_rt_slots *s, uint32_t slot);
uint32_t bl_rt_slots_used(const struct bl_rt_slots *s);

/*
 * Compile `p` (NULL: no policy; `nopolicy_default` then decides every IP
 * packet: BL_RT_ALLOW or BL_RT_DROP) into a new object of generation `gen`.
 * Counter slots come from `slots` (NULL: slot = index + 1), meters from
 * `ops` (NULL: none). `file` names the policy in messages. Errors go to
 * `err` as "file:line:col" diagnostics. Needs the EAL. Returns the object,
 * or NULL with errno.
 */
struct bl_rt *bl_rt_build(const struct bl_policy *p, const char *file,
			  enum bl_rt_action nopolicy_default, uint32_t gen,
			  struct bl_rt_slots *slots, const struct bl_rt_meter_ops *ops,
			  struct bl_policy_err *err);

/* Free an object no worker can see any more (NULL is fine). */
void bl_rt_free(struct bl_rt *rt);

/*
 * Load, validate and compile a policy file exactly as the daemon does:
 * messages (the same lines as `blctl policy check`, then compile errors)
 * go to `msgs`. Returns the object or NULL.
 */
struct bl_rt *bl_rt_load_file(const char *path, uint32_t gen, struct bl_rt_slots *slots,
			      const struct bl_rt_meter_ops *ops, FILE *msgs);

/* One line: rules, lists, entries, ACL rules, build ms, memory. */
void bl_rt_summary(const struct bl_rt *rt, char *buf, size_t len);

/* ---- publication (control side) ---- */

struct rte_rcu_qsbr;

/* The published pointer, its RCU variable, the generation counter. */
struct bl_rt_pub {
	struct bl_rt *cur;	  /* read by workers with acquire */
	struct rte_rcu_qsbr *qsv; /* one thread id per worker */
	uint32_t max_threads;
	uint32_t next_gen;
	uint64_t freed; /* objects freed after their grace period */
	struct bl_rt_slots *slots;
};

/* Create the RCU variable for `max_threads` workers. 0 or -errno. */
int bl_rt_pub_init(struct bl_rt_pub *pub, uint32_t max_threads);

/*
 * Publish `rt` (one release store), wait until every online worker has
 * reported a quiescent state, then free the previous object.
 */
/* How long each step of a publish took, in microseconds. */
struct bl_rt_pub_times {
	double store_us; /* the pointer store: what workers see */
	double grace_us; /* waiting for every worker's quiescent report */
	double free_us;	 /* freeing the old object */
};

/* `times` (may be NULL) receives the duration of each step. */
void bl_rt_publish(struct bl_rt_pub *pub, struct bl_rt *rt, struct bl_rt_pub_times *times);

/* Free the current object and the RCU variable; workers must be stopped. */
void bl_rt_pub_fini(struct bl_rt_pub *pub);

/* ---- lookup (worker side) ---- */

/* One packet to classify: its IP layer, outer VLAN, how it travels. */
struct bl_rt_query {
	const struct bl_l3 *l3;
	uint16_t vlan;	 /* outer VLAN id; BL_RT_NO_VLAN when untagged */
	uint8_t inbound; /* 1: arrived on the outside port */
	uint8_t swap;	 /* judge as the reverse packet (flow's initiator) */
};

#define BL_RT_NO_VLAN 0x1000u

/* The decision for one packet. */
struct bl_rt_result {
	uint8_t action;	   /* enum bl_rt_action */
	uint16_t rule;	   /* index into rt->rules, or BL_RT_RULE_DEFAULT */
	uint16_t log_rule; /* first `log` rule met before `rule`, or BL_RT_RULE_NONE */
	uint32_t gen;
};

/*
 * Classify n (<= BL_RT_BURST) packets: one FIB bulk lookup per address and
 * family when lists exist, then one rte_acl_classify per family. No
 * allocation, no lock.
 */
void bl_rt_classify_burst(const struct bl_rt *rt, const struct bl_rt_query *q, unsigned n,
			  struct bl_rt_result *res);

/* Counter slot of a result's rule (0 for the default). */
static inline uint32_t bl_rt_result_slot(const struct bl_rt *rt, uint16_t rule)
{
	return rule == BL_RT_RULE_DEFAULT ? 0 : rt->rules[rule].slot;
}

const char *bl_rt_action_name(enum bl_rt_action a);

#endif /* BL_POLICY_RT_H */
