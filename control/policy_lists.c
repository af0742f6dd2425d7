/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lists: section. Each named list holds prefixes, domain names or
 * payload patterns, written inline (entries:) or in list files (files:),
 * normalized here: prefixes checked for host bits, names lowercased and
 * IDNA-encoded, patterns checked by Hyperscan's parser; prefix and domain
 * lists are sorted and deduplicated.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <hs.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static const char *const list_keys[] = { "type", "entries", "files" };
static const char *const list_types[] = { "prefixes", "domains", "patterns" };

/* Names that hosts files map for the machine itself, not blocked names. */
static const char *const hosts_local[] = {
	"localhost",	   "localhost.localdomain", "local",	      "broadcasthost",
	"0.0.0.0",	   "ip6-localhost",	    "ip6-loopback",   "ip6-localnet",
	"ip6-mcastprefix", "ip6-allnodes",	    "ip6-allrouters", "ip6-allhosts",
};

/* Where an entry was written, for messages. */
struct where {
	const char *file;
	unsigned line, col;
};

static void where_error(struct loader *L, const struct where *w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void where_error(struct loader *L, const struct where *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(&L->d, BL_POLICY_ERROR, w->file, w->line, w->col, fmt, ap);
	va_end(ap);
}

/* A slot for one more entry, within the bound on all lists. */
static void *entry_slot(struct loader *L, struct vec *v, const struct where *w)
{
	void *slot;

	if (L->entries_full)
		return NULL;
	if (L->p->nentries >= BL_POLICY_MAX_ENTRIES) {
		where_error(L, w, "too many list entries (at most %u in all lists)",
			    BL_POLICY_MAX_ENTRIES);
		L->entries_full = true;
		return NULL;
	}
	slot = vec_push(v);
	if (!slot) {
		L->oom = true;
		L->entries_full = true;
		return NULL;
	}
	L->p->nentries++;
	return slot;
}

/* Lowercase, IDNA and label checks; "*." marks a name with its subdomains.
 * Returns the normalized name in the policy's arena, or NULL (reported). */
static const char *domain_normalize(struct loader *L, const struct where *w, const char *s,
				    size_t n, bool *subdomains)
{
	char buf[512];
	char *ascii = NULL;
	const char *name;
	size_t len;
	bool high = false;

	*subdomains = false;
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		*subdomains = true;
		s += 2;
		n -= 2;
	}
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(buf)) {
		where_error(L, w, "invalid domain name \"%.*s\": expected a name like example.com",
			    (int)(n < 80 ? n : 80), s);
		return NULL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		high |= (unsigned char)buf[i] >= 0x80;
	if (high) {
		int rc = idn2_lookup_u8((const uint8_t *)buf, (uint8_t **)&ascii,
					IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

		if (rc != IDN2_OK) {
			where_error(L, w, "invalid internationalized domain name \"%.80s\": %s",
				    buf, idn2_strerror(rc));
			return NULL;
		}
		name = ascii;
	} else {
		name = buf;
	}
	len = strlen(name);
	if (len > 253) {
		where_error(L, w, "invalid domain name \"%.80s...\": longer than 253 characters",
			    buf);
		goto out_free;
	}
	for (size_t i = 0, label = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			if (label == 0) {
				where_error(L, w, "invalid domain name \"%.80s\": empty label",
					    buf);
				goto out_free;
			}
			if (label > 63) {
				where_error(
					L, w,
					"invalid domain name \"%.80s\": label longer than 63 characters",
					buf);
				goto out_free;
			}
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_') {
			if (c == '*')
				where_error(
					L, w,
					"invalid domain name \"%.80s\": a wildcard is allowed only as a whole first label, as in \"*.example.com\"",
					buf);
			else if (isprint(c))
				where_error(
					L, w,
					"invalid domain name \"%.80s\": character '%c' not allowed",
					buf, c);
			else
				where_error(L, w,
					    "invalid domain name: character \\x%02x not allowed",
					    c);
			goto out_free;
		}
		label++;
	}
	char *out = arena_strndup(&L->p->arena, name, len);

	if (!out)
		L->oom = true;
	for (size_t i = 0; out && i < len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	idn2_free(ascii);
	return out;

out_free:
	idn2_free(ascii);
	return NULL;
}

static void add_prefix(struct loader *L, struct vec *v, const struct where *w, const char *s,
		       size_t n)
{
	struct bl_prefix pfx, *slot;
	char why[256];

	if (prefix_parse(s, n, &pfx, why, sizeof(why)) < 0) {
		where_error(L, w, "%s", why);
		return;
	}
	slot = entry_slot(L, v, w);
	if (slot)
		*slot = pfx;
}

static void add_domain(struct loader *L, struct vec *v, const struct where *w, const char *s,
		       size_t n)
{
	struct bl_domain *slot;
	bool sub;
	const char *name = domain_normalize(L, w, s, n, &sub);

	if (!name)
		return;
	slot = entry_slot(L, v, w);
	if (slot) {
		slot->name = name;
		slot->subdomains = sub;
	}
}

/* Syntax only: Hyperscan's own parser, as the L7 stage will compile it. */
static void add_pattern(struct loader *L, struct vec *v, const struct where *w, const char *s,
			size_t n)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;
	const char **slot;
	char *expr = arena_strndup(&L->p->arena, s, n);

	if (!expr) {
		L->oom = true;
		return;
	}
	if (n == 0) {
		where_error(L, w, "empty pattern");
		return;
	}
	if (hs_expression_info(expr, 0, &info, &cerr) != HS_SUCCESS) {
		where_error(L, w, "invalid pattern \"%.80s\": %s", expr,
			    cerr && cerr->message ? cerr->message : "refused by Hyperscan");
		hs_free_compile_error(cerr);
		return;
	}
	bool empty = info->min_width == 0;

	free(info);
	if (empty) {
		where_error(L, w, "pattern \"%.80s\" matches the empty string", expr);
		return;
	}
	slot = entry_slot(L, v, w);
	if (slot)
		*slot = expr;
}

