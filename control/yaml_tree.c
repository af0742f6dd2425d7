/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hardened YAML reader: libyaml's event stream turned into a small tree,
 * refusing what a policy never needs and an attacker could use: aliases and
 * anchors (expansion bombs), tags, duplicate keys (which value wins?), more
 * than one document, deep nesting and oversized input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy_int.h"

struct reader {
	struct arena *a;
	struct diags *d;
	const char *file;
	struct node *root;
	struct node *stack[BL_POLICY_MAX_DEPTH + 1];
	unsigned depth;
	unsigned ndocs;
	size_t nnodes;
	bool stop;
};

static void mark_error(struct reader *r, const yaml_mark_t *m, const char *what)
{
	diag_add(r->d, BL_POLICY_ERROR, r->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
		 "%s", what);
}

/* Anchors and tags are refused wherever they appear. */
static void check_props(struct reader *r, const yaml_event_t *ev, const yaml_char_t *anchor,
			const yaml_char_t *tag)
{
	if (anchor)
		diag_add(r->d, BL_POLICY_ERROR, r->file, (unsigned)ev->start_mark.line + 1,
			 (unsigned)ev->start_mark.column + 1,
			 "anchors are not allowed (\"&%.64s\"): write each value out", anchor);
	if (tag)
		diag_add(r->d, BL_POLICY_ERROR, r->file, (unsigned)ev->start_mark.line + 1,
			 (unsigned)ev->start_mark.column + 1, "tags are not allowed (\"%.64s\")",
			 tag);
}

static struct node *new_node(struct reader *r, enum node_kind kind, const yaml_mark_t *m)
{
	struct node *n;

	if (++r->nnodes > BL_POLICY_MAX_NODES) {
		diag_add(r->d, BL_POLICY_ERROR, r->file, (unsigned)m->line + 1,
			 (unsigned)m->column + 1,
			 "too many YAML values (at most %u): put large lists in list files",
			 BL_POLICY_MAX_NODES);
		r->stop = true;
		return NULL;
	}
	n = arena_alloc(r->a, sizeof(*n));
	if (!n) {
		errno = ENOMEM;
		r->stop = true;
		return NULL;
	}
	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	n->str = "";
	return n;
}

/* Hangs n under the innermost open collection, or makes it the root. */
static void attach(struct reader *r, struct node *n)
{
	struct node *p;

	if (r->depth == 0) {
		r->root = n;
		return;
	}
	p = r->stack[r->depth - 1];
	if (p->kind == NODE_MAP && p->n % 2 == 0 && n->kind != NODE_SCALAR)
		diag_add(r->d, BL_POLICY_ERROR, r->file, n->line, n->col,
			 "expected a plain key, got a %s",
			 n->kind == NODE_MAP ? "mapping" : "sequence");
	if (p->last)
		p->last->next = n;
	else
		p->first = n;
	p->last = n;
	p->n++;
}

