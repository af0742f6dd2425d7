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

/* The flags field (BITMASK): how the packet travels, whether it has ports. */
#define BL_RT_F_INBOUND  0x1
#define BL_RT_F_OUTBOUND 0x2
#define BL_RT_F_PORTS    0x4

/* IPv4 key, 28 bytes. */
struct bl_rt_key4 {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src, dst;
	uint16_t sport, dport;
	uint16_t vlan, flags;
	uint32_t srcl, dstl;   /* list bitmaps */
};

/* IPv6 key, 52 bytes. */
struct bl_rt_key6 {
	uint8_t proto;
	uint8_t pad[3];
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint16_t vlan, flags;
	uint32_t srcl, dstl;
};

#define BL_RT_ACL4_FIELDS 9
#define BL_RT_ACL6_FIELDS 15

/* Where the fields are, and their index in a rule. */
struct bl_rt_layout {
	unsigned nfields, words;
	unsigned off_src, off_dst, off_ports, off_vlan, off_lists;
	unsigned f_src, f_dst, f_sport, f_dport, f_vlan, f_flags, f_srcl, f_dstl;
};

static const struct bl_rt_layout bl_rt_layout4 = {
	BL_RT_ACL4_FIELDS, 1,
	__builtin_offsetof(struct bl_rt_key4, src), __builtin_offsetof(struct bl_rt_key4, dst),
	__builtin_offsetof(struct bl_rt_key4, sport), __builtin_offsetof(struct bl_rt_key4, vlan),
	__builtin_offsetof(struct bl_rt_key4, srcl),
	1, 2, 3, 4, 5, 6, 7, 8,
};

static const struct bl_rt_layout bl_rt_layout6 = {
	BL_RT_ACL6_FIELDS, 4,
	__builtin_offsetof(struct bl_rt_key6, src), __builtin_offsetof(struct bl_rt_key6, dst),
	__builtin_offsetof(struct bl_rt_key6, sport), __builtin_offsetof(struct bl_rt_key6, vlan),
	__builtin_offsetof(struct bl_rt_key6, srcl),
	1, 5, 9, 10, 11, 12, 13, 14,
};

#endif /* BL_POLICY_RT_INT_H */
