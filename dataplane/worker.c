/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop (see worker.h). Per burst: parse every packet into its
 * mbuf's private area, settle malformed and non-IP frames on the receiving
 * worker, hand IP packets to the worker their symmetric hash names, then on
 * the owning worker: fragment check, flow lookup/update, verdict, and TX on
 * the other port. Each packet is accounted exactly once: tx, a drop reason,
 * held by the fragment table, or in flight in a handoff ring.
 */
#include <stdatomic.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_thash.h>

#include "worker.h"

/* 0x6d5a repeated: a Toeplitz key with a 16-bit period is symmetric for
 * swapping two fields whose offsets differ by a multiple of 16 bits. */
const uint8_t bl_sym_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

_Static_assert(BL_RT_SLOTS <= 1u << 16, "a flow entry keeps its rule's counter slot in 16 bits");

/* A whole number of cache lines, so packet data (after the headroom)
 * starts on a line: a 64-byte frame is then one line, not two. */
unsigned bl_worker_priv_size(void)
{
	return RTE_ALIGN(sizeof(struct bl_pkt), RTE_CACHE_LINE_SIZE);
}

static inline struct bl_pkt *pkt_of(struct rte_mbuf *m)
{
	return rte_mbuf_to_priv(m);
}

/*
 * Toeplitz (rte_softrss, symmetric key) over the outermost address pair
 * only. Ports are left out on purpose: later fragments carry no ports, and
 * every fragment of a datagram must reach the worker that owns its first
 * fragment and its flow; the address pair is the finest key all of them
 * share. With the 16-bit-periodic key, hash(src, dst) == hash(dst, src).
 * An address is 4 bytes for IPv4, else 16.
 */
static inline uint32_t pair_hash(uint8_t family, const uint8_t *src, const uint8_t *dst)
{
	uint32_t tuple[8];
	unsigned words = family == 4 ? 1 : 4;

	for (unsigned i = 0; i < words; i++) {
		uint32_t s, d;

		memcpy(&s, src + 4 * i, 4);
		memcpy(&d, dst + 4 * i, 4);
		tuple[i] = rte_be_to_cpu_32(s);
		tuple[words + i] = rte_be_to_cpu_32(d);
	}
	return rte_softrss(tuple, 2 * words, bl_sym_rss_key);
}

uint32_t bl_worker_sym_hash(const struct bl_pkt *p)
{
	/*
	 * An ICMP error quoting a flow is hashed on the QUOTED address pair:
	 * it often comes from a router on the path (another address pair than
	 * the flow's), and must reach the worker that owns the flow so that it
	 * can follow the flow's verdict (path-MTU discovery).
	 */
	const struct bl_l3 *l3 = p->flags & BL_PKT_HAS_QUOTE ? &p->quote : &p->l3[0];

	return pair_hash(l3->family, l3->src, l3->dst);
}

/*
 * bl_worker_sym_hash() of a packet the express lane keyed (it has no
 * record): the key holds the same address pair, in canonical order, which
 * the symmetric hash does not see.
 */
static inline uint32_t key_sym_hash(const struct bl_flow_key *k)
{
	return pair_hash(k->family, k->addr[0], k->addr[1]);
}

static inline unsigned side_of(const struct bl_worker *w, const struct rte_mbuf *m)
{
	return m->port == w->port[0] ? 0 : 1;
}

/*
 * Transmit `n` packets on `q`, retrying leftovers a bounded number of times;
 * what still does not fit is freed. Returns the number sent. The queue's
 * lock exists only on ports with fewer TX queues than workers.
 */
