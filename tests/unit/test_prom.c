/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text from the stats object (control/prom.c): exact samples with
 * their labels, HELP and TYPE once per family before its samples, samples
 * of a family contiguous, label values escaped, metric names sanitized,
 * missing keys tolerated, a non-object refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "prom.h"

/* A stats object shaped as dataplane/stats.c writes it (abridged). */
static const char *const STATS =
	"{\"ports\": {\"inside\": {\"name\": \"net_ring0\", \"rx\": 5, \"tx\": 4, \"rx_bytes\": 500,"
	"  \"tx_bytes\": 400, \"dropped\": 0, \"imissed\": 1, \"ierrors\": 0, \"rx_nombuf\": 0},"
	" \"outside\": {\"name\": \"net_af_packet1,iface=\\\"x\\\"\", \"rx\": 7, \"tx\": 3}},"
	" \"workers\": [{\"rx\": 8, \"tx\": 6, \"flows\": 2, \"events_lost\": 0,"
	"   \"nonip_pass\": {\"arp\": 1, \"lldp\": 0},"
	"   \"flow_table\": {\"lookups\": 10, \"odd-name.x\": 3},"
	"   \"frag_table\": {\"held\": 0},"
	"   \"stages\": {\"parse\": {\"cycles\": 100, \"packets\": 8}}},"
	"  {\"rx\": 4, \"tx\": 1, \"flows\": 1, \"events_lost\": 2,"
	"   \"nonip_pass\": {\"arp\": 0, \"lldp\": 0},"
	"   \"flow_table\": {\"lookups\": 4, \"odd-name.x\": 0},"
	"   \"frag_table\": {\"held\": 1},"
	"   \"stages\": {\"parse\": {\"cycles\": 50, \"packets\": 4}}}],"
	" \"drops\": {\"policy_drop\": 3, \"trunc_ipv4\": 0, \"frag_drop_timeout\": 2},"
	" \"rules\": {\"smtp-drop\": {\"packets\": 3, \"bytes\": 180}, \"default\": {\"packets\": 9, \"bytes\": 900},"
	"   \"we\\\"ird\\\\na\\nme\": {\"packets\": 1, \"bytes\": 2}},"
	" \"policy_generation\": 4, \"tsc_hz\": 2000000000, \"rules_settled\": true,"
	" \"totals\": {\"rx\": 12, \"tx\": 7, \"dropped\": 5, \"held\": 0, \"in_rings\": 0,"
	"   \"generated\": 1, \"balanced\": true},"
	" \"events\": {\"written\": 6, \"suppressed\": 2, \"lost\": 2, \"write_errors\": 0}}";

/* Run bl_prom_write on `text`; returns the output (free it) and its rc. */
static char *prom_of(const char *text, int *rc)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(o, "bad fixture: %s", jerr.text);
	cr_assert_not_null(f);
	*rc = bl_prom_write(o, f);
	fclose(f);
	json_decref(o);
	return buf;
}

