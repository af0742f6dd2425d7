/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy commands of the control socket: check, load, show, diff,
 * rollback, and list add/del/show. A policy arrives as text (the policy and
 * its list files, uploaded by blctl); it is compiled beside the running one
 * and published through the runtime's RCU path (bl_rt_build, bl_rt_publish)
 * on the control thread: the workers never wait, and a refused policy
 * leaves the running one in place.
 *
 * What was loaded is kept as text, with who loaded it, as a history of
 * `history` previous generations for rollback; with a state dir each one is
 * also written there atomically (policy/policy-SEQ.json: temp, fsync,
 * rename, fsync of the directory), and the newest is loaded again at the
 * next start.
 *
 * list add/del rebuilds: the list in the stored policy text is replaced by
 * a reference to a list file holding its entries after the change
 * ("blctl-list-NAME.txt", uploaded with the policy from then on), and the
 * whole policy takes the same path as a load. The runtime object is
 * immutable (and small lists live inside rte_acl and rte_fib structures
 * shared by every worker), so no list is changed in place.
 */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_rcu_qsbr.h>
#include <yaml.h>

#include "ctl_server.h"
#include "daemon.h"
#include "proto.h"

#define MAX_HISTORY 64

struct pfile {
	char *name;
	char *text;
	size_t len;
};

/* One policy as loaded: its text and list files, who and when. */
struct record {
	size_t nfiles;
	struct pfile *f; /* f[0]: the policy */
	char sha[65];
	time_t loaded_at;   /* wall clock */
	long long uid, pid; /* -1: the configuration at start-up */
	uint32_t gen;
	unsigned long long seq; /* file in the state dir, 0: not stored */
};

struct bl_ctl_policy {
	struct bl_daemon *d;
	char dir[PATH_MAX]; /* state_dir/policy, "" when not kept */
	unsigned history;
	struct record *hist[MAX_HISTORY + 1]; /* [0] running, [1..] previous */
	struct bl_policy *cur;		      /* hist[0] normalized (show, diff, lists) */
	unsigned long long next_seq;
};

static void record_free(struct record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->f[i].name);
		free(r->f[i].text);
	}
	free(r->f);
	free(r);
}

static struct record *record_new(size_t nfiles)
{
	struct record *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->f = calloc(nfiles ? nfiles : 1, sizeof(*r->f));
	if (!r->f) {
		free(r);
		return NULL;
	}
	r->nfiles = nfiles;
	r->uid = r->pid = -1;
	return r;
}

/* Set file i (copies). 0 or -ENOMEM. */
static int record_set(struct record *r, size_t i, const char *name, const char *text, size_t len)
{
	r->f[i].name = strdup(name);
	r->f[i].text = malloc(len + 1);
	if (!r->f[i].name || !r->f[i].text)
		return -ENOMEM;
	memcpy(r->f[i].text, text, len);
	r->f[i].text[len] = 0;
	r->f[i].len = len;
	return 0;
}

/* ---- compile ---- */

/* List files come from the record only: the daemon opens no path. */
static int rec_get(void *ctx, const char *name, size_t max_len, const char **text, size_t *len)
{
	const struct record *r = ctx;

	for (size_t i = 1; i < r->nfiles; i++)
		if (!strcmp(r->f[i].name, name)) {
			if (r->f[i].len > max_len)
				return -EFBIG;
			*text = r->f[i].text;
			*len = r->f[i].len;
			return 0;
		}
	return -ENOENT;
}

static json_t *diags_json(const struct bl_policy_err *err)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < err->ndiags; i++) {
		const struct bl_policy_diag *g = &err->diag[i];

		json_array_append_new(
			a, json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", g->file, "line", g->line,
				     "column", g->column, "severity",
				     g->severity == BL_POLICY_ERROR ? "error" : "warning",
				     "message", g->message));
	}
	return a;
}

/* Refuse with the first diagnostic as the message and all of them attached. */
static int refuse(struct bl_ctl_call *call, const struct bl_policy_err *err, const char *what)
{
	char first[1024] = "";

	for (unsigned i = 0; i < err->ndiags; i++)
		if (err->diag[i].severity == BL_POLICY_ERROR) {
			bl_policy_diag_format(&err->diag[i], first, sizeof(first));
			break;
		}
	call->diags = diags_json(err);
	return bl_ctl_fail(call, BL_PROTO_E_REFUSED, "%s refused (%u error%s)%s%s", what,
			   err->nerrors, err->nerrors == 1 ? "" : "s", first[0] ? ": " : "", first);
}

