/* SPDX-License-Identifier: BSD-3-Clause */
/* DPDK telemetry commands and the dpdk-dumpcap hook (see telemetry.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>
#include <rte_telemetry.h>

#include "daemon.h"
#include "telemetry.h"

/*
 * DPDK 22.11 callbacks take no context pointer, and commands cannot be
 * unregistered: they find the daemon here, NULL once it is gone. The lock
 * orders tel_lock -> d->obs_lock.
 */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bl_daemon *tel_d;
static bool registered;

/* A snapshot of the daemon's counters (free with put()), or NULL; the rule
 * counters settled only when `rules` (daemon.h): a settle pass costs the
 * workers a little, and the other commands do not show them. */
static struct bl_stats_snapshot *take(bool rules)
{
	struct bl_stats_snapshot *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_lock(&tel_lock);
	if (!tel_d) {
		pthread_mutex_unlock(&tel_lock);
		free(s);
		return NULL;
	}
	pthread_mutex_lock(&tel_d->obs_lock);
	if (rules)
		bl_daemon_snapshot(tel_d, s);
	else
		bl_daemon_snapshot_unsettled(tel_d, s);
	pthread_mutex_unlock(&tel_d->obs_lock);
	pthread_mutex_unlock(&tel_lock);
	return s;
}

static void put(struct bl_stats_snapshot *s)
{
	if (!s)
		return;
	bl_stats_snapshot_release(s);
	free(s);
}

static void add_u64(struct rte_tel_data *d, const char *name, uint64_t v)
{
	rte_tel_data_add_dict_u64(d, name, v);
}

static int cb_stats(const char *cmd __rte_unused, const char *params __rte_unused,
		    struct rte_tel_data *d)
{
	struct bl_stats_snapshot *s = take(false);
	struct bl_stats_totals t;
	uint64_t flows = 0, lost = 0;

	if (!s)
		return -ENODEV;
	bl_stats_totals(s, &t);
	for (unsigned w = 0; w < s->n_workers; w++) {
		flows += s->flows_live[w];
		lost += s->w[w].events_lost;
	}
	rte_tel_data_start_dict(d);
	add_u64(d, "rx", t.rx);
	add_u64(d, "tx", t.tx);
	add_u64(d, "dropped", t.dropped);
	add_u64(d, "held", t.held);
	add_u64(d, "in_rings", t.in_rings);
	add_u64(d, "generated", s->generated);
	add_u64(d, "balanced", t.balanced);
	add_u64(d, "flows", flows);
	add_u64(d, "workers", s->n_workers);
	add_u64(d, "policy_generation", s->policy_gen);
	add_u64(d, "events_written", s->events_written);
	add_u64(d, "events_suppressed", s->events_suppressed);
	add_u64(d, "events_lost", lost);
	add_u64(d, "event_write_errors", s->event_write_errors);
	add_u64(d, "meter_slots", s->meter_slots);
	add_u64(d, "meter_slots_reclaimed", s->meter_reclaimed);
	add_u64(d, "meter_late_merged", s->meter_late_merged);
	add_u64(d, "meter_late_lost", s->meter_late_lost);
	put(s);
	return 0;
}

static void port_dict(struct rte_tel_data *d, const struct bl_port_stats *p)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", p->name);
	add_u64(d, "rx", p->ipackets);
	add_u64(d, "tx", p->opackets);
	add_u64(d, "rx_bytes", p->ibytes);
	add_u64(d, "tx_bytes", p->obytes);
	add_u64(d, "dropped", p->oerrors);
	add_u64(d, "imissed", p->imissed);
	add_u64(d, "ierrors", p->ierrors);
	add_u64(d, "rx_nombuf", p->rx_nombuf);
}

static int cb_ports(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	static const char *const names[2] = { "inside", "outside" };
	struct bl_stats_snapshot *s;
	int rc = 0;

	if (params && *params && strcmp(params, "inside") && strcmp(params, "outside"))
		return -EINVAL;
	s = take(false);
	if (!s)
		return -ENODEV;
	if (params && *params) {
		port_dict(d, &s->port[strcmp(params, "inside") ? 1 : 0]);
		goto out_put;
	}
	rte_tel_data_start_dict(d);
	for (unsigned p = 0; p < 2; p++) {
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (!c) {
			rc = -ENOMEM;
			break;
		}
		port_dict(c, &s->port[p]);
		rte_tel_data_add_dict_container(d, names[p], c, 0);
	}
out_put:
	put(s);
	return rc;
}

