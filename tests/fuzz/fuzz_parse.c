/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the packet parser. The first input byte picks the link
 * type and whether the frame is "snapped" (wire length larger than the bytes
 * present); the rest is the frame. Besides the sanitizers, it checks the
 * record's invariants: every offset inside the buffer, every count within its
 * bound, an outcome that has a name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_layer(const struct bl_l3 *l, uint32_t len)
{
	check(l->family == 4 || l->family == 6);
	check(l->l3_off < len);
	check(l->l4_off >= l->l3_off && l->l4_off <= len);
	check(l->tunnel <= BL_TUN_IPIP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bl_pkt pkt;
	uint8_t *copy;
	uint32_t len, wire_len;
	enum bl_linktype lt;

	if (size < 1 || size > 65536)
		return 0;
	lt = (enum bl_linktype)(data[0] & 3);
	len = (uint32_t)size - 1;
	wire_len = (data[0] & 4) ? len + (data[0] >> 3) * 64u : len;

	/* An exact-size heap copy, so ASan sees any read past the end. */
	copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, len);

	enum bl_parse_outcome o = bl_parse(copy, len, wire_len, lt, &pkt);

	check(o == pkt.outcome);
	check(o < BL_PARSE_OUTCOME_MAX);
	check(bl_parse_outcome_name(o) != NULL);
	check(pkt.nvlan <= BL_MAX_VLAN);
	check(pkt.nmpls <= BL_MAX_MPLS);
	check(pkt.nlayers <= BL_MAX_LAYERS);
	check(pkt.l2_len <= len);
	for (unsigned i = 0; i < pkt.nlayers; i++)
		check_layer(&pkt.l3[i], len);
	if (pkt.flags & BL_PKT_HAS_QUOTE)
		check_layer(&pkt.quote, len);
	free(copy);
	return 0;
}