static uint16_t send_burst(const struct bl_txq *q, struct rte_mbuf **b, uint16_t n)
{
	uint16_t sent = 0;

	if (q->lock)
		rte_spinlock_lock(q->lock);
	for (unsigned tries = 0; sent < n && tries < BL_TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(q->port, q->queue, b + sent, n - sent);
	if (q->lock)
		rte_spinlock_unlock(q->lock);
	if (unlikely(sent < n))
		rte_pktmbuf_free_bulk(b + sent, n - sent);
	return sent;
}

/* Send what is buffered for `side`; what the queue refuses counts as tx_full. */
static void tx_flush(struct bl_worker *w, unsigned side)
{
	uint16_t n = w->tx_n[side], sent;

	if (!n)
		return;
	sent = send_burst(&w->txq[side], w->tx_buf[side], n);
	w->stats.tx += sent;
	w->stats.drop[BL_DROP_TX_FULL] += n - sent;
	w->tx_n[side] = 0;
}

/*
 * Send the generated replies buffered for `side`, on the same queue as the
 * forwarded packets (after them); counted as generated or rej.tx_full,
 * never in stats.tx or the drop reasons (they were never received).
 */
static void gen_flush(struct bl_worker *w, unsigned side)
{
	uint16_t n = w->gen_n[side], sent;

	if (!n)
		return;
	sent = send_burst(&w->txq[side], w->gen_buf[side], n);
	w->rej.stats.generated += sent;
	w->rej.stats.tx_full += n - sent;
	w->gen_n[side] = 0;
}

void bl_worker_reject(struct bl_worker *w, struct rte_mbuf *m, const struct bl_flow_entry *e,
		      uint64_t now)
{
	struct rte_mbuf *out[BL_REJECT_OUT_MAX];
	enum bl_reject_out dir[BL_REJECT_OUT_MAX];
	unsigned side = side_of(w, m);
	unsigned n = bl_reject_build(&w->rej, m, pkt_of(m), e && e->state == BL_FLOW_ESTABLISHED,
				     now, out, dir);

	for (unsigned i = 0; i < n; i++) {
		unsigned s = dir[i] == BL_REJECT_OUT_BACK ? side : side ^ 1;

		if (unlikely(w->gen_n[s] == BL_GEN_BUF))
			gen_flush(w, s);
		out[i]->port = w->port[s];
		w->gen_buf[s][w->gen_n[s]++] = out[i];
	}
}

static void tx_flush_all(struct bl_worker *w)
{
	uint64_t t0 = w->stage_timing ? rte_rdtsc() : 0;
	uint64_t n = w->tx_n[0] + w->tx_n[1];

	tx_flush(w, 0);
	tx_flush(w, 1);
	gen_flush(w, 0);
	gen_flush(w, 1);
	if (w->stage_timing && n) {
		w->stats.stage_cycles[BL_STAGE_TX] += rte_rdtsc() - t0;
		w->stats.stage_pkts[BL_STAGE_TX] += n;
	}
}

/* Queue `m` for the port opposite the one it arrived on. */
static inline void forward(struct bl_worker *w, struct rte_mbuf *m)
{
	unsigned out = side_of(w, m) ^ 1;

	if (unlikely(w->tx_n[out] == BL_TX_BUF))
		tx_flush(w, out);
	w->tx_buf[out][w->tx_n[out]++] = m;
}

/* Queue `n` packets that all arrived on `side` (one RX burst) for the other port. */
static inline void forward_bulk(struct bl_worker *w, struct rte_mbuf **pkts, unsigned n,
				unsigned side)
{
	unsigned out = side ^ 1;

	while (n) {
		unsigned room = BL_TX_BUF - w->tx_n[out], c = n < room ? n : room;

		if (c == 0) {
			tx_flush(w, out);
			continue;
		}
		memcpy(&w->tx_buf[out][w->tx_n[out]], pkts, c * sizeof(*pkts));
		w->tx_n[out] += c;
		pkts += c;
		n -= c;
	}
}

static inline void drop(struct bl_worker *w, struct rte_mbuf *m, unsigned reason)
{
	w->stats.drop[reason]++;
	rte_pktmbuf_free(m);
}

/*
 * Record one event: every judged packet with --verdicts (events_all), else
 * only flow decisions for the EVE log (BL_EV_F_DECISION in `flags`). In
 * lossless mode (replay) the worker waits for the main lcore to make room,
 * which it always does; otherwise a full ring loses the event, counted.
 */
static void event_full(struct bl_worker *w, uint8_t l2class, uint8_t kind, const void *key,
		       enum bl_verdict v, unsigned reason, uint32_t gen, uint32_t rule_slot,
		       uint32_t log_slot, uint8_t action, uint8_t flags, uint32_t len, uint64_t now)
{
	struct bl_event ev;

	if (!w->events || !(w->events_all || (flags & BL_EV_F_DECISION)))
		return;
	memset(&ev, 0, sizeof(ev));
	if (key)
		memcpy(&ev.key, key, sizeof(ev.key));
	ev.kind = kind;
	ev.worker = w->id;
	ev.verdict = v;
	ev.l2class = l2class;
	ev.reason = reason;
	ev.gen = gen;
	ev.rule_slot = rule_slot;
	ev.log_slot = log_slot;
	ev.action = action;
	ev.flags = flags;
	ev.pkt_len = len > UINT16_MAX ? UINT16_MAX : len;
	ev.tsc = now;
	while (rte_ring_sp_enqueue_elem(w->events, &ev, sizeof(ev)) != 0) {
		if (!w->events_lossless) {
			w->stats.events_lost++;
			return;
		}
		rte_pause();
	}
}

/* A per-packet event no policy rule decided (--verdicts only). */
static inline void event(struct bl_worker *w, const struct bl_pkt *p, uint8_t kind, const void *key,
			 enum bl_verdict v, unsigned reason)
{
	if (!w->events_all)
		return;
	event_full(w, p->l2class, kind, key, v, reason, 0, BL_EV_NO_RULE, BL_EV_NO_RULE, BL_RT_NONE,
		   0, 0, 0);
}

/* A frag key turned into the event's flow-key layout (ports 0). */
static void frag_event(struct bl_worker *w, const struct bl_pkt *p, const struct bl_frag_key *fk,
		       enum bl_verdict v, unsigned reason)
{
	struct bl_flow_key k;

	if (!w->events_all)
		return;
	memset(&k, 0, sizeof(k));
	k.family = fk->family;
	k.proto = fk->proto;
	k.vlan = fk->vlan;
	memcpy(k.addr[0], fk->src, 16);
	memcpy(k.addr[1], fk->dst, 16);
	event(w, p, BL_EV_FRAG, &k, v, reason);
}

static inline enum bl_nonip nonip_class(uint8_t l2class)
{
	switch (l2class) {
	case BL_L2_ARP: return BL_NONIP_ARP;
	case BL_L2_LLDP: return BL_NONIP_LLDP;
	case BL_L2_SLOW: return BL_NONIP_SLOW;
	case BL_L2_STP: return BL_NONIP_STP;
	case BL_L2_ND: return BL_NONIP_ND;
	case BL_L2_MLD: return BL_NONIP_MLD;
	default: return BL_NONIP_OTHER;
	}
}

static inline bool is_trunc(uint8_t outcome)
{
	switch (outcome) {
	case BL_PARSE_TRUNC_L2:
	case BL_PARSE_TRUNC_VLAN:
	case BL_PARSE_TRUNC_MPLS:
	case BL_PARSE_TRUNC_PPPOE:
	case BL_PARSE_TRUNC_IPV4:
	case BL_PARSE_TRUNC_IPV6:
	case BL_PARSE_TRUNC_EXTHDR:
	case BL_PARSE_TRUNC_TCP:
	case BL_PARSE_TRUNC_UDP:
	case BL_PARSE_TRUNC_ICMP:
	case BL_PARSE_TRUNC_SCTP:
	case BL_PARSE_TRUNC_GRE:
	case BL_PARSE_TRUNC_VXLAN: return true;
	}
	return false;
}

/*
 * Parse `m` and settle it if it needs no flow: malformed frames are dropped
 * by outcome, non-IP frames and ND/MLD get their configured default.
 * Returns true when `m` is an IP packet still to be judged.
 *
 * Multi-segment mbufs: the parser reads the first segment only (`len` =
 * data_len) while IP lengths are checked against the whole packet
 * (`wire_len` = pkt_len). Headers that straddle segments are not
 * linearised: such a packet is dropped as hdr_split.
 */
static bool parse_one(struct bl_worker *w, struct rte_mbuf *m)
{
	struct bl_pkt *p = pkt_of(m);
	enum bl_nonip c;

	bl_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
		 rte_pktmbuf_pkt_len(m), BL_LINK_ETHER, p);
	if (unlikely(p->outcome != BL_PARSE_OK)) {
		unsigned r =
			(m->nb_segs > 1 && is_trunc(p->outcome)) ? BL_DROP_HDR_SPLIT : p->outcome;

		event(w, p, BL_EV_NOFLOW, NULL, BL_VERDICT_DROP, r);
		drop(w, m, r);
		return false;
	}
	if (likely(p->l2class == BL_L2_IP && p->nlayers > 0))
		return true;
	c = nonip_class(p->l2class);
	if (w->nonip_drop[c]) {
		event(w, p, BL_EV_NOFLOW, NULL, BL_VERDICT_DROP, BL_DROP_NONIP + c);
		drop(w, m, BL_DROP_NONIP + c);
	} else {
		event(w, p, BL_EV_NOFLOW, NULL, BL_VERDICT_PASS, BL_REASON_NONIP);
		w->stats.nonip_pass[c]++;
		forward(w, m);
	}
	return false;
}

