/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus text from the stats object (see prom.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

/* One counter read from an object by key. */
struct metric {
	const char *key;  /* key in the JSON object */
	const char *name; /* metric name */
	const char *type; /* counter | gauge */
	const char *help;
};

static const struct metric port_metrics[] = {
	{ "rx", "brightline_rx_packets_total", "counter",
	  "Packets received by the port (driver count)." },
	{ "tx", "brightline_tx_packets_total", "counter",
	  "Packets sent by the port (driver count)." },
	{ "rx_bytes", "brightline_rx_bytes_total", "counter", "Bytes received by the port." },
	{ "tx_bytes", "brightline_tx_bytes_total", "counter", "Bytes sent by the port." },
	{ "dropped", "brightline_port_tx_errors_total", "counter",
	  "Packets the port failed to send (oerrors)." },
	{ "imissed", "brightline_rx_missed_total", "counter",
	  "Packets the port dropped for lack of RX descriptors." },
	{ "ierrors", "brightline_rx_errors_total", "counter",
	  "Erroneous packets received by the port." },
	{ "rx_nombuf", "brightline_rx_nombuf_total", "counter",
	  "RX mbuf allocation failures of the port." },
};

static const struct metric worker_metrics[] = {
	{ "rx", "brightline_worker_rx_packets_total", "counter",
	  "Packets a worker received from a port." },
	{ "tx", "brightline_worker_tx_packets_total", "counter",
	  "Packets a worker sent (accepted by the driver)." },
	{ "handoff_out", "brightline_worker_handoff_out_total", "counter",
	  "Packets a worker handed to another worker." },
	{ "handoff_in", "brightline_worker_handoff_in_total", "counter",
	  "Packets a worker took from another worker." },
	{ "handoff_drop", "brightline_worker_handoff_drops_total", "counter",
	  "Packets dropped because a handoff ring was full." },
	{ "untracked_pass", "brightline_worker_untracked_pass_total", "counter",
	  "Packets passed without a flow entry." },
	{ "frag_followed", "brightline_worker_frag_followed_total", "counter",
	  "Later fragments that followed their first fragment." },
	{ "frag_released", "brightline_worker_frag_released_total", "counter",
	  "Held fragments released by their first fragment." },
	{ "events_lost", "brightline_worker_events_lost_total", "counter",
	  "Events lost because the worker's event ring was full." },
	{ "flows", "brightline_worker_flows", "gauge", "Live flows in a worker's flow table." },
	{ "frag_held", "brightline_worker_frag_held", "gauge", "Fragments a worker holds." },
};

static const struct metric total_metrics[] = {
	{ "rx", "brightline_received_packets_total", "counter",
	  "Packets received by all workers." },
	{ "tx", "brightline_forwarded_packets_total", "counter",
	  "Packets forwarded by all workers." },
	{ "dropped", "brightline_dropped_packets_total", "counter",
	  "Packets dropped, every reason." },
	{ "generated", "brightline_generated_packets_total", "counter",
	  "Packets the box generated (reject replies)." },
	{ "held", "brightline_held_packets", "gauge",
	  "Fragments held, waiting for their first fragment." },
	{ "in_rings", "brightline_in_rings_packets", "gauge",
	  "Packets in handoff rings between workers." },
	{ "balanced", "brightline_accounting_balanced", "gauge",
	  "1 when rx = tx + dropped + held + in_rings." },
};

static const struct metric event_metrics[] = {
	{ "written", "brightline_events_written_total", "counter",
	  "EVE records written to the event log." },
	{ "suppressed", "brightline_events_suppressed_total", "counter",
	  "Events suppressed by the per-rule event rate limit." },
	{ "lost", "brightline_events_lost_total", "counter",
	  "Events lost because a worker's event ring was full." },
	{ "write_errors", "brightline_event_write_errors_total", "counter",
	  "Event log writes or reopens that failed." },
};

static const struct metric meter_metrics[] = {
	{ "slots", "brightline_meter_slots", "gauge",
	  "Live (subscriber, rule) slots of rate-limit and quota meters." },
	{ "reclaimed", "brightline_meter_slots_reclaimed_total", "counter",
	  "Idle meter slots freed for new subscribers." },
	{ "late_merged", "brightline_meter_late_charges_merged_total", "counter",
	  "Reclaimed meter slots charged after their idle check, folded into the subscriber's "
	  "current slot." },
	{ "late_lost", "brightline_meter_late_charges_lost_total", "counter",
	  "Reclaimed meter slots charged after their idle check whose charges found the table "
	  "full." },
};

void bl_prom_escape(const char *s, FILE *out)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* A metric name part from a JSON key: [a-zA-Z0-9_], anything else '_'. */
static void name_part(const char *s, FILE *out)
{
	for (; *s; s++)
		fputc((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				      (*s >= '0' && *s <= '9')
			      ? *s
			      : '_',
		      out);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Write the number of `v` (integer, real or boolean); false when it is none. */
static bool value(FILE *out, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, " %lld\n", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(out, " %.17g\n", json_real_value(v));
	else if (json_is_boolean(v))
		fprintf(out, " %d\n", json_is_true(v) ? 1 : 0);
	else
		return false;
	return true;
}

/*
 * One sample: name{l1="v1",l2="v2"} value. Labels come as NULL-terminated
 * name/value pairs; nothing is written when `v` is not a number.
 */
static void sample(FILE *out, const char *name, const char *const *labels, const json_t *v)
{
	if (!json_is_number(v) && !json_is_boolean(v))
		return;
	fputs(name, out);
	if (labels && labels[0]) {
		fputc('{', out);
		for (unsigned i = 0; labels[i]; i += 2) {
			fprintf(out, "%s%s=\"", i ? "," : "", labels[i]);
			bl_prom_escape(labels[i + 1], out);
			fputc('"', out);
		}
		fputc('}', out);
	}
	value(out, v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of object `o`, sorted (stable output); NULL when empty. Free the array. */
static const char **sorted_keys(const json_t *o, size_t *n)
{
	const char **k, *key;
	json_t *v;
	size_t i = 0;

	*n = json_is_object(o) ? json_object_size(o) : 0;
	if (!*n)
		return NULL;
	k = malloc(*n * sizeof(*k));
	if (!k) {
		*n = 0;
		return NULL;
	}
	json_object_foreach((json_t *)o, key, v) k[i++] = key;
	qsort(k, *n, sizeof(*k), cmp_str);
	return k;
}

static void ports(const json_t *stats, FILE *out)
{
	static const char *const names[2] = { "inside", "outside" };
	const json_t *p = json_object_get(stats, "ports");

	if (!json_is_object(p))
		return;
	family(out, "brightline_port_info", "gauge", "The device behind each port.");
	for (unsigned s = 0; s < 2; s++) {
		const json_t *dev = json_object_get(json_object_get(p, names[s]), "name");
		const char *l[] = { "port", names[s], "device",
				    json_is_string(dev) ? json_string_value(dev) : "", NULL };
		json_t *one = json_integer(1);

		if (json_object_get(p, names[s]))
			sample(out, "brightline_port_info", l, one);
		json_decref(one);
	}
	for (size_t m = 0; m < sizeof(port_metrics) / sizeof(port_metrics[0]); m++) {
		family(out, port_metrics[m].name, port_metrics[m].type, port_metrics[m].help);
		for (unsigned s = 0; s < 2; s++) {
			const char *l[] = { "port", names[s], NULL };

			sample(out, port_metrics[m].name, l,
			       json_object_get(json_object_get(p, names[s]), port_metrics[m].key));
		}
	}
}

/* Per-worker maps of counters: name prefix + key + "_total", label worker. */
static void worker_maps(const json_t *ws, const char *map, const char *prefix, const char *what,
			FILE *out)
{
	size_t nk;
	const char **keys = sorted_keys(json_object_get(json_array_get(ws, 0), map), &nk);
	char name[256], help[256], id[24];
	FILE *mem;

	for (size_t k = 0; k < nk; k++) {
		mem = fmemopen(name, sizeof(name), "w");
		if (!mem)
			break;
		fputs(prefix, mem);
		name_part(keys[k], mem);
		fputs("_total", mem);
		fclose(mem);
		snprintf(help, sizeof(help), "%s counter %s, per worker.", what, keys[k]);
		family(out, name, "counter", help);
		for (size_t w = 0; w < json_array_size(ws); w++) {
			const char *l[] = { "worker", id, NULL };

			snprintf(id, sizeof(id), "%zu", w);
			sample(out, name, l,
			       json_object_get(json_object_get(json_array_get(ws, w), map),
					       keys[k]));
		}
	}
	free(keys);
}

static void workers(const json_t *stats, FILE *out)
{
	const json_t *ws = json_object_get(stats, "workers");
	const char *keys_stage[] = { "cycles", "packets" };
	const char **keys;
	size_t nk;
	char id[24];

	if (!json_is_array(ws) || !json_array_size(ws))
		return;
	for (size_t m = 0; m < sizeof(worker_metrics) / sizeof(worker_metrics[0]); m++) {
		family(out, worker_metrics[m].name, worker_metrics[m].type, worker_metrics[m].help);
		for (size_t w = 0; w < json_array_size(ws); w++) {
			const char *l[] = { "worker", id, NULL };

			snprintf(id, sizeof(id), "%zu", w);
			sample(out, worker_metrics[m].name, l,
			       json_object_get(json_array_get(ws, w), worker_metrics[m].key));
		}
	}
	keys = sorted_keys(json_object_get(json_array_get(ws, 0), "nonip_pass"), &nk);
	if (nk)
		family(out, "brightline_nonip_passed_packets_total", "counter",
		       "Non-IP frames passed by their class's default, per worker.");
	for (size_t w = 0; w < json_array_size(ws); w++)
		for (size_t k = 0; k < nk; k++) {
			const char *l[] = { "worker", id, "class", keys[k], NULL };

			snprintf(id, sizeof(id), "%zu", w);
			sample(out, "brightline_nonip_passed_packets_total", l,
			       json_object_get(json_object_get(json_array_get(ws, w), "nonip_pass"),
					       keys[k]));
		}
	free(keys);
	worker_maps(ws, "flow_table", "brightline_flow_table_", "Flow table", out);
	worker_maps(ws, "frag_table", "brightline_frag_table_", "Fragment table", out);
	keys = sorted_keys(json_object_get(json_array_get(ws, 0), "stages"), &nk);
	for (unsigned c = 0; nk && c < 2; c++) {
		char name[64];

		snprintf(name, sizeof(name), "brightline_stage_%s_total", keys_stage[c]);
		family(out, name, "counter",
		       c ? "Packets timed per stage (--stage-timing)."
			 : "TSC cycles spent per stage (--stage-timing).");
		for (size_t w = 0; w < json_array_size(ws); w++)
			for (size_t k = 0; k < nk; k++) {
				const char *l[] = { "worker", id, "stage", keys[k], NULL };
				const json_t *st = json_object_get(
					json_object_get(json_array_get(ws, w), "stages"), keys[k]);

				snprintf(id, sizeof(id), "%zu", w);
				sample(out, name, l, json_object_get(st, keys_stage[c]));
			}
	}
	free(keys);
}

/* A map {label value: number} as one family. */
static void labelled(const json_t *o, const char *name, const char *label, const char *help,
		     FILE *out)
{
	size_t nk;
	const char **keys = sorted_keys(o, &nk);

	if (!nk)
		return;
	family(out, name, "counter", help);
	for (size_t k = 0; k < nk; k++) {
		const char *l[] = { label, keys[k], NULL };

		sample(out, name, l, json_object_get(o, keys[k]));
	}
	free(keys);
}

static void rules(const json_t *stats, FILE *out)
{
	static const char *const what[2] = { "packets", "bytes" };
	const json_t *r = json_object_get(stats, "rules");
	size_t nk;
	const char **keys = sorted_keys(r, &nk);

	for (unsigned c = 0; nk && c < 2; c++) {
		char name[64];

		snprintf(name, sizeof(name), "brightline_rule_%s_total", what[c]);
		family(out, name, "counter",
		       c ? "Bytes of the packets each policy rule decided or logged."
			 : "Packets each policy rule decided or logged.");
		for (size_t k = 0; k < nk; k++) {
			const char *l[] = { "rule", keys[k], NULL };

			sample(out, name, l, json_object_get(json_object_get(r, keys[k]), what[c]));
		}
	}
	free(keys);
}

/* Plain samples from an object, no labels. */
static void plain(const json_t *o, const struct metric *m, size_t n, FILE *out)
{
	if (!json_is_object(o))
		return;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(o, m[i].key);

		if (!json_is_number(v) && !json_is_boolean(v))
			continue;
		family(out, m[i].name, m[i].type, m[i].help);
		sample(out, m[i].name, NULL, v);
	}
}

int bl_prom_write(const json_t *stats, FILE *out)
{
	static const struct metric top[] = {
		{ "policy_generation", "brightline_policy_generation", "gauge",
		  "Generation of the published policy." },
		{ "tsc_hz", "brightline_tsc_hz", "gauge",
		  "TSC frequency: stage cycles per second." },
		{ "rules_settled", "brightline_rules_settled", "gauge",
		  "1 when every worker settled its flows into the rule counters for this read." },
	};

	if (!json_is_object(stats))
		return -EINVAL;
	ports(stats, out);
	workers(stats, out);
	labelled(json_object_get(stats, "drops"), "brightline_drops_total", "reason",
		 "Packets dropped, by reason.", out);
	rules(stats, out);
	plain(json_object_get(stats, "totals"), total_metrics,
	      sizeof(total_metrics) / sizeof(total_metrics[0]), out);
	plain(json_object_get(stats, "events"), event_metrics,
	      sizeof(event_metrics) / sizeof(event_metrics[0]), out);
	plain(json_object_get(stats, "meters"), meter_metrics,
	      sizeof(meter_metrics) / sizeof(meter_metrics[0]), out);
	plain(stats, top, sizeof(top) / sizeof(top[0]), out);
	return ferror(out) ? -EIO : 0;
}
