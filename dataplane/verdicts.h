/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verdict log of `replay` and `run --verdicts`: verdict events from the
 * workers, folded into one JSON line per flow (canonical 5-tuple + VLAN),
 * per datagram for later fragments, and per reason for packets with no flow.
 * Control side only.
 */
#ifndef BL_VERDICTS_H
#define BL_VERDICTS_H

#include "policy_rt.h"
#include "worker.h"

struct bl_verdicts;

/* NULL with errno on failure. */
struct bl_verdicts *bl_verdicts_create(void);
void bl_verdicts_free(struct bl_verdicts *v);

/* Fold one event in. 0 or -ENOMEM. */
int bl_verdicts_add(struct bl_verdicts *v, const struct bl_event *ev);

/* Write the lines in first-seen order; rule names come from `slots`
 * (NULL: no names). 0 or -errno. */
int bl_verdicts_write(const struct bl_verdicts *v, const struct bl_rt_slots *slots,
		      const char *path);

#endif /* BL_VERDICTS_H */
