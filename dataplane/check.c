/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `brightline check FILE`: load, validate and compile a policy exactly as
 * the daemon does at start (bl_rt_load_file, with a meter table like the
 * daemon's), print the same messages as `blctl policy check` plus compile
 * errors, then one summary line. Exit 0 when the daemon would accept it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "cmd.h"
#include "meter.h"
#include "policy_rt.h"

static void *meter_get(void *ctx, const char *rule, const struct bl_policy_action *a)
{
	return bl_meter_rule_create(ctx, rule, a);
}

static void meter_put(void *m)
{
	bl_meter_rule_free(m);
}

int bl_cmd_check(int argc, char **argv)
{
	char prefix[64], sum[512];
	char *eal[] = { "brightline", "--no-huge",	"--no-shconf",
			"--no-pci",   "--no-telemetry", "--log-level=error",
			"-m",	      "3072",		"-l",
			"0",	      prefix,		NULL };
	struct bl_meter_config mc = { .name = "bl_check_meters", .max_slots = 64 };
	struct bl_rt_meter_ops ops = { meter_get, meter_put, NULL };
	struct bl_meters *meters;
	struct bl_rt *rt;
	int ret = 1;

	if (argc != 1 || argv[0][0] == '-') {
		fprintf(argc == 1 && !strcmp(argv[0], "--help") ? stdout : stderr,
			"usage: brightline check FILE   compile a policy as the daemon would\n");
		return argc == 1 && !strcmp(argv[0], "--help") ? 0 : 2;
	}
	snprintf(prefix, sizeof(prefix), "--file-prefix=brightline-check-%d", getpid());
	rte_log_set_global_level(RTE_LOG_ERR);
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "brightline check: DPDK initialisation failed\n");
		return 1;
	}
	meters = bl_meters_create(&mc);
	if (!meters) {
		fprintf(stderr, "brightline check: cannot create a meter table\n");
		goto out_eal;
	}
	ops.ctx = meters;
	rt = bl_rt_load_file(argv[0], 1, NULL, &ops, stderr);
	if (rt) {
		bl_rt_summary(rt, sum, sizeof(sum));
		printf("%s: ok: %s\n", argv[0], sum);
		ret = 0;
	}
	bl_rt_free(rt);
	bl_meters_free(meters);
out_eal:
	bl_eal_cleanup();
	return ret;
}
