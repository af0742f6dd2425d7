/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.diff: what a candidate policy changes against the running one, on
 * the normalized form (comments, layout and entry order do not count):
 * rules by name (added, removed, changed with both sides written out,
 * moved), lists by name (entries added and removed), the default action.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy.h"

int bl_ctl_policy_diff(const struct bl_policy *old, const struct bl_policy *new_, json_t **out);

static void put_prefix(FILE *f, const struct bl_prefix *x)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(x->family == 4 ? AF_INET : AF_INET6, x->addr, a, sizeof(a));
	fprintf(f, "%s/%u", a, x->len);
}

static void put_refs(FILE *f, const struct bl_policy *p, const uint32_t *refs, uint32_t n,
		     const char *sep)
{
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? sep : "", bl_policy_list(p, refs[i])->name);
}

static void put_addr(FILE *f, const struct bl_policy *p, const char *what,
		     const struct bl_addr_match *m)
{
	if (!m->nprefixes && !m->nlists)
		return;
	fprintf(f, " %s [", what);
	for (uint32_t i = 0; i < m->nprefixes; i++) {
		fputs(i ? " " : "", f);
		put_prefix(f, &m->prefixes[i]);
	}
	if (m->nprefixes && m->nlists)
		fputc(' ', f);
	put_refs(f, p, m->lists, m->nlists, " ");
	fputc(']', f);
}

static void put_rate(FILE *f, const struct bl_rate_limit *r)
{
	fprintf(f, "%llubps burst %llu per %s/%u", (unsigned long long)r->rate_bps,
		(unsigned long long)r->burst_bytes, r->per == BL_PER_RULE ? "rule" : "subscriber",
		r->subscriber_prefix6);
}

/* The rule as one line: what it matches and does (its position aside). */
static char *rule_text(const struct bl_policy *p, const struct bl_policy_rule *r)
{
	const struct bl_policy_match *m = &r->match;
	const struct bl_policy_action *a = &r->action;
	static const char *const dirs[] = { "any", "inbound", "outbound" };
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	fprintf(f, "%s", dirs[r->direction]);
	put_addr(f, p, "src", &m->src);
	put_addr(f, p, "dst", &m->dst);
	if (m->nprotos) {
		fputs(" proto [", f);
		for (uint32_t i = 0; i < m->nprotos; i++)
			fprintf(f, "%s%u", i ? " " : "", m->protos[i]);
		fputc(']', f);
	}
	for (int side = 0; side < 2; side++) {
		uint32_t np = side ? m->ndports : m->nsports;
		const struct bl_port_range *pr = side ? m->dports : m->sports;

		if (!np)
			continue;
		fprintf(f, " %s [", side ? "dport" : "sport");
		for (uint32_t i = 0; i < np; i++)
			fprintf(f, pr[i].lo == pr[i].hi ? "%s%u" : "%s%u-%u", i ? " " : "",
				pr[i].lo, pr[i].hi);
		fputc(']', f);
	}
	if (m->nvlans) {
		fputs(" vlan [", f);
		for (uint32_t i = 0; i < m->nvlans; i++)
			fprintf(f, "%s%u", i ? " " : "", m->vlans[i]);
		fputc(']', f);
	}
	if (m->ndomain_lists) {
		fputs(" domain [", f);
		put_refs(f, p, m->domain_lists, m->ndomain_lists, " ");
		fputc(']', f);
	}
	if (m->npattern_lists) {
		fputs(" pattern [", f);
		put_refs(f, p, m->pattern_lists, m->npattern_lists, " ");
		fputc(']', f);
	}
	fprintf(f, " -> %s", bl_action_kind_name(a->kind));
	if (a->kind == BL_ACT_RATE_LIMIT) {
		fputc(' ', f);
		put_rate(f, &a->rate);
	} else if (a->kind == BL_ACT_QUOTA) {
		fprintf(f, " %llu bytes per %s %llu/%u tz %s per %s then %s",
			(unsigned long long)a->quota.bytes,
			a->quota.period == BL_PERIOD_ROLLING ? "rolling" : "calendar",
			(unsigned long long)a->quota.rolling_s, a->quota.calendar,
			a->quota.timezone ? a->quota.timezone : "-",
			a->quota.per == BL_PER_RULE ? "rule" : "subscriber",
			bl_action_kind_name(a->quota.then));
		if (a->quota.then == BL_ACT_RATE_LIMIT) {
			fputc(' ', f);
			put_rate(f, &a->quota.then_rate);
		}
	}
	fclose(f);
	return s;
}

static int rule_find(const struct bl_policy *p, const char *name)
{
	for (uint32_t i = 0; p && i < bl_policy_nrules(p); i++)
		if (!strcmp(bl_policy_rule(p, i)->name, name))
			return (int)i;
	return -1;
}

