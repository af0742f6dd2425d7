/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * blctl: the command line of brightline, in the manner of ip and bpftool:
 *   blctl [-s SOCK] [-j] OBJECT VERB [ARGS]
 * `policy check FILE` works offline (syntax and references); every other
 * verb talks to the daemon over its control socket (proto.h). Tables for
 * people, -j for programs (the daemon's reply line as it came).
 * Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 cannot connect or not
 * allowed.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "policy.h"
#include "prom.h"
#include "proto.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define EXIT_CONNECT 3

struct blctl {
	const char *sock;
	bool json;
	unsigned timeout_s;
};

struct object {
	const char *name;
	const char *const *verbs; /* NULL-terminated; NULL: no verb */
};

static const char *const policy_verbs[] = { "check", "load", "show", "diff", "rollback", NULL };
static const char *const list_verbs[] = { "add", "del", "show", NULL };

static const struct object objects[] = {
	{ "policy", policy_verbs }, { "list", list_verbs }, { "stats", NULL },
	{ "flows", NULL },	    { "status", NULL },
};

#define NOBJECTS (sizeof(objects) / sizeof(objects[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: blctl [-s SOCK] [-j] [-t SECONDS] OBJECT VERB [ARGS]\n"
		"  policy check [--daemon] FILE  check a policy (offline: syntax, references;\n"
		"                                --daemon: compiled by the daemon, not published)\n"
		"  policy load FILE              compile and publish a policy (hitless)\n"
		"  policy show [--files]         the running policy's text\n"
		"  policy diff FILE              what FILE changes against the running policy\n"
		"  policy rollback               republish the previous policy\n"
		"  list add|del NAME ENTRY...    change a named list of the running policy\n"
		"  list show NAME [--limit N]\n"
		"  stats [--prometheus]          ports, workers, rules, drop reasons\n"
		"  flows [--prefix P] [--port N] [--rule NAME] [--verdict V] [--limit N]\n"
		"        [--cursor C] [--all]\n"
		"  status\n"
		"options:\n"
		"  -s SOCK   control socket (default " BL_PROTO_DEFAULT_SOCKET
		", or $BLCTL_SOCKET)\n"
		"  -j        JSON output\n"
		"  -t SECS   reply timeout (default 120)\n"
		"exit: 0 ok, 1 refused/failed, 2 usage, 3 cannot connect/not allowed\n");
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
		json_object_set_new(
			root, "more_errors",
			json_integer(err->nerrors - (json_int_t)json_array_size(errors)));
	if (p) {
		char hash[65];

		bl_policy_hash_hex(p, hash);
		json_object_set_new(root, "sha256", json_string(hash));
		json_object_set_new(root, "lists", json_integer(bl_policy_nlists(p)));
		json_object_set_new(root, "entries",
				    json_integer((json_int_t)bl_policy_nentries(p)));
		json_object_set_new(root, "rules", json_integer(bl_policy_nrules(p)));
		json_object_set_new(root, "default",
				    json_string(bl_action_kind_name(bl_policy_default(p))));
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
			fprintf(stderr, "%s: %u more errors not shown\n", argv[0],
				err->nerrors - shown);
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

/* ---- talking to the daemon ---- */

static struct bl_client *dial(const struct blctl *c, int *rc)
{
	char err[512];
	struct bl_client *cl = bl_client_connect(c->sock, c->timeout_s, err, sizeof(err));

	if (!cl) {
		fprintf(stderr, "blctl: %s\n", err);
		*rc = EXIT_CONNECT;
	}
	return cl;
}

/* Print an error reply (message, then its diagnostics); the exit code. */
static int print_error(const struct blctl *c, json_t *reply)
{
	json_t *e = json_object_get(reply, "error"), *d;
	const char *code = json_string_value(json_object_get(e, "code")) ?: "";
	size_t i;

	if (c->json) {
		json_dumpf(reply, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	} else {
		json_array_foreach(json_object_get(e, "diags"), i, d)
			fprintf(stderr, "%s:%lld:%lld: %s: %s\n",
				json_string_value(json_object_get(d, "file")),
				json_integer_value(json_object_get(d, "line")),
				json_integer_value(json_object_get(d, "column")),
				json_string_value(json_object_get(d, "severity")) ?: "error",
				json_string_value(json_object_get(d, "message")));
		fprintf(stderr, "blctl: %s\n",
			json_string_value(json_object_get(e, "message")) ?: code);
	}
	return !strcmp(code, BL_PROTO_E_DENIED) ? EXIT_CONNECT : EXIT_REFUSED;
}

/*
 * One request: connect, call, return the reply when ok (*out, caller
 * decrefs) or print why not. Returns the exit code (0 with *out set).
 */
static int call_daemon(const struct blctl *c, struct bl_client *cl, const char *cmd, json_t *args,
		       json_t **out)
{
	char err[512];
	json_t *reply = NULL;
	int rc;

	*out = NULL;
	if (bl_client_call(cl, cmd, args, &reply, err, sizeof(err))) {
		fprintf(stderr, "blctl: %s\n", err);
		return strstr(err, "closed") ? EXIT_CONNECT : EXIT_REFUSED;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		rc = print_error(c, reply);
		json_decref(reply);
		return rc;
	}
	*out = reply;
	return 0;
}

/* Connect, call, print JSON when -j: the common shape of a simple verb. */
static int simple(const struct blctl *c, const char *cmd, json_t *args, json_t **result,
		  json_t **reply)
{
	struct bl_client *cl;
	int rc;

	*reply = NULL;
	if (!(cl = dial(c, &rc))) {
		json_decref(args);
		return rc;
	}
	rc = call_daemon(c, cl, cmd, args, reply);
	bl_client_close(cl);
	if (rc)
		return rc;
	*result = json_object_get(*reply, "result");
	if (c->json) {
		json_dumpf(*reply, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
	return 0;
}

/* A policy file and the list files it names, read beside it. */
struct files {
	char dir[4096];
	struct bl_client_file f[1024];
	size_t n;
	int err;
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
		errno = errno ? errno : EIO;
	}
	fclose(f);
	return buf;
}

static int files_get(void *ctx, const char *name, size_t max_len, const char **text, size_t *len)
{
	struct files *fs = ctx;
	char path[8192];
	char *buf;

	(void)max_len;
	for (size_t i = 1; i < fs->n; i++)
		if (!strcmp(fs->f[i].name, name)) {
			*text = fs->f[i].text;
			*len = fs->f[i].len;
			return 0;
		}
	if (fs->n == sizeof(fs->f) / sizeof(fs->f[0]))
		return -E2BIG;
	snprintf(path, sizeof(path), "%s%s", name[0] == '/' ? "" : fs->dir, name);
	buf = read_file(path, len);
	if (!buf) {
		fprintf(stderr, "blctl: %s: %s\n", path, strerror(errno));
		fs->err = -errno;
		return -errno;
	}
	fs->f[fs->n].name = strdup(name);
	fs->f[fs->n].text = buf;
	fs->f[fs->n++].len = *len;
	*text = buf;
	return 0;
}

static void files_free(struct files *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		if (i)
			free((char *)fs->f[i].name);
		free((char *)fs->f[i].text);
	}
}

/* Read FILE and its list files (blctl reads; the daemon opens no path). */
static int files_read(struct files *fs, const char *path)
{
	struct bl_policy_files cb = { files_get, NULL, fs };
	const char *slash = strrchr(path, '/');
	struct bl_policy *p;
	size_t len;
	char *text;

	memset(fs, 0, sizeof(*fs));
	if (slash)
		snprintf(fs->dir, sizeof(fs->dir), "%.*s/", (int)(slash - path), path);
	text = read_file(path, &len);
	if (!text) {
		fprintf(stderr, "blctl: %s: %s\n", path, strerror(errno));
		return EXIT_REFUSED;
	}
	fs->f[0] = (struct bl_client_file){ path, text, len };
	fs->n = 1;
	/* the loader asks for each list file it names: that is the list to send */
	p = bl_policy_load_text(path, text, len, &cb, NULL);
	bl_policy_free(p);
	return fs->err ? EXIT_REFUSED : 0;
}

/* Upload FILE and run `cmd` on it. */
static int with_policy(const struct blctl *c, const char *cmd, const char *path, json_t **reply)
{
	struct files *fs = malloc(sizeof(*fs));
	struct bl_client *cl = NULL;
	json_t *err_reply = NULL;
	long long id;
	char err[512];
	int rc;

	*reply = NULL;
	if (!fs)
		return EXIT_REFUSED;
	if ((rc = files_read(fs, path)) || !(cl = dial(c, &rc)))
		goto out_free;
	if (bl_client_upload(cl, fs->f, fs->n, &id, &err_reply, err, sizeof(err))) {
		rc = err_reply ? print_error(c, err_reply) : EXIT_REFUSED;
		if (!err_reply)
			fprintf(stderr, "blctl: %s\n", err);
		json_decref(err_reply);
		goto out_free;
	}
	rc = call_daemon(c, cl, cmd, json_pack("{s:I}", "upload", (json_int_t)id), reply);
	if (!rc && c->json) {
		json_dumpf(*reply, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
out_free:
	bl_client_close(cl);
	files_free(fs);
	free(fs);
	return rc;
}

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_real(v) ? json_real_value(v) : (double)json_integer_value(v);
}

static long long inum(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "-";
}

static int policy_load(const struct blctl *c, int argc, char **argv)
{
	json_t *reply, *r;
	int rc;

	if (argc != 1)
		return usage_error("policy load needs one FILE%s%s", "", "");
	rc = with_policy(c, "policy.load", argv[0], &reply);
	if (rc || c->json)
		goto out;
	r = json_object_get(reply, "result");
	printf("generation %lld: %lld rules, %lld lists (%lld entries), build %.1f ms, publish %.0f us, "
	       "sha256 %s\n",
	       inum(r, "generation"), inum(r, "rules"), inum(r, "lists"), inum(r, "entries"),
	       num(r, "build_ms"), num(r, "publish_us"), str(r, "sha256"));
out:
	json_decref(reply);
	return rc;
}

static int policy_check_daemon(const struct blctl *c, const char *path)
{
	json_t *reply, *r;
	int rc = with_policy(c, "policy.check", path, &reply);

	if (!rc && !c->json) {
		r = json_object_get(reply, "result");
		printf("%s: ok (compiled by the daemon, not published): %lld rules, %lld lists (%lld entries), "
		       "build %.1f ms, sha256 %s\n",
		       path, inum(r, "rules"), inum(r, "lists"), inum(r, "entries"),
		       num(r, "build_ms"), str(r, "sha256"));
	}
	json_decref(reply);
	return rc;
}

static void print_time(time_t t)
{
	char buf[64];
	struct tm tm;

	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	fputs(buf, stdout);
}

static int policy_show(const struct blctl *c, int argc, char **argv)
{
	json_t *reply, *r, *args = json_object();
	const char *k;
	json_t *v;
	int rc;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "--files")))
		return usage_error("usage: policy show [--files]%s%s", "", "");
	json_object_set_new(args, "files", json_boolean(argc == 1));
	rc = simple(c, "policy.show", args, &r, &reply);
	if (rc || c->json)
		goto out;
	printf("# %s, generation %lld, sha256 %s\n# loaded ", str(r, "name"), inum(r, "generation"),
	       str(r, "sha256"));
	print_time((time_t)inum(r, "loaded_at"));
	if (inum(r, "by_uid") < 0)
		printf(" from the configuration at start-up\n");
	else
		printf(" by uid %lld pid %lld\n", inum(r, "by_uid"), inum(r, "by_pid"));
	fputs(str(r, "text"), stdout);
	json_object_foreach(json_object_get(r, "files"), k, v)
		printf("\n# ---- list file %s ----\n%s", k, json_string_value(v));
out:
	json_decref(reply);
	return rc;
}

