/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy runtime (dataplane/policy_rt.h): policy text -> compiled
 * object -> packets -> expected rule, action and log rule; longest-prefix
 * list membership against a brute-force oracle; compile errors; and the RCU
 * publication (the old object is freed only after the worker reported a
 * quiescent state).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <rte_common.h>
#include <rte_eal.h>
#include <rte_rcu_qsbr.h>

#include "policy_rt.h"
#include "eal_down.h"

static void eal_up(void)
{
	char *argv[] = { "test_policy_rt",
			 "--no-huge",
			 "--no-shconf",
			 "--no-pci",
			 "--no-telemetry",
			 "--file-prefix=bl-test-policy-rt",
			 "--log-level=error",
			 "-m",
			 "512",
			 "-l",
			 "0",
			 NULL };

	cr_assert_geq(rte_eal_init(RTE_DIM(argv) - 1, argv), 0, "rte_eal_init failed");
}

static void eal_down(void)
{
	bl_test_eal_cleanup();
}

TestSuite(policy_rt, .init = eal_up, .fini = eal_down, .timeout = 120);

static struct bl_rt *compile_text(const char *text, struct bl_policy_err *err)
{
	struct bl_policy *p;
	struct bl_rt *rt;

	memset(err, 0, sizeof(*err));
	p = bl_policy_load_text("test.yaml", text, strlen(text), NULL, err);
	cr_assert_not_null(p, "policy refused: %s", err->ndiags ? err->diag[0].message : "?");
	rt = bl_rt_build(p, "test.yaml", BL_RT_DROP, 7, NULL, NULL, err);
	bl_policy_free(p);
	return rt;
}

static const char *const policies[] = {
	/* 0: directions, ports, lists with nested prefixes, VLAN, IPv6, log */
	"version: 1\n"
	"lists:\n"
	"  a: {type: prefixes, entries: [10.0.0.0/8]}\n"
	"  b: {type: prefixes, entries: [10.1.0.0/16, \"2001:db8:1::/48\"]}\n"
	"  c: {type: prefixes, entries: [10.1.2.0/24, \"2001:db8::/32\"]}\n"
	"rules:\n"
	"  - name: dns-log\n"
	"    match: {proto: udp, dport: 53}\n"
	"    action: log\n"
	"  - name: web-out\n"
	"    direction: outbound\n"
	"    match: {dst: 192.0.2.0/24, proto: tcp, dport: [80, 443, \"8000-8099\"]}\n"
	"    action: allow\n"
	"  - name: ssh-in\n"
	"    direction: inbound\n"
	"    match: {proto: tcp, dport: 22}\n"
	"    action: reject\n"
	"  - name: both-ab\n"
	"    match: {src: a, dst: b}\n"
	"    action: drop\n"
	"  - name: only-c-src\n"
	"    match: {src: c}\n"
	"    action: {rate-limit: {rate: 5Mbit, burst: 2MB}}\n"
	"  - name: vlan30\n"
	"    match: {vlan: 30}\n"
	"    action: {quota: {bytes: 1GB, period: {rolling: 24h}, then: drop}}\n"
	"  - name: v6-list\n"
	"    match: {dst: c, proto: udp, sport: \"1000-2000\"}\n"
	"    action: drop\n"
	"  - name: dns-allow\n"
	"    match: {proto: udp, dport: 53}\n"
	"    action: allow\n"
	"  - name: low-ports-in\n"
	"    direction: inbound\n"
	"    match: {proto: [tcp, udp], dport: \"0-1023\"}\n"
	"    action: drop\n"
	"  - name: icmp\n"
	"    match: {proto: [icmp, icmpv6]}\n"
	"    action: allow\n"
	"default: drop\n",
	/* 1: default allow, a log rule that is the only match, an L7 rule */
	"version: 1\n"
	"lists:\n"
	"  names: {type: domains, entries: [example.com]}\n"
	"rules:\n"
	"  - name: names\n"
	"    match: {domain: names}\n"
	"    action: drop\n"
	"  - name: log-udp\n"
	"    match: {proto: udp}\n"
	"    action: log\n"
	"  - name: drop-9\n"
	"    match: {proto: udp, dport: 9}\n"
	"    action: drop\n"
	"default: allow\n",
};

struct rt_case {
	unsigned policy;
	uint8_t family, proto;
	const char *src, *dst;
	uint16_t sport, dport; /* ports: 0/0 with proto icmp means no ports */
	uint16_t vlan;	       /* 0: untagged */
	uint8_t inbound, swap;
	const char *rule; /* expected rule name, or "default" */
	uint8_t action;
	const char *log; /* expected log rule, or NULL */
};

