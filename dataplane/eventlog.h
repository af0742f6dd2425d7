/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event log: flow decisions worth recording (drop, reject, `log`
 * rules) as JSON lines in Suricata's EVE shape. Control side only.
 *
 * Workers put ONE small record per flow decision (struct bl_event with
 * BL_EV_F_DECISION, worker.h) in their own event ring; the ring's single
 * consumer (the EVE writer thread in `run`, the main lcore in replay)
 * passes each record here. A record gives at most two lines:
 *  - a `log` rule met on the way: {"event_type":"alert","alert":{"action":
 *    "allowed"|"blocked","signature":RULE,"category":"Policy log",...}}
 *  - a drop: {"event_type":"drop","drop":{"len":N,"reason":"rules",...}};
 *    a reject: {"event_type":"alert","alert":{"action":"blocked",
 *    "category":"Policy reject",...}}
 * each with timestamp, flow_id (from the flow key: equal for every record
 * of a 5-tuple and VLAN), in_iface, vlan, the initiator's src/dest, proto,
 * and {"brightline":{"rule","generation","action","verdict"}}.
 *
 * Each line is charged to its rule's token bucket (per rule slot: `rate`
 * lines per second, `burst` deep); a line over the rate is suppressed and
 * counted. Records lost because a ring was full are counted by the workers
 * (events_lost). The file is opened for appending (mode 0640, its directory
 * created 0750 when missing) and reopened on request (SIGHUP, logrotate).
 */
#ifndef BL_EVENTLOG_H
#define BL_EVENTLOG_H

#include <stdint.h>

#include "policy_rt.h"
#include "worker.h"

struct bl_eventlog_config {
	const char *path;		 /* EVE file */
	uint32_t rate;			 /* lines per second per rule; 0: no limit */
	uint32_t burst;			 /* bucket depth (>= 1) */
	uint64_t tsc_hz;		 /* of bl_event.tsc */
	const struct bl_rt_slots *slots; /* rule names by slot (append-only) */
};

/* Counters; any thread may read them with bl_eventlog_stats(). */
struct bl_eventlog_stats {
	uint64_t written;      /* lines written */
	uint64_t suppressed;   /* lines over their rule's rate */
	uint64_t write_errors; /* failed writes, flushes or reopens */
	uint64_t reopened;     /* successful reopens */
};

struct bl_eventlog;

/* Open the log. NULL with errno when the file cannot be opened. */
struct bl_eventlog *bl_eventlog_create(const struct bl_eventlog_config *c);

/* Flush and close (NULL is fine). */
void bl_eventlog_free(struct bl_eventlog *el);

/*
 * Turn one record into its EVE lines (records without BL_EV_F_DECISION are
 * ignored). Lines are buffered: bl_eventlog_flush() after a batch. Only the
 * ring's consumer thread calls it.
 */
void bl_eventlog_add(struct bl_eventlog *el, const struct bl_event *ev);

/* Write buffered lines out. */
void bl_eventlog_flush(struct bl_eventlog *el);

/* Reopen the file by its path (it may have been moved away). 0 or -errno;
 * on failure the old file stays open. Same thread as bl_eventlog_add. */
int bl_eventlog_reopen(struct bl_eventlog *el);

void bl_eventlog_stats(const struct bl_eventlog *el, struct bl_eventlog_stats *s);

#endif /* BL_EVENTLOG_H */
