/* SPDX-License-Identifier: BSD-3-Clause */
/* Counter names, totals, the accounting invariant, text and JSON output. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_cycles.h>

#include "stats.h"

const unsigned bl_frag_table_drop_idx[BL_FRAG_TABLE_DROPS] = {
	offsetof(struct bl_frag_counters, drop_follow_drop) / sizeof(uint64_t),
	offsetof(struct bl_frag_counters, drop_hold_budget) / sizeof(uint64_t),
	offsetof(struct bl_frag_counters, drop_dgram_limit) / sizeof(uint64_t),
	offsetof(struct bl_frag_counters, drop_timeout) / sizeof(uint64_t),
	offsetof(struct bl_frag_counters, drop_overlap_first) / sizeof(uint64_t),
	offsetof(struct bl_frag_counters, drop_table_full) / sizeof(uint64_t),
};

const char *bl_drop_name(unsigned r)
{
	static const char *const nonip[BL_NONIP_MAX] = {
		"nonip_arp",   "nonip_lldp", "nonip_slow", "nonip_stp",
		"nonip_other", "nonip_nd",   "nonip_mld",
	};

	if (r < BL_PARSE_OUTCOME_MAX)
		return bl_parse_outcome_name(r);
	if (r >= BL_DROP_NONIP && r < BL_DROP_NONIP + BL_NONIP_MAX)
		return nonip[r - BL_DROP_NONIP];
	switch (r) {
	case BL_DROP_HDR_SPLIT: return "hdr_split";
	case BL_DROP_HANDOFF_FULL: return "handoff_full";
	case BL_DROP_TX_FULL: return "tx_full";
	case BL_DROP_VERDICT: return "verdict";
	case BL_DROP_FLOW_MIDSTREAM: return "flow_midstream";
	case BL_DROP_FLOW_FULL: return "flow_full";
	case BL_DROP_FRAG_TINY_FIRST: return "frag_tiny_first";
	case BL_DROP_FRAG_TCP_OFFSET1: return "frag_tcp_offset1";
	case BL_DROP_FRAG_RELEASED_DROP: return "frag_released_drop";
	case BL_DROP_POLICY: return "policy_drop";
	case BL_DROP_REJECT: return "policy_reject";
	case BL_DROP_RATELIMIT: return "ratelimit_drop";
	case BL_DROP_QUOTA: return "quota_drop";
	}
	return "?";
}

const char *bl_stage_name(enum bl_stage s)
{
	static const char *const names[BL_STAGE_MAX] = { "parse", "distribution", "flow", "tx" };

	return s < BL_STAGE_MAX ? names[s] : "?";
}

/* "frag_" + the fragment table's counter name, e.g. "frag_drop_timeout". */
static void frag_drop_name(unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "frag_%s", bl_frag_counter_names[bl_frag_table_drop_idx[i]]);
}

void bl_stats_totals(const struct bl_stats_snapshot *s, struct bl_stats_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned w = 0; w < s->n_workers; w++) {
		t->rx += s->w[w].rx;
		t->tx += s->w[w].tx;
		t->held += s->frag_held[w];
		for (unsigned r = 1; r < BL_DROP_MAX; r++)
			t->drop[r] += s->w[w].drop[r];
		for (unsigned i = 0; i < BL_FRAG_TABLE_DROPS; i++)
			t->frag_drop[i] +=
				bl_frag_counter_value(&s->frag[w], bl_frag_table_drop_idx[i]);
	}
	for (unsigned r = 1; r < BL_DROP_MAX; r++)
		t->dropped += t->drop[r];
	for (unsigned i = 0; i < BL_FRAG_TABLE_DROPS; i++)
		t->dropped += t->frag_drop[i];
	t->in_rings = s->in_rings;
	t->balanced = t->rx == t->tx + t->dropped + t->held + t->in_rings;
}

/* Events the workers lost to a full ring (EVE records or verdict events). */
static uint64_t events_lost(const struct bl_stats_snapshot *s)
{
	uint64_t n = 0;

	for (unsigned w = 0; w < s->n_workers; w++)
		n += s->w[w].events_lost;
	return n;
}

