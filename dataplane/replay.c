/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `brightline replay FILE`: the live pipeline (the same daemon and worker
 * code) over a capture. FILE enters the inside port (net_pcap rx_pcap),
 * what passes leaves by the outside port into --out; the run stops when
 * every packet of FILE was received and every ring is drained, then the
 * verdict lines and the counters are written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "cmd.h"
#include "daemon.h"
#include "verdicts.h"

#define STALL_SECONDS 10 /* give up waiting for the input after this long without progress */

/* Count the packets of a pcap; -errno with a message on failure. */
static long count_packets(const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p = pcap_open_offline(path, perr);
	long n = 0;
	int rc;

	if (!p) {
		snprintf(err, errlen, "%s", perr);
		return -EINVAL;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(err, errlen, "%s: link type %s; replay needs Ethernet captures", path,
			 pcap_datalink_val_to_name(pcap_datalink(p)));
		pcap_close(p);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1)
		n++;
	if (rc == PCAP_ERROR) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(p));
		n = -EINVAL;
	}
	pcap_close(p);
	return n;
}

/* An Ethernet pcap with no packet: the outside port's (silent) input. */
static int write_empty_pcap(const char *path)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d;

	if (!p)
		return -ENOMEM;
	d = pcap_dump_open(p, path);
	if (!d) {
		pcap_close(p);
		return -EIO;
	}
	pcap_dump_close(d);
	pcap_close(p);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: brightline replay [--out OUT.pcap] [--verdicts V.jsonl] [--workers N]\n"
		"                         [--config F] [--file-prefix P] [--default-ip pass|drop]\n"
		"                         [--policy FILE]\n"
		"                         [--stats-json FILE] [--eve FILE] [--stage-timing] FILE\n");
}

/*
 * Make sure the EAL runs anywhere: no hugepages, no shared files (no-huge
 * excludes --in-memory, which would also give that), no PCI, enough heap.
 */
static int replay_eal(struct bl_config *c)
{
	int rc = 0;

	if (!c->no_huge) {
		rc = bl_config_add_eal(c, "--no-huge");
		rc = rc ? rc : bl_config_add_eal(c, "--no-shconf");
		rc = rc ? rc : bl_config_add_eal(c, "-m");
		rc = rc ? rc : bl_config_add_eal(c, "512");
		c->no_huge = true;
	}
	rc = rc ? rc : bl_config_add_eal(c, "--no-pci");
	return rc;
}

