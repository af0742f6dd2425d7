/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control server (ctl_server.h): a poll() loop over a Unix socket on a
 * thread pinned to the main lcore's CPUs. Every client is checked with
 * SO_PEERCRED when it connects; each has bounded buffers, a request line
 * of at most max_line bytes, and timeouts for a stalled line, a reply it
 * does not read, and idleness. Garbage gets an error reply.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "ctl_server.h"
#include "proto.h"

#define MAX_CMDS	 48
#define MAX_UPLOAD_FILES 1024

struct cmd {
	char name[32];
	unsigned flags;
	bl_ctl_handler fn;
	void *arg;
};

struct upfile {
	char *name;
	char *buf;
	size_t size, got;
};

struct bl_ctl_upload {
	long long id;
	size_t nfiles;
	struct upfile *f; /* f[0] is the policy */
	uint64_t total;
};

struct conn {
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char *in; /* partial request, at most max_line bytes */
	size_t in_len, in_cap;
	char *out; /* reply not yet sent */
	size_t out_len, out_off;
	bool close_after;     /* close once `out` is sent */
	time_t last_req;      /* last complete request (or connect) */
	time_t partial_since; /* first byte of the pending partial line, 0: none */
	time_t out_since;     /* reply pending since, 0: none */
	struct bl_ctl_upload *up;
};

struct bl_ctl {
	struct bl_daemon *d;
	struct bl_ctl_config cfg;
	char socket[108];
	char group[64];
	int lfd;
	int wake[2];
	pthread_t thread;
	bool started;
	gid_t gid;
	struct cmd cmds[MAX_CMDS];
	unsigned ncmds;
	struct conn *conns; /* max_clients */
	unsigned nconns;
	uint64_t upload_bytes; /* all uploads of all connections */
	long long next_upload;
	uint64_t refused, too_long, timeouts;
};

static time_t now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

/* One line to stderr and syslog: the audit trail of changes. */
static void logline(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logline(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "brightline: control: %s\n", buf);
	syslog(prio, "control: %s", buf);
}

int bl_ctl_register(struct bl_ctl *s, const char *cmd, unsigned flags, bl_ctl_handler fn, void *arg)
{
	if (s->ncmds == MAX_CMDS || strlen(cmd) >= sizeof(s->cmds[0].name))
		return -ENOSPC;
	for (unsigned i = 0; i < s->ncmds; i++)
		if (!strcmp(s->cmds[i].name, cmd))
			return -EEXIST;
	snprintf(s->cmds[s->ncmds].name, sizeof(s->cmds[0].name), "%s", cmd);
	s->cmds[s->ncmds].flags = flags;
	s->cmds[s->ncmds].fn = fn;
	s->cmds[s->ncmds++].arg = arg;
	return 0;
}