static void make_l3(const struct rt_case *c, struct bl_l3 *l3)
{
	memset(l3, 0, sizeof(*l3));
	l3->family = c->family;
	l3->proto = c->proto;
	cr_assert_eq(inet_pton(c->family == 4 ? AF_INET : AF_INET6, c->src, l3->src), 1);
	cr_assert_eq(inet_pton(c->family == 4 ? AF_INET : AF_INET6, c->dst, l3->dst), 1);
	if (c->proto == 6 || c->proto == 17 || c->proto == 132) {
		l3->flags = BL_L3_HAS_PORTS;
		l3->sport = c->sport;
		l3->dport = c->dport;
	} else {
		l3->sport = c->sport; /* ICMP echo id: not a port for the policy */
	}
}

static const struct rt_case lookup_cases[] = {
	/* log goes on: the DNS query is logged by dns-log, allowed by dns-allow */
	{ 0, 4, 17, "10.9.9.9", "8.8.8.8", 5000, 53, 0, 0, 0, "dns-allow", BL_RT_ALLOW, "dns-log" },
	/* port range and direction */
	{ 0, 4, 6, "10.0.0.1", "192.0.2.7", 40000, 8050, 0, 0, 0, "web-out", BL_RT_ALLOW, NULL },
	{ 0, 4, 6, "10.0.0.1", "192.0.2.7", 40000, 443, 0, 0, 0, "web-out", BL_RT_ALLOW, NULL },
	{ 0, 4, 6, "10.0.0.1", "192.0.2.7", 40000, 8100, 0, 0, 0, "default", BL_RT_DROP, NULL },
	{ 0, 4, 6, "10.0.0.1", "192.0.2.7", 40000, 8050, 0, 1, 0, "default", BL_RT_DROP, NULL },
	/* a reply judged as its flow's initiator (swap): the outbound web flow */
	{ 0, 4, 6, "192.0.2.7", "10.0.0.1", 8050, 40000, 0, 1, 1, "web-out", BL_RT_ALLOW, NULL },
	{ 0, 4, 6, "203.0.113.1", "10.0.0.5", 5555, 22, 0, 1, 0, "ssh-in", BL_RT_REJECT, NULL },
	{ 0, 4, 6, "203.0.113.1", "10.0.0.5", 5555, 22, 0, 0, 0, "default", BL_RT_DROP, NULL },
	/* longest-prefix membership: 10.1.2.9 is in c (/24) AND b (/16) AND a (/8) */
	{ 0, 4, 17, "10.200.0.1", "10.1.2.9", 7, 9999, 0, 0, 0, "both-ab", BL_RT_DROP, NULL },
	{ 0, 4, 17, "10.200.0.1", "10.2.0.1", 7, 9999, 0, 0, 0, "default", BL_RT_DROP, NULL },
	/* first match wins: src in a, b and c, dst in b -> both-ab, not only-c-src */
	{ 0, 4, 17, "10.1.2.7", "10.1.0.1", 1, 2, 0, 0, 0, "both-ab", BL_RT_DROP, NULL },
	{ 0, 4, 17, "10.1.2.7", "172.16.0.1", 1, 2, 0, 0, 0, "only-c-src", BL_RT_RATE_LIMIT, NULL },
	{ 0, 4, 17, "10.1.3.7", "172.16.0.1", 1, 2, 0, 0, 0, "default", BL_RT_DROP, NULL },
	/* VLAN */
	{ 0, 4, 6, "172.16.0.1", "172.16.0.2", 1, 1234, 30, 0, 0, "vlan30", BL_RT_QUOTA, NULL },
	{ 0, 4, 6, "172.16.0.1", "172.16.0.2", 1, 1234, 31, 0, 0, "default", BL_RT_DROP, NULL },
	{ 0, 4, 6, "172.16.0.1", "172.16.0.2", 1, 1234, 0, 0, 0, "default", BL_RT_DROP, NULL },
	/* IPv6: list c holds 2001:db8::/32, b 2001:db8:1::/48; a has no IPv6 */
	{ 0, 6, 17, "2001:db9:5::1", "2001:db8:1::1", 1500, 7, 0, 0, 0, "v6-list", BL_RT_DROP,
	  NULL },
	{ 0, 6, 17, "2001:db9:5::1", "2001:db8:1::1", 2500, 7, 0, 0, 0, "default", BL_RT_DROP,
	  NULL },
	{ 0, 6, 17, "2001:db9:1::5", "2001:4860::8888", 999, 53, 0, 0, 0, "dns-allow", BL_RT_ALLOW,
	  "dns-log" },
	{ 0, 6, 17, "2001:db8:1::5", "2001:db8:2::1", 1000, 7, 0, 0, 0, "only-c-src",
	  BL_RT_RATE_LIMIT, NULL },
	/* a port match never matches a packet without ports */
	{ 0, 4, 1, "203.0.113.1", "10.0.0.5", 77, 0, 0, 1, 0, "icmp", BL_RT_ALLOW, NULL },
	{ 0, 4, 17, "203.0.113.1", "10.0.0.5", 77, 123, 0, 1, 0, "low-ports-in", BL_RT_DROP, NULL },
	{ 0, 6, 58, "2001:db9:9::1", "2001:4860::1", 0, 0, 0, 0, 0, "icmp", BL_RT_ALLOW, NULL },
	/* policy 1: a log rule that matches alone; L7 rules match nothing yet */
	{ 1, 4, 17, "10.0.0.1", "10.0.0.2", 1, 2, 0, 0, 0, "default", BL_RT_ALLOW, "log-udp" },
	{ 1, 4, 17, "10.0.0.1", "10.0.0.2", 1, 9, 0, 0, 0, "drop-9", BL_RT_DROP, "log-udp" },
	{ 1, 4, 6, "10.0.0.1", "10.0.0.2", 1, 9, 0, 0, 0, "default", BL_RT_ALLOW, NULL },
	{ 1, 6, 6, "::1", "::2", 1, 9, 0, 0, 0, "default", BL_RT_ALLOW, NULL },
};

