/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy language: every class of error with its exact message and
 * position (table-driven), typo suggestions, YAML hardening, list files,
 * and the normalized content of accepted policies (order, lists, units,
 * hash).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "policy_int.h"

/* In-memory list files for bl_policy_load_text(). */
struct mem_file {
	const char *name;
	const char *text;
	int rc; /* returned instead of the text when non-zero */
};

static const struct mem_file mem_files[] = {
	{ "nets.txt", "# nets\n192.0.2.0/24\n\n198.51.100.0/24 # second\n", 0 },
	{ "bad.txt", "192.0.2.0/24\n# comment\n  10.0.0.0/33\n", 0 },
	{ "two.txt", "192.0.2.0/24 198.51.100.0/24\n", 0 },
	{ "hosts.txt", "0.0.0.0 ok.example\n0.0.0.0\n", 0 },
	{ "names.txt", "a.example b.example\n", 0 },
	{ "longline.txt", NULL, 0 },
	{ "nul.txt", "192.0.2.0/24\n19\0002.0.2.0/24\n", 0 },
	{ "pat.txt", "ok[0-9]\n# c\nbad(\n", 0 },
	{ "big.txt", NULL, -EFBIG },
};

static int mem_get(void *ctx, const char *name, size_t max_len, const char **text, size_t *len)
{
	static char longline[BL_POLICY_MAX_LINE + 10];

	(void)ctx;
	(void)max_len;
	for (size_t i = 0; i < sizeof(mem_files) / sizeof(mem_files[0]); i++) {
		if (strcmp(name, mem_files[i].name) != 0)
			continue;
		if (mem_files[i].rc)
			return mem_files[i].rc;
		if (strcmp(name, "longline.txt") == 0) {
			memset(longline, 'a', sizeof(longline) - 1);
			longline[sizeof(longline) - 1] = '\n';
			*text = longline;
			*len = sizeof(longline);
			return 0;
		}
		if (strcmp(name, "nul.txt") == 0) {
			*text = mem_files[i].text;
			*len = 26;
			return 0;
		}
		*text = mem_files[i].text;
		*len = strlen(*text);
		return 0;
	}
	return -ENOENT;
}

static const struct bl_policy_files mem = { .get = mem_get };

static struct bl_policy *load(const char *text, struct bl_policy_err *err)
{
	return bl_policy_load_text("p.yaml", text, strlen(text), &mem, err);
}

static const char *first_error(const struct bl_policy_err *err, char *buf, size_t len)
{
	for (unsigned i = 0; i < err->ndiags; i++)
		if (err->diag[i].severity == BL_POLICY_ERROR) {
			bl_policy_diag_format(&err->diag[i], buf, len);
			return buf;
		}
	return "(no error)";
}

struct err_case {
	const char *text;
	const char *expect;
};

#define HEAD "version: 1\n"
#define LISTS                                                                                      \
	"lists:\n"                                                                                 \
	"  blocked-sites:\n"                                                                       \
	"    type: prefixes\n"                                                                     \
	"    entries: [192.0.2.0/24]\n"                                                            \
	"  names:\n"                                                                               \
	"    type: domains\n"                                                                      \
	"    entries: [example.com]\n"
/* A rule at line 10, its keys from column 5. */
#define RULE(body) HEAD LISTS "rules:\n  - name: r1\n" body "default: drop\n"