/* Release held fragments of a judged first fragment (key `fk`). */
static void release(struct bl_worker *w, const struct bl_frag_key *fk, struct rte_mbuf **rel, int n,
		    bool dropped)
{
	for (int i = 0; i < n; i++) {
		frag_event(w, pkt_of(rel[i]), fk, dropped ? BL_VERDICT_DROP : BL_VERDICT_PASS,
			   dropped ? BL_DROP_FRAG_RELEASED_DROP : BL_REASON_FOLLOW);
		if (dropped) {
			drop(w, rel[i], BL_DROP_FRAG_RELEASED_DROP);
		} else {
			w->stats.frag_released++;
			forward(w, rel[i]);
		}
	}
}

/* The flow an ICMP error quotes, when this worker holds it judged; else NULL. */
static const struct bl_flow_entry *quoted_flow(struct bl_worker *w, const struct bl_pkt *p,
					       uint64_t now)
{
	struct bl_flow_key k;
	struct bl_flow_entry *e = NULL;

	if (bl_flow_key_from_l3(&p->quote, p->nvlan ? p->vlan[0] : 0, &k))
		return NULL;
	bl_flow_lookup_burst(w->flows, &k, 1, now, &e);
	return e && e->verdict != BL_FLOW_VERDICT_NONE ? e : NULL;
}

/*
 * This burst's packets of flow `e` among `n` from the one judged on, all
 * accounted to it already (bl_flow_judge()).
 */
static void burst_tail(struct rte_mbuf *const *pkts, struct bl_flow_entry *const *ents, unsigned n,
		       const struct bl_flow_entry *e, uint32_t *tail_pkts, uint64_t *tail_bytes)
{
	*tail_pkts = 0;
	*tail_bytes = 0;
	for (unsigned j = 0; j < n; j++)
		if (ents[j] == e) {
			++*tail_pkts;
			*tail_bytes += rte_pktmbuf_pkt_len(pkts[j]);
		}
}

/*
 * The fate of one IP packet, pkts[0], of flow `e` (NULL: untracked): an
 * ICMP error follows the flow it quotes when this worker has it; otherwise
 * the policy's decision `r` (NULL: the flow's cached verdict of this
 * generation), kept in the flow (not for ICMP errors: one error flow
 * carries errors about many flows), then acted on by the verdict seam.
 * pkts[] and ents[] are the rest of the burst (n packets, ents[j] the flow
 * of pkts[j] or NULL), for a flow judged again (burst_tail()).
 */
static enum bl_verdict decide(struct bl_worker *w, const struct bl_rt *rt,
			      struct rte_mbuf *const *pkts, struct bl_flow_entry *const *ents,
			      unsigned n, struct bl_flow_entry *e, const struct bl_rt_result *r,
			      const struct bl_flow_key *key, uint64_t now, unsigned *reason)
{
	struct rte_mbuf *m = pkts[0];
	const struct bl_pkt *p = pkt_of(m);
	bool quote = p->flags & BL_PKT_HAS_QUOTE;
	uint32_t log_slot = BL_EV_NO_RULE, rule_slot, gen;
	const struct bl_flow_entry *qe;
	uint8_t action = BL_RT_NONE, ev_flags = 0;
	unsigned ev_reason;
	enum bl_verdict v;
	uint16_t rule;

	if (quote && (qe = quoted_flow(w, p, now))) {
		v = bl_verdict_of_quoted(qe->verdict);
		*reason = BL_DROP_VERDICT;
		gen = qe->verdict_gen;
		rule_slot = gen == rt->gen ? bl_rt_result_slot(rt, qe->rule_id) : BL_EV_NO_RULE;
		ev_reason = BL_REASON_QUOTE;
		if (e)
			bl_flow_uncount(e, rte_pktmbuf_pkt_len(m));
		goto out_event;
	}
	/* an earlier packet of this burst already judged the flow: it decides */
	if (r && e && !quote && e->verdict != BL_FLOW_VERDICT_NONE && e->verdict_gen == rt->gen)
		r = NULL;
	if (r) {
		action = r->action;
		rule = r->rule;
		gen = r->gen;
		rule_slot = bl_rt_result_slot(rt, rule);
		if (e && !quote) {
			uint32_t tail_pkts = 0;
			uint64_t tail_bytes = 0;

			/* judged again (a new generation): its packets before
			 * this burst's count to its old rule */
			if (e->verdict != BL_FLOW_VERDICT_NONE)
				burst_tail(pkts, ents, n, e, &tail_pkts, &tail_bytes);
			bl_flow_judge(w->flows, e, action, gen, rule, rule_slot, tail_pkts,
				      tail_bytes);
		}
		if (r->log_rule != BL_RT_RULE_NONE) {
			log_slot = rt->rules[r->log_rule].slot;
			bl_verdict_count(w->seam.ctr, log_slot, rte_pktmbuf_pkt_len(m));
		}
		/* the flow's first verdict under this generation: worth an EVE
		 * record when it drops, rejects or met a `log` rule */
		if (e && !quote &&
		    (action == BL_RT_DROP || action == BL_RT_REJECT ||
		     r->log_rule != BL_RT_RULE_NONE))
			ev_flags = BL_EV_F_DECISION | (bl_flow_dir(e, key) ? BL_EV_F_REPLY : 0) |
				   (side_of(w, m) ? BL_EV_F_OUTSIDE : 0);
	} else {
		action = e->verdict;
		rule = e->rule_id;
		gen = e->verdict_gen;
		rule_slot = e->rule_slot;
	}
	/* a flow's packet counts to its rule through the flow; a packet with
	 * no flow, or an ICMP error judged apart from its own flow, here */
	if (!e || quote) {
		bl_verdict_count(w->seam.ctr, rule_slot, rte_pktmbuf_pkt_len(m));
		if (e)
			bl_flow_uncount(e, rte_pktmbuf_pkt_len(m));
	}
	v = bl_verdict_act(w, rt, m, e, action, rule, now, reason);
	/* without a policy, `default_ip: drop` keeps its old counter */
	if (v == BL_VERDICT_DROP && !rt->has_policy)
		*reason = BL_DROP_VERDICT;
	ev_reason = !e				 ? BL_REASON_UNTRACKED
		    : rule == BL_RT_RULE_DEFAULT ? BL_REASON_DEFAULT
						 : BL_REASON_RULE;
out_event:
	/* live: a record per flow decision only; --verdicts: per packet */
	if (w->events && (w->events_all || ev_flags))
		event_full(w, p->l2class, key ? BL_EV_FLOW : BL_EV_NOFLOW, key, v, ev_reason, gen,
			   rule_slot, log_slot, action, ev_flags, rte_pktmbuf_pkt_len(m), now);
	return v;
}