static void add_entry(struct loader *L, enum bl_list_type t, struct vec *v, const struct where *w,
		      const char *s, size_t n)
{
	switch (t) {
	case BL_LIST_PREFIXES: add_prefix(L, v, w, s, n); break;
	case BL_LIST_DOMAINS: add_domain(L, v, w, s, n); break;
	case BL_LIST_PATTERNS: add_pattern(L, v, w, s, n); break;
	}
}

static bool is_address(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 1];
	uint8_t a[16];

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
}

static bool is_hosts_local(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(hosts_local) / sizeof(hosts_local[0]); i++)
		if (strlen(hosts_local[i]) == n && memcmp(hosts_local[i], s, n) == 0)
			return true;
	return false;
}

/* One line of a prefix or domain file: '#' starts a comment; a domain line
 * is one name, or a hosts line "ADDRESS NAME..." (local names skipped). */
static void parse_line(struct loader *L, enum bl_list_type t, struct vec *v, struct where *w,
		       const char *s, size_t n)
{
	size_t tok[64][2], ntok = 0;
	const char *hash = memchr(s, '#', n);

	if (hash)
		n = (size_t)(hash - s);
	for (size_t i = 0; i < n;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			break;
		size_t start = i;

		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		if (ntok == 64) {
			w->col = (unsigned)start + 1;
			where_error(L, w, "too many names on one line (at most 63)");
			return;
		}
		tok[ntok][0] = start;
		tok[ntok++][1] = i - start;
	}
	if (ntok == 0)
		return;
	if (t == BL_LIST_DOMAINS && is_address(s + tok[0][0], tok[0][1])) {
		if (ntok == 1) {
			w->col = (unsigned)tok[0][0] + 1;
			where_error(L, w,
				    "hosts line without a name: expected \"0.0.0.0 example.com\"");
		}
		for (size_t k = 1; k < ntok; k++) {
			if (is_hosts_local(s + tok[k][0], tok[k][1]))
				continue;
			w->col = (unsigned)tok[k][0] + 1;
			add_domain(L, v, w, s + tok[k][0], tok[k][1]);
		}
		return;
	}
	if (ntok > 1) {
		w->col = (unsigned)tok[1][0] + 1;
		if (t == BL_LIST_PREFIXES)
			where_error(L, w, "expected one prefix per line");
		else
			where_error(
				L, w,
				"expected one domain name per line, or a hosts line like \"0.0.0.0 example.com\"");
		return;
	}
	w->col = (unsigned)tok[0][0] + 1;
	add_entry(L, t, v, w, s + tok[0][0], tok[0][1]);
}

/* A list file's text, line by line. Pattern files: one expression a line,
 * surrounding blanks trimmed, '#' only as a line's first non-blank. */
