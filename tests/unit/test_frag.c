/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker fragment table: later fragments follow the first's
 * verdict, wait for it within their budgets and come back in arrival
 * order, time out with their mbufs freed (the test mempool's count must
 * come back: nothing leaks), and the pre-judging checks (tiny first
 * fragment, TCP at offset 8, atomic fragments). Time is a fake TSC.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "frag.h"
#include "eal_down.h"

#define TSC_HZ 1000ull
#define SEC(s) ((uint64_t)(s)*TSC_HZ)

#define TCP  6
#define UDP  17
#define ICMP 1
#define SCTP 132
#define GRE  47

#define NB_MBUF 63

static struct rte_mempool *mp;

static void eal_up(void)
{
	char *argv[] = { "test_frag",
			 "--no-huge",
			 "--no-shconf",
			 "--no-pci",
			 "--no-telemetry",
			 "--file-prefix=bl-test-frag",
			 "--log-level=error",
			 "-l",
			 "0",
			 NULL };

	cr_assert_geq(rte_eal_init(RTE_DIM(argv) - 1, argv), 0, "rte_eal_init failed");
	mp = rte_pktmbuf_pool_create("test_frag", NB_MBUF, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     SOCKET_ID_ANY);
	cr_assert_not_null(mp, "mempool");
}

static void eal_down(void)
{
	rte_mempool_free(mp);
	bl_test_eal_cleanup();
}

TestSuite(frag, .init = eal_up, .fini = eal_down, .timeout = 60);

/*
 * An IPv4 fragment record 10.0.0.1 -> 10.0.0.2, id `id`, payload bytes
 * [off, off + len), more fragments after it when `mf`.
 */
static struct bl_pkt frag4(uint8_t proto, uint32_t id, uint16_t off, uint16_t len, bool mf)
{
	struct bl_pkt p;
	struct bl_l3 *l3 = &p.l3[0];

	memset(&p, 0, sizeof(p));
	p.outcome = BL_PARSE_OK;
	p.nlayers = 1;
	p.ethertype = 0x0800;
	p.l2_len = 14;
	l3->family = 4;
	l3->proto = proto;
	l3->l3_off = 14;
	l3->l4_off = 34;
	l3->l3_len = (uint16_t)(20 + len);
	l3->frag_off = off;
	l3->frag_id = id;
	l3->flags = BL_L3_FRAG | (off ? BL_L3_FRAG_LATER : BL_L3_FRAG_FIRST) | (mf ? BL_L3_MF : 0);
	l3->src[0] = 10;
	l3->src[3] = 1;
	l3->dst[0] = 10;
	l3->dst[3] = 2;
	if (off == 0 && (proto == TCP || proto == UDP))
		l3->flags |= BL_L3_HAS_PORTS;
	return p;
}

static struct bl_frag_key key(uint8_t proto, uint32_t id, uint16_t off, uint16_t len, bool mf)
{
	struct bl_pkt p = frag4(proto, id, off, len, mf);
	struct bl_frag_key k;

	cr_assert_eq(bl_frag_key_build(&p, &k), 0);
	return k;
}

static struct bl_frag_table *table(uint32_t max_held, uint32_t per_dgram)
{
	struct bl_frag_config c;
	struct bl_frag_table *t;

	bl_frag_config_defaults(&c);
	c.name = "test_frag";
	c.max_datagrams = 16;
	c.max_held = max_held;
	c.max_held_per_dgram = per_dgram;
	c.timeout_s = 30;
	c.tsc_hz = TSC_HZ;
	t = bl_frag_create(&c);
	cr_assert_not_null(t, "bl_frag_create: %s", strerror(errno));
	return t;
}

static struct rte_mbuf *mbuf(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

	cr_assert_not_null(m);
	return m;
}

static const struct bl_frag_counters *ctr(struct bl_frag_table *t)
{
	return bl_frag_counters(t);
}