/* Criterion passes parameters by value to a fresh process: an index. */
ParameterizedTestParameters(policy_rt, lookup)
{
	static unsigned idx[RTE_DIM(lookup_cases)];

	for (unsigned i = 0; i < RTE_DIM(idx); i++)
		idx[i] = i;
	return cr_make_param_array(unsigned, idx, RTE_DIM(idx));
}

ParameterizedTest(unsigned *ci, policy_rt, lookup)
{
	const struct rt_case *c = &lookup_cases[*ci];
	struct bl_policy_err err;
	struct bl_rt *rt = compile_text(policies[c->policy], &err);
	struct bl_l3 l3;
	struct bl_rt_query q;
	struct bl_rt_result r;

	cr_assert_not_null(rt, "compile failed: %s", err.ndiags ? err.diag[0].message : "?");
	make_l3(c, &l3);
	q = (struct bl_rt_query){ .l3 = &l3,
				  .vlan = c->vlan ? c->vlan : BL_RT_NO_VLAN,
				  .inbound = c->inbound,
				  .swap = c->swap };
	bl_rt_classify_burst(rt, &q, 1, &r);
	cr_expect_eq(r.gen, 7);
	cr_expect_str_eq(r.rule == BL_RT_RULE_DEFAULT ? "default" : rt->rules[r.rule].name, c->rule,
			 "%s -> %s: rule %s, want %s", c->src, c->dst,
			 r.rule == BL_RT_RULE_DEFAULT ? "default" : rt->rules[r.rule].name,
			 c->rule);
	cr_expect_eq(r.action, c->action, "%s -> %s: action %s, want %s", c->src, c->dst,
		     bl_rt_action_name(r.action), bl_rt_action_name(c->action));
	cr_expect_str_eq(r.log_rule == BL_RT_RULE_NONE ? "-" : rt->rules[r.log_rule].name,
			 c->log ? c->log : "-", "%s -> %s: log rule", c->src, c->dst);
	bl_rt_free(rt);
}

/* A whole burst of mixed families in one call gives each packet its own answer. */
Test(policy_rt, burst_mixed_families)
{
	struct bl_policy_err err;
	struct bl_rt *rt = compile_text(policies[0], &err);
	const struct rt_case *cases = lookup_cases;
	size_t ncases = RTE_DIM(lookup_cases);
	struct bl_l3 l3[64];
	struct bl_rt_query q[64];
	struct bl_rt_result r[64];
	unsigned n = 0;

	for (size_t i = 0; i < ncases && n < 64; i++) {
		if (cases[i].policy)
			continue;
		make_l3(&cases[i], &l3[n]);
		q[n] = (struct bl_rt_query){ .l3 = &l3[n],
					     .vlan = cases[i].vlan ? cases[i].vlan : BL_RT_NO_VLAN,
					     .inbound = cases[i].inbound,
					     .swap = cases[i].swap };
		n++;
	}
	cr_assert_gt(n, 10);
	bl_rt_classify_burst(rt, q, n, r);
	for (size_t i = 0, k = 0; i < ncases && k < n; i++) {
		if (cases[i].policy)
			continue;
		cr_expect_eq(r[k].action, cases[i].action, "burst packet %zu", k);
		k++;
	}
	bl_rt_free(rt);
}

