/* SPDX-License-Identifier: BSD-3-Clause */
/* Verdict events folded into one JSON line per flow (see verdicts.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_jhash.h>

#include "verdicts.h"

/* What identifies a line: kind, key proper, and for flowless events the reason. */
struct vkey {
	uint8_t kind;
	uint8_t l2class;
	uint16_t reason;
	uint8_t key[BL_FLOW_KEY_LEN];
};

struct vrec {
	struct vkey k;
	struct bl_event first; /* orientation, worker, verdict, reason */
	uint64_t packets, passed, dropped;
	bool worker_mismatch; /* an event came from another worker */
	uint32_t log_slot;    /* first `log` rule recorded for the flow */
};

struct bl_verdicts {
	struct vrec *recs; /* in first-seen order */
	uint32_t n, cap;
	uint32_t *slots; /* open addressing: index + 1, 0 = empty */
	uint32_t nslots;
};

struct bl_verdicts *bl_verdicts_create(void)
{
	struct bl_verdicts *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->nslots = 1024;
	v->slots = calloc(v->nslots, sizeof(*v->slots));
	if (!v->slots) {
		free(v);
		errno = ENOMEM;
		return NULL;
	}
	return v;
}

void bl_verdicts_free(struct bl_verdicts *v)
{
	if (!v)
		return;
	free(v->recs);
	free(v->slots);
	free(v);
}

static uint32_t vhash(const struct vkey *k)
{
	return rte_jhash(k, sizeof(*k), 0);
}

static uint32_t *find_slot(uint32_t *slots, uint32_t nslots, const struct vrec *recs,
			   const struct vkey *k)
{
	uint32_t i = vhash(k) & (nslots - 1);

	while (slots[i] && memcmp(&recs[slots[i] - 1].k, k, sizeof(*k)))
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

/* Double the slot array, keeping the load under one half. */
static int grow(struct bl_verdicts *v)
{
	uint32_t n = v->nslots * 2, *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (uint32_t r = 0; r < v->n; r++)
		*find_slot(s, n, v->recs, &v->recs[r].k) = r + 1;
	free(v->slots);
	v->slots = s;
	v->nslots = n;
	return 0;
}

int bl_verdicts_add(struct bl_verdicts *v, const struct bl_event *ev)
{
	struct vkey k;
	struct vrec *r;
	uint32_t *slot;

	memset(&k, 0, sizeof(k));
	k.kind = ev->kind;
	if (ev->kind == BL_EV_NOFLOW) {
		k.reason = ev->reason;
		k.l2class = ev->l2class;
	} else {
		memcpy(k.key, &ev->key, BL_FLOW_KEY_LEN);
		if (ev->kind == BL_EV_FRAG && memcmp(k.key + 8, k.key + 24, 16) > 0) {
			/* fragments carry src/dst as sent: order them like flow keys */
			uint8_t t[16];

			memcpy(t, k.key + 8, 16);
			memcpy(k.key + 8, k.key + 24, 16);
			memcpy(k.key + 24, t, 16);
		}
	}
	slot = find_slot(v->slots, v->nslots, v->recs, &k);
	if (!*slot) {
		if (v->n == v->cap) {
			uint32_t cap = v->cap ? v->cap * 2 : 256;
			struct vrec *nr = realloc(v->recs, cap * sizeof(*nr));

			if (!nr)
				return -ENOMEM;
			v->recs = nr;
			v->cap = cap;
		}
		r = &v->recs[v->n];
		memset(r, 0, sizeof(*r));
		r->k = k;
		r->first = *ev;
		r->log_slot = BL_EV_NO_RULE;
		*slot = ++v->n;
		if (v->n * 2 > v->nslots && grow(v))
			return -ENOMEM;
		r = &v->recs[v->n - 1];
	} else {
		r = &v->recs[*slot - 1];
	}
	r->packets++;
	if (r->log_slot == BL_EV_NO_RULE)
		r->log_slot = ev->log_slot;
	if (ev->verdict == BL_VERDICT_DROP)
		r->dropped++;
	else
		r->passed++;
	if (ev->worker != r->first.worker)
		r->worker_mismatch = true;
	return 0;
}

static const char *reason_name(unsigned reason)
{
	switch (reason) {
	case BL_REASON_DEFAULT: return "default";
	case BL_REASON_NONIP: return "non_ip_default";
	case BL_REASON_FOLLOW: return "follow_first";
	case BL_REASON_UNTRACKED: return "untracked";
	case BL_REASON_FRAG_TABLE: return "frag_table";
	case BL_REASON_RULE: return "rule";
	case BL_REASON_QUOTE: return "quoted_flow";
	}
	return bl_drop_name(reason);
}

static json_t *addr_json(uint8_t family, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
	return json_string(buf);
}

/* The flow as its first packet travelled: src = the sender. */
static json_t *flow_json(const struct bl_event *ev, bool ports)
{
	const struct bl_flow_key *k = &ev->key;
	unsigned s = ev->kind == BL_EV_FLOW ? k->side : 0;
	json_t *o = json_object();

	json_object_set_new(o, "family", json_integer(k->family));
	json_object_set_new(o, "proto", json_integer(k->proto));
	json_object_set_new(o, "src", addr_json(k->family, k->addr[s]));
	json_object_set_new(o, "dst", addr_json(k->family, k->addr[s ^ 1]));
	if (ports) {
		json_object_set_new(o, "sport", json_integer(k->port[s]));
		json_object_set_new(o, "dport", json_integer(k->port[s ^ 1]));
	}
	json_object_set_new(o, "vlan", json_integer(k->vlan));
	return o;
}

int bl_verdicts_write(const struct bl_verdicts *v, const struct bl_rt_slots *slots,
		      const char *path)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -errno;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct vrec *r = &v->recs[i];
		json_t *o = json_object();
		char *line;

		if (r->k.kind == BL_EV_FLOW)
			json_object_set_new(o, "flow", flow_json(&r->first, true));
		else if (r->k.kind == BL_EV_FRAG)
			json_object_set_new(o, "fragments", flow_json(&r->first, false));
		else {
			json_object_set_new(o, "flow", json_null());
			json_object_set_new(o, "l2", json_string(bl_l2class_name(r->k.l2class)));
		}
		json_object_set_new(o, "worker", json_integer(r->first.worker));
		json_object_set_new(o, "verdict", json_string(bl_verdict_name(r->first.verdict)));
		json_object_set_new(o, "reason", json_string(reason_name(r->first.reason)));
		if (r->first.rule_slot != BL_EV_NO_RULE &&
		    bl_rt_slot_name(slots, r->first.rule_slot)) {
			/* the rule that decided the flow ("default": the default action) */
			json_object_set_new(
				o, "rule", json_string(bl_rt_slot_name(slots, r->first.rule_slot)));
			json_object_set_new(o, "generation", json_integer(r->first.gen));
		}
		if (r->log_slot != BL_EV_NO_RULE && bl_rt_slot_name(slots, r->log_slot))
			json_object_set_new(o, "log",
					    json_string(bl_rt_slot_name(slots, r->log_slot)));
		json_object_set_new(o, "packets", json_integer(r->packets));
		json_object_set_new(o, "passed", json_integer(r->passed));
		json_object_set_new(o, "dropped", json_integer(r->dropped));
		if (r->worker_mismatch)
			json_object_set_new(o, "worker_mismatch", json_true());
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!line) {
			rc = -ENOMEM;
			break;
		}
		fprintf(f, "%s\n", line);
		free(line);
	}
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}
