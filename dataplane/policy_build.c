/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy runtime, control side (see policy_rt.h): compile a normalized
 * policy into rte_acl contexts and list FIBs, publish by RCU, free.
 * Nothing here runs on a worker.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_acl.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_rcu_qsbr.h>

#include "policy_rt.h"
#include "policy_rt_int.h"

/* ---- rule name -> counter slot ---- */

#define SLOT_HASH (2 * BL_RT_SLOTS)

struct bl_rt_slots {
	uint32_t n; /* slots used, slot 0 = "default" */
	char (*names)[BL_POLICY_MAX_NAME + 1];
	uint32_t table[SLOT_HASH]; /* open addressing: slot + 1, 0 empty */
};

struct bl_rt_slots *bl_rt_slots_create(void)
{
	struct bl_rt_slots *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->names = calloc(BL_RT_SLOTS, sizeof(*s->names));
	if (!s->names) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(s->names[0], sizeof(s->names[0]), "default");
	s->n = 1;
	return s;
}

void bl_rt_slots_free(struct bl_rt_slots *s)
{
	if (!s)
		return;
	free(s->names);
	free(s);
}

const char *bl_rt_slot_name(const struct bl_rt_slots *s, uint32_t slot)
{
	return s && slot < s->n ? s->names[slot] : NULL;
}

uint32_t bl_rt_slots_used(const struct bl_rt_slots *s)
{
	return s ? s->n : 0;
}

/* The slot of `name`, assigned on first sight; -ENOSPC when all are taken. */
static int64_t slot_of(struct bl_rt_slots *s, const char *name)
{
	uint32_t i = rte_jhash(name, strlen(name), 0) % SLOT_HASH;

	while (s->table[i]) {
		if (!strcmp(s->names[s->table[i] - 1], name))
			return s->table[i] - 1;
		i = (i + 1) % SLOT_HASH;
	}
	if (s->n == BL_RT_SLOTS)
		return -ENOSPC;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->table[i] = ++s->n;
	return s->n - 1;
}

/* ---- diagnostics ---- */

static void diag(struct bl_policy_err *err, const char *file, unsigned line, const char *fmt, ...)
{
	struct bl_policy_diag *d;
	va_list ap;

	if (!err)
		return;
	err->nerrors++;
	if (err->ndiags == BL_POLICY_MAX_DIAGS)
		return;
	d = &err->diag[err->ndiags++];
	memset(d, 0, sizeof(*d));
	d->severity = BL_POLICY_ERROR;
	d->line = line ? line : 1;
	d->column = 1;
	snprintf(d->file, sizeof(d->file), "%s", file ? file : "policy");
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
}