/* Per-packet plan of judge(): what the first pass found. */
enum plan {
	PLAN_FLOW = 0, /* has a flow key: flow update + verdict */
	PLAN_DONE,     /* a fragment the first pass refused, or a later one */
};

/*
 * Most packets: of a flow this generation allowed (its verdict cached, so
 * not classified), no first fragment, no per-packet events. What decide()
 * would do for such a packet, done without it: forward (it counts to its
 * rule through its flow). Returns false, having done nothing, for any
 * other packet.
 */
static inline bool allowed_forward(struct bl_worker *w, struct rte_mbuf *m,
				   const struct bl_flow_entry *e, bool frag_first)
{
	if (e->verdict != BL_RT_ALLOW || frag_first || w->events_all)
		return false;
	forward(w, m);
	return true;
}

/*
 * Judge IP packets this worker owns, in arrival order: fragment check,
 * flow lookup (bulk) and update, the verdict seam, then forward or drop.
 * `keys` and `entries` are the caller's work arrays of BL_BURST; the first
 * `npre` packets come with their flow key and lookup in them (the ones the
 * express lane refused), so neither is done twice.
 */
static void judge(struct bl_worker *w, struct rte_mbuf **pkts, unsigned n, uint64_t now,
		  struct bl_flow_key *keys, struct bl_flow_entry **entries, unsigned npre)
{
	struct bl_frag_key fkeys[BL_BURST];
	struct rte_mbuf *rel[BL_TX_BUF];
	uint8_t plan[BL_BURST], is_frag_first[BL_BURST], qidx[BL_BURST], kfo[BL_BURST];
	unsigned nk = 0, kidx[BL_BURST], nq = 0, first = 0;
	uint32_t kbytes[BL_BURST];
	bool in_order = true; /* every packet so far settled in the second pass */
	enum bl_flow_outcome fos[BL_BURST];
	struct bl_flow_entry *ents[BL_BURST];
	struct bl_rt_query q[BL_BURST];
	struct bl_rt_result res[BL_BURST];
	/* acquire: pairs with the release store of bl_rt_publish(); the object
	 * stays valid until this worker's next quiescent state (end of loop) */
	const struct bl_rt *rt = __atomic_load_n(w->seam.rt, __ATOMIC_ACQUIRE);
	uint64_t t0 = w->stage_timing ? rte_rdtsc() : 0;

	/* First pass, pure: fragment checks and flow keys. */
	for (unsigned i = 0; i < n; i++) {
		struct bl_pkt *p = pkt_of(pkts[i]);

		plan[i] = PLAN_FLOW;
		is_frag_first[i] = 0;
		if (i < npre) {
			/* keyed and looked up by the express lane: a fast-path
			 * frame, so one IP layer and no fragment; nk == i */
			kbytes[nk] = rte_pktmbuf_pkt_len(pkts[i]);
			kidx[i] = nk++;
			continue;
		}
		/* one IP layer that is no fragment (most packets) needs no check */
		if (unlikely(p->nlayers != 1 || (p->l3[0].flags & BL_L3_FRAG))) {
			enum bl_frag_reason fr = bl_frag_check_first(p);

			if (fr != BL_FRAG_NOT_FRAGMENT) {
				bl_frag_key_build(p, &fkeys[i]);
				/* a refused first, or a later fragment, is done */
				if (fr == BL_FRAG_OK && fkeys[i].off == 0)
					is_frag_first[i] = 1;
				else
					plan[i] = PLAN_DONE;
			}
		}
		kidx[i] = UINT32_MAX;
		if (plan[i] == PLAN_FLOW &&
		    bl_flow_key_build_prefetch(w->flows, p, &keys[nk]) == 0) {
			kbytes[nk] = rte_pktmbuf_pkt_len(pkts[i]);
			kidx[i] = nk++;
		}
	}
	/* flow lookups and updates, in packet order */
	if (nk)
		bl_flow_track_burst(w->flows, keys, kbytes, nk, npre, now, entries, kfo);

	/*
	 * Second pass, in order: the packets the policy must judge (a new
	 * flow, a flow judged by an older generation, untracked packets, ICMP
	 * errors), classified in one bulk call. Entries stay valid for the
	 * burst: eviction never takes an entry updated in the same burst and
	 * expiry runs between bursts.
	 * Until the first packet that needs more, packets of flows this
	 * generation allowed (no first fragment, no per-packet events) are
	 * counted and forwarded here, which is what decide() would do: then
	 * the third pass starts after them, or not at all.
	 */
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct bl_pkt *p = pkt_of(m);
		struct bl_flow_entry *e = NULL;
		bool quote = p->flags & BL_PKT_HAS_QUOTE;

