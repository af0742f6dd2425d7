/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy loader: the tree of the hardened YAML reader checked against
 * the language (version, lists, rules, default), normalized into one
 * immutable struct bl_policy. Every error is reported with its position and
 * the load goes on to find more; any error means no policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_int.h"

static const char *const top_keys[] = { "version", "lists", "rules", "default" };
static const char *const rule_keys[] = { "name", "direction", "match", "action" };
static const char *const match_keys[] = {
	"src", "dst", "proto", "sport", "dport", "vlan", "domain", "pattern",
};
static const char *const directions[] = { "any", "inbound", "outbound" };
static const char *const action_words[] = {
	"allow", "drop", "reject", "log", "rate-limit", "quota",
};
static const char *const default_words[] = { "allow", "drop", "reject" };
static const char *const rate_keys[] = { "rate", "burst", "per", "subscriber-prefix6" };
static const char *const quota_keys[] = { "bytes", "period", "then", "per", "subscriber-prefix6" };
static const char *const period_keys[] = { "rolling", "calendar", "timezone" };
static const char *const calendars[] = { "day", "week", "month" };
static const char *const pers[] = { "subscriber", "rule" };
static const char *const then_words[] = { "drop", "reject", "rate-limit" };

static const struct {
	const char *name;
	uint8_t number;
} protocols[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmpv6", 58 }, { "sctp", 132 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

void node_error(struct loader *L, const struct node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(&L->d, BL_POLICY_ERROR, L->file, n->line, n->col, fmt, ap);
	va_end(ap);
}

static void node_warning(struct loader *L, const struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void node_warning(struct loader *L, const struct node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(&L->d, BL_POLICY_WARNING, L->file, n->line, n->col, fmt, ap);
	va_end(ap);
}

bool node_is_null(const struct node *n)
{
	return n->kind == NODE_SCALAR && n->plain &&
	       (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0);
}

const char *node_kind_name(const struct node *n)
{
	if (node_is_null(n))
		return "nothing";
	return n->kind == NODE_MAP ? "a mapping" : n->kind == NODE_SEQ ? "a sequence" : "a value";
}

bool expect_kind(struct loader *L, const struct node *n, enum node_kind k, const char *what)
{
	if (n->kind == k && !(k == NODE_SCALAR && node_is_null(n)))
		return true;
	node_error(L, n, "expected %s, got %s", what, node_kind_name(n));
	return false;
}

struct node *map_get(const struct node *map, const char *key)
{
	for (struct node *k = map->first; k; k = k->next->next)
		if (strcmp(k->str, key) == 0)
			return k->next;
	return NULL;
}

/* Joins words as "a, b or c" for messages. */
static const char *join(char *buf, size_t len, const char *const *w, size_t n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i == 0	     ? ""
					: i + 1 == n ? " or "
						     : ", ",
					w[i]);
	return buf;
}

/* "unknown WHAT "x"[ WHERE] (did you mean "y"?)", else the expected words. */
static void unknown_word_in(struct loader *L, const struct node *n, const char *what,
			    const char *where, const char *const *words, size_t nwords)
{
	const char *s = bl_suggest(n->str, words, nwords);
	char buf[256];

	if (s)
		node_error(L, n, "unknown %s \"%.64s\"%s (did you mean \"%s\"?)", what, n->str,
			   where, s);
	else
		node_error(L, n, "unknown %s \"%.64s\"%s (expected %s)", what, n->str, where,
			   join(buf, sizeof(buf), words, nwords));
}

static void unknown_word(struct loader *L, const struct node *n, const char *what,
			 const char *const *words, size_t nwords)
{
	unknown_word_in(L, n, what, "", words, nwords);
}

void check_keys(struct loader *L, const struct node *map, const char *const *allowed, size_t n,
		const char *where)
{
	char in[64];

	snprintf(in, sizeof(in), " in %s", where);
	for (const struct node *k = map->first; k; k = k->next->next) {
		bool ok = false;

		for (size_t i = 0; i < n && !ok; i++)
			ok = strcmp(k->str, allowed[i]) == 0;
		if (!ok)
			unknown_word_in(L, k, "key", in, allowed, n);
	}
}

/* Index of word in words, or -1 after an error naming the nearest. */
static int word_index(struct loader *L, const struct node *n, const char *what,
		      const char *const *words, size_t nwords)
{
	char buf[256];

	if (!expect_kind(L, n, NODE_SCALAR, join(buf, sizeof(buf), words, nwords)))
		return -1;
	for (size_t i = 0; i < nwords; i++)
		if (strcmp(n->str, words[i]) == 0)
			return (int)i;
	unknown_word(L, n, what, words, nwords);
	return -1;
}

/* Letters first, then letters, digits, '-', '_', '.'. */
bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BL_POLICY_MAX_NAME ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Decimal digits only, without overflow. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return false;
	}
	*out = v;
	return true;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* NUMBER UNIT, the unit one of units[]; false on any other text. */
static bool parse_quantity(const char *s, const struct unit *units, size_t nunits, uint64_t *out)
{
	size_t digits = strspn(s, "0123456789");
	uint64_t v;

	if (!parse_u64(s, digits, &v))
		return false;
	for (size_t i = 0; i < nunits; i++)
		if (strcmp(s + digits, units[i].name) == 0)
			return !__builtin_mul_overflow(v, units[i].mult, out);
	return false;
}

