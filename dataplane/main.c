/* SPDX-License-Identifier: BSD-3-Clause */
/* `brightline`: the daemon and its offline tools, one subcommand each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_version.h>

#include "cmd.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct subcommand subcommands[] = {
	{ "inspect", bl_cmd_inspect,
	  "inspect [--json] FILE     parse a capture (pcap/pcapng), one line per frame" },
	{ "run", bl_cmd_run,
	  "run [--config F] [...]    run the box between its two ports (see run --help)" },
	{ "check", bl_cmd_check,
	  "check FILE                compile a policy exactly as the daemon would" },
	{ "replay", bl_cmd_replay,
	  "replay [--out OUT.pcap] [--verdicts V.jsonl] FILE   the pipeline over a capture" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: brightline COMMAND [ARGS] | --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %s\n", subcommands[i].usage);
}

int main(int argc, char **argv)
{
	atexit(bl_eal_rundir_remove); /* first registered, so it runs after EAL's own */
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("brightline %s (%s)\n", BL_VERSION, rte_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "brightline: unknown command \"%s\" (try \"brightline --help\")\n",
		argv[1]);
	return 2;
}