static void worker_dict(struct rte_tel_data *d, const struct bl_stats_snapshot *s, unsigned w)
{
	const struct bl_worker_stats *ws = &s->w[w];
	uint64_t dropped = 0;

	for (unsigned r = 1; r < BL_DROP_MAX; r++)
		dropped += ws->drop[r];
	rte_tel_data_start_dict(d);
	add_u64(d, "rx", ws->rx);
	add_u64(d, "tx", ws->tx);
	add_u64(d, "dropped", dropped);
	add_u64(d, "handoff_out", ws->handoff_out);
	add_u64(d, "handoff_in", ws->handoff_in);
	add_u64(d, "handoff_drop", ws->drop[BL_DROP_HANDOFF_FULL]);
	add_u64(d, "untracked_pass", ws->untracked_pass);
	add_u64(d, "frag_followed", ws->frag_followed);
	add_u64(d, "frag_released", ws->frag_released);
	add_u64(d, "events_lost", ws->events_lost);
	add_u64(d, "flows", s->flows_live[w]);
	add_u64(d, "frag_held", s->frag_held[w]);
}

static int cb_workers(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct bl_stats_snapshot *s = take(false);
	int rc = 0;

	if (!s)
		return -ENODEV;
	if (params && *params) {
		char *end;
		unsigned long w = strtoul(params, &end, 10);

		if (*end || w >= s->n_workers)
			rc = -EINVAL;
		else
			worker_dict(d, s, w);
		goto out_put;
	}
	/* DPDK 22.11 nests dicts in dicts only (not in arrays): keyed by id */
	rte_tel_data_start_dict(d);
	for (unsigned w = 0; w < s->n_workers; w++) {
		struct rte_tel_data *c = rte_tel_data_alloc();
		char id[16];

		if (!c) {
			rc = -ENOMEM;
			break;
		}
		worker_dict(c, s, w);
		snprintf(id, sizeof(id), "%u", w);
		rte_tel_data_add_dict_container(d, id, c, 0);
	}
out_put:
	put(s);
	return rc;
}

static int cb_drops(const char *cmd __rte_unused, const char *params __rte_unused,
		    struct rte_tel_data *d)
{
	struct bl_stats_snapshot *s = take(false);
	struct bl_stats_totals t;
	char name[64];

	if (!s)
		return -ENODEV;
	bl_stats_totals(s, &t);
	rte_tel_data_start_dict(d);
	for (unsigned r = 1; r < BL_DROP_MAX; r++)
		add_u64(d, bl_drop_name(r), t.drop[r]);
	for (unsigned i = 0; i < BL_FRAG_TABLE_DROPS; i++) {
		snprintf(name, sizeof(name), "frag_%s",
			 bl_frag_counter_names[bl_frag_table_drop_idx[i]]);
		add_u64(d, name, t.frag_drop[i]);
	}
	put(s);
	return 0;
}

/*
 * Without params: three parallel arrays, names, packets and bytes, by rule
 * slot (rule names may hold '-' and '.', which telemetry refuses in dict
 * keys; an array holds RTE_TEL_MAX_ARRAY_ENTRIES values: the first 512
 * slots). With a rule name: that rule's packets and bytes.
 */