static void parse_file_text(struct loader *L, enum bl_list_type t, struct vec *v, const char *fname,
			    const char *text, size_t len)
{
	struct where w = { .file = fname };
	size_t off = 0;

	while (off < len && !L->entries_full && !L->oom) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl ? (size_t)(nl - s) : len - off;

		off += n + (nl ? 1 : 0);
		w.line++;
		w.col = 1;
		if (n > BL_POLICY_MAX_LINE) {
			where_error(L, &w, "line too long (more than %u bytes)",
				    BL_POLICY_MAX_LINE);
			continue;
		}
		if (n && s[n - 1] == '\r')
			n--;
		const char *nul = memchr(s, '\0', n);

		if (nul) {
			w.col = (unsigned)(nul - s) + 1;
			where_error(L, &w, "NUL byte in a list file");
			continue;
		}
		if (t != BL_LIST_PATTERNS) {
			parse_line(L, t, v, &w, s, n);
			continue;
		}
		size_t i = 0;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (i == n || s[i] == '#')
			continue;
		w.col = (unsigned)i + 1;
		add_pattern(L, v, &w, s + i, n - i);
	}
}

/* The name of a list file in messages: beside the policy, as the file
 * resolver of bl_policy_load() reads it. */
static const char *file_display(struct loader *L, const char *name)
{
	const char *slash = strrchr(L->file, '/');
	size_t dlen = slash ? (size_t)(slash - L->file) + 1 : 0;
	size_t nlen = strlen(name);
	char *s;

	if (name[0] == '/' || dlen == 0)
		return name;
	s = arena_alloc(&L->tree, dlen + nlen + 1);
	if (!s)
		return name;
	memcpy(s, L->file, dlen);
	memcpy(s + dlen, name, nlen + 1);
	return s;
}

static void read_list_file(struct loader *L, enum bl_list_type t, struct vec *v,
			   const struct node *fn)
{
	const char *text = NULL;
	size_t len = 0;
	int rc;

	if (!expect_kind(L, fn, NODE_SCALAR, "a file name"))
		return;
	if (fn->len == 0) {
		node_error(L, fn, "expected a file name, got an empty string");
		return;
	}
	if (!L->files) {
		node_error(
			L, fn,
			"list file \"%.200s\" given, but no list files were supplied with this policy",
			fn->str);
		return;
	}
	rc = L->files->get(L->files->ctx, fn->str, BL_POLICY_MAX_LIST_FILE, &text, &len);
	if (rc == -EFBIG || (rc == 0 && len > BL_POLICY_MAX_LIST_FILE)) {
		node_error(L, fn, "list file \"%.200s\" too large (at most %u MiB)", fn->str,
			   BL_POLICY_MAX_LIST_FILE >> 20);
		goto out_put;
	}
	if (rc < 0) {
		node_error(L, fn, "cannot read list file \"%.200s\": %s", fn->str, strerror(-rc));
		return;
	}
	if (len > BL_POLICY_MAX_LIST_TOTAL - L->files_total) {
		node_error(L, fn, "list files too large in total (at most %u MiB)",
			   BL_POLICY_MAX_LIST_TOTAL >> 20);
		goto out_put;
	}
	L->files_total += len;
	parse_file_text(L, t, v, file_display(L, fn->str), text, len);
out_put:
	if (rc == 0 && L->files->put)
		L->files->put(L->files->ctx, fn->str, text, len);
}

static int domain_cmp(const void *a, const void *b)
{
	const struct bl_domain *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (int)x->subdomains - (int)y->subdomains;
}

/* Sorts and deduplicates prefix and domain entries; hands the array to l. */
static void list_finish(struct bl_policy *p, struct bl_policy_list *l, struct vec *v)
{
	size_t n = v->n, out = 0;

	if (l->type == BL_LIST_PREFIXES && n > 1) {
		struct bl_prefix *e = v->v;

		qsort(e, n, sizeof(*e), prefix_cmp);
		for (size_t i = 0; i < n; i++)
			if (out == 0 || prefix_cmp(&e[out - 1], &e[i]) != 0)
				e[out++] = e[i];
		n = out;
	} else if (l->type == BL_LIST_DOMAINS && n > 1) {
		struct bl_domain *e = v->v;

		qsort(e, n, sizeof(*e), domain_cmp);
		for (size_t i = 0; i < n; i++)
			if (out == 0 || domain_cmp(&e[out - 1], &e[i]) != 0)
				e[out++] = e[i];
		n = out;
	}
	p->nentries -= v->n - n;
	l->n = (uint32_t)n;
	l->prefixes = v->v;
	v->v = NULL;
	v->n = v->cap = 0;
}

