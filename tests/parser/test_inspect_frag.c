/* SPDX-License-Identifier: BSD-3-Clause */
/* inspect's fragment tracker: when a datagram completes, with which ports. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "inspect_frag.h"

static struct bl_fragtrack ft;

/* A fragment of `family` datagram `id`: `len` payload bytes at `off`. */
static struct bl_l3 frag(uint8_t family, uint32_t id, uint16_t off, uint16_t len, bool mf)
{
	uint16_t hlen = family == 4 ? 20 : 48; /* IPv6: with its fragment header */
	struct bl_l3 l = {
		.family = family,
		.proto = 17,
		.frag_id = id,
		.frag_off = off,
		.l3_off = 14,
		.l4_off = (uint16_t)(14 + hlen),
		.l3_len = (uint16_t)(hlen + len),
		.flags = BL_L3_FRAG,
	};

	memset(l.src, 0x0a, family == 4 ? 4 : 16);
	memset(l.dst, 0x0b, family == 4 ? 4 : 16);
	if (mf)
		l.flags |= BL_L3_MF;
	if (off) {
		l.flags |= BL_L3_FRAG_LATER;
	} else {
		l.flags |= BL_L3_FRAG_FIRST | BL_L3_HAS_PORTS;
		l.sport = 5353;
		l.dport = 53;
	}
	return l;
}

/* Add one fragment; returns whether it completed its datagram. */
static bool add(struct bl_l3 l, struct bl_fragtrack_result *res)
{
	cr_assert_eq(bl_fragtrack_add(&ft, &l, res), 0);
	return res->complete;
}

static void setup(void)
{
	bl_fragtrack_init(&ft);
}

TestSuite(inspect_frag, .init = setup);

Test(inspect_frag, in_order_completes_on_last_with_first_ports)
{
	struct bl_fragtrack_result r;

	cr_assert_not(add(frag(4, 7, 0, 1480, true), &r));
	cr_assert_not(add(frag(4, 7, 1480, 1480, true), &r));
	cr_assert(add(frag(4, 7, 2960, 100, false), &r));
	cr_assert(r.have_ports);
	cr_assert_eq(r.sport, 5353);
	cr_assert_eq(r.dport, 53);
}

Test(inspect_frag, out_of_order_completes_on_the_hole_filler)
{
	struct bl_fragtrack_result r;

	cr_assert_not(add(frag(6, 9, 2960, 100, false), &r));
	cr_assert_not(add(frag(6, 9, 0, 1480, true), &r));
	cr_assert(add(frag(6, 9, 1480, 1480, true), &r));
	cr_assert(r.have_ports);
	cr_assert_eq(r.sport, 5353);
}

Test(inspect_frag, hole_never_completes_and_duplicates_do_not_fill_it)
{
	struct bl_fragtrack_result r;

	cr_assert_not(add(frag(4, 1, 0, 800, true), &r));
	cr_assert_not(add(frag(4, 1, 0, 800, true), &r));
	cr_assert_not(add(frag(4, 1, 1600, 8, false), &r));
	cr_assert_not(add(frag(4, 1, 1600, 8, false), &r));
	/* overlapping the first but stopping short of the last */
	cr_assert_not(add(frag(4, 1, 400, 1000, true), &r));
	cr_assert(add(frag(4, 1, 1400, 200, true), &r));
}

Test(inspect_frag, datagrams_are_told_apart)
{
	struct bl_fragtrack_result r;
	struct bl_l3 other_src = frag(4, 3, 8, 8, false);

	other_src.src[0] = 0x0c;
	cr_assert_not(add(frag(4, 3, 0, 8, true), &r));
	cr_assert_not(add(frag(4, 4, 8, 8, false), &r)); /* other id */
	cr_assert_not(add(frag(6, 3, 8, 8, false), &r)); /* other family */
	cr_assert_not(add(other_src, &r));
	cr_assert(add(frag(4, 3, 8, 8, false), &r));
}

Test(inspect_frag, completed_datagram_is_forgotten)
{
	struct bl_fragtrack_result r;

	cr_assert_not(add(frag(4, 5, 0, 8, true), &r));
	cr_assert(add(frag(4, 5, 8, 8, false), &r));
	/* a late duplicate starts over and completes nothing */
	cr_assert_not(add(frag(4, 5, 8, 8, false), &r));
	cr_assert_not(r.have_ports);
}

Test(inspect_frag, oldest_datagram_is_evicted_when_full)
{
	struct bl_fragtrack_result r;

	for (uint32_t id = 100; id < 100 + BL_FRAGTRACK_SLOTS + 1; id++)
		cr_assert_not(add(frag(4, id, 0, 8, true), &r));
	cr_assert_not(add(frag(4, 100, 8, 8, false), &r)); /* evicted */
	cr_assert(add(frag(4, 101 + BL_FRAGTRACK_SLOTS - 1, 8, 8, false), &r));
}

Test(inspect_frag, too_scattered_is_given_up)
{
	struct bl_fragtrack_result r;
	struct bl_l3 l;
	int rc = 0;

	/* every other 8-byte block: disjoint ranges until the slot is full */
	for (uint16_t i = 0; i <= BL_FRAGTRACK_RANGES && !rc; i++) {
		l = frag(4, 2, (uint16_t)(16 * i + 8), 8, true);
		rc = bl_fragtrack_add(&ft, &l, &r);
	}
	cr_assert_eq(rc, -ENOSPC);
	cr_assert_not(r.complete);
}

Test(inspect_frag, rejects_non_fragments_and_bad_offsets)
{
	struct bl_fragtrack_result r;
	struct bl_l3 l = frag(4, 1, 0, 8, true);

	l.flags = 0;
	cr_assert_eq(bl_fragtrack_add(&ft, &l, &r), -EINVAL);
	l = frag(4, 1, 0, 8, true);
	l.l3_len = 10; /* shorter than its own header */
	cr_assert_eq(bl_fragtrack_add(&ft, &l, &r), -EINVAL);
	cr_assert_not(r.complete);
}