		qidx[i] = UINT8_MAX;
		fos[i] = BL_FLOW_PASS_UNTRACKED;
		ents[i] = NULL;
		if (plan[i] != PLAN_FLOW) {
			in_order = false;
			continue;
		}
		if (kidx[i] != UINT32_MAX) {
			e = entries[kidx[i]];
			fos[i] = kfo[kidx[i]];
			ents[i] = e;
		}
		if (fos[i] == BL_FLOW_DROP_MIDSTREAM || fos[i] == BL_FLOW_DROP_FULL) {
			in_order = false;
			continue;
		}
		if (fos[i] == BL_FLOW_TRACKED && !quote && e->verdict != BL_FLOW_VERDICT_NONE &&
		    e->verdict_gen == rt->gen) {
			if (likely(in_order && allowed_forward(w, m, e, is_frag_first[i])))
				first = i + 1;
			else
				in_order = false;
			continue;
		}
		in_order = false;
		q[nq] = (struct bl_rt_query){
			.l3 = &p->l3[0],
			.vlan = p->nvlan ? p->vlan[0] : BL_RT_NO_VLAN,
			.inbound = side_of(w, m),
			/* a flow is judged as its initiator's packet */
			.swap = fos[i] == BL_FLOW_TRACKED && !quote &&
				bl_flow_dir(e, &keys[kidx[i]]),
		};
		qidx[i] = nq++;
	}
	if (nq)
		bl_rt_classify_burst(rt, q, nq, res);

	/* Third pass, in order: act. */
	for (unsigned i = first; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct bl_pkt *p = pkt_of(m);
		struct bl_flow_entry *e;
		enum bl_flow_outcome fo;
		enum bl_verdict v;
		unsigned reason;
		int r;

		if (plan[i] == PLAN_DONE) {
			enum bl_frag_reason fr = bl_frag_check_first(p);
			uint8_t fv = BL_VERDICT_NONE;

			if (fr == BL_FRAG_TINY_FIRST || fr == BL_FRAG_TCP_OFFSET1) {
				/* The refused first decides: its later fragments follow the drop. */
				reason = fr == BL_FRAG_TINY_FIRST ? BL_DROP_FRAG_TINY_FIRST
								  : BL_DROP_FRAG_TCP_OFFSET1;
				bl_frag_count_reason(w->frags, fr);
				if (fkeys[i].off == 0) {
					r = bl_frag_first(w->frags, &fkeys[i], BL_VERDICT_DROP,
							  true, now, rel, w->frag_release_max);
					release(w, &fkeys[i], rel, r, true);
				}
				frag_event(w, p, &fkeys[i], BL_VERDICT_DROP, reason);
				drop(w, m, reason);
				continue;
			}
			switch (bl_frag_later(w->frags, &fkeys[i], m, now, &fv)) {
			case BL_FRAG_FOLLOW:
				if (fv == BL_VERDICT_DROP) {
					frag_event(w, p, &fkeys[i], BL_VERDICT_DROP,
						   BL_REASON_FOLLOW);
					drop(w, m, BL_DROP_VERDICT);
				} else {
					frag_event(w, p, &fkeys[i], BL_VERDICT_PASS,
						   BL_REASON_FOLLOW);
					w->stats.frag_followed++;
					forward(w, m);
				}
				break;
			case BL_FRAG_HELD:
				break; /* the table owns it; its fate is told on release or timeout */
			default:
				/* counted by the fragment table */
				frag_event(w, p, &fkeys[i], BL_VERDICT_DROP, BL_REASON_FRAG_TABLE);
				rte_pktmbuf_free(m);
				break;
			}
			continue;
		}
		fo = fos[i];
		e = ents[i];
		/* not classified: its flow's verdict of this generation stands */
		if (qidx[i] == UINT8_MAX && fo == BL_FLOW_TRACKED &&
		    allowed_forward(w, m, e, is_frag_first[i]))
			continue;
		if (fo == BL_FLOW_DROP_MIDSTREAM || fo == BL_FLOW_DROP_FULL) {
			v = BL_VERDICT_DROP;
			reason = fo == BL_FLOW_DROP_FULL ? BL_DROP_FLOW_FULL
							 : BL_DROP_FLOW_MIDSTREAM;
			if (w->events_all)
				event(w, p, kidx[i] != UINT32_MAX ? BL_EV_FLOW : BL_EV_NOFLOW,
				      kidx[i] != UINT32_MAX ? &keys[kidx[i]] : NULL, v, reason);
		} else {
			v = decide(w, rt, pkts + i, ents + i, n - i,
				   fo == BL_FLOW_TRACKED ? e : NULL,
				   qidx[i] != UINT8_MAX ? &res[qidx[i]] : NULL,
				   kidx[i] != UINT32_MAX ? &keys[kidx[i]] : NULL, now, &reason);
		}
		if (v == BL_VERDICT_DROP) {
			drop(w, m, reason);
		} else {
			if (fo != BL_FLOW_TRACKED)
				w->stats.untracked_pass++;
			forward(w, m);
		}
		/* after the first itself, so held fragments leave behind it */
		if (is_frag_first[i]) {
			r = bl_frag_first(w->frags, &fkeys[i], v, v == BL_VERDICT_DROP, now, rel,
					  w->frag_release_max);
			if (r > 0)
				release(w, &fkeys[i], rel, r, v == BL_VERDICT_DROP);
		}
	}
	if (w->stage_timing) {
		w->stats.stage_cycles[BL_STAGE_FLOW] += rte_rdtsc() - t0;
		w->stats.stage_pkts[BL_STAGE_FLOW] += n;
	}
}

/*
 * The express lane, for the packets most bursts hold only: plain TCP or
 * UDP (the parser's fast-path frames) of a flow this policy generation
 * allowed, with no SYN, FIN or RST. Such a packet gets what judge() would
 * give it (flow update, rule counter, forward) with none of the rest: no
 * per-packet record, no key built from it, one pass.
 * Keys are built up to the first frame the fast path declines (a fragment,
 * IP options, ICMP, non-IP: its flow is unknown until it is parsed), and of
 * those packets the lane takes each whose flow has no packet refused
 * before it in the burst; the rest go the long way (dispatch(), judge()) in
 * their order, after the taken ones. So no packet overtakes an earlier one
 * of its own flow; packets of different flows may pass each other, as
 * they do across workers. With --verdicts the lane records each packet's
 * event as decide() would. With software distribution over several
 * workers it runs on the worker that owns the flows (spread()).
 * `a` is one burst (a->one_port: all from one port, an RX burst); on
 * return a->pkts holds the `*rest` packets left for the long way, the
 * first `*npre` of them keyed and looked up. Measured in README, "Flow
 * table".
 */