static int policy_diff(const struct blctl *c, int argc, char **argv)
{
	json_t *reply, *r, *x, *rules;
	const char *k;
	size_t i;
	int rc;

	if (argc != 1)
		return usage_error("policy diff needs one FILE%s%s", "", "");
	rc = with_policy(c, "policy.diff", argv[0], &reply);
	if (rc || c->json)
		goto out;
	r = json_object_get(reply, "result");
	rules = json_object_get(r, "rules");
	printf("--- running %.16s\n+++ %s %.16s\n", str(r, "running"), argv[0],
	       str(r, "candidate"));
	if (json_is_true(json_object_get(r, "same"))) {
		printf("(no change)\n");
		goto out;
	}
	json_array_foreach(json_object_get(rules, "removed"), i, x)
		printf("- rule %s: %s\n", str(x, "name"), str(x, "rule"));
	json_array_foreach(json_object_get(rules, "added"), i, x) printf(
		"+ rule %s (at %lld): %s\n", str(x, "name"), inum(x, "position"), str(x, "rule"));
	json_array_foreach(json_object_get(rules, "changed"), i, x) printf(
		"~ rule %s\n    - %s\n    + %s\n", str(x, "name"), str(x, "old"), str(x, "new"));
	json_array_foreach(json_object_get(rules, "moved"), i, x)
		printf("~ rule %s moved from %lld to %lld\n", str(x, "name"), inum(x, "from"),
		       inum(x, "to"));
	json_object_foreach(json_object_get(r, "lists"), k, x)
	{
		if (!strcmp(str(x, "status"), "changed"))
			printf("~ list %s: +%lld -%lld entries\n", k, inum(x, "added"),
			       inum(x, "removed"));
		else
			printf("%c list %s (%lld entries)\n",
			       !strcmp(str(x, "status"), "added") ? '+' : '-', k,
			       inum(x, "entries"));
	}
	if ((x = json_object_get(r, "default")))
		printf("~ default %s -> %s\n", str(x, "old"), str(x, "new"));
out:
	json_decref(reply);
	return rc;
}