static int cb_rules(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *names, *pkts, *bytes;
	struct bl_stats_snapshot *s = take(true);
	int rc = 0;

	if (!s)
		return -ENODEV;
	if (params && *params) {
		uint32_t i;

		for (i = 0; i < s->n_rules && strcmp(s->rules[i].name, params); i++)
			;
		if (i == s->n_rules) {
			rc = -ENOENT;
			goto out_put;
		}
		rte_tel_data_start_dict(d);
		add_u64(d, "packets", s->rules[i].packets);
		add_u64(d, "bytes", s->rules[i].bytes);
		add_u64(d, "settled", !s->rules_lag);
		goto out_put;
	}
	names = rte_tel_data_alloc();
	pkts = rte_tel_data_alloc();
	bytes = rte_tel_data_alloc();
	if (!names || !pkts || !bytes) {
		rte_tel_data_free(names);
		rte_tel_data_free(pkts);
		rte_tel_data_free(bytes);
		rc = -ENOMEM;
		goto out_put;
	}
	rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(pkts, RTE_TEL_U64_VAL);
	rte_tel_data_start_array(bytes, RTE_TEL_U64_VAL);
	for (uint32_t i = 0; i < s->n_rules && i < RTE_TEL_MAX_ARRAY_ENTRIES; i++) {
		rte_tel_data_add_array_string(names, s->rules[i].name);
		rte_tel_data_add_array_u64(pkts, s->rules[i].packets);
		rte_tel_data_add_array_u64(bytes, s->rules[i].bytes);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_container(d, "names", names, 0);
	rte_tel_data_add_dict_container(d, "packets", pkts, 0);
	rte_tel_data_add_dict_container(d, "bytes", bytes, 0);
	add_u64(d, "settled", !s->rules_lag);
out_put:
	put(s);
	return rc;
}

static int cb_policy(const char *cmd __rte_unused, const char *params __rte_unused,
		     struct rte_tel_data *d)
{
	const struct bl_rt *rt;
	int rc = 0;

	pthread_mutex_lock(&tel_lock);
	if (!tel_d) {
		rc = -ENODEV;
		goto out_unlock;
	}
	pthread_mutex_lock(&tel_d->obs_lock);
	rt = tel_d->pub.cur;
	rte_tel_data_start_dict(d);
	if (rt) {
		add_u64(d, "generation", rt->gen);
		rte_tel_data_add_dict_string(d, "sha256", rt->hash);
		rte_tel_data_add_dict_string(d, "default", bl_rt_action_name(rt->default_action));
		add_u64(d, "has_policy", rt->has_policy);
		add_u64(d, "rules", rt->nrules);
		add_u64(d, "lists", rt->nlists);
		add_u64(d, "entries", rt->nentries);
		add_u64(d, "build_ns", rt->build_ns);
		add_u64(d, "mem_bytes", rt->mem_bytes);
	}
	add_u64(d, "freed", tel_d->pub.freed);
	pthread_mutex_unlock(&tel_d->obs_lock);
out_unlock:
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

/* The commands, registered once per process (they cannot be removed). */
static int register_cmds(void)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/brightline/stats", cb_stats,
		  "Totals: rx, tx, dropped, held, flows, events. No parameters." },
		{ "/brightline/ports", cb_ports,
		  "Port counters. Parameters: none, or inside|outside." },
		{ "/brightline/workers", cb_workers,
		  "Worker counters. Parameters: none, or a worker id." },
		{ "/brightline/drops", cb_drops, "Packets dropped per reason. No parameters." },
		{ "/brightline/rules", cb_rules,
		  "Packets per rule (first 256). Parameters: none, or a rule name." },
		{ "/brightline/policy", cb_policy,
		  "The published policy: generation, sha256, size. No parameters." },
	};

	if (registered)
		return 0;
	for (size_t i = 0; i < RTE_DIM(cmds); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);

		if (rc)
			return rc;
	}
	registered = true;
	return 0;
}

int bl_telemetry_init(struct bl_daemon *d)
{
	int rc = register_cmds(), prc = 0;

	pthread_mutex_lock(&tel_lock);
	tel_d = d;
	pthread_mutex_unlock(&tel_lock);
	d->telemetry_up = true;
	/* serves dpdk-dumpcap / dpdk-pdump requests over the EAL's multi-process
	 * channel (a no-op success when the EAL has no shared config) */
	if (rte_eal_process_type() == RTE_PROC_PRIMARY && rte_pdump_init())
		prc = -rte_errno;
	return rc ? (rc < 0 ? rc : -rc) : prc;
}

void bl_telemetry_fini(struct bl_daemon *d)
{
	if (!d->telemetry_up)
		return;
	pthread_mutex_lock(&tel_lock);
	if (tel_d == d)
		tel_d = NULL;
	pthread_mutex_unlock(&tel_lock);
	if (rte_eal_process_type() == RTE_PROC_PRIMARY)
		rte_pdump_uninit();
	d->telemetry_up = false;
}
