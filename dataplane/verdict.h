/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verdict seam: the one place a worker asks "what happens to this
 * packet?" after parse, distribution, fragment check and flow lookup. At
 * this stage it applies a configured default for IP traffic (`default_ip:
 * pass|drop`); the policy issue replaces bl_verdict_decide() and this seam
 * struct with the RCU-published policy runtime.
 */
#ifndef BL_VERDICT_H
#define BL_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "parse.h"

enum bl_verdict {
	BL_VERDICT_NONE = 0, /* = BL_FLOW_VERDICT_NONE: not judged */
	BL_VERDICT_PASS,
	BL_VERDICT_DROP,
};

/* What the seam needs to decide; immutable while workers run. */
struct bl_verdict_seam {
	bool default_drop; /* default_ip: drop */
};

/*
 * Judge one well-formed IP packet of flow `flow` (NULL when untracked).
 * A flow's verdict, once set, is kept in its entry and reused.
 */
enum bl_verdict bl_verdict_decide(const struct bl_verdict_seam *s,
				  const struct bl_pkt *p,
				  struct bl_flow_entry *flow);

const char *bl_verdict_name(enum bl_verdict v);

#endif /* BL_VERDICT_H */
