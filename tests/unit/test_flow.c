/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker flow table: keys meet from both directions, the TCP state
 * machine, midstream policies, idle expiry on a fake clock, and the
 * full-table policies with their counters. Packet records are built here
 * directly (struct bl_pkt), so the table is tested apart from the parser.
 * Time is a fake TSC of TSC_HZ ticks per second, passed explicitly.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "flow.h"
#include "eal_down.h"

#define TSC_HZ 1000ull
#define SEC(s) ((uint64_t)(s)*TSC_HZ)

#define TCP    6
#define UDP    17
#define ICMP   1
#define ICMPV6 58

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define ACK 0x10

static void eal_up(void)
{
	char *argv[] = { "test_flow",
			 "--no-huge",
			 "--no-shconf",
			 "--no-pci",
			 "--no-telemetry",
			 "--file-prefix=bl-test-flow",
			 "--log-level=error",
			 "-l",
			 "0",
			 NULL };

	cr_assert_geq(rte_eal_init(RTE_DIM(argv) - 1, argv), 0, "rte_eal_init failed");
}

static void eal_down(void)
{
	bl_test_eal_cleanup();
}

TestSuite(flow, .init = eal_up, .fini = eal_down, .timeout = 60);

/* An IPv4 packet record from 10.0.0.a:sp to 10.0.0.b:dp. */
static struct bl_pkt pkt4(uint8_t proto, uint8_t a, uint16_t sp, uint8_t b, uint16_t dp,
			  uint8_t tcp_flags)
{
	struct bl_pkt p;

	memset(&p, 0, sizeof(p));
	p.outcome = BL_PARSE_OK;
	p.nlayers = 1;
	p.ethertype = 0x0800;
	p.l2_len = 14;
	p.l3[0].family = 4;
	p.l3[0].proto = proto;
	p.l3[0].l3_off = 14;
	p.l3[0].l4_off = 34;
	p.l3[0].l3_len = 60;
	p.l3[0].src[0] = 10;
	p.l3[0].src[3] = a;
	p.l3[0].dst[0] = 10;
	p.l3[0].dst[3] = b;
	p.l3[0].sport = sp;
	p.l3[0].dport = dp;
	p.l3[0].tcp_flags = tcp_flags;
	if (proto == TCP || proto == UDP)
		p.l3[0].flags = BL_L3_HAS_PORTS;
	return p;
}

static struct bl_flow_table *table(uint32_t max_flows, enum bl_flow_midstream ms,
				   enum bl_flow_full_policy fp)
{
	struct bl_flow_config c;
	struct bl_flow_table *t;

	bl_flow_config_defaults(&c);
	c.name = "test_flow";
	c.max_flows = max_flows;
	c.tsc_hz = TSC_HZ;
	c.timeout_tcp_established = 100;
	c.timeout_tcp_transient = 20;
	c.timeout_udp = 30;
	c.timeout_other = 10;
	c.midstream = ms;
	c.full_policy = fp;
	c.evict_idle_s = 10;
	c.evict_probe = 64;
	t = bl_flow_create(&c);
	cr_assert_not_null(t, "bl_flow_create: %s", strerror(errno));
	return t;
}

/* One packet through the worker's sequence: key, lookup, update. */
static enum bl_flow_outcome step(struct bl_flow_table *t, const struct bl_pkt *p, uint64_t now,
				 struct bl_flow_entry **e)
{
	struct bl_flow_key k;

	cr_assert_eq(bl_flow_key_build(p, &k), 0);
	bl_flow_lookup_burst(t, &k, 1, now, e);
	return bl_flow_update(t, &k, e, 100, now);
}

static const struct bl_flow_counters *ctr(struct bl_flow_table *t)
{
	return bl_flow_counters(t);
}

Test(flow, both_directions_one_key)
{
	struct bl_pkt ab = pkt4(UDP, 1, 5353, 2, 53, 0);
	struct bl_pkt ba = pkt4(UDP, 2, 53, 1, 5353, 0);
	struct bl_pkt other = pkt4(UDP, 1, 5354, 2, 53, 0);
	struct bl_flow_key k1, k2, k3;

	cr_assert_eq(bl_flow_key_build(&ab, &k1), 0);
	cr_assert_eq(bl_flow_key_build(&ba, &k2), 0);
	cr_assert_eq(bl_flow_key_build(&other, &k3), 0);
	cr_assert_eq(memcmp(&k1, &k2, BL_FLOW_KEY_LEN), 0);
	cr_assert_eq(k1.hash, k2.hash);
	cr_assert_neq(k1.side, k2.side);
	cr_assert_neq(memcmp(&k1, &k3, BL_FLOW_KEY_LEN), 0);

	/* same tuple, other VLAN: another flow */
	ab.nvlan = 1;
	ab.vlan[0] = 20;
	cr_assert_eq(bl_flow_key_build(&ab, &k3), 0);
	cr_assert_neq(memcmp(&k1, &k3, BL_FLOW_KEY_LEN), 0);

	/* ICMP echo request and reply meet on the identifier */
	struct bl_pkt req = pkt4(ICMP, 1, 777, 2, 0, 0);
	struct bl_pkt rep = pkt4(ICMP, 2, 777, 1, 0, 0);
	req.l3[0].icmp_type = 8;
	rep.l3[0].icmp_type = 0;
	cr_assert_eq(bl_flow_key_build(&req, &k1), 0);
	cr_assert_eq(bl_flow_key_build(&rep, &k2), 0);
	cr_assert_eq(memcmp(&k1, &k2, BL_FLOW_KEY_LEN), 0);
	cr_assert_eq(k1.port[0], 777);
	cr_assert_eq(k1.port[1], 777);

	/* no key: later fragment, failed parse */
	ba.l3[0].flags = BL_L3_FRAG | BL_L3_FRAG_LATER;
	cr_assert_eq(bl_flow_key_build(&ba, &k2), -ENOENT);
	other.outcome = BL_PARSE_TRUNC_UDP;
	cr_assert_eq(bl_flow_key_build(&other, &k2), -ENOENT);
}

/* Both directions of `p` (swapped copy built here) give one key whose
 * endpoint 0 is `first_src` as the lower (address, port) as bytes. */
static void check_canonical(const struct bl_pkt *p, bool first_src)
{
	struct bl_pkt q = *p;
	struct bl_flow_key k1, k2;
	const struct bl_l3 *l = &p->l3[0];

	memcpy(q.l3[0].src, l->dst, 16);
	memcpy(q.l3[0].dst, l->src, 16);
	q.l3[0].sport = l->dport;
	q.l3[0].dport = l->sport;
	cr_assert_eq(bl_flow_key_build(p, &k1), 0);
	cr_assert_eq(bl_flow_key_build(&q, &k2), 0);
	cr_assert_eq(memcmp(&k1, &k2, BL_FLOW_KEY_LEN), 0);
	cr_assert_eq(k1.hash, k2.hash);
	cr_assert_eq(k1.side, first_src ? 0 : 1);
	cr_assert_eq(k2.side, first_src ? 1 : 0);
	cr_assert_eq(memcmp(k1.addr[0], first_src ? l->src : l->dst, 16), 0);
	cr_assert_eq(memcmp(k1.addr[1], first_src ? l->dst : l->src, 16), 0);
	cr_assert_eq(k1.port[0], first_src ? l->sport : l->dport);
	cr_assert_eq(k1.port[1], first_src ? l->dport : l->sport);
}

/* The endpoint order's every tie-break: first address word, second
 * address word (IPv6), then the port; addresses compare as bytes. */
Test(flow, canonical_order_tie_breaks)
{
	struct bl_pkt p = pkt4(UDP, 1, 9, 2, 8, 0);

	check_canonical(&p, true);
	p = pkt4(UDP, 2, 8, 1, 9, 0);
	check_canonical(&p, false);
	/* byte order, not host order: 10.0.1.0 sorts after 10.0.0.255 */
	p = pkt4(UDP, 255, 5, 0, 5, 0);
	p.l3[0].dst[2] = 1;
	check_canonical(&p, true);
	/* same address: the port decides */
	p = pkt4(UDP, 7, 4000, 7, 53, 0);
	check_canonical(&p, false);
	p = pkt4(UDP, 7, 53, 7, 4000, 0);
	check_canonical(&p, true);

	/* IPv6: equal first 8 bytes, the second word decides */
	p = pkt4(TCP, 0, 443, 0, 50000, 0x10);
	p.l3[0].family = 6;
	memset(p.l3[0].src, 0, 16);
	memset(p.l3[0].dst, 0, 16);
	p.l3[0].src[0] = p.l3[0].dst[0] = 0xfd;
	p.l3[0].src[8] = 0x01;
	p.l3[0].dst[15] = 0xff;
	check_canonical(&p, false);
	p.l3[0].dst[8] = 0x01;
	check_canonical(&p, true); /* second words 01..00 < 01..ff */
	p.l3[0].src[15] = 0xff;
	check_canonical(&p, true); /* same address: port 443 < 50000 */
	/* the first word decides over the second */
	p.l3[0].src[7] = 0x01;
	p.l3[0].dst[9] = 0xff;
	check_canonical(&p, false);
}

Test(flow, both_directions_one_entry)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt ab = pkt4(UDP, 9, 40000, 3, 53, 0);
	struct bl_pkt ba = pkt4(UDP, 3, 53, 9, 40000, 0);
	struct bl_flow_entry *e1, *e2;

	cr_assert_eq(step(t, &ab, 1, &e1), BL_FLOW_TRACKED);
	cr_assert_eq(e1->state, BL_FLOW_NEW);
	cr_assert_eq(step(t, &ba, 2, &e2), BL_FLOW_TRACKED);
	cr_assert_eq(e1, e2);
	cr_assert_eq(e2->state, BL_FLOW_ACTIVE);
	cr_assert_eq(e2->pkts[0], 1);
	cr_assert_eq(e2->pkts[1], 1);
	cr_assert_eq(e2->bytes[1], 100);
	cr_assert_eq(e2->last_tsc, 2);
	cr_assert_eq(bl_flow_count(t), 1);
	cr_assert_eq(ctr(t)->inserts, 1);
	cr_assert_eq(ctr(t)->lookups, 2);
	cr_assert_eq(ctr(t)->hits, 1);
	cr_assert_eq(ctr(t)->udp_active, 1);
	bl_flow_free(t);
}