/* ---- longest-prefix list membership against a brute-force oracle ---- */

#define NL 4   /* lists */
#define NP 300 /* prefixes per list */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

struct p4 {
	uint32_t addr;
	unsigned len;
};

static bool in4(const struct p4 *p, uint32_t a)
{
	return p->len == 0 || ((a ^ p->addr) >> (32 - p->len)) == 0;
}

/*
 * Four lists of random, overlapping prefixes (lengths 8 to 32, all inside
 * 10.0.0.0/8 so they nest), one rule "dst in list k" each: the first rule
 * whose list holds the address must decide, whatever the longest prefix
 * of the union says.
 */
Test(policy_rt, list_membership_oracle)
{
	static struct p4 lists[NL][NP];
	size_t cap = 1 << 20, off = 0;
	char *text = malloc(cap);
	struct bl_policy_err err;
	struct bl_rt *rt;

	cr_assert_not_null(text);
	off += snprintf(text + off, cap - off, "version: 1\nlists:\n");
	for (unsigned l = 0; l < NL; l++) {
		off += snprintf(text + off, cap - off, "  l%u: {type: prefixes, entries: [", l);
		for (unsigned i = 0; i < NP; i++) {
			unsigned len = 12 + rnd() % 21;
			uint32_t a = (10u << 24) |
				     (rnd() & 0x00ffffff & (l % 2 ? 0x00ff0fff : 0x00ffffff));

			a &= len == 32 ? ~0u : ~(~0u >> len);
			lists[l][i] = (struct p4){ a, len };
			off += snprintf(text + off, cap - off, "%s%u.%u.%u.%u/%u", i ? ", " : "",
					a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, len);
		}
		off += snprintf(text + off, cap - off, "]}\n");
	}
	off += snprintf(text + off, cap - off, "rules:\n");
	for (unsigned l = 0; l < NL; l++)
		off += snprintf(text + off, cap - off,
				"  - name: r%u\n    match: {dst: l%u}\n    action: %s\n", l, l,
				l % 2 ? "drop" : "allow");
	snprintf(text + off, cap - off, "default: reject\n");
	rt = compile_text(text, &err);
	cr_assert_not_null(rt, "compile failed: %s", err.ndiags ? err.diag[0].message : "?");
	for (unsigned t = 0; t < 20000; t++) {
		/* half the probes inside a random listed prefix, half anywhere in 10/8 */
		const struct p4 *base = &lists[rnd() % NL][rnd() % NP];
		uint32_t a = t % 2 ? (base->addr | (base->len == 32 ? 0 : rnd() >> base->len))
				   : ((10u << 24) | (rnd() & 0xffffff));
		struct bl_l3 l3 = { .family = 4, .proto = 17 };
		struct bl_rt_query q = { .l3 = &l3, .vlan = BL_RT_NO_VLAN };
		struct bl_rt_result r;
		unsigned want = BL_RT_RULE_DEFAULT;
		uint32_t be = htonl(a);

		for (unsigned l = 0; l < NL && want == BL_RT_RULE_DEFAULT; l++)
			for (unsigned i = 0; i < NP; i++)
				if (in4(&lists[l][i], a)) {
					want = l;
					break;
				}
		memcpy(l3.dst, &be, 4);
		bl_rt_classify_burst(rt, &q, 1, &r);
		cr_assert_eq(r.rule, want, "address %u.%u.%u.%u: rule %u, want %u", a >> 24,
			     (a >> 16) & 255, (a >> 8) & 255, a & 255, r.rule, want);
	}
	bl_rt_free(rt);
	free(text);
}

/* ---- rule shapes, many rules: first match against a brute-force oracle ---- */

#define SR  3000 /* rules */
#define SL  3	 /* lists */
#define SLP 60	 /* prefixes per list */

/* One rule of the random policy, as the oracle sees it. */
struct orule {
	uint8_t dir;	      /* 0 any, 1 inbound, 2 outbound */
	uint8_t skind, dkind; /* 0 any, 1 prefix, 2 list */
	struct p4 sp, dp;
	unsigned sl, dl; /* list index */
	uint8_t proto;	 /* 0 any, 6, 17, or 1 for [tcp, udp] */
	bool has_sport, has_dport;
	uint16_t slo, shi, dlo, dhi;
	uint16_t vlan; /* 0: any */
	bool log;
};

/* An address of the probe space (10.0-15.0-15.x), nested prefixes galore. */
static uint32_t shape_addr(void)
{
	return (10u << 24) | (rnd() & 0x000f0fff);
}