static void parse_list(struct loader *L, uint32_t idx, const struct node *spec)
{
	static const size_t esize[] = {
		[BL_LIST_PREFIXES] = sizeof(struct bl_prefix),
		[BL_LIST_DOMAINS] = sizeof(struct bl_domain),
		[BL_LIST_PATTERNS] = sizeof(const char *),
	};
	struct bl_policy_list *l = &L->p->lists[idx];
	const struct node *type, *entries, *files;
	unsigned errors = L->d.nerrors;
	struct vec v = { 0 };
	int t = -1;

	if (!expect_kind(L, spec, NODE_MAP, "a list (type, entries, files)"))
		goto out_bad;
	check_keys(L, spec, list_keys, 3, "list");
	type = map_get(spec, "type");
	entries = map_get(spec, "entries");
	files = map_get(spec, "files");
	if (!type) {
		node_error(L, spec, "list \"%s\" needs a type (prefixes, domains or patterns)",
			   l->name);
		goto out_bad;
	}
	if (!expect_kind(L, type, NODE_SCALAR, "a list type (prefixes, domains or patterns)"))
		goto out_bad;
	for (int i = 0; i < 3; i++)
		if (strcmp(type->str, list_types[i]) == 0)
			t = i;
	if (t < 0) {
		const char *s = bl_suggest(type->str, list_types, 3);

		if (s)
			node_error(L, type, "unknown list type \"%.64s\" (did you mean \"%s\"?)",
				   type->str, s);
		else
			node_error(
				L, type,
				"unknown list type \"%.64s\" (expected prefixes, domains or patterns)",
				type->str);
		goto out_bad;
	}
	l->type = (enum bl_list_type)t;
	v.size = esize[t];
	if (!entries && !files)
		node_error(L, spec, "list \"%s\" needs entries or files", l->name);
	if (entries && expect_kind(L, entries, NODE_SEQ, "a sequence of entries")) {
		for (const struct node *e = entries->first; e && !L->entries_full; e = e->next) {
			struct where w = { L->file, e->line, e->col };

			if (expect_kind(L, e, NODE_SCALAR, list_types[t]))
				add_entry(L, l->type, &v, &w, e->str, e->len);
		}
	}
	if (files && expect_kind(L, files, NODE_SEQ, "a sequence of file names")) {
		for (const struct node *f = files->first; f && !L->entries_full; f = f->next)
			read_list_file(L, l->type, &v, f);
	}
	list_finish(L->p, l, &v);
	if (L->d.nerrors == errors)
		return;
out_bad:
	L->list_state[idx] |= LIST_BAD;
}

void lists_parse(struct loader *L, const struct node *lists)
{
	uint32_t n = lists->n / 2, i = 0;

	L->p->lists = arena_alloc(&L->p->arena, (n ? n : 1) * sizeof(*L->p->lists));
	L->list_state = arena_alloc(&L->tree, n + 1);
	L->list_names = arena_alloc(&L->tree, (n + 1) * sizeof(*L->list_names));
	if (!L->p->lists || !L->list_state || !L->list_names) {
		L->oom = true;
		return;
	}
	L->p->nlists = n;
	/* names first, so that every rule sees every list */
	for (const struct node *k = lists->first; k; k = k->next->next, i++) {
		L->list_names[i] = k->str;
		L->p->lists[i].name = arena_strndup(&L->p->arena, k->str, k->len);
		if (!L->p->lists[i].name) {
			L->oom = true;
			return;
		}
		if (!name_valid(k->str)) {
			node_error(
				L, k,
				"invalid list name \"%.64s\": expected a letter, then letters, digits, '-', '_' or '.' (at most %u)",
				k->str, BL_POLICY_MAX_NAME);
			L->list_state[i] |= LIST_BAD;
		}
	}
	i = 0;
	for (const struct node *k = lists->first; k && !L->oom; k = k->next->next, i++)
		parse_list(L, i, k->next);
}

/* Bit 0: holds IPv4 prefixes, bit 1: IPv6. */
uint8_t list_families(const struct bl_policy_list *l)
{
	uint8_t f = 0;

	for (uint32_t i = 0; i < l->n && f != 3; i++)
		f |= l->prefixes[i].family == 4 ? 1 : 2;
	return f;
}