/* Two packets of one new flow in one burst: both miss, one entry. */
Test(flow, same_burst_creates_once)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_DROP, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt p[3] = {
		pkt4(TCP, 1, 1000, 2, 80, SYN),
		pkt4(TCP, 2, 80, 1, 1000, SYN | ACK),
		pkt4(TCP, 1, 1000, 2, 80, ACK),
	};
	struct bl_flow_key k[3];
	struct bl_flow_entry *e[3];
	unsigned i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(bl_flow_key_build(&p[i], &k[i]), 0);
	cr_assert_eq(bl_flow_lookup_burst(t, k, 3, 5, e), 0);
	for (i = 0; i < 3; i++) {
		cr_assert_null(e[i]);
		cr_assert_eq(bl_flow_update(t, &k[i], &e[i], 60, 5), BL_FLOW_TRACKED, "packet %u",
			     i);
	}
	cr_assert_eq(e[0], e[2]);
	cr_assert_eq(e[0]->state, BL_FLOW_ESTABLISHED);
	cr_assert_eq(ctr(t)->inserts, 1);
	cr_assert_eq(ctr(t)->midstream_dropped, 0);
	cr_assert_eq(bl_flow_lookup_burst(t, k, 3, 6, e), 3);
	bl_flow_free(t);
}

Test(flow, tcp_handshake_and_fin_close)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_DROP, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt c2s = pkt4(TCP, 7, 33000, 5, 443, 0);
	struct bl_pkt s2c = pkt4(TCP, 5, 443, 7, 33000, 0);
	struct bl_flow_entry *e;
	struct {
		struct bl_pkt *p;
		uint8_t flags;
		enum bl_flow_state want;
	} seq[] = {
		{ &c2s, SYN, BL_FLOW_SYN_SENT },
		{ &c2s, SYN, BL_FLOW_SYN_SENT }, /* retransmit */
		{ &s2c, ACK, BL_FLOW_SYN_SENT }, /* not a SYN-ACK */
		{ &s2c, SYN | ACK, BL_FLOW_SYN_RECV },
		{ &s2c, ACK, BL_FLOW_SYN_RECV }, /* wrong side */
		{ &c2s, ACK, BL_FLOW_ESTABLISHED },
		{ &s2c, ACK | 0x08, BL_FLOW_ESTABLISHED },
		{ &c2s, FIN | ACK, BL_FLOW_FIN_WAIT },
		{ &c2s, FIN | ACK, BL_FLOW_FIN_WAIT }, /* FIN retransmit */
		{ &s2c, ACK, BL_FLOW_FIN_WAIT },
		{ &s2c, FIN | ACK, BL_FLOW_CLOSING },
		{ &s2c, ACK, BL_FLOW_CLOSING }, /* not the last ACK */
		{ &c2s, ACK, BL_FLOW_CLOSED },
	};
	unsigned i;

	for (i = 0; i < RTE_DIM(seq); i++) {
		seq[i].p->l3[0].tcp_flags = seq[i].flags;
		cr_assert_eq(step(t, seq[i].p, 10 + i, &e), BL_FLOW_TRACKED);
		cr_assert_eq(e->state, seq[i].want, "step %u: %s, want %s", i,
			     bl_flow_state_name(e->state), bl_flow_state_name(seq[i].want));
	}
	cr_assert_eq(bl_flow_init_side(e), ((c2s.l3[0].src[3] < c2s.l3[0].dst[3]) ? 0 : 1));
	cr_assert_eq(e->pkts[0], 6);
	cr_assert_eq(e->pkts[1], 7);
	cr_assert_eq(ctr(t)->tcp_syn, 1);
	cr_assert_eq(ctr(t)->tcp_syn_recv, 1);
	cr_assert_eq(ctr(t)->tcp_established, 1);
	cr_assert_eq(ctr(t)->tcp_fin, 2);
	cr_assert_eq(ctr(t)->tcp_closed_fin, 1);
	cr_assert_eq(ctr(t)->tcp_rst, 0);

	/* a new SYN on the closed tuple reopens it, verdict reset */
	bl_flow_verdict_set(e, 3, 9, 42, 7);
	s2c.l3[0].tcp_flags = SYN;
	cr_assert_eq(step(t, &s2c, 100, &e), BL_FLOW_TRACKED);
	cr_assert_eq(e->state, BL_FLOW_SYN_SENT);
	cr_assert_eq(e->verdict, BL_FLOW_VERDICT_NONE);
	cr_assert_eq(e->verdict_gen, 0);
	cr_assert_eq(e->rule_slot, 0);
	cr_assert_eq(e->pkts[0], 1);
	cr_assert_eq(e->pkts[1], 0);
	cr_assert_eq(ctr(t)->tcp_reopened, 1);
	cr_assert_eq(bl_flow_count(t), 1);
	bl_flow_free(t);
}

Test(flow, tcp_rst_closes)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_DROP, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt c2s = pkt4(TCP, 1, 2000, 2, 22, SYN);
	struct bl_pkt s2c = pkt4(TCP, 2, 22, 1, 2000, SYN | ACK);
	struct bl_flow_entry *e;

	step(t, &c2s, 1, &e);
	step(t, &s2c, 2, &e);
	c2s.l3[0].tcp_flags = ACK;
	step(t, &c2s, 3, &e);
	cr_assert_eq(e->state, BL_FLOW_ESTABLISHED);
	s2c.l3[0].tcp_flags = RST | ACK;
	step(t, &s2c, 4, &e);
	cr_assert_eq(e->state, BL_FLOW_CLOSED);
	cr_assert_eq(ctr(t)->tcp_rst, 1);
	/* a second RST changes nothing */
	step(t, &s2c, 5, &e);
	cr_assert_eq(ctr(t)->tcp_rst, 1);
	bl_flow_free(t);
}

/* One packet of `bytes` through key, lookup and update. */
static void step_bytes(struct bl_flow_table *t, const struct bl_pkt *p, uint32_t bytes,
		       uint64_t now, struct bl_flow_entry **e)
{
	struct bl_flow_key k;

	cr_assert_eq(bl_flow_key_build(p, &k), 0);
	bl_flow_lookup_burst(t, &k, 1, now, e);
	cr_assert_eq(bl_flow_update(t, &k, e, bytes, now), BL_FLOW_TRACKED);
}

static void rule_eq(const struct bl_rule_ctr *rc, unsigned slot, uint64_t packets, uint64_t bytes,
		    const char *what)
{
	cr_assert_eq(rc[slot].packets, packets, "%s: slot %u has %lu packets, want %lu", what, slot,
		     rc[slot].packets, packets);
	cr_assert_eq(rc[slot].bytes, bytes, "%s: slot %u has %lu bytes, want %lu", what, slot,
		     rc[slot].bytes, bytes);
}

/*
 * Rule counters folded from the flows' own counts (bl_flow_settle()): a
 * flow's packets reach its rule's counter when it is settled (a pass, a
 * delete, a reopen, a judgement by a new generation), each packet exactly
 * once and to the rule that judged it; a flow without a verdict and an
 * uncounted packet count nowhere; the modular settled mark holds past
 * 2^32 packets' worth of bytes.
 */
