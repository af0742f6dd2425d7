/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's configuration: a YAML file (default
 * /etc/brightline/brightline.yaml) that command-line flags override.
 * Control side only; workers see the values copied into their own context.
 */
#ifndef BL_CONFIG_H
#define BL_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "flow.h"

#define BL_CONFIG_DEFAULT_PATH "/etc/brightline/brightline.yaml"
#define BL_CONFIG_MAX_EAL      64 /* EAL arguments we pass on */
#define BL_CONFIG_MAX_WORKERS  32
#define BL_CONFIG_DEV_LEN      1024
#define BL_CONFIG_STATE_DIR    "/var/lib/brightline"
#define BL_CONFIG_EVENT_LOG    "/var/log/brightline/eve.json"

/* Frame classes with a configurable default (see enum bl_l2class). */
enum bl_nonip {
	BL_NONIP_ARP = 0,
	BL_NONIP_LLDP,
	BL_NONIP_SLOW,
	BL_NONIP_STP,
	BL_NONIP_OTHER,
	BL_NONIP_ND,
	BL_NONIP_MLD,
	BL_NONIP_MAX
};

struct bl_config {
	char path[PATH_MAX]; /* file read, "" when none */
	/* EAL: the map turned into arguments, then the raw extras. */
	char *eal_args[BL_CONFIG_MAX_EAL];
	unsigned n_eal_args;
	char file_prefix[128];
	bool no_huge; /* the EAL arguments include no-huge */
	char inside[BL_CONFIG_DEV_LEN];
	char outside[BL_CONFIG_DEV_LEN];
	unsigned n_workers;
	unsigned worker_lcores[BL_CONFIG_MAX_WORKERS]; /* valid with lcores_given */
	bool lcores_given;
	uint32_t queues; /* RX/TX queues per port; 0 = one per worker */
	uint32_t mtu;
	uint32_t mempool_size; /* mbufs */
	uint32_t rx_desc, tx_desc;
	struct {
		uint32_t capacity;	  /* flows per worker */
		uint32_t tcp_established; /* idle timeouts, seconds */
		uint32_t tcp_transient;
		uint32_t udp;
		uint32_t other;
		uint32_t evict_idle; /* evict-idle: only flows idle this long, seconds */
		enum bl_flow_full_policy full;
		enum bl_flow_midstream midstream;
	} flow;
	struct {
		uint32_t capacity;     /* datagrams tracked per worker */
		uint32_t budget;       /* fragments held per worker */
		uint32_t per_datagram; /* fragments held per datagram */
		uint32_t timeout;      /* datagram lifetime, seconds */
	} frag;
	bool nonip_drop[BL_NONIP_MAX]; /* false: pass (the default) */
	bool default_ip_drop;	       /* verdict seam default for IP: pass|drop */
	char control_socket[108];
	struct {
		char group[64];	     /* allowed besides root and our uid */
		uint32_t max_line;   /* request line, bytes */
		uint32_t max_upload; /* one upload and all uploads, bytes */
		uint32_t max_clients;
		uint32_t idle_timeout; /* s without a request */
		uint32_t history;      /* previous policies kept for rollback */
	} control;
	char policy[PATH_MAX];
	char state_dir[PATH_MAX - 64]; /* quota usage survives restarts here ("" = not kept) */
	struct {
		uint32_t max_slots;	 /* (subscriber, rule) meters, all workers */
		uint32_t snapshot_s;	 /* quota usage saved every this many seconds */
		uint32_t reclaim_idle_s; /* idle slots freed after about this long */
	} meters;
	struct {
		uint32_t rate; /* reject replies per second, per worker */
		uint32_t burst;
	} reject;
	struct {
		char path[PATH_MAX]; /* EVE JSON lines ("" = off), reopened on SIGHUP */
		uint32_t rate;	     /* lines per second per rule (0 = no limit) */
		uint32_t burst;
	} event_log;
};

/* Fill `c` with the built-in defaults. */
void bl_config_defaults(struct bl_config *c);

/*
 * Read `path` into `c` (on top of what it holds). On error returns -errno
 * and writes one line "file:line:column: message" into `err`.
 */
int bl_config_load(struct bl_config *c, const char *path, char *err, size_t errlen);

/* Append one EAL argument (copied). Returns 0 or -ENOSPC/-ENOMEM. */
int bl_config_add_eal(struct bl_config *c, const char *arg);

/* Free what bl_config_load allocated. Accepts a zeroed config. */
void bl_config_free(struct bl_config *c);

const char *bl_nonip_name(enum bl_nonip n);

#endif /* BL_CONFIG_H */