/* Parse and validate a record's text into *out, or refuse the call. */
static int compile(struct bl_ctl_call *call, const struct record *r, struct bl_policy **out)
{
	struct bl_policy_files files = { rec_get, NULL, (void *)r };
	struct bl_policy_err *err = calloc(1, sizeof(*err));
	int rc = 0;

	if (!err)
		return -ENOMEM;
	*out = bl_policy_load_text(r->f[0].name, r->f[0].text, r->f[0].len, &files, err);
	if (!*out)
		rc = errno == ENOMEM && !err->nerrors ? -ENOMEM : refuse(call, err, r->f[0].name);
	free(err);
	return rc;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * Compile `r` into a runtime object and, with publish, make it the running
 * policy (RCU: one store, then a grace period before the old one is freed).
 * On success fills build_ms/publish_us/gen and, when `pol_out`, hands over
 * the normalized policy.
 */
static int build(struct bl_ctl_policy *p, struct bl_ctl_call *call, struct record *r, bool publish,
		 struct bl_policy **pol_out, double *build_ms, double *publish_us, json_t *info)
{
	struct bl_daemon *d = p->d;
	struct bl_rt_meter_ops ops;
	struct bl_policy_err *err = NULL;
	struct bl_policy *pol;
	struct bl_rt *rt;
	struct timespec t0;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = compile(call, r, &pol)))
		return rc;
	err = calloc(1, sizeof(*err));
	if (!err) {
		rc = -ENOMEM;
		goto out_pol;
	}
	bl_daemon_meter_ops(d, &ops);
	/* the slot registry is shared with other control-side readers */
	pthread_mutex_lock(&d->obs_lock);
	rt = bl_rt_build(pol, r->f[0].name, BL_RT_ALLOW, publish ? d->pub.next_gen : 0,
			 d->pub.slots, d->meters ? &ops : NULL, err);
	pthread_mutex_unlock(&d->obs_lock);
	*build_ms = ms_since(&t0);
	if (!rt) {
		rc = err->nerrors
			     ? refuse(call, err, r->f[0].name)
			     : bl_ctl_fail(call,
					   errno == ENOMEM ? BL_PROTO_E_NO_MEMORY
							   : BL_PROTO_E_INTERNAL,
					   "%s: cannot build: %s", r->f[0].name, strerror(errno));
		goto out_err;
	}
	if (info) {
		json_object_set_new(info, "rules", json_integer(rt->nrules));
		json_object_set_new(info, "lists", json_integer(rt->nlists));
		json_object_set_new(info, "entries", json_integer((json_int_t)rt->nentries));
		json_object_set_new(info, "mem_bytes", json_integer((json_int_t)rt->mem_bytes));
		if (err->nwarnings)
			json_object_set_new(info, "warnings", diags_json(err));
	}
	bl_policy_hash_hex(pol, r->sha);
	if (!publish) {
		bl_rt_free(rt);
	} else {
		struct bl_rt_pub_times times;

		pthread_mutex_lock(&d->obs_lock);
		r->gen = d->pub.next_gen++;
		bl_rt_publish(&d->pub, rt, &times);
		pthread_mutex_unlock(&d->obs_lock);
		*publish_us = times.store_us;
		if (info) {
			json_object_set_new(info, "grace_us", json_real(times.grace_us));
			json_object_set_new(info, "free_us", json_real(times.free_us));
		}
	}
	if (pol_out) {
		*pol_out = pol;
		pol = NULL;
	}
out_err:
	free(err);
out_pol:
	bl_policy_free(pol);
	return rc;
}

/* ---- the state dir ---- */

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static json_t *record_json(const struct record *r)
{
	json_t *files = json_array();

	for (size_t i = 0; files && i < r->nfiles; i++)
		json_array_append_new(files, json_pack("{s:s, s:s%}", "name", r->f[i].name, "text",
						       r->f[i].text, r->f[i].len));
	return json_pack("{s:o, s:s, s:I, s:I, s:I, s:I}", "files", files ? files : json_array(),
			 "sha256", r->sha, "loaded_at", (json_int_t)r->loaded_at, "uid",
			 (json_int_t)r->uid, "pid", (json_int_t)r->pid, "seq", (json_int_t)r->seq);
}

/* Write r as policy-SEQ.json: temp file, fsync, rename, fsync the directory. */
static int store(struct bl_ctl_policy *p, struct record *r)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	json_t *j;
	char *text;
	int fd, dfd, rc;

	if (!p->dir[0])
		return 0;
	r->seq = p->next_seq++;
	j = record_json(r);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s/.policy-%llu.tmp", p->dir, r->seq);
	snprintf(path, sizeof(path), "%s/policy-%llu.json", p->dir, r->seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = write_all(fd, text, strlen(text));
	if (!rc && fsync(fd))
		rc = -errno;
	close(fd);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		goto out_free;
	}
	dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out_free:
	free(text);
	if (rc) {
		fprintf(stderr, "brightline: control: cannot store the policy in %s: %s\n", p->dir,
			strerror(-rc));
		r->seq = 0;
	}
	return rc;
}

static void unstore(struct bl_ctl_policy *p, const struct record *r)
{
	char path[PATH_MAX + 64];

	if (!p->dir[0] || !r || !r->seq)
		return;
	snprintf(path, sizeof(path), "%s/policy-%llu.json", p->dir, r->seq);
	unlink(path);
}