static void express(struct bl_worker *w, struct bl_ahead *a, uint64_t now, unsigned *rest,
		    struct bl_flow_entry **ents, unsigned *npre)
{
	struct rte_mbuf **pkts = a->pkts, *fwd[BL_BURST];
	struct bl_flow_key *keys = a->keys;
	const bool events_all = w->events_all, any_parsed = a->any_parsed;
	uint8_t taken[BL_BURST];
	const struct bl_rt *rt;
	uint64_t t0 = w->stage_timing ? rte_rdtsc() : 0;
	unsigned n = a->n, nk = a->nk, nt, nf = 0, nr = 0, nt_parsed = 0;

	*rest = n;
	*npre = 0;
	if (nk == 0)
		return;
	/* acquire: as in judge() */
	rt = __atomic_load_n(w->seam.rt, __ATOMIC_ACQUIRE);
	nt = bl_flow_express_burst(w->flows, keys, a->bytes, nk, now, BL_RT_ALLOW, rt->gen,
				   a->slots ? a->cand : NULL, ents, taken);
	/* a taken packet counts to its rule through its flow (bl_flow_settle()):
	 * no rule counter is touched here */
	for (unsigned i = 0; i < nk; i++) {
		const struct bl_flow_entry *e = ents[i];

		if (!taken[i]) {
			/* its key and lookup go on to judge() (nr <= i) */
			if (nr != i) {
				keys[nr] = keys[i];
				ents[nr] = ents[i];
				a->parsed[nr] = a->parsed[i];
			}
			pkts[nr++] = pkts[i];
			continue;
		}
		fwd[nf++] = pkts[i];
		/* parsed by spread(), where its parse was counted */
		if (unlikely(any_parsed))
			nt_parsed += a->parsed[i];
		/* --verdicts: the event decide() records for such a packet */
		if (unlikely(events_all))
			event_full(w, BL_L2_IP, BL_EV_FLOW, &keys[i], BL_VERDICT_PASS,
				   e->rule_id == BL_RT_RULE_DEFAULT ? BL_REASON_DEFAULT
								    : BL_REASON_RULE,
				   e->verdict_gen, e->rule_slot, BL_EV_NO_RULE, BL_RT_ALLOW, 0,
				   a->bytes[i], now);
	}
	if (nf && a->one_port) {
		forward_bulk(w, fwd, nf, side_of(w, fwd[0]));
	} else {
		/* handed over by other workers: from either port */
		for (unsigned i = 0; i < nf; i++)
			forward(w, fwd[i]);
	}
	*npre = nr;
	for (unsigned i = nk; i < n; i++) {
		a->parsed[nr] = a->parsed[i];
		pkts[nr++] = pkts[i];
	}
	*rest = nr;
	if (w->stage_timing) {
		/* the lane's key counts as parse (lane_key()), the rest as its
		 * flow stage; the time spent on packets not taken counts too
		 * (they are counted as packets when the long way judges them) */
		w->stats.stage_pkts[BL_STAGE_PARSE] += nt - nt_parsed;
		w->stats.stage_cycles[BL_STAGE_FLOW] += rte_rdtsc() - t0;
		w->stats.stage_pkts[BL_STAGE_FLOW] += nt;
	}
}

/*
 * The long way for packets of this worker: parse, settle the flowless
 * ones, judge the rest. `keys` and `entries` are work arrays of BL_BURST;
 * the first `npre` packets come keyed and looked up by the express lane.
 * `parsed` (NULL: none) marks the packets spread() parsed already (an IP
 * packet to judge, its record in its private area): they are not parsed
 * again.
 */
static void dispatch(struct bl_worker *w, struct rte_mbuf **pkts, unsigned n, uint64_t now,
		     struct bl_flow_key *keys, struct bl_flow_entry **entries, unsigned npre,
		     const uint8_t *parsed)
{
	struct rte_mbuf *mine[BL_BURST];
	unsigned n_mine = 0, n_parsed = n;
	uint64_t t0 = w->stage_timing ? rte_rdtsc() : 0;

	for (unsigned i = 0; i < n; i++) {
		if (parsed && parsed[i]) {
			mine[n_mine++] = pkts[i];
			n_parsed--;
			continue;
		}
		if (i + 3 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 3], void *));
		if (parse_one(w, pkts[i]))
			mine[n_mine++] = pkts[i];
		else if (i < npre)
			npre = 0; /* cannot happen (a fast-path frame parses);
				   * were it to, keys would no longer line up */
	}
	if (w->stage_timing) {
		w->stats.stage_cycles[BL_STAGE_PARSE] += rte_rdtsc() - t0;
		w->stats.stage_pkts[BL_STAGE_PARSE] += n_parsed;
	}
	if (n_mine)
		judge(w, mine, n_mine, now, keys, entries, npre);
}

/*
 * The express lane in three stages over successive polls, so that the
 * flow table's cache misses (a bucket line, then a slot's two lines, most
 * often from DRAM with 100,000 flows) are in flight while the worker
 * receives the next burst instead of stalling it: lane_key() when a burst
 * arrives (keys, bucket requests), lane_slots() before the next poll
 * (signatures, slot requests), lane_run() after that poll has received a
 * burst (lookups, updates, forward; the long way for the rest). A burst
 * thus waits one poll; a loop that receives nothing runs the held burst
 * at once, so at low rate nothing waits longer than an empty poll. Bursts
 * are run in arrival order, so per-flow order is kept. Measured in
 * README, "Flow table".
 */
static void lane_key(struct bl_worker *w, struct bl_ahead *a, unsigned n, bool one_port)
{
	uint64_t t0 = w->stage_timing ? rte_rdtsc() : 0;

	a->n = (uint16_t)n;
	a->one_port = one_port;
	a->nk = (uint16_t)bl_flow_key_frames(w->flows, a->pkts, n, a->keys, a->bytes);
	a->slots = false;
	a->any_parsed = false;
	if (w->stage_timing)
		w->stats.stage_cycles[BL_STAGE_PARSE] += rte_rdtsc() - t0;
}

static void lane_slots(struct bl_worker *w, struct bl_ahead *a)
{
	uint64_t t0;

	if (a->n == 0 || a->slots)
		return;
	t0 = w->stage_timing ? rte_rdtsc() : 0;
	bl_flow_prefetch_slots(w->flows, a->keys, a->nk, a->cand);
	a->slots = true;
	if (w->stage_timing)
		w->stats.stage_cycles[BL_STAGE_FLOW] += rte_rdtsc() - t0;
}

