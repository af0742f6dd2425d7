/* SPDX-License-Identifier: BSD-3-Clause */
/* The subcommands of `brightline`, each in its own file. */
#ifndef BL_CMD_H
#define BL_CMD_H

/* Each takes the arguments after the subcommand name and returns the exit code. */
int bl_cmd_inspect(int argc, char **argv);
int bl_cmd_run(int argc, char **argv);
int bl_cmd_replay(int argc, char **argv);
int bl_cmd_check(int argc, char **argv);

#endif