int bl_ctl_fail(struct bl_ctl_call *call, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(call->code, sizeof(call->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(call->message, sizeof(call->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const struct bl_ctl_config *bl_ctl_config(const struct bl_ctl *s)
{
	return &s->cfg;
}

/* ---- uploads ---- */

void bl_ctl_upload_free(struct bl_ctl *s, struct bl_ctl_upload *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nfiles; i++) {
		free(u->f[i].name);
		free(u->f[i].buf);
	}
	s->upload_bytes -= u->total;
	free(u->f);
	free(u);
}

size_t bl_ctl_upload_nfiles(const struct bl_ctl_upload *u)
{
	return u->nfiles;
}

void bl_ctl_upload_file(const struct bl_ctl_upload *u, size_t i, const char **name,
			const char **text, size_t *len)
{
	*name = u->f[i].name;
	*text = u->f[i].buf;
	*len = u->f[i].size;
}

struct bl_ctl_upload *bl_ctl_upload_take(struct bl_ctl_call *call, long long id)
{
	struct conn *c = call->conn;
	struct bl_ctl_upload *u = c->up;

	if (!u || u->id != id) {
		bl_ctl_fail(call, BL_PROTO_E_NOT_FOUND, "no upload %lld on this connection", id);
		return NULL;
	}
	for (size_t i = 0; i < u->nfiles; i++)
		if (u->f[i].got != u->f[i].size) {
			bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				    "upload %lld: \"%s\" has %zu of %zu bytes", id, u->f[i].name,
				    u->f[i].got, u->f[i].size);
			return NULL;
		}
	c->up = NULL;
	return u;
}

/* upload.begin {policy, files:[{name,size}]} -> {upload} */
static int cmd_upload_begin(struct bl_ctl_call *call, json_t **result)
{
	struct bl_ctl *s = call->srv;
	struct conn *c = call->conn;
	json_t *files = json_object_get(call->args, "files"), *f;
	const char *policy = json_string_value(json_object_get(call->args, "policy"));
	struct bl_ctl_upload *u;
	uint64_t total = 0;
	size_t i, pidx = SIZE_MAX;

	if (!policy || !json_is_array(files) || !json_array_size(files) ||
	    json_array_size(files) > MAX_UPLOAD_FILES)
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				   "upload.begin needs policy and files[1..%u]", MAX_UPLOAD_FILES);
	json_array_foreach(files, i, f)
	{
		json_int_t sz = json_integer_value(json_object_get(f, "size"));
		const char *name = json_string_value(json_object_get(f, "name"));

		if (!name || !*name || strlen(name) > 4096 ||
		    !json_is_integer(json_object_get(f, "size")) || sz < 0)
			return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
					   "files[%zu]: needs name and size", i);
		total += (uint64_t)sz;
		if (!strcmp(name, policy))
			pidx = i;
	}
	if (pidx == SIZE_MAX)
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				   "the policy \"%s\" is not among the files", policy);
	bl_ctl_upload_free(s, c->up);
	c->up = NULL;
	if (total > s->cfg.max_upload || total > s->cfg.max_upload - s->upload_bytes)
		return bl_ctl_fail(call, BL_PROTO_E_TOO_BIG,
				   "upload of %llu bytes over the limit "
				   "(%llu bytes, %llu in use; control: {max_upload})",
				   (unsigned long long)total, (unsigned long long)s->cfg.max_upload,
				   (unsigned long long)s->upload_bytes);
	u = calloc(1, sizeof(*u));
	if (!u || !(u->f = calloc(json_array_size(files), sizeof(*u->f)))) {
		free(u);
		return bl_ctl_fail(call, BL_PROTO_E_NO_MEMORY, "out of memory");
	}
	u->nfiles = json_array_size(files);
	/* the policy first, the list files after it */
	for (size_t k = 0, o = 1; k < u->nfiles; k++) {
		json_t *e = json_array_get(files, k);
		struct upfile *uf = &u->f[k == pidx ? 0 : o++];

		uf->size = (size_t)json_integer_value(json_object_get(e, "size"));
		uf->name = strdup(json_string_value(json_object_get(e, "name")));
		uf->buf = malloc(uf->size + 1);
		if (!uf->name || !uf->buf) {
			bl_ctl_upload_free(s, u);
			return bl_ctl_fail(call, BL_PROTO_E_NO_MEMORY, "out of memory");
		}
		uf->buf[uf->size] = 0;
	}
	u->total = total;
	s->upload_bytes += total;
	u->id = ++s->next_upload;
	c->up = u;
	*result = json_pack("{s:I}", "upload", (json_int_t)u->id);
	return 0;
}

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decode base64 `in` into out (room `room`); returns bytes or -1. */
static long b64dec(const char *in, size_t n, char *out, size_t room)
{
	size_t o = 0;
	unsigned acc = 0, bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v;

		if (in[i] == '=')
			break;
		v = b64val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == room)
				return -1;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	return (long)o;
}

