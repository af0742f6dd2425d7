/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small pieces the policy loader stands on: an arena, growable arrays,
 * diagnostics, typo suggestions and prefix text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK (64u << 10)

/* Returns n bytes aligned on 16, zeroed; big requests get their own chunk
 * placed behind the current one so that its free space stays in use. */
void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + 15) & ~(size_t)15;

	if (need < n)
		return NULL;
	if (c && c->cap - c->used >= need) {
		void *p = c->data + c->used;

		c->used += need;
		return p;
	}
	size_t cap = need > ARENA_CHUNK / 4 ? need : ARENA_CHUNK;

	if (cap > SIZE_MAX - sizeof(*c))
		return NULL;
	c = calloc(1, sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->cap = cap;
	c->used = need;
	if (cap == need && a->head) {
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->data;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = n < SIZE_MAX ? arena_alloc(a, n + 1) : NULL;

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void *arena_memdup(struct arena *a, const void *s, size_t n)
{
	void *p = arena_alloc(a, n ? n : 1);

	if (p && n)
		memcpy(p, s, n);
	return p;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
}

void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void *nv;

		if (cap > SIZE_MAX / v->size)
			return NULL;
		nv = realloc(v->v, cap * v->size);
		if (!nv)
			return NULL;
		v->v = nv;
		v->cap = cap;
	}
	void *slot = (char *)v->v + v->n * v->size;

	memset(slot, 0, v->size);
	v->n++;
	return slot;
}

void vec_release(struct vec *v)
{
	free(v->v);
	v->v = NULL;
	v->n = v->cap = 0;
}

/* Records one diagnostic. When err is full, an error evicts the last
 * warning; anything else is only counted. */
void diag_vadd(struct diags *d, enum bl_policy_severity sev, const char *file, unsigned line,
	       unsigned col, const char *fmt, va_list ap)
{
	struct bl_policy_err *e = d->err;
	struct bl_policy_diag *slot = NULL;

	if (sev == BL_POLICY_ERROR)
		d->nerrors++;
	if (!e)
		return;
	if (sev == BL_POLICY_ERROR)
		e->nerrors++;
	else
		e->nwarnings++;
	if (e->ndiags < BL_POLICY_MAX_DIAGS) {
		slot = &e->diag[e->ndiags++];
	} else if (sev == BL_POLICY_ERROR) {
		for (unsigned i = e->ndiags; i-- > 0;) {
			if (e->diag[i].severity != BL_POLICY_WARNING)
				continue;
			memmove(&e->diag[i], &e->diag[i + 1],
				(e->ndiags - i - 1) * sizeof(e->diag[0]));
			slot = &e->diag[e->ndiags - 1];
			break;
		}
	}
	if (!slot)
		return;
	slot->severity = sev;
	slot->line = line ? line : 1;
	slot->column = col ? col : 1;
	snprintf(slot->file, sizeof(slot->file), "%s", file);
	vsnprintf(slot->message, sizeof(slot->message), fmt, ap);
}

void diag_add(struct diags *d, enum bl_policy_severity sev, const char *file, unsigned line,
	      unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, sev, file, line, col, fmt, ap);
	va_end(ap);
}

int bl_policy_diag_format(const struct bl_policy_diag *d, char *buf, size_t len)
{
	return snprintf(buf, len, "%s:%u:%u: %s: %s", d->file, d->line, d->column,
			d->severity == BL_POLICY_ERROR ? "error" : "warning", d->message);
}

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), bounded to short words. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

const char *bl_suggest(const char *word, const char *const *candidates, size_t n)
{
	size_t len = strlen(word);
	size_t limit = len < 4 ? 1 : len < 8 ? 2 : 3;
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		size_t dist = distance(word, candidates[i]);

		if (dist < best_d && dist <= limit && dist < strlen(candidates[i])) {
			best = candidates[i];
			best_d = dist;
		}
	}
	return best;
}

/* Parses "ADDR/LEN" or "ADDR"; host bits must be zero. */
int prefix_parse(const char *s, size_t n, struct bl_prefix *out, char *why, size_t whylen)
{
	char buf[64];
	const char *slash;
	size_t alen;
	unsigned max, len;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(buf)) {
		snprintf(why, whylen, "expected an IPv4 or IPv6 prefix like 192.0.2.0/24");
		return -EINVAL;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	alen = slash ? (size_t)(slash - buf) : n;
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		max = 128;
	} else {
		snprintf(
			why, whylen,
			"invalid address \"%s\" (expected an IPv4 or IPv6 prefix like 192.0.2.0/24)",
			buf);
		return -EINVAL;
	}
	len = max;
	if (slash) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p) ||
		    (p[0] == '0' && p[1]) || (len = (unsigned)atoi(p)) > max) {
			snprintf(why, whylen, "invalid prefix length \"/%s\" (expected 0 to %u)", p,
				 max);
			return -EINVAL;
		}
	}
	out->len = (uint8_t)len;
	/* host bits: refused, the masked form is suggested */
	struct bl_prefix masked = *out;
	bool host = false;

	for (unsigned bit = len; bit < max; bit++) {
		uint8_t m = (uint8_t)(0x80u >> (bit % 8));

		if (masked.addr[bit / 8] & m) {
			masked.addr[bit / 8] &= (uint8_t)~m;
			host = true;
		}
	}
	if (host) {
		char fixed[64];

		prefix_format(&masked, fixed, sizeof(fixed));
		snprintf(why, whylen, "host bits set in \"%.*s\" (did you mean \"%s\"?)", (int)n, s,
			 fixed);
		return -EINVAL;
	}
	return 0;
}

void prefix_format(const struct bl_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

int prefix_cmp(const void *a, const void *b)
{
	const struct bl_prefix *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (c)
		return c;
	return (int)x->len - (int)y->len;
}