static const struct err_case error_cases[] = {
	/* YAML and its hardening */
	{ "version: 1\nrules: [\n",
	  "p.yaml:3:1: error: invalid YAML: did not find expected node content (while parsing a flow node at line 3)" },
	{ "version: 1\n\tdefault: drop\n",
	  "p.yaml:2:1: error: invalid YAML: found a tab character that violates indentation (while scanning a plain scalar at line 1)" },
	{ "",
	  "p.yaml:1:1: error: empty policy: expected a mapping with version, lists, rules and default" },
	{ "- a\n",
	  "p.yaml:1:1: error: expected a mapping with version, lists, rules and default, got a sequence" },
	{ "version: 1\ndefault: &d drop\n",
	  "p.yaml:2:10: error: anchors are not allowed (\"&d\"): write each value out" },
	{ "version: 1\nx: &a [1]\ndefault: *a\n",
	  "p.yaml:2:4: error: anchors are not allowed (\"&a\"): write each value out" },
	{ "version: 1\ndefault: *a\n",
	  "p.yaml:2:10: error: aliases are not allowed (\"*a\"): write each value out" },
	{ "version: !!int 1\ndefault: drop\n",
	  "p.yaml:1:10: error: tags are not allowed (\"tag:yaml.org,2002:int\")" },
	{ "version: 1\ndefault: drop\ndefault: allow\n",
	  "p.yaml:3:1: error: duplicate key \"default\" (first at line 2, column 1)" },
	{ "version: 1\ndefault: drop\n---\nversion: 1\n",
	  "p.yaml:3:1: error: expected one YAML document, found a second one" },
	{ "version: \"1\\0\"\ndefault: drop\n", "p.yaml:1:10: error: NUL character in a string" },
	{ "version: 1\nrules: [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]\ndefault: drop\n",
	  "p.yaml:2:23: error: nesting too deep (at most 16 levels)" },
	{ "version: 1\n? [a]\n: b\ndefault: drop\n",
	  "p.yaml:2:3: error: expected a plain key, got a sequence" },
	/* top level */
	{ "version: 1\ndefualt: drop\n",
	  "p.yaml:2:1: error: unknown key \"defualt\" in policy (did you mean \"default\"?)" },
	{ "version: 1\nfoo: 1\ndefault: drop\n",
	  "p.yaml:2:1: error: unknown key \"foo\" in policy (expected version, lists, rules or default)" },
	{ "default: drop\n", "p.yaml:1:1: error: policy needs \"version: 1\"" },
	{ "version: 2\ndefault: drop\n",
	  "p.yaml:1:10: error: unsupported version \"2\" (this brightline reads version 1)" },
	{ "version: 1\n",
	  "p.yaml:1:1: error: policy needs a default action (\"default: drop\", allow or reject)" },
	{ "version: 1\ndefault: allw\n",
	  "p.yaml:2:10: error: unknown default action \"allw\" (did you mean \"allow\"?)" },
	{ "version: 1\ndefault: log\n",
	  "p.yaml:2:10: error: unknown default action \"log\" (expected allow, drop or reject)" },
	{ "version: 1\ndefault: [drop]\n",
	  "p.yaml:2:10: error: expected allow, drop or reject, got a sequence" },
	{ "version: 1\nrules: {}\ndefault: drop\n",
	  "p.yaml:2:8: error: expected a sequence of rules, got a mapping" },
	/* lists */
	{ HEAD "lists:\n  1abc: {type: prefixes, entries: []}\ndefault: drop\n",
	  "p.yaml:3:3: error: invalid list name \"1abc\": expected a letter, then letters, digits, '-', '_' or '.' (at most 63)" },
	{ HEAD "lists:\n  a: [1]\ndefault: drop\n",
	  "p.yaml:3:6: error: expected a list (type, entries, files), got a sequence" },
	{ HEAD "lists:\n  a: {entries: []}\ndefault: drop\n",
	  "p.yaml:3:6: error: list \"a\" needs a type (prefixes, domains or patterns)" },
	{ HEAD "lists:\n  a: {type: prefix, entries: []}\ndefault: drop\n",
	  "p.yaml:3:13: error: unknown list type \"prefix\" (did you mean \"prefixes\"?)" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: [], fils: []}\ndefault: drop\n",
	  "p.yaml:3:36: error: unknown key \"fils\" in list (did you mean \"files\"?)" },
	{ HEAD "lists:\n  a: {type: prefixes}\ndefault: drop\n",
	  "p.yaml:3:6: error: list \"a\" needs entries or files" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: 192.0.2.0/24}\ndefault: drop\n",
	  "p.yaml:3:32: error: expected a sequence of entries, got a value" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: [10.0.0.256/8]}\ndefault: drop\n",
	  "p.yaml:3:33: error: invalid address \"10.0.0.256\" (expected an IPv4 or IPv6 prefix like 192.0.2.0/24)" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: [10.1.2.3/8]}\ndefault: drop\n",
	  "p.yaml:3:33: error: host bits set in \"10.1.2.3/8\" (did you mean \"10.0.0.0/8\"?)" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: [\"2001:db8::1/32\"]}\ndefault: drop\n",
	  "p.yaml:3:33: error: host bits set in \"2001:db8::1/32\" (did you mean \"2001:db8::/32\"?)" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: [10.0.0.0/33]}\ndefault: drop\n",
	  "p.yaml:3:33: error: invalid prefix length \"/33\" (expected 0 to 32)" },
	{ HEAD "lists:\n  a: {type: prefixes, entries: [{x: 1}]}\ndefault: drop\n",
	  "p.yaml:3:33: error: expected prefixes, got a mapping" },
	{ HEAD "lists:\n  a: {type: domains, entries: [a..b]}\ndefault: drop\n",
	  "p.yaml:3:32: error: invalid domain name \"a..b\": empty label" },
	{ HEAD "lists:\n  a: {type: domains, entries: [a.*.com]}\ndefault: drop\n",
	  "p.yaml:3:32: error: invalid domain name \"a.*.com\": a wildcard is allowed only as a whole first label, as in \"*.example.com\"" },
	{ HEAD "lists:\n  a: {type: domains, entries: [\"a b\"]}\ndefault: drop\n",
	  "p.yaml:3:32: error: invalid domain name \"a b\": character ' ' not allowed" },
	{ HEAD "lists:\n  a: {type: domains, entries: [\"*.\"]}\ndefault: drop\n",
	  "p.yaml:3:32: error: invalid domain name \"\": expected a name like example.com" },
	{ HEAD "lists:\n  a: {type: patterns, entries: [\"(abc\"]}\ndefault: drop\n",
	  "p.yaml:3:33: error: invalid pattern \"(abc\": Missing close parenthesis for group started at index 0." },
	{ HEAD "lists:\n  a: {type: patterns, entries: [\"a*\"]}\ndefault: drop\n",
	  "p.yaml:3:33: error: pattern \"a*\" matches the empty string" },
	/* list files */
	{ HEAD "lists:\n  a: {type: prefixes, files: [missing.txt]}\ndefault: drop\n",
	  "p.yaml:3:31: error: cannot read list file \"missing.txt\": No such file or directory" },
	{ HEAD "lists:\n  a: {type: prefixes, files: [bad.txt]}\ndefault: drop\n",
	  "bad.txt:3:3: error: invalid prefix length \"/33\" (expected 0 to 32)" },
	{ HEAD "lists:\n  a: {type: prefixes, files: [two.txt]}\ndefault: drop\n",
	  "two.txt:1:14: error: expected one prefix per line" },
	{ HEAD "lists:\n  a: {type: domains, files: [hosts.txt]}\ndefault: drop\n",
	  "hosts.txt:2:1: error: hosts line without a name: expected \"0.0.0.0 example.com\"" },
	{ HEAD "lists:\n  a: {type: domains, files: [names.txt]}\ndefault: drop\n",
	  "names.txt:1:11: error: expected one domain name per line, or a hosts line like \"0.0.0.0 example.com\"" },
	{ HEAD "lists:\n  a: {type: prefixes, files: [longline.txt]}\ndefault: drop\n",
	  "longline.txt:1:1: error: line too long (more than 4096 bytes)" },
	{ HEAD "lists:\n  a: {type: prefixes, files: [nul.txt]}\ndefault: drop\n",
	  "nul.txt:2:3: error: NUL byte in a list file" },
	{ HEAD "lists:\n  a: {type: patterns, files: [pat.txt]}\ndefault: drop\n",
	  "pat.txt:3:1: error: invalid pattern \"bad(\": Missing close parenthesis for group started at index 3." },
	{ HEAD "lists:\n  a: {type: prefixes, files: [big.txt]}\ndefault: drop\n",
	  "p.yaml:3:31: error: list file \"big.txt\" too large (at most 64 MiB)" },
	{ HEAD "lists:\n  a: {type: prefixes, files: [\"\"]}\ndefault: drop\n",
	  "p.yaml:3:31: error: expected a file name, got an empty string" },
	/* rules */
	{ HEAD "rules:\n  - drop\ndefault: drop\n",
	  "p.yaml:3:5: error: expected a rule (name, direction, match, action), got a value" },
	{ HEAD "rules:\n  - action: drop\ndefault: drop\n",
	  "p.yaml:3:5: error: rule needs a name (its identity for counters and meters)" },
	{ HEAD "rules:\n  - name: r1\ndefault: drop\n",
	  "p.yaml:3:5: error: rule needs an action (allow, drop, reject, log, rate-limit or quota)" },
	{ HEAD "rules:\n  - {name: \"a b\", action: drop}\ndefault: drop\n",
	  "p.yaml:3:12: error: invalid rule name \"a b\": expected a letter, then letters, digits, '-', '_' or '.' (at most 63)" },
	{ HEAD
	  "rules:\n  - {name: a, action: log}\n  - {name: b, action: drop}\n  - {name: a, action: drop}\ndefault: drop\n",
	  "p.yaml:5:12: error: duplicate rule name \"a\" (first at line 3)" },
	{ RULE("    actoin: drop\n"),
	  "p.yaml:11:5: error: unknown key \"actoin\" in rule (did you mean \"action\"?)" },
	{ RULE("    direction: inbond\n    action: drop\n"),
	  "p.yaml:11:16: error: unknown direction \"inbond\" (did you mean \"inbound\"?)" },
	{ RULE("    match: {dst: blocked-site}\n    action: drop\n"),
	  "p.yaml:11:18: error: unknown list \"blocked-site\" (did you mean \"blocked-sites\"?)" },
	{ RULE("    match: {dst: nothing-like-it}\n    action: drop\n"),
	  "p.yaml:11:18: error: unknown list \"nothing-like-it\"" },
	{ RULE("    match: {src: names}\n    action: drop\n"),
	  "p.yaml:11:18: error: list \"names\" holds domains; src needs a prefixes list" },
	{ RULE("    match: {domain: blocked-sites}\n    action: drop\n"),
	  "p.yaml:11:21: error: list \"blocked-sites\" holds prefixes; domain needs a domains list" },
	{ RULE("    match: {pattern: names}\n    action: drop\n"),
	  "p.yaml:11:22: error: list \"names\" holds domains; pattern needs a patterns list" },
	{ RULE("    match: {src: [192.0.2.0/24, 10.0.0.1/8]}\n    action: drop\n"),
	  "p.yaml:11:33: error: host bits set in \"10.0.0.1/8\" (did you mean \"10.0.0.0/8\"?)" },
	{ RULE("    match: {src: []}\n    action: drop\n"),
	  "p.yaml:11:18: error: expected a prefix or a list name or a list of them, got an empty sequence" },
	{ RULE("    match: {src: 192.0.2.0/24, dst: \"2001:db8::/32\"}\n    action: drop\n"),
	  "p.yaml:11:37: error: dst is IPv6 only and src IPv4 only: the rule can never match" },
	{ RULE("    match: {srcc: 192.0.2.0/24}\n    action: drop\n"),
	  "p.yaml:11:13: error: unknown key \"srcc\" in match (did you mean \"src\"?)" },
	{ RULE("    match: {proto: tpc}\n    action: drop\n"),
	  "p.yaml:11:20: error: unknown protocol \"tpc\" (did you mean \"tcp\"?)" },
	{ RULE("    match: {proto: 300}\n    action: drop\n"),
	  "p.yaml:11:20: error: invalid protocol number \"300\" (expected 0 to 255)" },
	{ RULE("    match: {dport: 80}\n    action: drop\n"),
	  "p.yaml:11:20: error: dport needs \"proto: tcp\", \"udp\" or \"sctp\" in the same match" },
	{ RULE("    match: {proto: [tcp, icmp], sport: 80}\n    action: drop\n"),
	  "p.yaml:11:40: error: sport needs \"proto: tcp\", \"udp\" or \"sctp\" in the same match" },
	{ RULE("    match: {proto: udp, dport: 70000}\n    action: drop\n"),
	  "p.yaml:11:32: error: invalid port \"70000\" (expected a number from 0 to 65535 or a range like \"1024-65535\")" },
	{ RULE("    match: {proto: udp, dport: [53, 90-80]}\n    action: drop\n"),
	  "p.yaml:11:37: error: empty port range \"90-80\": the first port is higher than the last" },
	{ RULE("    match: {proto: udp, dport: http}\n    action: drop\n"),
	  "p.yaml:11:32: error: invalid port \"http\" (expected a number from 0 to 65535 or a range like \"1024-65535\")" },
	{ RULE("    match: {vlan: 5000}\n    action: drop\n"),
	  "p.yaml:11:19: error: invalid VLAN id \"5000\" (expected 1 to 4094)" },
	{ RULE("    match: [src]\n    action: drop\n"),
	  "p.yaml:11:12: error: expected a match (src, dst, proto, sport, dport, vlan, domain, pattern), got a sequence" },
	/* actions */
	{ RULE("    action: dropp\n"),
	  "p.yaml:11:13: error: unknown action \"dropp\" (did you mean \"drop\"?)" },
	{ RULE("    action: accept\n"),
	  "p.yaml:11:13: error: unknown action \"accept\" (expected allow, drop, reject, log, rate-limit or quota)" },
	{ RULE("    action: rate-limit\n"),
	  "p.yaml:11:13: error: rate-limit needs parameters, like \"action: {rate-limit: {rate: 10Mbit}}\"" },
	{ RULE("    action: {drop: {x: 1}}\n"),
	  "p.yaml:11:20: error: \"drop\" takes no parameters" },
	{ RULE("    action: {drop: , allow: }\n"),
	  "p.yaml:11:22: error: expected one action, like \"action: {rate-limit: {rate: 10Mbit}}\"" },
	{ RULE("    action: [drop]\n"),
	  "p.yaml:11:13: error: expected one action (allow, drop, reject, log, rate-limit or quota), got a sequence" },
	{ RULE("    action: {rate-limit: {burst: 1MB}}\n"),
	  "p.yaml:11:26: error: rate-limit needs a rate, like \"rate: 10Mbit\"" },
	{ RULE("    action: {rate-limit: {rate: 10MB}}\n"),
	  "p.yaml:11:33: error: invalid rate \"10MB\": expected bits per second from 1bit to 10Tbit, like \"10Mbit\"" },
	{ RULE("    action: {rate-limit: {rate: 0bit}}\n"),
	  "p.yaml:11:33: error: invalid rate \"0bit\": expected bits per second from 1bit to 10Tbit, like \"10Mbit\"" },
	{ RULE("    action: {rate-limit: {rate: 1Mbit, burst: 1kB}}\n"),
	  "p.yaml:11:47: error: burst \"1kB\" too small (at least 1514 bytes)" },
	{ RULE("    action: {rate-limit: {rate: 1Mbit, burst: 1Mb}}\n"),
	  "p.yaml:11:47: error: invalid burst \"1Mb\": expected bytes with a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), like \"5GB\"" },
	{ RULE("    action: {rate-limit: {rate: 1Mbit, per: subscribr}}\n"),
	  "p.yaml:11:45: error: unknown meter owner \"subscribr\" (did you mean \"subscriber\"?)" },
	{ RULE("    action: {rate-limit: {rate: 1Mbit, per: rule, subscriber-prefix6: 56}}\n"),
	  "p.yaml:11:71: error: subscriber-prefix6 applies only with \"per: subscriber\"" },
	{ RULE("    action: {rate-limit: {rate: 1Mbit, subscriber-prefix6: 200}}\n"),
	  "p.yaml:11:60: error: invalid subscriber-prefix6 \"200\": expected a prefix length from 1 to 128" },
	{ RULE("    action: {rate-limit: {rate: 1Mbit, brust: 1MB}}\n"),
	  "p.yaml:11:40: error: unknown key \"brust\" in rate-limit (did you mean \"burst\"?)" },
	{ RULE("    action: {quota: {period: {rolling: 24h}, then: drop}}\n"),
	  "p.yaml:11:21: error: quota needs bytes, like \"bytes: 5GB\"" },
	{ RULE("    action: {quota: {bytes: 5GB, then: drop}}\n"),
	  "p.yaml:11:21: error: quota needs a period, like \"period: {rolling: 24h}\"" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {rolling: 24h}}}\n"),
	  "p.yaml:11:21: error: quota needs then: drop, reject or rate-limit" },
	{ RULE("    action: {quota: {bytes: 5Gb, period: {rolling: 24h}, then: drop}}\n"),
	  "p.yaml:11:29: error: invalid quota \"5Gb\": expected bytes with a unit (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), like \"5GB\"" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {rolling: 24}, then: drop}}\n"),
	  "p.yaml:11:52: error: invalid duration \"24\": expected 1m to 366d written with s, m, h, d or w, like \"24h\"" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {rolling: 24h, calendar: day}, then: drop}}\n"),
	  "p.yaml:11:67: error: a period is either rolling or calendar, not both" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {calendar: monht}, then: drop}}\n"),
	  "p.yaml:11:53: error: unknown calendar period \"monht\" (did you mean \"month\"?)" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {calendar: day, timezone: ../etc/passwd}, then: drop}}\n"),
	  "p.yaml:11:68: error: invalid timezone \"../etc/passwd\": expected an IANA name like \"Europe/Paris\" or \"UTC\"" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {rolling: 1h, timezone: UTC}, then: drop}}\n"),
	  "p.yaml:11:66: error: timezone applies only to a calendar period" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {calendar: day}, then: allow}}\n"),
	  "p.yaml:11:65: error: unknown action after a quota \"allow\" (expected drop, reject or rate-limit)" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {calendar: day}, then: rate-limit}}\n"),
	  "p.yaml:11:65: error: rate-limit needs parameters, like \"then: {rate-limit: {rate: 1Mbit}}\"" },
	{ RULE("    action: {quota: {bytes: 5GB, period: {calendar: day}, then: {rate-limit: {rate: 1MB}}}}\n"),
	  "p.yaml:11:85: error: invalid rate \"1MB\": expected bits per second from 1bit to 10Tbit, like \"10Mbit\"" },
};

