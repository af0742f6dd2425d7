/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by the policy loader's files: an arena, growable arrays,
 * the hardened YAML tree and the diagnostics sink. Not installed.
 */
#ifndef BL_CONTROL_POLICY_INT_H
#define BL_CONTROL_POLICY_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Chunked bump allocator: everything is freed at once. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
};

void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void *arena_memdup(struct arena *a, const void *s, size_t n);
void arena_release(struct arena *a);

/* Growable array of fixed-size elements (malloc'd). */
struct vec {
	void *v;
	size_t n, cap, size;
};

void *vec_push(struct vec *v); /* zeroed slot, or NULL */
void vec_release(struct vec *v);

/* Diagnostics sink: the caller's err plus a count of errors, which decides
 * refusal even when err is NULL. */
struct diags {
	struct bl_policy_err *err;
	unsigned nerrors;
};

void diag_add(struct diags *d, enum bl_policy_severity sev, const char *file, unsigned line,
	      unsigned col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void diag_vadd(struct diags *d, enum bl_policy_severity sev, const char *file, unsigned line,
	       unsigned col, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

/* The YAML tree: what the hardened reader keeps of a document. */
enum node_kind {
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP,
};

struct node {
	enum node_kind kind;
	bool plain;	    /* scalar written without quotes */
	unsigned line, col; /* 1-based */
	const char *str;    /* scalar, NUL-terminated */
	size_t len;
	uint32_t n; /* children; a map has 2 per pair (key, value) */
	struct node *first, *last, *next;
};

/* Parses text into a tree in a, refusing aliases, anchors, tags, duplicate
 * keys, more than one document, and nesting or size beyond the bounds.
 * Returns the root, or NULL after reporting to d. */
struct node *yaml_tree_parse(struct arena *a, struct diags *d, const char *file, const char *text,
			     size_t len);

/* Prefix text "10.0.0.0/8", "2001:db8::/32" or an address (full length).
 * Returns 0, or -EINVAL with why filled. */
int prefix_parse(const char *s, size_t n, struct bl_prefix *out, char *why, size_t whylen);
void prefix_format(const struct bl_prefix *p, char *buf, size_t len);
int prefix_cmp(const void *a, const void *b);

/* The policy object: one arena for names and small arrays; list entry
 * arrays are malloc'd (they grow while files are read) and freed one by
 * one. */
struct bl_policy {
	struct arena arena;
	uint32_t nlists;
	struct bl_policy_list *lists;
	uint32_t nrules;
	struct bl_policy_rule *rules;
	enum bl_action_kind deflt;
	uint64_t nentries;
	uint8_t hash[32];
};

/* State of one load. */
enum {
	LIST_USED = 1,
	LIST_BAD = 2, /* refused: references to it are not checked further */
};

struct loader {
	struct arena tree; /* the YAML tree, dropped after the load */
	struct bl_policy *p;
	struct diags d;
	const char *file; /* the policy's name in messages */
	const struct bl_policy_files *files;
	size_t files_total;
	bool entries_full;
	uint8_t *list_state;
	const char **list_names;
	bool oom;
};

void node_error(struct loader *L, const struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *node_kind_name(const struct node *n);
bool node_is_null(const struct node *n);
/* An error naming the expected shape unless n has kind k. */
bool expect_kind(struct loader *L, const struct node *n, enum node_kind k, const char *what);
/* Reports keys of map not in allowed[] (with the nearest one). */
void check_keys(struct loader *L, const struct node *map, const char *const *allowed, size_t n,
		const char *where);
struct node *map_get(const struct node *map, const char *key);
bool name_valid(const char *s);

/* policy_lists.c: the lists: section, entries and list files. */
void lists_parse(struct loader *L, const struct node *lists);
uint8_t list_families(const struct bl_policy_list *l);

/* SHA-256 of the canonical form, through OpenSSL's EVP interface. An
 * allocation failure in init or update is remembered and reported by final. */
struct sha256 {
	struct evp_md_ctx_st *ctx;
	int err;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
int sha256_final(struct sha256 *s, uint8_t out[32]); /* 0 or -ENOMEM; frees */

#endif /* BL_CONTROL_POLICY_INT_H */
