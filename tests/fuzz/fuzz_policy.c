/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the policy loader. The input is the policy text, and
 * after the first NUL byte the text that every list file resolves to.
 * Besides the sanitizers, it checks that a policy is returned exactly when
 * no error was reported, and that an accepted policy is consistent: list
 * indexes in range and of the right type, prefixes with their host bits
 * clear, port ranges ordered.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const char *files;
	size_t nfiles;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static int get(void *ctx, const char *name, size_t max_len, const char **text, size_t *len)
{
	const struct input *in = ctx;

	(void)max_len;
	if (strcmp(name, "missing") == 0)
		return -ENOENT;
	*text = in->files;
	*len = in->nfiles;
	return 0;
}

static void check_prefix(const struct bl_prefix *p)
{
	unsigned max = p->family == 4 ? 32 : 128;

	check(p->family == 4 || p->family == 6);
	check(p->len <= max);
	for (unsigned bit = p->len; bit < max; bit++)
		check(!(p->addr[bit / 8] & (0x80u >> (bit % 8))));
}

static void check_refs(const struct bl_policy *p, const uint32_t *refs, uint32_t n,
		       enum bl_list_type t)
{
	for (uint32_t i = 0; i < n; i++) {
		check(refs[i] < bl_policy_nlists(p));
		check(bl_policy_list(p, refs[i])->type == t);
	}
}

static void check_policy(const struct bl_policy *p)
{
	for (uint32_t i = 0; i < bl_policy_nlists(p); i++) {
		const struct bl_policy_list *l = bl_policy_list(p, i);

		for (uint32_t k = 0; k < l->n; k++) {
			if (l->type == BL_LIST_PREFIXES)
				check_prefix(&l->prefixes[k]);
			else if (l->type == BL_LIST_DOMAINS)
				check(l->domains[k].name[0] != '\0' &&
				      strlen(l->domains[k].name) <= 253);
			else
				check(l->patterns[k][0] != '\0');
		}
	}
	for (uint32_t i = 0; i < bl_policy_nrules(p); i++) {
		const struct bl_policy_match *m = &bl_policy_rule(p, i)->match;

		check(bl_policy_rule(p, i)->name[0] != '\0');
		for (uint32_t k = 0; k < m->src.nprefixes; k++)
			check_prefix(&m->src.prefixes[k]);
		for (uint32_t k = 0; k < m->dst.nprefixes; k++)
			check_prefix(&m->dst.prefixes[k]);
		check_refs(p, m->src.lists, m->src.nlists, BL_LIST_PREFIXES);
		check_refs(p, m->dst.lists, m->dst.nlists, BL_LIST_PREFIXES);
		check_refs(p, m->domain_lists, m->ndomain_lists, BL_LIST_DOMAINS);
		check_refs(p, m->pattern_lists, m->npattern_lists, BL_LIST_PATTERNS);
		for (uint32_t k = 0; k < m->ndports; k++)
			check(m->dports[k].lo <= m->dports[k].hi);
		for (uint32_t k = 0; k < m->nsports; k++)
			check(m->sports[k].lo <= m->sports[k].hi);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	struct input in = { .files = nul ? (const char *)nul + 1 : "",
			    .nfiles = nul ? size - tlen - 1 : 0 };
	struct bl_policy_files files = { .get = get, .ctx = &in };
	struct bl_policy_err *err = malloc(sizeof(*err));
	struct bl_policy *p;
	char *text;

	if (!err)
		return 0;
	/* an exact-size heap copy, so that ASan sees any read past the end */
	text = malloc(tlen ? tlen : 1);
	if (!text) {
		free(err);
		return 0;
	}
	memcpy(text, data, tlen);
	p = bl_policy_load_text("fuzz.yaml", text, tlen, &files, err);
	check((p != NULL) == (err->nerrors == 0) || (!p && errno == ENOMEM));
	check(err->ndiags <= BL_POLICY_MAX_DIAGS);
	for (unsigned i = 0; i < err->ndiags; i++)
		check(err->diag[i].line >= 1 && err->diag[i].column >= 1);
	if (p)
		check_policy(p);
	bl_policy_free(p);
	free(text);
	free(err);
	return 0;
}
