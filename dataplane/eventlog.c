/* SPDX-License-Identifier: BSD-3-Clause */
/* EVE JSON lines from flow decisions (see eventlog.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_jhash.h>

#include "eventlog.h"
#include "meter.h"
#include "verdict.h"

#define EVE_BUF	 (64 * 1024) /* stdio buffer: lines leave in batches */
#define RESYNC_S 60	     /* the TSC-to-wall-clock base is taken again this often */

struct bl_eventlog {
	char path[PATH_MAX];
	FILE *f;
	uint32_t rate, burst;
	uint64_t tsc_hz;
	const struct bl_rt_slots *slots;
	/* GCRA per rule slot: the theoretical arrival time of the next line,
	 * in TSC cycles; a line is allowed when tat - now <= tolerance */
	uint64_t *tat;
	uint64_t interval, tolerance;
	/* wall clock at tsc0, to stamp lines with the time of the decision */
	uint64_t tsc0;
	struct timespec real0;
	struct bl_eventlog_stats st; /* written by the consumer, read relaxed */
};

/* Open `path` for appending, mode 0640; its directory made 0750 when missing. */
static FILE *open_log(const char *path)
{
	char dir[PATH_MAX];
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	FILE *f;

	if (fd < 0 && errno == ENOENT) {
		snprintf(dir, sizeof(dir), "%s", path);
		if (mkdir(dirname(dir), 0750) && errno != EEXIST)
			return NULL;
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		return NULL;
	}
	setvbuf(f, NULL, _IOFBF, EVE_BUF);
	return f;
}

struct bl_eventlog *bl_eventlog_create(const struct bl_eventlog_config *c)
{
	struct bl_eventlog *el;
	int saved;

	if (!c->path || !c->path[0] || strlen(c->path) >= sizeof(el->path) || !c->tsc_hz) {
		errno = EINVAL;
		return NULL;
	}
	el = calloc(1, sizeof(*el));
	if (!el)
		return NULL;
	snprintf(el->path, sizeof(el->path), "%s", c->path);
	el->rate = c->rate;
	el->burst = c->burst ? c->burst : 1;
	el->tsc_hz = c->tsc_hz;
	el->slots = c->slots;
	if (el->rate) {
		el->tat = calloc(BL_RT_SLOTS, sizeof(*el->tat));
		if (!el->tat)
			goto out_free;
		el->interval = el->tsc_hz / el->rate ? el->tsc_hz / el->rate : 1;
		el->tolerance = el->interval * (el->burst - 1);
	}
	el->f = open_log(el->path);
	if (!el->f)
		goto out_free;
	el->tsc0 = rte_rdtsc();
	clock_gettime(CLOCK_REALTIME, &el->real0);
	return el;

out_free:
	saved = errno;
	free(el->tat);
	free(el);
	errno = saved;
	return NULL;
}

void bl_eventlog_free(struct bl_eventlog *el)
{
	if (!el)
		return;
	if (el->f && fclose(el->f))
		el->st.write_errors++;
	free(el->tat);
	free(el);
}

/* True when rule `slot` may log one more line at `now` (GCRA). */
static bool allow(struct bl_eventlog *el, uint32_t slot, uint64_t now)
{
	uint64_t tat;

	if (!el->rate || slot >= BL_RT_SLOTS)
		return true;
	tat = el->tat[slot] > now ? el->tat[slot] : now;
	if (tat - now > el->tolerance)
		return false;
	el->tat[slot] = tat + el->interval;
	return true;
}

/* Nanoseconds in `d` TSC cycles, without overflow. */
static int64_t tsc_ns(const struct bl_eventlog *el, uint64_t d)
{
	return (int64_t)((d / el->tsc_hz) * 1000000000ull +
			 (d % el->tsc_hz) * 1000000000ull / el->tsc_hz);
}

/* "2026-11-25T19:40:00.123456+0000": local time of the decision (its TSC
 * against a base taken at most RESYNC_S ago, so clock steps show up). */