static struct p4 shape_prefix(void)
{
	static const unsigned lens[] = { 8,  12, 16, 16, 20, 20, 22, 24, 24, 24, 24, 26,
					 26, 28, 28, 30, 32, 32, 32, 32, 32, 32, 32, 32 };
	unsigned len = lens[rnd() % RTE_DIM(lens)];
	uint32_t a = shape_addr();

	return (struct p4){ len == 32 ? a : a & ~(~0u >> len), len };
}

static bool in_list(const struct p4 lists[SL][SLP], unsigned l, uint32_t a)
{
	for (unsigned i = 0; i < SLP; i++)
		if (in4(&lists[l][i], a))
			return true;
	return false;
}

static bool orule_match(const struct orule *r, const struct p4 lists[SL][SLP], uint32_t s,
			uint32_t d, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t vlan,
			bool inbound)
{
	bool ports = proto == 6 || proto == 17;

	if ((r->dir == 1 && !inbound) || (r->dir == 2 && inbound))
		return false;
	if ((r->skind == 1 && !in4(&r->sp, s)) || (r->skind == 2 && !in_list(lists, r->sl, s)))
		return false;
	if ((r->dkind == 1 && !in4(&r->dp, d)) || (r->dkind == 2 && !in_list(lists, r->dl, d)))
		return false;
	if (r->proto && (r->proto == 1 ? !ports : r->proto != proto))
		return false;
	if ((r->has_sport || r->has_dport) && !ports)
		return false;
	if (r->has_sport && (sport < r->slo || sport > r->shi))
		return false;
	if (r->has_dport && (dport < r->dlo || dport > r->dhi))
		return false;
	return !r->vlan || r->vlan == vlan;
}

static int print_p4(char *buf, size_t len, const struct p4 *p)
{
	return snprintf(buf, len, "%u.%u.%u.%u/%u", p->addr >> 24, (p->addr >> 16) & 255,
			(p->addr >> 8) & 255, p->addr & 255, p->len);
}

/*
 * 3,000 random rules of every shape the compiler splits by (a destination
 * prefix, only a source prefix, no prefix at all: any or lists), with
 * nested prefixes, wildcard and listed addresses, directions, protocols,
 * port ranges, VLANs and log rules, in one small address space so that
 * random packets hit many rules at once: each packet's deciding and log
 * rule must be the brute-force first match over the rules in order.
 */