#define NCASES (sizeof(error_cases) / sizeof(error_cases[0]))

static char *shared_strdup(const char *s)
{
	char *d = cr_malloc(strlen(s) + 1);

	if (d)
		strcpy(d, s);
	return d;
}

static void free_cases(struct criterion_test_params *ctp)
{
	struct err_case *c = ctp->params;

	for (size_t i = 0; i < ctp->length; i++) {
		cr_free((void *)c[i].text);
		cr_free((void *)c[i].expect);
	}
	cr_free(c);
}

/* Parameters live in Criterion's shared memory: the test runs in another
 * process image, where this binary's addresses differ. */
ParameterizedTestParameters(policy, errors)
{
	struct err_case *c = cr_malloc(NCASES * sizeof(*c));

	for (size_t i = 0; c && i < NCASES; i++) {
		c[i].text = shared_strdup(error_cases[i].text);
		c[i].expect = shared_strdup(error_cases[i].expect);
	}
	return cr_make_param_array(struct err_case, c, c ? NCASES : 0, free_cases);
}

ParameterizedTest(struct err_case *c, policy, errors)
{
	struct bl_policy_err err;
	char buf[1024];
	struct bl_policy *p = load(c->text, &err);

	cr_expect_null(p, "accepted: %s", c->text);
	cr_expect_eq(errno, EINVAL);
	cr_expect_geq(err.nerrors, 1);
	cr_expect_str_eq(first_error(&err, buf, sizeof(buf)), c->expect);
	bl_policy_free(p);
}

