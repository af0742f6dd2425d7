/* SPDX-License-Identifier: BSD-3-Clause */
/* The daemon's YAML configuration: defaults, loading, errors with positions. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config.h"

static const char *const nonip_names[BL_NONIP_MAX] = {
	[BL_NONIP_ARP] = "arp", [BL_NONIP_LLDP] = "lldp",   [BL_NONIP_SLOW] = "slow",
	[BL_NONIP_STP] = "stp", [BL_NONIP_OTHER] = "other", [BL_NONIP_ND] = "nd",
	[BL_NONIP_MLD] = "mld",
};

const char *bl_nonip_name(enum bl_nonip n)
{
	return n < BL_NONIP_MAX ? nonip_names[n] : "?";
}

void bl_config_defaults(struct bl_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->file_prefix, sizeof(c->file_prefix), "brightline");
	c->n_workers = 1;
	c->mtu = 1500;
	c->mempool_size = 16383;
	c->rx_desc = 1024;
	c->tx_desc = 1024;
	c->flow.capacity = 65536;
	c->flow.tcp_established = 3600;
	c->flow.tcp_transient = 120;
	c->flow.udp = 60;
	c->flow.other = 30;
	c->flow.evict_idle = 30;
	c->flow.full = BL_FLOW_FULL_EVICT_IDLE;
	c->flow.midstream = BL_FLOW_MIDSTREAM_TRACK;
	c->frag.capacity = 4096;
	c->frag.budget = 1024;
	c->frag.per_datagram = 64;
	c->frag.timeout = 30;
	snprintf(c->control_socket, sizeof(c->control_socket), "/run/brightline/control.sock");
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", BL_CONFIG_STATE_DIR);
	snprintf(c->control.group, sizeof(c->control.group), "brightline");
	c->control.max_line = 1u << 20;
	c->control.max_upload = 256u << 20;
	c->control.max_clients = 64;
	c->control.idle_timeout = 60;
	c->control.history = 5;
	c->meters.max_slots = 65536;
	c->meters.snapshot_s = 60;
	c->meters.reclaim_idle_s = 300; /* as BL_METER_RECLAIM_IDLE_S_DEFAULT */
	c->reject.rate = 1000;
	c->reject.burst = 100;
	snprintf(c->event_log.path, sizeof(c->event_log.path), "%s", BL_CONFIG_EVENT_LOG);
	c->event_log.rate = 100;
	c->event_log.burst = 100;
}

int bl_config_add_eal(struct bl_config *c, const char *arg)
{
	if (c->n_eal_args >= BL_CONFIG_MAX_EAL)
		return -ENOSPC;
	c->eal_args[c->n_eal_args] = strdup(arg);
	if (!c->eal_args[c->n_eal_args])
		return -ENOMEM;
	c->n_eal_args++;
	return 0;
}

void bl_config_free(struct bl_config *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_eal_args; i++)
		free(c->eal_args[i]);
	c->n_eal_args = 0;
}

/* Parsing state: the document, the file name and the error buffer. */
struct loader {
	yaml_document_t doc;
	const char *file;
	char *err;
	size_t errlen;
};

/* Record "file:line:col: message" for `node` (1-based positions). */
static int fail(struct loader *l, const yaml_node_t *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s:%zu:%zu: %s", l->file, node->start_mark.line + 1,
		 node->start_mark.column + 1, msg);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a map";
	default: return "nothing";
	}
}

static int want(struct loader *l, const yaml_node_t *n, yaml_node_type_t t, const char *key)
{
	static const char *const names[] = {
		[YAML_SCALAR_NODE] = "a scalar",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a map",
	};
	if (n->type != t)
		return fail(l, n, "\"%s\" must be %s, not %s", key, names[t], node_kind(n));
	return 0;
}