Test(policy_rt, shapes_first_match_oracle, .timeout = 300)
{
	static struct orule rules[SR];
	static struct p4 lists[SL][SLP];
	static const char *const acts[] = { "allow", "drop", "reject", "log" };
	size_t cap = 1 << 21, off = 0;
	char *text = malloc(cap);
	struct bl_policy_err err;
	unsigned decided = 0, logged = 0;
	struct bl_rt *rt;

	cr_assert_not_null(text);
	rnd_state = 4242;
	off += snprintf(text + off, cap - off, "version: 1\nlists:\n");
	for (unsigned l = 0; l < SL; l++) {
		off += snprintf(text + off, cap - off, "  l%u: {type: prefixes, entries: [", l);
		for (unsigned i = 0; i < SLP; i++) {
			lists[l][i] = shape_prefix();
			off += snprintf(text + off, cap - off, "%s", i ? ", " : "");
			off += print_p4(text + off, cap - off, &lists[l][i]);
		}
		off += snprintf(text + off, cap - off, "]}\n");
	}
	off += snprintf(text + off, cap - off, "rules:\n");
	for (unsigned i = 0; i < SR; i++) {
		struct orule *r = &rules[i];
		unsigned act = rnd() % 6 == 0 ? 3 : rnd() % 3;

		memset(r, 0, sizeof(*r));
		r->dir = rnd() % 3;
		/* mostly destination prefixes, as on a perimeter box */
		r->dkind = rnd() % 10 < 7 ? 1 : rnd() % 3 == 0 ? 0 : 2;
		r->skind = rnd() % 10 < 4 ? 1 : rnd() % 6 == 0 ? 2 : 0;
		r->sp = shape_prefix();
		r->dp = shape_prefix();
		r->sl = rnd() % SL;
		r->dl = rnd() % SL;
		r->proto = (uint8_t[]){ 0, 6, 17, 1, 17 }[rnd() % 5];
		if (r->proto) {
			r->has_dport = rnd() % 3 != 0;
			r->has_sport = rnd() % 8 == 0;
		}
		r->dlo = rnd() % 1024;
		r->dhi = r->dlo + (rnd() % 2 ? 0 : rnd() % 200);
		r->slo = rnd() % 1024;
		r->shi = r->slo + rnd() % 400;
		r->vlan = rnd() % 20 == 0 ? 10 + 10 * (rnd() % 2) : 0;
		r->log = act == 3;
		if (!r->dkind && !r->skind) {
			/* no address: a port rule, as wide rules would decide every probe */
			r->proto = r->proto ? r->proto : 6;
			r->has_dport = true;
			r->dhi = r->dlo;
		}
		off += snprintf(text + off, cap - off, "  - name: s%u\n", i);
		if (r->dir)
			off += snprintf(text + off, cap - off, "    direction: %s\n",
					r->dir == 1 ? "inbound" : "outbound");
		off += snprintf(text + off, cap - off, "    match: {");
		if (r->skind == 1) {
			off += snprintf(text + off, cap - off, "src: ");
			off += print_p4(text + off, cap - off, &r->sp);
			off += snprintf(text + off, cap - off, ", ");
		} else if (r->skind == 2) {
			off += snprintf(text + off, cap - off, "src: l%u, ", r->sl);
		}
		if (r->dkind == 1) {
			off += snprintf(text + off, cap - off, "dst: ");
			off += print_p4(text + off, cap - off, &r->dp);
			off += snprintf(text + off, cap - off, ", ");
		} else if (r->dkind == 2) {
			off += snprintf(text + off, cap - off, "dst: l%u, ", r->dl);
		}
		if (r->proto)
			off += snprintf(text + off, cap - off, "proto: %s, ",
					r->proto == 1	? "[tcp, udp]"
					: r->proto == 6 ? "tcp"
							: "udp");
		if (r->has_sport)
			off += snprintf(text + off, cap - off, "sport: \"%u-%u\", ", r->slo,
					r->shi);
		if (r->has_dport)
			off += snprintf(text + off, cap - off, "dport: \"%u-%u\", ", r->dlo,
					r->dhi);
		if (r->vlan)
			off += snprintf(text + off, cap - off, "vlan: %u, ", r->vlan);
		off -= 2; /* the last ", " */
		off += snprintf(text + off, cap - off, "}\n    action: %s\n", acts[act]);
		cr_assert_lt(off, cap - 256);
	}
	snprintf(text + off, cap - off, "default: drop\n");
	rt = compile_text(text, &err);
	cr_assert_not_null(rt, "compile failed: %s", err.ndiags ? err.diag[0].message : "?");
	for (unsigned t = 0; t < 20000; t += BL_RT_BURST) {
		struct bl_l3 l3[BL_RT_BURST];
		struct bl_rt_query q[BL_RT_BURST];
		struct bl_rt_result res[BL_RT_BURST];

		for (unsigned j = 0; j < BL_RT_BURST; j++) {
			uint32_t s = htonl(shape_addr()), d = htonl(shape_addr());

			memset(&l3[j], 0, sizeof(l3[j]));
			l3[j].family = 4;
			l3[j].proto = (uint8_t[]){ 6, 17, 17, 1 }[rnd() % 4];
			memcpy(l3[j].src, &s, 4);
			memcpy(l3[j].dst, &d, 4);
			l3[j].sport = rnd() % 1100;
			l3[j].dport = rnd() % 1100;
			l3[j].flags = l3[j].proto != 1 ? BL_L3_HAS_PORTS : 0;
			q[j] = (struct bl_rt_query){ .l3 = &l3[j],
						     .inbound = rnd() % 2,
						     .swap = rnd() % 4 == 0,
						     .vlan = (uint16_t[]){ BL_RT_NO_VLAN, 10, 20,
									   30 }[rnd() % 4] };
		}
		bl_rt_classify_burst(rt, q, BL_RT_BURST, res);
		for (unsigned j = 0; j < BL_RT_BURST; j++) {
			const struct bl_l3 *p = &l3[j];
			const uint8_t *sa = q[j].swap ? p->dst : p->src,
				      *da = q[j].swap ? p->src : p->dst;
			uint16_t sport = q[j].swap ? p->dport : p->sport;
			uint16_t dport = q[j].swap ? p->sport : p->dport;
			uint32_t s, d;
			unsigned want = BL_RT_RULE_DEFAULT, wlog = BL_RT_RULE_NONE;

			memcpy(&s, sa, 4);
			memcpy(&d, da, 4);
			for (unsigned i = 0; i < SR && want == BL_RT_RULE_DEFAULT; i++) {
				if (!orule_match(&rules[i], lists, ntohl(s), ntohl(d), p->proto,
						 sport, dport, q[j].vlan, q[j].inbound ^ q[j].swap))
					continue;
				if (!rules[i].log)
					want = i;
				else if (wlog == BL_RT_RULE_NONE)
					wlog = i;
			}
			cr_assert_eq(res[j].rule, want, "packet %u: rule %u, want %u", t + j,
				     res[j].rule, want);
			cr_assert_eq(res[j].log_rule, wlog, "packet %u: log rule %u, want %u",
				     t + j, res[j].log_rule, wlog);
			cr_assert_eq(res[j].action, want == BL_RT_RULE_DEFAULT
							    ? BL_RT_DROP
							    : rt->rules[want].action);
			decided += want != BL_RT_RULE_DEFAULT;
			logged += wlog != BL_RT_RULE_NONE;
		}
	}
	/* the probes exercise rules and log rules; every shape has a context */
	cr_expect_gt(decided, 5000, "%u packets decided by a rule", decided);
	cr_expect_gt(logged, 500, "%u packets logged", logged);
	for (unsigned s = 0; s < BL_RT_ACL_CTX; s++)
		cr_expect_not_null(rt->acl[0][s], "no IPv4 context of shape %u", s);
	bl_rt_free(rt);
	free(text);
}

