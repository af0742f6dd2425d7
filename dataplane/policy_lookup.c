/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy runtime, worker side (see policy_rt.h): build the search keys
 * of a burst on the stack, look the list bitmaps up in the FIBs in bulk,
 * classify each family with one rte_acl_classify call, decode.
 */
#include <stdbool.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_fib.h>
#include <rte_fib6.h>

#include "policy_rt.h"
#include "policy_rt_int.h"

/* Flags byte of a query: direction as judged (after a swap), ports. */
static inline uint8_t key_flags(const struct bl_rt_query *q)
{
	unsigned inbound = q->inbound ^ q->swap;

	return (inbound ? BL_RT_F_INBOUND : BL_RT_F_OUTBOUND) |
	       (q->l3->flags & BL_L3_HAS_PORTS ? BL_RT_F_PORTS : 0);
}

static inline void key_ports(const struct bl_rt_query *q, uint16_t *sport, uint16_t *dport)
{
	uint16_t s = 0, d = 0;

	if (q->l3->flags & BL_L3_HAS_PORTS) {
		s = q->swap ? q->l3->dport : q->l3->sport;
		d = q->swap ? q->l3->sport : q->l3->dport;
	}
	*sport = rte_cpu_to_be_16(s);
	*dport = rte_cpu_to_be_16(d);
}

static inline void fill4(struct bl_rt_key4 *k, const struct bl_rt_query *q)
{
	const uint8_t *s = q->swap ? q->l3->dst : q->l3->src;
	const uint8_t *d = q->swap ? q->l3->src : q->l3->dst;

	k->lead = 0;
	k->proto = q->l3->proto;
	memcpy(&k->src, s, 4);
	memcpy(&k->dst, d, 4);
	key_ports(q, &k->sport, &k->dport);
	k->vlan = rte_cpu_to_be_16(q->vlan);
	k->flags = key_flags(q);
	k->srcl = k->dstl = 0;
}

static inline void fill6(struct bl_rt_key6 *k, const struct bl_rt_query *q)
{
	const uint8_t *s = q->swap ? q->l3->dst : q->l3->src;
	const uint8_t *d = q->swap ? q->l3->src : q->l3->dst;

	k->lead = 0;
	k->proto = q->l3->proto;
	memcpy(k->src, s, 16);
	memcpy(k->dst, d, 16);
	key_ports(q, &k->sport, &k->dport);
	k->vlan = rte_cpu_to_be_16(q->vlan);
	k->flags = key_flags(q);
	k->srcl = k->dstl = 0;
}

/* List bitmaps of the IPv4 keys: two bulk FIB lookups (source, destination). */
static void lists4(const struct bl_rt *rt, struct bl_rt_key4 *k, unsigned n)
{
	uint32_t ip[2][BL_RT_BURST];
	uint64_t nh[2][BL_RT_BURST];

	for (unsigned i = 0; i < n; i++) {
		ip[0][i] = rte_be_to_cpu_32(k[i].src);
		ip[1][i] = rte_be_to_cpu_32(k[i].dst);
	}
	rte_fib_lookup_bulk(rt->fib4, ip[0], nh[0], n);
	rte_fib_lookup_bulk(rt->fib4, ip[1], nh[1], n);
	for (unsigned i = 0; i < n; i++) {
		k[i].srcl = rte_cpu_to_be_32(rt->sets[0][nh[0][i]]);
		k[i].dstl = rte_cpu_to_be_32(rt->sets[0][nh[1][i]]);
	}
}

static void lists6(const struct bl_rt *rt, struct bl_rt_key6 *k, unsigned n)
{
	uint8_t ip[2][BL_RT_BURST][16];
	uint64_t nh[2][BL_RT_BURST];

	for (unsigned i = 0; i < n; i++) {
		memcpy(ip[0][i], k[i].src, 16);
		memcpy(ip[1][i], k[i].dst, 16);
	}
	rte_fib6_lookup_bulk(rt->fib6, ip[0], nh[0], n);
	rte_fib6_lookup_bulk(rt->fib6, ip[1], nh[1], n);
	for (unsigned i = 0; i < n; i++) {
		k[i].srcl = rte_cpu_to_be_32(rt->sets[1][nh[0][i]]);
		k[i].dstl = rte_cpu_to_be_32(rt->sets[1][nh[1][i]]);
	}
}