/* Errors in several places are all reported, in order, and capped. */
Test(policy, several_errors_capped)
{
	char text[8192];
	size_t off = 0;
	struct bl_policy_err err;
	char buf[512];

	off += (size_t)snprintf(text + off, sizeof(text) - off, "version: 1\nrules:\n");
	for (int i = 0; i < 25; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"  - {name: r%d, action: drp}\n", i);
	snprintf(text + off, sizeof(text) - off, "default: drop\n");
	cr_assert_null(load(text, &err));
	cr_expect_eq(err.nerrors, 25);
	cr_expect_eq(err.ndiags, BL_POLICY_MAX_DIAGS);
	bl_policy_diag_format(&err.diag[19], buf, sizeof(buf));
	cr_expect_str_eq(buf,
			 "p.yaml:22:25: error: unknown action \"drp\" (did you mean \"drop\"?)");
}

Test(policy, errors_keep_priority_over_warnings)
{
	char text[8192];
	size_t off = 0;
	struct bl_policy_err err;

	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"version: 1\nrules:\n  - {name: all, action: allow}\n");
	for (int i = 0; i < 25; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"  - {name: w%d, action: drop}\n", i);
	snprintf(text + off, sizeof(text) - off, "default: dorp\n");
	cr_assert_null(load(text, &err));
	cr_expect_eq(err.nerrors, 1);
	cr_expect_eq(err.nwarnings, 25);
	cr_expect_eq(err.diag[BL_POLICY_MAX_DIAGS - 1].severity, BL_POLICY_ERROR);
}