/* ---- compile errors ---- */

/* 33 prefix lists in address matches: refused with the rule's position. */
Test(policy_rt, too_many_lists)
{
	char text[8192];
	size_t off = 0;
	struct bl_policy_err err;
	struct bl_policy *p;
	struct bl_rt *rt;

	off += snprintf(text + off, sizeof(text) - off, "version: 1\nlists:\n");
	for (unsigned l = 0; l < 33; l++)
		off += snprintf(text + off, sizeof(text) - off,
				"  l%u: {type: prefixes, entries: [10.%u.0.0/16]}\n", l, l);
	off += snprintf(text + off, sizeof(text) - off, "rules:\n");
	for (unsigned l = 0; l < 33; l++)
		off += snprintf(text + off, sizeof(text) - off,
				"  - name: r%u\n    match: {src: l%u}\n    action: drop\n", l, l);
	snprintf(text + off, sizeof(text) - off, "default: allow\n");
	memset(&err, 0, sizeof(err));
	p = bl_policy_load_text("many.yaml", text, strlen(text), NULL, &err);
	cr_assert_not_null(p);
	rt = bl_rt_build(p, "many.yaml", BL_RT_DROP, 1, NULL, NULL, &err);
	cr_assert_null(rt);
	cr_assert_eq(err.nerrors, 1);
	/* rule r32 starts on line 2 + 33 + 1 + 32 * 3 + 1 */
	cr_expect_eq(err.diag[0].line, 2 + 33 + 1 + 32 * 3 + 1);
	cr_expect_str_eq(err.diag[0].file, "many.yaml");
	cr_expect_str_eq(err.diag[0].message,
			 "rule \"r32\": more than 32 prefix lists are used in address matches");
	bl_policy_free(p);
}

/* No policy: every packet gets the configured default, rule "default". */
Test(policy_rt, no_policy_default)
{
	struct bl_rt *rt = bl_rt_build(NULL, NULL, BL_RT_ALLOW, 3, NULL, NULL, NULL);
	struct bl_l3 l3 = { .family = 6, .proto = 6, .flags = BL_L3_HAS_PORTS, .dport = 22 };
	struct bl_rt_query q = { .l3 = &l3, .vlan = BL_RT_NO_VLAN };
	struct bl_rt_result r;

	cr_assert_not_null(rt);
	bl_rt_classify_burst(rt, &q, 1, &r);
	cr_expect_eq(r.action, BL_RT_ALLOW);
	cr_expect_eq(r.rule, BL_RT_RULE_DEFAULT);
	cr_expect_eq(r.gen, 3);
	bl_rt_free(rt);
}