static const struct unit rate_units[] = {
	{ "bit", 1 },
	{ "kbit", 1000 },
	{ "Kbit", 1000 },
	{ "Mbit", 1000000 },
	{ "mbit", 1000000 },
	{ "Gbit", 1000000000 },
	{ "gbit", 1000000000 },
	{ "Tbit", 1000000000000 },
	{ "bit/s", 1 },
	{ "kbit/s", 1000 },
	{ "Kbit/s", 1000 },
	{ "Mbit/s", 1000000 },
	{ "Gbit/s", 1000000000 },
	{ "Tbit/s", 1000000000000 },
	{ "bps", 1 },
	{ "kbps", 1000 },
	{ "Kbps", 1000 },
	{ "Mbps", 1000000 },
	{ "Gbps", 1000000000 },
	{ "Tbps", 1000000000000 },
};

static const struct unit size_units[] = {
	{ "B", 1 },
	{ "kB", 1000 },
	{ "KB", 1000 },
	{ "MB", 1000000 },
	{ "GB", 1000000000 },
	{ "TB", 1000000000000 },
	{ "KiB", 1ull << 10 },
	{ "MiB", 1ull << 20 },
	{ "GiB", 1ull << 30 },
	{ "TiB", 1ull << 40 },
};

static const struct unit time_units[] = {
	{ "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 }, { "w", 604800 },
};

#define MAX_RATE_BPS  10000000000000ull /* 10 Tbit/s */
#define MAX_BYTES     (1ull << 60)
#define MIN_BURST     1514u /* one full Ethernet frame */
#define MAX_ROLLING_S (366ull * 86400)

static bool get_rate(struct loader *L, const struct node *n, uint64_t *out)
{
	if (!expect_kind(L, n, NODE_SCALAR, "a rate like \"10Mbit\""))
		return false;
	if (!parse_quantity(n->str, rate_units, N(rate_units), out) || *out == 0 ||
	    *out > MAX_RATE_BPS) {
		node_error(
			L, n,
			"invalid rate \"%.64s\": expected bits per second from 1bit to 10Tbit, like \"10Mbit\"",
			n->str);
		return false;
	}
	return true;
}

static bool get_bytes(struct loader *L, const struct node *n, const char *what, uint64_t min,
		      uint64_t *out)
{
	if (!expect_kind(L, n, NODE_SCALAR, "a size like \"5GB\""))
		return false;
	if (!parse_quantity(n->str, size_units, N(size_units), out) || *out > MAX_BYTES) {
		node_error(
			L, n,
			"invalid %s \"%.64s\": expected bytes with a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), like \"5GB\"",
			what, n->str);
		return false;
	}
	if (*out < min) {
		node_error(L, n, "%s \"%.64s\" too small (at least %llu bytes)", what, n->str,
			   (unsigned long long)min);
		return false;
	}
	return true;
}

/* "24h", "1h30m", "7d": one or more NUMBER UNIT. */
static bool get_duration(struct loader *L, const struct node *n, uint64_t *out)
{
	const char *s;
	uint64_t total = 0;

	if (!expect_kind(L, n, NODE_SCALAR, "a duration like \"24h\""))
		return false;
	s = n->str;
	do {
		size_t digits = strspn(s, "0123456789");
		uint64_t v, mult = 0;

		if (digits > 0 && parse_u64(s, digits, &v))
			for (size_t i = 0; i < N(time_units); i++)
				if (s[digits] == time_units[i].name[0])
					mult = time_units[i].mult;
		if (mult == 0 || __builtin_mul_overflow(v, mult, &v) ||
		    __builtin_add_overflow(total, v, &total)) {
			total = 0;
			break;
		}
		s += digits + 1;
	} while (*s);
	if (total < 60 || total > MAX_ROLLING_S) {
		node_error(
			L, n,
			"invalid duration \"%.64s\": expected 1m to 366d written with s, m, h, d or w, like \"24h\"",
			n->str);
		return false;
	}
	*out = total;
	return true;
}

/* IANA zone names ("Europe/Paris", "UTC"), checked for shape only: the
 * daemon resolves them with the host's tzdata. */
static bool get_timezone(struct loader *L, const struct node *n, const char **out)
{
	const char *s;
	bool ok;

	if (!expect_kind(L, n, NODE_SCALAR, "a timezone like \"Europe/Paris\""))
		return false;
	s = n->str;
	ok = n->len > 0 && n->len <= 64 && s[0] != '/' && s[n->len - 1] != '/' &&
	     !strstr(s, "..") && !strstr(s, "//") && s[0] != '.';
	for (size_t i = 0; ok && i < n->len; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		     (s[i] >= '0' && s[i] <= '9') || strchr("/_+-.", s[i]);
	if (!ok) {
		node_error(
			L, n,
			"invalid timezone \"%.64s\": expected an IANA name like \"Europe/Paris\" or \"UTC\"",
			s);
		return false;
	}
	*out = arena_strndup(&L->p->arena, s, n->len);
	L->oom |= !*out;
	return *out != NULL;
}

/* per and subscriber-prefix6, shared by rate-limit and quota. */
static bool get_per(struct loader *L, const struct node *map, enum bl_meter_per *per, uint8_t *p6)
{
	const struct node *pn = map_get(map, "per"), *sn = map_get(map, "subscriber-prefix6");
	uint64_t v;

	*per = BL_PER_SUBSCRIBER;
	*p6 = 64;
	if (pn) {
		int i = word_index(L, pn, "meter owner", pers, N(pers));

		if (i < 0)
			return false;
		*per = (enum bl_meter_per)i;
	}
	if (!sn)
		return true;
	if (*per != BL_PER_SUBSCRIBER) {
		node_error(L, sn, "subscriber-prefix6 applies only with \"per: subscriber\"");
		return false;
	}
	if (!expect_kind(L, sn, NODE_SCALAR, "a prefix length from 1 to 128"))
		return false;
	if (!parse_u64(sn->str, sn->len, &v) || v < 1 || v > 128) {
		node_error(
			L, sn,
			"invalid subscriber-prefix6 \"%.64s\": expected a prefix length from 1 to 128",
			sn->str);
		return false;
	}
	*p6 = (uint8_t)v;
	return true;
}

/* rate-limit: {rate, burst, per, subscriber-prefix6}. The default burst is
 * 100 ms at the rate, at least two full frames. */
static bool parse_rate_limit(struct loader *L, const struct node *n, struct bl_rate_limit *rl)
{
	const struct node *rate, *burst;
	bool ok;

	if (!expect_kind(L, n, NODE_MAP, "rate-limit parameters like {rate: \"10Mbit\"}"))
		return false;
	check_keys(L, n, rate_keys, N(rate_keys), "rate-limit");
	rate = map_get(n, "rate");
	burst = map_get(n, "burst");
	if (!rate) {
		node_error(L, n, "rate-limit needs a rate, like \"rate: 10Mbit\"");
		return false;
	}
	ok = get_rate(L, rate, &rl->rate_bps);
	if (burst)
		ok &= get_bytes(L, burst, "burst", MIN_BURST, &rl->burst_bytes);
	else if (ok)
		rl->burst_bytes =
			rl->rate_bps / 80 > 2 * MIN_BURST ? rl->rate_bps / 80 : 2 * MIN_BURST;
	ok &= get_per(L, n, &rl->per, &rl->subscriber_prefix6);
	return ok;
}

/* period: {rolling: DURATION} or {calendar: day|week|month, timezone: ZONE}. */
static bool parse_period(struct loader *L, const struct node *n, struct bl_quota *q)
{
	const struct node *rolling, *cal, *tz;
	int i;

	if (!expect_kind(L, n, NODE_MAP, "a period like {rolling: \"24h\"} or {calendar: month}"))
		return false;
	check_keys(L, n, period_keys, N(period_keys), "period");
	rolling = map_get(n, "rolling");
	cal = map_get(n, "calendar");
	tz = map_get(n, "timezone");
	if (rolling && cal) {
		node_error(L, cal, "a period is either rolling or calendar, not both");
		return false;
	}
	if (rolling) {
		if (tz) {
			node_error(L, tz, "timezone applies only to a calendar period");
			return false;
		}
		q->period = BL_PERIOD_ROLLING;
		return get_duration(L, rolling, &q->rolling_s);
	}
	if (!cal) {
		node_error(L, n,
			   "period needs \"rolling: DURATION\" or \"calendar: day|week|month\"");
		return false;
	}
	q->period = BL_PERIOD_CALENDAR;
	i = word_index(L, cal, "calendar period", calendars, N(calendars));
	if (i < 0)
		return false;
	q->calendar = (enum bl_calendar)i;
	if (!tz) {
		q->timezone = "UTC";
		return true;
	}
	return get_timezone(L, tz, &q->timezone);
}

/* then: drop | reject | {rate-limit: {...}} */
static bool parse_then(struct loader *L, const struct node *n, struct bl_quota *q)
{
	const struct node *word = n;

	if (n->kind == NODE_MAP) {
		if (n->n != 2) {
			node_error(
				L, n,
				"expected one action after a quota (drop, reject or rate-limit)");
			return false;
		}
		word = n->first;
	}
	int i = word_index(L, word, "action after a quota", then_words, N(then_words));

	if (i < 0)
		return false;
	if (i < 2) {
		if (n->kind == NODE_MAP) {
			node_error(L, word, "\"%s\" takes no parameters", word->str);
			return false;
		}
		q->then = i == 0 ? BL_ACT_DROP : BL_ACT_REJECT;
		return true;
	}
	if (n->kind != NODE_MAP) {
		node_error(
			L, n,
			"rate-limit needs parameters, like \"then: {rate-limit: {rate: 1Mbit}}\"");
		return false;
	}
	q->then = BL_ACT_RATE_LIMIT;
	return parse_rate_limit(L, word->next, &q->then_rate);
}

/* quota: {bytes, period, then, per, subscriber-prefix6}. */
static bool parse_quota(struct loader *L, const struct node *n, struct bl_quota *q)
{
	const struct node *bytes, *period, *then;
	bool ok = true;

	if (!expect_kind(
		    L, n, NODE_MAP,
		    "quota parameters like {bytes: \"5GB\", period: {rolling: \"24h\"}, then: drop}"))
		return false;
	check_keys(L, n, quota_keys, N(quota_keys), "quota");
	bytes = map_get(n, "bytes");
	period = map_get(n, "period");
	then = map_get(n, "then");
	if (!bytes || !period || !then) {
		node_error(L, n, "quota needs %s",
			   !bytes    ? "bytes, like \"bytes: 5GB\""
			   : !period ? "a period, like \"period: {rolling: 24h}\""
				     : "then: drop, reject or rate-limit");
		return false;
	}
	ok &= get_bytes(L, bytes, "quota", 1, &q->bytes);
	ok &= parse_period(L, period, q);
	ok &= parse_then(L, then, q);
	ok &= get_per(L, n, &q->per, &q->subscriber_prefix6);
	return ok;
}

/* An action is a word, or a one-key mapping from a word to its parameters. */
static bool parse_action(struct loader *L, const struct node *n, struct bl_policy_action *a)
{
	const struct node *word = n;
	int i;

	if (n->kind == NODE_SEQ) {
		node_error(
			L, n,
			"expected one action (allow, drop, reject, log, rate-limit or quota), got a sequence");
		return false;
	}
	if (n->kind == NODE_MAP) {
		if (n->n != 2) {
			node_error(
				L, n->n ? n->first->next->next : n,
				"expected one action, like \"action: {rate-limit: {rate: 10Mbit}}\"");
			return false;
		}
		word = n->first;
	}
	i = word_index(L, word, "action", action_words, N(action_words));
	if (i < 0)
		return false;
	a->kind = (enum bl_action_kind)i;
	if (a->kind != BL_ACT_RATE_LIMIT && a->kind != BL_ACT_QUOTA) {
		if (n->kind == NODE_MAP && !node_is_null(word->next)) {
			node_error(L, word->next, "\"%s\" takes no parameters", word->str);
			return false;
		}
		return true;
	}
	if (n->kind != NODE_MAP) {
		node_error(L, n, "%s needs parameters, like \"action: {%s}\"", word->str,
			   a->kind == BL_ACT_RATE_LIMIT
				   ? "rate-limit: {rate: 10Mbit}"
				   : "quota: {bytes: 5GB, period: {rolling: 24h}, then: drop}");
		return false;
	}
	if (a->kind == BL_ACT_RATE_LIMIT)
		return parse_rate_limit(L, word->next, &a->rate);
	return parse_quota(L, word->next, &a->quota);
}

/* Values of a match field: one scalar or a non-empty sequence of them. */
#define FOR_VALUES(L, field, what, v)                                                              \
	for (const struct node *v = values_first(L, field, what); v;                               \
	     v = field->kind == NODE_SEQ ? v->next : NULL)

static const struct node *values_first(struct loader *L, const struct node *f, const char *what)
{
	if (f->kind == NODE_SEQ && f->n == 0) {
		node_error(L, f, "expected %s or a list of them, got an empty sequence", what);
		return NULL;
	}
	if (f->kind == NODE_MAP || node_is_null(f)) {
		node_error(L, f, "expected %s or a list of them, got %s", what, node_kind_name(f));
		return NULL;
	}
	return f->kind == NODE_SEQ ? f->first : f;
}

static bool value_scalar(struct loader *L, const struct node *v, const char *what)
{
	return expect_kind(L, v, NODE_SCALAR, what);
}

/* A list reference of the wanted type; marks it used. Returns its index
 * or -1 (reported, unless the list itself was refused). */
static int64_t list_ref(struct loader *L, const struct node *v, enum bl_list_type want,
			const char *field)
{
	static const char *const tnames[] = { "prefixes", "domains", "patterns" };

	for (uint32_t i = 0; i < L->p->nlists; i++) {
		if (strcmp(L->list_names[i], v->str) != 0)
			continue;
		L->list_state[i] |= LIST_USED;
		if (L->list_state[i] & LIST_BAD)
			return -1;
		if (L->p->lists[i].type != want) {
			node_error(L, v, "list \"%.64s\" holds %s; %s needs a %s list", v->str,
				   tnames[L->p->lists[i].type], field, tnames[want]);
			return -1;
		}
		return i;
	}
	const char *s = L->p->nlists ? bl_suggest(v->str, L->list_names, L->p->nlists) : NULL;

	if (s)
		node_error(L, v, "unknown list \"%.64s\" (did you mean \"%s\"?)", v->str, s);
	else
		node_error(L, v, "unknown list \"%.64s\"", v->str);
	return -1;
}

/* Copies a vec's elements into the policy arena. */
static const void *vec_keep(struct loader *L, struct vec *v, uint32_t *n)
{
	void *out = NULL;

	*n = (uint32_t)v->n;
	if (v->n) {
		out = arena_memdup(&L->p->arena, v->v, v->n * v->size);
		L->oom |= !out;
	}
	vec_release(v);
	return out;
}

/* src/dst: a prefix (starts with a digit or holds ':'), else a list name.
 * Returns the families matched (bit 0 IPv4, bit 1 IPv6). */
static uint8_t parse_addr(struct loader *L, const struct node *f, const char *field,
			  struct bl_addr_match *m)
{
	struct vec pfx = { .size = sizeof(struct bl_prefix) }, lists = { .size = sizeof(uint32_t) };
	uint8_t fam = 0;

	FOR_VALUES(L, f, "a prefix or a list name", v)
	{
		char why[256];

		if (!value_scalar(L, v, "a prefix or a list name"))
			continue;
		if ((v->str[0] >= '0' && v->str[0] <= '9') || strchr(v->str, ':')) {
			struct bl_prefix p, *slot;

			if (prefix_parse(v->str, v->len, &p, why, sizeof(why)) < 0) {
				node_error(L, v, "%s", why);
				continue;
			}
			slot = vec_push(&pfx);
			if (!slot) {
				L->oom = true;
				break;
			}
			*slot = p;
			fam |= p.family == 4 ? 1 : 2;
			continue;
		}
		int64_t idx = list_ref(L, v, BL_LIST_PREFIXES, field);
		uint32_t *slot;

		if (idx < 0) {
			fam = 3;
			continue;
		}
		slot = vec_push(&lists);
		if (!slot) {
			L->oom = true;
			break;
		}
		*slot = (uint32_t)idx;
		fam |= list_families(&L->p->lists[idx]);
	}
	if (pfx.n > 1)
		qsort(pfx.v, pfx.n, pfx.size, prefix_cmp);
	m->prefixes = vec_keep(L, &pfx, &m->nprefixes);
	m->lists = vec_keep(L, &lists, &m->nlists);
	return fam;
}

static void parse_lists_field(struct loader *L, const struct node *f, const char *field,
			      enum bl_list_type t, const uint32_t **out, uint32_t *n)
{
	struct vec v = { .size = sizeof(uint32_t) };

	FOR_VALUES(L, f, "a list name", e)
	{
		if (!value_scalar(L, e, "a list name"))
			continue;
		int64_t idx = list_ref(L, e, t, field);
		uint32_t *slot;

		if (idx < 0)
			continue;
		slot = vec_push(&v);
		if (!slot) {
			L->oom = true;
			break;
		}
		*slot = (uint32_t)idx;
	}
	*out = vec_keep(L, &v, n);
}

/* Protocols by name or number; returns whether every one has ports. */
static bool parse_protos(struct loader *L, const struct node *f, struct bl_policy_match *m)
{
	static const char *const names[] = { "icmp", "tcp", "udp", "icmpv6", "sctp" };
	struct vec v = { .size = 1 };
	bool ports = true;

	FOR_VALUES(L, f, "a protocol", e)
	{
		uint64_t num = 256;
		uint8_t *slot;

		if (!value_scalar(L, e, "a protocol (tcp, udp, icmp, icmpv6, sctp or a number)"))
			continue;
		for (size_t i = 0; i < N(protocols); i++)
			if (strcmp(e->str, protocols[i].name) == 0)
				num = protocols[i].number;
		if (num == 256 && e->str[0] >= '0' && e->str[0] <= '9' &&
		    (!parse_u64(e->str, e->len, &num) || num > 255)) {
			node_error(L, e, "invalid protocol number \"%.64s\" (expected 0 to 255)",
				   e->str);
			continue;
		}
		if (num == 256) {
			unknown_word(L, e, "protocol", names, N(names));
			continue;
		}
		ports &= num == 6 || num == 17 || num == 132;
		slot = vec_push(&v);
		if (!slot) {
			L->oom = true;
			break;
		}
		*slot = (uint8_t)num;
	}
	m->protos = vec_keep(L, &v, &m->nprotos);
	return ports;
}

static bool parse_port(const char *s, size_t n, uint16_t *out)
{
	uint64_t v;

	if (!parse_u64(s, n, &v) || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static void parse_ports(struct loader *L, const struct node *f, const struct bl_port_range **out,
			uint32_t *n)
{
	struct vec v = { .size = sizeof(struct bl_port_range) };

	FOR_VALUES(L, f, "a port or a range", e)
	{
		struct bl_port_range r, *slot;
		const char *dash;

		if (!value_scalar(L, e, "a port or a range like \"1024-65535\""))
			continue;
		dash = strchr(e->str, '-');
		if (dash ? !parse_port(e->str, (size_t)(dash - e->str), &r.lo) ||
				    !parse_port(dash + 1, strlen(dash + 1), &r.hi)
			 : !parse_port(e->str, e->len, &r.lo)) {
			node_error(
				L, e,
				"invalid port \"%.64s\" (expected a number from 0 to 65535 or a range like \"1024-65535\")",
				e->str);
			continue;
		}
		if (!dash)
			r.hi = r.lo;
		if (r.lo > r.hi) {
			node_error(
				L, e,
				"empty port range \"%.64s\": the first port is higher than the last",
				e->str);
			continue;
		}
		slot = vec_push(&v);
		if (!slot) {
			L->oom = true;
			break;
		}
		*slot = r;
	}
	*out = vec_keep(L, &v, n);
}

static void parse_vlans(struct loader *L, const struct node *f, struct bl_policy_match *m)
{
	struct vec v = { .size = sizeof(uint16_t) };

	FOR_VALUES(L, f, "a VLAN id", e)
	{
		uint64_t id;
		uint16_t *slot;

		if (!value_scalar(L, e, "a VLAN id"))
			continue;
		if (!parse_u64(e->str, e->len, &id) || id < 1 || id > 4094) {
			node_error(L, e, "invalid VLAN id \"%.64s\" (expected 1 to 4094)", e->str);
			continue;
		}
		slot = vec_push(&v);
		if (!slot) {
			L->oom = true;
			break;
		}
		*slot = (uint16_t)id;
	}
	m->vlans = vec_keep(L, &v, &m->nvlans);
}

static void parse_match(struct loader *L, const struct node *n, struct bl_policy_match *m)
{
	const struct node *f, *proto = map_get(n, "proto");
	bool ports_ok = true;
	uint8_t fsrc = 3, fdst = 3;

	check_keys(L, n, match_keys, N(match_keys), "match");
	if ((f = map_get(n, "src")))
		fsrc = parse_addr(L, f, "src", &m->src);
	if ((f = map_get(n, "dst")))
		fdst = parse_addr(L, f, "dst", &m->dst);
	if (fsrc && fdst && !(fsrc & fdst))
		node_error(L, map_get(n, "dst"),
			   "dst is %s only and src %s only: the rule can never match",
			   fdst == 1 ? "IPv4" : "IPv6", fsrc == 1 ? "IPv4" : "IPv6");
	if (proto)
		ports_ok = parse_protos(L, proto, m);
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "dport" : "sport";

		if (!(f = map_get(n, key)))
			continue;
		if (!proto || !ports_ok) {
			node_error(L, f,
				   "%s needs \"proto: tcp\", \"udp\" or \"sctp\" in the same match",
				   key);
			continue;
		}
		parse_ports(L, f, i ? &m->dports : &m->sports, i ? &m->ndports : &m->nsports);
	}
	if ((f = map_get(n, "vlan")))
		parse_vlans(L, f, m);
	if ((f = map_get(n, "domain")))
		parse_lists_field(L, f, "domain", BL_LIST_DOMAINS, &m->domain_lists,
				  &m->ndomain_lists);
	if ((f = map_get(n, "pattern")))
		parse_lists_field(L, f, "pattern", BL_LIST_PATTERNS, &m->pattern_lists,
				  &m->npattern_lists);
}

/* Matches every packet in every direction. */
static bool match_all(const struct bl_policy_rule *r)
{
	const struct bl_policy_match *m = &r->match;

	return r->direction == BL_DIR_ANY && !m->src.nprefixes && !m->src.nlists &&
	       !m->dst.nprefixes && !m->dst.nlists && !m->nprotos && !m->nsports && !m->ndports &&
	       !m->nvlans && !m->ndomain_lists && !m->npattern_lists;
}

static void parse_rule(struct loader *L, const struct node *n, struct bl_policy_rule *r)
{
	const struct node *name, *dir, *match, *action;
	int i;

	r->line = n->line;
	r->name = "";
	if (!expect_kind(L, n, NODE_MAP, "a rule (name, direction, match, action)"))
		return;
	check_keys(L, n, rule_keys, N(rule_keys), "rule");
	name = map_get(n, "name");
	dir = map_get(n, "direction");
	match = map_get(n, "match");
	action = map_get(n, "action");
	if (!name)
		node_error(L, n, "rule needs a name (its identity for counters and meters)");
	else if (expect_kind(L, name, NODE_SCALAR, "a rule name")) {
		if (!name_valid(name->str))
			node_error(
				L, name,
				"invalid rule name \"%.64s\": expected a letter, then letters, digits, '-', '_' or '.' (at most %u)",
				name->str, BL_POLICY_MAX_NAME);
		r->name = arena_strndup(&L->p->arena, name->str, name->len);
		L->oom |= !r->name;
	}
	if (dir && (i = word_index(L, dir, "direction", directions, N(directions))) >= 0)
		r->direction = (enum bl_direction)i;
	if (match && expect_kind(L, match, NODE_MAP,
				 "a match (src, dst, proto, sport, dport, vlan, domain, pattern)"))
		parse_match(L, match, &r->match);
	if (!action)
		node_error(L, n,
			   "rule needs an action (allow, drop, reject, log, rate-limit or quota)");
	else
		parse_action(L, action, &r->action);
}

static int rule_name_cmp(const void *a, const void *b)
{
	const struct bl_policy_rule *x = *(const struct bl_policy_rule *const *)a;
	const struct bl_policy_rule *y = *(const struct bl_policy_rule *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->line < y->line ? -1 : x->line > y->line;
}

static void parse_rules(struct loader *L, const struct node *rules, const struct node **rnodes)
{
	struct bl_policy *p = L->p;
	const struct bl_policy_rule **sorted;
	const struct bl_policy_rule *catch_all = NULL;
	uint32_t i = 0;

	if (rules->n > BL_POLICY_MAX_RULES) {
		node_error(L, rules, "too many rules (%u, at most %u)", rules->n,
			   BL_POLICY_MAX_RULES);
		return;
	}
	p->rules = arena_alloc(&p->arena, (rules->n + 1) * sizeof(*p->rules));
	sorted = arena_alloc(&L->tree, (rules->n + 1) * sizeof(*sorted));
	if (!p->rules || !sorted) {
		L->oom = true;
		return;
	}
	p->nrules = rules->n;
	for (const struct node *n = rules->first; n && !L->oom; n = n->next, i++) {
		struct bl_policy_rule *r = &p->rules[i];

		rnodes[i] = n;
		parse_rule(L, n, r);
		sorted[i] = r;
		if (catch_all)
			node_warning(
				L, n,
				"rule \"%s\" is never reached: rule \"%s\" at line %u matches everything",
				r->name, catch_all->name, catch_all->line);
		else if (match_all(r) && r->action.kind != BL_ACT_LOG && r->name[0])
			catch_all = r;
	}
	/* names are identities: duplicates refused, reported at the later one */
	qsort(sorted, i, sizeof(*sorted), rule_name_cmp);
	for (uint32_t k = 1; k < i; k++)
		if (sorted[k]->name[0] && strcmp(sorted[k]->name, sorted[k - 1]->name) == 0) {
			const struct node *dup = rnodes[sorted[k] - p->rules];

			node_error(L, map_get(dup, "name"),
				   "duplicate rule name \"%s\" (first at line %u)", sorted[k]->name,
				   sorted[k - 1]->line);
		}
}

/* The canonical form, hashed: lists by name, rules in order, list
 * references by name, every number fixed-width. */
static void h_u64(struct sha256 *s, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	sha256_update(s, b, 8);
}

static void h_str(struct sha256 *s, const char *str)
{
	size_t n = strlen(str);

	h_u64(s, n);
	sha256_update(s, str, n);
}

static void h_rate(struct sha256 *s, const struct bl_rate_limit *r)
{
	h_u64(s, r->rate_bps);
	h_u64(s, r->burst_bytes);
	h_u64(s, r->per);
	h_u64(s, r->subscriber_prefix6);
}

static void h_refs(struct sha256 *s, const struct bl_policy *p, const uint32_t *refs, uint32_t n)
{
	h_u64(s, n);
	for (uint32_t i = 0; i < n; i++)
		h_str(s, p->lists[refs[i]].name);
}

static void h_addr(struct sha256 *s, const struct bl_policy *p, const struct bl_addr_match *m)
{
	h_u64(s, m->nprefixes);
	sha256_update(s, m->prefixes, m->nprefixes * sizeof(*m->prefixes));
	h_refs(s, p, m->lists, m->nlists);
}

static int list_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct bl_policy_list *const *)a)->name,
		      (*(const struct bl_policy_list *const *)b)->name);
}

