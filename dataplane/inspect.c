/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `brightline inspect [--json] FILE`: run the workers' parser over every
 * frame of a capture (pcap or pcapng, read through libpcap) and print what
 * it found: an aligned table for people, or one JSON object per frame.
 *
 * Errors: a capture that cannot be opened or read prints one line
 * `brightline inspect: FILE: reason` on stderr and exits 1; usage errors
 * exit 2. A capture cut short inside a record prints every frame read
 * before the cut, then the one error line, and exits 1: the frames before
 * are good data, but the capture as a whole was not read.
 *
 * Fragments: like tshark, a datagram's ports are reported on the frame that
 * completes its reassembly (inspect_frag.c), with "reassembled": true.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "cmd.h"
#include "inspect_frag.h"
#include "parse.h"

#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_ICMPV6 58

/* LINKTYPE_ values that libpcap may hand back unmapped on some platforms. */
#define LT_RAW_101 101
#define LT_RAW_12  12
#define LT_RAW_14  14
#define LT_NULL	   0   /* BSD loopback: 4-byte host-order family, then IP */
#define LT_LOOP	   108 /* OpenBSD loopback: same in network order */
#define LT_SLL	   113
#define LT_IPV4	   228
#define LT_IPV6	   229
#define LT_SLL2	   276

/* One frame as inspect reports it: the parser's record plus reassembly. */
struct frame {
	uint64_t no; /* 1-based, as tshark counts */
	uint32_t caplen;
	uint32_t wire_len;
	struct bl_pkt pkt;
	int frag_layer;	  /* outermost fragmented layer, or -1 */
	bool reassembled; /* this frame completed that layer's datagram */
	struct bl_fragtrack_result frag;
};

/* One TCP or UDP header, in the order tshark lists them. */
struct l4hdr {
	uint8_t proto;
	uint16_t sport;
	uint16_t dport;
};

typedef int (*visit_fn)(const struct frame *f, void *arg);

static const char usage_text[] =
	"usage: brightline inspect [--json] FILE\n"
	"\n"
	"Parse every frame of FILE (pcap or pcapng) with the dataplane's parser.\n"
	"  --json   one JSON object per frame and line instead of a table\n"
	"  --help   this text\n";

/* Map a capture's link type to the parser's; `skip` is a header to drop. */
static int link_map(int dlt, enum bl_linktype *lt, uint32_t *skip)
{
	*skip = 0;
	if (dlt == DLT_EN10MB) {
		*lt = BL_LINK_ETHER;
	} else if (dlt == LT_SLL) {
		*lt = BL_LINK_SLL;
	} else if (dlt == LT_SLL2) {
		*lt = BL_LINK_SLL2;
	} else if (dlt == DLT_RAW || dlt == LT_RAW_101 || dlt == LT_RAW_12 || dlt == LT_RAW_14 ||
		   dlt == LT_IPV4 || dlt == LT_IPV6) {
		*lt = BL_LINK_RAW;
	} else if (dlt == LT_NULL || dlt == LT_LOOP) {
		/* the family word says no more than the IP version nibble does */
		*lt = BL_LINK_RAW;
		*skip = 4;
	} else {
		return -EPROTONOSUPPORT;
	}
	return 0;
}

/* Parse one record and follow its fragments. */
static void frame_build(struct frame *f, struct bl_fragtrack *ft, const struct pcap_pkthdr *h,
			const uint8_t *data, enum bl_linktype lt, uint32_t skip)
{
	uint32_t len = h->caplen, wire = h->len;

	/* a record claiming fewer bytes on the wire than captured is corrupt:
	 * the parser gets the captured length for both */
	if (wire < len)
		wire = len;
	if (len < skip) {
		len = 0;
		wire = 0;
	} else {
		data += skip;
		len -= skip;
		wire -= skip;
	}
	f->caplen = h->caplen;
	f->wire_len = h->len;
	f->frag_layer = -1;
	f->reassembled = false;
	memset(&f->frag, 0, sizeof(f->frag));
	bl_parse(data, len, wire, lt, &f->pkt);

	for (int i = 0; i < f->pkt.nlayers && i < BL_MAX_LAYERS; i++) {
		if (f->pkt.l3[i].flags & BL_L3_FRAG) {
			f->frag_layer = i;
			break;
		}
	}
	if (f->frag_layer >= 0 && !bl_fragtrack_add(ft, &f->pkt.l3[f->frag_layer], &f->frag))
		f->reassembled = f->frag.complete;
}