/* Counter slots follow rule names across generations. */
Test(policy_rt, slots_survive_generations)
{
	static const char *const a =
		"version: 1\nrules:\n"
		"  - name: x\n    match: {proto: tcp}\n    action: drop\n"
		"  - name: y\n    match: {proto: udp}\n    action: drop\ndefault: allow\n";
	static const char *const b =
		"version: 1\nrules:\n"
		"  - name: z\n    match: {proto: icmp}\n    action: drop\n"
		"  - name: y\n    match: {proto: udp}\n    action: allow\ndefault: allow\n";
	struct bl_rt_slots *s = bl_rt_slots_create();
	struct bl_policy_err err;
	struct bl_policy *pa = bl_policy_load_text("a", a, strlen(a), NULL, &err);
	struct bl_policy *pb = bl_policy_load_text("b", b, strlen(b), NULL, &err);
	struct bl_rt *ra = bl_rt_build(pa, "a", BL_RT_DROP, 1, s, NULL, &err);
	struct bl_rt *rb = bl_rt_build(pb, "b", BL_RT_DROP, 2, s, NULL, &err);

	cr_assert(ra && rb);
	cr_expect_eq(ra->rules[1].slot, rb->rules[1].slot, "y keeps its slot");
	cr_expect_neq(rb->rules[0].slot, ra->rules[0].slot, "z gets a new slot");
	cr_expect_str_eq(bl_rt_slot_name(s, rb->rules[0].slot), "z");
	cr_expect_str_eq(bl_rt_slot_name(s, 0), "default");
	cr_expect_eq(bl_rt_slots_used(s), 4);
	bl_rt_free(ra);
	bl_rt_free(rb);
	bl_policy_free(pa);
	bl_policy_free(pb);
	bl_rt_slots_free(s);
}

/* ---- RCU publication ---- */

struct rcu_ctx {
	struct bl_rt_pub *pub;
	struct bl_rt *first;
	volatile int holding, release, stop, saw_second, bad;
	uint64_t lookups;
};

/* A worker: reads the pointer once per "burst", classifies, reports quiescence. */
static void *rcu_worker(void *arg)
{
	struct rcu_ctx *c = arg;
	struct bl_l3 l3 = { .family = 4, .proto = 6, .flags = BL_L3_HAS_PORTS, .dport = 80 };
	struct bl_rt_query q = { .l3 = &l3, .vlan = BL_RT_NO_VLAN };
	struct bl_rt_result r;

	rte_rcu_qsbr_thread_register(c->pub->qsv, 0);
	rte_rcu_qsbr_thread_online(c->pub->qsv, 0);
	while (!c->stop) {
		const struct bl_rt *rt = __atomic_load_n(&c->pub->cur, __ATOMIC_ACQUIRE);

		if (rt == c->first && !c->holding) {
			/* hold the first object across the publication of the second */
			c->holding = 1;
			while (!c->release)
				usleep(1000);
		}
		bl_rt_classify_burst(rt, &q, 1, &r);
		/* the first object says drop (gen 1), the second allow (gen 2) */
		if (r.gen != rt->gen || r.action != (rt->gen == 1 ? BL_RT_DROP : BL_RT_ALLOW))
			c->bad = 1;
		if (rt != c->first)
			c->saw_second = 1;
		c->lookups++;
		rte_rcu_qsbr_quiescent(c->pub->qsv, 0);
	}
	rte_rcu_qsbr_thread_offline(c->pub->qsv, 0);
	rte_rcu_qsbr_thread_unregister(c->pub->qsv, 0);
	return NULL;
}

static void *publisher(void *arg)
{
	struct rcu_ctx *c = arg;

	bl_rt_publish(c->pub,
		      bl_rt_build(NULL, NULL, BL_RT_ALLOW, c->pub->next_gen++, NULL, NULL, NULL),
		      NULL);
	return NULL;
}

Test(policy_rt, rcu_publish_frees_after_quiescence)
{
	struct bl_rt_pub pub;
	struct rcu_ctx c = { .pub = &pub };
	pthread_t w, p;

	cr_assert_eq(bl_rt_pub_init(&pub, 4), 0);
	c.first = bl_rt_build(NULL, NULL, BL_RT_DROP, pub.next_gen++, NULL, NULL, NULL);
	bl_rt_publish(&pub, c.first, NULL);
	cr_assert_eq(pub.cur, c.first);
	cr_assert_eq(pthread_create(&w, NULL, rcu_worker, &c), 0);
	while (!c.holding)
		usleep(1000);
	cr_assert_eq(pthread_create(&p, NULL, publisher, &c), 0);
	/* the worker still holds the first object: it must not be freed */
	usleep(200 * 1000);
	cr_expect_eq(__atomic_load_n(&pub.freed, __ATOMIC_ACQUIRE), 0,
		     "old object freed while a worker still used it");
	cr_expect_neq(pub.cur, c.first, "the new object is published at once");
	c.release = 1;
	pthread_join(p, NULL);
	cr_expect_eq(__atomic_load_n(&pub.freed, __ATOMIC_ACQUIRE), 1,
		     "old object freed after the worker's quiescent state");
	while (!c.saw_second)
		usleep(1000);
	c.stop = 1;
	pthread_join(w, NULL);
	cr_expect_eq(c.bad, 0, "a lookup saw an inconsistent object");
	cr_expect_gt(c.lookups, 1);
	bl_rt_pub_fini(&pub);
}
