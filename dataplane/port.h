/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One of the box's two ports: found by name (PCI address or vdev name),
 * configured with a queue per worker when the device can, else one queue
 * and software distribution. Control side only.
 */
#ifndef BL_PORT_H
#define BL_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_mempool;
struct bl_port_stats;

struct bl_port {
	char name[64]; /* ethdev name: "net_pcap0", "0000:01:00.0" */
	uint16_t id;
	uint16_t n_rxq, n_txq;
	bool rss; /* RSS with the symmetric key over n_rxq queues */
	bool started;
};

/* What bl_port_open asks of the device. */
struct bl_port_want {
	unsigned queues; /* queues wished for (one per worker) */
	unsigned mtu;
	unsigned rx_desc, tx_desc;
	struct rte_mempool *pool;
};

/*
 * The ethdev name a device string gives: "net_pcap0,rx_pcap=x" -> "net_pcap0".
 * True when the string names a virtual device (to pass as --vdev).
 */
bool bl_port_devname(const char *dev, char *name, size_t len);

/*
 * Find, configure and start the port named in `dev`. On error returns
 * -errno with one line in `err`.
 */
int bl_port_open(struct bl_port *p, const char *dev, const struct bl_port_want *want, char *err,
		 size_t errlen);

/* Stop and close (flushes pcap output). Accepts a port never opened. */
void bl_port_close(struct bl_port *p);

/* Driver counters. */
void bl_port_stats(const struct bl_port *p, struct bl_port_stats *out);

#endif /* BL_PORT_H */