/* An unsigned integer in [lo, hi]. */
static int get_uint(struct loader *l, const yaml_node_t *n, const char *key, unsigned long lo,
		    unsigned long hi, uint32_t *out)
{
	char *end;
	unsigned long v;
	int rc = want(l, n, YAML_SCALAR_NODE, key);

	if (rc)
		return rc;
	errno = 0;
	v = strtoul(scalar(n), &end, 0);
	if (errno || end == scalar(n) || *end || scalar(n)[0] == '-')
		return fail(l, n, "\"%s\": \"%s\" is not a number", key, scalar(n));
	if (v < lo || v > hi)
		return fail(l, n, "\"%s\": %lu is out of range [%lu, %lu]", key, v, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

static int get_string(struct loader *l, const yaml_node_t *n, const char *key, char *out,
		      size_t outlen)
{
	int rc = want(l, n, YAML_SCALAR_NODE, key);

	if (rc)
		return rc;
	if (strlen(scalar(n)) >= outlen)
		return fail(l, n, "\"%s\" is longer than %zu bytes", key, outlen - 1);
	snprintf(out, outlen, "%s", scalar(n));
	return 0;
}

/* One of `names` (NULL-terminated); the index goes to *out. */
static int get_enum(struct loader *l, const yaml_node_t *n, const char *key,
		    const char *const *names, unsigned *out)
{
	char choices[256] = "";
	int rc = want(l, n, YAML_SCALAR_NODE, key);

	if (rc)
		return rc;
	for (unsigned i = 0; names[i]; i++) {
		if (!strcmp(scalar(n), names[i])) {
			*out = i;
			return 0;
		}
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s%s",
			 i ? "|" : "", names[i]);
	}
	return fail(l, n, "\"%s\": \"%s\" is not one of %s", key, scalar(n), choices);
}

static int get_bool_word(struct loader *l, const yaml_node_t *n, const char *key, const char *yes,
			 const char *no, bool *out)
{
	const char *const names[] = { no, yes, NULL };
	unsigned v;
	int rc = get_enum(l, n, key, names, &v);

	if (!rc)
		*out = v == 1;
	return rc;
}

static bool is_true(const char *s)
{
	return !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on");
}

static bool is_false(const char *s)
{
	return !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off");
}

#define for_each_pair(l, map, p)                                                                   \
	for (yaml_node_pair_t *p = (map)->data.mapping.pairs.start;                                \
	     p < (map)->data.mapping.pairs.top; p++)

#define KEY(l, p) yaml_document_get_node(&(l)->doc, (p)->key)
#define VAL(l, p) yaml_document_get_node(&(l)->doc, (p)->value)

/* One EAL option: "--key=value", or "-k value" for one-letter keys. */
static int add_eal_opt(struct loader *l, struct bl_config *c, const yaml_node_t *at,
		       const char *key, const char *value)
{
	char buf[BL_CONFIG_DEV_LEN + 64];
	int rc;

	if (strlen(key) == 1) {
		snprintf(buf, sizeof(buf), "-%s", key);
		rc = bl_config_add_eal(c, buf);
		if (!rc && value)
			rc = bl_config_add_eal(c, value);
	} else {
		if (value)
			snprintf(buf, sizeof(buf), "--%s=%s", key, value);
		else
			snprintf(buf, sizeof(buf), "--%s", key);
		rc = bl_config_add_eal(c, buf);
	}
	if (rc)
		return fail(l, at, "too many EAL arguments (at most %d)", BL_CONFIG_MAX_EAL);
	return 0;
}

/* eal: {key: value|true|[values]}; file-prefix is kept apart (flags override it). */
static int load_eal(struct loader *l, struct bl_config *c, yaml_node_t *map)
{
	int rc = want(l, map, YAML_MAPPING_NODE, "eal");

	if (rc)
		return rc;
	for_each_pair(l, map, p)
	{
		yaml_node_t *k = KEY(l, p), *v = VAL(l, p);
		const char *key;

		if ((rc = want(l, k, YAML_SCALAR_NODE, "eal key")))
			return rc;
		key = scalar(k);
		if (!strcmp(key, "file-prefix")) {
			if ((rc = get_string(l, v, key, c->file_prefix, sizeof(c->file_prefix))))
				return rc;
			continue;
		}
		if (v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				yaml_node_t *e = yaml_document_get_node(&l->doc, *it);

				if ((rc = want(l, e, YAML_SCALAR_NODE, key)))
					return rc;
				if ((rc = add_eal_opt(l, c, e, key, scalar(e))))
					return rc;
			}
			continue;
		}
		if ((rc = want(l, v, YAML_SCALAR_NODE, key)))
			return rc;
		if (is_false(scalar(v)))
			continue;
		if (!strcmp(key, "no-huge"))
			c->no_huge = true;
		if ((rc = add_eal_opt(l, c, v, key, is_true(scalar(v)) ? NULL : scalar(v))))
			return rc;
	}
	return 0;
}