static int policy_hash(struct bl_policy *p)
{
	const struct bl_policy_list **byname = calloc(p->nlists + 1, sizeof(*byname));
	struct sha256 s;

	if (!byname)
		return -ENOMEM;
	sha256_init(&s);
	h_str(&s, "brightline-policy-1");
	h_u64(&s, p->deflt);
	h_u64(&s, p->nlists);
	for (uint32_t i = 0; i < p->nlists; i++)
		byname[i] = &p->lists[i];
	qsort(byname, p->nlists, sizeof(*byname), list_ptr_cmp);
	for (uint32_t i = 0; i < p->nlists; i++) {
		const struct bl_policy_list *l = byname[i];

		h_str(&s, l->name);
		h_u64(&s, l->type);
		h_u64(&s, l->n);
		for (uint32_t k = 0; k < l->n; k++) {
			if (l->type == BL_LIST_PREFIXES) {
				sha256_update(&s, &l->prefixes[k], sizeof(l->prefixes[k]));
			} else if (l->type == BL_LIST_DOMAINS) {
				h_str(&s, l->domains[k].name);
				h_u64(&s, l->domains[k].subdomains);
			} else {
				h_str(&s, l->patterns[k]);
			}
		}
	}
	free(byname);
	h_u64(&s, p->nrules);
	for (uint32_t i = 0; i < p->nrules; i++) {
		const struct bl_policy_rule *r = &p->rules[i];
		const struct bl_policy_match *m = &r->match;
		const struct bl_policy_action *a = &r->action;

		h_str(&s, r->name);
		h_u64(&s, r->direction);
		h_addr(&s, p, &m->src);
		h_addr(&s, p, &m->dst);
		h_u64(&s, m->nprotos);
		sha256_update(&s, m->protos, m->nprotos);
		h_u64(&s, m->nsports);
		sha256_update(&s, m->sports, m->nsports * sizeof(*m->sports));
		h_u64(&s, m->ndports);
		sha256_update(&s, m->dports, m->ndports * sizeof(*m->dports));
		h_u64(&s, m->nvlans);
		sha256_update(&s, m->vlans, m->nvlans * sizeof(*m->vlans));
		h_refs(&s, p, m->domain_lists, m->ndomain_lists);
		h_refs(&s, p, m->pattern_lists, m->npattern_lists);
		h_u64(&s, a->kind);
		if (a->kind == BL_ACT_RATE_LIMIT)
			h_rate(&s, &a->rate);
		if (a->kind == BL_ACT_QUOTA) {
			const struct bl_quota *q = &a->quota;

			h_u64(&s, q->bytes);
			h_u64(&s, q->period);
			h_u64(&s, q->period == BL_PERIOD_ROLLING ? q->rolling_s : q->calendar);
			h_str(&s, q->period == BL_PERIOD_CALENDAR ? q->timezone : "");
			h_u64(&s, q->per);
			h_u64(&s, q->subscriber_prefix6);
			h_u64(&s, q->then);
			if (q->then == BL_ACT_RATE_LIMIT)
				h_rate(&s, &q->then_rate);
		}
	}
	return sha256_final(&s, p->hash);
}

