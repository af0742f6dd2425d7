/* SPDX-License-Identifier: BSD-3-Clause */
/* The verdict seam (see verdict.h): the configured default for IP traffic. */
#include "verdict.h"

enum bl_verdict bl_verdict_decide(const struct bl_verdict_seam *s,
				  const struct bl_pkt *p,
				  struct bl_flow_entry *flow)
{
	enum bl_verdict v;

	(void)p;
	if (flow && flow->verdict != BL_FLOW_VERDICT_NONE)
		return flow->verdict;
	v = s->default_drop ? BL_VERDICT_DROP : BL_VERDICT_PASS;
	if (flow)
		bl_flow_verdict_set(flow, v, 0, 0);
	return v;
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
