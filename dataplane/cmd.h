/* SPDX-License-Identifier: BSD-3-Clause */
/* The subcommands of `brightline`, each in its own file. */
#ifndef BL_CMD_H
#define BL_CMD_H

/* Each takes the arguments after the subcommand name and returns the exit code. */
int bl_cmd_inspect(int argc, char **argv);
int bl_cmd_run(int argc, char **argv);
int bl_cmd_replay(int argc, char **argv);
int bl_cmd_check(int argc, char **argv);

/*
 * rte_eal_cleanup(), and at exit remove the runtime folder EAL leaves
 * behind (/var/run/dpdk/PREFIX). The telemetry socket in it is unlinked
 * by an atexit handler EAL registers, so the folder is removed by ours,
 * bl_eal_rundir_remove(), which main() registers before any EAL start
 * and which therefore runs after it. A folder another process of the
 * same prefix still uses is not empty and stays.
 */
void bl_eal_cleanup(void);
void bl_eal_rundir_remove(void);

#endif