static int key_cmp(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->str, y->str, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

/* Duplicate keys, found by sorting so that a huge mapping stays cheap;
 * each repeat is reported where it stands, naming the first. */
static void check_duplicates(struct reader *r, struct node *map)
{
	struct node **keys;
	size_t nk = 0;

	keys = malloc((map->n / 2 + 1) * sizeof(*keys));
	if (!keys) {
		errno = ENOMEM;
		r->stop = true;
		return;
	}
	for (struct node *k = map->first; k; k = k->next ? k->next->next : NULL)
		if (k->kind == NODE_SCALAR)
			keys[nk++] = k;
	qsort(keys, nk, sizeof(*keys), key_cmp);
	for (size_t i = 1, first = 0; i < nk; i++) {
		if (keys[i]->len == keys[first]->len &&
		    memcmp(keys[i]->str, keys[first]->str, keys[i]->len) == 0)
			diag_add(r->d, BL_POLICY_ERROR, r->file, keys[i]->line, keys[i]->col,
				 "duplicate key \"%.64s\" (first at line %u, column %u)",
				 keys[i]->str, keys[first]->line, keys[first]->col);
		else
			first = i;
	}
	free(keys);
}

static void open_collection(struct reader *r, yaml_event_t *ev, enum node_kind kind)
{
	struct node *n = new_node(r, kind, &ev->start_mark);

	if (!n)
		return;
	attach(r, n);
	if (r->depth == BL_POLICY_MAX_DEPTH) {
		diag_add(r->d, BL_POLICY_ERROR, r->file, n->line, n->col,
			 "nesting too deep (at most %u levels)", BL_POLICY_MAX_DEPTH);
		r->stop = true;
		return;
	}
	r->stack[r->depth++] = n;
}

static void on_event(struct reader *r, yaml_event_t *ev)
{
	struct node *n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++r->ndocs > 1) {
			mark_error(r, &ev->start_mark,
				   "expected one YAML document, found a second one");
			r->stop = true;
		}
		break;
	case YAML_ALIAS_EVENT:
		diag_add(r->d, BL_POLICY_ERROR, r->file, (unsigned)ev->start_mark.line + 1,
			 (unsigned)ev->start_mark.column + 1,
			 "aliases are not allowed (\"*%.64s\"): write each value out",
			 ev->data.alias.anchor);
		n = new_node(r, NODE_SCALAR, &ev->start_mark);
		if (n)
			attach(r, n);
		break;
	case YAML_SCALAR_EVENT:
		check_props(r, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
		n = new_node(r, NODE_SCALAR, &ev->start_mark);
		if (!n)
			break;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = arena_strndup(r->a, (const char *)ev->data.scalar.value, n->len);
		if (!n->str) {
			errno = ENOMEM;
			r->stop = true;
			break;
		}
		if (memchr(n->str, '\0', n->len))
			mark_error(r, &ev->start_mark, "NUL character in a string");
		attach(r, n);
		break;
	case YAML_SEQUENCE_START_EVENT:
		check_props(r, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
		open_collection(r, ev, NODE_SEQ);
		break;
	case YAML_MAPPING_START_EVENT:
		check_props(r, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
		open_collection(r, ev, NODE_MAP);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (r->depth == 0)
			break;
		n = r->stack[--r->depth];
		if (n->kind == NODE_MAP)
			check_duplicates(r, n);
		break;
	default: break;
	}
}

struct node *yaml_tree_parse(struct arena *a, struct diags *d, const char *file, const char *text,
			     size_t len)
{
	struct reader r = { .a = a, .d = d, .file = file };
	unsigned errors_before = d->nerrors;
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;

	if (len > BL_POLICY_MAX_TEXT) {
		diag_add(d, BL_POLICY_ERROR, file, 1, 1,
			 "policy too large (%zu bytes, at most %u MiB)", len,
			 BL_POLICY_MAX_TEXT >> 20);
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		errno = ENOMEM;
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && !r.stop) {
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				errno = ENOMEM;
				r.stop = true;
				break;
			}
			if (parser.context)
				diag_add(d, BL_POLICY_ERROR, file,
					 (unsigned)parser.problem_mark.line + 1,
					 (unsigned)parser.problem_mark.column + 1,
					 "invalid YAML: %s (%s at line %u)", parser.problem,
					 parser.context, (unsigned)parser.context_mark.line + 1);
			else
				diag_add(d, BL_POLICY_ERROR, file,
					 (unsigned)parser.problem_mark.line + 1,
					 (unsigned)parser.problem_mark.column + 1,
					 "invalid YAML: %s",
					 parser.problem ? parser.problem : "unreadable input");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		on_event(&r, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (d->nerrors != errors_before || !done)
		return NULL;
	if (!r.root) {
		diag_add(d, BL_POLICY_ERROR, file, 1, 1,
			 "empty policy: expected a mapping with version, lists, rules and default");
		return NULL;
	}
	return r.root;
}