/* Entry i of l as text (for sorting and counting). */
static char *entry_str(const struct bl_policy_list *l, uint32_t i)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	if (l->type == BL_LIST_PREFIXES)
		put_prefix(f, &l->prefixes[i]);
	else if (l->type == BL_LIST_DOMAINS)
		fprintf(f, "%s%s", l->domains[i].subdomains ? "*." : "", l->domains[i].name);
	else
		fputs(l->patterns[i], f);
	fclose(f);
	return s;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sorted_entries(const struct bl_policy_list *l)
{
	char **v = calloc(l->n + 1, sizeof(*v));

	for (uint32_t i = 0; v && i < l->n; i++)
		if (!(v[i] = entry_str(l, i))) {
			for (uint32_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
	if (v)
		qsort(v, l->n, sizeof(*v), str_cmp);
	return v;
}

static void free_entries(char **v, uint32_t n)
{
	for (uint32_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* {added, removed, examples} of two lists; a few examples of each side. */
static json_t *list_diff(const struct bl_policy_list *a, const struct bl_policy_list *b)
{
	char **x = sorted_entries(a), **y = sorted_entries(b);
	json_t *ex_add = json_array(), *ex_del = json_array(), *o = NULL;
	uint64_t added = 0, removed = 0;
	uint32_t i = 0, j = 0;

	if (!x || !y)
		goto out_free;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(x[i], y[j]);

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			if (removed++ < 10)
				json_array_append_new(ex_del, json_string(x[i]));
			i++;
		} else {
			if (added++ < 10)
				json_array_append_new(ex_add, json_string(y[j]));
			j++;
		}
	}
	o = json_pack("{s:I, s:I, s:O, s:O}", "added", (json_int_t)added, "removed",
		      (json_int_t)removed, "some_added", ex_add, "some_removed", ex_del);
	if (o && a->type != b->type)
		json_object_set_new(o, "type", json_pack("[i,i]", a->type, b->type));
out_free:
	json_decref(ex_add);
	json_decref(ex_del);
	free_entries(x, a->n);
	free_entries(y, b->n);
	return o;
}

int bl_ctl_policy_diff(const struct bl_policy *old, const struct bl_policy *new_, json_t **out)
{
	json_t *added = json_array(), *removed = json_array(), *changed = json_array(),
	       *moved = json_array();
	json_t *lists = json_object(), *root;
	uint32_t no = old ? bl_policy_nrules(old) : 0, nn = bl_policy_nrules(new_);

	for (uint32_t i = 0; i < nn; i++) {
		const struct bl_policy_rule *r = bl_policy_rule(new_, i);
		int k = rule_find(old, r->name);
		char *tn = rule_text(new_, r), *to;

		if (k < 0) {
			json_array_append_new(added,
					      json_pack("{s:s, s:i, s:s}", "name", r->name,
							"position", i + 1, "rule", tn ? tn : ""));
		} else {
			to = rule_text(old, bl_policy_rule(old, (uint32_t)k));
			if (tn && to && strcmp(tn, to))
				json_array_append_new(changed,
						      json_pack("{s:s, s:s, s:s}", "name", r->name,
								"old", to, "new", tn));
			if ((uint32_t)k != i)
				json_array_append_new(moved,
						      json_pack("{s:s, s:i, s:i}", "name", r->name,
								"from", k + 1, "to", i + 1));
			free(to);
		}
		free(tn);
	}
	for (uint32_t i = 0; i < no; i++) {
		const struct bl_policy_rule *r = bl_policy_rule(old, i);

		if (rule_find(new_, r->name) < 0) {
			char *to = rule_text(old, r);

			json_array_append_new(removed,
					      json_pack("{s:s, s:i, s:s}", "name", r->name,
							"position", i + 1, "rule", to ? to : ""));
			free(to);
		}
	}
	for (uint32_t i = 0; i < bl_policy_nlists(new_); i++) {
		const struct bl_policy_list *l = bl_policy_list(new_, i);
		int k = old ? bl_policy_list_find(old, l->name) : -1;
		json_t *d;

		if (k < 0) {
			json_object_set_new(lists, l->name,
					    json_pack("{s:s, s:I}", "status", "added", "entries",
						      (json_int_t)l->n));
			continue;
		}
		d = list_diff(bl_policy_list(old, (uint32_t)k), l);
		if (d && (json_integer_value(json_object_get(d, "added")) ||
			  json_integer_value(json_object_get(d, "removed")))) {
			json_object_set_new(d, "status", json_string("changed"));
			json_object_set_new(lists, l->name, d);
		} else {
			json_decref(d);
		}
	}
	for (uint32_t i = 0; old && i < bl_policy_nlists(old); i++) {
		const struct bl_policy_list *l = bl_policy_list(old, i);

		if (bl_policy_list_find(new_, l->name) < 0)
			json_object_set_new(lists, l->name,
					    json_pack("{s:s, s:I}", "status", "removed", "entries",
						      (json_int_t)l->n));
	}
	root = json_pack("{s:{s:o, s:o, s:o, s:o}, s:o}", "rules", "added", added, "removed",
			 removed, "changed", changed, "moved", moved, "lists", lists);
	if (!root)
		return -ENOMEM;
	if (!old || bl_policy_default(old) != bl_policy_default(new_))
		json_object_set_new(
			root, "default",
			json_pack("{s:s?, s:s}", "old",
				  old ? bl_action_kind_name(bl_policy_default(old)) : NULL, "new",
				  bl_action_kind_name(bl_policy_default(new_))));
	json_object_set_new(
		root, "same",
		json_boolean(old && !memcmp(bl_policy_hash(old), bl_policy_hash(new_), 32)));
	*out = root;
	return 0;
}