static void stamp(const struct bl_eventlog *el, uint64_t tsc, char *buf, size_t len)
{
	int64_t ns = (int64_t)el->real0.tv_sec * 1000000000ll + el->real0.tv_nsec +
		     (tsc >= el->tsc0 ? tsc_ns(el, tsc - el->tsc0) : -tsc_ns(el, el->tsc0 - tsc));
	time_t sec = (time_t)(ns / 1000000000ll);
	long us = (long)(ns % 1000000000ll / 1000);
	struct tm tm;
	char date[32], zone[8];

	/* not localtime_r(): the meter thread may have switched the zone */
	bl_meter_localtime(&sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(buf, len, "%s.%06ld%s", date, us, zone);
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 47: return "GRE";
	case 50: return "ESP";
	case 58: return "IPv6-ICMP";
	case 132: return "SCTP";
	}
	snprintf(buf, len, "%u", p);
	return buf;
}

/* A JSON string (quotes included). Rule names are plain, but be safe. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* 51 bits of a hash of the flow key: the same for every record of the flow,
 * small enough for JSON readers that hold numbers as doubles. */
static uint64_t flow_id(const struct bl_flow_key *k)
{
	uint32_t a = 0x5eed, b = 0xb1;

	rte_jhash_2hashes(k, BL_FLOW_KEY_LEN, &a, &b);
	return (((uint64_t)a << 32) | b) & ((1ull << 51) - 1);
}

/* What one line says. */
struct line {
	const char *type;   /* "drop" | "alert" */
	const char *action; /* brightline.action: drop | reject | log */
	uint32_t slot;	    /* rule slot the line is charged to */
};

/* The fields every line starts with, up to and including proto. */
static void head(struct bl_eventlog *el, FILE *f, const struct bl_event *ev, const char *type)
{
	const struct bl_flow_key *k = &ev->key;
	bool reply = ev->flags & BL_EV_F_REPLY;
	unsigned init = k->side ^ (reply ? 1 : 0);
	bool outside = !!(ev->flags & BL_EV_F_OUTSIDE) ^ reply; /* where the initiator came in */
	bool ports = k->proto == 6 || k->proto == 17 || k->proto == 132;
	char ts[48], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pb[8];
	int af = k->family == 4 ? AF_INET : AF_INET6;

	stamp(el, ev->tsc, ts, sizeof(ts));
	inet_ntop(af, k->addr[init], src, sizeof(src));
	inet_ntop(af, k->addr[init ^ 1], dst, sizeof(dst));
	fprintf(f,
		"{\"timestamp\":\"%s\",\"flow_id\":%lu,\"in_iface\":\"%s\",\"event_type\":\"%s\",",
		ts, flow_id(k), outside ? "outside" : "inside", type);
	if (k->vlan)
		fprintf(f, "\"vlan\":[%u],", k->vlan);
	fprintf(f, "\"src_ip\":\"%s\",", src);
	if (ports)
		fprintf(f, "\"src_port\":%u,", k->port[init]);
	fprintf(f, "\"dest_ip\":\"%s\",", dst);
	if (ports)
		fprintf(f, "\"dest_port\":%u,", k->port[init ^ 1]);
	fprintf(f, "\"proto\":\"%s\",", proto_name(k->proto, pb, sizeof(pb)));
}

/* The alert object (log and reject lines). */
static void alert(FILE *f, const struct bl_event *ev, const struct line *l, const char *rule)
{
	bool blocked = ev->verdict == BL_VERDICT_DROP;

	fprintf(f,
		"\"alert\":{\"action\":\"%s\",\"gid\":1,\"signature_id\":%u,\"rev\":%u,"
		"\"signature\":",
		blocked ? "blocked" : "allowed", l->slot, ev->gen);
	json_str(f, rule);
	fprintf(f, ",\"category\":\"%s\",\"severity\":3},",
		!strcmp(l->action, "reject") ? "Policy reject" : "Policy log");
}