/* Turn the ACL results of one packet (ncat words) into a decision. */
static inline void decode(const struct bl_rt *rt, const uint32_t *r, struct bl_rt_result *out)
{
	uint32_t dec = r[0], log = rt->ncat > 1 ? r[1] : 0;

	out->gen = rt->gen;
	if (dec) {
		out->rule = dec - 1;
		out->action = rt->rules[dec - 1].action;
	} else {
		out->rule = BL_RT_RULE_DEFAULT;
		out->action = rt->default_action;
	}
	/* a log rule counts only when it comes before the deciding rule */
	out->log_rule = log && (!dec || log < dec) ? log - 1 : BL_RT_RULE_NONE;
}

/* The earlier of two results (rule index + 1, 0: no match). */
static inline uint32_t first_of(uint32_t a, uint32_t b)
{
	/* 0 - 1 wraps to the largest value: a miss loses to any match */
	return a - 1 < b - 1 ? a : b;
}

/*
 * Classify n keys of family `fam` in each of its ACL contexts (one per rule
 * shape) and keep per packet and category the first rule over all of them:
 * res gets n * ncat words. False when the family has no ACL rule.
 */
static bool classify_fam(const struct bl_rt *rt, unsigned fam, const uint8_t **d, unsigned n,
			 uint32_t *res)
{
	uint32_t r[BL_RT_BURST * RTE_ACL_RESULTS_MULTIPLIER];
	unsigned ncat = rt->ncat, ncmp = ncat > 1 ? 2 : 1;
	bool any = false;

	for (unsigned s = 0; s < BL_RT_ACL_CTX; s++) {
		if (!rt->acl[fam][s])
			continue;
		if (!any) {
			rte_acl_classify(rt->acl[fam][s], d, res, n, ncat);
			any = true;
			continue;
		}
		rte_acl_classify(rt->acl[fam][s], d, r, n, ncat);
		for (unsigned j = 0; j < n; j++)
			for (unsigned c = 0; c < ncmp; c++)
				res[j * ncat + c] = first_of(res[j * ncat + c], r[j * ncat + c]);
	}
	return any;
}

void bl_rt_classify_burst(const struct bl_rt *rt, const struct bl_rt_query *q, unsigned n,
			  struct bl_rt_result *res)
{
	struct bl_rt_key4 k4[BL_RT_BURST];
	struct bl_rt_key6 k6[BL_RT_BURST];
	const uint8_t *d4[BL_RT_BURST], *d6[BL_RT_BURST];
	uint32_t r4[BL_RT_BURST * RTE_ACL_RESULTS_MULTIPLIER];
	uint32_t r6[BL_RT_BURST * RTE_ACL_RESULTS_MULTIPLIER];
	uint8_t i4[BL_RT_BURST], i6[BL_RT_BURST];
	unsigned n4 = 0, n6 = 0;
	bool has4 = false, has6 = false;
	static const uint32_t none[RTE_ACL_RESULTS_MULTIPLIER];

	for (unsigned i = 0; i < n; i++) {
		if (q[i].l3->family == 4) {
			fill4(&k4[n4], &q[i]);
			d4[n4] = (const uint8_t *)&k4[n4];
			i4[n4++] = i;
		} else {
			fill6(&k6[n6], &q[i]);
			d6[n6] = (const uint8_t *)&k6[n6];
			i6[n6++] = i;
		}
	}
	if (n4 && rt->fib4)
		lists4(rt, k4, n4);
	if (n6 && rt->fib6)
		lists6(rt, k6, n6);
	if (n4)
		has4 = classify_fam(rt, 0, d4, n4, r4);
	if (n6)
		has6 = classify_fam(rt, 1, d6, n6, r6);
	for (unsigned j = 0; j < n4; j++)
		decode(rt, has4 ? &r4[j * rt->ncat] : none, &res[i4[j]]);
	for (unsigned j = 0; j < n6; j++)
		decode(rt, has6 ? &r6[j * rt->ncat] : none, &res[i6[j]]);
}
