/* SPDX-License-Identifier: BSD-3-Clause */
/* The verdict seam (see verdict.h): policy decision -> packet fate. */
#include <rte_mbuf.h>

#include "verdict.h"
#include "worker.h"

/* A metered rule: charge the packet, turn the meter's answer into a fate. */
static enum bl_verdict meter(struct bl_worker *w, const struct bl_rt_rule *r, struct rte_mbuf *m,
			     const struct bl_flow_entry *e, uint64_t now, unsigned *reason)
{
	bool inbound = m->port == w->port[1];
	enum bl_meter_verdict mv;

	if (!r->meter)
		return BL_VERDICT_PASS; /* no meter table (never in the daemon) */
	mv = bl_meter_charge(r->meter, rte_mbuf_to_priv(m), inbound, rte_pktmbuf_pkt_len(m), now,
			     &w->meter_stats);
	if (mv == BL_METER_PASS)
		return BL_VERDICT_PASS;
	if (mv == BL_METER_REJECT)
		bl_worker_reject(w, m, e, now);
	*reason = r->action == BL_RT_QUOTA ? BL_DROP_QUOTA : BL_DROP_RATELIMIT;
	return BL_VERDICT_DROP;
}

enum bl_verdict bl_verdict_act(struct bl_worker *w, const struct bl_rt *rt, struct rte_mbuf *m,
			       const struct bl_flow_entry *e, uint8_t action, uint16_t rule,
			       uint64_t now, unsigned *reason)
{
	switch (action) {
	case BL_RT_ALLOW: return BL_VERDICT_PASS;
	case BL_RT_REJECT:
		bl_worker_reject(w, m, e, now);
		*reason = BL_DROP_REJECT;
		return BL_VERDICT_DROP;
	case BL_RT_RATE_LIMIT:
	case BL_RT_QUOTA: return meter(w, &rt->rules[rule], m, e, now, reason);
	default: *reason = BL_DROP_POLICY; return BL_VERDICT_DROP;
	}
}

const char *bl_verdict_name(enum bl_verdict v)
{
	switch (v) {
	case BL_VERDICT_NONE: return "none";
	case BL_VERDICT_PASS: return "pass";
	case BL_VERDICT_DROP: return "drop";
	}
	return "?";
}