/* r becomes the running policy; the oldest falls off the history. */
static void push(struct bl_ctl_policy *p, struct record *r, struct bl_policy *pol)
{
	unstore(p, p->hist[p->history]);
	record_free(p->hist[p->history]);
	memmove(&p->hist[1], &p->hist[0], p->history * sizeof(p->hist[0]));
	p->hist[0] = r;
	bl_policy_free(p->cur);
	p->cur = pol;
}

static struct record *record_from_json(json_t *j)
{
	json_t *files = json_object_get(j, "files"), *f;
	struct record *r;
	size_t i;

	if (!json_is_array(files) || !json_array_size(files) ||
	    !(r = record_new(json_array_size(files))))
		return NULL;
	json_array_foreach(files, i, f)
	{
		json_t *t = json_object_get(f, "text");
		const char *name = json_string_value(json_object_get(f, "name"));

		if (!name || !json_is_string(t) ||
		    record_set(r, i, name, json_string_value(t), json_string_length(t))) {
			record_free(r);
			return NULL;
		}
	}
	snprintf(r->sha, sizeof(r->sha), "%s",
		 json_string_value(json_object_get(j, "sha256")) ?: "");
	r->loaded_at = (time_t)json_integer_value(json_object_get(j, "loaded_at"));
	r->uid = json_integer_value(json_object_get(j, "uid"));
	r->pid = json_integer_value(json_object_get(j, "pid"));
	r->seq = (unsigned long long)json_integer_value(json_object_get(j, "seq"));
	return r;
}

static int seq_cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? 1 : x > y ? -1 : 0; /* newest first */
}

/* Read the stored generations (newest first) into hist[] (not compiled). */
static unsigned load_history(struct bl_ctl_policy *p)
{
	unsigned long long seqs[256];
	unsigned n = 0, kept = 0;
	struct dirent *e;
	DIR *dir = opendir(p->dir);

	if (!dir)
		return 0;
	while ((e = readdir(dir)) && n < 256) {
		unsigned long long s;
		char tail[8];

		if (sscanf(e->d_name, "policy-%llu%7s", &s, tail) == 2 && !strcmp(tail, ".json"))
			seqs[n++] = s;
	}
	closedir(dir);
	qsort(seqs, n, sizeof(seqs[0]), seq_cmp);
	if (n)
		p->next_seq = seqs[0] + 1;
	for (unsigned i = 0; i < n; i++) {
		char path[PATH_MAX + 64];
		json_error_t je;
		json_t *j;
		struct record *r = NULL;

		snprintf(path, sizeof(path), "%s/policy-%llu.json", p->dir, seqs[i]);
		if (kept <= p->history && (j = json_load_file(path, 0, &je))) {
			r = record_from_json(j);
			json_decref(j);
		}
		if (r) {
			r->seq = seqs[i];
			p->hist[kept++] = r;
		} else {
			if (kept <= p->history)
				fprintf(stderr, "brightline: control: %s: unreadable, removed\n",
					path);
			unlink(path); /* beyond the history, or unreadable */
		}
	}
	return kept;
}

struct bl_ctl_policy *bl_ctl_policy_create(struct bl_daemon *d, const char *state_dir,
					   unsigned history)
{
	struct bl_ctl_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->d = d;
	p->history = history > MAX_HISTORY ? MAX_HISTORY : history;
	p->next_seq = 1;
	if (state_dir && state_dir[0]) {
		snprintf(p->dir, sizeof(p->dir), "%s/policy", state_dir);
		if ((mkdir(state_dir, 0750) && errno != EEXIST) ||
		    (mkdir(p->dir, 0750) && errno != EEXIST)) {
			fprintf(stderr,
				"brightline: control: %s: %s; policies loaded by blctl are not kept\n",
				p->dir, strerror(errno));
			p->dir[0] = 0;
		}
	}
	return p;
}

void bl_ctl_policy_free(struct bl_ctl_policy *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i <= MAX_HISTORY; i++)
		record_free(p->hist[i]);
	bl_policy_free(p->cur);
	free(p);
}

int bl_ctl_policy_restore(struct bl_ctl_policy *p)
{
	struct bl_ctl_call call = { .d = p->d };
	struct bl_policy *pol = NULL;
	double bms = 0, pus = 0;
	int rc;

	if (!p->dir[0] || !load_history(p))
		return 0;
	rc = build(p, &call, p->hist[0], true, &pol, &bms, &pus, NULL);
	if (rc) {
		fprintf(stderr,
			"brightline: %s/policy-%llu.json (the last policy loaded by blctl) refused: %s\n",
			p->dir, p->hist[0]->seq, call.message);
		json_decref(call.diags);
		return rc;
	}
	p->cur = pol;
	fprintf(stderr,
		"brightline: policy %s from %s (last loaded by blctl, uid %lld): generation %u, "
		"built in %.1f ms\n",
		p->hist[0]->f[0].name, p->dir, p->hist[0]->uid, p->hist[0]->gen, bms);
	return 1;
}