/* upload.chunk {upload, name, offset, b64|data} -> {received} */
static int cmd_upload_chunk(struct bl_ctl_call *call, json_t **result)
{
	struct conn *c = call->conn;
	json_t *a = call->args;
	const char *name = json_string_value(json_object_get(a, "name"));
	json_t *b64 = json_object_get(a, "b64"), *data = json_object_get(a, "data");
	long long id = json_integer_value(json_object_get(a, "upload"));
	json_int_t off = json_integer_value(json_object_get(a, "offset"));
	struct upfile *f = NULL;
	long n;

	if (!c->up || c->up->id != id)
		return bl_ctl_fail(call, BL_PROTO_E_NOT_FOUND, "no upload %lld on this connection",
				   id);
	for (size_t i = 0; name && i < c->up->nfiles; i++)
		if (!strcmp(c->up->f[i].name, name))
			f = &c->up->f[i];
	if (!f)
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "upload %lld has no file \"%s\"",
				   id, name ? name : "(none)");
	if (off < 0 || (size_t)off != f->got)
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				   "\"%s\": chunk at offset %lld, expected %zu", name,
				   (long long)off, f->got);
	if (json_is_string(b64)) {
		n = b64dec(json_string_value(b64), json_string_length(b64), f->buf + f->got,
			   f->size - f->got);
	} else if (json_is_string(data)) {
		n = (long)json_string_length(data);
		if ((size_t)n > f->size - f->got)
			n = -1;
		else
			memcpy(f->buf + f->got, json_string_value(data), (size_t)n);
	} else {
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST, "upload.chunk needs b64 or data");
	}
	if (n < 0)
		return bl_ctl_fail(call, BL_PROTO_E_BAD_REQUEST,
				   "\"%s\": bad data or more than its size", name);
	f->got += (size_t)n;
	*result = json_pack("{s:I}", "received", (json_int_t)f->got);
	return 0;
}

/* ---- connections ---- */

/* Is gid among the supplementary groups of pid (/proc/PID/status)? */
static bool pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = true;
		}
		break;
	}
	fclose(f);
	return found;
}

static bool peer_allowed(const struct bl_ctl *s, const struct ucred *cr)
{
	return cr->uid == 0 || cr->uid == geteuid() || cr->gid == s->gid ||
	       pid_in_group(cr->pid, s->gid);
}

/* Queue `reply` (stolen) as one line. */
static void conn_reply(struct conn *c, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	size_t n;

	json_decref(reply);
	if (!text) {
		text = strdup("{\"v\":1,\"id\":0,\"ok\":false,\"error\":{\"code\":\"no_memory\","
			      "\"message\":\"out of memory\"}}");
		if (!text) {
			c->close_after = true;
			return;
		}
	}
	n = strlen(text);
	text[n] = '\n'; /* json_dumps' NUL becomes the line's end */
	free(c->out);
	c->out = text;
	c->out_len = n + 1;
	c->out_off = 0;
	c->out_since = now_s();
}

static json_t *error_reply(json_int_t id, const char *code, const char *msg, json_t *diags)
{
	json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);

	if (e && diags)
		json_object_set(e, "diags", diags);
	return json_pack("{s:i, s:I, s:b, s:o}", "v", BL_PROTO_VERSION, "id", id, "ok", 0, "error",
			 e ? e : json_object());
}

/* Send an error to a connection we are about to drop, best effort. */
static void refuse_now(int fd, const char *code, const char *msg)
{
	json_t *r = error_reply(0, code, msg, NULL);
	char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;

	if (text) {
		size_t n = strlen(text);

		text[n] = '\n';
		if (send(fd, text, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT) <
		    0) { /* the client is gone: nothing to tell */
		}
	}
	free(text);
	json_decref(r);
}

static void conn_close(struct bl_ctl *s, unsigned i)
{
	struct conn *c = &s->conns[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	bl_ctl_upload_free(s, c->up);
	s->conns[i] = s->conns[--s->nconns];
}

static void do_accept(struct bl_ctl *s)
{
	for (unsigned k = 0; k < 64; k++) {
		struct ucred cr;
		socklen_t len = sizeof(cr);
		struct conn *c;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) || !peer_allowed(s, &cr)) {
			if (!s->refused++ || s->refused % 1000 == 0)
				logline(LOG_WARNING,
					"refused uid %u pid %d: not root, not uid %u, not in group %s "
					"(%llu refused so far)",
					(unsigned)cr.uid, (int)cr.pid, (unsigned)geteuid(),
					s->group, (unsigned long long)s->refused);
			refuse_now(fd, BL_PROTO_E_DENIED,
				   "permission denied: root or the control group needed");
			close(fd);
			continue;
		}
		if (s->nconns == s->cfg.max_clients) {
			refuse_now(fd, BL_PROTO_E_BUSY, "too many clients; try again");
			close(fd);
			continue;
		}
		c = &s->conns[s->nconns++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->uid = cr.uid;
		c->gid = cr.gid;
		c->pid = cr.pid;
		c->last_req = now_s();
	}
}