static int policy_rollback(const struct blctl *c, int argc)
{
	json_t *reply, *r;
	int rc;

	if (argc)
		return usage_error("policy rollback takes no argument%s%s", "", "");
	rc = simple(c, "policy.rollback", NULL, &r, &reply);
	if (!rc && !c->json)
		printf("generation %lld: %s rolled back to, build %.1f ms, publish %.0f us, sha256 %s\n",
		       inum(r, "generation"), str(r, "name"), num(r, "build_ms"),
		       num(r, "publish_us"), str(r, "sha256"));
	json_decref(reply);
	return rc;
}

static int list_verb(const struct blctl *c, const char *verb, int argc, char **argv)
{
	json_t *reply, *r, *args, *v;
	size_t i;
	int rc;

	if (!strcmp(verb, "show")) {
		if (argc != 1 && !(argc == 3 && !strcmp(argv[1], "--limit")))
			return usage_error("usage: list show NAME [--limit N]%s%s", "", "");
		args = json_pack("{s:s}", "list", argv[0]);
		if (argc == 3)
			json_object_set_new(args, "limit", json_integer(atoll(argv[2])));
		rc = simple(c, "list.show", args, &r, &reply);
		if (!rc && !c->json) {
			printf("# list %s (%s), %lld entries%s\n", str(r, "list"), str(r, "type"),
			       inum(r, "n"),
			       json_is_true(json_object_get(r, "truncated")) ? ", first ones shown"
									     : "");
			json_array_foreach(json_object_get(r, "entries"), i, v)
				printf("%s\n", json_string_value(v));
		}
		json_decref(reply);
		return rc;
	}
	if (argc < 2)
		return usage_error("usage: list %s NAME ENTRY...%s", verb, "");
	args = json_pack("{s:s, s:[]}", "list", argv[0], "entries");
	for (int k = 1; k < argc; k++)
		json_array_append_new(json_object_get(args, "entries"), json_string(argv[k]));
	rc = simple(c, !strcmp(verb, "add") ? "list.add" : "list.del", args, &r, &reply);
	if (!rc && !c->json)
		printf("list %s: %lld %s, %lld entries; %s, generation %lld%s\n", str(r, "list"),
		       inum(r, !strcmp(verb, "add") ? "added" : "removed"),
		       !strcmp(verb, "add") ? "added" : "removed", inum(r, "n"), str(r, "path"),
		       inum(r, "generation"),
		       !strcmp(str(r, "path"), "rebuild") ? "" : " (nothing to do)");
	json_decref(reply);
	return rc;
}