/* A file and the list files it names, read from its directory (operator's configuration). */
struct dir_ctx {
	char dir[PATH_MAX];
	struct record *r;
};

static int dir_get(void *ctx, const char *name, size_t max_len, const char **text, size_t *len)
{
	struct dir_ctx *c = ctx;
	struct pfile *nf;
	char path[2 * PATH_MAX];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s%s", name[0] == '/' ? "" : c->dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || (size_t)n > max_len ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EFBIG;
	}
	nf = realloc(c->r->f, (c->r->nfiles + 1) * sizeof(*nf));
	if (!nf) {
		fclose(f);
		return -ENOMEM;
	}
	c->r->f = nf;
	nf = &c->r->f[c->r->nfiles];
	memset(nf, 0, sizeof(*nf));
	nf->name = strdup(name);
	nf->text = malloc((size_t)n + 1);
	if (!nf->name || !nf->text || fread(nf->text, 1, (size_t)n, f) != (size_t)n) {
		free(nf->name);
		free(nf->text);
		fclose(f);
		return -EIO;
	}
	nf->text[n] = 0;
	nf->len = (size_t)n;
	c->r->nfiles++;
	fclose(f);
	*text = nf->text;
	*len = nf->len;
	return 0;
}

void bl_ctl_policy_note_file(struct bl_ctl_policy *p, const char *path)
{
	struct dir_ctx c = { .r = record_new(1) };
	struct bl_policy_files files = { dir_get, NULL, &c };
	const char *slash = strrchr(path, '/');
	struct bl_policy *pol = NULL;
	const char *text;
	size_t len;

	if (!c.r)
		return;
	if (slash)
		snprintf(c.dir, sizeof(c.dir), "%.*s/", (int)(slash - path), path);
	c.r->nfiles = 0;
	/* the policy itself through the same reader, as file 0 */
	if (dir_get(&c, path, BL_POLICY_MAX_TEXT, &text, &len) == 0) {
		free(c.r->f[0].name);
		c.r->f[0].name = strdup(path);
		if (c.r->f[0].name)
			pol = bl_policy_load_text(path, text, len, &files, NULL);
	}
	if (!pol) {
		record_free(c.r);
		return;
	}
	bl_policy_hash_hex(pol, c.r->sha);
	c.r->loaded_at = time(NULL);
	c.r->gen = p->d->pub.cur ? p->d->pub.cur->gen : 0;
	push(p, c.r, pol);
}

void bl_ctl_policy_current(const struct bl_ctl_policy *p, char sha[65], uint32_t *gen,
			   const char **name)
{
	const struct bl_rt *rt = p ? p->d->pub.cur : NULL;

	sha[0] = 0;
	*name = NULL;
	*gen = rt ? rt->gen : 0;
	if (p && p->hist[0] && rt && p->hist[0]->gen == rt->gen) {
		snprintf(sha, 65, "%s", p->hist[0]->sha);
		*name = p->hist[0]->f[0].name;
	} else if (rt && rt->has_policy) {
		snprintf(sha, 65, "%s", rt->hash);
	}
}

/* ---- commands ---- */

/* The candidate of a call: {upload: ID} or {name, text, files: {NAME: TEXT}}. */
static struct record *candidate(struct bl_ctl_call *call)
{
	json_t *a = call->args, *up = json_object_get(a, "upload"),
	       *text = json_object_get(a, "text");
	struct record *r;

	if (json_is_integer(up)) {
		struct bl_ctl_upload *u = bl_ctl_upload_take(call, json_integer_value(up));
		size_t n;

		if (!u)
			return NULL;
		n = bl_ctl_upload_nfiles(u);
		r = record_new(n);
		for (size_t i = 0; r && i < n; i++) {
			const char *name, *t;
			size_t len;

			bl_ctl_upload_file(u, i, &name, &t, &len);
			if (record_set(r, i, name, t, len)) {
				record_free(r);
				r = NULL;
			}
		}
		bl_ctl_upload_free(call->srv, u);
	} else if (json_is_string(text)) {
		json_t *files = json_object_get(a, "files"), *v;
		const char *name = json_string_value(json_object_get(a, "name")) ?: "policy";
		const char *key;
		size_t i = 1;

		if (files && !json_is_object(files)) {
			bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "files: expected {NAME: TEXT}");
			return NULL;
		}
		r = record_new(1 + json_object_size(files));
		if (r && record_set(r, 0, name, json_string_value(text), json_string_length(text)))
			goto out_oom;
		json_object_foreach(files, key, v)
		{
			if (!r || !json_is_string(v) ||
			    record_set(r, i++, key, json_string_value(v), json_string_length(v)))
				goto out_oom;
		}
	} else {
		bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
			    "a policy is needed: {upload: ID} or {text, files}");
		return NULL;
	}
	if (!r)
		bl_ctl_fail(call, BL_PROTO_E_NO_MEMORY, "out of memory");
	return r;