Test(policy, too_large_text)
{
	size_t len = BL_POLICY_MAX_TEXT + 1;
	char *text = malloc(len);
	struct bl_policy_err err;
	char buf[512];

	cr_assert_not_null(text);
	memset(text, '#', len);
	cr_expect_null(bl_policy_load_text("p.yaml", text, len, NULL, &err));
	cr_expect_str_eq(first_error(&err, buf, sizeof(buf)),
			 "p.yaml:1:1: error: policy too large (16777217 bytes, at most 16 MiB)");
	free(text);
}

Test(policy, files_without_resolver)
{
	static const char text[] =
		"version: 1\nlists:\n  a: {type: prefixes, files: [x.txt]}\ndefault: drop\n";
	struct bl_policy_err err;
	char buf[512];

	cr_expect_null(bl_policy_load_text("p.yaml", text, strlen(text), NULL, &err));
	cr_expect_str_eq(
		first_error(&err, buf, sizeof(buf)),
		"p.yaml:3:31: error: list file \"x.txt\" given, but no list files were supplied with this policy");
}

Test(policy, null_err_and_free_null)
{
	bl_policy_free(NULL);
	cr_expect_null(load("version: 3\n", NULL));
	cr_expect_eq(errno, EINVAL);
}

Test(policy, suggest)
{
	static const char *const words[] = { "blocked-sites", "allowed", "guests" };

	cr_expect_str_eq(bl_suggest("blocked-site", words, 3), "blocked-sites");
	cr_expect_str_eq(bl_suggest("alowed", words, 3), "allowed");
	cr_expect_str_eq(bl_suggest("gusets", words, 3), "guests"); /* transposition */
	cr_expect_null(bl_suggest("xyz", words, 3));
	cr_expect_null(bl_suggest("", words, 3));
}