static uint64_t heap_used(void)
{
	struct rte_malloc_socket_stats st;
	uint64_t n = 0;

	for (unsigned i = 0; i < rte_socket_count(); i++)
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
			n += st.heap_allocsz_bytes;
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

/* Unique names for DPDK objects (their names share one namespace). */
static uint32_t name_seq;

/* ---- prefix lists -> FIB of list-set ids ---- */

struct lpfx {
	uint8_t addr[16];
	uint8_t len;
	uint32_t own;	/* lists naming exactly this prefix */
	uint32_t total; /* own | lists of every covering prefix */
	bool redundant; /* same set as the prefix covering it: not inserted */
};

static int lpfx_cmp(const void *a, const void *b)
{
	const struct lpfx *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : (int)x->len - (int)y->len;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Does prefix a cover prefix b (a no longer, same leading bits)? */
static bool covers(const struct lpfx *a, const struct lpfx *b)
{
	unsigned full = a->len / 8, rest = a->len % 8;

	if (a->len > b->len || memcmp(a->addr, b->addr, full))
		return false;
	return !rest || ((a->addr[full] ^ b->addr[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* Do a and b share their first `bits` bits? */
static bool same_head(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	return !memcmp(a, b, bits / 8);
}

/*
 * Build the FIB of family `fam` (0: IPv4, 1: IPv6) from the lists marked
 * in `bit_of` (list index -> bit + 1, 0: unused). Longest-prefix semantics
 * per list: a prefix's set is its own lists OR those of the prefixes that
 * cover it, found by a stack sweep in (address, length) order.
 */
static int build_fib(struct bl_rt *rt, const struct bl_policy *p, const uint8_t *bit_of,
		     unsigned fam, const char *file, struct bl_policy_err *err)
{
	uint8_t family = fam ? 6 : 4;
	uint64_t n = 0, m = 0, nadd = 0, tbl8 = 0;
	struct lpfx *v, **stack;
	uint32_t *sets = NULL, nsets = 0;
	struct lpfx *last_lvl[1] = { 0 };
	unsigned depth = 0, maxlen = fam ? 128 : 32;
	char name[64];
	int rc = 0;

	for (uint32_t l = 0; l < bl_policy_nlists(p); l++) {
		const struct bl_policy_list *L = bl_policy_list(p, l);

		if (bit_of[l])
			for (uint32_t i = 0; i < L->n; i++)
				n += L->prefixes[i].family == family;
	}
	rt->nfib[fam] = n;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	stack = calloc(maxlen + 1, sizeof(*stack));
	if (!v || !stack) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint32_t l = 0; l < bl_policy_nlists(p); l++) {
		const struct bl_policy_list *L = bl_policy_list(p, l);

		if (!bit_of[l])
			continue;
		for (uint32_t i = 0; i < L->n; i++) {
			if (L->prefixes[i].family != family)
				continue;
			memcpy(v[m].addr, L->prefixes[i].addr, 16);
			if (!fam)
				memset(v[m].addr + 4, 0, 12);
			v[m].len = L->prefixes[i].len;
			v[m++].own = 1u << (bit_of[l] - 1);
		}
	}
	qsort(v, n, sizeof(*v), lpfx_cmp);
	/* merge duplicates (the same prefix in several lists) */
	m = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (m && v[m - 1].len == v[i].len && !memcmp(v[m - 1].addr, v[i].addr, 16))
			v[m - 1].own |= v[i].own;
		else
			v[m++] = v[i];
	}
	n = m;
	/* the sweep: ancestors come before descendants in this order */
	for (uint64_t i = 0; i < n; i++) {
		while (depth && !covers(stack[depth - 1], &v[i]))
			depth--;
		v[i].total = v[i].own | (depth ? stack[depth - 1]->total : 0);
		v[i].redundant = depth && v[i].total == stack[depth - 1]->total;
		stack[depth++] = &v[i];
	}
	/* distinct sets -> ids 1..nsets (0: in no list, the FIB default) */
	sets = malloc(n * sizeof(*sets));
	if (!sets) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint64_t i = 0; i < n; i++)
		sets[i] = v[i].total;
	qsort(sets, n, sizeof(*sets), u32_cmp);
	for (uint64_t i = 0; i < n; i++)
		if (!nsets || sets[nsets - 1] != sets[i])
			sets[nsets++] = sets[i];
	/*
	 * tbl8 groups: IPv4, one per distinct /24 holding a longer prefix
	 * (exact); IPv6, every prefix's own chain below /24 (an upper bound:
	 * the trie's ledges around nested prefixes need more than the
	 * distinct paths).
	 */
	for (uint64_t i = 0; i < n; i++) {
		if (fam) {
			tbl8 += v[i].len > 24 ? (v[i].len - 24 + 7) / 8 : 0;
			continue;
		}
		if (v[i].len > 24 && (!last_lvl[0] || !same_head(last_lvl[0]->addr, v[i].addr, 24)))
			tbl8++;
		if (v[i].len > 24)
			last_lvl[0] = &v[i];
	}
	snprintf(name, sizeof(name), "bl_fib%u_%u", family,
		 __atomic_fetch_add(&name_seq, 1, __ATOMIC_RELAXED));
	if (!fam) {
		struct rte_fib_conf c = {
			.type = RTE_FIB_DIR24_8,
			.default_nh = 0,
			.max_routes = n + 1,
			.dir24_8 = { .nh_sz = (nsets < 32767 && tbl8 < 32000) ? RTE_FIB_DIR24_8_2B
									      : RTE_FIB_DIR24_8_4B,
				     .num_tbl8 = tbl8 + 64 },
		};
		rt->fib4 = rte_fib_create(name, SOCKET_ID_ANY, &c);
	} else {
		struct rte_fib6_conf c = {
			.type = RTE_FIB6_TRIE,
			.default_nh = 0,
			.max_routes = n + 1,
			.trie = { .nh_sz = (nsets < 32767 && tbl8 < 32000) ? RTE_FIB6_TRIE_2B
									   : RTE_FIB6_TRIE_4B,
				  .num_tbl8 = tbl8 + 64 },
		};
		rt->fib6 = rte_fib6_create(name, SOCKET_ID_ANY, &c);
	}
	if (fam ? !rt->fib6 : !rt->fib4) {
		diag(err, file, 1, "cannot create the %s prefix-list FIB (%lu prefixes): %s",
		     fam ? "IPv6" : "IPv4", n, rte_strerror(rte_errno));
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint32_t *id = bsearch(&v[i].total, sets, nsets, sizeof(*sets), u32_cmp);
		uint32_t a4;
		int r;

		/* a prefix with the same set as the one covering it adds nothing */
		if (v[i].redundant)
			continue;
		if (!fam) {
			memcpy(&a4, v[i].addr, 4);
			r = rte_fib_add(rt->fib4, rte_be_to_cpu_32(a4), v[i].len, id - sets + 1);
		} else {
			r = rte_fib6_add(rt->fib6, v[i].addr, v[i].len, id - sets + 1);
		}
		if (r) {
			diag(err, file, 1, "cannot add %s prefix %lu of %lu to the list FIB: %s",
			     fam ? "IPv6" : "IPv4", i + 1, n, strerror(-r));
			rc = r;
			goto out_free;
		}
		nadd++;
	}
	(void)nadd;
	rt->sets[fam] = realloc(sets, (nsets + 1) * sizeof(*sets));
	if (!rt->sets[fam]) {
		rc = -ENOMEM;
		goto out_free;
	}
	/* id 0 first: shift so that sets[id] is the bitmap */
	memmove(rt->sets[fam] + 1, rt->sets[fam], nsets * sizeof(*sets));
	rt->sets[fam][0] = 0;
	rt->nsets[fam] = nsets + 1;
	sets = NULL;
out_free:
	free(sets);
	free(stack);
	free(v);
	return rc;
}

/* ---- rules -> rte_acl ---- */

_Static_assert(BL_RT_SHAPES == BL_RT_ACL_CTX, "one ACL context per rule shape");

RTE_ACL_RULE_DEF(acl4_rule, BL_RT_ACL4_FIELDS);
RTE_ACL_RULE_DEF(acl6_rule, BL_RT_ACL6_FIELDS);

/* One alternative of an address match: a prefix, a list bit, or anything. */
struct alt {
	bool any;
	uint8_t len;
	uint8_t addr[16];
	uint32_t bit; /* list bitmap bit, 0 for a prefix */
};

/* The alternatives of `am` in family `family`; 0 when it cannot match there. */
static uint32_t addr_alts(const struct bl_policy *p, const struct bl_addr_match *am, uint8_t family,
			  const uint8_t *bit_of, struct alt *out)
{
	uint32_t n = 0;

	if (!am->nprefixes && !am->nlists) {
		if (out) {
			memset(&out[0], 0, sizeof(out[0]));
			out[0].any = true;
		}
		return 1;
	}
	for (uint32_t i = 0; i < am->nprefixes; i++) {
		if (am->prefixes[i].family != family)
			continue;
		if (out) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].len = am->prefixes[i].len;
			memcpy(out[n].addr, am->prefixes[i].addr, 16);
		}
		n++;
	}
	for (uint32_t i = 0; i < am->nlists; i++) {
		const struct bl_policy_list *L = bl_policy_list(p, am->lists[i]);
		bool has = false;

		for (uint32_t k = 0; k < L->n && !has; k++)
			has = L->prefixes[k].family == family;
		if (!has)
			continue;
		if (out) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].bit = 1u << (bit_of[am->lists[i]] - 1);
		}
		n++;
	}
	return n;
}