/* The drop object: the judged packet's length and TCP flags (Suricata's shape). */
static void drop(FILE *f, const struct bl_event *ev)
{
	uint8_t t = ev->key.tcp_flags;

	fprintf(f, "\"drop\":{\"len\":%u,", ev->pkt_len);
	if (ev->key.proto == 6)
		fprintf(f, "\"syn\":%s,\"ack\":%s,\"psh\":%s,\"rst\":%s,\"urg\":%s,\"fin\":%s,",
			t & 0x02 ? "true" : "false", t & 0x10 ? "true" : "false",
			t & 0x08 ? "true" : "false", t & 0x04 ? "true" : "false",
			t & 0x20 ? "true" : "false", t & 0x01 ? "true" : "false");
	fprintf(f, "\"reason\":\"rules\"},");
}

static void write_line(struct bl_eventlog *el, const struct bl_event *ev, const struct line *l)
{
	const char *rule = bl_rt_slot_name(el->slots, l->slot);
	FILE *f = el->f;

	if (!allow(el, l->slot, ev->tsc)) {
		__atomic_store_n(&el->st.suppressed, el->st.suppressed + 1, __ATOMIC_RELAXED);
		return;
	}
	if (!rule)
		rule = "?";
	head(el, f, ev, l->type);
	if (!strcmp(l->type, "drop"))
		drop(f, ev);
	else
		alert(f, ev, l, rule);
	fputs("\"brightline\":{\"rule\":", f);
	json_str(f, rule);
	if (fprintf(f, ",\"generation\":%u,\"action\":\"%s\",\"verdict\":\"%s\",\"worker\":%u}}\n",
		    ev->gen, l->action, bl_verdict_name(ev->verdict), ev->worker) < 0)
		__atomic_store_n(&el->st.write_errors, el->st.write_errors + 1, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&el->st.written, el->st.written + 1, __ATOMIC_RELAXED);
}

void bl_eventlog_add(struct bl_eventlog *el, const struct bl_event *ev)
{
	struct line l;

	if (!el || !(ev->flags & BL_EV_F_DECISION) || ev->kind != BL_EV_FLOW)
		return;
	if (ev->log_slot != BL_EV_NO_RULE) {
		l = (struct line){ "alert", "log", ev->log_slot };
		write_line(el, ev, &l);
	}
	if (ev->rule_slot == BL_EV_NO_RULE)
		return;
	if (ev->action == BL_RT_DROP) {
		l = (struct line){ "drop", "drop", ev->rule_slot };
		write_line(el, ev, &l);
	} else if (ev->action == BL_RT_REJECT) {
		l = (struct line){ "alert", "reject", ev->rule_slot };
		write_line(el, ev, &l);
	}
}

void bl_eventlog_flush(struct bl_eventlog *el)
{
	uint64_t now;

	if (!el)
		return;
	if (el->f && fflush(el->f))
		__atomic_store_n(&el->st.write_errors, el->st.write_errors + 1, __ATOMIC_RELAXED);
	now = rte_rdtsc();
	if (now - el->tsc0 > RESYNC_S * el->tsc_hz) {
		el->tsc0 = now;
		clock_gettime(CLOCK_REALTIME, &el->real0);
	}
}

int bl_eventlog_reopen(struct bl_eventlog *el)
{
	FILE *f;
	int rc;

	bl_eventlog_flush(el);
	f = open_log(el->path);
	if (!f) {
		rc = -errno;
		__atomic_store_n(&el->st.write_errors, el->st.write_errors + 1, __ATOMIC_RELAXED);
		return rc;
	}
	fclose(el->f);
	el->f = f;
	__atomic_store_n(&el->st.reopened, el->st.reopened + 1, __ATOMIC_RELAXED);
	return 0;
}

void bl_eventlog_stats(const struct bl_eventlog *el, struct bl_eventlog_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (!el)
		return;
	s->written = __atomic_load_n(&el->st.written, __ATOMIC_RELAXED);
	s->suppressed = __atomic_load_n(&el->st.suppressed, __ATOMIC_RELAXED);
	s->write_errors = __atomic_load_n(&el->st.write_errors, __ATOMIC_RELAXED);
	s->reopened = __atomic_load_n(&el->st.reopened, __ATOMIC_RELAXED);
}
