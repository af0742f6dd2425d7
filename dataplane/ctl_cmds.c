/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Read-only control commands: status, stats, flows. They run on the
 * control thread, which is also the only thread that publishes a policy,
 * so the published object can be read here without an RCU section.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "ctl_server.h"
#include "daemon.h"
#include "proto.h"

static const char *verdict_name(uint8_t v)
{
	return v == BL_RT_NONE ? "none" : bl_rt_action_name(v);
}

/* status {} -> {version, proto, uptime_s, generation, sha256, ports, workers, ...} */
static int cmd_status(struct bl_ctl_call *call, json_t **result)
{
	struct bl_daemon *d = call->d;
	const struct bl_ctl_config *cc = bl_ctl_config(call->srv);
	json_t *ports = json_array();
	const char *name = NULL;
	struct timespec now;
	char sha[65];
	uint32_t gen;

	bl_ctl_policy_current(d->ctl_pol, sha, &gen, &name);
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (unsigned p = 0; ports && p < 2; p++) {
		struct rte_eth_link link = { 0 };

		rte_eth_link_get_nowait(d->port[p].id, &link);
		json_array_append_new(ports,
				      json_pack("{s:s, s:s, s:b, s:I, s:i, s:i}", "side",
						p ? "outside" : "inside", "name", d->port[p].name,
						"up", link.link_status == RTE_ETH_LINK_UP,
						"speed_mbps", (json_int_t)link.link_speed, "rxq",
						d->port[p].n_rxq, "txq", d->port[p].n_txq));
	}
	*result = json_pack("{s:s, s:i, s:I, s:I, s:s, s:s?, s:o, s:i, s:I, s:I, s:s, s:I}",
			    "version", BL_VERSION, "proto", BL_PROTO_VERSION, "pid",
			    (json_int_t)getpid(), "uptime_s", (json_int_t)(now.tv_sec - d->started),
			    "sha256", sha, "policy", name, "ports", ports ? ports : json_array(),
			    "workers", d->n_workers, "generation", (json_int_t)gen, "max_line",
			    (json_int_t)cc->max_line, "socket", cc->socket, "max_upload",
			    (json_int_t)cc->max_upload);
	return 0;
}

/* stats {} -> the --stats-json object */
static int cmd_stats(struct bl_ctl_call *call, json_t **result)
{
	struct bl_stats_snapshot *s = malloc(sizeof(*s));

	if (!s)
		return -ENOMEM;
	bl_daemon_snapshot(call->d, s);
	*result = bl_stats_json(s);
	bl_stats_snapshot_release(s);
	free(s);
	return 0;
}

/* "10.0.0.0/8" -> family, bytes, length. */
static int parse_prefix(const char *s, uint8_t *family, uint8_t addr[16], unsigned *len)
{
	char buf[64], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = 4;
		*len = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = 6;
		*len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		char *end;
		unsigned long l = strtoul(slash + 1, &end, 10);

		if (*end || end == slash + 1 || l > *len)
			return -EINVAL;
		*len = (unsigned)l;
	}
	return 0;
}

static bool prefix_has(const uint8_t *p, unsigned len, const uint8_t *a)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(p, a, full))
		return false;
	return !rest || ((p[full] ^ a[full]) & (0xff00 >> rest) & 0xff) == 0;
}

struct flow_filter {
	bool prefix;
	uint8_t family, addr[16];
	unsigned len;
	long port; /* -1: any */
	const char *rule;
	int verdict; /* -1: any */
};

static const char *flow_rule(const struct bl_rt *rt, const struct bl_flow_entry *e)
{
	if (e->verdict == BL_RT_NONE || !rt || e->verdict_gen != rt->gen)
		return NULL;
	if (e->rule_id == BL_RT_RULE_DEFAULT)
		return "default";
	return e->rule_id < rt->nrules ? rt->rules[e->rule_id].name : NULL;
}

static bool flow_match(const struct flow_filter *f, const struct bl_flow_key *k,
		       const struct bl_flow_entry *e, const char *rule)
{
	if (f->prefix && (k->family != f->family || (!prefix_has(f->addr, f->len, k->addr[0]) &&
						     !prefix_has(f->addr, f->len, k->addr[1]))))
		return false;
	if (f->port >= 0 && k->port[0] != f->port && k->port[1] != f->port)
		return false;
	if (f->rule && (!rule || strcmp(rule, f->rule)))
		return false;
	if (f->verdict >= 0 && e->verdict != f->verdict)
		return false;
	return true;
}

