/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by policy_build.c and policy_lookup.c only: the layout of the ACL
 * search key. Multi-byte fields are in network byte order (rte_acl reads
 * input MSB first); the first field is one byte, the others in 4-byte
 * groups, as rte_acl requires.
 */
#ifndef BL_POLICY_RT_INT_H
#define BL_POLICY_RT_INT_H

#include <stdint.h>

/* The flags byte (BITMASK): how the packet travels, whether it has ports. */
#define BL_RT_F_INBOUND	 0x1
#define BL_RT_F_OUTBOUND 0x2
#define BL_RT_F_PORTS	 0x4

/* IPv4 key, 28 bytes. */
struct bl_rt_key4 {
	uint8_t lead; /* 0 */
	uint8_t pad[3];
	uint32_t src, dst;
	uint16_t sport, dport;
	uint16_t vlan;
	uint8_t flags, proto;
	uint32_t srcl, dstl; /* list bitmaps */
};

/* IPv6 key, 52 bytes. */
struct bl_rt_key6 {
	uint8_t lead;
	uint8_t pad[3];
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint16_t vlan;
	uint8_t flags, proto;
	uint32_t srcl, dstl;
};

/*
 * Rule fields: 0 is the key's `lead` byte, always 0 and a wildcard in every
 * rule (rte_acl's first field must be one byte; a dummy one lets each shape
 * test its leading address first and the protocol late, where a rule on any
 * protocol is not copied under every protocol's branch), then the
 * addresses, ports, VLAN, flags, list bitmaps and the protocol.
 */
#define BL_RT_ACL4_FIELDS 10
#define BL_RT_ACL6_FIELDS 16

/*
 * Rule shapes: each expanded rule goes to the ACL context of its shape,
 * whose trie tests the field that tells its rules apart first. Why: rte_acl
 * builds one trie over the fields in definition order, and a rule that is a
 * wildcard in an early field is merged into every branch the specific rules
 * make there (10,000 rules with a specific destination and a hundred
 * wildcard-address port rules in one trie: 1.6 M build nodes, 20 s, 5 GiB).
 * Split by shape, each trie branches first on a field specific in all its
 * rules, and the fields wild in all of a context's rules drop out of its
 * lookup. A packet is classified in every context of its family; the first
 * rule over all of them wins (lowest index).
 */
enum bl_rt_shape {
	BL_RT_SHAPE_DST = 0, /* a destination prefix: destination, source, ports, ... */
	BL_RT_SHAPE_SRC,     /* a source prefix only: source first */
	BL_RT_SHAPE_WILD,    /* no address prefix (any, or lists): VLAN, flags, proto first */
	BL_RT_SHAPES
};

/* Where the fields are, and their index in a rule. */
struct bl_rt_layout {
	unsigned nfields, words;
	unsigned off_src, off_dst, off_ports, off_vlan, off_lists;
	unsigned f_src, f_dst, f_sport, f_dport, f_vlan, f_flags, f_srcl, f_dstl, f_proto;
};

static const struct bl_rt_layout bl_rt_layout4 = {
	BL_RT_ACL4_FIELDS,
	1,
	__builtin_offsetof(struct bl_rt_key4, src),
	__builtin_offsetof(struct bl_rt_key4, dst),
	__builtin_offsetof(struct bl_rt_key4, sport),
	__builtin_offsetof(struct bl_rt_key4, vlan),
	__builtin_offsetof(struct bl_rt_key4, srcl),
	1,
	2,
	3,
	4,
	5,
	6,
	7,
	8,
	9,
};

static const struct bl_rt_layout bl_rt_layout6 = {
	BL_RT_ACL6_FIELDS,
	4,
	__builtin_offsetof(struct bl_rt_key6, src),
	__builtin_offsetof(struct bl_rt_key6, dst),
	__builtin_offsetof(struct bl_rt_key6, sport),
	__builtin_offsetof(struct bl_rt_key6, vlan),
	__builtin_offsetof(struct bl_rt_key6, srcl),
	1,
	5,
	9,
	10,
	11,
	12,
	13,
	14,
	15,
};

#endif /* BL_POLICY_RT_INT_H */