int bl_cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = { { "config", required_argument, NULL, 'c' },
						  { "file-prefix", required_argument, NULL, 'p' },
						  { "workers", required_argument, NULL, 'w' },
						  { "mtu", required_argument, NULL, 'M' },
						  { "mempool", required_argument, NULL, 'P' },
						  { "default-ip", required_argument, NULL, 'D' },
						  { "policy", required_argument, NULL, 'Y' },
						  { "out", required_argument, NULL, 'O' },
						  { "verdicts", required_argument, NULL, 'V' },
						  { "stats-json", required_argument, NULL, 'j' },
						  { "eve", required_argument, NULL, 'E' },
						  { "stage-timing", no_argument, NULL, 'T' },
						  { "help", no_argument, NULL, 'h' },
						  { 0 } };
	struct bl_config cfg;
	struct bl_daemon d;
	struct bl_daemon_opts opts = { .events_lossless = true };
	struct bl_stats_snapshot snap;
	struct bl_stats_totals tot;
	const char *out = NULL, *verdicts = NULL, *stats_json = NULL, *in;
	char err[1024], tmpdir[] = "/tmp/brightline-replay.XXXXXX", empty[PATH_MAX], sink[PATH_MAX],
			outpath[PATH_MAX];
	struct timespec tick = { 0, 2 * 1000 * 1000 }, t_last, now;
	uint64_t seen, last = 0;
	long expected;
	int opt, rc, ret = 1;
	bool prefix_given = false;

	bl_meter_tz_pin(); /* before any thread (see bl_cmd_run) */
	bl_config_defaults(&cfg);
	if (bl_cmd_load_config(&cfg, argc, argv, false))
		goto out_cfg;
	optind = 1;
	argv--;
	argc++;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int r = bl_cmd_common_flag(&cfg, opt, optarg, err, sizeof(err));

		if (r < 0) {
			fprintf(stderr, "brightline replay: %s\n", err);
			goto out_cfg;
		}
		if (opt == 'p')
			prefix_given = true;
		if (r)
			continue;
		switch (opt) {
		case 'c': break;
		case 'O': out = optarg; break;
		case 'V': verdicts = optarg; break;
		case 'j': stats_json = optarg; break;
		case 'E':
			/* the EVE log of the replayed decisions; written by this
			 * thread, after the verdict collector, as events arrive */
			opts.eve = optarg;
			break;
		case 'T': opts.stage_timing = true; break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out_cfg;
		default:
			usage(stderr);
			ret = 2;
			goto out_cfg;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		ret = 2;
		goto out_cfg;
	}
	in = argv[optind];
	/* a record per packet only when asked for (the live lane records
	 * none): without --verdicts the replay runs the lane as live */
	opts.events = verdicts != NULL;
	expected = count_packets(in, err, sizeof(err));
	if (expected < 0) {
		fprintf(stderr, "brightline replay: %s\n", err);
		goto out_cfg;
	}
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "brightline replay: mkdtemp: %s\n", strerror(errno));
		goto out_cfg;
	}
	snprintf(empty, sizeof(empty), "%s/empty.pcap", tmpdir);
	snprintf(sink, sizeof(sink), "%s/inside-tx.pcap", tmpdir);
	snprintf(outpath, sizeof(outpath), "%s/out.pcap", tmpdir);
	if (write_empty_pcap(empty)) {
		fprintf(stderr, "brightline replay: cannot write %s\n", empty);
		goto out_tmp;
	}
	if (strlen(in) + strlen(out ? out : outpath) + strlen(tmpdir) + 64 > sizeof(cfg.inside)) {
		fprintf(stderr, "brightline replay: file names too long\n");
		goto out_tmp;
	}
	snprintf(cfg.inside, sizeof(cfg.inside), "net_pcap0,rx_pcap=%.400s,tx_pcap=%.400s", in,
		 sink);
	snprintf(cfg.outside, sizeof(cfg.outside), "net_pcap1,rx_pcap=%.400s,tx_pcap=%.400s", empty,
		 out ? out : outpath);
	if (!prefix_given)
		snprintf(cfg.file_prefix, sizeof(cfg.file_prefix), "brightline-replay-%d",
			 getpid());
	if (replay_eal(&cfg)) {
		fprintf(stderr, "brightline replay: too many EAL arguments\n");
		goto out_tmp;
	}
	rc = bl_daemon_init(&d, &cfg, &opts, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "brightline: %s\n", err);
		goto out_daemon;
	}
	if (bl_daemon_launch(&d)) {
		fprintf(stderr, "brightline: cannot launch the workers\n");
		goto out_daemon;
	}
	clock_gettime(CLOCK_MONOTONIC, &t_last);
	while ((seen = bl_daemon_rx_seen(&d)) < (uint64_t)expected) {
		nanosleep(&tick, NULL);
		bl_daemon_poll(&d);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (seen != last) {
			last = seen;
			t_last = now;
		} else if (now.tv_sec - t_last.tv_sec > STALL_SECONDS) {
			fprintf(stderr, "brightline replay: input stalled at %lu of %ld packets\n",
				seen, expected);
			break;
		}
	}
	bl_daemon_stop(&d);
	bl_daemon_snapshot(&d, &snap);
	bl_stats_print(&snap, stdout);
	fflush(stdout);
	bl_stats_totals(&snap, &tot);
	ret = tot.balanced && seen >= (uint64_t)expected ? 0 : 1;
	if (stats_json && (rc = bl_stats_write_json(&snap, stats_json))) {
		fprintf(stderr, "brightline replay: %s: %s\n", stats_json, strerror(-rc));
		ret = 1;
	}
	if (verdicts && (rc = bl_verdicts_write(d.verdicts, d.pub.slots, verdicts))) {
		fprintf(stderr, "brightline replay: %s: %s\n", verdicts, strerror(-rc));
		ret = 1;
	}
	bl_stats_snapshot_release(&snap);
out_daemon:
	bl_daemon_fini(&d);
out_tmp:
	unlink(empty);
	unlink(sink);
	unlink(outpath);
	rmdir(tmpdir);
out_cfg:
	bl_config_free(&cfg);
	return ret;
}