Test(flow, rule_counters_fold_from_flows)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt a = pkt4(UDP, 1, 1000, 2, 53, 0), a_back = pkt4(UDP, 2, 53, 1, 1000, 0);
	struct bl_pkt b = pkt4(UDP, 3, 1000, 4, 53, 0), big = pkt4(UDP, 7, 7, 8, 8, 0);
	struct bl_pkt c2s = pkt4(TCP, 5, 4000, 6, 80, SYN),
		      s2c = pkt4(TCP, 6, 80, 5, 4000, SYN | ACK);
	struct bl_rule_ctr rc[8];
	struct bl_flow_entry *ea, *eb, *et, *eg;
	uint64_t total = 0;

	memset(rc, 0, sizeof(rc));
	bl_flow_set_rule_counters(t, rc);

	/* a new flow: its burst's packets count to the rule that judges it */
	step_bytes(t, &a, 100, 1, &ea);
	step_bytes(t, &a_back, 60, 1, &ea);
	bl_flow_judge(t, ea, 1, 1, 10, 3, 2, 160);
	step_bytes(t, &a, 100, 2, &ea);
	rule_eq(rc, 3, 0, 0, "before any settle");
	cr_assert_eq(bl_flow_settle_slots(t, 0, UINT32_MAX), 0, "a whole pass");
	rule_eq(rc, 3, 3, 260, "settled");
	cr_assert_eq(bl_flow_settle_slots(t, 0, UINT32_MAX), 0);
	rule_eq(rc, 3, 3, 260, "settled twice");
	/* the expiry sweep settles the live flows it visits */
	step_bytes(t, &a, 40, 2, &ea);
	cr_assert_eq(bl_flow_expire(t, 3, 1000), 0, "nothing idle yet");
	rule_eq(rc, 3, 4, 300, "settled by the sweep");

	/* without a verdict a flow counts nowhere, even judged later */
	step_bytes(t, &b, 50, 3, &eb);
	step_bytes(t, &b, 50, 3, &eb);
	bl_flow_settle(t, eb);
	step_bytes(t, &b, 50, 4, &eb);
	bl_flow_judge(t, eb, 1, 1, 11, 4, 1, 50);
	bl_flow_settle(t, eb);
	rule_eq(rc, 4, 1, 50, "judged after a settle");

	/* judged again (a new generation) with three of this burst's packets
	 * accounted: the two before the burst to the old rule */
	step_bytes(t, &a, 100, 5, &ea);
	step_bytes(t, &a, 100, 5, &ea);
	step_bytes(t, &a, 10, 6, &ea);
	step_bytes(t, &a_back, 20, 6, &ea);
	step_bytes(t, &a, 30, 6, &ea);
	bl_flow_judge(t, ea, 1, 2, 12, 5, 3, 60);
	rule_eq(rc, 3, 6, 500, "the old rule, at the judgement");
	bl_flow_settle_slots(t, 0, 10);
	rule_eq(rc, 5, 3, 60, "the new rule");

	/* an uncounted packet (an ICMP error judged apart) */
	step_bytes(t, &a, 999, 7, &ea);
	bl_flow_uncount(ea, 999);
	bl_flow_settle(t, ea);
	rule_eq(rc, 5, 3, 60, "uncounted");

	/* a delete settles (a removal; the expiry sweep settles what it visits) */
	step_bytes(t, &a, 70, 8, &ea);
	cr_assert_eq(bl_flow_remove(t, ea), 0);
	rule_eq(rc, 5, 4, 130, "settled by the delete");
	step_bytes(t, &b, 80, 8, &eb);
	cr_assert_eq(bl_flow_expire(t, 8 + SEC(30) + 1, 1000), 1, "the other UDP flow expires");
	rule_eq(rc, 4, 2, 130, "settled by the expiry");

	/* a reopen settles to the rule before it; the new SYN to the next */
	step_bytes(t, &c2s, 40, 10, &et);
	step_bytes(t, &s2c, 40, 10, &et);
	bl_flow_judge(t, et, 1, 2, 13, 6, 2, 80);
	s2c.l3[0].tcp_flags = RST;
	step_bytes(t, &s2c, 40, 11, &et);
	cr_assert_eq(et->state, BL_FLOW_CLOSED);
	step_bytes(t, &c2s, 40, 12, &et);
	cr_assert_eq(et->verdict, BL_FLOW_VERDICT_NONE, "reopened");
	rule_eq(rc, 6, 3, 120, "settled by the reopen");
	bl_flow_judge(t, et, 1, 2, 14, 7, 1, 40);
	bl_flow_settle_slots(t, 0, UINT32_MAX);
	rule_eq(rc, 7, 1, 40, "the reopened flow's rule");

	/* bytes past the 40-bit settled mark: 300 packets of 4 GB - 1 */
	step_bytes(t, &big, 1, 13, &eg);
	bl_flow_judge(t, eg, 1, 2, 15, 2, 1, 1);
	for (unsigned i = 0; i < 300; i++) {
		step_bytes(t, &big, UINT32_MAX, 13, &eg);
		if (i % 100 == 99)
			bl_flow_settle(t, eg);
	}
	bl_flow_settle(t, eg);
	rule_eq(rc, 2, 301, 1 + 300 * (uint64_t)UINT32_MAX, "past 2^40 bytes");
	cr_assert_gt(rc[2].bytes, UINT64_C(1) << 40);

	/* nothing else anywhere: 6 + 2 + 4 + 3 + 1 + 301 */
	for (unsigned i = 0; i < RTE_DIM(rc); i++)
		total += rc[i].packets;
	cr_assert_eq(total, 317);
	bl_flow_free(t);
}

struct ms_case {
	enum bl_flow_midstream policy;
	uint8_t flags;
	enum bl_flow_outcome want;
	enum bl_flow_state state;
	uint64_t tracked, dropped, passed;
};

ParameterizedTestParameters(flow, midstream)
{
	static struct ms_case cases[] = {
		{ BL_FLOW_MIDSTREAM_TRACK, ACK, BL_FLOW_TRACKED, BL_FLOW_ESTABLISHED, 1, 0, 0 },
		{ BL_FLOW_MIDSTREAM_TRACK, ACK | FIN, BL_FLOW_TRACKED, BL_FLOW_FIN_WAIT, 1, 0, 0 },
		{ BL_FLOW_MIDSTREAM_TRACK, SYN | ACK, BL_FLOW_TRACKED, BL_FLOW_SYN_RECV, 1, 0, 0 },
		{ BL_FLOW_MIDSTREAM_DROP, ACK, BL_FLOW_DROP_MIDSTREAM, 0, 0, 1, 0 },
		{ BL_FLOW_MIDSTREAM_DROP, SYN | ACK, BL_FLOW_DROP_MIDSTREAM, 0, 0, 1, 0 },
		{ BL_FLOW_MIDSTREAM_PASS, ACK, BL_FLOW_PASS_UNTRACKED, 0, 0, 0, 1 },
		{ BL_FLOW_MIDSTREAM_PASS, RST, BL_FLOW_PASS_UNTRACKED, 0, 0, 0, 1 },
	};
	return cr_make_param_array(struct ms_case, cases, RTE_DIM(cases));
}

ParameterizedTest(struct ms_case *c, flow, midstream)
{
	struct bl_flow_table *t = table(64, c->policy, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt p = pkt4(TCP, 4, 8080, 6, 51000, c->flags);
	struct bl_pkt back = pkt4(TCP, 6, 51000, 4, 8080, ACK);
	struct bl_flow_entry *e = NULL;

	enum bl_flow_outcome o = step(t, &p, 1, &e);

	cr_assert_eq(o, c->want, "%s", bl_flow_outcome_name(o));
	/* a second packet: one more drop/pass, but no second entry */
	o = step(t, &p, 1, &e);
	cr_assert_eq(o, c->want, "%s", bl_flow_outcome_name(o));
	cr_assert_eq(ctr(t)->midstream_tracked, c->tracked);
	cr_assert_eq(ctr(t)->midstream_dropped, c->dropped * 2);
	cr_assert_eq(ctr(t)->midstream_passed, c->passed * 2);
	if (c->want != BL_FLOW_TRACKED) {
		cr_assert_eq(bl_flow_count(t), 0);
		cr_assert_eq(ctr(t)->inserts, 0);
		bl_flow_free(t);
		return;
	}
	cr_assert_eq(bl_flow_count(t), 1);
	cr_assert(e->flags & BL_FLOW_F_MIDSTREAM);
	cr_assert_eq(e->state, c->state, "%s", bl_flow_state_name(e->state));
	if (c->state == BL_FLOW_SYN_RECV) {
		/* the SYN-ACK's receiver is the initiator; its ACK completes */
		cr_assert_eq(step(t, &back, 2, &e), BL_FLOW_TRACKED);
		cr_assert_eq(e->state, BL_FLOW_ESTABLISHED);
		cr_assert_eq(bl_flow_dir(e, &(struct bl_flow_key){ .side = !bl_flow_init_side(e) }),
			     1);
		cr_assert_eq(e->pkts[0], 1);
		cr_assert_eq(e->pkts[1], 2); /* two SYN-ACKs from the responder */
	}
	bl_flow_free(t);
}

Test(flow, idle_expiry_per_class)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt udp = pkt4(UDP, 1, 1111, 2, 53, 0);
	struct bl_pkt icmp = pkt4(ICMP, 1, 5, 2, 0, 0);
	struct bl_pkt est = pkt4(TCP, 1, 2222, 2, 443, ACK); /* midstream: established */
	struct bl_pkt syn = pkt4(TCP, 1, 3333, 2, 443, SYN); /* transient */
	struct bl_flow_entry *e;
	unsigned n = 0;

	icmp.l3[0].icmp_type = 8;
	step(t, &udp, 0, &e);
	step(t, &icmp, 0, &e);
	step(t, &est, 0, &e);
	step(t, &syn, 0, &e);
	cr_assert_eq(bl_flow_count(t), 4);

	/* nothing is idle long enough yet (other: 10 s) */
	cr_assert_eq(bl_flow_expire(t, SEC(10), 1000), 0);
	/* other (10 s) goes; transient (20 s), UDP (30 s) stay */
	cr_assert_eq(bl_flow_expire(t, SEC(10) + 1, 1000), 1);
	cr_assert_eq(bl_flow_expire(t, SEC(20) + 1, 1000), 1);
	/* the UDP flow was refreshed at 25 s: it lives to 55 s */
	step(t, &udp, SEC(25), &e);
	cr_assert_eq(bl_flow_expire(t, SEC(31), 1000), 0);
	cr_assert_eq(bl_flow_expire(t, SEC(55) + 1, 1000), 1);
	cr_assert_eq(bl_flow_count(t), 1);
	/* established: 100 s */
	cr_assert_eq(bl_flow_expire(t, SEC(99), 1000), 0);
	cr_assert_eq(bl_flow_expire(t, SEC(100) + 1, 1000), 1);
	cr_assert_eq(bl_flow_count(t), 0);
	cr_assert_eq(ctr(t)->expired, 4);

	/* bounded work: budget 1 deletes at most one per call, and all
	 * of them once the hand has gone round */
	for (unsigned i = 0; i < 10; i++) {
		struct bl_pkt p = pkt4(UDP, 1, (uint16_t)(4000 + i), 2, 53, 0);
		step(t, &p, SEC(200), &e);
	}
	for (unsigned i = 0; i < 200; i++) {
		unsigned d = bl_flow_expire(t, SEC(300), 1);

		cr_assert_leq(d, 1);
		n += d;
	}
	cr_assert_eq(n, 10);
	cr_assert_eq(bl_flow_count(t), 0);
	/* the freed slots are reusable */
	cr_assert_eq(step(t, &udp, SEC(301), &e), BL_FLOW_TRACKED);
	cr_assert_eq(e->state, BL_FLOW_NEW);
	bl_flow_free(t);
}

/* Fill a table of 8 with established TCP flows last seen at `now`. */
/* The worker sizes each expiry slice with bl_flow_expire_budget(t, calls) so
 * that `calls` slices sweep the whole table: every idle flow goes within one
 * sweep, whatever slot it sits in, and no slice does more than the budget. */
