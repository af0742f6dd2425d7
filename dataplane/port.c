/* SPDX-License-Identifier: BSD-3-Clause */
/* Port set-up: queues, symmetric RSS where the NIC has it, MTU, start. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "port.h"
#include "stats.h"
#include "worker.h"

bool bl_port_devname(const char *dev, char *name, size_t len)
{
	size_t n = strcspn(dev, ",");

	snprintf(name, len, "%.*s", (int)n, dev);
	return !strncmp(dev, "net_", 4) || !strncmp(dev, "eth_", 4);
}

/*
 * RSS over `nq` queues with the symmetric key, asking only for the hash
 * types the device reports. Returns false when the device has no RSS.
 */
static bool rss_conf(const struct rte_eth_dev_info *info, unsigned nq, struct rte_eth_conf *conf,
		     uint8_t *key)
{
	uint64_t want = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
	uint64_t hf = info->flow_type_rss_offloads & want;
	unsigned klen = info->hash_key_size ? info->hash_key_size : 40;

	if (nq < 2 || !hf || klen > 52)
		return false;
	for (unsigned i = 0; i < klen; i++)
		key[i] = bl_sym_rss_key[i % 2];
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = key;
	conf->rx_adv_conf.rss_conf.rss_key_len = klen;
	conf->rx_adv_conf.rss_conf.rss_hf = hf;
	return true;
}

/*
 * net_pcap with infinite_rx=1 copies every packet of its rx_pcap file into
 * an mbuf of the pool when its queue is set up. DPDK 22.11 refuses a pool
 * too small for that, then frees the queue's ring a second time when the
 * port closes: a crash at exit after the error. So count the file's
 * packets first and refuse with the numbers an operator needs. Returns 0
 * when the port is not such a device or the pool is big enough.
 */
static int pcap_pool_check(const char *dev, const char *name, struct rte_mempool *pool, char *err,
			   size_t errlen)
{
	char args[PATH_MAX + 256], ebuf[PCAP_ERRBUF_SIZE], *save = NULL, *kv;
	const char *file = NULL, *comma = strchr(dev, ',');
	bool infinite = false;
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0;
	unsigned avail;
	pcap_t *pc;

	if (strncmp(dev, "net_pcap", 8) || !comma ||
	    snprintf(args, sizeof(args), "%s", comma + 1) >= (int)sizeof(args))
		return 0;
	for (kv = strtok_r(args, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (!strncmp(kv, "infinite_rx=", 12))
			infinite = atoi(kv + 12) > 0;
		else if (!strncmp(kv, "rx_pcap=", 8))
			file = kv + 8;
	}
	if (!infinite || !file || !(pc = pcap_open_offline(file, ebuf)))
		return 0; /* the driver says what is wrong with the file */
	while (pcap_next_ex(pc, &h, &data) == 1)
		n++;
	pcap_close(pc);
	avail = rte_mempool_avail_count(pool);
	if (n <= avail)
		return 0;
	snprintf(err, errlen,
		 "port \"%s\": infinite_rx keeps all %" PRIu64 " packets of %s in mbufs, but the "
		 "mempool has %u free (set mempool to at least %" PRIu64 ")",
		 name, n, file, avail, n + (rte_mempool_in_use_count(pool)) + 4096);
	return -ENOMEM;
}

int bl_port_open(struct bl_port *p, const char *dev, const struct bl_port_want *want, char *err,
		 size_t errlen)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t rxd = want->rx_desc, txd = want->tx_desc;
	uint32_t room = rte_pktmbuf_data_room_size(want->pool) - RTE_PKTMBUF_HEADROOM;
	uint8_t key[52];
	int socket, rc;

	memset(p, 0, sizeof(*p));
	bl_port_devname(dev, p->name, sizeof(p->name));
	if (rte_eth_dev_get_port_by_name(p->name, &p->id) != 0) {
		snprintf(err, errlen,
			 "port \"%s\": no such device (is it bound to a DPDK driver, "
			 "or spelt as a vdev like net_pcap0,rx_pcap=FILE?)",
			 p->name);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(p->id, &info);
	if (rc) {
		snprintf(err, errlen, "port \"%s\": cannot read device info: %s", p->name,
			 strerror(-rc));
		return rc;
	}
	memset(&conf, 0, sizeof(conf));
	p->n_rxq = RTE_MIN(want->queues, info.max_rx_queues);
	p->n_txq = RTE_MIN(want->queues, info.max_tx_queues);
	if (!p->n_txq)
		p->n_txq = 1;
	p->rss = p->n_rxq == want->queues && rss_conf(&info, p->n_rxq, &conf, key);
	if (!p->rss)
		p->n_rxq = 1; /* one queue, software distribution */
	conf.rxmode.mtu = want->mtu;
	if (want->mtu > info.max_mtu) {
		snprintf(err, errlen, "port \"%s\": mtu %u above the device's maximum %u", p->name,
			 want->mtu, info.max_mtu);
		return -EINVAL;
	}
	/* Jumbo frames: chain mbufs when a frame outgrows one. */
	if (want->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 8 > room &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER))
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(p->id, p->n_rxq, p->n_txq, &conf);
	if (rc) {
		snprintf(err, errlen, "port \"%s\": configure (%u rx, %u tx queues, mtu %u): %s",
			 p->name, p->n_rxq, p->n_txq, want->mtu, strerror(-rc));
		return rc;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &rxd, &txd);
	socket = rte_eth_dev_socket_id(p->id);
	if ((rc = pcap_pool_check(dev, p->name, want->pool, err, errlen)))
		return rc;
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->id, q, rxd, socket, NULL, want->pool);
		if (rc) {
			snprintf(err, errlen, "port \"%s\": rx queue %u: %s", p->name, q,
				 strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < p->n_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->id, q, txd, socket, NULL);
		if (rc) {
			snprintf(err, errlen, "port \"%s\": tx queue %u: %s", p->name, q,
				 strerror(-rc));
			return rc;
		}
	}
	rte_eth_promiscuous_enable(p->id); /* bump in the wire: every frame */
	rc = rte_eth_dev_start(p->id);
	if (rc) {
		snprintf(err, errlen, "port \"%s\": start: %s", p->name, strerror(-rc));
		return rc;
	}
	p->started = true;
	return 0;
}

void bl_port_close(struct bl_port *p)
{
	if (!p || !p->started)
		return;
	rte_eth_dev_stop(p->id);
	rte_eth_dev_close(p->id);
	p->started = false;
}

void bl_port_stats(const struct bl_port *p, struct bl_port_stats *out)
{
	struct rte_eth_stats s;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	if (!p->started || rte_eth_stats_get(p->id, &s))
		return;
	out->ipackets = s.ipackets;
	out->opackets = s.opackets;
	out->ibytes = s.ibytes;
	out->obytes = s.obytes;
	out->imissed = s.imissed;
	out->ierrors = s.ierrors;
	out->oerrors = s.oerrors;
	out->rx_nombuf = s.rx_nombuf;
}
