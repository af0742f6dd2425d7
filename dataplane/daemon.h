/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The box around the workers, shared by `brightline run` and `brightline
 * replay`: EAL, mempool, the two ports, rings, per-worker tables, launch,
 * the stop protocol, counters. Control side only.
 */
#ifndef BL_DAEMON_H
#define BL_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <rte_spinlock.h>

#include "config.h"
#include "policy_rt.h"
#include "port.h"
#include "stats.h"
#include "worker.h"

struct rte_mempool;
struct rte_ring;
struct bl_verdicts;
struct bl_eventlog;
struct bl_ctl;
struct bl_ctl_policy;

/* Options that are not configuration: how this process runs the box. */
struct bl_daemon_opts {
	bool stage_timing;    /* TSC accounting per stage */
	bool events;	      /* collect verdict events (--verdicts) */
	bool events_lossless; /* workers wait for room in the event ring (replay) */
	bool keep_state;      /* quota usage loaded from / saved to cfg->state_dir (run) */
	bool control;	      /* serve the control socket, keep blctl's policies (run) */
	bool policy_forced;   /* --policy given: it wins over the state dir's last policy */
	const char *eve;      /* EVE log file (eventlog.h), or NULL: none */
	bool eve_thread; /* a writer thread drains the event rings (run); else bl_daemon_poll */
};

struct bl_daemon {
	const struct bl_config *cfg;
	struct bl_daemon_opts opts;
	bool eal_up;
	struct rte_mempool *pool;
	struct bl_port port[2]; /* [0] inside, [1] outside */
	unsigned n_workers;
	unsigned lcore[BL_CONFIG_MAX_WORKERS];
	struct bl_worker *w[BL_CONFIG_MAX_WORKERS];
	struct rte_ring *ring[BL_CONFIG_MAX_WORKERS][BL_CONFIG_MAX_WORKERS]; /* [src][dst] */
	rte_spinlock_t txlock[2][BL_CONFIG_MAX_WORKERS];
	struct bl_run_ctl ctl;
	uint32_t done; /* workers that returned */
	bool launched;
	struct bl_verdicts *verdicts; /* with opts.events */
	struct bl_meters *meters;     /* rate-limit/quota state shared by the workers */
	struct bl_rt_pub pub;	      /* the published policy, its RCU, rule slots */
	/* Held by the control thread while it changes `pub` (builds that add
	 * slot names, publish + free), and by control-side readers on other
	 * threads (DPDK telemetry) around bl_daemon_snapshot. Never by workers. */
	pthread_mutex_t obs_lock;
	bool obs_lock_up;
	struct bl_eventlog *eve; /* with opts.eve */
	pthread_t eve_thread;	 /* with opts.eve_thread: drains the event rings */
	bool eve_thread_up;
	uint32_t eve_stop;	       /* main -> writer thread: drain once more and return */
	uint32_t eve_reopen;	       /* reopen the EVE file (SIGHUP), read by its consumer */
	bool telemetry_up;	       /* telemetry commands point at this daemon, pdump on */
	struct bl_ctl *ctl_srv;	       /* the control server (ctl_server.h), with opts.control */
	struct bl_ctl_policy *ctl_pol; /* what blctl loaded, its history (ctl_policy.c) */
	time_t started;		       /* CLOCK_MONOTONIC seconds at init (status uptime) */
};

/*
 * Bring the box up to just before launch: EAL (its chatter captured and
 * turned into one line on failure), mempool, ports, tables, rings.
 * On error returns -errno with one line in `err`; call bl_daemon_fini().
 */
int bl_daemon_init(struct bl_daemon *d, const struct bl_config *cfg,
		   const struct bl_daemon_opts *opts, char *err, size_t errlen);

/* Start the workers on their lcores. */
int bl_daemon_launch(struct bl_daemon *d);

/*
 * Main-lcore chores while running: move events from the workers' rings to
 * the verdict collector and the EVE log (unless the EVE writer thread
 * does it).
 */
void bl_daemon_poll(struct bl_daemon *d);

/* Ask the EVE log's consumer to reopen its file (after logrotate); async-signal-safe. */
void bl_daemon_reopen_logs(struct bl_daemon *d);

/* Packets received so far by all workers, plus those the ports lost on RX. */
uint64_t bl_daemon_rx_seen(const struct bl_daemon *d);

/* Stop polling, drain every ring, wait for the workers. */
void bl_daemon_stop(struct bl_daemon *d);

/* The meter hooks of a policy build (rate-limit and quota rules). */
void bl_daemon_meter_ops(struct bl_daemon *d, struct bl_rt_meter_ops *ops);

/* Gather the counters (exact once stopped), the rule counters with every
 * worker's flows settled first (worker.h, bl_worker_settle()). */
void bl_daemon_snapshot(const struct bl_daemon *d, struct bl_stats_snapshot *s);

/* The same without the settle pass, for readers of other counters: the
 * rule counters lag by up to a second (s->rules_lag is set). */
void bl_daemon_snapshot_unsettled(const struct bl_daemon *d, struct bl_stats_snapshot *s);

/* Close ports (flushing pcap output), free tables, leave the EAL. */
void bl_daemon_fini(struct bl_daemon *d);

/* Command-line helpers shared by run and replay (daemon.c). */

/* Load --config FILE (or the default path if present) into `c`; 0 or -errno, error printed. */
int bl_cmd_load_config(struct bl_config *c, int argc, char **argv, bool required_default);

/* Apply a flag common to run and replay: 1 applied, 0 not ours, -1 bad value (in `err`). */
int bl_cmd_common_flag(struct bl_config *c, int opt, const char *arg, char *err, size_t errlen);

#endif /* BL_DAEMON_H */