static int load_eal_extra(struct loader *l, struct bl_config *c, yaml_node_t *seq)
{
	int rc = want(l, seq, YAML_SEQUENCE_NODE, "eal-extra");

	if (rc)
		return rc;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(&l->doc, *it);

		if ((rc = want(l, e, YAML_SCALAR_NODE, "eal-extra item")))
			return rc;
		if (!strcmp(scalar(e), "--no-huge"))
			c->no_huge = true;
		if (bl_config_add_eal(c, scalar(e)))
			return fail(l, e, "too many EAL arguments (at most %d)", BL_CONFIG_MAX_EAL);
	}
	return 0;
}

static int load_ports(struct loader *l, struct bl_config *c, yaml_node_t *map)
{
	int rc = want(l, map, YAML_MAPPING_NODE, "ports");

	if (rc)
		return rc;
	for_each_pair(l, map, p)
	{
		yaml_node_t *k = KEY(l, p), *v = VAL(l, p);

		if ((rc = want(l, k, YAML_SCALAR_NODE, "ports key")))
			return rc;
		if (!strcmp(scalar(k), "inside"))
			rc = get_string(l, v, "inside", c->inside, sizeof(c->inside));
		else if (!strcmp(scalar(k), "outside"))
			rc = get_string(l, v, "outside", c->outside, sizeof(c->outside));
		else
			rc = fail(l, k, "unknown key \"ports.%s\" (expected inside, outside)",
				  scalar(k));
		if (rc)
			return rc;
	}
	return 0;
}

/* workers: N, or [lcore, ...]. */
static int load_workers(struct loader *l, struct bl_config *c, yaml_node_t *v)
{
	uint32_t n;
	int rc;

	if (v->type == YAML_SCALAR_NODE) {
		if ((rc = get_uint(l, v, "workers", 1, BL_CONFIG_MAX_WORKERS, &n)))
			return rc;
		c->n_workers = n;
		c->lcores_given = false;
		return 0;
	}
	if ((rc = want(l, v, YAML_SEQUENCE_NODE, "workers")))
		return rc;
	c->n_workers = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(&l->doc, *it);

		if (c->n_workers >= BL_CONFIG_MAX_WORKERS)
			return fail(l, e, "too many workers (at most %d)", BL_CONFIG_MAX_WORKERS);
		if ((rc = get_uint(l, e, "workers item", 1, 1023, &n)))
			return rc;
		c->worker_lcores[c->n_workers++] = n;
	}
	if (!c->n_workers)
		return fail(l, v, "\"workers\" lists no lcore");
	c->lcores_given = true;
	return 0;
}

/*
 * A config section that is a map of numbers (and strings): one table row a
 * key, with its bounds and where it lands in struct bl_config. Unknown keys
 * are refused with the section's path and the keys it knows.
 */
struct field {
	const char *key;
	size_t off;	      /* offsetof(struct bl_config, ...) */
	unsigned long lo, hi; /* bounds of a number; hi == 0: a string */
	size_t len;	      /* a string's buffer size */
};

