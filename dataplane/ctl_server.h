/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control server: a thread pinned to the main lcore's CPUs that serves
 * the control socket (control/proto.h). Commands are handlers registered by
 * name; they run on that thread one at a time, and never make a worker
 * wait (a new policy is built beside the running one and published by RCU).
 */
#ifndef BL_CTL_SERVER_H
#define BL_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct bl_daemon;
struct bl_ctl;
struct bl_ctl_policy;

/* One request as a handler sees it. */
struct bl_ctl_call {
	const char *cmd;
	json_t *args; /* borrowed; always an object */
	uid_t uid;    /* the caller (SO_PEERCRED) */
	gid_t gid;
	pid_t pid;
	struct bl_daemon *d;
	struct bl_ctl *srv;
	void *arg;  /* given to bl_ctl_register */
	void *conn; /* the connection (uploads belong to it) */
	/* the error reply, set by bl_ctl_fail() */
	char code[32];
	char message[1024];
	json_t *diags; /* array or NULL */
};

/* 0 with *result a new reference to an object; or -errno after bl_ctl_fail(). */
typedef int (*bl_ctl_handler)(struct bl_ctl_call *call, json_t **result);

#define BL_CTL_READONLY 0u
#define BL_CTL_MUTATES	1u /* logged with the caller's uid and pid */

/* Settings (from struct bl_config's control section). */
struct bl_ctl_config {
	const char *socket; /* path of the socket */
	const char *group;  /* group allowed besides root and our uid */
	uint32_t max_line;
	uint64_t max_upload;
	uint32_t max_clients;
	uint32_t idle_timeout_s;
	uint32_t line_timeout_s;
};

/*
 * A server for `d` (not started): socket directory (0750), socket (0660),
 * owner root, group `group` (root's group, logged once, when it does not
 * exist). Returns NULL with errno and a message in err.
 */
struct bl_ctl *bl_ctl_create(struct bl_daemon *d, const struct bl_ctl_config *c, char *err,
			     size_t errlen);

/* Add a command. 0, -EEXIST, -ENOSPC. */
int bl_ctl_register(struct bl_ctl *s, const char *cmd, unsigned flags, bl_ctl_handler fn,
		    void *arg);

/* Set the call's error reply; returns -EINVAL for `return bl_ctl_fail(...)`. */
int bl_ctl_fail(struct bl_ctl_call *call, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Start the thread on the main lcore's CPUs. 0 or -errno. */
int bl_ctl_start(struct bl_ctl *s);

/* Stop the thread, close every connection, remove the socket; NULL is fine. */
void bl_ctl_free(struct bl_ctl *s);

/* The configuration the server was made with. */
const struct bl_ctl_config *bl_ctl_config(const struct bl_ctl *s);

/* Take the bytes of upload `id` of this call's connection: the policy's
 * name and files (ctl_server.c keeps them). NULL with the call failed when
 * there is no such complete upload. */
struct bl_ctl_upload;
struct bl_ctl_upload *bl_ctl_upload_take(struct bl_ctl_call *call, long long id);
size_t bl_ctl_upload_nfiles(const struct bl_ctl_upload *u);
/* File i: name, text, length (file 0 is the policy). */
void bl_ctl_upload_file(const struct bl_ctl_upload *u, size_t i, const char **name,
			const char **text, size_t *len);
void bl_ctl_upload_free(struct bl_ctl *s, struct bl_ctl_upload *u);

/* ---- commands (ctl_cmds.c, ctl_policy.c) ---- */

/* status, stats, flows. */
int bl_ctl_cmds_register(struct bl_ctl *s);

/*
 * The policy side: what is running (text, files, who loaded it), the
 * history kept for rollback (state_dir/policy/), and the policy.* and
 * list.* commands.
 */
struct bl_ctl_policy *bl_ctl_policy_create(struct bl_daemon *d, const char *state_dir,
					   unsigned history);
void bl_ctl_policy_free(struct bl_ctl_policy *p);
int bl_ctl_policy_register(struct bl_ctl *s, struct bl_ctl_policy *p);

/*
 * At start-up: the last policy loaded through blctl (state_dir/policy/),
 * compiled and published; 1 when one was, 0 when there is none, -errno
 * when it failed (logged; the caller falls back to the configuration's).
 */
int bl_ctl_policy_restore(struct bl_ctl_policy *p);

/* Record the policy published at start-up from a file (for show/diff). */
void bl_ctl_policy_note_file(struct bl_ctl_policy *p, const char *path);

/* sha256 and generation of the running policy for status ("" / 0 when none). */
void bl_ctl_policy_current(const struct bl_ctl_policy *p, char sha[65], uint32_t *gen,
			   const char **name);

#endif /* BL_CTL_SERVER_H */