/* The top-level mapping: version, lists, rules, default. */
static void parse_policy(struct loader *L, const struct node *root)
{
	const struct node *version, *lists, *rules, *deflt;
	int i;

	if (root->kind != NODE_MAP) {
		node_error(L, root,
			   "expected a mapping with version, lists, rules and default, got %s",
			   node_kind_name(root));
		return;
	}
	check_keys(L, root, top_keys, N(top_keys), "policy");
	version = map_get(root, "version");
	lists = map_get(root, "lists");
	rules = map_get(root, "rules");
	deflt = map_get(root, "default");
	if (!version)
		node_error(L, root, "policy needs \"version: 1\"");
	else if (expect_kind(L, version, NODE_SCALAR, "version 1") &&
		 strcmp(version->str, "1") != 0)
		node_error(L, version,
			   "unsupported version \"%.64s\" (this brightline reads version 1)",
			   version->str);
	if (lists && !node_is_null(lists) &&
	    expect_kind(L, lists, NODE_MAP, "a mapping of list names to lists"))
		lists_parse(L, lists);
	if (!L->list_state) {
		L->list_state = arena_alloc(&L->tree, 1);
		L->list_names = arena_alloc(&L->tree, sizeof(*L->list_names));
		L->oom |= !L->list_state || !L->list_names;
	}
	if (L->oom)
		return;
	if (rules && !node_is_null(rules) &&
	    expect_kind(L, rules, NODE_SEQ, "a sequence of rules")) {
		const struct node **rnodes =
			arena_alloc(&L->tree, (rules->n + 1) * sizeof(*rnodes));

		if (!rnodes) {
			L->oom = true;
			return;
		}
		parse_rules(L, rules, rnodes);
	}
	if (!deflt)
		node_error(L, root,
			   "policy needs a default action (\"default: drop\", allow or reject)");
	else if ((i = word_index(L, deflt, "default action", default_words, N(default_words))) >= 0)
		L->p->deflt = (enum bl_action_kind)i;
	/* unused lists are worth a warning only in an otherwise sound policy */
	if (!lists || node_is_null(lists) || lists->kind != NODE_MAP || L->d.nerrors)
		return;
	i = 0;
	for (const struct node *k = lists->first; k; k = k->next->next, i++)
		if (!(L->list_state[i] & LIST_USED))
			node_warning(L, k, "list \"%.64s\" is not used by any rule", k->str);
}