static int stats(const struct blctl *c, int argc, char **argv)
{
	bool prom = argc == 1 && !strcmp(argv[0], "--prometheus");
	struct blctl q = *c;
	json_t *reply, *r, *x, *w;
	const char *k;
	size_t i;
	int rc;

	if (argc && !prom)
		return usage_error("usage: stats [--prometheus]%s%s", "", "");
	q.json = c->json && !prom;
	rc = simple(&q, "stats", NULL, &r, &reply);
	if (rc || q.json)
		goto out;
	if (prom) {
		if (bl_prom_write(r, stdout))
			rc = EXIT_REFUSED;
		goto out;
	}
	x = json_object_get(r, "totals");
	printf("generation %lld  rx %lld  tx %lld  dropped %lld  held %lld  generated %lld  (%s)\n",
	       inum(r, "policy_generation"), inum(x, "rx"), inum(x, "tx"), inum(x, "dropped"),
	       inum(x, "held"), inum(x, "generated"),
	       json_is_true(json_object_get(x, "balanced")) ? "balanced" : "in flight");
	printf("%-8s %-20s %14s %14s %12s %12s\n", "port", "device", "rx", "tx", "missed",
	       "nombuf");
	json_object_foreach(json_object_get(r, "ports"), k, x)
		printf("%-8s %-20s %14lld %14lld %12lld %12lld\n", k, str(x, "name"), inum(x, "rx"),
		       inum(x, "tx"), inum(x, "imissed"), inum(x, "rx_nombuf"));
	printf("%-8s %14s %14s %10s %10s\n", "worker", "rx", "tx", "flows", "events_lost");
	json_array_foreach(json_object_get(r, "workers"), i, w)
		printf("%-8zu %14lld %14lld %10lld %10lld\n", i, inum(w, "rx"), inum(w, "tx"),
		       inum(w, "flows"), inum(w, "events_lost"));
	printf("%-32s %14s %16s\n", "rule", "packets", "bytes");
	json_object_foreach(json_object_get(r, "rules"), k, x)
		printf("%-32s %14lld %16lld\n", k, inum(x, "packets"), inum(x, "bytes"));
	/* a worker that did not settle its flows in time: say what that means */
	if (json_is_false(json_object_get(r, "rules_settled")))
		printf("(rule counters may lag by up to a second: a worker did not settle its "
		       "flows in time)\n");
	/* the shared rate-limit and quota meters (a daemon without a metered
	 * rule shows zeros) */
	x = json_object_get(r, "meters");
	if (json_is_object(x))
		printf("meters: slots %lld  reclaimed %lld  late charges merged %lld  lost %lld\n",
		       inum(x, "slots"), inum(x, "reclaimed"), inum(x, "late_merged"),
		       inum(x, "late_lost"));
	printf("%-32s %14s\n", "drop reason", "packets");
	json_object_foreach(json_object_get(r, "drops"), k, x) if (json_integer_value(x))
		printf("%-32s %14lld\n", k, (long long)json_integer_value(x));
out:
	json_decref(reply);
	return rc;
}