/* Parse, authorise, dispatch one request line; queue its reply. */
static void do_request(struct bl_ctl *s, struct conn *c, const char *line, size_t len)
{
	struct bl_ctl_call call = {
		.uid = c->uid, .gid = c->gid, .pid = c->pid, .d = s->d, .srv = s, .conn = c
	};
	json_t *req, *args, *result = NULL, *reply;
	json_error_t je;
	json_int_t id = 0, v;
	const struct cmd *cmd = NULL;
	char msg[256];
	int rc;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!req || !json_is_object(req)) {
		snprintf(msg, sizeof(msg), "not a JSON object: %s", req ? "wrong type" : je.text);
		json_decref(req);
		conn_reply(c, error_reply(0, BL_PROTO_E_BAD_JSON, msg, NULL));
		return;
	}
	id = json_integer_value(json_object_get(req, "id"));
	v = json_integer_value(json_object_get(req, "v"));
	call.cmd = json_string_value(json_object_get(req, "cmd"));
	args = json_object_get(req, "args");
	if (v != BL_PROTO_VERSION) {
		snprintf(msg, sizeof(msg), "protocol version %lld not spoken (this daemon: %d)",
			 (long long)v, BL_PROTO_VERSION);
		reply = error_reply(id, BL_PROTO_E_VERSION, msg, NULL);
		json_object_set_new(json_object_get(reply, "error"), "versions",
				    json_pack("[i]", BL_PROTO_VERSION));
		conn_reply(c, reply);
		goto out_req;
	}
	if (!call.cmd || (args && !json_is_object(args))) {
		conn_reply(c, error_reply(id, BL_PROTO_E_BAD_REQUEST,
					  "a request needs cmd (string) "
					  "and args (object)",
					  NULL));
		goto out_req;
	}
	for (unsigned i = 0; i < s->ncmds; i++)
		if (!strcmp(s->cmds[i].name, call.cmd))
			cmd = &s->cmds[i];
	if (!cmd) {
		snprintf(msg, sizeof(msg), "unknown command \"%.64s\"", call.cmd);
		conn_reply(c, error_reply(id, BL_PROTO_E_UNKNOWN, msg, NULL));
		goto out_req;
	}
	call.args = args ? args : json_object();
	if (!args)
		json_object_set_new(req, "args", call.args); /* owned by req from here */
	call.arg = cmd->arg;
	rc = cmd->fn(&call, &result);
	if (rc || !result) {
		if (!call.code[0])
			bl_ctl_fail(&call,
				    rc == -ENOMEM || !result ? BL_PROTO_E_NO_MEMORY
							     : BL_PROTO_E_INTERNAL,
				    "%s", strerror(rc ? -rc : ENOMEM));
		reply = error_reply(id, call.code, call.message, call.diags);
	} else {
		reply = json_pack("{s:i, s:I, s:b, s:o}", "v", BL_PROTO_VERSION, "id", id, "ok", 1,
				  "result", result);
	}
	if (cmd->flags & BL_CTL_MUTATES)
		logline(rc ? LOG_WARNING : LOG_NOTICE, "%s by uid %u pid %d: %s%s", call.cmd,
			(unsigned)c->uid, (int)c->pid, rc ? "failed: " : "ok",
			rc ? call.message : "");
	json_decref(call.diags);
	conn_reply(c, reply);
out_req:
	json_decref(req);
}