struct bl_policy *bl_policy_load_text(const char *name, const char *text, size_t len,
				      const struct bl_policy_files *files,
				      struct bl_policy_err *err)
{
	struct loader L = { .file = name ? name : "policy", .files = files, .d = { .err = err } };
	const struct node *root;
	int saved;

	if (err)
		memset(err, 0, sizeof(*err));
	L.p = calloc(1, sizeof(*L.p));
	if (!L.p)
		return NULL;
	errno = 0;
	root = yaml_tree_parse(&L.tree, &L.d, L.file, text ? text : "", text ? len : 0);
	if (!root) {
		saved = errno == ENOMEM ? ENOMEM : EINVAL;
		goto out_free;
	}
	parse_policy(&L, root);
	if (L.oom) {
		saved = ENOMEM;
		goto out_free;
	}
	if (L.d.nerrors) {
		saved = EINVAL;
		goto out_free;
	}
	if (policy_hash(L.p) < 0) {
		saved = ENOMEM;
		goto out_free;
	}
	arena_release(&L.tree);
	return L.p;

out_free:
	arena_release(&L.tree);
	bl_policy_free(L.p);
	errno = saved;
	return NULL;
}

/* The file resolver of bl_policy_load(): paths relative to the policy's
 * folder, read with a bound. */