out_oom:
	record_free(r);
	bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
		    "files: expected {NAME: TEXT} (or out of memory)");
	return NULL;
}

static int cmd_check(struct bl_ctl_call *call, json_t **result)
{
	struct bl_ctl_policy *p = call->arg;
	struct record *r = candidate(call);
	json_t *info = json_object();
	double bms = 0, pus = 0;
	int rc;

	if (!r || !info) {
		json_decref(info);
		record_free(r);
		return r ? -ENOMEM : -EINVAL;
	}
	rc = build(p, call, r, false, NULL, &bms, &pus, info);
	if (!rc) {
		json_object_set_new(info, "ok", json_true());
		json_object_set_new(info, "sha256", json_string(r->sha));
		json_object_set_new(info, "build_ms", json_real(bms));
		*result = json_incref(info);
	}
	json_decref(info);
	record_free(r);
	return rc;
}

/* Publish r (stolen) as a new generation; reply with its numbers. */
static int load_record(struct bl_ctl_policy *p, struct bl_ctl_call *call, struct record *r,
		       bool keep, json_t **result)
{
	struct bl_policy *pol = NULL;
	json_t *info = json_object();
	double bms = 0, pus = 0;
	int rc;

	if (!info) {
		record_free(r);
		return -ENOMEM;
	}
	rc = build(p, call, r, true, &pol, &bms, &pus, info);
	if (rc) {
		json_decref(info);
		record_free(r);
		return rc;
	}
	r->loaded_at = time(NULL);
	r->uid = call->uid;
	r->pid = call->pid;
	if (keep) {
		json_object_set_new(info, "stored", json_boolean(store(p, r) == 0 && p->dir[0]));
		push(p, r, pol);
	}
	json_object_set_new(info, "generation", json_integer(r->gen));
	json_object_set_new(info, "sha256", json_string(r->sha));
	json_object_set_new(info, "build_ms", json_real(bms));
	json_object_set_new(info, "publish_us", json_real(pus));
	fprintf(stderr,
		"brightline: control: policy %s (sha256 %.16s...) published as generation %u by "
		"uid %lld pid %lld: build %.1f ms, publish %.0f us\n",
		r->f[0].name, r->sha, r->gen, r->uid, r->pid, bms, pus);
	*result = info;
	return 0;
}

static int cmd_load(struct bl_ctl_call *call, json_t **result)
{
	struct record *r = candidate(call);

	return r ? load_record(call->arg, call, r, true, result) : -EINVAL;
}

static int cmd_show(struct bl_ctl_call *call, json_t **result)
{
	struct bl_ctl_policy *p = call->arg;
	const struct record *r = p->hist[0];
	json_t *files, *hist;

	if (!r)
		return bl_ctl_fail(
			call, BL_PROTO_E_NOT_FOUND,
			"no policy text known: the box runs "
			"without a policy (default_ip) or it was not readable at start-up");
	*result = json_pack("{s:s, s:s%, s:s, s:I, s:I, s:I, s:I}", "name", r->f[0].name, "text",
			    r->f[0].text, r->f[0].len, "sha256", r->sha, "generation",
			    (json_int_t)r->gen, "loaded_at", (json_int_t)r->loaded_at, "by_uid",
			    (json_int_t)r->uid, "by_pid", (json_int_t)r->pid);
	if (!*result)
		return -ENOMEM;
	if (json_is_true(json_object_get(call->args, "files"))) {
		files = json_object();
		for (size_t i = 1; files && i < r->nfiles; i++)
			json_object_set_new(files, r->f[i].name,
					    json_stringn(r->f[i].text, r->f[i].len));
		json_object_set_new(*result, "files", files);
	}
	hist = json_array();
	for (unsigned i = 1; hist && i <= p->history && p->hist[i]; i++)
		json_array_append_new(hist,
				      json_pack("{s:s, s:s, s:I, s:I}", "name",
						p->hist[i]->f[0].name, "sha256", p->hist[i]->sha,
						"loaded_at", (json_int_t)p->hist[i]->loaded_at,
						"by_uid", (json_int_t)p->hist[i]->uid));
	json_object_set_new(*result, "previous", hist);
	return 0;
}

static int cmd_rollback(struct bl_ctl_call *call, json_t **result)
{
	struct bl_ctl_policy *p = call->arg;
	struct record *prev = p->hist[1];
	struct bl_policy *pol = NULL;
	json_t *info = json_object();
	double bms = 0, pus = 0;
	int rc;

	if (!prev) {
		json_decref(info);
		return bl_ctl_fail(call, BL_PROTO_E_NOT_FOUND,
				   "no previous policy to roll back to");
	}
	if (!info)
		return -ENOMEM;
	rc = build(p, call, prev, true, &pol, &bms, &pus, info);
	if (rc) {
		json_decref(info);
		return rc;
	}
	/* the running one is dropped: the previous becomes the newest kept
	 * (stored if it was the start-up file, so that a restart keeps it) */
	if (!prev->seq)
		store(p, prev);
	unstore(p, p->hist[0]);
	record_free(p->hist[0]);
	memmove(&p->hist[0], &p->hist[1], p->history * sizeof(p->hist[0]));
	p->hist[p->history] = NULL;
	bl_policy_free(p->cur);
	p->cur = pol;
	json_object_set_new(info, "generation", json_integer(prev->gen));
	json_object_set_new(info, "sha256", json_string(prev->sha));
	json_object_set_new(info, "name", json_string(prev->f[0].name));
	json_object_set_new(info, "build_ms", json_real(bms));
	json_object_set_new(info, "publish_us", json_real(pus));
	*result = info;
	return 0;
}

