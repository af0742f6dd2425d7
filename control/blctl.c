/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * blctl: the command line of brightline, in the manner of ip and bpftool:
 *   blctl [-s SOCK] [-j] OBJECT VERB [ARGS]
 * Only "policy check FILE" (offline: syntax and references) works yet; the
 * other verbs answer "not implemented yet". Exit codes: 0 ok, 1 refused or
 * failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2

struct blctl {
	const char *sock;
	bool json;
};

struct object {
	const char *name;
	const char *const *verbs; /* NULL-terminated; NULL: no verb */
};

static const char *const policy_verbs[] = { "check", "load", "show", "diff", "rollback", NULL };
static const char *const list_verbs[] = { "add", "del", "show", NULL };

static const struct object objects[] = {
	{ "policy", policy_verbs },
	{ "list", list_verbs },
	{ "stats", NULL },
	{ "flows", NULL },
	{ "status", NULL },
};

#define NOBJECTS (sizeof(objects) / sizeof(objects[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: blctl [-s SOCK] [-j] OBJECT VERB [ARGS]\n"
		"  policy check FILE      check a policy offline (syntax, references)\n"
		"  policy load|show|diff|rollback\n"
		"  list add|del|show      change or show a named list\n"
		"  stats | flows | status\n"
		"options:\n"
		"  -s SOCK   control socket (default /run/brightline/control.sock)\n"
		"  -j        JSON output\n");
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "blctl: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	usage(stderr);
	return EXIT_USAGE;
}

static json_t *diag_json(const struct bl_policy_diag *d)
{
	return json_pack("{s:s, s:I, s:I, s:s}", "file", d->file, "line", (json_int_t)d->line,
			 "column", (json_int_t)d->column, "message", d->message);
}

/* {"ok", "errors": [...], "warnings": [...], ...} on stdout. */
static int check_json(const char *path, const struct bl_policy *p, const struct bl_policy_err *err)
{
	json_t *root = json_object(), *errors = json_array(), *warnings = json_array();
	int rc = EXIT_REFUSED;

	if (!root || !errors || !warnings)
		goto out_free;
	for (unsigned i = 0; i < err->ndiags; i++)
		json_array_append_new(err->diag[i].severity == BL_POLICY_ERROR ? errors : warnings,
				      diag_json(&err->diag[i]));
	json_object_set_new(root, "ok", json_boolean(p != NULL));
	json_object_set_new(root, "file", json_string(path));
	json_object_set(root, "errors", errors);
	json_object_set(root, "warnings", warnings);
	if (err->nerrors > json_array_size(errors))
		json_object_set_new(root, "more_errors",
				    json_integer(err->nerrors - (json_int_t)json_array_size(errors)));
	if (p) {
		char hash[65];

		bl_policy_hash_hex(p, hash);
		json_object_set_new(root, "sha256", json_string(hash));
		json_object_set_new(root, "lists", json_integer(bl_policy_nlists(p)));
		json_object_set_new(root, "entries", json_integer((json_int_t)bl_policy_nentries(p)));
		json_object_set_new(root, "rules", json_integer(bl_policy_nrules(p)));
		json_object_set_new(root, "default", json_string(bl_action_kind_name(bl_policy_default(p))));
	}
	if (json_dumpf(root, stdout, JSON_COMPACT) == 0 && fputc('\n', stdout) != EOF)
		rc = p ? 0 : EXIT_REFUSED;
out_free:
	json_decref(warnings);
	json_decref(errors);
	json_decref(root);
	return rc;
}

static int policy_check(const struct blctl *c, int argc, char **argv)
{
	struct bl_policy_err *err;
	struct bl_policy *p;
	int rc;

	if (argc != 1)
		return usage_error("policy check needs one FILE%s%s", "", "");
	err = calloc(1, sizeof(*err));
	if (!err) {
		perror("blctl");
		return EXIT_REFUSED;
	}
	p = bl_policy_load(argv[0], err);
	if (!p && errno == ENOMEM && err->nerrors == 0) {
		fprintf(stderr, "blctl: %s: out of memory\n", argv[0]);
		rc = EXIT_REFUSED;
		goto out_free;
	}
	if (c->json) {
		rc = check_json(argv[0], p, err);
		goto out_free;
	}
	for (unsigned i = 0; i < err->ndiags; i++) {
		char line[1024];

		bl_policy_diag_format(&err->diag[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	if (!p) {
		unsigned shown = 0;

		for (unsigned i = 0; i < err->ndiags; i++)
			shown += err->diag[i].severity == BL_POLICY_ERROR;
		if (err->nerrors > shown)
			fprintf(stderr, "%s: %u more errors not shown\n", argv[0], err->nerrors - shown);
		fprintf(stderr, "%s: policy refused (%u error%s)\n", argv[0], err->nerrors,
			err->nerrors == 1 ? "" : "s");
		rc = EXIT_REFUSED;
		goto out_free;
	}
	char hash[65];

	bl_policy_hash_hex(p, hash);
	printf("%s: ok: %u lists (%llu entries), %u rules, default %s, sha256 %s\n", argv[0],
	       bl_policy_nlists(p), (unsigned long long)bl_policy_nentries(p), bl_policy_nrules(p),
	       bl_action_kind_name(bl_policy_default(p)), hash);
	rc = 0;
out_free:
	bl_policy_free(p);
	free(err);
	return rc;
}

/* The nearest known word for a usage message, or "". */
static const char *hint(const char *word, const char *const *cands, size_t n, char *buf, size_t len)
{
	const char *s = bl_suggest(word, cands, n);

	if (!s)
		return "";
	snprintf(buf, len, " (did you mean \"%s\"?)", s);
	return buf;
}

int main(int argc, char **argv)
{
	struct blctl c = { .sock = "/run/brightline/control.sock" };
	const char *names[NOBJECTS];
	const struct object *obj = NULL;
	char buf[128];
	int opt;

	while ((opt = getopt(argc, argv, "+s:jh")) != -1) {
		switch (opt) {
		case 's':
			c.sock = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage_error("missing OBJECT%s%s", "", "");
	for (size_t i = 0; i < NOBJECTS; i++) {
		names[i] = objects[i].name;
		if (strcmp(argv[0], objects[i].name) == 0)
			obj = &objects[i];
	}
	if (!obj)
		return usage_error("unknown object \"%s\"%s", argv[0],
				   hint(argv[0], names, NOBJECTS, buf, sizeof(buf)));
	if (obj->verbs) {
		size_t nv = 0;
		bool known = false;

		if (argc < 2)
			return usage_error("%s needs a VERB%s", obj->name, "");
		while (obj->verbs[nv])
			known |= strcmp(argv[1], obj->verbs[nv++]) == 0;
		if (!known)
			return usage_error("unknown verb \"%s\"%s", argv[1],
					   hint(argv[1], obj->verbs, nv, buf, sizeof(buf)));
		if (strcmp(obj->name, "policy") == 0 && strcmp(argv[1], "check") == 0)
			return policy_check(&c, argc - 2, argv + 2);
		fprintf(stderr, "blctl: %s %s: not implemented yet\n", obj->name, argv[1]);
		return EXIT_USAGE;
	}
	fprintf(stderr, "blctl: %s: not implemented yet\n", obj->name);
	return EXIT_USAGE;
}
