/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verdict seam: the one place a worker turns a policy decision into
 * what happens to a packet, after parse, distribution, fragment check, flow
 * lookup and the policy lookup (policy_rt.h, one bulk classification per
 * burst in worker.c). allow forwards; drop drops (policy_drop); reject asks
 * the actions module for the replies, then drops (policy_reject); rate-limit
 * and quota charge every packet of the flow to the rule's meter, then
 * forward or drop (ratelimit_drop, quota_drop). Per-rule packet and byte
 * counters, indexed by the rule's stable slot, live in the worker's context
 * (outside the policy object) so that they survive a new policy.
 *
 * Without a configured policy the daemon publishes an object with no rules
 * whose default is `default_ip: pass|drop`; the non-IP defaults (non_ip:)
 * apply before the policy, so a default-drop policy cannot kill ARP or ND.
 */
#ifndef BL_VERDICT_H
#define BL_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "parse.h"
#include "policy_rt.h"

/* What happened to one packet. */
enum bl_verdict {
	BL_VERDICT_NONE = 0, /* = BL_FLOW_VERDICT_NONE: not judged */
	BL_VERDICT_PASS,
	BL_VERDICT_DROP,
};

struct rte_rcu_qsbr;

/* The worker's view of the policy; set up by the control side. */
struct bl_verdict_seam {
	struct bl_rt **rt;	  /* &bl_rt_pub.cur: load with acquire, once per burst */
	struct rte_rcu_qsbr *qsv; /* report quiescence here, thread id = worker id */
	struct bl_rule_ctr *ctr;  /* BL_RT_SLOTS counters of this worker */
};

struct bl_worker;
struct rte_mbuf;

/*
 * One packet of `bytes` to slot `slot` of a seam's counters `ctr`: a packet
 * with no flow to count it, an ICMP error judged apart from its own flow, or
 * the `log` rule a classification met (the packets of flows count to their
 * deciding rule through their flow: bl_flow_settle()).
 */
static inline void bl_verdict_count(struct bl_rule_ctr *ctr, uint32_t slot, uint32_t bytes)
{
	ctr[slot].packets++;
	ctr[slot].bytes += bytes;
}

/*
 * Act on decision (action, rule) of policy `rt` for packet `m` of flow `e`
 * (NULL when untracked): charge meters, build reject replies (the caller
 * counts the packet to its rule). Returns PASS or DROP; on DROP *reason is
 * the drop reason.
 */
enum bl_verdict bl_verdict_act(struct bl_worker *w, const struct bl_rt *rt, struct rte_mbuf *m,
			       const struct bl_flow_entry *e, uint8_t action, uint16_t rule,
			       uint64_t now, unsigned *reason);

/* What an ICMP error that quotes a flow does when that flow was judged
 * `action`: the flow's fate (errors are never rejected nor metered). */
static inline enum bl_verdict bl_verdict_of_quoted(uint8_t action)
{
	return action == BL_RT_DROP || action == BL_RT_REJECT ? BL_VERDICT_DROP : BL_VERDICT_PASS;
}

const char *bl_verdict_name(enum bl_verdict v);

#endif /* BL_VERDICT_H */