/* ---- lists ---- */

static const char *type_name(enum bl_list_type t)
{
	return t == BL_LIST_PREFIXES ? "prefixes" : t == BL_LIST_DOMAINS ? "domains" : "patterns";
}

/* Entry i of l as list-file text. */
static void entry_text(const struct bl_policy_list *l, uint32_t i, char *buf, size_t len)
{
	if (l->type == BL_LIST_PREFIXES) {
		char a[INET6_ADDRSTRLEN];
		const struct bl_prefix *x = &l->prefixes[i];

		inet_ntop(x->family == 4 ? AF_INET : AF_INET6, x->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, x->len);
	} else if (l->type == BL_LIST_DOMAINS) {
		snprintf(buf, len, "%s%s", l->domains[i].subdomains ? "*." : "",
			 l->domains[i].name);
	} else {
		snprintf(buf, len, "%s", l->patterns[i]);
	}
}

static const struct bl_policy_list *find_list(struct bl_ctl_call *call, const struct bl_policy *pol,
					      const char *name)
{
	int i;

	if (!pol) {
		bl_ctl_fail(call, BL_PROTO_E_NOT_FOUND,
			    "no policy text known (load one with blctl policy load)");
		return NULL;
	}
	if (!name) {
		bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "list: expected a list name");
		return NULL;
	}
	i = bl_policy_list_find(pol, name);
	if (i < 0) {
		bl_ctl_fail(call, BL_PROTO_E_NOT_FOUND, "no list \"%s\" in the running policy",
			    name);
		return NULL;
	}
	return bl_policy_list(pol, (uint32_t)i);
}

static int cmd_list_show(struct bl_ctl_call *call, json_t **result)
{
	struct bl_ctl_policy *p = call->arg;
	const struct bl_policy_list *l =
		find_list(call, p->cur, json_string_value(json_object_get(call->args, "list")));
	json_int_t limit = 100000;
	json_t *v = json_object_get(call->args, "limit"), *a;
	char buf[BL_POLICY_MAX_LINE + 8];

	if (!l)
		return -EINVAL;
	if (json_is_integer(v) && json_integer_value(v) > 0)
		limit = json_integer_value(v);
	a = json_array();
	for (uint32_t i = 0; a && i < l->n && i < limit; i++) {
		entry_text(l, i, buf, sizeof(buf));
		json_array_append_new(a, json_string(buf));
	}
	*result = json_pack("{s:s, s:s, s:I, s:o, s:b}", "list", l->name, "type",
			    type_name(l->type), "n", (json_int_t)l->n, "entries",
			    a ? a : json_array(), "truncated", l->n > limit);
	return 0;
}

/* Byte offset of the idx-th character (libyaml counts characters). */
static size_t char_to_byte(const char *s, size_t len, size_t idx)
{
	size_t b = 0;

	for (size_t c = 0; b < len; b++) {
		if (((unsigned char)s[b] & 0xc0) == 0x80)
			continue;
		if (c++ == idx)
			return b;
	}
	return len;
}

/* Where a node's text ends: a block collection ends with its last child. */
static size_t node_end(yaml_document_t *doc, yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE && n->data.mapping.style == YAML_BLOCK_MAPPING_STYLE &&
	    n->data.mapping.pairs.top > n->data.mapping.pairs.start)
		return node_end(
			doc, yaml_document_get_node(doc, (n->data.mapping.pairs.top - 1)->value));
	if (n->type == YAML_SEQUENCE_NODE && n->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE &&
	    n->data.sequence.items.top > n->data.sequence.items.start)
		return node_end(doc,
				yaml_document_get_node(doc, *(n->data.sequence.items.top - 1)));
	return n->end_mark.index;
}

static yaml_node_t *map_value(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yaml_document_get_node(doc, pr->key);

		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
		    !memcmp(k->data.scalar.value, key, k->data.scalar.length))
			return yaml_document_get_node(doc, pr->value);
	}
	return NULL;
}