/* Read what is there; answer complete lines while no reply is pending. */
static int do_read(struct bl_ctl *s, struct conn *c)
{
	for (;;) {
		char *nl;
		ssize_t r;

		/* one reply at a time: a client that does not read stops being read */
		while (!c->out && c->in_len && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t n = (size_t)(nl - c->in);

			do_request(s, c, c->in, n);
			memmove(c->in, nl + 1, c->in_len - n - 1);
			c->in_len -= n + 1;
			c->last_req = now_s();
			c->partial_since = c->in_len ? c->last_req : 0;
		}
		if (c->out || c->close_after)
			return 0;
		if (c->in_len == s->cfg.max_line) {
			char msg[128];

			s->too_long++;
			snprintf(msg, sizeof(msg), "request line longer than %u bytes",
				 s->cfg.max_line);
			conn_reply(c, error_reply(0, BL_PROTO_E_TOO_LONG, msg, NULL));
			c->close_after = true;
			return 0;
		}
		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 4 : 4096;
			char *b;

			if (cap > s->cfg.max_line)
				cap = s->cfg.max_line;
			b = realloc(c->in, cap);
			if (!b)
				return -ENOMEM;
			c->in = b;
			c->in_cap = cap;
		}
		r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r == 0)
			return -ECONNRESET;
		if (!c->in_len)
			c->partial_since = now_s();
		c->in_len += (size_t)r;
	}
}

static int do_write(struct conn *c)
{
	while (c->out) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->out_off += (size_t)w;
		if (c->out_off == c->out_len) {
			free(c->out);
			c->out = NULL;
			c->out_since = 0;
			if (c->close_after)
				return -ECONNRESET;
		}
	}
	return 0;
}

/* Idle, stalled line, unread reply: the reasons a connection is dropped. */
static bool timed_out(const struct bl_ctl *s, const struct conn *c, time_t now)
{
	return (c->out_since && now - c->out_since > (time_t)s->cfg.line_timeout_s) ||
	       (c->partial_since && now - c->partial_since > (time_t)s->cfg.line_timeout_s) ||
	       now - c->last_req > (time_t)s->cfg.idle_timeout_s;
}

static void *ctl_main(void *arg)
{
	struct bl_ctl *s = arg;
	struct pollfd *pf = calloc(s->cfg.max_clients + 2, sizeof(*pf));

	if (!pf) {
		logline(LOG_ERR, "out of memory: the control socket is not served");
		return NULL;
	}
	for (;;) {
		unsigned n = 2;
		time_t now;

		pf[0] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = s->lfd,
					 .events =
						 s->nconns < s->cfg.max_clients + 1 ? POLLIN : 0 };
		for (unsigned i = 0; i < s->nconns; i++)
			pf[n++] = (struct pollfd){ .fd = s->conns[i].fd,
						   .events = s->conns[i].out ? POLLOUT : POLLIN };
		if (poll(pf, n, 1000) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		/* connections first (their indexes match pf[2..]), then accept */
		for (unsigned i = n - 2; i-- > 0;) {
			struct conn *c = &s->conns[i];
			short ev = pf[i + 2].revents;
			int rc = 0;

			if (!ev)
				continue;
			if (ev & POLLOUT)
				rc = do_write(c);
			if (!rc && (ev & (POLLIN | POLLHUP | POLLERR)) && !c->out)
				rc = do_read(s, c);
			if (!rc && c->out)
				rc = do_write(c);
			if (rc)
				conn_close(s, i);
		}
		now = now_s();
		for (unsigned i = s->nconns; i-- > 0;)
			if (timed_out(s, &s->conns[i], now)) {
				s->timeouts++;
				conn_close(s, i);
			}
		if (pf[1].revents & POLLIN)
			do_accept(s);
	}
	free(pf);
	return NULL;
}

/* ---- socket set-up ---- */

/* The group's gid, or root's group when it does not exist (logged once). */
static gid_t lookup_group(const char *name)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res)
		return res->gr_gid;
	logline(LOG_WARNING,
		"group \"%s\" does not exist: the control socket is for root only "
		"(create it with: groupadd --system %s)",
		name, name);
	return 0;
}

