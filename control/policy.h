/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy language: a YAML file (or text received over the control
 * socket) parsed, validated and normalized into one immutable object that
 * the dataplane compiles into its lookup structures. No DPDK here.
 *
 * A refused policy yields no object, only diagnostics, each with file, line
 * and column ("policy.yaml:14:9: error: unknown list ..."). The normalized
 * object is opaque; its content is read through the accessors below, which
 * return read-only views valid until bl_policy_free().
 */
#ifndef BL_CONTROL_POLICY_H
#define BL_CONTROL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds: a policy beyond any of them is refused with a message. */
#define BL_POLICY_MAX_TEXT	 (16u << 20)  /* policy text, bytes */
#define BL_POLICY_MAX_NODES	 2000000u     /* YAML nodes in the policy text */
#define BL_POLICY_MAX_DEPTH	 16u	      /* YAML nesting */
#define BL_POLICY_MAX_LIST_FILE	 (64u << 20)  /* one list file, bytes */
#define BL_POLICY_MAX_LIST_TOTAL (256u << 20) /* all list files, bytes */
#define BL_POLICY_MAX_ENTRIES	 4000000u     /* list entries, all lists */
#define BL_POLICY_MAX_LINE	 4096u	      /* one line of a list file */
#define BL_POLICY_MAX_RULES	 100000u
#define BL_POLICY_MAX_NAME	 63u /* list and rule names */
#define BL_POLICY_MAX_DIAGS	 20u /* diagnostics kept */

enum bl_policy_severity {
	BL_POLICY_ERROR,
	BL_POLICY_WARNING,
};

/* One diagnostic. line and column are 1-based; messages about a whole file
 * point at 1:1. */
struct bl_policy_diag {
	enum bl_policy_severity severity;
	unsigned line;
	unsigned column;
	char file[256];
	char message[512];
};

/* Caller-supplied diagnostics. Errors are kept before warnings are dropped:
 * when diag[] is full, later diagnostics are only counted. */
struct bl_policy_err {
	unsigned ndiags;  /* entries used in diag[] */
	unsigned nerrors; /* errors found, kept or not */
	unsigned nwarnings;
	struct bl_policy_diag diag[BL_POLICY_MAX_DIAGS];
};

/*
 * Supplies the text of a list file that a policy names under `files:`.
 * The daemon never opens a path: it receives the policy text and the list
 * texts from blctl and hands them over through this callback.
 * get() returns 0 and sets *text and *len (valid until put(), or until
 * bl_policy_load_text() returns when put is NULL), or -errno. get() may
 * refuse a file over max_len bytes with -EFBIG without reading it.
 */
struct bl_policy_files {
	int (*get)(void *ctx, const char *name, size_t max_len, const char **text, size_t *len);
	void (*put)(void *ctx, const char *name, const char *text, size_t len);
	void *ctx;
};

enum bl_list_type {
	BL_LIST_PREFIXES,
	BL_LIST_DOMAINS,
	BL_LIST_PATTERNS,
};

/* A prefix: addr in network byte order (IPv4 in addr[0..3]), host bits
 * zero (a policy with host bits set is refused). */
struct bl_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;	/* 0..32 or 0..128 */
	uint8_t addr[16];
};

/* A domain: lowercase ASCII (IDNA A-labels), no trailing dot. */
struct bl_domain {
	const char *name;
	bool subdomains; /* written "*.name": name itself and every name under it */
};

/* A named list. Prefixes and domains are sorted and deduplicated; patterns
 * keep their order (a pattern's index is its id). */
struct bl_policy_list {
	const char *name;
	enum bl_list_type type;
	uint32_t n;
	union {
		const struct bl_prefix *prefixes;
		const struct bl_domain *domains;
		const char *const *patterns; /* Hyperscan expressions */
	};
};

enum bl_direction {
	BL_DIR_ANY,
	BL_DIR_INBOUND,	 /* outside port to inside port */
	BL_DIR_OUTBOUND, /* inside port to outside port */
};

struct bl_port_range {
	uint16_t lo, hi; /* inclusive */
};

/* Source or destination: any of the inline prefixes or any entry of the
 * lists. Both empty: any address. */
struct bl_addr_match {
	uint32_t nprefixes;
	const struct bl_prefix *prefixes;
	uint32_t nlists;
	const uint32_t *lists; /* indexes for bl_policy_list() */
};

/* What a rule matches: every field given must match (AND); a field matches
 * when any of its values does (OR). An empty field matches anything. */