#define UINT_FIELD(k, member, l, h)                                                                \
	{                                                                                          \
		k, offsetof(struct bl_config, member), l, h, 0                                     \
	}
#define STR_FIELD(k, member)                                                                       \
	{                                                                                          \
		k, offsetof(struct bl_config, member), 0, 0,                                       \
			sizeof(((struct bl_config *)0)->member)                                    \
	}

static int load_fields(struct loader *l, struct bl_config *c, yaml_node_t *map, const char *what,
		       const char *path, const struct field *f, size_t nf)
{
	char keyname[64], expected[256];
	int rc = want(l, map, YAML_MAPPING_NODE, what);
	size_t i, n = 0;

	if (rc)
		return rc;
	snprintf(keyname, sizeof(keyname), "%s key", what);
	for (i = 0; i < nf; i++)
		n += (size_t)snprintf(expected + n, sizeof(expected) - n, "%s%s", i ? ", " : "",
				      f[i].key);
	for_each_pair(l, map, p)
	{
		yaml_node_t *k = KEY(l, p), *v = VAL(l, p);
		const char *key;

		if ((rc = want(l, k, YAML_SCALAR_NODE, keyname)))
			return rc;
		key = scalar(k);
		for (i = 0; i < nf && strcmp(key, f[i].key); i++)
			;
		if (i == nf)
			rc = fail(l, k, "unknown key \"%s.%s\" (expected %s)", path, key, expected);
		else if (f[i].hi)
			rc = get_uint(l, v, key, f[i].lo, f[i].hi,
				      (uint32_t *)((char *)c + f[i].off));
		else
			rc = get_string(l, v, key, (char *)c + f[i].off, f[i].len);
		if (rc)
			return rc;
	}
	return 0;
}

/* flow_table.timeouts: seconds per state class */
static const struct field timeout_fields[] = {
	UINT_FIELD("tcp_established", flow.tcp_established, 1, 864000),
	UINT_FIELD("tcp_transient", flow.tcp_transient, 1, 86400),
	UINT_FIELD("udp", flow.udp, 1, 86400),
	UINT_FIELD("other", flow.other, 1, 86400),
};

/* fragments: per worker */
static const struct field frag_fields[] = {
	UINT_FIELD("capacity", frag.capacity, 8, 1u << 22),
	UINT_FIELD("budget", frag.budget, 0, 1u << 20),
	UINT_FIELD("per_datagram", frag.per_datagram, 1, 128),
	UINT_FIELD("timeout", frag.timeout, 1, 3600),
};

/* meters: rate-limit and quota state shared by the workers */
static const struct field meter_fields[] = {
	UINT_FIELD("max_slots", meters.max_slots, 8, 1u << 24),
	UINT_FIELD("snapshot_interval", meters.snapshot_s, 1, 86400),
	UINT_FIELD("reclaim_idle", meters.reclaim_idle_s, 1, 86400),
};

/* control: the control socket's limits */
static const struct field control_fields[] = {
	STR_FIELD("group", control.group),
	UINT_FIELD("max_line", control.max_line, 128u << 10, 1u << 30),
	UINT_FIELD("max_upload", control.max_upload, 1u << 20, 4095u << 20),
	UINT_FIELD("max_clients", control.max_clients, 1, 4096),
	UINT_FIELD("idle_timeout", control.idle_timeout, 1, 86400),
	UINT_FIELD("history", control.history, 1, 64),
};

/* reject: generated replies per second and burst, per worker */
static const struct field reject_fields[] = {
	UINT_FIELD("rate", reject.rate, 1, 10000000),
	UINT_FIELD("burst", reject.burst, 1, 1000000),
};

#define LOAD_FIELDS(l, c, v, what, path, f)                                                        \
	load_fields(l, c, v, what, path, f, sizeof(f) / sizeof((f)[0]))