Test(frag, first_then_later_follow)
{
	struct bl_frag_table *t = table(16, 8);
	struct bl_frag_key k1 = key(UDP, 7, 0, 1480, true);
	struct bl_frag_key k2 = key(UDP, 7, 1480, 1480, true);
	struct bl_frag_key k3 = key(UDP, 7, 2960, 100, false);
	struct rte_mbuf *rel[8], *m = mbuf();
	uint8_t v = 0;

	cr_assert_eq(bl_frag_first(t, &k1, 5, false, 1, rel, 8), 0);
	cr_assert_eq(bl_frag_count(t), 1);
	cr_assert_eq(bl_frag_later(t, &k2, m, 2, &v), BL_FRAG_FOLLOW);
	cr_assert_eq(v, 5);
	v = 0;
	cr_assert_eq(bl_frag_later(t, &k3, m, 3, &v), BL_FRAG_FOLLOW);
	cr_assert_eq(v, 5);
	/* last fragment seen and every byte covered: the entry is gone */
	cr_assert_eq(bl_frag_count(t), 0);
	cr_assert_eq(ctr(t)->completed, 1);
	cr_assert_eq(ctr(t)->followed, 2);
	cr_assert_eq(ctr(t)->firsts, 1);
	cr_assert_eq(bl_frag_held(t), 0);
	rte_pktmbuf_free(m);
	bl_frag_free(t);
}

Test(frag, dropped_first_drops_later)
{
	struct bl_frag_table *t = table(16, 8);
	struct bl_frag_key k1 = key(TCP, 9, 0, 1480, true);
	struct bl_frag_key k2 = key(TCP, 9, 1480, 1480, true);
	struct bl_frag_key other = key(TCP, 10, 1480, 1480, true);
	struct rte_mbuf *rel[8], *m = mbuf();
	uint8_t v = 0xee;

	cr_assert_eq(bl_frag_first(t, &k1, 2, true, 1, rel, 8), 0);
	cr_assert_eq(bl_frag_later(t, &k2, m, 2, &v), BL_FRAG_DROP);
	cr_assert_eq(v, 0xee);
	cr_assert_eq(ctr(t)->drop_follow_drop, 1);
	/* another datagram (other id) is not affected: it waits */
	cr_assert_eq(bl_frag_later(t, &other, m, 2, &v), BL_FRAG_HELD);
	cr_assert_eq(bl_frag_held(t), 1);
	bl_frag_free(t); /* frees the held mbuf */
	cr_assert_eq(rte_mempool_avail_count(mp), NB_MBUF);
}