/* Byte range of lists.NAME's value in a policy text. 0 or -ENOENT. */
static int list_span(const char *text, size_t len, const char *name, size_t *start, size_t *end)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *v;
	int rc = -ENOENT;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return -EINVAL;
	}
	v = map_value(&doc, map_value(&doc, yaml_document_get_root_node(&doc), "lists"), name);
	if (v) {
		*start = char_to_byte(text, len, v->start_mark.index);
		*end = char_to_byte(text, len, node_end(&doc, v));
		rc = 0;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

/*
 * Normalize the entries of a list add/del: a small policy holding them as
 * one list of the same type, so they are checked and written exactly as
 * entries of a list file are. Diagnostics name the argument ("args:N").
 */
static struct bl_policy *normalize_args(struct bl_ctl_call *call, enum bl_list_type t,
					json_t *entries)
{
	struct bl_policy_err *err = calloc(1, sizeof(*err));
	struct bl_policy *pol = NULL;
	char *text = NULL;
	size_t tlen = 0, i;
	json_t *e;
	FILE *f = open_memstream(&text, &tlen);

	if (!err || !f)
		goto out_free;
	json_array_foreach(entries, i, e) fprintf(f, "%s\n", json_string_value(e));
	fclose(f);
	f = NULL;
	{
		/* the list file is the arguments, one a line: errors say args:N:COL */
		struct record r = { .nfiles = 2 };
		struct pfile pf[2] = {
			{ .name = "policy", .text = NULL },
			{ .name = "args", .text = text, .len = tlen },
		};
		char ptext[256];
		struct bl_policy_files files = { rec_get, NULL, &r };

		snprintf(ptext, sizeof(ptext),
			 "version: 1\nlists:\n  x: {type: %s, files: [args]}\n"
			 "rules: []\ndefault: allow\n",
			 type_name(t));
		r.f = pf;
		pol = bl_policy_load_text("policy", ptext, strlen(ptext), &files, err);
		if (!pol)
			refuse(call, err, "entries");
	}
out_free:
	if (f)
		fclose(f);
	free(text);
	free(err);
	if (!pol && !call->code[0])
		bl_ctl_fail(call, BL_PROTO_E_NO_MEMORY, "out of memory");
	return pol;
}

static bool entry_eq(const struct bl_policy_list *a, uint32_t i, const struct bl_policy_list *b,
		     uint32_t j)
{
	if (a->type == BL_LIST_PREFIXES)
		return a->prefixes[i].family == b->prefixes[j].family &&
		       a->prefixes[i].len == b->prefixes[j].len &&
		       !memcmp(a->prefixes[i].addr, b->prefixes[j].addr, 16);
	if (a->type == BL_LIST_DOMAINS)
		return a->domains[i].subdomains == b->domains[j].subdomains &&
		       !strcmp(a->domains[i].name, b->domains[j].name);
	return !strcmp(a->patterns[i], b->patterns[j]);
}

static bool list_has(const struct bl_policy_list *l, const struct bl_policy_list *x, uint32_t j)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (entry_eq(l, i, x, j))
			return true;
	return false;
}