static int load_flow(struct loader *l, struct bl_config *c, yaml_node_t *map)
{
	static const char *const full[] = { "drop-new", "evict-idle", "stateless", NULL };
	static const char *const mid[] = { "track", "drop", "pass", NULL };
	int rc = want(l, map, YAML_MAPPING_NODE, "flow_table");
	unsigned e;

	if (rc)
		return rc;
	for_each_pair(l, map, p)
	{
		yaml_node_t *k = KEY(l, p), *v = VAL(l, p);
		const char *key;

		if ((rc = want(l, k, YAML_SCALAR_NODE, "flow_table key")))
			return rc;
		key = scalar(k);
		if (!strcmp(key, "capacity")) {
			rc = get_uint(l, v, key, 8, 1u << 26, &c->flow.capacity);
		} else if (!strcmp(key, "evict_idle")) {
			rc = get_uint(l, v, key, 0, 864000, &c->flow.evict_idle);
		} else if (!strcmp(key, "full")) {
			/* names in the order of enum bl_flow_full_policy */
			if (!(rc = get_enum(l, v, key, full, &e)))
				c->flow.full = e;
		} else if (!strcmp(key, "midstream")) {
			/* names in the order of enum bl_flow_midstream */
			if (!(rc = get_enum(l, v, key, mid, &e)))
				c->flow.midstream = e;
		} else if (!strcmp(key, "timeouts")) {
			rc = LOAD_FIELDS(l, c, v, "timeouts", "flow_table.timeouts",
					 timeout_fields);
		} else {
			rc = fail(l, k,
				  "unknown key \"flow_table.%s\" "
				  "(expected capacity, timeouts, full, midstream, evict_idle)",
				  key);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* event_log: PATH | off | {path, rate, burst} */
static int load_event_log(struct loader *l, struct bl_config *c, yaml_node_t *v)
{
	int rc;

	if (v->type == YAML_SCALAR_NODE) {
		if (is_false(scalar(v))) {
			c->event_log.path[0] = 0;
			return 0;
		}
		return get_string(l, v, "event_log", c->event_log.path, sizeof(c->event_log.path));
	}
	if ((rc = want(l, v, YAML_MAPPING_NODE, "event_log")))
		return rc;
	for_each_pair(l, v, p)
	{
		yaml_node_t *k = KEY(l, p), *val = VAL(l, p);
		const char *key;

		if ((rc = want(l, k, YAML_SCALAR_NODE, "event_log key")))
			return rc;
		key = scalar(k);
		if (!strcmp(key, "path")) {
			if (val->type == YAML_SCALAR_NODE && is_false(scalar(val)))
				c->event_log.path[0] = 0;
			else
				rc = get_string(l, val, key, c->event_log.path,
						sizeof(c->event_log.path));
		} else if (!strcmp(key, "rate")) {
			rc = get_uint(l, val, key, 0, 10000000, &c->event_log.rate);
		} else if (!strcmp(key, "burst")) {
			rc = get_uint(l, val, key, 1, 10000000, &c->event_log.burst);
		} else {
			rc = fail(l, k, "unknown key \"event_log.%s\" (expected path, rate, burst)",
				  key);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int load_nonip(struct loader *l, struct bl_config *c, yaml_node_t *map)
{
	int rc = want(l, map, YAML_MAPPING_NODE, "non_ip");

	if (rc)
		return rc;
	for_each_pair(l, map, p)
	{
		yaml_node_t *k = KEY(l, p), *v = VAL(l, p);
		unsigned i;

		if ((rc = want(l, k, YAML_SCALAR_NODE, "non_ip key")))
			return rc;
		for (i = 0; i < BL_NONIP_MAX; i++)
			if (!strcmp(scalar(k), nonip_names[i]))
				break;
		if (i == BL_NONIP_MAX)
			return fail(l, k,
				    "unknown key \"non_ip.%s\" "
				    "(expected arp, lldp, slow, stp, other, nd, mld)",
				    scalar(k));
		if ((rc = get_bool_word(l, v, scalar(k), "drop", "pass", &c->nonip_drop[i])))
			return rc;
	}
	return 0;
}

/* Walk the root map; every key is known or an error. */
static int load_root(struct loader *l, struct bl_config *c, yaml_node_t *root)
{
	int rc;

	if (root->type != YAML_MAPPING_NODE)
		return fail(l, root, "the configuration must be a map, not %s", node_kind(root));
	for_each_pair(l, root, p)
	{
		yaml_node_t *k = KEY(l, p), *val = VAL(l, p);
		const char *key;

		if ((rc = want(l, k, YAML_SCALAR_NODE, "key")))
			return rc;
		key = scalar(k);
		if (!strcmp(key, "eal"))
			rc = load_eal(l, c, val);
		else if (!strcmp(key, "eal-extra"))
			rc = load_eal_extra(l, c, val);
		else if (!strcmp(key, "ports"))
			rc = load_ports(l, c, val);
		else if (!strcmp(key, "workers"))
			rc = load_workers(l, c, val);
		else if (!strcmp(key, "queues"))
			rc = get_uint(l, val, key, 0, 64, &c->queues);
		else if (!strcmp(key, "mtu"))
			rc = get_uint(l, val, key, 68, 9600, &c->mtu);
		else if (!strcmp(key, "mempool"))
			rc = get_uint(l, val, key, 512, 1u << 24, &c->mempool_size);
		else if (!strcmp(key, "rx_desc"))
			rc = get_uint(l, val, key, 32, 32768, &c->rx_desc);
		else if (!strcmp(key, "tx_desc"))
			rc = get_uint(l, val, key, 32, 32768, &c->tx_desc);
		else if (!strcmp(key, "flow_table"))
			rc = load_flow(l, c, val);
		else if (!strcmp(key, "fragments"))
			rc = LOAD_FIELDS(l, c, val, "fragments", "fragments", frag_fields);
		else if (!strcmp(key, "non_ip"))
			rc = load_nonip(l, c, val);
		else if (!strcmp(key, "default_ip"))
			rc = get_bool_word(l, val, key, "drop", "pass", &c->default_ip_drop);
		else if (!strcmp(key, "control_socket"))
			rc = get_string(l, val, key, c->control_socket, sizeof(c->control_socket));
		else if (!strcmp(key, "policy"))
			rc = get_string(l, val, key, c->policy, sizeof(c->policy));
		else if (!strcmp(key, "state_dir"))
			rc = get_string(l, val, key, c->state_dir, sizeof(c->state_dir));
		else if (!strcmp(key, "control"))
			rc = LOAD_FIELDS(l, c, val, "control", "control", control_fields);
		else if (!strcmp(key, "meters"))
			rc = LOAD_FIELDS(l, c, val, "meters", "meters", meter_fields);
		else if (!strcmp(key, "reject"))
			rc = LOAD_FIELDS(l, c, val, "reject", "reject", reject_fields);
		else if (!strcmp(key, "event_log"))
			rc = load_event_log(l, c, val);
		else
			rc = fail(l, k, "unknown key \"%s\"", key);
		if (rc)
			return rc;
	}
	return 0;
}

int bl_config_load(struct bl_config *c, const char *path, char *err, size_t errlen)
{
	struct loader l = { .file = path, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_node_t *root;
	FILE *f;
	int rc;

	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!yaml_parser_initialize(&parser)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: cannot initialise the YAML parser", path);
		goto out_close;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &l.doc)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "invalid YAML",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		goto out_parser;
	}
	root = yaml_document_get_root_node(&l.doc);
	if (!root) {
		rc = 0; /* an empty file keeps the defaults */
		goto out_doc;
	}
	rc = load_root(&l, c, root);
	if (!rc)
		snprintf(c->path, sizeof(c->path), "%s", path);
out_doc:
	yaml_document_delete(&l.doc);
out_parser:
	yaml_parser_delete(&parser);
out_close:
	fclose(f);
	return rc;
}