static const char full[] =
	"# a comment\n"
	"version: 1\n"
	"lists:\n"
	"  nets:\n"
	"    type: prefixes\n"
	"    entries: [\"2001:db8::/32\", 198.51.100.0/24, 192.0.2.0/24, 192.0.2.0/24, 203.0.113.9]\n"
	"    files: [nets.txt]\n"
	"  names:\n"
	"    type: domains\n"
	"    entries: [\"WWW.Example.COM.\", \"*.ads.example\", \"b\xc3\xbc"
	"cher.de\", www.example.com]\n"
	"  sigs:\n"
	"    type: patterns\n"
	"    entries: [\"zz[0-9]\", \"(?i)aa\"]\n"
	"rules:\n"
	"  - name: audit\n"
	"    action: log\n"
	"  - name: web\n"
	"    direction: outbound\n"
	"    match:\n"
	"      src: [10.0.0.0/8, nets]\n"
	"      proto: [tcp, 17]\n"
	"      dport: [80, \"1024-65535\"]\n"
	"      vlan: [10, 20]\n"
	"    action: {rate-limit: {rate: 10Mbit, burst: 1MB, per: subscriber, subscriber-prefix6: 56}}\n"
	"  - name: guests\n"
	"    direction: inbound\n"
	"    match: {domain: names, pattern: sigs}\n"
	"    action:\n"
	"      quota:\n"
	"        bytes: 5GB\n"
	"        period: {rolling: 1h30m}\n"
	"        then: {rate-limit: {rate: 1Gbit}}\n"
	"  - name: monthly\n"
	"    match: {vlan: 30}\n"
	"    action: {quota: {bytes: 2GiB, period: {calendar: month, timezone: Europe/Paris}, then: reject, per: rule}}\n"
	"  - name: slow\n"
	"    action: {rate-limit: {rate: 64kbit}}\n"
	"default: reject\n";