static int flows(const struct blctl *c, int argc, char **argv)
{
	static const char *const opts[] = { "--prefix",	 "--port",  "--rule",
					    "--verdict", "--limit", "--cursor" };
	json_t *args = json_object(), *reply, *r, *f;
	struct bl_client *cl;
	bool all = false, header = true;
	size_t i;
	int rc;

	for (int k = 0; k < argc; k++) {
		size_t o;

		if (!strcmp(argv[k], "--all")) {
			all = true;
			continue;
		}
		for (o = 0; o < sizeof(opts) / sizeof(opts[0]) && strcmp(argv[k], opts[o]); o++)
			;
		if (o == sizeof(opts) / sizeof(opts[0]) || k + 1 == argc) {
			json_decref(args);
			return usage_error("flows: unknown or incomplete option \"%s\"%s", argv[k],
					   "");
		}
		if (o == 1 || o == 4 || o == 5) {
			char *end;
			long long n = strtoll(argv[k + 1], &end, 10);

			if (*end || end == argv[k + 1]) {
				json_decref(args);
				return usage_error("flows: %s needs a number%s", argv[k], "");
			}
			json_object_set_new(args, opts[o] + 2, json_integer(n));
		} else {
			json_object_set_new(args, opts[o] + 2, json_string(argv[k + 1]));
		}
		k++;
	}
	if (!(cl = dial(c, &rc))) {
		json_decref(args);
		return rc;
	}
	for (;;) {
		rc = call_daemon(c, cl, "flows", json_deep_copy(args), &reply);
		if (rc)
			break;
		r = json_object_get(reply, "result");
		if (c->json) {
			json_dumpf(reply, stdout, JSON_COMPACT);
			fputc('\n', stdout);
		} else {
			if (header)
				printf("%-3s %-5s %-41s %-41s %-11s %-10s %-20s %10s %10s\n", "w",
				       "proto", "initiator", "responder", "state", "verdict",
				       "rule", "pkts", "bytes");
			header = false;
			json_array_foreach(json_object_get(r, "flows"), i, f)
			{
				char a[80], b[80];
				json_t *p = json_object_get(f, "packets"),
				       *by = json_object_get(f, "bytes");

				snprintf(a, sizeof(a),
					 inum(f, "family") == 6 ? "[%s]:%lld" : "%s:%lld",
					 str(f, "src"), inum(f, "sport"));
				snprintf(b, sizeof(b),
					 inum(f, "family") == 6 ? "[%s]:%lld" : "%s:%lld",
					 str(f, "dst"), inum(f, "dport"));
				printf("%-3lld %-5lld %-41s %-41s %-11s %-10s %-20s %10lld %10lld\n",
				       inum(f, "worker"), inum(f, "proto"), a, b, str(f, "state"),
				       str(f, "verdict"), str(f, "rule"),
				       (long long)(json_integer_value(json_array_get(p, 0)) +
						   json_integer_value(json_array_get(p, 1))),
				       (long long)(json_integer_value(json_array_get(by, 0)) +
						   json_integer_value(json_array_get(by, 1))));
			}
		}
		f = json_object_get(r, "cursor");
		if (!all || !json_is_integer(f)) {
			if (!c->json && json_is_integer(f))
				printf("# more: --cursor %lld\n", (long long)json_integer_value(f));
			json_decref(reply);
			break;
		}
		json_object_set(args, "cursor", f);
		json_decref(reply);
	}
	bl_client_close(cl);
	json_decref(args);
	return rc;
}