static int dir_get(void *ctx, const char *name, size_t max_len, const char **text, size_t *len)
{
	const char *dir = ctx;
	char path[4096];
	size_t cap = 0, n = 0;
	char *buf = NULL;
	struct stat st;
	int fd, rc;

	if (name[0] == '/' || !dir[0])
		rc = snprintf(path, sizeof(path), "%s", name);
	else
		rc = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rc < 0 || (size_t)rc >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out_close;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_len) {
		rc = -EFBIG;
		goto out_close;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			size_t ncap = cap ? cap * 2
					  : (S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536);
			char *nb;

			if (cap > max_len) {
				rc = -EFBIG;
				goto out_free;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				rc = -ENOMEM;
				goto out_free;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out_free;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max_len) {
			rc = -EFBIG;
			goto out_free;
		}
	}
	close(fd);
	if (n == 0) {
		free(buf);
		buf = NULL;
	}
	*text = buf ? buf : "";
	*len = n;
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

static void dir_put(void *ctx, const char *name, const char *text, size_t len)
{
	(void)ctx;
	(void)name;
	if (len)
		free((void *)text);
}

struct bl_policy *bl_policy_load(const char *path, struct bl_policy_err *err)
{
	struct diags d = { .err = err };
	struct bl_policy_files files = { .get = dir_get, .put = dir_put };
	const char *slash = strrchr(path, '/');
	const char *text = NULL;
	struct bl_policy *p;
	size_t len = 0;
	char dir[4096];
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	files.ctx = dir;
	rc = dir_get("", path, BL_POLICY_MAX_TEXT, &text, &len);
	if (rc == -EFBIG) {
		diag_add(&d, BL_POLICY_ERROR, path, 1, 1, "policy too large (at most %u MiB)",
			 BL_POLICY_MAX_TEXT >> 20);
		errno = EINVAL;
		return NULL;
	}
	if (rc < 0) {
		diag_add(&d, BL_POLICY_ERROR, path, 1, 1, "cannot read policy: %s", strerror(-rc));
		errno = rc == -ENOMEM ? ENOMEM : EINVAL;
		return NULL;
	}
	p = bl_policy_load_text(path, text, len, &files, err);
	rc = errno;
	dir_put(NULL, path, text, len);
	errno = rc;
	return p;
}