Test(flow, expire_budget_sweeps_table_in_calls)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_flow_entry *e;
	const unsigned calls = 7;
	unsigned budget = bl_flow_expire_budget(t, calls), n = 0;

	cr_assert_eq(bl_flow_expire_budget(t, 0), bl_flow_expire_budget(t, 1));
	cr_assert_gt(budget, 0);
	for (unsigned i = 0; i < 40; i++) {
		struct bl_pkt p = pkt4(UDP, 1, (uint16_t)(5000 + i), 2, 53, 0);

		step(t, &p, 0, &e);
	}
	cr_assert_eq(bl_flow_count(t), 40);
	for (unsigned i = 0; i < calls; i++) {
		unsigned d = bl_flow_expire(t, SEC(1000), budget);

		cr_assert_leq(d, budget);
		n += d;
	}
	cr_assert_eq(n, 40, "one sweep of %u slices of %u expired %u of 40", calls, budget, n);
	cr_assert_eq(bl_flow_count(t), 0);
	bl_flow_free(t);
}

static void fill(struct bl_flow_table *t, uint64_t now)
{
	struct bl_flow_entry *e;

	for (unsigned i = 0; i < 8; i++) {
		struct bl_pkt p = pkt4(TCP, 1, (uint16_t)(10000 + i), 2, 80, SYN);
		struct bl_pkt r = pkt4(TCP, 2, 80, 1, (uint16_t)(10000 + i), SYN | ACK);

		cr_assert_eq(step(t, &p, now, &e), BL_FLOW_TRACKED, "flow %u", i);
		step(t, &r, now, &e);
		p.l3[0].tcp_flags = ACK;
		step(t, &p, now, &e);
		cr_assert_eq(e->state, BL_FLOW_ESTABLISHED);
	}
	cr_assert_eq(bl_flow_count(t), 8);
}

/* Every filled flow is still found. */
static void all_present(struct bl_flow_table *t, unsigned skip)
{
	for (unsigned i = 0; i < 8; i++) {
		struct bl_pkt p = pkt4(TCP, 1, (uint16_t)(10000 + i), 2, 80, ACK);
		struct bl_flow_key k;
		struct bl_flow_entry *e;

		bl_flow_key_build(&p, &k);
		bl_flow_lookup_burst(t, &k, 1, 0, &e);
		if (i == skip)
			cr_assert_null(e, "flow %u should be gone", i);
		else
			cr_assert_not_null(e, "flow %u evicted", i);
	}
}

Test(flow, full_drop_new)
{
	struct bl_flow_table *t = table(8, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt p = pkt4(UDP, 3, 999, 4, 53, 0);
	struct bl_flow_entry *e = NULL;

	fill(t, 0);
	cr_assert_eq(step(t, &p, SEC(1000), &e), BL_FLOW_DROP_FULL);
	cr_assert_null(e);
	cr_assert_eq(ctr(t)->insert_fail_full, 1);
	cr_assert_eq(ctr(t)->new_dropped_full, 1);
	cr_assert_eq(ctr(t)->evicted_idle, 0);
	cr_assert_eq(bl_flow_count(t), 8);
	all_present(t, 99);
	bl_flow_free(t);
}

Test(flow, full_stateless)
{
	struct bl_flow_table *t = table(8, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_STATELESS);
	struct bl_pkt p = pkt4(TCP, 3, 999, 4, 80, SYN);
	struct bl_flow_entry *e = NULL;

	fill(t, 0);
	cr_assert_eq(step(t, &p, 1, &e), BL_FLOW_PASS_UNTRACKED);
	cr_assert_eq(step(t, &p, 2, &e), BL_FLOW_PASS_UNTRACKED);
	cr_assert_eq(ctr(t)->insert_fail_full, 2);
	cr_assert_eq(ctr(t)->stateless_passed, 2);
	cr_assert_eq(ctr(t)->new_dropped_full, 0);
	cr_assert_eq(bl_flow_count(t), 8);
	/* room again once a flow is removed */
	struct bl_pkt old = pkt4(TCP, 1, 10003, 2, 80, ACK);
	step(t, &old, 3, &e);
	cr_assert_eq(bl_flow_remove(t, e), 0);
	cr_assert_eq(bl_flow_remove(t, e), -ENOENT);
	cr_assert_eq(ctr(t)->removed, 1);
	e = NULL;
	cr_assert_eq(step(t, &p, 4, &e), BL_FLOW_TRACKED);
	cr_assert_eq(e->state, BL_FLOW_SYN_SENT);
	bl_flow_free(t);
}

Test(flow, full_evict_idle_never_evicts_active)
{
	struct bl_flow_table *t = table(8, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_EVICT_IDLE);
	struct bl_pkt p = pkt4(TCP, 3, 999, 4, 80, SYN);
	struct bl_flow_entry *e = NULL;

	fill(t, 0);
	/* every flow idle 5 s < 10 s: nothing may go, the new flow drops */
	cr_assert_eq(step(t, &p, SEC(5), &e), BL_FLOW_DROP_FULL);
	cr_assert_eq(ctr(t)->evicted_idle, 0);
	cr_assert_eq(ctr(t)->new_dropped_full, 1);
	all_present(t, 99);

	/* at 20 s all but flow 5 have been active at 15 s */
	for (unsigned i = 0; i < 8; i++) {
		struct bl_pkt a = pkt4(TCP, 1, (uint16_t)(10000 + i), 2, 80, ACK);

		if (i != 5)
			step(t, &a, SEC(15), &e);
	}
	e = NULL;
	cr_assert_eq(step(t, &p, SEC(20), &e), BL_FLOW_TRACKED);
	cr_assert_eq(e->state, BL_FLOW_SYN_SENT);
	cr_assert_eq(ctr(t)->evicted_idle, 1);
	cr_assert_eq(ctr(t)->insert_fail_full, 2);
	cr_assert_eq(ctr(t)->new_dropped_full, 1);
	cr_assert_eq(bl_flow_count(t), 8);
	all_present(t, 5);
	bl_flow_free(t);
}

/* A hit of the bulk lookup evicted by an earlier packet of the same burst
 * is looked up again, never accounted to the flow that took its slot. */
Test(flow, evicted_within_burst_not_reused)
{
	struct bl_flow_table *t = table(8, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_EVICT_IDLE);
	struct bl_pkt p[2] = {
		pkt4(TCP, 3, 999, 4, 80, SYN),
		pkt4(TCP, 1, 10007, 2, 80, ACK), /* flow 7, idle since 0 */
	};
	struct bl_flow_key k[2];
	struct bl_flow_entry *e[2];
	enum bl_flow_outcome o;

	fill(t, 0);
	for (unsigned i = 0; i < 7; i++) {
		struct bl_pkt a = pkt4(TCP, 1, (uint16_t)(10000 + i), 2, 80, ACK);

		step(t, &a, SEC(15), &e[0]);
	}
	bl_flow_key_build(&p[0], &k[0]);
	bl_flow_key_build(&p[1], &k[1]);
	cr_assert_eq(bl_flow_lookup_burst(t, k, 2, SEC(20), e), 1);
	cr_assert_not_null(e[1]);
	cr_assert_eq(bl_flow_update(t, &k[0], &e[0], 60, SEC(20)), BL_FLOW_TRACKED);
	cr_assert_eq(ctr(t)->evicted_idle, 1);
	/* flow 7 is gone; re-created midstream needs room, none is idle */
	o = bl_flow_update(t, &k[1], &e[1], 60, SEC(20));
	cr_assert_eq(o, BL_FLOW_DROP_FULL, "%s", bl_flow_outcome_name(o));
	cr_assert_eq(e[0]->pkts[0] + e[0]->pkts[1], 1);
	cr_assert_eq(e[0]->state, BL_FLOW_SYN_SENT);
	bl_flow_free(t);
}

Test(flow, config_and_names)
{
	struct bl_flow_config c;

	cr_assert_eq(bl_flow_midstream_parse("drop"), BL_FLOW_MIDSTREAM_DROP);
	cr_assert_eq(bl_flow_full_policy_parse("evict-idle"), BL_FLOW_FULL_EVICT_IDLE);
	cr_assert_eq(bl_flow_full_policy_parse("evict"), -EINVAL);
	cr_assert_str_eq(bl_flow_counter_names[BL_FLOW_NCOUNTERS - 1], "udp_active");
	struct bl_flow_counters z = { .hits = 7 };
	cr_assert_eq(bl_flow_counter_value(&z, 1), 7);
	cr_assert_str_eq(bl_flow_counter_names[1], "hits");

	bl_flow_config_defaults(&c);
	c.max_flows = 4;
	cr_assert_null(bl_flow_create(&c));
	cr_assert_eq(errno, EINVAL);
	bl_flow_config_defaults(&c);
	c.evict_idle_s = 0; /* would let evict-idle take active flows */
	c.full_policy = BL_FLOW_FULL_EVICT_IDLE;
	cr_assert_null(bl_flow_create(&c));
	cr_assert_eq(errno, EINVAL);
}

/* A UDP flow numbered `i`: IPv4 for even i, IPv6 for odd, all distinct. */
static struct bl_pkt nth_flow(uint32_t i)
{
	struct bl_pkt p = pkt4(UDP, 1, (uint16_t)(1024 + (i & 0x7fff)), 2, 53, 0);

	p.l3[0].src[1] = (uint8_t)(i >> 15);
	p.l3[0].src[2] = (uint8_t)(i >> 23);
	if (i & 1) {
		p.l3[0].family = 6;
		p.l3[0].src[0] = 0x20;
		p.l3[0].dst[0] = 0x20;
		p.l3[0].src[15] = 1;
		p.l3[0].dst[15] = 2;
	}
	return p;
}

/* Look every flow of nth_flow(0 .. n-1) up in bursts of 32; count the hits
 * whose entry saw exactly `pkts` packets. */
static uint32_t found(struct bl_flow_table *t, uint32_t n, uint64_t pkts)
{
	struct bl_flow_key k[32];
	struct bl_flow_entry *e[32];
	uint32_t ok = 0;

	for (uint32_t i = 0; i < n; i += 32) {
		unsigned m = RTE_MIN(32u, n - i);

		for (unsigned j = 0; j < m; j++) {
			struct bl_pkt p = nth_flow(i + j);

			cr_assert_eq(bl_flow_key_build(&p, &k[j]), 0);
		}
		bl_flow_lookup_burst(t, k, m, 0, e);
		for (unsigned j = 0; j < m; j++)
			ok += e[j] != NULL && e[j]->pkts[0] + e[j]->pkts[1] == pkts;
	}
	return ok;
}

/* The table holds exactly max_flows flows, each found with its own entry;
 * expiry returns every slot, so the same number fits again. */
Test(flow, holds_max_flows_and_frees_every_slot)
{
	const uint32_t n = 65536;
	struct bl_flow_table *t = table(n, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_flow_entry *e;

	for (unsigned round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < n; i++) {
			struct bl_pkt p = nth_flow(i);

			e = NULL;
			cr_assert_eq(step(t, &p, 0, &e), BL_FLOW_TRACKED, "round %u flow %u", round,
				     i);
		}
		cr_assert_eq(bl_flow_count(t), n);
		cr_assert_eq(found(t, n, 1), n, "round %u", round);
		{
			struct bl_pkt extra = nth_flow(n);

			e = NULL;
			cr_assert_eq(step(t, &extra, 0, &e), BL_FLOW_DROP_FULL);
		}
		cr_assert_eq(bl_flow_expire(t, SEC(1000), n), n);
		cr_assert_eq(bl_flow_count(t), 0);
		cr_assert_eq(bl_flow_spilled(t), 0);
		cr_assert_eq(found(t, n, 1), 0);
	}
	cr_assert_eq(ctr(t)->insert_fail_full, 2);
	cr_assert_eq(ctr(t)->inserts, 2 * n);
	bl_flow_free(t);
}

/* Flows whose first bucket is full go to their second one and are found
 * there; removing them (or the first bucket's) keeps every other one. */
Test(flow, second_bucket)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt p[12];
	struct bl_flow_key k;
	struct bl_flow_entry *e[12], *f;
	uint32_t low = 0;
	unsigned n = 0;

	/* 12 flows whose hashes share their low 8 bits: one first bucket for
	 * any table of up to 256 buckets, and this one has fewer */
	for (uint32_t i = 0; n < 12 && i < 1000000; i++) {
		struct bl_pkt c =
			pkt4(UDP, 1, (uint16_t)(1 + i % 60000), 2, (uint16_t)(1 + i / 60000), 0);

		cr_assert_eq(bl_flow_key_build(&c, &k), 0);
		if (n == 0)
			low = k.hash & 0xff;
		if ((k.hash & 0xff) == low)
			p[n++] = c;
	}
	cr_assert_eq(n, 12);
	for (unsigned i = 0; i < 12; i++) {
		e[i] = NULL;
		cr_assert_eq(step(t, &p[i], 0, &e[i]), BL_FLOW_TRACKED, "flow %u", i);
	}
	cr_assert_eq(bl_flow_spilled(t), 4, "8 ways in the first bucket, 4 spilled");
	for (unsigned i = 0; i < 12; i++) {
		cr_assert_eq(bl_flow_key_build(&p[i], &k), 0);
		bl_flow_lookup_burst(t, &k, 1, 0, &f);
		cr_assert_eq(f, e[i], "flow %u found at its own entry", i);
	}
	/* two of the first bucket and two spilled ones go */
	cr_assert_eq(bl_flow_remove(t, e[0]), 0);
	cr_assert_eq(bl_flow_remove(t, e[3]), 0);
	cr_assert_eq(bl_flow_remove(t, e[9]), 0);
	cr_assert_eq(bl_flow_remove(t, e[11]), 0);
	cr_assert_eq(bl_flow_spilled(t), 2);
	cr_assert_eq(bl_flow_count(t), 8);
	for (unsigned i = 0; i < 12; i++) {
		bool gone = i == 0 || i == 3 || i == 9 || i == 11;

		cr_assert_eq(bl_flow_key_build(&p[i], &k), 0);
		bl_flow_lookup_burst(t, &k, 1, 0, &f);
		cr_assert_eq(f, gone ? NULL : e[i], "flow %u", i);
	}
	/* back in: two fit in the first bucket's free ways, two spill */
	for (unsigned i = 0; i < 12; i++) {
		if (i != 0 && i != 3 && i != 9 && i != 11)
			continue;
		f = NULL;
		cr_assert_eq(step(t, &p[i], 0, &f), BL_FLOW_TRACKED, "flow %u again", i);
	}
	cr_assert_eq(bl_flow_spilled(t), 4);
	cr_assert_eq(bl_flow_count(t), 12);
	bl_flow_free(t);
}