static json_t *flow_json(unsigned worker, const struct bl_flow_key *k,
			 const struct bl_flow_entry *e, const char *rule, uint64_t now, uint64_t hz)
{
	unsigned s = bl_flow_init_side(e), r = !s;
	int af = k->family == 4 ? AF_INET : AF_INET6;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	inet_ntop(af, k->addr[s], src, sizeof(src));
	inet_ntop(af, k->addr[r], dst, sizeof(dst));
	return json_pack(
		"{s:i, s:i, s:i, s:s, s:i, s:s, s:i, s:i, s:s, s:s, s:s?, s:I, s:[I,I], s:[I,I], s:f}",
		"worker", worker, "family", k->family, "proto", k->proto, "src", src, "sport",
		k->port[s], "dst", dst, "dport", k->port[r], "vlan", k->vlan, "state",
		bl_flow_state_name(e->state), "verdict", verdict_name(e->verdict), "rule", rule,
		"generation", (json_int_t)e->verdict_gen, "packets", (json_int_t)e->pkts[0],
		(json_int_t)e->pkts[1], "bytes", (json_int_t)e->bytes[0], (json_int_t)e->bytes[1],
		"idle_s", now > e->last_tsc ? (double)(now - e->last_tsc) / (double)hz : 0.0);
}

/*
 * flows {prefix?, port?, rule?, verdict?, limit?, cursor?} -> one page.
 * Each worker's table is read in place (bl_flow_peek): the workers never
 * wait for this. The cursor is (worker << 32 | slot) of the next slot.
 */
static int cmd_flows(struct bl_ctl_call *call, json_t **result)
{
	struct bl_daemon *d = call->d;
	const struct bl_rt *rt = __atomic_load_n(&d->pub.cur, __ATOMIC_ACQUIRE);
	json_t *a = call->args, *v, *flows;
	struct flow_filter f = { .port = -1, .verdict = -1 };
	json_int_t limit = BL_PROTO_FLOWS_LIMIT, cursor = 0;
	uint64_t scanned = 0, skipped = 0, now = rte_rdtsc(), hz = rte_get_tsc_hz();
	unsigned w;
	uint32_t slot;

	if ((v = json_object_get(a, "prefix")) &&
	    (!json_is_string(v) || parse_prefix(json_string_value(v), &f.family, f.addr, &f.len)))
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "prefix: expected ADDRESS[/LEN]");
	f.prefix = v != NULL;
	if ((v = json_object_get(a, "port"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 65535)
			return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "port: expected 0..65535");
		f.port = (long)json_integer_value(v);
	}
	if ((v = json_object_get(a, "rule")) && !(f.rule = json_string_value(v)))
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "rule: expected a name");
	if ((v = json_object_get(a, "verdict"))) {
		const char *s = json_string_value(v);

		for (int i = 0; s && i < BL_RT_ACTION_MAX; i++)
			if (!strcmp(s, verdict_name((uint8_t)i)))
				f.verdict = i;
		if (f.verdict < 0)
			return bl_ctl_fail(
				call, BL_PROTO_E_BAD_REQUEST,
				"verdict: expected none, allow, drop, reject, rate-limit or quota");
	}
	if ((v = json_object_get(a, "limit")) &&
	    (!json_is_integer(v) || (limit = json_integer_value(v)) < 1 ||
	     limit > BL_PROTO_FLOWS_MAX))
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "limit: expected 1..%u",
				   BL_PROTO_FLOWS_MAX);
	if ((v = json_object_get(a, "cursor")) && !json_is_null(v) &&
	    (!json_is_integer(v) || (cursor = json_integer_value(v)) < 0))
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				   "cursor: expected the cursor of a reply");
	flows = json_array();
	if (!flows)
		return -ENOMEM;
	w = (unsigned)((uint64_t)cursor >> 32);
	slot = (uint32_t)cursor;
	for (; w < d->n_workers; w++, slot = 0) {
		struct bl_flow_key k;
		struct bl_flow_entry e;

		while (bl_flow_peek(d->w[w]->flows, &slot, &k, &e, &skipped) == 0) {
			const char *rule = flow_rule(rt, &e);

			scanned++;
			if (!flow_match(&f, &k, &e, rule))
				continue;
			json_array_append_new(flows, flow_json(w, &k, &e, rule, now, hz));
			if ((json_int_t)json_array_size(flows) == limit)
				goto out_page;
		}
	}
out_page:
	*result = json_pack("{s:o, s:o, s:I, s:I}", "flows", flows, "cursor",
			    w < d->n_workers ? json_integer((json_int_t)((uint64_t)w << 32 | slot))
					     : json_null(),
			    "scanned", (json_int_t)scanned, "skipped", (json_int_t)skipped);
	return 0;
}

int bl_ctl_cmds_register(struct bl_ctl *s)
{
	int rc;

	if ((rc = bl_ctl_register(s, "status", BL_CTL_READONLY, cmd_status, NULL)) ||
	    (rc = bl_ctl_register(s, "stats", BL_CTL_READONLY, cmd_stats, NULL)) ||
	    (rc = bl_ctl_register(s, "flows", BL_CTL_READONLY, cmd_flows, NULL)))
		return rc;
	return 0;
}
