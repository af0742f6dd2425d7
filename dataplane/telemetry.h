/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The box seen from outside the process, without the control socket:
 * - DPDK telemetry commands (read with `dpdk-telemetry.py -f PREFIX`), all
 *   from the one counter snapshot stats.c defines (bl_daemon_snapshot):
 *     /brightline/stats    totals: rx, tx, dropped, held, flows, events...
 *     /brightline/ports    both ports; param inside|outside: one
 *     /brightline/workers  every worker; param N: one
 *     /brightline/drops    packets dropped per reason
 *     /brightline/rules    packets per rule (first 256); param NAME: one
 *                          rule's packets and bytes
 *     /brightline/policy   generation, sha256, rules, lists, entries, build time
 * - the capture hook: rte_pdump_init(), so `dpdk-dumpcap --file-prefix P`
 *   captures from the running box's ports (which must be ones a secondary
 *   process can attach to: net_ring, net_af_packet, PCI devices).
 * Telemetry callbacks run on DPDK's telemetry thread: they take the
 * daemon's obs_lock around the snapshot. Control side only.
 */
#ifndef BL_TELEMETRY_H
#define BL_TELEMETRY_H

struct bl_daemon;

/*
 * Register the commands (once per process) and point them at `d`; start
 * the capture hook. Call once the box is built. 0 or -errno (the box runs
 * either way).
 */
int bl_telemetry_init(struct bl_daemon *d);

/* Detach the commands from `d` (they then answer with an error) and stop
 * the capture hook. Safe when bl_telemetry_init was not called. */
void bl_telemetry_fini(struct bl_daemon *d);

#endif /* BL_TELEMETRY_H */