/* The key of an IPv4 flow src:sp -> dst:dp (addresses as host-order words). */
static struct bl_flow_key key4(uint8_t proto, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp,
			       uint16_t vlan)
{
	struct bl_l3 l3;
	struct bl_flow_key k;

	memset(&l3, 0, sizeof(l3));
	l3.family = 4;
	l3.proto = proto;
	l3.flags = BL_L3_HAS_PORTS;
	for (unsigned i = 0; i < 4; i++) {
		l3.src[i] = (uint8_t)(src >> (24 - 8 * i));
		l3.dst[i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	l3.sport = sp;
	l3.dport = dp;
	cr_assert_eq(bl_flow_key_from_l3(&l3, vlan, &k), 0);
	return k;
}

/* Insert `a`, then `b`: each found at its own entry, never the other's. */
static void two_flows(const struct bl_flow_key *a, const struct bl_flow_key *b, const char *what)
{
	struct bl_flow_table *t = table(8, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_flow_entry *ea, *eb, *f;

	bl_flow_lookup_burst(t, a, 1, 0, &ea);
	cr_assert_eq(bl_flow_update(t, a, &ea, 100, 0), BL_FLOW_TRACKED, "%s", what);
	bl_flow_lookup_burst(t, b, 1, 0, &f);
	cr_assert_null(f, "%s: the second flow is not the first", what);
	eb = NULL;
	cr_assert_eq(bl_flow_update(t, b, &eb, 100, 0), BL_FLOW_TRACKED, "%s", what);
	cr_assert_neq(ea, eb, "%s", what);
	bl_flow_lookup_burst(t, a, 1, 0, &f);
	cr_assert_eq(f, ea, "%s: first flow", what);
	bl_flow_lookup_burst(t, b, 1, 0, &f);
	cr_assert_eq(f, eb, "%s: second flow", what);
	cr_assert_eq(bl_flow_count(t), 2);
	bl_flow_free(t);
}

/*
 * A key of kind `kind` (compact_key_tells_flows_apart) that varies with i
 * in the kind's fields. The hash is CRC32-C, linear over GF(2): keys that
 * differ in fewer than 23 bits (one port, the VLAN) never share bucket and
 * signature (so a compare of one of them alone cannot be put to the
 * test), and only an address is varied alone; i is spread over the fields
 * with a multiplication, for the birthday search to find pairs.
 */
static struct bl_flow_key kind_key(unsigned kind, uint32_t i, uint32_t seed)
{
	const uint32_t A = 0x0a000001, B = 0x0a000002;
	uint32_t v = i * 2654435761u;

	switch (kind) {
	/* the second address, then the first (the canonical order puts the
	 * smaller first) */
	case 0: return key4(UDP, A, (uint16_t)(5000 + seed), 0x0b000000 | (v >> 8), 53, 0);
	case 1: return key4(UDP, 0x0b000000 | (v >> 8), (uint16_t)(5000 + seed), 0xc0000001, 53, 0);
	case 2: return key4(UDP, A, (uint16_t)v, B, (uint16_t)(v >> 16), (uint16_t)seed);
	default:
		return key4(v & 1 ? TCP : UDP, A, (uint16_t)(v >> 1), B, (uint16_t)(53 + seed),
			    (uint16_t)(v >> 17 & 0xfff));
	}
}

struct crit {
	uint32_t c, i;
};

static int crit_cmp(const void *x, const void *y)
{
	const struct crit *a = x, *b = y;

	return a->c != b->c ? (a->c < b->c ? -1 : 1) : (a->i < b->i ? -1 : a->i > b->i);
}

/*
 * Two keys of `kind` that differ in its field only and share their first
 * bucket (in any table of up to 256 buckets) and their signature: a
 * birthday search over the field's values.
 */
static bool colliding(unsigned kind, uint32_t n, struct bl_flow_key *a, struct bl_flow_key *b)
{
	struct crit *c = malloc(n * sizeof(*c));
	bool found = false;

	cr_assert_not_null(c);
	for (uint32_t seed = 0; seed < 16 && !found; seed++) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t h = kind_key(kind, i, seed).hash;

			c[i].c = (h & 0xff) | (h >> 17) << 8;
			c[i].i = i;
		}
		qsort(c, n, sizeof(*c), crit_cmp);
		for (uint32_t i = 1; i < n && !found; i++) {
			if (c[i].c != c[i - 1].c)
				continue;
			*a = kind_key(kind, c[i - 1].i, seed);
			*b = kind_key(kind, c[i].i, seed);
			found = memcmp(a, b, BL_FLOW_KEY_LEN) != 0;
		}
	}
	free(c);
	return found;
}

/*
 * IPv4 flows are compared on the compact key in the entry's first line,
 * IPv6 flows on the full key: both must tell apart exactly what the key
 * does. First flows that differ in one field each; then pairs that also
 * share their first bucket and signature, so that the comparison itself
 * decides.
 */
Test(flow, compact_key_tells_flows_apart)
{
	const uint32_t A = 0x0a000001, B = 0x0a000002;
	struct bl_flow_key base = key4(UDP, A, 5000, B, 53, 0), k, k2;
	struct {
		struct bl_flow_key k;
		const char *what;
	} v[] = {
		{ key4(UDP, A, 5000, B, 53, 7), "another VLAN" },
		{ key4(TCP, A, 5000, B, 53, 0), "TCP, same tuple" },
		{ key4(132, A, 5000, B, 53, 0), "SCTP, same tuple" },
		{ key4(1, A, 0, B, 0, 0), "ICMP, no ports" },
		{ key4(UDP, A, 5001, B, 53, 0), "another source port" },
		{ key4(UDP, A, 53, B, 5000, 0), "ports exchanged" },
		{ key4(UDP, A, 5000, B + 256, 53, 0), "another address" },
	};
	static const char *const kinds[] = { "second address", "first address", "ports",
					     "VLAN, protocol, port" };

	for (unsigned i = 0; i < RTE_DIM(v); i++)
		two_flows(&base, &v[i].k, v[i].what);
	/* the same key bytes but for the family: an IPv6 key (full key) in
	 * the same bucket with the same signature, either one first */
	k = base;
	k.family = 6;
	two_flows(&base, &k, "IPv6 after IPv4");
	two_flows(&k, &base, "IPv4 after IPv6");
	/* each field changed alone with the hash kept (as if they collided:
	 * the comparison alone decides) */
	for (unsigned f = 0; f < 6; f++) {
		k = base;
		switch (f) {
		case 0: k.proto = TCP; break;
		case 1: k.vlan = 7; break;
		case 2: k.port[0]++; break;
		case 3: k.port[1]++; break;
		case 4: k.addr[0][3] ^= 0x80; break;
		default: k.addr[1][0] ^= 0x01; break;
		}
		two_flows(&base, &k, "one field, the same hash");
	}
	/* the IPv4 key of zeros (protocol 0, VLAN 0, no ports, 0.0.0.0 at
	 * both ends) after the IPv6 key of the same bytes: what tells them
	 * apart is the VLAN 0xffff in an IPv6 entry's compact form, which no
	 * key has */
	k = key4(0, 0, 0, 0, 0, 0);
	k2 = k;
	k2.family = 6;
	two_flows(&k2, &k, "IPv4 of zeros after IPv6");
	for (unsigned kind = 0; kind < RTE_DIM(kinds); kind++) {
		cr_assert(colliding(kind, 65536, &k, &k2), "a pair: %s", kinds[kind]);
		two_flows(&k, &k2, kinds[kind]);
	}
}

/*
 * bl_flow_track_burst() (the worker's call: lookups, then updates in
 * order, with the inline fast path for packets that change no state) must
 * leave what bl_flow_update() packet by packet leaves: outcomes, entries,
 * per-direction counts, states and table counters. The sequence mixes
 * state changes and repeats of one flow within a burst.
 */
Test(flow, track_burst_matches_per_packet)
{
	struct bl_flow_table *a = table(64, BL_FLOW_MIDSTREAM_DROP, BL_FLOW_FULL_DROP_NEW);
	struct bl_flow_table *b = table(64, BL_FLOW_MIDSTREAM_DROP, BL_FLOW_FULL_DROP_NEW);
	const struct bl_pkt seq[] = {
		pkt4(UDP, 1, 5000, 2, 53, 0),
		pkt4(UDP, 1, 5000, 2, 53, 0),
		pkt4(UDP, 2, 53, 1, 5000, 0),
		pkt4(UDP, 1, 5000, 2, 53, 0),
		pkt4(TCP, 3, 1000, 4, 80, SYN),
		pkt4(TCP, 4, 80, 3, 1000, SYN | ACK),
		pkt4(TCP, 3, 1000, 4, 80, ACK),
		pkt4(TCP, 3, 1000, 4, 80, ACK),
		pkt4(TCP, 4, 80, 3, 1000, ACK),
		pkt4(TCP, 5, 2000, 4, 80, ACK), /* midstream */
		pkt4(TCP, 3, 1000, 4, 80, FIN | ACK),
		pkt4(TCP, 4, 80, 3, 1000, ACK),
		pkt4(TCP, 4, 80, 3, 1000, FIN | ACK),
		pkt4(TCP, 3, 1000, 4, 80, ACK),
		pkt4(TCP, 3, 1000, 4, 80, SYN),
		pkt4(UDP, 2, 53, 1, 5000, 0),
		pkt4(ICMP, 1, 0, 2, 0, 0),
		pkt4(ICMP, 2, 0, 1, 0, 0),
	};
	const unsigned n = RTE_DIM(seq), bursts[] = { 1, 7, 18 };
	struct bl_flow_key k[RTE_DIM(seq)];
	struct bl_flow_entry *ea[RTE_DIM(seq)], *eb[RTE_DIM(seq)];
	uint8_t ob[RTE_DIM(seq)];
	uint32_t bytes[RTE_DIM(seq)];
	uint64_t now = SEC(1);

	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(bl_flow_key_build(&seq[i], &k[i]), 0);
		bytes[i] = 60 + i;
	}
	for (unsigned r = 0; r < RTE_DIM(bursts); r++, now += SEC(1)) {
		for (unsigned at = 0; at < n; at += bursts[r]) {
			unsigned m = RTE_MIN(bursts[r], n - at);

			for (unsigned i = at; i < at + m; i++) {
				enum bl_flow_outcome oa;

				bl_flow_lookup_burst(a, &k[i], 1, now, &ea[i]);
				oa = bl_flow_update(a, &k[i], &ea[i], bytes[i], now);
				if (i == at)
					bl_flow_track_burst(b, &k[at], &bytes[at], m, 0, now,
							    &eb[at], &ob[at]);
				cr_assert_eq(ob[i], oa, "round %u packet %u: outcome %u, want %u",
					     r, i, ob[i], oa);
			}
		}
		for (unsigned i = 0; i < n; i++) {
			if (ob[i] != BL_FLOW_TRACKED)
				continue;
			/* packets share an entry in one table iff they do in the other */
			for (unsigned j = 0; j < i; j++)
				if (ob[j] == BL_FLOW_TRACKED)
					cr_assert_eq(eb[i] == eb[j], ea[i] == ea[j],
						     "round %u packets %u, %u", r, j, i);
			cr_assert_eq(eb[i]->state, ea[i]->state, "round %u packet %u: state", r, i);
			cr_assert_eq(eb[i]->flags, ea[i]->flags, "round %u packet %u: flags", r, i);
			cr_assert_eq(eb[i]->last_tsc, ea[i]->last_tsc);
			for (unsigned d = 0; d < 2; d++) {
				cr_assert_eq(eb[i]->pkts[d], ea[i]->pkts[d], "packet %u dir %u", i,
					     d);
				cr_assert_eq(eb[i]->bytes[d], ea[i]->bytes[d], "packet %u dir %u",
					     i, d);
			}
		}
	}
	/* and what either leaves is right: per direction, over three rounds,
	 * the UDP flow (packets 0-3, 15) and the ICMP echo flow (16, 17) */
	cr_assert_eq(eb[0]->pkts[bl_flow_dir(eb[0], &k[0])], 9);
	cr_assert_eq(eb[2]->pkts[bl_flow_dir(eb[2], &k[2])], 6);
	cr_assert_eq(eb[0]->bytes[bl_flow_dir(eb[0], &k[0])], 3 * (60 + 61 + 63));
	cr_assert_eq(eb[2]->bytes[bl_flow_dir(eb[2], &k[2])], 3 * (62 + 75));
	cr_assert_eq(eb[16]->pkts[0], 3);
	cr_assert_eq(eb[16]->pkts[1], 3);
	/* the sequence went through both paths: states changed and repeats */
	cr_assert_gt(ctr(a)->tcp_established, 0);
	cr_assert_gt(ctr(a)->tcp_closed_fin, 0);
	cr_assert_gt(ctr(a)->tcp_reopened, 0);
	cr_assert_gt(ctr(a)->udp_active, 0);
	cr_assert_gt(ctr(a)->midstream_dropped, 0);
	for (unsigned c = 0; c < BL_FLOW_NCOUNTERS; c++)
		cr_assert_eq(bl_flow_counter_value(ctr(b), c), bl_flow_counter_value(ctr(a), c),
			     "counter %s", bl_flow_counter_names[c]);
	bl_flow_free(a);
	bl_flow_free(b);
}

