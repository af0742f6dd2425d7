/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The end of a unit test that started EAL: rte_eal_cleanup(), then the
 * runtime folder EAL leaves behind (/var/run/dpdk/PREFIX), empty by then
 * since these tests run without telemetry or shared config.
 */
#ifndef BL_TEST_EAL_DOWN_H
#define BL_TEST_EAL_DOWN_H

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

static inline void bl_test_eal_cleanup(void)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (dir[0])
		rmdir(dir);
}

#endif /* BL_TEST_EAL_DOWN_H */