void bl_stats_print(const struct bl_stats_snapshot *s, FILE *f)
{
	struct bl_stats_totals t;
	char name[64];

	bl_stats_totals(s, &t);
	for (unsigned p = 0; p < 2; p++)
		fprintf(f,
			"port %-7s %-20s rx %lu tx %lu dropped(oerrors) %lu imissed %lu ierrors %lu rx_nombuf %lu\n",
			p ? "outside" : "inside", s->port[p].name, s->port[p].ipackets,
			s->port[p].opackets, s->port[p].oerrors, s->port[p].imissed,
			s->port[p].ierrors, s->port[p].rx_nombuf);
	for (unsigned w = 0; w < s->n_workers; w++) {
		const struct bl_worker_stats *ws = &s->w[w];

		fprintf(f,
			"worker %u rx %lu tx %lu handoff_out %lu handoff_in %lu handoff_drop %lu "
			"flows %u frag_held %u\n",
			w, ws->rx, ws->tx, ws->handoff_out, ws->handoff_in,
			ws->drop[BL_DROP_HANDOFF_FULL], s->flows_live[w], s->frag_held[w]);
	}
	for (unsigned r = 1; r < BL_DROP_MAX; r++)
		if (t.drop[r])
			fprintf(f, "drop %-24s %lu\n", bl_drop_name(r), t.drop[r]);
	for (unsigned i = 0; i < BL_FRAG_TABLE_DROPS; i++) {
		if (!t.frag_drop[i])
			continue;
		frag_drop_name(i, name, sizeof(name));
		fprintf(f, "drop %-24s %lu\n", name, t.frag_drop[i]);
	}
	for (uint32_t i = 0; i < s->n_rules; i++)
		fprintf(f, "rule %-24s packets %lu bytes %lu\n", s->rules[i].name,
			s->rules[i].packets, s->rules[i].bytes);
	fprintf(f, "generated %lu\n", s->generated);
	if (s->events_written || s->events_suppressed || s->event_write_errors || events_lost(s))
		fprintf(f, "events written %lu suppressed %lu lost %lu write_errors %lu\n",
			s->events_written, s->events_suppressed, events_lost(s),
			s->event_write_errors);
	fprintf(f, "accounting rx %lu = tx %lu + dropped %lu + held %lu + in_rings %lu: %s\n", t.rx,
		t.tx, t.dropped, t.held, t.in_rings, t.balanced ? "ok" : "MISMATCH");
}

static json_t *port_json(const struct bl_port_stats *p)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", p->name, "rx",
			 (json_int_t)p->ipackets, "tx", (json_int_t)p->opackets, "rx_bytes",
			 (json_int_t)p->ibytes, "tx_bytes", (json_int_t)p->obytes, "dropped",
			 (json_int_t)p->oerrors, "imissed", (json_int_t)p->imissed, "ierrors",
			 (json_int_t)p->ierrors, "rx_nombuf", (json_int_t)p->rx_nombuf);
}

/* The worker's generated replies (reject), with every reason one was not sent. */
static json_t *reject_json(const struct bl_reject_stats *r)
{
	json_t *o =
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "generated", (json_int_t)r->generated,
			  "tcp_rst", (json_int_t)r->tcp_rst, "tcp_rst_peer",
			  (json_int_t)r->tcp_rst_peer, "icmp4", (json_int_t)r->icmp4, "icmp6",
			  (json_int_t)r->icmp6, "tx_full", (json_int_t)r->tx_full);
	json_t *skip = json_object();

	for (unsigned i = 0; i < BL_REJECT_SKIP_MAX; i++)
		json_object_set_new(skip, bl_reject_skip_name(i),
				    json_integer((json_int_t)r->skip[i]));
	json_object_set_new(o, "skipped", skip);
	return o;
}

/* Rate-limit and quota outcomes of this worker's packets. */
static json_t *meter_json(const struct bl_meter_stats *m)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rate_pass",
			 (json_int_t)m->rate_pass, "rate_drop", (json_int_t)m->rate_drop,
			 "quota_pass", (json_int_t)m->quota_pass, "quota_drop",
			 (json_int_t)m->quota_drop, "quota_reject", (json_int_t)m->quota_reject,
			 "quota_then_pass", (json_int_t)m->quota_then_pass, "quota_then_drop",
			 (json_int_t)m->quota_then_drop, "table_full", (json_int_t)m->table_full,
			 "no_subscriber", (json_int_t)m->no_subscriber);
}