/*
 * The TCP and UDP headers of a frame, outermost first, as tshark lists
 * them: each layer's own, the reassembled datagram's on the frame that
 * completes it, then the one an ICMP error quotes. Returns their number.
 */
static unsigned int frame_l4(const struct frame *f, struct l4hdr out[BL_MAX_LAYERS + 1])
{
	unsigned int n = 0;
	int nl = f->pkt.nlayers < BL_MAX_LAYERS ? f->pkt.nlayers : BL_MAX_LAYERS;

	for (int i = 0; i < nl; i++) {
		const struct bl_l3 *l = &f->pkt.l3[i];
		bool tcpudp = l->proto == PROTO_TCP || l->proto == PROTO_UDP;

		if (tcpudp && (l->flags & BL_L3_HAS_PORTS))
			out[n++] = (struct l4hdr){ l->proto, l->sport, l->dport };
		else if (tcpudp && i == f->frag_layer && f->reassembled && f->frag.have_ports)
			out[n++] = (struct l4hdr){ l->proto, f->frag.sport, f->frag.dport };
	}
	if (f->pkt.flags & BL_PKT_HAS_QUOTE) {
		const struct bl_l3 *q = &f->pkt.quote;

		if ((q->proto == PROTO_TCP || q->proto == PROTO_UDP) &&
		    (q->flags & BL_L3_HAS_PORTS))
			out[n++] = (struct l4hdr){ q->proto, q->sport, q->dport };
	}
	return n;
}