Test(policy, normalized_content)
{
	struct bl_policy_err err;
	struct bl_policy *p = load(full, &err);
	char buf[64];

	cr_assert_not_null(p, "refused: %s", err.ndiags ? err.diag[0].message : "");
	cr_expect_eq(err.nwarnings, 0);
	cr_expect_eq(bl_policy_default(p), BL_ACT_REJECT);
	cr_assert_eq(bl_policy_nlists(p), 3);

	/* prefixes: sorted (IPv4 first), duplicates gone, file entries merged */
	const struct bl_policy_list *nets = bl_policy_list(p, 0);

	cr_expect_str_eq(nets->name, "nets");
	cr_expect_eq(nets->type, BL_LIST_PREFIXES);
	cr_assert_eq(nets->n, 4);
	const char *want[] = { "192.0.2.0/24", "198.51.100.0/24", "203.0.113.9/32",
			       "2001:db8::/32" };

	for (int i = 0; i < 4; i++) {
		prefix_format(&nets->prefixes[i], buf, sizeof(buf));
		cr_expect_str_eq(buf, want[i]);
	}
	cr_expect_eq(nets->prefixes[3].family, 6);
	cr_expect_eq(nets->prefixes[3].len, 32);

	/* domains: lowercase, no trailing dot, IDNA, wildcard flag, dedup */
	const struct bl_policy_list *names = bl_policy_list(p, 1);

	cr_assert_eq(names->n, 3);
	cr_expect_str_eq(names->domains[0].name, "ads.example");
	cr_expect(names->domains[0].subdomains);
	cr_expect_str_eq(names->domains[1].name, "www.example.com");
	cr_expect_not(names->domains[1].subdomains);
	cr_expect_str_eq(names->domains[2].name, "xn--bcher-kva.de");

	/* patterns keep their order */
	const struct bl_policy_list *sigs = bl_policy_list(p, 2);

	cr_assert_eq(sigs->n, 2);
	cr_expect_str_eq(sigs->patterns[0], "zz[0-9]");
	cr_expect_str_eq(sigs->patterns[1], "(?i)aa");
	cr_expect_eq(bl_policy_list_find(p, "sigs"), 2);
	cr_expect_eq(bl_policy_list_find(p, "nope"), -ENOENT);
	cr_expect_eq(bl_policy_nentries(p), 9);

	/* rules in order, first match wins */
	cr_assert_eq(bl_policy_nrules(p), 5);
	const struct bl_policy_rule *r = bl_policy_rule(p, 0);

	cr_expect_str_eq(r->name, "audit");
	cr_expect_eq(r->action.kind, BL_ACT_LOG);
	cr_expect_eq(r->direction, BL_DIR_ANY);
	cr_expect_eq(r->line, 15);

	r = bl_policy_rule(p, 1);
	cr_expect_str_eq(r->name, "web");
	cr_expect_eq(r->direction, BL_DIR_OUTBOUND);
	cr_assert_eq(r->match.src.nprefixes, 1);
	prefix_format(&r->match.src.prefixes[0], buf, sizeof(buf));
	cr_expect_str_eq(buf, "10.0.0.0/8");
	cr_assert_eq(r->match.src.nlists, 1);
	cr_expect_eq(r->match.src.lists[0], 0);
	cr_expect_eq(r->match.dst.nprefixes + r->match.dst.nlists, 0);
	cr_assert_eq(r->match.nprotos, 2);
	cr_expect_eq(r->match.protos[0], 6);
	cr_expect_eq(r->match.protos[1], 17);
	cr_assert_eq(r->match.ndports, 2);
	cr_expect_eq(r->match.dports[0].lo, 80);
	cr_expect_eq(r->match.dports[0].hi, 80);
	cr_expect_eq(r->match.dports[1].lo, 1024);
	cr_expect_eq(r->match.dports[1].hi, 65535);
	cr_expect_eq(r->match.nsports, 0);
	cr_assert_eq(r->match.nvlans, 2);
	cr_expect_eq(r->match.vlans[1], 20);
	cr_expect_eq(r->action.kind, BL_ACT_RATE_LIMIT);
	cr_expect_eq(r->action.rate.rate_bps, 10000000ull);
	cr_expect_eq(r->action.rate.burst_bytes, 1000000ull);
	cr_expect_eq(r->action.rate.per, BL_PER_SUBSCRIBER);
	cr_expect_eq(r->action.rate.subscriber_prefix6, 56);

	r = bl_policy_rule(p, 2);
	cr_expect_eq(r->direction, BL_DIR_INBOUND);
	cr_assert_eq(r->match.ndomain_lists, 1);
	cr_expect_eq(r->match.domain_lists[0], 1);
	cr_assert_eq(r->match.npattern_lists, 1);
	cr_expect_eq(r->match.pattern_lists[0], 2);
	cr_expect_eq(r->action.kind, BL_ACT_QUOTA);
	cr_expect_eq(r->action.quota.bytes, 5000000000ull);
	cr_expect_eq(r->action.quota.period, BL_PERIOD_ROLLING);
	cr_expect_eq(r->action.quota.rolling_s, 5400);
	cr_expect_eq(r->action.quota.per, BL_PER_SUBSCRIBER);
	cr_expect_eq(r->action.quota.subscriber_prefix6, 64);
	cr_expect_eq(r->action.quota.then, BL_ACT_RATE_LIMIT);
	cr_expect_eq(r->action.quota.then_rate.rate_bps, 1000000000ull);
	cr_expect_eq(r->action.quota.then_rate.burst_bytes, 12500000ull); /* 100 ms */

	r = bl_policy_rule(p, 3);
	cr_expect_eq(r->action.quota.bytes, 2ull << 30);
	cr_expect_eq(r->action.quota.period, BL_PERIOD_CALENDAR);
	cr_expect_eq(r->action.quota.calendar, BL_CAL_MONTH);
	cr_expect_str_eq(r->action.quota.timezone, "Europe/Paris");
	cr_expect_eq(r->action.quota.then, BL_ACT_REJECT);
	cr_expect_eq(r->action.quota.per, BL_PER_RULE);

	r = bl_policy_rule(p, 4);
	cr_expect_eq(r->action.rate.rate_bps, 64000);
	cr_expect_eq(r->action.rate.burst_bytes, 3028); /* two full frames at least */
	cr_expect_null(bl_policy_rule(p, 5));
	bl_policy_free(p);
}

/* The hash follows meaning, not layout. */
Test(policy, hash)
{
	static const char a[] =
		"version: 1\nlists:\n  x: {type: prefixes, entries: [192.0.2.0/24, 198.51.100.0/24]}\n"
		"  y: {type: domains, entries: [b.example, a.example]}\n"
		"rules:\n  - {name: r, match: {dst: x, domain: y}, action: drop}\ndefault: allow\n";
	static const char b[] =
		"# same, other order and layout\nversion: 1\nlists:\n  y: {type: domains, entries: [A.example.]}\n"
		"  y2: {type: domains, entries: []}\n";
	static const char b2[] =
		"version: 1\nlists:\n  y:\n    type: domains\n    entries: [a.example, B.EXAMPLE]\n"
		"  x:\n    type: prefixes\n    entries: [198.51.100.0/24, 192.0.2.0/24]\n"
		"rules:\n  - name: r\n    match: {domain: y, dst: x}\n    action: drop\ndefault: allow\n";
	static const char c[] =
		"version: 1\nlists:\n  x: {type: prefixes, entries: [192.0.2.0/24, 198.51.100.0/24]}\n"
		"  y: {type: domains, entries: [b.example, a.example]}\n"
		"rules:\n  - {name: r, match: {dst: x, domain: y}, action: reject}\ndefault: allow\n";
	struct bl_policy *pa = load(a, NULL), *pb = load(b2, NULL), *pc = load(c, NULL);
	char hex[65];

	(void)b;
	cr_assert(pa && pb && pc);
	cr_expect_eq(memcmp(bl_policy_hash(pa), bl_policy_hash(pb), 32), 0);
	cr_expect_neq(memcmp(bl_policy_hash(pa), bl_policy_hash(pc), 32), 0);
	bl_policy_hash_hex(pa, hex);
	cr_expect_eq(strlen(hex), 64);
	cr_expect_eq(strspn(hex, "0123456789abcdef"), 64);
	bl_policy_free(pa);
	bl_policy_free(pb);
	bl_policy_free(pc);
}