static json_t *worker_json(const struct bl_stats_snapshot *s, unsigned w)
{
	const struct bl_worker_stats *ws = &s->w[w];
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx",
			      (json_int_t)ws->rx, "tx", (json_int_t)ws->tx, "handoff_out",
			      (json_int_t)ws->handoff_out, "handoff_in", (json_int_t)ws->handoff_in,
			      "handoff_drop", (json_int_t)ws->drop[BL_DROP_HANDOFF_FULL],
			      "untracked_pass", (json_int_t)ws->untracked_pass, "frag_followed",
			      (json_int_t)ws->frag_followed, "frag_released",
			      (json_int_t)ws->frag_released, "events_lost",
			      (json_int_t)ws->events_lost, "flows", (json_int_t)s->flows_live[w],
			      "frag_held", (json_int_t)s->frag_held[w]);
	json_t *np = json_object(), *fl = json_object(), *fr = json_object(), *st = json_object();

	for (unsigned c = 0; c < BL_NONIP_MAX; c++)
		json_object_set_new(np, bl_nonip_name(c), json_integer(ws->nonip_pass[c]));
	json_object_set_new(o, "nonip_pass", np);
	for (unsigned i = 0; i < BL_FLOW_NCOUNTERS; i++)
		json_object_set_new(fl, bl_flow_counter_names[i],
				    json_integer(bl_flow_counter_value(&s->flow[w], i)));
	json_object_set_new(o, "flow_table", fl);
	for (unsigned i = 0; i < BL_FRAG_NCOUNTERS; i++)
		json_object_set_new(fr, bl_frag_counter_names[i],
				    json_integer(bl_frag_counter_value(&s->frag[w], i)));
	json_object_set_new(o, "frag_table", fr);
	for (unsigned i = 0; i < BL_STAGE_MAX; i++)
		json_object_set_new(st, bl_stage_name(i),
				    json_pack("{s:I, s:I}", "cycles",
					      (json_int_t)ws->stage_cycles[i], "packets",
					      (json_int_t)ws->stage_pkts[i]));
	json_object_set_new(o, "stages", st);
	json_object_set_new(o, "replies", reject_json(&s->rej[w]));
	json_object_set_new(o, "meters", meter_json(&s->meter[w]));
	return o;
}

json_t *bl_stats_json(const struct bl_stats_snapshot *s)
{
	struct bl_stats_totals t;
	json_t *root, *workers, *drops, *rules;
	char name[64];

	bl_stats_totals(s, &t);
	root = json_object();
	workers = json_array();
	drops = json_object();
	if (!root || !workers || !drops) {
		json_decref(root);
		root = NULL;
		goto out_free;
	}
	json_object_set_new(root, "ports",
			    json_pack("{s:o, s:o}", "inside", port_json(&s->port[0]), "outside",
				      port_json(&s->port[1])));
	for (unsigned w = 0; w < s->n_workers; w++)
		json_array_append_new(workers, worker_json(s, w));
	for (unsigned r = 1; r < BL_DROP_MAX; r++)
		json_object_set_new(drops, bl_drop_name(r), json_integer(t.drop[r]));
	for (unsigned i = 0; i < BL_FRAG_TABLE_DROPS; i++) {
		frag_drop_name(i, name, sizeof(name));
		json_object_set_new(drops, name, json_integer(t.frag_drop[i]));
	}
	/* stage cycles are TSC cycles: readers turn them into ns with this */
	json_object_set_new(root, "tsc_hz", json_integer((json_int_t)rte_get_tsc_hz()));
	json_object_set(root, "workers", workers);
	json_object_set(root, "drops", drops);
	rules = json_object();
	for (uint32_t i = 0; rules && i < s->n_rules; i++)
		json_object_set_new(rules, s->rules[i].name,
				    json_pack("{s:I, s:I}", "packets",
					      (json_int_t)s->rules[i].packets, "bytes",
					      (json_int_t)s->rules[i].bytes));
	json_object_set_new(root, "rules", rules);
	json_object_set_new(root, "rules_settled", json_boolean(!s->rules_lag));
	json_object_set_new(root, "policy_generation", json_integer(s->policy_gen));
	json_object_set_new(root, "totals",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "rx", (json_int_t)t.rx,
				      "tx", (json_int_t)t.tx, "dropped", (json_int_t)t.dropped,
				      "held", (json_int_t)t.held, "in_rings",
				      (json_int_t)t.in_rings, "generated", (json_int_t)s->generated,
				      "balanced", t.balanced));
	json_object_set_new(root, "events",
			    json_pack("{s:I, s:I, s:I, s:I}", "written",
				      (json_int_t)s->events_written, "suppressed",
				      (json_int_t)s->events_suppressed, "lost",
				      (json_int_t)events_lost(s), "write_errors",
				      (json_int_t)s->event_write_errors));
	json_object_set_new(root, "meters",
			    json_pack("{s:I, s:I, s:I, s:I}", "slots", (json_int_t)s->meter_slots,
				      "reclaimed", (json_int_t)s->meter_reclaimed, "late_merged",
				      (json_int_t)s->meter_late_merged, "late_lost",
				      (json_int_t)s->meter_late_lost));
out_free:
	json_decref(drops);
	json_decref(workers);
	return root;
}

int bl_stats_write_json(const struct bl_stats_snapshot *s, const char *path)
{
	json_t *root = bl_stats_json(s);
	int rc = 0;

	if (!root)
		return -ENOMEM;
	if (json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS))
		rc = -EIO;
	json_decref(root);
	return rc;
}

void bl_stats_snapshot_release(struct bl_stats_snapshot *s)
{
	free(s->rules);
	s->rules = NULL;
	s->n_rules = 0;
}
