/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The box around the workers (see daemon.h), and `brightline run`: load the
 * configuration, apply flags, bring the box up, keep house on the main lcore
 * until a signal or --duration, stop cleanly and print the counters.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "cmd.h"
#include "ctl_server.h"
#include "daemon.h"
#include "proto.h"
#include "eventlog.h"
#include "telemetry.h"
#include "verdicts.h"

#define BL_HANDOFF_RING 1024  /* packets per (src, dst) handoff ring */
#define BL_EVENT_RING	16384 /* verdict events per worker */

/* "0-1" or "0,2,5": the CPUs this process may run on. */
static void cpu_list(char *buf, size_t len)
{
	cpu_set_t set;
	size_t off = 0;

	buf[0] = 0;
	if (sched_getaffinity(0, sizeof(set), &set)) {
		snprintf(buf, len, "0");
		return;
	}
	for (int c = 0; c < CPU_SETSIZE && off < len; c++)
		if (CPU_ISSET(c, &set))
			off += snprintf(buf + off, len - off, "%s%d", off ? "," : "", c);
}

static bool has_arg(const struct bl_config *c, const char *const *names)
{
	for (unsigned i = 0; i < c->n_eal_args; i++)
		for (unsigned j = 0; names[j]; j++)
			if (!strncmp(c->eal_args[i], names[j], strlen(names[j])))
				return true;
	return false;
}

/* The EAL command line: config arguments, file prefix, lcores, devices. */
static int eal_argv(const struct bl_config *c, char **argv, unsigned max, char *store, size_t slen)
{
	static const char *const lcore_opts[] = { "-l", "--lcores", "-c", NULL };
	static const char *const pci_opts[] = { "--no-pci", NULL };
	unsigned n = 0;
	size_t off = 0;
	char cpus[256], name[64];

#define PUSH(...)                                                                                  \
	do {                                                                                       \
		int len_ = snprintf(store + off, slen - off, __VA_ARGS__);                         \
		if (n + 1 >= max || len_ < 0 || (size_t)len_ >= slen - off)                        \
			return -E2BIG;                                                             \
		argv[n++] = store + off;                                                           \
		off += len_ + 1;                                                                   \
	} while (0)

	PUSH("brightline");
	for (unsigned i = 0; i < c->n_eal_args; i++)
		PUSH("%s", c->eal_args[i]);
	PUSH("--file-prefix=%s", c->file_prefix);
	if (!has_arg(c, lcore_opts)) {
		/* Lcore 0 is the main lcore; workers float over the allowed CPUs
		 * (the main lcore mostly sleeps, so it may share one). */
		cpu_list(cpus, sizeof(cpus));
		if (c->lcores_given) {
			char ids[256];
			size_t io = snprintf(ids, sizeof(ids), "0");

			for (unsigned i = 0; i < c->n_workers && io < sizeof(ids); i++)
				io += snprintf(ids + io, sizeof(ids) - io, ",%u",
					       c->worker_lcores[i]);
			PUSH("--lcores=(%s)@(%s)", ids, cpus);
		} else {
			PUSH("--lcores=(0-%u)@(%s)", c->n_workers, cpus);
		}
	}
	for (unsigned p = 0; p < 2; p++) {
		const char *dev = p ? c->outside : c->inside;

		if (bl_port_devname(dev, name, sizeof(name)))
			PUSH("--vdev=%s", dev);
		else if (!has_arg(c, pci_opts))
			PUSH("-a%s", dev);
	}
#undef PUSH
	argv[n] = NULL;
	return (int)n;
}

/* HugePages_Free and HugePages_Total from /proc/meminfo. */
static void hugepages(unsigned long *free_, unsigned long *total, unsigned long *kb)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];

	*free_ = *total = *kb = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Total: %lu", total);
		sscanf(line, "HugePages_Free: %lu", free_);
		sscanf(line, "Hugepagesize: %lu", kb);
	}
	fclose(f);
}

/* The most telling line of what the EAL said while failing: the first error. */
static void eal_reason(FILE *log, char *out, size_t len)
{
	static const char *const marks[] = { "FATAL",  "rror", "annot", "ailed", "not ",
					     "nvalid", "No ",  "nable", NULL };
	char line[512];

	out[0] = 0;
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		char *s = line;

		line[strcspn(line, "\n")] = 0;
		if (!strncmp(s, "EAL: ", 5))
			s += 5;
		if (!strncmp(s, "FATAL: ", 7))
			s += 7;
		for (unsigned i = 0; marks[i]; i++)
			if (strstr(s, marks[i])) {
				snprintf(out, len, "%s", s);
				return;
			}
		if (*s && !out[0])
			snprintf(out, len, "%s", s);
	}
}

/*
 * Our own getopt_long left glibc's internal state (permutation bounds)
 * behind; rte_eal_init only sets optind = 1, which does not clear it.
 * optind = 0 plus one empty parse makes glibc start afresh.
 */
static void reset_getopt(void)
{
	char *argv[] = { "brightline", NULL };

	optind = 0;
	while (getopt(1, argv, "") != -1)
		;
	optind = 1;
}

/*
 * rte_eal_init with its log and stderr captured, so that a failure is one
 * line of ours rather than a page of EAL's.
 */
