/* SPDX-License-Identifier: BSD-3-Clause */
/* blctl's control-socket client: lines out, lines in, chunked uploads. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"

struct bl_client {
	int fd;
	unsigned timeout_s;
	long long next_id;
	char *buf; /* bytes received past the last reply */
	size_t len, cap;
};

struct bl_client *bl_client_connect(const char *path, unsigned timeout_s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bl_client *c;
	int saved;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		errno = ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->timeout_s = timeout_s;
	c->next_id = 1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto out_err;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out_err;
	return c;
out_err:
	saved = errno;
	snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(saved),
		 saved == ENOENT || saved == ECONNREFUSED ? " (is brightline running? -s SOCK)"
		 : saved == EACCES			  ? " (root or the brightline group needed)"
							  : "");
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	errno = saved;
	return NULL;
}

void bl_client_close(struct bl_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Milliseconds left until `deadline` (CLOCK_MONOTONIC), at least 0. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
}

static int send_all(struct bl_client *c, const char *s, size_t n, const struct timespec *dl)
{
	while (n) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		ssize_t w;

		if (poll(&p, 1, ms_left(dl)) <= 0)
			return -ETIMEDOUT;
		w = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One reply line (without '\n') into a malloc'd string. */
static int recv_line(struct bl_client *c, char **line, const struct timespec *dl)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			*line = malloc(n + 1);
			if (!*line)
				return -ENOMEM;
			memcpy(*line, c->buf, n);
			(*line)[n] = 0;
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return 0;
		}
		if (c->len + 65536 > c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 1 << 17;
			char *b;

			if (cap > BL_PROTO_MAX_REPLY)
				return -EMSGSIZE;
			b = realloc(c->buf, cap);
			if (!b)
				return -ENOMEM;
			c->buf = b;
			c->cap = cap;
		}
		if (poll(&p, 1, ms_left(dl)) <= 0)
			return -ETIMEDOUT;
		r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		c->len += (size_t)r;
	}
}

int bl_client_call(struct bl_client *c, const char *cmd, json_t *args, json_t **reply, char *err,
		   size_t errlen)
{
	json_t *req;
	json_error_t je;
	struct timespec dl;
	char *text = NULL, *line = NULL;
	long long id = c->next_id++;
	int rc;

	*reply = NULL;
	req = json_pack("{s:i, s:I, s:s, s:o}", "v", BL_PROTO_VERSION, "id", (json_int_t)id, "cmd",
			cmd, "args", args ? args : json_object());
	if (!req) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += c->timeout_s;
	rc = send_all(c, text, strlen(text), &dl);
	if (!rc)
		rc = send_all(c, "\n", 1, &dl);
	/* a daemon that refused us (denied, busy) said why before closing */
	if (!rc || rc == -EPIPE || rc == -ECONNRESET) {
		int r2 = recv_line(c, &line, &dl);

		rc = r2 && rc ? rc : r2;
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", cmd,
			 rc == -ETIMEDOUT		     ? "no reply from the daemon (timeout)"
			 : rc == -ECONNRESET || rc == -EPIPE ? "the daemon closed the connection"
							     : strerror(-rc));
		goto out_free;
	}
	*reply = json_loads(line, 0, &je);
	if (!*reply || !json_is_object(*reply)) {
		snprintf(err, errlen, "%s: bad reply from the daemon: %s", cmd, je.text);
		json_decref(*reply);
		*reply = NULL;
		rc = -EPROTO;
	}
out_free:
	free(line);
	free(text);
	return rc;
}

/* base64 of n bytes into a malloc'd string. */
static char *b64(const unsigned char *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v =
			s[i] << 16 | (i + 1 < n ? s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* Reply ok? Else keep it for the caller and say why. */
static int check_reply(json_t *r, json_t **keep, const char *what, char *err, size_t errlen)
{
	json_t *e;

	if (json_is_true(json_object_get(r, "ok")))
		return 0;
	e = json_object_get(r, "error");
	snprintf(err, errlen, "%s: %s", what,
		 json_string_value(json_object_get(e, "message")) ?: "refused");
	if (keep) {
		json_decref(*keep);
		*keep = json_incref(r);
	}
	return -EPERM;
}

int bl_client_upload(struct bl_client *c, const struct bl_client_file *files, size_t n,
		     long long *id, json_t **reply, char *err, size_t errlen)
{
	json_t *list = json_array(), *r = NULL;
	int rc;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:I}", "name", files[i].name, "size",
						      (json_int_t)files[i].len));
	rc = bl_client_call(c, "upload.begin",
			    json_pack("{s:s, s:o}", "policy", files[0].name, "files", list), &r,
			    err, errlen);
	if (rc || (rc = check_reply(r, reply, "upload", err, errlen)))
		goto out_free;
	*id = json_integer_value(json_object_get(json_object_get(r, "result"), "upload"));
	for (size_t i = 0; i < n; i++)
		for (size_t off = 0; off < files[i].len; off += BL_PROTO_CHUNK) {
			size_t k = files[i].len - off < BL_PROTO_CHUNK ? files[i].len - off
								       : BL_PROTO_CHUNK;
			char *data = b64((const unsigned char *)files[i].text + off, k);

			if (!data) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out_free;
			}
			json_decref(r);
			r = NULL;
			rc = bl_client_call(c, "upload.chunk",
					    json_pack("{s:I, s:s, s:I, s:s}", "upload",
						      (json_int_t)*id, "name", files[i].name,
						      "offset", (json_int_t)off, "b64", data),
					    &r, err, errlen);
			free(data);
			if (rc || (rc = check_reply(r, reply, "upload", err, errlen)))
				goto out_free;
		}
out_free:
	json_decref(r);
	return rc;
}
