/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text exposition (format 0.0.4) of the daemon's counters, for
 * `blctl stats --prometheus`: reads the `stats` reply object (the JSON that
 * dataplane/stats.c writes: ports, workers, drops, rules, totals, events,
 * policy_generation) and writes one metric family per counter with HELP
 * and TYPE lines, labels escaped. No DPDK.
 *
 * Families (a missing key in the input just leaves its samples out):
 *   brightline_rx_packets_total{port="inside"}, _tx_packets_total,
 *   _rx_bytes_total, _tx_bytes_total, _port_tx_errors_total, _rx_missed_total,
 *   _rx_errors_total, _rx_nombuf_total, brightline_port_info{port,device}
 *   brightline_worker_*{worker="0"} (rx, tx, handoffs, flows, frag_held, ...)
 *   brightline_nonip_passed_packets_total{worker,class}
 *   brightline_flow_table_<counter>_total{worker}, brightline_frag_table_<counter>_total{worker}
 *   brightline_stage_cycles_total{worker,stage}, brightline_stage_packets_total{worker,stage}
 *   brightline_drops_total{reason="..."}
 *   brightline_rule_packets_total{rule="..."}, brightline_rule_bytes_total{rule}
 *   brightline_received_packets_total, _forwarded_packets_total,
 *   _dropped_packets_total, _generated_packets_total, _held_packets,
 *   _in_rings_packets, _accounting_balanced
 *   brightline_events_{written,suppressed,lost,write_errors}_total
 *   brightline_policy_generation, brightline_tsc_hz
 */
#ifndef BL_PROM_H
#define BL_PROM_H

#include <stdio.h>

#include <jansson.h>

/* Write `stats` as Prometheus text to `out`. 0, -EINVAL (not an object) or -EIO. */
int bl_prom_write(const json_t *stats, FILE *out);

/* Write `s` as a Prometheus label value (quotes not included): \ " and newline escaped. */
void bl_prom_escape(const char *s, FILE *out);

#endif /* BL_PROM_H */