/* True when `line` is one whole line of `out`. */
static bool has_line(const char *out, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = out; (p = strstr(p, line)); p++)
		if ((p == out || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

Test(prom, samples_with_labels)
{
	static const char *const want[] = {
		"brightline_rx_packets_total{port=\"inside\"} 5",
		"brightline_rx_packets_total{port=\"outside\"} 7",
		"brightline_tx_bytes_total{port=\"inside\"} 400",
		"brightline_rx_missed_total{port=\"inside\"} 1",
		"brightline_port_info{port=\"inside\",device=\"net_ring0\"} 1",
		"brightline_worker_rx_packets_total{worker=\"0\"} 8",
		"brightline_worker_rx_packets_total{worker=\"1\"} 4",
		"brightline_worker_flows{worker=\"1\"} 1",
		"brightline_worker_events_lost_total{worker=\"1\"} 2",
		"brightline_nonip_passed_packets_total{worker=\"0\",class=\"arp\"} 1",
		"brightline_flow_table_lookups_total{worker=\"0\"} 10",
		"brightline_frag_table_held_total{worker=\"1\"} 1",
		"brightline_stage_cycles_total{worker=\"0\",stage=\"parse\"} 100",
		"brightline_stage_packets_total{worker=\"1\",stage=\"parse\"} 4",
		"brightline_drops_total{reason=\"policy_drop\"} 3",
		"brightline_drops_total{reason=\"trunc_ipv4\"} 0",
		"brightline_drops_total{reason=\"frag_drop_timeout\"} 2",
		"brightline_rule_packets_total{rule=\"smtp-drop\"} 3",
		"brightline_rule_bytes_total{rule=\"smtp-drop\"} 180",
		"brightline_rule_packets_total{rule=\"default\"} 9",
		"brightline_received_packets_total 12",
		"brightline_dropped_packets_total 5",
		"brightline_generated_packets_total 1",
		"brightline_accounting_balanced 1",
		"brightline_events_written_total 6",
		"brightline_events_suppressed_total 2",
		"brightline_events_lost_total 2",
		"brightline_policy_generation 4",
		"brightline_tsc_hz 2000000000",
		"brightline_rules_settled 1",
		"# TYPE brightline_rx_packets_total counter",
		"# TYPE brightline_worker_flows gauge",
		"# TYPE brightline_policy_generation gauge",
		"# HELP brightline_drops_total Packets dropped, by reason.",
	};
	int rc;
	char *out = prom_of(STATS, &rc);

	cr_assert_eq(rc, 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(has_line(out, want[i]), "missing line: %s\n--- output:\n%s", want[i],
			  out);
	free(out);
}

Test(prom, label_values_escaped_and_names_sanitized)
{
	int rc;
	char *out = prom_of(STATS, &rc);

	cr_assert_eq(rc, 0);
	/* rule name we"ird\na<newline>me: quote, backslash and newline escaped */
	cr_expect(has_line(out, "brightline_rule_packets_total{rule=\"we\\\"ird\\\\na\\nme\"} 1"),
		  "%s", out);
	cr_expect(
		has_line(
			out,
			"brightline_port_info{port=\"outside\",device=\"net_af_packet1,iface=\\\"x\\\"\"} 1"),
		"%s", out);
	/* a counter key that is not a metric name part becomes one */
	cr_expect(has_line(out, "brightline_flow_table_odd_name_x_total{worker=\"0\"} 3"), "%s",
		  out);
	free(out);
}

/* The metric name of a sample line. */
static void name_of(const char *line, char *name, size_t len)
{
	size_t n = strcspn(line, "{ ");

	snprintf(name, len, "%.*s", (int)n, line);
}

Test(prom, families_well_formed)
{
	int rc;
	char *out = prom_of(STATS, &rc), *save = NULL, *line;
	char seen[256][128], cur[128] = "", typed[128] = "", helped[128] = "";
	unsigned nseen = 0, samples = 0;

	cr_assert_eq(rc, 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (!strncmp(line, "# HELP ", 7)) {
			name_of(line + 7, helped, sizeof(helped));
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			name_of(line + 7, typed, sizeof(typed));
			cr_expect_str_eq(typed, helped, "TYPE without HELP just before: %s", line);
			cr_expect(strstr(line, " counter") || strstr(line, " gauge"), "%s", line);
			for (unsigned i = 0; i < nseen; i++)
				cr_expect_str_neq(seen[i], typed, "family declared twice: %s",
						  typed);
			cr_assert_lt(nseen, 256u);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", typed);
			snprintf(cur, sizeof(cur), "%s", typed);
			continue;
		}
		cr_expect_neq(line[0], '#', "unknown comment: %s", line);
		name_of(line, name, sizeof(name));
		/* every sample belongs to the family declared last: contiguous */
		cr_expect_str_eq(name, cur, "sample outside its family: %s", line);
		if (strstr(name, "_total"))
			cr_expect(!strcmp(name + strlen(name) - 6, "_total"), "%s", name);
		samples++;
	}
	cr_expect_gt(samples, 50u);
	free(out);
}

Test(prom, missing_keys_and_bad_input)
{
	int rc;
	char *out = prom_of("{\"totals\": {\"rx\": 1}, \"workers\": [], \"rules\": {}}", &rc);
	json_t *arr = json_array();
	FILE *f = fopen("/dev/null", "w");

	cr_assert_eq(rc, 0);
	cr_expect_str_eq(
		out, "# HELP brightline_received_packets_total Packets received by all workers.\n"
		     "# TYPE brightline_received_packets_total counter\n"
		     "brightline_received_packets_total 1\n");
	free(out);
	cr_expect_eq(bl_prom_write(arr, f), -EINVAL);
	cr_expect_eq(bl_prom_write(NULL, f), -EINVAL);
	fclose(f);
	json_decref(arr);
}
