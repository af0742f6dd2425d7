/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragment tracking for `brightline inspect`: tells on which frame an IPv4 or
 * IPv6 datagram becomes complete and which ports its first fragment carried,
 * so inspect reports a reassembled datagram's ports on the frame that
 * completes it, as tshark does. It tracks byte ranges only (no payload), in a
 * fixed table: the oldest datagram is forgotten when the table is full.
 */
#ifndef BL_INSPECT_FRAG_H
#define BL_INSPECT_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"

#define BL_FRAGTRACK_SLOTS  64 /* datagrams followed at once */
#define BL_FRAGTRACK_RANGES 32 /* disjoint byte ranges per datagram */

struct bl_fragtrack_range {
	uint32_t start; /* first byte covered */
	uint32_t end;	/* one past the last byte covered */
};

struct bl_fragtrack_slot {
	bool used;
	bool last_seen;	 /* the fragment without MF arrived */
	bool have_ports; /* the first fragment arrived with a TCP/UDP header */
	uint8_t family;
	uint8_t proto;
	uint8_t nranges;
	uint16_t sport;
	uint16_t dport;
	uint32_t id;
	uint32_t total; /* datagram payload length, known once last_seen */
	uint64_t age;	/* insertion order, for eviction */
	uint8_t src[16];
	uint8_t dst[16];
	struct bl_fragtrack_range range[BL_FRAGTRACK_RANGES];
};

struct bl_fragtrack {
	uint64_t clock;
	struct bl_fragtrack_slot slot[BL_FRAGTRACK_SLOTS];
};

/* What one fragment did to its datagram. */
struct bl_fragtrack_result {
	bool complete;	 /* this fragment completed the datagram */
	bool have_ports; /* ports of the first fragment (TCP/UDP) are known */
	uint16_t sport;
	uint16_t dport;
};

/* Forget every datagram. */
void bl_fragtrack_init(struct bl_fragtrack *t);

/*
 * Note the fragment described by IP layer `l` (BL_L3_FRAG set), whose payload
 * starts at l4_off and ends where the header's length says. Fills `res`;
 * returns 0, or -EINVAL when `l` is not a usable fragment.
 */
int bl_fragtrack_add(struct bl_fragtrack *t, const struct bl_l3 *l,
		     struct bl_fragtrack_result *res);

#endif /* BL_INSPECT_FRAG_H */