static int status(const struct blctl *c, int argc)
{
	json_t *reply, *r, *p;
	size_t i;
	int rc;

	if (argc)
		return usage_error("status takes no argument%s%s", "", "");
	rc = simple(c, "status", NULL, &r, &reply);
	if (rc || c->json)
		goto out;
	printf("brightline %s (pid %lld), up %llds, protocol %lld\n", str(r, "version"),
	       inum(r, "pid"), inum(r, "uptime_s"), inum(r, "proto"));
	printf("policy: generation %lld, %s, sha256 %s\n", inum(r, "generation"), str(r, "policy"),
	       json_string_length(json_object_get(r, "sha256")) ? str(r, "sha256")
								: "(none: default_ip)");
	printf("workers: %lld\n", inum(r, "workers"));
	json_array_foreach(json_object_get(r, "ports"), i, p) printf(
		"port %s: %s %s (%lld Mb/s)\n", str(p, "side"), str(p, "name"),
		json_is_true(json_object_get(p, "up")) ? "up" : "down", inum(p, "speed_mbps"));
out:
	json_decref(reply);
	return rc;
}

/* Dispatch a verb that needs the daemon. */
static int online(const struct blctl *c, const char *obj, const char *verb, int argc, char **argv)
{
	if (!strcmp(obj, "policy")) {
		if (!strcmp(verb, "load"))
			return policy_load(c, argc, argv);
		if (!strcmp(verb, "show"))
			return policy_show(c, argc, argv);
		if (!strcmp(verb, "diff"))
			return policy_diff(c, argc, argv);
		if (!strcmp(verb, "rollback"))
			return policy_rollback(c, argc);
	}
	if (!strcmp(obj, "list"))
		return list_verb(c, verb, argc, argv);
	if (!strcmp(obj, "stats"))
		return stats(c, argc, argv);
	if (!strcmp(obj, "flows"))
		return flows(c, argc, argv);
	return status(c, argc);
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
	struct blctl c = { .sock = getenv("BLCTL_SOCKET") ?: BL_PROTO_DEFAULT_SOCKET,
			   .timeout_s = 120 };
	const char *names[NOBJECTS];
	const struct object *obj = NULL;
	char buf[128];
	int opt;

	while ((opt = getopt(argc, argv, "+s:jt:h")) != -1) {
		switch (opt) {
		case 't':
			c.timeout_s = (unsigned)strtoul(optarg, NULL, 10);
			if (!c.timeout_s)
				return usage_error("-t needs a number of seconds%s%s", "", "");
			break;
		case 's': c.sock = optarg; break;
		case 'j': c.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
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
		if (strcmp(obj->name, "policy") == 0 && strcmp(argv[1], "check") == 0) {
			if (argc == 4 && !strcmp(argv[2], "--daemon"))
				return policy_check_daemon(&c, argv[3]);
			return policy_check(&c, argc - 2, argv + 2);
		}
		return online(&c, obj->name, argv[1], argc - 2, argv + 2);
	}
	return online(&c, obj->name, "", argc - 1, argv + 1);
}