/* Is a daemon answering on `path`? */
static bool socket_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

static int open_socket(struct bl_ctl *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(s->socket)], *slash;
	struct stat st;
	int rc;

	snprintf(dir, sizeof(dir), "%s", s->socket);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		/* our directory: created 0750 root:group; an existing one is left as it is */
		if (mkdir(dir, 0750) == 0) {
			if (chown(dir, 0, s->gid) || chmod(dir, 0750))
				logline(LOG_WARNING, "%s: cannot set owner/mode: %s", dir,
					strerror(errno));
		} else if (errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			return rc;
		}
	}
	if (lstat(s->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", s->socket);
			return -EEXIST;
		}
		if (socket_live(s->socket)) {
			snprintf(err, errlen,
				 "%s: another daemon is listening there (control_socket)",
				 s->socket);
			return -EADDRINUSE;
		}
		unlink(s->socket); /* left by a daemon that died */
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto out_errno;
	memcpy(sa.sun_path, s->socket, strlen(s->socket) + 1);
	{
		mode_t old = umask(0117); /* never world-accessible, not even for a moment */

		rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
	}
	if (rc)
		goto out_errno;
	if (chown(s->socket, 0, s->gid) || chmod(s->socket, 0660))
		logline(LOG_WARNING, "%s: cannot set owner/mode: %s", s->socket, strerror(errno));
	if (listen(s->lfd, SOMAXCONN))
		goto out_errno;
	return 0;
out_errno:
	rc = -errno;
	snprintf(err, errlen, "control socket %s: %s", s->socket, strerror(errno));
	return rc;
}

struct bl_ctl *bl_ctl_create(struct bl_daemon *d, const struct bl_ctl_config *c, char *err,
			     size_t errlen)
{
	struct bl_ctl *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->d = d;
	s->lfd = s->wake[0] = s->wake[1] = -1;
	if (strlen(c->socket) >= sizeof(s->socket) || !c->socket[0]) {
		snprintf(err, errlen, "control_socket: path empty or too long");
		rc = -ENAMETOOLONG;
		goto out_free;
	}
	snprintf(s->socket, sizeof(s->socket), "%s", c->socket);
	snprintf(s->group, sizeof(s->group), "%s",
		 c->group && *c->group ? c->group : BL_PROTO_DEFAULT_GROUP);
	s->cfg = *c;
	s->cfg.socket = s->socket;
	s->cfg.group = s->group;
	s->conns = calloc(c->max_clients ? c->max_clients : 1, sizeof(*s->conns));
	if (!s->conns || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_free;
	}
	s->gid = lookup_group(s->group);
	if ((rc = open_socket(s, err, errlen)))
		goto out_free;
	bl_ctl_register(s, "upload.begin", BL_CTL_READONLY, cmd_upload_begin, NULL);
	bl_ctl_register(s, "upload.chunk", BL_CTL_READONLY, cmd_upload_chunk, NULL);
	return s;
out_free:
	bl_ctl_free(s);
	errno = -rc;
	return NULL;
}

int bl_ctl_start(struct bl_ctl *s)
{
	rte_cpuset_t cpus = rte_lcore_cpuset(rte_get_main_lcore());
	int rc = pthread_create(&s->thread, NULL, ctl_main, s);

	if (rc)
		return -rc;
	s->started = true;
	pthread_setname_np(s->thread, "bl-control");
	/* the main lcore's CPUs, never a worker's */
	rc = pthread_setaffinity_np(s->thread, sizeof(cpus), &cpus);
	if (rc)
		logline(LOG_WARNING, "cannot pin the control thread: %s", strerror(rc));
	return 0;
}

void bl_ctl_free(struct bl_ctl *s)
{
	if (!s)
		return;
	if (s->started) {
		if (write(s->wake[1], "x", 1) != 1)
			logline(LOG_ERR, "cannot wake the control thread");
		pthread_join(s->thread, NULL);
	}
	while (s->nconns)
		conn_close(s, s->nconns - 1);
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(s->socket);
	}
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	free(s->conns);
	free(s);
}
