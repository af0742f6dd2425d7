/* placeholder until inspect lands */
#include "cmd.h"
int bl_cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; return 1; }