static uint32_t be32_at(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

/* Address field(s) of one alternative: 1 MASK field (IPv4) or 4 (IPv6). */
static void set_addr(struct rte_acl_field *f, const struct alt *a, unsigned words)
{
	for (unsigned w = 0; w < words; w++) {
		int bits = a->any || a->bit ? 0 : (int)a->len - 32 * (int)w;

		bits = bits < 0 ? 0 : bits > 32 ? 32 : bits;
		f[w].value.u32 = bits ? be32_at(a->addr + 4 * w) : 0;
		f[w].mask_range.u32 = bits;
	}
}

/* Number of ACL rules rule r expands to in `family`. */
static uint64_t rule_count(const struct bl_policy *p, const struct bl_policy_rule *r,
			   uint8_t family, const uint8_t *bit_of)
{
	const struct bl_policy_match *m = &r->match;

	return (uint64_t)addr_alts(p, &m->src, family, bit_of, NULL) *
	       addr_alts(p, &m->dst, family, bit_of, NULL) * (m->nprotos ? m->nprotos : 1) *
	       (m->nsports ? m->nsports : 1) * (m->ndports ? m->ndports : 1) *
	       (m->nvlans ? m->nvlans : 1);
}

/* Does an alternative name a prefix (not any address, not a list, not /0)? */
static bool alt_prefix(const struct alt *a)
{
	return !a->any && !a->bit && a->len;
}

/*
 * The shape of one expanded rule: which address its context tests first.
 * The destination whenever it is a prefix: on a perimeter box outbound
 * rules name external destinations (scattered, rarely nested) while their
 * sources are nested inside ranges (a /16 holding /24s and /32s), and a
 * leading prefix that covers others is merged into each of their branches
 * (measured on the 10k-rule bench policy: longest-prefix-first put 3,100
 * IPv4 rules in the source context, built in 2 s; destination-first leaves
 * 800 there, built in 30 ms, and the whole compile takes 1.1 s, not 2.6 s).
 */
static uint8_t rule_shape(const struct alt *s, const struct alt *d)
{
	if (alt_prefix(d))
		return BL_RT_SHAPE_DST;
	return alt_prefix(s) ? BL_RT_SHAPE_SRC : BL_RT_SHAPE_WILD;
}

/*
 * Expand rule `idx` into ACL rules for `family` at out (rule_size bytes
 * each) and their shapes at `shape`; returns how many were written.
 */
static uint64_t rule_expand(const struct bl_policy *p, const struct bl_policy_rule *r, uint32_t idx,
			    uint8_t family, const uint8_t *bit_of, uint8_t *out, uint8_t *shape,
			    size_t rule_size, struct alt *sa, struct alt *da)
{
	const struct bl_policy_match *m = &r->match;
	const struct bl_rt_layout *L = family == 4 ? &bl_rt_layout4 : &bl_rt_layout6;
	uint32_t ns = addr_alts(p, &m->src, family, bit_of, sa);
	uint32_t nd = addr_alts(p, &m->dst, family, bit_of, da);
	uint32_t np = m->nprotos ? m->nprotos : 1, nsp = m->nsports ? m->nsports : 1;
	uint32_t ndp = m->ndports ? m->ndports : 1, nv = m->nvlans ? m->nvlans : 1;
	uint8_t flags = 0, fmask = 0;
	uint64_t k = 0;

	if (r->direction == BL_DIR_INBOUND)
		flags = fmask = BL_RT_F_INBOUND;
	else if (r->direction == BL_DIR_OUTBOUND)
		flags = fmask = BL_RT_F_OUTBOUND;
	if (m->nsports || m->ndports) {
		/* a port match never matches a packet without ports (ICMP, ...) */
		flags |= BL_RT_F_PORTS;
		fmask |= BL_RT_F_PORTS;
	}
	for (uint32_t s = 0; s < ns; s++)
		for (uint32_t d = 0; d < nd; d++)
			for (uint32_t pr = 0; pr < np; pr++)
				for (uint32_t sp = 0; sp < nsp; sp++)
					for (uint32_t dp = 0; dp < ndp; dp++)
						for (uint32_t v = 0; v < nv; v++) {
							struct rte_acl_rule *a =
								(struct rte_acl_rule
									 *)(out + k * rule_size);
							struct rte_acl_field *f = a->field;

							shape[k++] = rule_shape(&sa[s], &da[d]);
							memset(a, 0, rule_size);
							a->data.category_mask =
								r->action.kind == BL_ACT_LOG ? 2
											     : 1;
							a->data.priority =
								RTE_ACL_MAX_PRIORITY - idx;
							a->data.userdata = idx + 1;
							f[L->f_proto].value.u8 =
								m->nprotos ? m->protos[pr] : 0;
							f[L->f_proto].mask_range.u8 =
								m->nprotos ? 0xff : 0;
							set_addr(&f[L->f_src], &sa[s], L->words);
							set_addr(&f[L->f_dst], &da[d], L->words);
							f[L->f_sport].value.u16 =
								m->nsports ? m->sports[sp].lo : 0;
							f[L->f_sport].mask_range.u16 =
								m->nsports ? m->sports[sp].hi
									   : 0xffff;
							f[L->f_dport].value.u16 =
								m->ndports ? m->dports[dp].lo : 0;
							f[L->f_dport].mask_range.u16 =
								m->ndports ? m->dports[dp].hi
									   : 0xffff;
							f[L->f_vlan].value.u16 =
								m->nvlans ? m->vlans[v] : 0;
							f[L->f_vlan].mask_range.u16 =
								m->nvlans ? m->vlans[v] : 0xffff;
							f[L->f_flags].value.u8 = flags;
							f[L->f_flags].mask_range.u8 = fmask;
							f[L->f_srcl].value.u32 = sa[s].bit;
							f[L->f_srcl].mask_range.u32 = sa[s].bit;
							f[L->f_dstl].value.u32 = da[d].bit;
							f[L->f_dstl].mask_range.u32 = da[d].bit;
						}
	return k;
}

/* Append one field definition; `input` is its 4-byte input group. */
static void def_add(struct rte_acl_config *cfg, uint8_t type, uint8_t size, uint8_t field,
		    uint8_t input, uint32_t off)
{
	cfg->defs[cfg->num_fields++] = (struct rte_acl_field_def){ type, size, field, input, off };
}

/* The address fields (1 MASK field per 4 bytes) of the source or destination. */
static void defs_addr(const struct bl_rt_layout *L, bool dst, struct rte_acl_config *cfg,
		      uint8_t *in)
{
	for (unsigned w = 0; w < L->words; w++)
		def_add(cfg, RTE_ACL_FIELD_TYPE_MASK, 4, (dst ? L->f_dst : L->f_src) + w, (*in)++,
			(dst ? L->off_dst : L->off_src) + 4 * w);
}

/* VLAN, flags and protocol: one 4-byte input group. */
static void defs_vfp(const struct bl_rt_layout *L, struct rte_acl_config *cfg, uint8_t *in)
{
	def_add(cfg, RTE_ACL_FIELD_TYPE_RANGE, 2, L->f_vlan, *in, L->off_vlan);
	def_add(cfg, RTE_ACL_FIELD_TYPE_BITMASK, 1, L->f_flags, *in, L->off_vlan + 2);
	def_add(cfg, RTE_ACL_FIELD_TYPE_BITMASK, 1, L->f_proto, (*in)++, L->off_vlan + 3);
}

/* The ports (one input group), then the list bitmaps (one each). */
static void defs_ports_lists(const struct bl_rt_layout *L, struct rte_acl_config *cfg, uint8_t *in)
{
	def_add(cfg, RTE_ACL_FIELD_TYPE_RANGE, 2, L->f_sport, *in, L->off_ports);
	def_add(cfg, RTE_ACL_FIELD_TYPE_RANGE, 2, L->f_dport, (*in)++, L->off_ports + 2);
	def_add(cfg, RTE_ACL_FIELD_TYPE_BITMASK, 4, L->f_srcl, (*in)++, L->off_lists);
	def_add(cfg, RTE_ACL_FIELD_TYPE_BITMASK, 4, L->f_dstl, (*in)++, L->off_lists + 4);
}

/*
 * The rte_acl field definitions of a layout for one rule shape: the same
 * key, its fields in the order the shape's trie tests them (the protocol
 * first: rte_acl's first field is one byte).
 */
static void acl_defs(const struct bl_rt_layout *L, unsigned shape, struct rte_acl_config *cfg)
{
	uint8_t in = 1;

	cfg->num_fields = 0;
	def_add(cfg, RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, 0, 0);
	if (shape == BL_RT_SHAPE_WILD) {
		defs_vfp(L, cfg, &in);
		defs_ports_lists(L, cfg, &in);
		defs_addr(L, false, cfg, &in);
		defs_addr(L, true, cfg, &in);
		return;
	}
	defs_addr(L, shape == BL_RT_SHAPE_DST, cfg, &in);
	defs_addr(L, shape != BL_RT_SHAPE_DST, cfg, &in);
	defs_ports_lists(L, cfg, &in);
	defs_vfp(L, cfg, &in);
}

/* Create and build the ACL context of one family and shape from n rules. */
static int build_ctx(struct bl_rt *rt, unsigned fam, unsigned shape, const uint8_t *rules,
		     const uint8_t *shapes, uint64_t count, uint64_t n, size_t rsz,
		     const char *file, struct bl_policy_err *err)
{
	const struct bl_rt_layout *L = fam ? &bl_rt_layout6 : &bl_rt_layout4;
	unsigned family = fam ? 6 : 4;
	struct rte_acl_config cfg;
	struct rte_acl_param prm;
	struct rte_acl_ctx *ctx;
	char name[RTE_ACL_NAMESIZE];
	int rc;

	snprintf(name, sizeof(name), "bl_acl%u%c_%u", family, "dsw"[shape],
		 __atomic_fetch_add(&name_seq, 1, __ATOMIC_RELAXED));
	prm = (struct rte_acl_param){
		.name = name, .socket_id = SOCKET_ID_ANY, .rule_size = rsz, .max_rule_num = n
	};
	ctx = rt->acl[fam][shape] = rte_acl_create(&prm);
	if (!ctx) {
		diag(err, file, 1, "cannot create an IPv%u ACL context: %s", family,
		     rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rt->nacl_ctx++;
	for (uint64_t i = 0; i < count; i++) {
		if (shapes[i] != shape)
			continue;
		rc = rte_acl_add_rules(ctx, (const struct rte_acl_rule *)(rules + i * rsz), 1);
		if (rc) {
			diag(err, file, 1, "cannot add %lu IPv%u ACL rules: %s", n, family,
			     strerror(-rc));
			return rc;
		}
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.num_categories = rt->ncat > 1 ? 2 : 1;
	acl_defs(L, shape, &cfg);
	rc = rte_acl_build(ctx, &cfg);
	if (rc)
		diag(err, file, 1, "rte_acl build of %lu IPv%u rules failed: %s", n, family,
		     strerror(-rc));
	return rc;
}

/* Build the ACL contexts of one family from every L3/L4 rule. */
static int build_acl(struct bl_rt *rt, const struct bl_policy *p, const uint8_t *bit_of,
		     unsigned fam, uint64_t count, const char *file, struct bl_policy_err *err)
{
	const struct bl_rt_layout *L = fam ? &bl_rt_layout6 : &bl_rt_layout4;
	uint8_t family = fam ? 6 : 4;
	size_t rsz = RTE_ACL_RULE_SZ(L->nfields);
	struct alt *sa = NULL, *da = NULL;
	uint64_t k = 0, per[BL_RT_SHAPES] = { 0 };
	uint8_t *rules, *shapes;
	uint32_t maxalt = 1;
	int rc = 0;

	if (!count)
		return 0;
	for (uint32_t i = 0; i < rt->nrules; i++) {
		const struct bl_policy_rule *r = bl_policy_rule(p, i);

		maxalt = RTE_MAX(maxalt, r->match.src.nprefixes + r->match.src.nlists + 1);
		maxalt = RTE_MAX(maxalt, r->match.dst.nprefixes + r->match.dst.nlists + 1);
	}
	rules = malloc(count * rsz);
	shapes = malloc(count);
	sa = calloc(maxalt, sizeof(*sa));
	da = calloc(maxalt, sizeof(*da));
	if (!rules || !shapes || !sa || !da) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < rt->nrules; i++)
		if (!rt->rules[i].l7)
			k += rule_expand(p, bl_policy_rule(p, i), i, family, bit_of,
					 rules + k * rsz, shapes + k, rsz, sa, da);
	for (uint64_t i = 0; i < k; i++)
		per[shapes[i]]++;
	for (unsigned s = 0; s < BL_RT_SHAPES && !rc; s++)
		if (per[s])
			rc = build_ctx(rt, fam, s, rules, shapes, k, per[s], rsz, file, err);
	rt->nacl_rules[fam] = k;
out_free:
	free(da);
	free(sa);
	free(shapes);
	free(rules);
	return rc;
}

/* ---- the object ---- */

static enum bl_rt_action rt_action(enum bl_action_kind k)
{
	switch (k) {
	case BL_ACT_ALLOW: return BL_RT_ALLOW;
	case BL_ACT_DROP: return BL_RT_DROP;
	case BL_ACT_REJECT: return BL_RT_REJECT;
	case BL_ACT_RATE_LIMIT: return BL_RT_RATE_LIMIT;
	case BL_ACT_QUOTA: return BL_RT_QUOTA;
	case BL_ACT_LOG: break;
	}
	return BL_RT_NONE;
}

void bl_rt_free(struct bl_rt *rt)
{
	if (!rt)
		return;
	for (uint32_t i = 0; rt->rules && i < rt->nrules; i++)
		if (rt->rules[i].meter && rt->meter_put)
			rt->meter_put(rt->rules[i].meter);
	for (unsigned f = 0; f < 2; f++)
		for (unsigned s = 0; s < BL_RT_ACL_CTX; s++)
			rte_acl_free(rt->acl[f][s]);
	rte_fib_free(rt->fib4);
	rte_fib6_free(rt->fib6);
	free(rt->sets[0]);
	free(rt->sets[1]);
	free(rt->rules);
	free(rt);
}

/* Copy one rule's identity and parameters into the object. */
static int rule_copy(struct bl_rt *rt, uint32_t i, const struct bl_policy_rule *r,
		     struct bl_rt_slots *slots, const struct bl_rt_meter_ops *ops, const char *file,
		     struct bl_policy_err *err)
{
	struct bl_rt_rule *o = &rt->rules[i];
	int64_t slot = i + 1;

	snprintf(o->name, sizeof(o->name), "%s", r->name);
	o->line = r->line;
	o->log = r->action.kind == BL_ACT_LOG;
	o->action = rt_action(r->action.kind);
	o->l7 = r->match.ndomain_lists || r->match.npattern_lists;
	o->act = r->action;
	if (r->action.kind == BL_ACT_QUOTA && r->action.quota.timezone) {
		snprintf(o->tz, sizeof(o->tz), "%s", r->action.quota.timezone);
		o->act.quota.timezone = o->tz;
	} else {
		o->act.quota.timezone = NULL;
	}
	if (slots && (slot = slot_of(slots, r->name)) < 0) {
		diag(err, file, r->line, "rule \"%s\": no counter slot left (%u rule names seen)",
		     r->name, BL_RT_SLOTS);
		return -ENOSPC;
	}
	o->slot = slot;
	if (!ops || (o->action != BL_RT_RATE_LIMIT && o->action != BL_RT_QUOTA))
		return 0;
	o->meter = ops->get(ops->ctx, o->name, &o->act);
	if (!o->meter) {
		diag(err, file, r->line, "rule \"%s\": cannot set up its %s meter: %s", r->name,
		     bl_rt_action_name(o->action),
		     errno == EINVAL ? "bad parameters or unknown timezone" : strerror(errno));
		return -errno;
	}
	return 0;
}

struct bl_rt *bl_rt_build(const struct bl_policy *p, const char *file,
			  enum bl_rt_action nopolicy_default, uint32_t gen,
			  struct bl_rt_slots *slots, const struct bl_rt_meter_ops *ops,
			  struct bl_policy_err *err)
{
	uint64_t t0 = now_ns(), m0 = heap_used(), count[2] = { 0, 0 };
	uint8_t *bit_of = NULL;
	uint32_t nbits = 0;
	struct bl_rt *rt;
	int rc = 0;

	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->gen = gen;
	rt->ncat = 1;
	rt->meter_put = ops ? ops->put : NULL;
	if (!p) {
		rt->default_action = nopolicy_default;
		goto out_done;
	}
	rt->has_policy = true;
	rt->default_action = rt_action(bl_policy_default(p));
	rt->nrules = bl_policy_nrules(p);
	rt->nlists = bl_policy_nlists(p);
	rt->nentries = bl_policy_nentries(p);
	bl_policy_hash_hex(p, rt->hash);
	if (rt->nrules > BL_RT_MAX_RULES) {
		diag(err, file, bl_policy_rule(p, BL_RT_MAX_RULES)->line,
		     "too many rules: %u (the runtime holds at most %u)", rt->nrules,
		     BL_RT_MAX_RULES);
		rc = -E2BIG;
		goto out_fail;
	}
	rt->rules = calloc(rt->nrules ? rt->nrules : 1, sizeof(*rt->rules));
	bit_of = calloc(rt->nlists ? rt->nlists : 1, 1);
	if (!rt->rules || !bit_of) {
		rc = -ENOMEM;
		goto out_fail;
	}
	for (uint32_t i = 0; i < rt->nrules; i++) {
		const struct bl_policy_rule *r = bl_policy_rule(p, i);
		const struct bl_addr_match *am[2] = { &r->match.src, &r->match.dst };

		if ((rc = rule_copy(rt, i, r, slots, ops, file, err)))
			goto out_fail;
		if (rt->rules[i].log && !rt->rules[i].l7)
			rt->ncat = RTE_ACL_RESULTS_MULTIPLIER;
		if (rt->rules[i].l7) {
			rt->nl7++;
			continue;
		}
		for (unsigned s = 0; s < 2; s++)
			for (uint32_t k = 0; k < am[s]->nlists; k++) {
				uint32_t l = am[s]->lists[k];

				if (bit_of[l])
					continue;
				if (nbits == BL_RT_MAX_LISTS) {
					diag(err, file, r->line,
					     "rule \"%s\": more than %u prefix lists "
					     "are used in address matches",
					     r->name, BL_RT_MAX_LISTS);
					rc = -E2BIG;
					goto out_fail;
				}
				bit_of[l] = ++nbits;
			}
	}
	for (uint32_t i = 0; i < rt->nrules; i++) {
		const struct bl_policy_rule *r = bl_policy_rule(p, i);

		if (rt->rules[i].l7)
			continue;
		for (unsigned f = 0; f < 2; f++) {
			count[f] += rule_count(p, r, f ? 6 : 4, bit_of);
			if (count[0] + count[1] > BL_RT_MAX_ACL_RULES) {
				diag(err, file, r->line,
				     "rule \"%s\": the rules expand to more than %u "
				     "ACL rules (every combination of prefixes, protocols, ports and "
				     "VLANs is one; use a list)",
				     r->name, BL_RT_MAX_ACL_RULES);
				rc = -E2BIG;
				goto out_fail;
			}
		}
	}
	for (unsigned f = 0; f < 2; f++)
		if ((rc = build_fib(rt, p, bit_of, f, file, err)) ||
		    (rc = build_acl(rt, p, bit_of, f, count[f], file, err)))
			goto out_fail;
	free(bit_of);
out_done:
	rt->build_ns = now_ns() - t0;
	rt->mem_bytes = heap_used() - m0 + sizeof(*rt) + rt->nrules * sizeof(*rt->rules) +
			(rt->nsets[0] + rt->nsets[1]) * sizeof(uint32_t);
	return rt;
out_fail:
	if (rc == -ENOMEM && err && !err->nerrors)
		diag(err, file, 1, "out of memory while compiling the policy");
	free(bit_of);
	bl_rt_free(rt);
	errno = -rc;
	return NULL;
}

/* Print diagnostics the way `blctl policy check` does. */
static void print_diags(const char *path, const struct bl_policy_err *err, bool refused, FILE *f)
{
	unsigned shown = 0;

	for (unsigned i = 0; i < err->ndiags; i++) {
		char line[1024];

		bl_policy_diag_format(&err->diag[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
		shown += err->diag[i].severity == BL_POLICY_ERROR;
	}
	if (!refused)
		return;
	if (err->nerrors > shown)
		fprintf(f, "%s: %u more errors not shown\n", path, err->nerrors - shown);
	fprintf(f, "%s: policy refused (%u error%s)\n", path, err->nerrors,
		err->nerrors == 1 ? "" : "s");
}

struct bl_rt *bl_rt_load_file(const char *path, uint32_t gen, struct bl_rt_slots *slots,
			      const struct bl_rt_meter_ops *ops, FILE *msgs)
{
	struct bl_policy_err *err = calloc(1, sizeof(*err));
	struct bl_policy *p;
	struct bl_rt *rt = NULL;

	if (!err)
		return NULL;
	p = bl_policy_load(path, err);
	if (!p) {
		if (!err->nerrors)
			fprintf(msgs, "%s: %s\n", path, strerror(errno));
		else
			print_diags(path, err, true, msgs);
		goto out_free;
	}
	rt = bl_rt_build(p, path, BL_RT_DROP, gen, slots, ops, err);
	print_diags(path, err, rt == NULL, msgs);
out_free:
	bl_policy_free(p);
	free(err);
	return rt;
}

void bl_rt_summary(const struct bl_rt *rt, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%u rules (%u matched later by L7), %u lists, %lu entries "
		 "(%lu IPv4 + %lu IPv6 list prefixes in FIBs), %u + %u ACL rules in %u contexts, "
		 "default %s, "
		 "generation %u, built in %.1f ms, %.1f MiB",
		 rt->nrules, rt->nl7, rt->nlists, rt->nentries, rt->nfib[0], rt->nfib[1],
		 rt->nacl_rules[0], rt->nacl_rules[1], rt->nacl_ctx,
		 bl_rt_action_name(rt->default_action), rt->gen, rt->build_ns / 1e6,
		 rt->mem_bytes / 1048576.0);
}

const char *bl_rt_action_name(enum bl_rt_action a)
{
	static const char *const names[BL_RT_ACTION_MAX] = {
		"none", "allow", "drop", "reject", "rate-limit", "quota",
	};

	return a < BL_RT_ACTION_MAX ? names[a] : "?";
}

/* ---- publication ---- */

int bl_rt_pub_init(struct bl_rt_pub *pub, uint32_t max_threads)
{
	size_t sz = rte_rcu_qsbr_get_memsize(max_threads);

	memset(pub, 0, sizeof(*pub));
	pub->qsv = rte_zmalloc("bl_rt_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (!pub->qsv)
		return -ENOMEM;
	if (rte_rcu_qsbr_init(pub->qsv, max_threads)) {
		rte_free(pub->qsv);
		pub->qsv = NULL;
		return -EINVAL;
	}
	pub->slots = bl_rt_slots_create();
	if (!pub->slots) {
		rte_free(pub->qsv);
		pub->qsv = NULL;
		return -ENOMEM;
	}
	pub->max_threads = max_threads;
	pub->next_gen = 1;
	return 0;
}

static double us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e6 + (double)(t.tv_nsec - t0->tv_nsec) / 1e3;
}

void bl_rt_publish(struct bl_rt_pub *pub, struct bl_rt *rt, struct bl_rt_pub_times *times)
{
	struct bl_rt_pub_times unused;
	struct bl_rt *old = pub->cur;
	struct timespec t0;

	if (!times)
		times = &unused;
	times->grace_us = times->free_us = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Release: every store that built *rt happens before a worker's
	 * acquire load of the pointer can see it. */
	__atomic_store_n(&pub->cur, rt, __ATOMIC_RELEASE);
	times->store_us = us_since(&t0);
	if (!old)
		return;
	/* Every online worker reports a quiescent state after this point,
	 * i.e. after it finished the burst that may have read `old` (the
	 * qsbr token is taken with a full barrier after our store). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rte_rcu_qsbr_synchronize(pub->qsv, RTE_QSBR_THRID_INVALID);
	times->grace_us = us_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bl_rt_free(old);
	__atomic_fetch_add(&pub->freed, 1, __ATOMIC_RELEASE);
	times->free_us = us_since(&t0);
}

void bl_rt_pub_fini(struct bl_rt_pub *pub)
{
	bl_rt_free(pub->cur);
	pub->cur = NULL;
	rte_free(pub->qsv);
	pub->qsv = NULL;
	bl_rt_slots_free(pub->slots);
	pub->slots = NULL;
}