struct bl_policy_match {
	struct bl_addr_match src, dst;
	uint32_t nprotos;
	const uint8_t *protos; /* IP protocol numbers */
	uint32_t nsports, ndports;
	const struct bl_port_range *sports, *dports;
	uint32_t nvlans;
	const uint16_t *vlans; /* outer VLAN id */
	uint32_t ndomain_lists, npattern_lists;
	const uint32_t *domain_lists, *pattern_lists;
};

enum bl_action_kind {
	BL_ACT_ALLOW,
	BL_ACT_DROP,
	BL_ACT_REJECT,
	BL_ACT_LOG,	   /* record, then go on matching */
	BL_ACT_RATE_LIMIT, /* pass within the rate, drop the excess */
	BL_ACT_QUOTA,	   /* pass within the quota, then quota.then */
};

enum bl_meter_per {
	BL_PER_SUBSCRIBER, /* inside address: IPv4 /32, IPv6 /subscriber_prefix6 */
	BL_PER_RULE,	   /* one meter shared by every flow of the rule */
};

struct bl_rate_limit {
	uint64_t rate_bps; /* bits per second */
	uint64_t burst_bytes;
	enum bl_meter_per per;
	uint8_t subscriber_prefix6;
};

enum bl_period_kind {
	BL_PERIOD_ROLLING,
	BL_PERIOD_CALENDAR,
};

enum bl_calendar {
	BL_CAL_DAY,
	BL_CAL_WEEK, /* ISO weeks, starting Monday 00:00 */
	BL_CAL_MONTH,
};

struct bl_quota {
	uint64_t bytes;
	enum bl_period_kind period;
	uint64_t rolling_s;	   /* BL_PERIOD_ROLLING */
	enum bl_calendar calendar; /* BL_PERIOD_CALENDAR */
	const char *timezone;	   /* BL_PERIOD_CALENDAR: IANA name, e.g. "UTC" */
	enum bl_meter_per per;
	uint8_t subscriber_prefix6;
	enum bl_action_kind then;	/* BL_ACT_DROP, BL_ACT_REJECT or BL_ACT_RATE_LIMIT */
	struct bl_rate_limit then_rate; /* then == BL_ACT_RATE_LIMIT */
};

struct bl_policy_action {
	enum bl_action_kind kind;
	struct bl_rate_limit rate; /* kind == BL_ACT_RATE_LIMIT */
	struct bl_quota quota;	   /* kind == BL_ACT_QUOTA */
};

/* A rule. name is its stable identity: counters, meter buckets and quota
 * usage are keyed by it and survive a new policy. */
struct bl_policy_rule {
	const char *name;
	unsigned line; /* where the rule starts in the policy text */
	enum bl_direction direction;
	struct bl_policy_match match;
	struct bl_policy_action action;
};

struct bl_policy;

/* Loads a policy file; list files are read relative to its folder.
 * Returns the policy, or NULL with errno set (EINVAL when refused, with
 * err filled; ENOMEM). err may be NULL. */
struct bl_policy *bl_policy_load(const char *path, struct bl_policy_err *err);

/* Loads a policy from text; name is used in messages. List files are asked
 * from files (NULL: a policy naming files is refused). */
struct bl_policy *bl_policy_load_text(const char *name, const char *text, size_t len,
				      const struct bl_policy_files *files,
				      struct bl_policy_err *err);

void bl_policy_free(struct bl_policy *p);

uint32_t bl_policy_nlists(const struct bl_policy *p);
const struct bl_policy_list *bl_policy_list(const struct bl_policy *p, uint32_t i);
/* Index of the list named name, or -ENOENT. */
int bl_policy_list_find(const struct bl_policy *p, const char *name);
uint32_t bl_policy_nrules(const struct bl_policy *p);
const struct bl_policy_rule *bl_policy_rule(const struct bl_policy *p, uint32_t i);
enum bl_action_kind bl_policy_default(const struct bl_policy *p);
/* Total list entries (after deduplication). */
uint64_t bl_policy_nentries(const struct bl_policy *p);

/* SHA-256 of the policy's canonical form: equal for policies that say the
 * same thing (comments, layout, list order and entry order of prefix and
 * domain lists do not count). */
const uint8_t *bl_policy_hash(const struct bl_policy *p);
/* The hash as 64 hex digits and a NUL. */
void bl_policy_hash_hex(const struct bl_policy *p, char out[65]);

/* "FILE:LINE:COLUMN: error: MESSAGE" into buf; returns snprintf's result. */
int bl_policy_diag_format(const struct bl_policy_diag *d, char *buf, size_t len);

const char *bl_action_kind_name(enum bl_action_kind k);

/* The candidate nearest to word by Damerau-Levenshtein distance when close
 * enough to be a likely typo, else NULL. */
const char *bl_suggest(const char *word, const char *const *candidates, size_t n);

#endif /* BL_CONTROL_POLICY_H */