/* list.add / list.del {list, entries:[...]}: a new generation with the list changed. */
static int list_change(struct bl_ctl_call *call, json_t **result, bool add)
{
	struct bl_ctl_policy *p = call->arg;
	const char *name = json_string_value(json_object_get(call->args, "list"));
	json_t *entries = json_object_get(call->args, "entries"), *e;
	const struct bl_policy_list *l = find_list(call, p->cur, name), *x;
	const struct record *cur = p->hist[0];
	struct bl_policy *args;
	struct record *r = NULL;
	char fname[BL_POLICY_MAX_NAME + 32], buf[BL_POLICY_MAX_LINE + 8], *ftext = NULL,
									  *ptext = NULL;
	size_t flen = 0, plen = 0, start, end, i, changed = 0, slot = 0, n_after;
	bool *del = NULL;
	FILE *f;
	int rc = -EINVAL;

	if (!l)
		return -EINVAL;
	if (!json_is_array(entries) || !json_array_size(entries))
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				   "entries: expected a list of entries");
	json_array_foreach(
		entries, i,
		e) if (!json_is_string(e) ||
		       strchr(json_string_value(e),
			      '\n')) return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
							"entries[%zu]: expected one entry", i);
	if (!(args = normalize_args(call, l->type, entries)))
		return -EINVAL;
	x = bl_policy_list(args, 0);
	del = calloc(l->n + 1, sizeof(*del));
	f = open_memstream(&ftext, &flen);
	if (!del || !f)
		goto out_oom;
	/* the list's entries after the change, one a line */
	if (add) {
		for (uint32_t j = 0; j < x->n; j++)
			changed += !list_has(l, x, j);
	} else {
		for (uint32_t i2 = 0; i2 < l->n; i2++)
			for (uint32_t j = 0; j < x->n && !del[i2]; j++)
				if (entry_eq(l, i2, x, j)) {
					del[i2] = true;
					changed++;
				}
	}
	fprintf(f, "# list %s, written by blctl list %s\n", l->name, add ? "add" : "del");
	for (uint32_t i2 = 0; i2 < l->n; i2++)
		if (!del[i2]) {
			entry_text(l, i2, buf, sizeof(buf));
			fprintf(f, "%s\n", buf);
		}
	for (uint32_t j = 0; add && j < x->n; j++)
		if (!list_has(l, x, j)) {
			entry_text(x, j, buf, sizeof(buf));
			fprintf(f, "%s\n", buf);
		}
	if (fclose(f)) {
		f = NULL;
		goto out_oom;
	}
	f = NULL;
	if (!changed) {
		*result = json_pack("{s:s, s:s, s:i, s:I, s:I}", "list", l->name, "path",
				    "unchanged", add ? "added" : "removed", 0, "n",
				    (json_int_t)l->n, "generation", (json_int_t)cur->gen);
		rc = 0;
		goto out_free;
	}
	/* the policy text, its list replaced by a reference to the new file */
	snprintf(fname, sizeof(fname), "blctl-list-%s.txt", l->name);
	if (list_span(cur->f[0].text, cur->f[0].len, l->name, &start, &end)) {
		rc = bl_ctl_fail(call, BL_PROTO_E_INTERNAL,
				 "cannot find list %s in the policy text", l->name);
		goto out_free;
	}
	f = open_memstream(&ptext, &plen);
	if (!f)
		goto out_oom;
	fwrite(cur->f[0].text, 1, start, f);
	fprintf(f, "{type: %s, files: [\"%s\"]}", type_name(l->type), fname);
	fwrite(cur->f[0].text + end, 1, cur->f[0].len - end, f);
	if (fclose(f)) {
		f = NULL;
		goto out_oom;
	}
	f = NULL;
	r = record_new(cur->nfiles + 1);
	if (!r || record_set(r, 0, cur->f[0].name, ptext, plen) ||
	    record_set(r, 1, fname, ftext, flen))
		goto out_oom;
	slot = 2;
	for (size_t k = 1; k < cur->nfiles; k++)
		if (strcmp(cur->f[k].name, fname) &&
		    record_set(r, slot++, cur->f[k].name, cur->f[k].text, cur->f[k].len))
			goto out_oom;
	r->nfiles = slot;
	n_after = add ? l->n + changed : l->n - changed; /* l dies with the old generation */
	rc = load_record(p, call, r, true, result);
	r = NULL;
	l = NULL;
	if (!rc) {
		json_object_set_new(*result, "list", json_string(name));
		json_object_set_new(*result, "path", json_string("rebuild"));
		json_object_set_new(*result, add ? "added" : "removed",
				    json_integer((json_int_t)changed));
		json_object_set_new(*result, "n", json_integer((json_int_t)n_after));
	}
	goto out_free;
out_oom:
	rc = bl_ctl_fail(call, BL_PROTO_E_NO_MEMORY, "out of memory");
out_free:
	if (f)
		fclose(f);
	record_free(r);
	free(ptext);
	free(ftext);
	free(del);
	bl_policy_free(args);
	return rc;
}

static int cmd_list_add(struct bl_ctl_call *call, json_t **result)
{
	return list_change(call, result, true);
}

static int cmd_list_del(struct bl_ctl_call *call, json_t **result)
{
	return list_change(call, result, false);
}

/* policy.diff: see ctl_diff.c */
int bl_ctl_policy_diff(const struct bl_policy *old, const struct bl_policy *new_, json_t **out);

static int cmd_diff(struct bl_ctl_call *call, json_t **result)
{
	struct bl_ctl_policy *p = call->arg;
	struct record *r = candidate(call);
	struct bl_policy *pol = NULL;
	int rc;

	if (!r)
		return -EINVAL;
	rc = compile(call, r, &pol);
	if (!rc) {
		bl_policy_hash_hex(pol, r->sha);
		rc = bl_ctl_policy_diff(p->cur, pol, result);
	}
	if (!rc) {
		json_object_set_new(*result, "running",
				    json_string(p->hist[0] ? p->hist[0]->sha : ""));
		json_object_set_new(*result, "candidate", json_string(r->sha));
	}
	bl_policy_free(pol);
	record_free(r);
	return rc;
}

int bl_ctl_policy_register(struct bl_ctl *s, struct bl_ctl_policy *p)
{
	static const struct {
		const char *name;
		unsigned flags;
		bl_ctl_handler fn;
	} cmds[] = {
		{ "policy.check", BL_CTL_READONLY, cmd_check },
		{ "policy.load", BL_CTL_MUTATES, cmd_load },
		{ "policy.show", BL_CTL_READONLY, cmd_show },
		{ "policy.diff", BL_CTL_READONLY, cmd_diff },
		{ "policy.rollback", BL_CTL_MUTATES, cmd_rollback },
		{ "list.add", BL_CTL_MUTATES, cmd_list_add },
		{ "list.del", BL_CTL_MUTATES, cmd_list_del },
		{ "list.show", BL_CTL_READONLY, cmd_list_show },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = bl_ctl_register(s, cmds[i].name, cmds[i].flags, cmds[i].fn, p);

		if (rc)
			return rc;
	}
	return 0;
}