/* ---- the express lane: keys from frames, bl_flow_express_burst() ---- */

/* A frame under construction (network byte order). */
struct frame {
	uint8_t b[256];
	uint32_t n;
};

static void fput(struct frame *f, const void *p, uint32_t n)
{
	cr_assert_leq(f->n + n, sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void fput16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	fput(f, b, 2);
}

/*
 * Ethernet with `nvlan` tags (ids 100, 101, ...), IPv4 (`opt` bytes of
 * options, flags/offset word `frag`) or IPv6 from address byte `a` to `b`
 * (10.0.0.a to 10.0.0.b, fd00::a to fd00::b: the ends sort as a and b do),
 * then `proto`'s header (TCP with `tcp_flags`; UDP; anything else 8 bytes)
 * and 10 bytes of payload; every length field right.
 */
static void frame_build(struct frame *f, unsigned nvlan, int family, uint8_t proto, uint8_t a,
			uint16_t sp, uint8_t b, uint16_t dp, uint8_t tcp_flags, unsigned opt,
			uint16_t frag)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	uint8_t l4[20] = { 0 }, pay[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	uint32_t l4len = proto == TCP ? 20 : 8;
	uint32_t dlen = l4len + sizeof(pay);

	memset(f, 0, sizeof(*f));
	fput(f, macs, 12);
	for (unsigned i = 0; i < nvlan; i++) {
		fput16(f, i == 0 ? 0x88a8 : 0x8100);
		fput16(f, (uint16_t)(100 + i));
	}
	fput16(f, family == 4 ? 0x0800 : 0x86dd);
	if (family == 4) {
		uint8_t h[20] = { (uint8_t)(0x45 + opt / 4),
				  0,
				  0,
				  0,
				  0x12,
				  0x34,
				  0,
				  0,
				  64,
				  proto,
				  0,
				  0,
				  10,
				  0,
				  0,
				  a,
				  10,
				  0,
				  0,
				  b };
		uint8_t o[40] = { 0 };

		h[2] = (uint8_t)((20 + opt + dlen) >> 8);
		h[3] = (uint8_t)(20 + opt + dlen);
		h[6] = (uint8_t)(frag >> 8);
		h[7] = (uint8_t)frag;
		fput(f, h, 20);
		fput(f, o, opt);
	} else {
		uint8_t h[40] = { 0x60, 0, 0, 0, 0, 0, proto, 64 };

		h[4] = (uint8_t)(dlen >> 8);
		h[5] = (uint8_t)dlen;
		h[8] = h[24] = 0xfd;
		h[23] = a;
		h[39] = b;
		fput(f, h, 40);
	}
	l4[0] = (uint8_t)(sp >> 8);
	l4[1] = (uint8_t)sp;
	l4[2] = (uint8_t)(dp >> 8);
	l4[3] = (uint8_t)dp;
	if (proto == TCP) {
		l4[12] = 0x50;
		l4[13] = tcp_flags;
	} else {
		l4[4] = (uint8_t)(dlen >> 8);
		l4[5] = (uint8_t)dlen;
	}
	fput(f, l4, l4len);
	fput(f, pay, sizeof(pay));
}

static struct bl_flow_table *express_table;

/*
 * The property the express lane rests on: when bl_flow_key_frame() takes
 * `len` bytes of a frame (wire length `wire`), the parser takes them as a
 * one-layer IP packet and bl_flow_key_build() on its record gives the
 * same key, byte for byte (hash, side and TCP flags included). Returns
 * whether the frame was taken.
 */
static bool check_frame_key(const uint8_t *d, uint32_t len, uint32_t wire)
{
	struct bl_flow_key k1, k2;
	struct bl_pkt p;

	if (bl_flow_key_frame(express_table, d, len, wire, &k1) != 0)
		return false;
	cr_assert_eq(bl_parse(d, len, wire, BL_LINK_ETHER, &p), BL_PARSE_OK,
		     "express took a frame the parser refuses (len %u)", len);
	cr_assert_eq(p.nlayers, 1);
	cr_assert_eq(bl_flow_key_build(&p, &k2), 0);
	cr_assert_eq(memcmp(&k1, &k2, sizeof(k1)), 0, "express key differs (len %u)", len);
	return true;
}

Test(flow, key_frame_is_the_parsers_key)
{
	struct frame f;
	unsigned taken = 0, tried = 0;
	uint32_t seed = 12345;

	express_table = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	/* what the lane must take, both directions (and both when the
	 * addresses tie and the ports decide, and a whole tie), 0 to 2 VLAN
	 * tags */
	for (unsigned nv = 0; nv <= 2; nv++)
		for (int fam = 4; fam <= 6; fam += 2)
			for (int pr = 0; pr < 2; pr++)
				for (int dir = 0; dir < 5; dir++) {
					static const uint8_t ea[5] = { 3, 9, 5, 5, 5 },
							     eb[5] = { 9, 3, 5, 5, 5 };
					static const uint16_t pa[5] = { 4000, 4000, 4000, 443, 53 },
							      pb[5] = { 443, 443, 443, 4000, 53 };

					frame_build(&f, nv, fam, pr ? TCP : UDP, ea[dir], pa[dir],
						    eb[dir], pb[dir], ACK, 0, 0);
					cr_assert(check_frame_key(f.b, f.n, f.n),
						  "plain frame not taken (vlans %u, IPv%d, %s)", nv,
						  fam, pr ? "TCP" : "UDP");
				}
	/* what it must leave to the parser */
	frame_build(&f, 3, 4, UDP, 1, 1000, 2, 2000, 0, 0, 0);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "three VLAN tags");
	frame_build(&f, 0, 4, UDP, 1, 1000, 2, 2000, 0, 4, 0);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "IPv4 options");
	frame_build(&f, 0, 4, UDP, 1, 1000, 2, 2000, 0, 0, 0x2000);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "first fragment (MF)");
	frame_build(&f, 0, 4, TCP, 1, 1000, 2, 2000, ACK, 0, 0x0001);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "later fragment");
	frame_build(&f, 0, 4, ICMP, 1, 0x0800, 2, 0, 0, 0, 0);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "ICMP");
	frame_build(&f, 0, 6, 132, 1, 1000, 2, 2000, 0, 0, 0);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "SCTP");
	frame_build(&f, 0, 4, UDP, 1, 1000, 2, 4789, 0, 0, 0);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "VXLAN");
	frame_build(&f, 0, 6, UDP, 1, 3544, 2, 2000, 0, 0, 0);
	cr_assert_not(check_frame_key(f.b, f.n, f.n), "Teredo");

	/* every cut, and random damage, of frames of every shape: whatever
	 * the lane takes, the parser takes with the same key */
	for (unsigned nv = 0; nv <= 3; nv++)
		for (int fam = 4; fam <= 6; fam += 2)
			for (int pr = 0; pr < 4; pr++) {
				static const uint8_t protos[4] = { TCP, UDP, ICMP, 132 };

				frame_build(&f, nv, fam, protos[pr], 7, 5000, 7, 6000, SYN | ACK,
					    pr == 0 && fam == 4 ? 8 : 0, 0);
				for (uint32_t len = 0; len <= f.n; len++) {
					taken += check_frame_key(f.b, len, len);
					taken += check_frame_key(f.b, len, f.n);
					tried += 2;
				}
				/* untagged IPv4 has a key path of its own: more damage */
				for (unsigned r = 0; r < (nv == 0 && fam == 4 ? 4000u : 400u);
				     r++) {
					struct frame g = f;

					for (unsigned k = 0; k < 1 + r % 3; k++) {
						seed = seed * 1103515245u + 12345u;
						g.b[(seed >> 8) % g.n] ^=
							(uint8_t)(1u << (seed >> 28 & 7));
					}
					taken += check_frame_key(g.b, g.n, g.n);
					tried++;
				}
			}
	/* the loops above exercise both answers */
	cr_assert_gt(taken, 100);
	cr_assert_lt(taken, tried);
	bl_flow_free(express_table);
}