void bl_policy_free(struct bl_policy *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; p->lists && i < p->nlists; i++)
		free((void *)p->lists[i].prefixes);
	arena_release(&p->arena);
	free(p);
}

uint32_t bl_policy_nlists(const struct bl_policy *p)
{
	return p->nlists;
}

const struct bl_policy_list *bl_policy_list(const struct bl_policy *p, uint32_t i)
{
	return i < p->nlists ? &p->lists[i] : NULL;
}

int bl_policy_list_find(const struct bl_policy *p, const char *name)
{
	for (uint32_t i = 0; i < p->nlists; i++)
		if (strcmp(p->lists[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

uint32_t bl_policy_nrules(const struct bl_policy *p)
{
	return p->nrules;
}

const struct bl_policy_rule *bl_policy_rule(const struct bl_policy *p, uint32_t i)
{
	return i < p->nrules ? &p->rules[i] : NULL;
}

enum bl_action_kind bl_policy_default(const struct bl_policy *p)
{
	return p->deflt;
}

uint64_t bl_policy_nentries(const struct bl_policy *p)
{
	return p->nentries;
}

const uint8_t *bl_policy_hash(const struct bl_policy *p)
{
	return p->hash;
}

void bl_policy_hash_hex(const struct bl_policy *p, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", p->hash[i]);
}

const char *bl_action_kind_name(enum bl_action_kind k)
{
	return (unsigned)k < N(action_words) ? action_words[k] : "?";
}
