/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * blctl's side of the control socket (proto.h): connect, one request and
 * its reply at a time, chunked uploads. No DPDK.
 */
#ifndef BL_CONTROL_CLIENT_H
#define BL_CONTROL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

struct bl_client;

/* One file of an upload: its name (a key, never opened by the daemon). */
struct bl_client_file {
	const char *name;
	const char *text;
	size_t len;
};

/*
 * Connect to `path` with a timeout of `timeout_s` per request. Returns the
 * client, or NULL with errno (ENOENT/ECONNREFUSED: no daemon, EACCES: not
 * allowed) and a message in err.
 */
struct bl_client *bl_client_connect(const char *path, unsigned timeout_s, char *err, size_t errlen);
void bl_client_close(struct bl_client *c);

/*
 * Send {"v","id","cmd","args"} (args stolen; NULL: {}) and wait for the
 * reply. Returns 0 and the parsed reply in *reply (caller decrefs), or
 * -errno with a message in err (connection lost, timeout, bad reply).
 */
int bl_client_call(struct bl_client *c, const char *cmd, json_t *args, json_t **reply, char *err,
		   size_t errlen);

/*
 * Upload files[0..n) (files[0] is the policy) in chunks; returns 0 with the
 * upload id in *id, or -errno with a message (a daemon refusal is returned
 * as -EPERM with its reply in *reply when reply is not NULL).
 */
int bl_client_upload(struct bl_client *c, const struct bl_client_file *files, size_t n,
		     long long *id, json_t **reply, char *err, size_t errlen);

#endif /* BL_CONTROL_CLIENT_H */
