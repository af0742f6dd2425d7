/* SPDX-License-Identifier: BSD-3-Clause */
/* Fragment tracking for `brightline inspect` (see inspect_frag.h). */
#include <errno.h>
#include <string.h>

#include "inspect_frag.h"

#define PROTO_TCP 6
#define PROTO_UDP 17

/* Forget every datagram. */
void bl_fragtrack_init(struct bl_fragtrack *t)
{
	memset(t, 0, sizeof(*t));
}

/* Does slot `s` hold the datagram that layer `l` is a fragment of? */
static bool slot_matches(const struct bl_fragtrack_slot *s, const struct bl_l3 *l)
{
	size_t alen = l->family == 4 ? 4 : 16;

	return s->used && s->family == l->family && s->proto == l->proto && s->id == l->frag_id &&
	       !memcmp(s->src, l->src, alen) && !memcmp(s->dst, l->dst, alen);
}

/* The slot of `l`'s datagram, or a fresh one (the oldest is reused). */
static struct bl_fragtrack_slot *slot_get(struct bl_fragtrack *t, const struct bl_l3 *l)
{
	struct bl_fragtrack_slot *victim = &t->slot[0];

	for (size_t i = 0; i < BL_FRAGTRACK_SLOTS; i++) {
		struct bl_fragtrack_slot *s = &t->slot[i];

		if (slot_matches(s, l))
			return s;
		if (!s->used)
			victim = s;
		else if (victim->used && s->age < victim->age)
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->family = l->family;
	victim->proto = l->proto;
	victim->id = l->frag_id;
	memcpy(victim->src, l->src, sizeof(victim->src));
	memcpy(victim->dst, l->dst, sizeof(victim->dst));
	victim->age = ++t->clock;
	return victim;
}

/*
 * Add [start, end) to the slot's sorted, disjoint ranges, merging those it
 * overlaps or touches. Returns 0, or -ENOSPC when the slot has no room.
 */
static int range_add(struct bl_fragtrack_slot *s, uint32_t start, uint32_t end)
{
	struct bl_fragtrack_range merged[BL_FRAGTRACK_RANGES];
	unsigned int n = 0, i = 0;

	/* ranges entirely before the new one stay as they are */
	while (i < s->nranges && s->range[i].end < start)
		merged[n++] = s->range[i++];
	/* ranges that overlap or touch it are absorbed */
	while (i < s->nranges && s->range[i].start <= end) {
		if (s->range[i].start < start)
			start = s->range[i].start;
		if (s->range[i].end > end)
			end = s->range[i].end;
		i++;
	}
	if (n + 1 + (s->nranges - i) > BL_FRAGTRACK_RANGES)
		return -ENOSPC;
	merged[n++] = (struct bl_fragtrack_range){ start, end };
	while (i < s->nranges)
		merged[n++] = s->range[i++];
	memcpy(s->range, merged, n * sizeof(merged[0]));
	s->nranges = (uint8_t)n;
	return 0;
}

/* Note one fragment and say whether it completed its datagram. */
int bl_fragtrack_add(struct bl_fragtrack *t, const struct bl_l3 *l, struct bl_fragtrack_result *res)
{
	struct bl_fragtrack_slot *s;
	uint32_t dgram_end = (uint32_t)l->l3_off + l->l3_len;
	uint32_t start = l->frag_off, end;

	memset(res, 0, sizeof(*res));
	if (!(l->flags & BL_L3_FRAG) || l->l4_off < l->l3_off || dgram_end < l->l4_off)
		return -EINVAL;
	end = start + (dgram_end - l->l4_off);

	s = slot_get(t, l);
	if (range_add(s, start, end) < 0) {
		s->used = false; /* too scattered to follow: give it up */
		return -ENOSPC;
	}
	if (!(l->flags & BL_L3_MF) && !s->last_seen) {
		s->last_seen = true;
		s->total = end;
	}
	if (start == 0 && (l->flags & BL_L3_HAS_PORTS) &&
	    (l->proto == PROTO_TCP || l->proto == PROTO_UDP)) {
		s->have_ports = true;
		s->sport = l->sport;
		s->dport = l->dport;
	}
	res->have_ports = s->have_ports;
	res->sport = s->sport;
	res->dport = s->dport;
	/* RFC 815: complete once one hole-free range runs from 0 to the end */
	if (s->last_seen && s->nranges == 1 && s->range[0].start == 0 &&
	    s->range[0].end >= s->total) {
		res->complete = true;
		s->used = false;
	}
	return 0;
}