static int eal_init(const struct bl_config *c, char *err, size_t errlen)
{
	char *argv[BL_CONFIG_MAX_EAL + 16], store[8192], why[512];
	unsigned long hfree, htotal, hkb;
	int argc, saved, rc;
	FILE *log;

	argc = eal_argv(c, argv, sizeof(argv) / sizeof(argv[0]), store, sizeof(store));
	if (argc < 0) {
		snprintf(err, errlen, "too many or too long EAL arguments");
		return argc;
	}
	log = tmpfile();
	if (!log) {
		snprintf(err, errlen, "cannot create a temporary file: %s", strerror(errno));
		return -errno;
	}
	reset_getopt();
	fflush(stdout);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(log), STDERR_FILENO);
	rte_openlog_stream(log);
	rc = rte_eal_init(argc, argv);
	fflush(log);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rte_openlog_stream(stderr);
	if (rc < 0) {
		eal_reason(log, why, sizeof(why));
		hugepages(&hfree, &htotal, &hkb);
		if (!c->no_huge && (strcasestr(why, "hugepage") || hfree == 0))
			snprintf(err, errlen,
				 "DPDK initialisation failed: %s (hugepages: %lu of %lu "
				 "free, %lu kB each; reserve more, or set eal: {no-huge: true})",
				 why, hfree, htotal, hkb);
		else
			snprintf(err, errlen, "DPDK initialisation failed: %s",
				 why[0] ? why : "unknown error");
		fclose(log);
		return -EINVAL;
	}
	fclose(log);
	return 0;
}

/* Which lcores run workers: listed ones, or the first N after the main one. */
static int pick_lcores(struct bl_daemon *d, char *err, size_t errlen)
{
	const struct bl_config *c = d->cfg;
	unsigned lc = rte_get_main_lcore();

	for (unsigned i = 0; i < c->n_workers; i++) {
		if (c->lcores_given) {
			lc = c->worker_lcores[i];
			if (!rte_lcore_is_enabled(lc) || lc == rte_get_main_lcore()) {
				snprintf(err, errlen,
					 "worker lcore %u is not an enabled worker lcore "
					 "(check eal: lcores)",
					 lc);
				return -EINVAL;
			}
		} else {
			lc = rte_get_next_lcore(lc, 1, 0);
			if (lc >= RTE_MAX_LCORE) {
				snprintf(err, errlen,
					 "%u workers need %u worker lcores; the EAL has %u",
					 c->n_workers, c->n_workers, rte_lcore_count() - 1);
				return -EINVAL;
			}
		}
		d->lcore[i] = lc;
	}
	d->n_workers = c->n_workers;
	return 0;
}