static void lane_run(struct bl_worker *w, struct bl_ahead *a, uint64_t now)
{
	struct bl_flow_entry *ents[BL_BURST];
	unsigned rest, npre;

	if (a->n == 0)
		return;
	express(w, a, now, &rest, ents, &npre);
	if (rest)
		dispatch(w, a->pkts, rest, now, a->keys, ents, npre,
			 a->any_parsed ? a->parsed : NULL);
	a->n = 0;
	a->any_parsed = false;
}

/*
 * A packet handed to another worker already parsed travels with bit 0 of
 * its pointer set (an mbuf is cache-line aligned), so the receiver knows
 * its private area holds its parse and does not parse it again.
 */
static inline struct rte_mbuf *parsed_tag(struct rte_mbuf *m)
{
	return (struct rte_mbuf *)((uintptr_t)m | 1);
}

/* The mbuf of a handed-over pointer; *parsed (when not NULL) its tag. */
static inline struct rte_mbuf *parsed_untag(struct rte_mbuf *m, uint8_t *parsed)
{
	if (parsed)
		*parsed = (uint8_t)((uintptr_t)m & 1);
	return (struct rte_mbuf *)((uintptr_t)m & ~(uintptr_t)1);
}

/*
 * Software distribution (several workers, ports without RSS): a burst
 * fresh from a port is split by the symmetric hash of its address pair,
 * each packet to the worker that owns its flow, over a ring per
 * destination (single producer, single consumer), counting the handoffs.
 * The hash comes from the lane's key where the fast path takes the frame
 * (the leading run, as in the lane), else from the parsed record: the same
 * value for the same pair (key_sym_hash()), so every packet of a flow,
 * whatever its shape, reaches the same worker. This worker's own packets
 * then go through the express lane at once (no lookahead), the receiving
 * workers' through theirs (drain_rings()); a packet parsed here for its
 * hash is not parsed again (struct bl_ahead.parsed, parsed_tag()).
 */
static void spread(struct bl_worker *w, struct rte_mbuf **pkts, unsigned n, uint64_t now)
{
	struct rte_mbuf *out[BL_CONFIG_MAX_WORKERS][BL_BURST];
	uint16_t n_out[BL_CONFIG_MAX_WORKERS] = { 0 };
	struct bl_ahead *a = w->spare; /* scratch: no burst is held here */
	uint64_t t0 = w->stage_timing ? rte_rdtsc() : 0, t1, tp = 0;
	unsigned nk, i, nmine = 0, dst;

	/* keyed in place; this worker's keys are then packed to the front */
	nk = bl_flow_key_frames(w->flows, pkts, n, a->keys, a->bytes);
	t1 = w->stage_timing ? rte_rdtsc() : 0;
	for (i = 0; i < nk; i++) {
		dst = key_sym_hash(&a->keys[i]) % w->n_workers;
		if (dst != w->id) {
			out[dst][n_out[dst]++] = pkts[i];
			continue;
		}
		if (nmine != i) {
			a->keys[nmine] = a->keys[i];
			a->bytes[nmine] = a->bytes[i];
		}
		a->parsed[nmine] = 0;
		a->pkts[nmine++] = pkts[i];
	}
	a->nk = (uint16_t)nmine;
	for (; i < n; i++) {
		uint64_t p0 = w->stage_timing ? rte_rdtsc() : 0;
		bool ip = parse_one(w, pkts[i]);

		if (w->stage_timing) {
			tp += rte_rdtsc() - p0;
			w->stats.stage_pkts[BL_STAGE_PARSE]++;
		}
		if (!ip)
			continue;
		dst = bl_worker_sym_hash(pkt_of(pkts[i])) % w->n_workers;
		if (dst == w->id) {
			a->parsed[nmine] = 1;
			a->pkts[nmine++] = pkts[i];
		} else {
			out[dst][n_out[dst]++] = parsed_tag(pkts[i]);
		}
	}
	a->any_parsed = nmine > a->nk;
	a->n = (uint16_t)nmine;
	a->slots = false;
	a->one_port = true;
	for (unsigned d = 0; d < w->n_workers; d++) {
		unsigned sent;

		if (!n_out[d])
			continue;
		sent = rte_ring_sp_enqueue_burst(w->ring_out[d], (void **)out[d], n_out[d], NULL);
		w->stats.handoff_out += sent;
		for (unsigned j = sent; j < n_out[d]; j++)
			drop(w, parsed_untag(out[d][j], NULL), BL_DROP_HANDOFF_FULL);
	}
	if (w->stage_timing) {
		/* the keys count as parse (their packets are counted there when
		 * the lane takes them), the split as distribution */
		w->stats.stage_cycles[BL_STAGE_PARSE] += t1 - t0 + tp;
		w->stats.stage_cycles[BL_STAGE_DIST] += rte_rdtsc() - t1 - tp;
		w->stats.stage_pkts[BL_STAGE_DIST] += n;
	}
	lane_run(w, a, now);
}

/* Take what other workers handed over. Returns the number of packets. */
static unsigned drain_rings(struct bl_worker *w, uint64_t now)
{
	struct bl_ahead *a = w->spare; /* scratch: no burst is held here */
	unsigned total = 0;

	if (!w->sw_dist || w->n_workers < 2)
		return 0;
	for (unsigned s = 0; s < w->n_workers; s++) {
		bool any = false;
		unsigned n;

		if (s == w->id)
			continue;
		n = rte_ring_sc_dequeue_burst(w->ring_in[s], (void **)a->pkts, BL_BURST, NULL);
		if (!n)
			continue;
		w->stats.handoff_in += n;
		total += n;
		for (unsigned j = 0; j < n; j++) {
			a->pkts[j] = parsed_untag(a->pkts[j], &a->parsed[j]);
			any |= a->parsed[j];
		}
		/* the sender keyed them but kept no key: key them again (a
		 * packet it parsed keeps its parse) */
		lane_key(w, a, n, false);
		a->any_parsed = any;
		lane_run(w, a, now);
	}
	return total;
}