/* Key and bytes of an IPv4 flow packet for bl_flow_express_burst(). */
static void express_key(struct bl_flow_key *k, uint8_t proto, uint8_t a, uint16_t sp, uint8_t b,
			uint16_t dp, uint8_t flags)
{
	struct bl_pkt p = pkt4(proto, a, sp, b, dp, flags);

	cr_assert_eq(bl_flow_key_build(&p, k), 0);
}

Test(flow, express_takes_allowed_flows_in_order)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt pu = pkt4(UDP, 1, 5000, 2, 53, 0), pt = pkt4(TCP, 1, 6000, 2, 443, SYN);
	struct bl_pkt pd = pkt4(UDP, 1, 5001, 2, 53, 0);
	struct bl_flow_entry *u, *tc, *d, *out[8];
	struct bl_flow_key k[8];
	uint32_t bytes[8] = { 100, 100, 100, 100, 100, 100, 100, 100 };
	uint32_t cand[8];
	uint8_t tk[8];
	const uint8_t ALLOW = 1, DROP = 2;
	struct bl_flow_counters c0;
	unsigned n;

	/* a UDP flow, a TCP flow through its handshake, both allowed by
	 * generation 5; a third flow dropped */
	step(t, &pu, SEC(1), &u);
	step(t, &pd, SEC(1), &d);
	step(t, &pt, SEC(1), &tc);
	pt = pkt4(TCP, 2, 443, 1, 6000, SYN | ACK);
	step(t, &pt, SEC(1), &tc);
	pt = pkt4(TCP, 1, 6000, 2, 443, ACK);
	step(t, &pt, SEC(1), &tc);
	cr_assert_eq(tc->state, BL_FLOW_ESTABLISHED);
	bl_flow_verdict_set(u, ALLOW, 5, 3, 30);
	bl_flow_verdict_set(tc, ALLOW, 5, 4, 40);
	bl_flow_verdict_set(d, DROP, 5, 6, 60);

	/* the dropped flow's packets are refused, the others' around them taken */
	express_key(&k[0], UDP, 1, 5000, 2, 53, 0);
	express_key(&k[1], TCP, 2, 443, 1, 6000, ACK); /* a reply */
	express_key(&k[2], UDP, 1, 5001, 2, 53, 0);
	express_key(&k[3], UDP, 2, 53, 1, 5000, 0); /* a reply */
	express_key(&k[4], UDP, 2, 53, 1, 5001, 0);
	c0 = *ctr(t);
	n = bl_flow_express_burst(t, k, bytes, 5, SEC(2), ALLOW, 5, NULL, out, tk);
	cr_assert_eq(n, 3);
	cr_assert(tk[0] && tk[1] && !tk[2] && tk[3] && !tk[4]);
	cr_assert_eq(out[0], u);
	cr_assert_eq(out[1], tc);
	cr_assert_eq(out[3], u);
	/* accounted as bl_flow_update() does: per direction, time stamp, state */
	cr_assert_eq(u->pkts[0], 2);
	cr_assert_eq(u->pkts[1], 1);
	cr_assert_eq(u->bytes[1], 100);
	cr_assert_eq(u->state, BL_FLOW_ACTIVE, "the reply made the UDP flow active");
	cr_assert_eq(ctr(t)->udp_active - c0.udp_active, 1);
	cr_assert_eq(u->last_tsc, SEC(2));
	cr_assert_eq(tc->pkts[1], 2);
	cr_assert_eq(d->pkts[0], 1, "packets not taken are not accounted");
	cr_assert_eq(d->pkts[1], 0);
	/* counted: the packets taken only, all hits */
	cr_assert_eq(ctr(t)->lookups - c0.lookups, 3);
	cr_assert_eq(ctr(t)->hits - c0.hits, 3);

	/* a flow with a refused packet: its later packets wait behind it, the
	 * other flows' do not (here a FIN, which the long way must see first) */
	express_key(&k[0], TCP, 1, 6000, 2, 443, FIN | ACK);
	express_key(&k[1], UDP, 1, 5000, 2, 53, 0);
	express_key(&k[2], TCP, 2, 443, 1, 6000, ACK);
	/* (this time the way the worker's lookahead calls it: slots requested
	 * first, then the lookup without its own prefetch passes) */
	bl_flow_prefetch_slots(t, k, 3, cand);
	n = bl_flow_express_burst(t, k, bytes, 3, SEC(2), ALLOW, 5, cand, out, tk);
	cr_assert_eq(n, 1);
	cr_assert(!tk[0] && tk[1] && !tk[2]);
	cr_assert_eq(tc->pkts[0], 2, "the TCP flow's packets were left alone");
	cr_assert_eq(tc->pkts[1], 2);
	cr_assert_eq(tc->state, BL_FLOW_ESTABLISHED);

	/* a candidate is a hint: wrong ones (another flow's slot, none, out
	 * of range) give the same lookups; the packets are taken and counted */
	express_key(&k[0], UDP, 1, 5000, 2, 53, 0);
	express_key(&k[1], UDP, 2, 53, 1, 5000, 0);
	express_key(&k[2], TCP, 2, 443, 1, 6000, ACK);
	bl_flow_prefetch_slots(t, k, 3, cand);
	cr_assert(cand[0] == cand[1] && cand[0] != cand[2] && cand[2] != BL_FLOW_NO_CAND);
	cand[0] = cand[2];
	cand[1] = BL_FLOW_NO_CAND;
	cand[2] = UINT32_MAX - 1;
	cr_assert_eq(bl_flow_express_burst(t, k, bytes, 3, SEC(2), ALLOW, 5, cand, out, tk), 3);
	cr_assert(out[0] == u && out[1] == u && out[2] == tc);
	cr_assert_eq(tc->pkts[1], 3);
	c0.lookups += 3; /* taken: counted as lookups */

	/* another generation: nothing taken */
	express_key(&k[0], UDP, 1, 5000, 2, 53, 0);
	cr_assert_eq(bl_flow_express_burst(t, k, bytes, 1, SEC(2), ALLOW, 6, NULL, out, tk), 0);
	cr_assert_eq(tk[0], 0);
	/* a miss (no flow yet): nothing taken, nothing created */
	express_key(&k[0], UDP, 1, 5999, 2, 53, 0);
	n = bl_flow_count(t);
	cr_assert_eq(bl_flow_express_burst(t, k, bytes, 1, SEC(2), ALLOW, 5, NULL, out, tk), 0);
	cr_assert_eq(bl_flow_count(t), n);
	/* TCP SYN, FIN or RST: left for the long way (state changes) */
	for (int i = 0; i < 3; i++) {
		static const uint8_t fl[3] = { SYN, FIN | ACK, RST };

		express_key(&k[0], TCP, 1, 6000, 2, 443, fl[i]);
		cr_assert_eq(bl_flow_express_burst(t, k, bytes, 1, SEC(2), ALLOW, 5, NULL, out, tk),
			     0, "flags 0x%x", fl[i]);
	}
	cr_assert_eq(tc->state, BL_FLOW_ESTABLISHED);
	cr_assert_eq(ctr(t)->lookups - c0.lookups, 4, "refused packets are not counted");

	/* a freed slot as the candidate: a deleted entry is zeroed, and no
	 * key matches it, not even IPv4's of zeros (protocol 0, 0.0.0.0) */
	{
		struct bl_flow_key z = key4(0, 0, 0, 0, 0, 0);
		struct bl_flow_entry *ze = NULL;
		uint32_t zc;

		cr_assert_eq(bl_flow_update(t, &z, &ze, 100, SEC(2)), BL_FLOW_TRACKED);
		bl_flow_prefetch_slots(t, &z, 1, &zc);
		cr_assert_neq(zc, BL_FLOW_NO_CAND);
		cr_assert_eq(bl_flow_remove(t, ze), 0);
		cr_assert_eq(bl_flow_express_burst(t, &z, bytes, 1, SEC(2), ALLOW, 5, &zc, out, tk),
			     0);
		cr_assert_null(out[0], "the freed slot is no flow's");
	}
	bl_flow_free(t);
}