/* Text form of an address of layer `l` into `buf` (INET6_ADDRSTRLEN). */
static const char *addr_text(const struct bl_l3 *l, const uint8_t *a, char *buf)
{
	if (!inet_ntop(l->family == 6 ? AF_INET6 : AF_INET, a, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
	return buf;
}

/* Short name of an IP protocol number ("tcp", ...), or the number. */
static const char *proto_text(uint8_t p, char buf[8])
{
	switch (p) {
	case PROTO_ICMP: return "icmp";
	case 2: return "igmp";
	case 4: return "ipip";
	case PROTO_TCP: return "tcp";
	case PROTO_UDP: return "udp";
	case 41: return "ipv6";
	case 47: return "gre";
	case 50: return "esp";
	case 51: return "ah";
	case PROTO_ICMPV6: return "icmpv6";
	case 59: return "none";
	case 89: return "ospf";
	case 132: return "sctp";
	default: snprintf(buf, 8, "%u", p); return buf;
	}
}

/* JSON string of an address, or null. */
static json_t *json_addr(const struct bl_l3 *l, const uint8_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	return json_string(addr_text(l, a, buf));
}

/* JSON port when `has`, else null. */
static json_t *json_port(bool has, uint16_t port)
{
	return has ? json_integer(port) : json_null();
}

/* {"src","dst","proto","sport","dport"} of one layer, plus its tunnel. */
static json_t *json_layer(const struct bl_l3 *l, bool tunnel)
{
	bool ports = l->flags & BL_L3_HAS_PORTS;
	json_t *o = json_object();

	if (tunnel)
		json_object_set_new(o, "tunnel", json_string(bl_tunnel_name(l->tunnel)));
	json_object_set_new(o, "src", json_addr(l, l->src));
	json_object_set_new(o, "dst", json_addr(l, l->dst));
	json_object_set_new(o, "proto", json_integer(l->proto));
	json_object_set_new(o, "sport", json_port(ports, l->sport));
	json_object_set_new(o, "dport", json_port(ports, l->dport));
	return o;
}

/* The JSON record of one frame (see the field list in the brief/README). */
static json_t *json_frame(const struct frame *f)
{
	const struct bl_pkt *p = &f->pkt;
	const struct bl_l3 *outer = p->nlayers ? &p->l3[0] : NULL;
	struct l4hdr l4[BL_MAX_LAYERS + 1];
	unsigned int nl4 = frame_l4(f, l4);
	json_t *o = json_object(), *a;

	json_object_set_new(o, "frame", json_integer((json_int_t)f->no));
	json_object_set_new(o, "len", json_integer(f->wire_len));
	json_object_set_new(o, "caplen", json_integer(f->caplen));
	a = json_array();
	for (int i = 0; i < p->nvlan && i < BL_MAX_VLAN; i++)
		json_array_append_new(a, json_integer(p->vlan[i]));
	json_object_set_new(o, "vlan", a);
	json_object_set_new(o, "src", outer ? json_addr(outer, outer->src) : json_null());
	json_object_set_new(o, "dst", outer ? json_addr(outer, outer->dst) : json_null());
	json_object_set_new(o, "proto", outer ? json_integer(outer->proto) : json_null());
	json_object_set_new(o, "sport", json_port(nl4 > 0, nl4 ? l4[0].sport : 0));
	json_object_set_new(o, "dport", json_port(nl4 > 0, nl4 ? l4[0].dport : 0));
	a = json_array();
	for (int i = 1; i < p->nlayers && i < BL_MAX_LAYERS; i++)
		json_array_append_new(a, json_layer(&p->l3[i], true));
	json_object_set_new(o, "inner", a);
	json_object_set_new(o, "icmp_quote",
			    (p->flags & BL_PKT_HAS_QUOTE) ? json_layer(&p->quote, false)
							  : json_null());
	if (f->frag_layer >= 0) {
		const struct bl_l3 *l = &p->l3[f->frag_layer];

		json_object_set_new(o, "frag",
				    json_pack("{s:I,s:i,s:b,s:b}", "id", (json_int_t)l->frag_id,
					      "offset", (int)l->frag_off, "mf",
					      (l->flags & BL_L3_MF) != 0, "first",
					      (l->flags & BL_L3_FRAG_FIRST) != 0));
	} else {
		json_object_set_new(o, "frag", json_null());
	}
	json_object_set_new(o, "reassembled", json_boolean(f->reassembled));
	a = json_array();
	for (unsigned int i = 0; i < nl4; i++)
		json_array_append_new(a, json_pack("{s:i,s:i,s:i}", "proto", l4[i].proto, "sport",
						   l4[i].sport, "dport", l4[i].dport));
	json_object_set_new(o, "l4", a);
	json_object_set_new(o, "l2", json_string(bl_l2class_name(p->l2class)));
	json_object_set_new(o, "mpls", json_integer(p->nmpls));
	json_object_set_new(o, "outcome", json_string(bl_parse_outcome_name(p->outcome)));
	return o;
}

/* Print one frame as a JSON line; -ENOMEM if it could not be built. */
static int visit_json(const struct frame *f, void *arg)
{
	json_t *o = json_frame(f);
	int rc = -ENOMEM;

	(void)arg;
	if (o && json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) == 0) {
		putchar('\n');
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Table columns, in print order. */
enum col {
	C_FRAME,
	C_LEN,
	C_VLAN,
	C_SRC,
	C_DST,
	C_PROTO,
	C_SPORT,
	C_DPORT,
	C_OUTCOME,
	C_INNER,
	C_MAX
};
static const char *const col_head[C_MAX] = {
	"frame", "len", "vlan", "src", "dst", "proto", "sport", "dport", "outcome", "inner",
};

#define CELL 512
struct row {
	char cell[C_MAX][CELL];
};

/* Append printf output to a cell, truncating at its size. */
static void __attribute__((format(printf, 2, 3))) cell_add(char *cell, const char *fmt, ...)
{
	size_t used = strnlen(cell, CELL);
	va_list ap;

	if (used >= CELL - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(cell + used, CELL - used, fmt, ap);
	va_end(ap);
}

/* " gre:SRC>DST:proto[:sport>dport]" for one inner layer or quote. */
static void inner_add(char *cell, const char *kind, const struct bl_l3 *l)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pb[8];

	cell_add(cell, "%s%s:%s>%s:%s", cell[0] ? " " : "", kind, addr_text(l, l->src, s),
		 addr_text(l, l->dst, d), proto_text(l->proto, pb));
	if (l->flags & BL_L3_HAS_PORTS)
		cell_add(cell, ":%u>%u", l->sport, l->dport);
}

/* Fill the table cells of one frame. */
static void row_fill(struct row *r, const struct frame *f)
{
	const struct bl_pkt *p = &f->pkt;
	const struct bl_l3 *outer = p->nlayers ? &p->l3[0] : NULL;
	struct l4hdr l4[BL_MAX_LAYERS + 1];
	unsigned int nl4 = frame_l4(f, l4);
	char buf[INET6_ADDRSTRLEN], pb[8];

	memset(r, 0, sizeof(*r));
	cell_add(r->cell[C_FRAME], "%llu", (unsigned long long)f->no);
	cell_add(r->cell[C_LEN], "%u", f->wire_len);
	for (int i = 0; i < p->nvlan && i < BL_MAX_VLAN; i++)
		cell_add(r->cell[C_VLAN], "%s%u", i ? "," : "", p->vlan[i]);
	if (p->nmpls)
		cell_add(r->cell[C_VLAN], "%smpls*%u", p->nvlan ? "," : "", p->nmpls);
	cell_add(r->cell[C_SRC], "%s", outer ? addr_text(outer, outer->src, buf) : "-");
	cell_add(r->cell[C_DST], "%s", outer ? addr_text(outer, outer->dst, buf) : "-");
	cell_add(r->cell[C_PROTO], "%s",
		 outer ? proto_text(outer->proto, pb) : bl_l2class_name(p->l2class));
	if (nl4) {
		cell_add(r->cell[C_SPORT], "%u", l4[0].sport);
		cell_add(r->cell[C_DPORT], "%u%s", l4[0].dport, f->reassembled ? " (reasm)" : "");
	}
	for (int i = 1; i < p->nlayers && i < BL_MAX_LAYERS; i++)
		inner_add(r->cell[C_INNER], bl_tunnel_name(p->l3[i].tunnel), &p->l3[i]);
	if (p->flags & BL_PKT_HAS_QUOTE)
		inner_add(r->cell[C_INNER], "quote", &p->quote);
	cell_add(r->cell[C_OUTCOME], "%s", bl_parse_outcome_name(p->outcome));
	for (int c = 0; c < C_MAX; c++)
		if (!r->cell[c][0])
			r->cell[c][0] = '-';
}

struct table {
	struct row row; /* scratch */
	size_t width[C_MAX];
	uint64_t nrows;
};

/* First pass of the table: widen the columns to fit this frame. */
static int visit_measure(const struct frame *f, void *arg)
{
	struct table *t = arg;

	t->nrows++;
	row_fill(&t->row, f);
	for (int c = 0; c < C_MAX; c++) {
		size_t w = strlen(t->row.cell[c]);

		if (w > t->width[c])
			t->width[c] = w;
	}
	return 0;
}

/* Print one row of cells padded to the measured widths. */
static void table_print(const struct table *t, const char *const cell[C_MAX])
{
	for (int c = 0; c < C_MAX; c++) {
		if (c == C_MAX - 1)
			printf("%s\n", cell[c]);
		else
			printf("%-*s  ", (int)t->width[c], cell[c]);
	}
}

/* Second pass of the table: print this frame. */
static int visit_print(const struct frame *f, void *arg)
{
	struct table *t = arg;
	const char *cell[C_MAX];

	row_fill(&t->row, f);
	for (int c = 0; c < C_MAX; c++)
		cell[c] = t->row.cell[c];
	table_print(t, cell);
	return 0;
}

/* One error line about the capture, unless this pass is quiet. */
static void __attribute__((format(printf, 3, 4)))
report(bool quiet, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fprintf(stderr, "brightline inspect: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Read every record of the capture at `path`, parse it and hand it to
 * `visit`. Returns the exit code: 0 when the whole capture was read, 1 on
 * any error (reported on one line unless `quiet`).
 */
static int walk_capture(const char *path, bool quiet, visit_fn visit, void *arg)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	static struct bl_fragtrack ft; /* 100 KiB: keep it off the stack */
	static struct frame f;
	struct pcap_pkthdr *h;
	const u_char *data;
	enum bl_linktype lt;
	uint32_t skip;
	int rc = 1, dlt, got;
	pcap_t *pc;
	FILE *fp;

	fp = fopen(path, "rb");
	if (!fp) {
		report(quiet, path, "%s", strerror(errno));
		return 1;
	}
	pc = pcap_fopen_offline(fp, errbuf);
	if (!pc) {
		report(quiet, path, "%s", errbuf[0] ? errbuf : "not a capture");
		goto out_close_file;
	}
	dlt = pcap_datalink(pc);
	if (link_map(dlt, &lt, &skip) < 0) {
		const char *name = pcap_datalink_val_to_name(dlt);

		report(quiet, path, "unsupported link type %d (%s)", dlt, name ? name : "unknown");
		goto out_close_pcap;
	}
	bl_fragtrack_init(&ft);
	memset(&f, 0, sizeof(f));
	while ((got = pcap_next_ex(pc, &h, &data)) == 1) {
		f.no++;
		frame_build(&f, &ft, h, data, lt, skip);
		if (visit(&f, arg) < 0) {
			report(quiet, path, "frame %llu: out of memory", (unsigned long long)f.no);
			goto out_close_pcap;
		}
	}
	if (got == PCAP_ERROR_BREAK) {
		rc = 0;
	} else {
		report(quiet, path, "after frame %llu: %s", (unsigned long long)f.no,
		       pcap_geterr(pc));
	}
out_close_pcap:
	fflush(stdout);
	pcap_close(pc); /* closes fp too */
	return rc;
out_close_file:
	fclose(fp);
	return rc;
}

/* Parse the options (in any position); returns 0, 1 for --help, or 2. */
static int parse_args(int argc, char **argv, bool *json, const char **path)
{
	bool opts_done = false;

	*json = false;
	*path = NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && !strcmp(a, "--")) {
			opts_done = true;
		} else if (!opts_done && !strcmp(a, "--json")) {
			*json = true;
		} else if (!opts_done && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			return 1;
		} else if (!opts_done && a[0] == '-' && a[1]) {
			fprintf(stderr, "brightline inspect: unknown option \"%s\" (try --help)\n",
				a);
			return 2;
		} else if (*path) {
			fprintf(stderr,
				"brightline inspect: one FILE only (got \"%s\" and \"%s\")\n",
				*path, a);
			return 2;
		} else {
			*path = a;
		}
	}
	if (!*path) {
		fprintf(stderr, "brightline inspect: missing FILE (try --help)\n");
		return 2;
	}
	return 0;
}

/* `brightline inspect`: see the head of this file. */
int bl_cmd_inspect(int argc, char **argv)
{
	static struct table t; /* rows are large: keep them off the stack */
	const char *path;
	bool json;
	int rc;

	rc = parse_args(argc, argv, &json, &path);
	if (rc == 1) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (rc)
		return rc;
	if (json)
		return walk_capture(path, false, visit_json, NULL);

	/* a table aligned for people: measure every row, then print */
	memset(&t, 0, sizeof(t));
	for (int c = 0; c < C_MAX; c++)
		t.width[c] = strlen(col_head[c]);
	/* a capture that cannot be opened gets its one error line, no header */
	if (walk_capture(path, true, visit_measure, &t) && !t.nrows)
		return walk_capture(path, false, visit_print, &t);
	table_print(&t, col_head);
	return walk_capture(path, false, visit_print, &t);
}