/* Poll every (port, queue) this worker owns once. */
static void poll_ports(struct bl_worker *w, uint64_t now)
{
	/* software distribution: each packet first to the worker owning its flow */
	bool spreads = w->sw_dist && w->n_workers > 1;

	for (unsigned q = 0; q < w->n_rxq; q++) {
		struct rte_mbuf *pkts[BL_BURST];
		struct bl_ahead *a;
		uint16_t n;

		if (spreads) {
			n = rte_eth_rx_burst(w->rxq[q].port, w->rxq[q].queue, pkts, BL_BURST);
			w->stats.rx += n;
			if (n)
				spread(w, pkts, n, now);
			continue;
		}
		lane_slots(w, w->held);
		a = w->spare;
		n = rte_eth_rx_burst(w->rxq[q].port, w->rxq[q].queue, a->pkts, BL_BURST);
		if (!n)
			continue;
		w->stats.rx += n;
		lane_key(w, a, n, true);
		lane_run(w, w->held, now);
		w->spare = w->held;
		w->held = a;
	}
}

/*
 * Expiry pacing. Every slot examined is a cache line, so a busy worker runs
 * one slice per EXPIRE_PERIOD_US (not per loop) with a flow budget that
 * sweeps the whole table in EXPIRE_SWEEP_MS: an idle flow is deleted at
 * most that long after its timeout. The fragment table is small (its slice
 * of EXPIRE_FRAG_BUDGET sweeps 4096 datagrams in under 10 ms). A loop that
 * received nothing runs a slice too: the CPU is free then.
 */
#define EXPIRE_PERIOD_US   100
#define EXPIRE_SWEEP_MS	   1000
#define EXPIRE_FRAG_BUDGET 64

struct expiry {
	uint64_t next;	 /* TSC of the next slice on a busy loop */
	uint64_t period; /* EXPIRE_PERIOD_US in TSC cycles */
	unsigned flow_budget;
};

static void expiry_init(const struct bl_worker *w, struct expiry *x, uint64_t now)
{
	uint64_t hz = w->tsc_hz ? w->tsc_hz : rte_get_tsc_hz();

	x->period = hz / (1000000 / EXPIRE_PERIOD_US);
	x->next = now + x->period;
	x->flow_budget = bl_flow_expire_budget(w->flows, EXPIRE_SWEEP_MS * 1000 / EXPIRE_PERIOD_US);
}

/* One expiry slice when due (or when the loop was idle). */
static void expire(struct bl_worker *w, struct expiry *x, uint64_t now, bool idle)
{
	if (!idle && now < x->next)
		return;
	x->next = now + x->period;
	bl_flow_expire(w->flows, now, x->flow_budget);
	bl_frag_expire(w->frags, now, EXPIRE_FRAG_BUDGET);
}

/*
 * Slots settled per loop for a reader (bl_worker_settle()): a slice costs
 * about what a burst does when busy; an idle loop takes more.
 */
#define SETTLE_SLICE_BUSY 256
#define SETTLE_SLICE_IDLE 8192

/* One slice of a settle pass when a reader asked for one. */
static void settle_step(struct bl_worker *w, bool idle)
{
	uint32_t req = __atomic_load_n(&w->settle_req, __ATOMIC_RELAXED);

	if (likely(req == w->settle_done))
		return;
	if (w->settle_pos == 0)
		w->settle_want = req; /* a pass starts: it serves what was asked so far */
	w->settle_pos = bl_flow_settle_slots(w->flows, w->settle_pos,
					     idle ? SETTLE_SLICE_IDLE : SETTLE_SLICE_BUSY);
	/* release: the counters settled by the pass before the news */
	if (w->settle_pos == 0)
		__atomic_store_n(&w->settle_done, w->settle_want, __ATOMIC_RELEASE);
}

bool bl_worker_settle(struct bl_worker *w, unsigned timeout_ms)
{
	uint32_t req = __atomic_add_fetch(&w->settle_req, 1, __ATOMIC_RELAXED);
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() * timeout_ms / 1000;

	/* acquire: pairs with the worker's release stores */
	while (__atomic_load_n(&w->running, __ATOMIC_ACQUIRE)) {
		if ((int32_t)(__atomic_load_n(&w->settle_done, __ATOMIC_ACQUIRE) - req) >= 0)
			return true;
		if (rte_get_timer_cycles() > end)
			return false;
		rte_delay_us_sleep(50);
	}
	return true;
}

/*
 * Run until the main lcore raises stop_rx, then drain: once every worker
 * has polled its last burst (rx_stopped == n_workers, read with acquire
 * after their release increments), nothing new can enter a ring, so one
 * empty pass over our rings after that observation means we are done.
 */
int bl_worker_main(void *arg)
{
	struct bl_worker *w = arg;
	struct expiry x;
	uint64_t now, rx;

	w->held = &w->ahead[0];
	w->spare = &w->ahead[1];
	w->held->n = 0;
	expiry_init(w, &x, rte_rdtsc());
	/* registered by the control side before launch; online: the control
	 * side's grace periods now wait for this worker */
	rte_rcu_qsbr_thread_online(w->seam.qsv, w->id);
	__atomic_store_n(&w->running, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&w->ctl->stop_rx, __ATOMIC_ACQUIRE)) {
		now = rte_rdtsc();
		rx = w->stats.rx;
		poll_ports(w, now);
		rx = w->stats.rx - rx + drain_rings(w, now);
		/* nothing more came: the held burst waits no longer */
		if (rx == 0)
			lane_run(w, w->held, now);
		tx_flush_all(w);
		expire(w, &x, now, rx == 0);
		settle_step(w, rx == 0);
		/* quiescent: no policy object read in this loop is used after
		 * this point (the call has release semantics) */
		rte_rcu_qsbr_quiescent(w->seam.qsv, w->id);
	}
	lane_run(w, w->held, rte_rdtsc());
	/* release: our last handoff enqueues happen before the count */
	__atomic_fetch_add(&w->ctl->rx_stopped, 1, __ATOMIC_RELEASE);
	for (;;) {
		bool all = __atomic_load_n(&w->ctl->rx_stopped, __ATOMIC_ACQUIRE) == w->n_workers;
		unsigned got = drain_rings(w, rte_rdtsc());

		tx_flush_all(w);
		rte_rcu_qsbr_quiescent(w->seam.qsv, w->id);
		if (all && !got)
			break;
		if (!got)
			rte_pause();
	}
	/* every flow settled: the final counters hold every packet */
	bl_flow_settle_slots(w->flows, 0, UINT32_MAX);
	/* release: that before readers stop waiting */
	__atomic_store_n(&w->running, false, __ATOMIC_RELEASE);
	/* offline: grace periods stop waiting for this worker */
	rte_rcu_qsbr_thread_offline(w->seam.qsv, w->id);
	return 0;
}