Test(policy, sha256_vectors)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sha256 s;
		uint8_t out[32];
		char hex[65];

		sha256_init(&s);
		sha256_update(&s, v[i].in, strlen(v[i].in));
		cr_assert_eq(sha256_final(&s, out), 0);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", out[k]);
		cr_expect_str_eq(hex, v[i].hex);
	}
}

Test(policy, warnings_do_not_refuse)
{
	static const char text[] =
		"version: 1\nlists:\n  spare: {type: prefixes, entries: [192.0.2.0/24]}\n"
		"rules:\n  - {name: all, action: drop}\n  - {name: late, action: allow}\ndefault: allow\n";
	struct bl_policy_err err;
	struct bl_policy *p = load(text, &err);
	char buf[512];

	cr_assert_not_null(p);
	cr_expect_eq(err.nerrors, 0);
	cr_assert_eq(err.nwarnings, 2);
	bl_policy_diag_format(&err.diag[0], buf, sizeof(buf));
	cr_expect_str_eq(
		buf,
		"p.yaml:6:5: warning: rule \"late\" is never reached: rule \"all\" at line 5 matches everything");
	bl_policy_diag_format(&err.diag[1], buf, sizeof(buf));
	cr_expect_str_eq(buf, "p.yaml:3:3: warning: list \"spare\" is not used by any rule");
	bl_policy_free(p);
}

/* bl_policy_load(): list files beside the policy, hosts format, CRLF,
 * comments, patterns trimmed. */
Test(policy, load_from_files)
{
	struct bl_policy_err err;
	struct bl_policy *p = bl_policy_load(BL_POLICY_FIXTURES "/policy.yaml", &err);
	char buf[64];

	cr_assert_not_null(p, "refused: %s", err.ndiags ? err.diag[0].message : "");
	const struct bl_policy_list *nets = bl_policy_list(p, 0), *ads = bl_policy_list(p, 1),
				    *sigs = bl_policy_list(p, 2);

	cr_assert_eq(nets->n, 3);
	prefix_format(&nets->prefixes[1], buf, sizeof(buf));
	cr_expect_str_eq(buf, "198.51.100.7/32");
	cr_assert_eq(ads->n, 4);
	cr_expect_str_eq(ads->domains[0].name, "ads.example.net");
	cr_expect_str_eq(ads->domains[1].name, "plain.example.com");
	cr_expect_str_eq(ads->domains[2].name, "tracker.example.org");
	cr_expect_str_eq(ads->domains[3].name, "wild.example.com");
	cr_expect(ads->domains[3].subdomains);
	cr_assert_eq(sigs->n, 2);
	cr_expect_str_eq(sigs->patterns[1], "(?i)x-malware-header");
	bl_policy_free(p);
}

Test(policy, load_broken_list_file)
{
	struct bl_policy_err err;
	char buf[512];

	cr_expect_null(bl_policy_load(BL_POLICY_FIXTURES "/broken.yaml", &err));
	cr_expect_str_eq(
		first_error(&err, buf, sizeof(buf)), BL_POLICY_FIXTURES
		"/lists/bad-nets.txt:3:4: error: host bits set in \"10.1.2.3/8\" (did you mean \"10.0.0.0/8\"?)");
	cr_expect_null(bl_policy_load(BL_POLICY_FIXTURES "/absent.yaml", &err));
	cr_expect_str_eq(first_error(&err, buf, sizeof(buf)), BL_POLICY_FIXTURES
			 "/absent.yaml:1:1: error: cannot read policy: No such file or directory");
}

/* A list file over the bound is refused without being read (sparse). */
Test(policy, list_file_too_large)
{
	char dir[] = "/tmp/bl_policy_XXXXXX", path[256], want[512], buf[512];
	struct bl_policy_err err;
	FILE *f;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.yaml", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("version: 1\nlists:\n  big: {type: prefixes, files: [big.txt]}\n"
	      "rules:\n  - {name: r, match: {dst: big}, action: drop}\ndefault: allow\n",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/big.txt", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)BL_POLICY_MAX_LIST_FILE + 1), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/p.yaml", dir);
	cr_expect_null(bl_policy_load(path, &err));
	snprintf(want, sizeof(want),
		 "%s:3:33: error: list file \"big.txt\" too large (at most 64 MiB)", path);
	cr_expect_str_eq(first_error(&err, buf, sizeof(buf)), want);
	unlink(path);
	snprintf(path, sizeof(path), "%s/big.txt", dir);
	unlink(path);
	rmdir(dir);
}