Test(frag, held_released_in_arrival_order)
{
	struct bl_frag_table *t = table(16, 8);
	unsigned start = rte_mempool_avail_count(mp);
	struct rte_mbuf *m[3], *rel[8];
	uint16_t offs[3] = { 2960, 1480, 4440 }; /* out of order on the wire */
	struct bl_frag_key first = key(UDP, 0x1234, 0, 1480, true);
	uint8_t v;
	int n;

	for (unsigned i = 0; i < 3; i++) {
		struct bl_frag_key k = key(UDP, 0x1234, offs[i], 1480, i != 2);

		m[i] = mbuf();
		cr_assert_eq(bl_frag_later(t, &k, m[i], 10 + i, &v), BL_FRAG_HELD);
	}
	cr_assert_eq(bl_frag_held(t), 3);
	cr_assert_eq(ctr(t)->held, 3);
	n = bl_frag_first(t, &first, 4, false, 20, rel, 8);
	cr_assert_eq(n, 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(rel[i], m[i], "released[%u] out of order", i);
	cr_assert_eq(bl_frag_held(t), 0);
	cr_assert_eq(ctr(t)->released, 3);
	/* all 4 * 1480 bytes seen, last included: complete */
	cr_assert_eq(bl_frag_count(t), 0);
	cr_assert_eq(ctr(t)->completed, 1);
	for (unsigned i = 0; i < 3; i++)
		rte_pktmbuf_free(rel[i]);
	cr_assert_eq(rte_mempool_avail_count(mp), start);
	bl_frag_free(t);
}

Test(frag, held_then_dropped_first)
{
	struct bl_frag_table *t = table(16, 8);
	struct bl_frag_key k2 = key(TCP, 3, 1480, 1480, true);
	struct bl_frag_key k1 = key(TCP, 3, 0, 1480, true);
	struct rte_mbuf *m = mbuf(), *rel[8];
	uint8_t v;

	cr_assert_eq(bl_frag_later(t, &k2, m, 1, &v), BL_FRAG_HELD);
	cr_assert_eq(bl_frag_first(t, &k1, 2, true, 2, rel, 8), 1);
	cr_assert_eq(rel[0], m);
	cr_assert_eq(ctr(t)->drop_follow_drop, 1);
	rte_pktmbuf_free(rel[0]);
	cr_assert_eq(rte_mempool_avail_count(mp), NB_MBUF);
	bl_frag_free(t);
}

Test(frag, hold_budget_and_per_datagram_limit)
{
	struct bl_frag_table *t = table(4, 3);
	struct rte_mbuf *m;
	uint8_t v;

	/* datagram A: three held, the fourth is over the per-datagram limit */
	for (unsigned i = 0; i < 4; i++) {
		struct bl_frag_key k = key(UDP, 100, (uint16_t)(1480 * (i + 1)), 1480, true);
		enum bl_frag_result r;

		m = mbuf();
		r = bl_frag_later(t, &k, m, 1, &v);
		cr_assert_eq(r, i < 3 ? BL_FRAG_HELD : BL_FRAG_DROP, "fragment %u: %s", i,
			     bl_frag_result_name(r));
		if (r == BL_FRAG_DROP)
			rte_pktmbuf_free(m);
	}
	cr_assert_eq(ctr(t)->drop_dgram_limit, 1);
	/* datagram B: one fits the table's budget of 4, the next does not */
	for (unsigned i = 0; i < 2; i++) {
		struct bl_frag_key k = key(UDP, 200, (uint16_t)(1480 * (i + 1)), 1480, true);
		enum bl_frag_result r;

		m = mbuf();
		r = bl_frag_later(t, &k, m, 1, &v);
		cr_assert_eq(r, i < 1 ? BL_FRAG_HELD : BL_FRAG_DROP);
		if (r == BL_FRAG_DROP)
			rte_pktmbuf_free(m);
	}
	cr_assert_eq(ctr(t)->drop_hold_budget, 1);
	cr_assert_eq(bl_frag_held(t), 4);
	cr_assert_eq(rte_mempool_avail_count(mp), NB_MBUF - 4);

	/* the timeout frees them all */
	cr_assert_eq(bl_frag_expire(t, SEC(30), 100), 0);
	cr_assert_eq(bl_frag_expire(t, SEC(30) + 2, 100), 2);
	cr_assert_eq(bl_frag_held(t), 0);
	cr_assert_eq(bl_frag_count(t), 0);
	cr_assert_eq(ctr(t)->drop_timeout, 4);
	cr_assert_eq(ctr(t)->timeouts, 2);
	cr_assert_eq(rte_mempool_avail_count(mp), NB_MBUF);
	bl_frag_free(t);
}

/* A budget of 0 holds nothing: later-before-first fragments drop. */
Test(frag, zero_budget_never_holds)
{
	struct bl_frag_table *t = table(0, 8);
	struct bl_frag_key k = key(UDP, 5, 1480, 1480, true);
	struct rte_mbuf *m = mbuf();
	uint8_t v;

	cr_assert_eq(bl_frag_later(t, &k, m, 1, &v), BL_FRAG_DROP);
	cr_assert_eq(ctr(t)->drop_hold_budget, 1);
	cr_assert_eq(bl_frag_held(t), 0);
	rte_pktmbuf_free(m);
	bl_frag_free(t);
}

Test(frag, timeout_bounded_and_no_leak)
{
	struct bl_frag_table *t = table(32, 8);
	unsigned start = rte_mempool_avail_count(mp), n = 0, i;
	uint8_t v;

	/* 5 datagrams with 2 held fragments each, created at t = 0 */
	for (i = 0; i < 10; i++) {
		struct bl_frag_key k =
			key(SCTP, 50 + i / 2, (uint16_t)(1480 * (i % 2 + 1)), 1480, true);

		cr_assert_eq(bl_frag_later(t, &k, mbuf(), 0, &v), BL_FRAG_HELD);
	}
	cr_assert_eq(rte_mempool_avail_count(mp), start - 10);
	/* budget 1: at most one datagram per call; all once round */
	for (i = 0; i < 100; i++) {
		unsigned d = bl_frag_expire(t, SEC(31), 1);

		cr_assert_leq(d, 1);
		n += d;
	}
	cr_assert_eq(n, 5);
	cr_assert_eq(ctr(t)->drop_timeout, 10);
	cr_assert_eq(rte_mempool_avail_count(mp), start);
	/* a first arriving after the timeout starts afresh, nothing released */
	struct bl_frag_key first = key(SCTP, 50, 0, 1480, true);
	struct rte_mbuf *rel[8];

	cr_assert_eq(bl_frag_first(t, &first, 1, false, SEC(32), rel, 8), 0);
	cr_assert_eq(bl_frag_count(t), 1);
	bl_frag_free(t);
}

Test(frag, conflicting_first_and_overlap)
{
	struct bl_frag_table *t = table(16, 8);
	struct bl_frag_key k1 = key(UDP, 77, 0, 1480, true);
	struct bl_frag_key k2 = key(UDP, 77, 1480, 1480, true);
	struct bl_frag_key ov = key(UDP, 77, 8, 1480, true);
	struct rte_mbuf *rel[8], *m = mbuf();
	uint8_t v;

	cr_assert_eq(bl_frag_first(t, &k1, 1, false, 1, rel, 8), 0);
	/* a later fragment rewriting the first's bytes */
	cr_assert_eq(bl_frag_later(t, &ov, m, 2, &v), BL_FRAG_DROP);
	cr_assert_eq(ctr(t)->drop_overlap_first, 1);
	/* the same first again: a duplicate, still followed */
	cr_assert_eq(bl_frag_first(t, &k1, 1, false, 3, rel, 8), 0);
	cr_assert_eq(ctr(t)->first_duplicate, 1);
	cr_assert_eq(bl_frag_later(t, &k2, m, 4, &v), BL_FRAG_FOLLOW);
	/* a first with another verdict: the datagram is dropped from now on */
	cr_assert_eq(bl_frag_first(t, &k1, 3, false, 5, rel, 8), 0);
	cr_assert_eq(ctr(t)->first_conflict, 1);
	cr_assert_eq(bl_frag_later(t, &k2, m, 6, &v), BL_FRAG_DROP);
	rte_pktmbuf_free(m);
	bl_frag_free(t);
}

/* A held fragment that overlaps the first's bytes is freed, not released. */
Test(frag, held_overlap_freed)
{
	struct bl_frag_table *t = table(16, 8);
	struct bl_frag_key ov = key(TCP, 78, 8, 1480, true);
	struct bl_frag_key k2 = key(TCP, 78, 1480, 1480, true);
	struct bl_frag_key k1 = key(TCP, 78, 0, 1480, true);
	struct rte_mbuf *m2 = mbuf(), *rel[8];
	uint8_t v;

	cr_assert_eq(bl_frag_later(t, &ov, mbuf(), 1, &v), BL_FRAG_HELD);
	cr_assert_eq(bl_frag_later(t, &k2, m2, 2, &v), BL_FRAG_HELD);
	cr_assert_eq(bl_frag_first(t, &k1, 1, false, 3, rel, 8), 1);
	cr_assert_eq(rel[0], m2);
	cr_assert_eq(ctr(t)->drop_overlap_first, 1);
	cr_assert_eq(ctr(t)->released, 1);
	rte_pktmbuf_free(m2);
	cr_assert_eq(rte_mempool_avail_count(mp), NB_MBUF);
	bl_frag_free(t);
}

Test(frag, keys_per_datagram)
{
	struct bl_frag_key a = key(UDP, 1, 0, 100, true);
	struct bl_frag_key b = key(UDP, 1, 1480, 100, false);
	struct bl_frag_key c = key(UDP, 2, 0, 100, true);
	struct bl_frag_key d = key(TCP, 1, 0, 100, true);
	struct bl_pkt p = frag4(UDP, 1, 0, 100, true);
	struct bl_frag_key e;

	cr_assert_eq(memcmp(&a, &b, BL_FRAG_KEY_LEN), 0);
	cr_assert_eq(a.hash, b.hash);
	cr_assert_eq(b.off, 1480);
	cr_assert_eq(b.len, 100);
	cr_assert_eq(b.mf, 0);
	cr_assert_neq(memcmp(&a, &c, BL_FRAG_KEY_LEN), 0);
	cr_assert_neq(memcmp(&a, &d, BL_FRAG_KEY_LEN), 0);
	p.nvlan = 1;
	p.vlan[0] = 12;
	cr_assert_eq(bl_frag_key_build(&p, &e), 0);
	cr_assert_neq(memcmp(&a, &e, BL_FRAG_KEY_LEN), 0);
	/* not a fragment, atomic fragment: no key */
	p.l3[0].flags = 0;
	cr_assert_eq(bl_frag_key_build(&p, &e), -ENOENT);
	p.l3[0].family = 6;
	p.l3[0].flags = BL_L3_ATOMIC_FRAG;
	cr_assert_eq(bl_frag_key_build(&p, &e), -ENOENT);
}

struct check_case {
	uint8_t proto;
	uint16_t off;
	uint16_t len;
	bool mf;
	uint8_t outcome;
	uint8_t extra_flags;
	enum bl_frag_reason want;
};

ParameterizedTestParameters(frag, check_first)
{
	static struct check_case cases[] = {
		{ TCP, 0, 20, true, BL_PARSE_OK, 0, BL_FRAG_OK },
		{ TCP, 0, 16, true, BL_PARSE_OK, 0, BL_FRAG_TINY_FIRST },
		{ TCP, 0, 24, true, BL_PARSE_BAD_TCP_DOFF, 0, BL_FRAG_TINY_FIRST },
		{ TCP, 0, 8, true, BL_PARSE_TRUNC_TCP, 0, BL_FRAG_TINY_FIRST },
		{ UDP, 0, 8, true, BL_PARSE_OK, 0, BL_FRAG_OK },
		{ UDP, 0, 4, true, BL_PARSE_OK, 0, BL_FRAG_TINY_FIRST },
		{ ICMP, 0, 7, true, BL_PARSE_OK, 0, BL_FRAG_TINY_FIRST },
		{ SCTP, 0, 8, true, BL_PARSE_OK, 0, BL_FRAG_TINY_FIRST },
		{ SCTP, 0, 12, true, BL_PARSE_OK, 0, BL_FRAG_OK },
		{ GRE, 0, 8, true, BL_PARSE_OK, 0, BL_FRAG_OK },
		{ TCP, 8, 100, true, BL_PARSE_OK, 0, BL_FRAG_TCP_OFFSET1 },
		{ TCP, 8, 100, false, BL_PARSE_OK, 0, BL_FRAG_TCP_OFFSET1 },
		{ TCP, 16, 100, true, BL_PARSE_OK, 0, BL_FRAG_OK },
		{ UDP, 8, 100, true, BL_PARSE_OK, 0, BL_FRAG_OK },
	};
	return cr_make_param_array(struct check_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct check_case *c, frag, check_first)
{
	struct bl_pkt p = frag4(c->proto, 1, c->off, c->len, c->mf);
	enum bl_frag_reason r;

	p.outcome = c->outcome;
	r = bl_frag_check_first(&p);
	cr_assert_eq(r, c->want, "got %s, want %s", bl_frag_reason_name(r),
		     bl_frag_reason_name(c->want));
}

Test(frag, check_not_fragment_and_counting)
{
	struct bl_frag_table *t = table(4, 2);
	struct bl_pkt p = frag4(TCP, 1, 0, 100, false);

	p.l3[0].flags = BL_L3_HAS_PORTS; /* offset 0, no MF: whole datagram */
	cr_assert_eq(bl_frag_check_first(&p), BL_FRAG_NOT_FRAGMENT);
	p.l3[0].family = 6;
	p.l3[0].flags = BL_L3_ATOMIC_FRAG | BL_L3_HAS_PORTS;
	cr_assert_eq(bl_frag_check_first(&p), BL_FRAG_NOT_FRAGMENT);

	bl_frag_count_reason(t, BL_FRAG_TINY_FIRST);
	bl_frag_count_reason(t, BL_FRAG_TCP_OFFSET1);
	bl_frag_count_reason(t, BL_FRAG_TCP_OFFSET1);
	cr_assert_eq(ctr(t)->drop_tiny_first, 1);
	cr_assert_eq(ctr(t)->drop_tcp_offset1, 2);
	cr_assert_str_eq(bl_frag_counter_names[7], "drop_tcp_offset1");
	cr_assert_eq(bl_frag_counter_value(ctr(t), 7), 2);
	bl_frag_free(t);
}