/* The express lane's refused packets go on to bl_flow_track_burst() with
 * their lookup: not looked up again, counted once, created or updated as
 * if looked up there. */
Test(flow, track_burst_takes_the_express_lookups)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct bl_pkt px = pkt4(UDP, 1, 5000, 2, 53, 0), pz = pkt4(UDP, 1, 5002, 2, 53, 0);
	struct bl_flow_entry *x, *z, *out[4];
	struct bl_flow_key k[4];
	uint32_t bytes[4] = { 60, 70, 80, 90 };
	uint8_t tk[4], oc[4];
	struct bl_flow_counters c0;

	step(t, &px, SEC(1), &x);
	step(t, &pz, SEC(1), &z);
	bl_flow_verdict_set(x, 1, 5, 3, 30);
	bl_flow_verdict_set(z, 2, 5, 4, 40);
	c0 = *ctr(t);
	express_key(&k[0], UDP, 1, 5000, 2, 53, 0); /* x: taken */
	express_key(&k[1], UDP, 1, 5001, 2, 53, 0); /* y: new, a miss */
	express_key(&k[2], UDP, 2, 53, 1, 5002, 0); /* z: another verdict */
	cr_assert_eq(bl_flow_express_burst(t, k, bytes, 3, SEC(2), 1, 5, NULL, out, tk), 1);
	cr_assert(tk[0] && !tk[1] && !tk[2]);
	cr_assert_null(out[1]);
	cr_assert_eq(out[2], z);
	/* the worker moves the refused ones to the front, lookups with them */
	k[0] = k[1];
	k[1] = k[2];
	out[0] = out[1];
	out[1] = out[2];
	bytes[0] = bytes[1];
	bytes[1] = bytes[2];
	bl_flow_track_burst(t, k, bytes, 2, 2, SEC(2), out, oc);
	cr_assert_eq(oc[0], BL_FLOW_TRACKED);
	cr_assert_not_null(out[0], "the miss created its flow");
	cr_assert_eq(out[0]->bytes[0], 70);
	cr_assert_eq(oc[1], BL_FLOW_TRACKED);
	cr_assert_eq(out[1], z);
	cr_assert_eq(z->pkts[1], 1);
	cr_assert_eq(z->bytes[1], 80);
	/* three packets, three lookups, two hits, one insert: as the long way alone */
	cr_assert_eq(ctr(t)->lookups - c0.lookups, 3);
	cr_assert_eq(ctr(t)->hits - c0.hits, 2);
	cr_assert_eq(ctr(t)->inserts - c0.inserts, 1);
	cr_assert_eq(bl_flow_count(t), 3);
	bl_flow_free(t);
}

/* More refused flows in one call than the lane remembers: it takes nothing
 * after that (it could no longer tell whose packets must wait). */
Test(flow, express_stops_past_its_refused_flows)
{
	struct bl_flow_table *t = table(256, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	enum { N = BL_FLOW_BURST_MAX + 3 };
	struct bl_flow_key k[N];
	struct bl_flow_entry *e, *out[N];
	uint32_t bytes[N];
	uint8_t tk[N];

	for (unsigned i = 0; i < N; i++) {
		struct bl_pkt p = pkt4(UDP, 1, (uint16_t)(1000 + i), 2, 53, 0);

		step(t, &p, SEC(1), &e);
		/* the first BL_FLOW_BURST_MAX + 1 flows have another verdict */
		bl_flow_verdict_set(e, i <= BL_FLOW_BURST_MAX ? 2 : 1, 5, 3, 30);
		express_key(&k[i], UDP, 1, (uint16_t)(1000 + i), 2, 53, 0);
		bytes[i] = 60;
	}
	cr_assert_eq(bl_flow_express_burst(t, k, bytes, N, SEC(2), 1, 5, NULL, out, tk), 0);
	for (unsigned i = 0; i < N; i++) {
		cr_assert_eq(tk[i], 0, "packet %u", i);
		cr_assert_not_null(out[i], "packet %u: its lookup is kept", i);
	}
	/* with one refused flow fewer, the allowed ones are taken */
	cr_assert_eq(bl_flow_express_burst(t, k + 1, bytes, N - 1, SEC(2), 1, 5, NULL, out, tk), 2);
	cr_assert(tk[N - 3] && tk[N - 2]);
	bl_flow_free(t);
}

/* The burst form over mbufs: the leading run of fast-path frames, each
 * keyed as bl_flow_key_frame() keys it, with its length. */
Test(flow, key_frames_takes_the_leading_run)
{
	struct bl_flow_table *t = table(64, BL_FLOW_MIDSTREAM_TRACK, BL_FLOW_FULL_DROP_NEW);
	struct rte_mempool *mp =
		rte_pktmbuf_pool_create("bl_test_kf", 63, 0, 0, 2048, SOCKET_ID_ANY);
	struct rte_mbuf *m[4];
	struct bl_flow_key keys[4], k;
	uint32_t bytes[4];
	struct frame f[4];

	cr_assert_not_null(mp);
	frame_build(&f[0], 0, 4, UDP, 1, 1000, 2, 53, 0, 0, 0);
	frame_build(&f[1], 1, 6, TCP, 2, 443, 1, 40000, ACK, 0, 0);
	frame_build(&f[2], 0, 4, ICMP, 1, 0x0800, 2, 0, 0, 0, 0);
	frame_build(&f[3], 0, 4, UDP, 3, 1000, 4, 53, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		m[i] = rte_pktmbuf_alloc(mp);
		cr_assert_not_null(m[i]);
		memcpy(rte_pktmbuf_append(m[i], (uint16_t)f[i].n), f[i].b, f[i].n);
	}
	cr_assert_eq(bl_flow_key_frames(t, m, 4, keys, bytes), 2, "stops at the ICMP frame");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(bl_flow_key_frame(t, f[i].b, f[i].n, f[i].n, &k), 0);
		cr_assert_eq(memcmp(&k, &keys[i], sizeof(k)), 0, "packet %d", i);
		cr_assert_eq(bytes[i], f[i].n);
	}
	cr_assert_eq(bl_flow_key_frames(t, m + 3, 1, keys, bytes), 1);
	rte_pktmbuf_free_bulk(m, 4);
	rte_mempool_free(mp);
	bl_flow_free(t);
}