static int make_pool(struct bl_daemon *d, char *err, size_t errlen)
{
	const struct bl_config *c = d->cfg;
	unsigned cache = RTE_MIN(256u, c->mempool_size / 4);
	unsigned long hfree, htotal, hkb;

	d->pool = rte_pktmbuf_pool_create("bl_mbufs", c->mempool_size, cache, bl_worker_priv_size(),
					  RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (d->pool)
		return 0;
	hugepages(&hfree, &htotal, &hkb);
	snprintf(err, errlen,
		 "cannot allocate a mempool of %u mbufs (%s): %s; hugepages: "
		 "%lu of %lu free, %lu kB each (reserve more, lower `mempool`, or set "
		 "eal: {no-huge: true, m: SIZE_MB})",
		 c->mempool_size, rte_strerror(rte_errno),
		 c->no_huge ? "no-huge memory too small" : "not enough hugepage memory", hfree,
		 htotal, hkb);
	return -ENOMEM;
}

/* Per-worker context: queues, rings, tables, copies of the settings. */
static int make_worker(struct bl_daemon *d, unsigned i, bool hw_rss, char *err, size_t errlen)
{
	const struct bl_config *c = d->cfg;
	struct bl_flow_config fc;
	struct bl_frag_config gc;
	struct bl_worker *w;
	char name[RTE_RING_NAMESIZE];
	int socket = rte_lcore_to_socket_id(d->lcore[i]);

	w = rte_zmalloc_socket("bl_worker", sizeof(*w), 64, socket);
	if (!w) {
		snprintf(err, errlen, "worker %u: out of memory", i);
		return -ENOMEM;
	}
	d->w[i] = w;
	w->id = i;
	w->n_workers = d->n_workers;
	w->sw_dist = !hw_rss;
	w->stage_timing = d->opts.stage_timing;
	w->events_lossless = d->opts.events_lossless;
	w->ctl = &d->ctl;
	w->tsc_hz = rte_get_tsc_hz();
	bl_reject_init(&w->rej, d->pool, c->reject.rate, c->reject.burst, w->tsc_hz);
	/* the policy: the published pointer, RCU (thread id = worker id), and
	 * per-rule counters that outlive any policy object */
	w->seam.rt = &d->pub.cur;
	w->seam.qsv = d->pub.qsv;
	w->seam.ctr =
		rte_zmalloc_socket("bl_rule_ctr", BL_RT_SLOTS * sizeof(*w->seam.ctr), 64, socket);
	if (!w->seam.ctr || rte_rcu_qsbr_thread_register(d->pub.qsv, i)) {
		snprintf(err, errlen, "worker %u: cannot set up its policy counters", i);
		return -ENOMEM;
	}
	memcpy(w->nonip_drop, c->nonip_drop, sizeof(w->nonip_drop));
	w->frag_release_max = RTE_MIN(c->frag.per_datagram, (uint32_t)BL_TX_BUF);
	for (unsigned s = 0; s < 2; s++) {
		struct bl_port *p = &d->port[s];

		w->port[s] = p->id;
		w->txq[s].port = p->id;
		w->txq[s].queue = i % p->n_txq;
		w->txq[s].lock = p->n_txq < d->n_workers ? &d->txlock[s][w->txq[s].queue] : NULL;
		if (hw_rss) {
			w->rxq[w->n_rxq].port = p->id;
			w->rxq[w->n_rxq++].queue = i;
		}
	}
	if (!hw_rss) {
		/* one queue per port: the k-th (port, queue) goes to worker k % n */
		for (unsigned s = 0, k = 0; s < 2; s++)
			for (uint16_t q = 0; q < d->port[s].n_rxq; q++, k++)
				if (k % d->n_workers == i && w->n_rxq < BL_MAX_RXQ) {
					w->rxq[w->n_rxq].port = d->port[s].id;
					w->rxq[w->n_rxq++].queue = q;
				}
	}

	bl_flow_config_defaults(&fc);
	snprintf(name, sizeof(name), "bl_flow_%u", i);
	fc.name = name;
	fc.socket_id = socket;
	fc.max_flows = c->flow.capacity;
	fc.timeout_tcp_established = c->flow.tcp_established;
	fc.timeout_tcp_transient = c->flow.tcp_transient;
	fc.timeout_udp = c->flow.udp;
	fc.timeout_other = c->flow.other;
	fc.midstream = c->flow.midstream;
	fc.full_policy = c->flow.full;
	fc.evict_idle_s = c->flow.evict_idle;
	w->flows = bl_flow_create(&fc);
	if (!w->flows) {
		snprintf(err, errlen, "worker %u: cannot create a flow table of %u flows: %s", i,
			 c->flow.capacity, strerror(errno));
		return -ENOMEM;
	}
	/* the flows' packets count to their rules through the table */
	bl_flow_set_rule_counters(w->flows, w->seam.ctr);
	bl_frag_config_defaults(&gc);
	snprintf(name, sizeof(name), "bl_frag_%u", i);
	gc.name = name;
	gc.socket_id = socket;
	gc.max_datagrams = c->frag.capacity;
	gc.max_held = c->frag.budget;
	gc.max_held_per_dgram = c->frag.per_datagram;
	gc.timeout_s = c->frag.timeout;
	w->frags = bl_frag_create(&gc);
	if (!w->frags) {
		snprintf(err, errlen, "worker %u: cannot create a fragment table: %s", i,
			 strerror(errno));
		return -ENOMEM;
	}
	w->events_all = d->opts.events;
	if (d->opts.events || d->opts.eve) {
		snprintf(name, sizeof(name), "bl_ev_%u", i);
		w->events = rte_ring_create_elem(name, sizeof(struct bl_event), BL_EVENT_RING,
						 socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!w->events) {
			snprintf(err, errlen, "worker %u: cannot create the event ring: %s", i,
				 rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The meters shared by every worker (meter.h), with the quota usage saved
 * by the previous run when opts.keep_state. A corrupt state file is set
 * aside with a warning: usage restarts at zero rather than the box not
 * starting.
 */
static int make_meters(struct bl_daemon *d, char *err, size_t errlen)
{
	struct bl_meter_config mc = {
		.name = "bl_meters",
		.socket_id = (int)rte_socket_id(),
		.max_slots = d->cfg->meters.max_slots,
		.state_dir = d->opts.keep_state ? d->cfg->state_dir : NULL,
		.reclaim_idle_s = d->cfg->meters.reclaim_idle_s,
	};
	char lerr[PATH_MAX + 128];
	int rc;

	d->meters = bl_meters_create(&mc);
	if (!d->meters) {
		snprintf(err, errlen, "cannot create the meter table (%u slots): %s", mc.max_slots,
			 strerror(errno));
		return -ENOMEM;
	}
	rc = bl_meters_load(d->meters, lerr, sizeof(lerr));
	if (rc)
		fprintf(stderr, "brightline: warning: %s\n", lerr);
	return 0;
}

static void *meter_get(void *ctx, const char *rule, const struct bl_policy_action *a)
{
	return bl_meter_rule_create(ctx, rule, a);
}

static void meter_put(void *m)
{
	bl_meter_rule_free(m);
}

void bl_daemon_meter_ops(struct bl_daemon *d, struct bl_rt_meter_ops *ops)
{
	*ops = (struct bl_rt_meter_ops){ meter_get, meter_put, d->meters };
}

/*
 * Compile the policy named by the configuration (`policy:` / --policy) or,
 * without one, an object whose default is `default_ip`, and publish it.
 * A policy that fails to load or compile stops start-up: its messages
 * (file:line:column) are printed here, one line each.
 * With the control server, the last policy loaded through blctl (kept in
 * the state dir) wins over the configuration's `policy:`, and an explicit
 * --policy wins over both.
 */
static int make_policy(struct bl_daemon *d, char *err, size_t errlen)
{
	const struct bl_config *c = d->cfg;
	struct bl_rt_meter_ops ops = { meter_get, meter_put, d->meters };
	struct bl_rt *rt;
	char sum[512];

	if (d->opts.control) {
		d->ctl_pol = bl_ctl_policy_create(d, d->opts.keep_state ? c->state_dir : NULL,
						  c->control.history);
		if (!d->ctl_pol) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (!d->opts.policy_forced && bl_ctl_policy_restore(d->ctl_pol) == 1)
			return 0;
	}
	if (c->policy[0]) {
		rt = bl_rt_load_file(c->policy, d->pub.next_gen, d->pub.slots,
				     d->meters ? &ops : NULL, stderr);
		if (!rt) {
			snprintf(err, errlen, "policy %s refused", c->policy);
			return -EINVAL;
		}
		bl_rt_summary(rt, sum, sizeof(sum));
		fprintf(stderr, "brightline: policy %s: %s\n", c->policy, sum);
		d->pub.next_gen++;
		bl_rt_publish(&d->pub, rt, NULL);
		if (d->ctl_pol) /* its text, for policy show/diff and list changes */
			bl_ctl_policy_note_file(d->ctl_pol, c->policy);
		return 0;
	} else {
		rt = bl_rt_build(NULL, NULL, c->default_ip_drop ? BL_RT_DROP : BL_RT_ALLOW,
				 d->pub.next_gen, d->pub.slots, NULL, NULL);
		if (!rt) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	d->pub.next_gen++;
	bl_rt_publish(&d->pub, rt, NULL);
	return 0;
}

/* Handoff rings, one per ordered pair of workers. */
static int make_rings(struct bl_daemon *d, char *err, size_t errlen)
{
	char name[RTE_RING_NAMESIZE];

	for (unsigned s = 0; s < d->n_workers; s++)
		for (unsigned t = 0; t < d->n_workers; t++) {
			if (s == t)
				continue;
			snprintf(name, sizeof(name), "bl_h_%u_%u", s, t);
			d->ring[s][t] = rte_ring_create(name, BL_HANDOFF_RING, rte_socket_id(),
							RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!d->ring[s][t]) {
				snprintf(err, errlen, "cannot create handoff ring %s: %s", name,
					 rte_strerror(rte_errno));
				return -ENOMEM;
			}
			d->w[s]->ring_out[t] = d->ring[s][t];
			d->w[t]->ring_in[s] = d->ring[s][t];
		}
	return 0;
}

/*
 * The EVE log of opts.eve. A file that cannot be opened is a warning, not
 * a failed start: the box filters without its event log (counters stay).
 */
static void make_eventlog(struct bl_daemon *d)
{
	struct bl_eventlog_config ec = {
		.path = d->opts.eve,
		.rate = d->cfg->event_log.rate,
		.burst = d->cfg->event_log.burst,
		.tsc_hz = rte_get_tsc_hz(),
		.slots = d->pub.slots,
	};

	if (!d->opts.eve)
		return;
	d->eve = bl_eventlog_create(&ec);
	if (!d->eve)
		fprintf(stderr,
			"brightline: warning: event log %s: %s; no events will be written\n",
			d->opts.eve, strerror(errno));
}

int bl_daemon_init(struct bl_daemon *d, const struct bl_config *cfg,
		   const struct bl_daemon_opts *opts, char *err, size_t errlen)
{
	struct bl_port_want want;
	bool hw_rss;
	int rc;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->opts = *opts;
	{
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		d->started = t.tv_sec;
	}
	pthread_mutex_init(&d->obs_lock, NULL);
	d->obs_lock_up = true;
	if (!cfg->inside[0] || !cfg->outside[0]) {
		snprintf(err, errlen,
			 "both ports must be named (ports: {inside: DEV, outside: DEV} "
			 "or --inside/--outside)");
		return -EINVAL;
	}
	rc = eal_init(cfg, err, errlen);
	if (rc)
		return rc;
	d->eal_up = true;
	for (unsigned s = 0; s < 2; s++)
		for (unsigned q = 0; q < BL_CONFIG_MAX_WORKERS; q++)
			rte_spinlock_init(&d->txlock[s][q]);
	if ((rc = pick_lcores(d, err, errlen)) || (rc = make_pool(d, err, errlen)))
		return rc;
	if ((rc = bl_rt_pub_init(&d->pub, d->n_workers))) {
		snprintf(err, errlen, "cannot set up the policy RCU: %s", strerror(-rc));
		return rc;
	}
	want = (struct bl_port_want){
		.queues = cfg->queues ? cfg->queues : d->n_workers,
		.mtu = cfg->mtu,
		.rx_desc = cfg->rx_desc,
		.tx_desc = cfg->tx_desc,
		.pool = d->pool,
	};
	for (unsigned s = 0; s < 2; s++) {
		rc = bl_port_open(&d->port[s], s ? cfg->outside : cfg->inside, &want, err, errlen);
		if (rc)
			return rc;
	}
	/* Hardware distribution only when both ports spread over a queue per worker. */
	hw_rss = d->n_workers > 1 && d->port[0].rss && d->port[1].rss &&
		 d->port[0].n_rxq == d->n_workers && d->port[1].n_rxq == d->n_workers;
	for (unsigned i = 0; i < d->n_workers; i++)
		if ((rc = make_worker(d, i, hw_rss, err, errlen)))
			return rc;
	if (!hw_rss && (rc = make_rings(d, err, errlen)))
		return rc;
	if ((rc = make_meters(d, err, errlen)) || (rc = make_policy(d, err, errlen)))
		return rc;
	d->ctl.n_workers = d->n_workers;
	if (opts->events) {
		d->verdicts = bl_verdicts_create();
		if (!d->verdicts) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	make_eventlog(d);
	/* counters as DPDK telemetry commands, and the capture hook of dpdk-dumpcap */
	if ((rc = bl_telemetry_init(d)))
		fprintf(stderr, "brightline: warning: telemetry or capture hook: %s\n",
			strerror(-rc));
	return 0;
}

/* The lcore entry: the worker loop, then a count so main knows it returned. */
static int worker_entry(void *arg)
{
	struct bl_worker *w = arg;
	struct bl_daemon *d = container_of(w->ctl, struct bl_daemon, ctl);

	bl_worker_main(w);
	__atomic_fetch_add(&d->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Move events from every worker's ring to the verdict collector and the
 * EVE log; the rings' one consumer (the EVE thread, or the main lcore).
 * A bounded number of batches per ring per call. Returns the events moved.
 */
static unsigned drain_events(struct bl_daemon *d)
{
	struct bl_event ev[64];
	unsigned total = 0;

	if (!d->verdicts && !d->eve)
		return 0;
	if (d->eve && __atomic_exchange_n(&d->eve_reopen, 0, __ATOMIC_ACQ_REL)) {
		int rc = bl_eventlog_reopen(d->eve);

		if (rc)
			fprintf(stderr, "brightline: warning: cannot reopen the event log %s: %s\n",
				d->opts.eve, strerror(-rc));
	}
	for (unsigned i = 0; i < d->n_workers; i++) {
		unsigned n;

		if (!d->w[i] || !d->w[i]->events)
			continue;
		for (unsigned b = 0;
		     b < 256 && (n = rte_ring_sc_dequeue_burst_elem(d->w[i]->events, ev,
								    sizeof(ev[0]), 64, NULL));
		     b++) {
			total += n;
			for (unsigned k = 0; k < n; k++) {
				if (d->verdicts)
					bl_verdicts_add(d->verdicts, &ev[k]);
				if (d->eve && (ev[k].flags & BL_EV_F_DECISION))
					bl_eventlog_add(d->eve, &ev[k]);
			}
		}
	}
	if (total && d->eve)
		bl_eventlog_flush(d->eve);
	return total;
}

/* The EVE writer thread: drain the event rings until told to stop. */
static void *eve_main(void *arg)
{
	struct bl_daemon *d = arg;
	struct timespec pause = { 0, 2 * 1000 * 1000 };

	while (!__atomic_load_n(&d->eve_stop, __ATOMIC_ACQUIRE))
		if (!drain_events(d))
			nanosleep(&pause, NULL);
	return NULL;
}

/* Start the EVE writer on the main lcore's CPUs (never a worker's). */
static int eve_thread_start(struct bl_daemon *d)
{
	rte_cpuset_t cpus = rte_lcore_cpuset(rte_get_main_lcore());
	int rc = pthread_create(&d->eve_thread, NULL, eve_main, d);

	if (rc)
		return -rc;
	pthread_setaffinity_np(d->eve_thread, sizeof(cpus), &cpus);
	pthread_setname_np(d->eve_thread, "bl-eventlog");
	d->eve_thread_up = true;
	return 0;
}

/* Stop the EVE writer; the main lcore consumes the rings from now on. */
static void eve_thread_stop(struct bl_daemon *d)
{
	if (!d->eve_thread_up)
		return;
	__atomic_store_n(&d->eve_stop, 1, __ATOMIC_RELEASE);
	pthread_join(d->eve_thread, NULL);
	d->eve_thread_up = false;
}

void bl_daemon_reopen_logs(struct bl_daemon *d)
{
	__atomic_store_n(&d->eve_reopen, 1, __ATOMIC_RELEASE);
}

int bl_daemon_launch(struct bl_daemon *d)
{
	for (unsigned i = 0; i < d->n_workers; i++) {
		int rc = rte_eal_remote_launch(worker_entry, d->w[i], d->lcore[i]);

		if (rc) {
			/* stop the ones already running; count the others as stopped */
			__atomic_fetch_add(&d->ctl.rx_stopped, d->n_workers - i, __ATOMIC_RELEASE);
			__atomic_store_n(&d->ctl.stop_rx, 1, __ATOMIC_RELEASE);
			rte_eal_mp_wait_lcore();
			return rc;
		}
	}
	d->launched = true;
	if (d->eve && d->opts.eve_thread && eve_thread_start(d))
		fprintf(stderr, "brightline: warning: cannot start the event log thread; "
				"the main lcore writes events\n");
	/* calendar boundaries each second, quota usage saved periodically */
	if (d->meters && bl_meters_thread_start(d->meters, d->cfg->meters.snapshot_s))
		fprintf(stderr, "brightline: warning: cannot start the meter thread\n");
	return 0;
}

void bl_daemon_poll(struct bl_daemon *d)
{
	/* the rings have one consumer: the EVE thread while it runs */
	if (!d->eve_thread_up)
		drain_events(d);
	/* on the main lcore, which charges no meter (see bl_meters_reclaim) */
	if (d->meters && d->launched)
		bl_meters_reclaim(d->meters, d->pub.qsv, rte_rdtsc());
}

uint64_t bl_daemon_rx_seen(const struct bl_daemon *d)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < d->n_workers; i++)
		n += __atomic_load_n(&d->w[i]->stats.rx, __ATOMIC_RELAXED);
	for (unsigned s = 0; s < 2; s++) {
		struct bl_port_stats ps;

		bl_port_stats(&d->port[s], &ps);
		n += ps.rx_nombuf + ps.ierrors;
	}
	return n;
}

void bl_daemon_stop(struct bl_daemon *d)
{
	struct timespec ms = { 0, 1000000 };

	if (!d->launched)
		return;
	__atomic_store_n(&d->ctl.stop_rx, 1, __ATOMIC_RELEASE);
	/* keep emptying the event rings: lossless workers may wait on them */
	while (__atomic_load_n(&d->done, __ATOMIC_ACQUIRE) < d->n_workers) {
		bl_daemon_poll(d);
		nanosleep(&ms, NULL);
	}
	rte_eal_mp_wait_lcore();
	eve_thread_stop(d);
	bl_daemon_poll(d);
	d->launched = false;
	bl_meters_thread_stop(d->meters); /* and the final save, workers stopped */
}

/* How long a snapshot waits for each worker to settle its flows. */
#define SNAPSHOT_SETTLE_MS 500

static void snapshot(const struct bl_daemon *d, struct bl_stats_snapshot *s, bool settle);

void bl_daemon_snapshot(const struct bl_daemon *d, struct bl_stats_snapshot *s)
{
	snapshot(d, s, true);
}

void bl_daemon_snapshot_unsettled(const struct bl_daemon *d, struct bl_stats_snapshot *s)
{
	snapshot(d, s, false);
}

static void snapshot(const struct bl_daemon *d, struct bl_stats_snapshot *s, bool settle)
{
	memset(s, 0, sizeof(*s));
	s->n_workers = d->n_workers;
	/* rule counters by slot, named by the slot registry (one per rule name) */
	s->rules = calloc(RTE_MAX(bl_rt_slots_used(d->pub.slots), 1u), sizeof(*s->rules));
	if (s->rules) {
		s->n_rules = bl_rt_slots_used(d->pub.slots);
		for (uint32_t k = 0; k < s->n_rules; k++)
			snprintf(s->rules[k].name, sizeof(s->rules[k].name), "%s",
				 bl_rt_slot_name(d->pub.slots, k));
	}
	s->policy_gen = d->pub.cur ? d->pub.cur->gen : 0;
	if (d->meters) {
		s->meter_slots = bl_meters_count(d->meters);
		s->meter_reclaimed = bl_meters_reclaimed(d->meters);
		bl_meters_late(d->meters, &s->meter_late_merged, &s->meter_late_lost);
	}
	if (d->eve) {
		struct bl_eventlog_stats es;

		bl_eventlog_stats(d->eve, &es);
		s->events_written = es.written;
		s->events_suppressed = es.suppressed;
		s->event_write_errors = es.write_errors;
	}
	/* the rule counters: every flow's packets settled to them first (a
	 * slice per loop on a busy worker: a few ms for a million flows) */
	s->rules_lag = !settle;
	for (unsigned i = 0; settle && i < d->n_workers; i++)
		if (d->w[i] && !bl_worker_settle(d->w[i], SNAPSHOT_SETTLE_MS))
			s->rules_lag = true;
	for (unsigned i = 0; i < d->n_workers; i++) {
		const struct bl_worker *w = d->w[i];

		if (!w)
			continue;
		s->w[i] = w->stats;
		s->generated += w->rej.stats.generated;
		s->rej[i] = w->rej.stats;
		s->meter[i] = w->meter_stats;
		if (w->seam.ctr) {
			struct bl_rule_ctr *ctr = w->seam.ctr;

			for (uint32_t k = 0; k < s->n_rules; k++) {
				s->rules[k].packets += ctr[k].packets;
				s->rules[k].bytes += ctr[k].bytes;
			}
		}
		if (w->flows) {
			s->flow[i] = *bl_flow_counters(w->flows);
			s->flows_live[i] = bl_flow_count(w->flows);
		}
		if (w->frags) {
			s->frag[i] = *bl_frag_counters(w->frags);
			s->frag_held[i] = bl_frag_held(w->frags);
		}
	}
	for (unsigned a = 0; a < d->n_workers; a++)
		for (unsigned b = 0; b < d->n_workers; b++)
			if (d->ring[a][b])
				s->in_rings += rte_ring_count(d->ring[a][b]);
	for (unsigned p = 0; p < 2; p++)
		bl_port_stats(&d->port[p], &s->port[p]);
}

static char eal_rundir[PATH_MAX];

void bl_eal_cleanup(void)
{
	snprintf(eal_rundir, sizeof(eal_rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
}

void bl_eal_rundir_remove(void)
{
	if (eal_rundir[0])
		rmdir(eal_rundir); /* fails, harmlessly, while the folder is not empty */
}

void bl_daemon_fini(struct bl_daemon *d)
{
	/* telemetry commands stop seeing this daemon before anything goes */
	bl_telemetry_fini(d);
	bl_daemon_stop(d);
	eve_thread_stop(d); /* launched but never stopped */
	bl_eventlog_free(d->eve);
	d->eve = NULL;
	for (unsigned p = 0; p < 2; p++)
		bl_port_close(&d->port[p]);
	for (unsigned i = 0; i < BL_CONFIG_MAX_WORKERS; i++) {
		struct bl_worker *w = d->w[i];

		if (!w)
			continue;
		/* held fragments go back to the pool before it is freed */
		bl_frag_free(w->frags);
		bl_flow_free(w->flows);
		if (d->pub.qsv)
			rte_rcu_qsbr_thread_unregister(d->pub.qsv, i);
		rte_free(w->seam.ctr);
		rte_ring_free(w->events);
		rte_free(w);
		d->w[i] = NULL;
	}
	for (unsigned a = 0; a < BL_CONFIG_MAX_WORKERS; a++)
		for (unsigned b = 0; b < BL_CONFIG_MAX_WORKERS; b++) {
			rte_ring_free(d->ring[a][b]);
			d->ring[a][b] = NULL;
		}
	bl_ctl_free(d->ctl_srv);
	d->ctl_srv = NULL;
	bl_ctl_policy_free(d->ctl_pol);
	d->ctl_pol = NULL;
	/* workers stopped: the policy (its meters first) can go */
	bl_rt_pub_fini(&d->pub);
	bl_meters_free(d->meters);
	d->meters = NULL;
	rte_mempool_free(d->pool);
	d->pool = NULL;
	bl_verdicts_free(d->verdicts);
	d->verdicts = NULL;
	if (d->eal_up)
		bl_eal_cleanup();
	d->eal_up = false;
	if (d->obs_lock_up)
		pthread_mutex_destroy(&d->obs_lock);
	d->obs_lock_up = false;
}

/* ---- brightline run ---- */

static volatile sig_atomic_t stop_signal, hup_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void on_hup(int sig)
{
	hup_signal = sig;
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: brightline run [--config F] [--file-prefix P] [--inside DEV] [--outside DEV]\n"
		"                      [--workers N] [--mtu N] [--mempool N] [--default-ip pass|drop]\n"
		"                      [--policy FILE]\n"
		"                      [--duration SECONDS] [--stats-json FILE] [--verdicts FILE]\n"
		"                      [--eve FILE] [--stage-timing]\n"
		"                      [--control-socket PATH] [--state-dir DIR] [--no-control]\n"
		"                      [-- EAL-ARGS...]\n");
}

/* Flags shared by run and replay; returns 1 if `opt` was one of them. */
int bl_cmd_common_flag(struct bl_config *c, int opt, const char *arg, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	switch (opt) {
	case 'p': snprintf(c->file_prefix, sizeof(c->file_prefix), "%s", arg); return 1;
	case 'i': snprintf(c->inside, sizeof(c->inside), "%s", arg); return 1;
	case 'o': snprintf(c->outside, sizeof(c->outside), "%s", arg); return 1;
	case 'w':
	case 'M':
	case 'P':
		v = strtoul(arg, &end, 10);
		if (*end || !v || (opt == 'w' && v > BL_CONFIG_MAX_WORKERS)) {
			snprintf(err, errlen, "bad number \"%s\"", arg);
			return -1;
		}
		if (opt == 'w') {
			c->n_workers = v;
			c->lcores_given = false;
		} else if (opt == 'M') {
			c->mtu = v;
		} else {
			c->mempool_size = v;
		}
		return 1;
	case 'Y':
		if (strlen(arg) >= sizeof(c->policy)) {
			snprintf(err, errlen, "--policy: path too long");
			return -1;
		}
		snprintf(c->policy, sizeof(c->policy), "%s", arg);
		return 1;
	case 'D':
		if (strcmp(arg, "pass") && strcmp(arg, "drop")) {
			snprintf(err, errlen, "--default-ip: \"%s\" is not pass|drop", arg);
			return -1;
		}
		c->default_ip_drop = !strcmp(arg, "drop");
		return 1;
	}
	return 0;
}

/* Read --config (or the default path when it exists) before other flags. */
int bl_cmd_load_config(struct bl_config *c, int argc, char **argv, bool required_default)
{
	const char *path = NULL;
	char err[1024];
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
	}
	if (!path) {
		if (access(BL_CONFIG_DEFAULT_PATH, R_OK) != 0 && !required_default)
			return 0;
		path = BL_CONFIG_DEFAULT_PATH;
	}
	rc = bl_config_load(c, path, err, sizeof(err));
	if (rc)
		fprintf(stderr, "brightline: %s\n", err);
	return rc;
}

/*
 * $NOTIFY_SOCKET, read once before any thread starts: the meter thread sets
 * TZ for calendar quotas, and a getenv() racing a setenv() may read a freed
 * environment.
 */
static char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

static void notify_init(void)
{
	const char *p = getenv("NOTIFY_SOCKET");

	snprintf(notify_path, sizeof(notify_path), "%s", p ? p : "");
}

/*
 * Tell systemd (Type=notify) how the box is: one datagram on $NOTIFY_SOCKET,
 * what sd_notify(3) sends, without linking libsystemd. Nothing when the
 * variable is absent (not started by systemd).
 */
static void notify_systemd(const char *state)
{
	const char *path = notify_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd;

	if (n < 2 || (path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   offsetof(struct sockaddr_un, sun_path) + n) < 0)
		fprintf(stderr, "brightline: warning: cannot notify systemd: %s\n",
			strerror(errno));
	close(fd);
}

/* The control server of `run`, serving once the workers run. 0 or -errno (printed). */
static int start_control(struct bl_daemon *d, const struct bl_config *c)
{
	struct bl_ctl_config cc = {
		.socket = c->control_socket,
		.group = c->control.group,
		.max_line = c->control.max_line,
		.max_upload = c->control.max_upload,
		.max_clients = c->control.max_clients,
		.idle_timeout_s = c->control.idle_timeout,
		.line_timeout_s = BL_PROTO_LINE_TIMEOUT,
	};
	char err[512];
	int rc;

	d->ctl_srv = bl_ctl_create(d, &cc, err, sizeof(err));
	if (!d->ctl_srv) {
		fprintf(stderr, "brightline: %s (or run with --no-control)\n", err);
		return -errno;
	}
	if ((rc = bl_ctl_cmds_register(d->ctl_srv)) ||
	    (rc = bl_ctl_policy_register(d->ctl_srv, d->ctl_pol)) ||
	    (rc = bl_ctl_start(d->ctl_srv))) {
		fprintf(stderr, "brightline: cannot start the control server: %s\n", strerror(-rc));
		return rc;
	}
	fprintf(stderr, "brightline: control socket %s\n", c->control_socket);
	return 0;
}

int bl_cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = { { "config", required_argument, NULL, 'c' },
						  { "file-prefix", required_argument, NULL, 'p' },
						  { "inside", required_argument, NULL, 'i' },
						  { "outside", required_argument, NULL, 'o' },
						  { "workers", required_argument, NULL, 'w' },
						  { "mtu", required_argument, NULL, 'M' },
						  { "mempool", required_argument, NULL, 'P' },
						  { "default-ip", required_argument, NULL, 'D' },
						  { "policy", required_argument, NULL, 'Y' },
						  { "duration", required_argument, NULL, 'd' },
						  { "stats-json", required_argument, NULL, 'j' },
						  { "verdicts", required_argument, NULL, 'V' },
						  { "eve", required_argument, NULL, 'E' },
						  { "stage-timing", no_argument, NULL, 'T' },
						  { "control-socket", required_argument, NULL,
						    'S' },
						  { "state-dir", required_argument, NULL, 'A' },
						  { "no-control", no_argument, NULL, 'N' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct bl_config cfg;
	struct bl_daemon d;
	struct bl_daemon_opts opts = { 0 };
	struct bl_stats_snapshot snap;
	struct bl_stats_totals tot;
	const char *stats_json = NULL, *verdicts = NULL;
	bool no_control = false;
	double duration = 0;
	char err[1024];
	struct timespec t0, now, tick = { 0, 10 * 1000 * 1000 };
	int opt, rc, ret = 1;

	notify_init();
	/* the local zone, read before any thread: localtime_r() (EVE time
	 * stamps, through bl_meter_localtime()) then never reads the
	 * environment the meter thread changes, and TZ has a value the meter
	 * thread only ever replaces */
	bl_meter_tz_pin();
	bl_config_defaults(&cfg);
	if (bl_cmd_load_config(&cfg, argc, argv, false))
		goto out_cfg;
	optind = 1;
	/* getopt wants argv[0]; our argv starts after the subcommand */
	argv--;
	argc++;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int r = bl_cmd_common_flag(&cfg, opt, optarg, err, sizeof(err));

		if (r < 0) {
			fprintf(stderr, "brightline run: %s\n", err);
			goto out_cfg;
		}
		if (r)
			continue;
		switch (opt) {
		case 'c': break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'j': stats_json = optarg; break;
		case 'V': verdicts = optarg; break;
		case 'E':
			snprintf(cfg.event_log.path, sizeof(cfg.event_log.path), "%s", optarg);
			break;
		case 'T': opts.stage_timing = true; break;
		case 'S':
		case 'A':
			if (strlen(optarg) >=
			    (opt == 'S' ? sizeof(cfg.control_socket) : sizeof(cfg.state_dir))) {
				fprintf(stderr, "brightline run: %s: path too long\n", optarg);
				goto out_cfg;
			}
			if (opt == 'S')
				snprintf(cfg.control_socket, sizeof(cfg.control_socket), "%s",
					 optarg);
			else
				snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", optarg);
			break;
		case 'N': no_control = true; break;
		case 'h':
			run_usage(stdout);
			ret = 0;
			goto out_cfg;
		default:
			run_usage(stderr);
			ret = 2;
			goto out_cfg;
		}
	}
	for (int i = optind; i < argc; i++)
		if (bl_config_add_eal(&cfg, argv[i])) {
			fprintf(stderr, "brightline run: too many EAL arguments\n");
			goto out_cfg;
		}
	opts.events = verdicts != NULL;
	opts.keep_state = true;
	opts.control = !no_control;
	for (int i = 1; i < optind; i++) /* an explicit --policy wins over the state dir */
		opts.policy_forced |=
			!strcmp(argv[i], "--policy") || !strncmp(argv[i], "--policy=", 9);
	opts.eve = cfg.event_log.path[0] ? cfg.event_log.path : NULL;
	opts.eve_thread = true;
	rc = bl_daemon_init(&d, &cfg, &opts, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "brightline: %s\n", err);
		goto out_daemon;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_hup); /* logrotate: reopen the event log */
	if (bl_daemon_launch(&d)) {
		fprintf(stderr, "brightline: cannot launch the workers\n");
		goto out_daemon;
	}
	/* without its control server the box still runs (and says so) */
	if (opts.control && start_control(&d, &cfg)) {
		bl_ctl_free(d.ctl_srv);
		d.ctl_srv = NULL;
		fprintf(stderr, "brightline: warning: running without a control server\n");
	}
	fprintf(stderr, "brightline: running, %u worker(s), %s distribution, file prefix %s\n",
		d.n_workers, d.w[0]->sw_dist ? "software" : "RSS", cfg.file_prefix);
	/* ready: ports up, workers forwarding, the policy published (init) */
	notify_systemd("READY=1\nSTATUS=forwarding");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop_signal) {
		nanosleep(&tick, NULL);
		if (hup_signal) {
			hup_signal = 0;
			bl_daemon_reopen_logs(&d);
		}
		bl_daemon_poll(&d);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (duration > 0 &&
		    (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= duration)
			break;
	}
	notify_systemd("STOPPING=1");
	/* no policy change once the workers stop */
	bl_ctl_free(d.ctl_srv);
	d.ctl_srv = NULL;
	bl_daemon_stop(&d);
	bl_daemon_snapshot(&d, &snap);
	bl_stats_print(&snap, stdout);
	fflush(stdout);
	bl_stats_totals(&snap, &tot);
	ret = tot.balanced ? 0 : 1;
	if (stats_json && (rc = bl_stats_write_json(&snap, stats_json))) {
		fprintf(stderr, "brightline: %s: %s\n", stats_json, strerror(-rc));
		ret = 1;
	}
	if (verdicts && (rc = bl_verdicts_write(d.verdicts, d.pub.slots, verdicts))) {
		fprintf(stderr, "brightline: %s: %s\n", verdicts, strerror(-rc));
		ret = 1;
	}
	bl_stats_snapshot_release(&snap);
out_daemon:
	bl_daemon_fini(&d);
out_cfg:
	bl_config_free(&cfg);
	return ret;
}
