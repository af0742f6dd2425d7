/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * micro_parse: ns per bl_parse() call, hot in cache, for the frames a
 * perimeter box sees most: 64-byte UDP/IPv4, 64-byte TCP/IPv4 and 78-byte
 * UDP/IPv6 (lengths without the FCS). Each frame is parsed N times (first
 * argument, default 100M) into records rotated among 32, like mbufs in a
 * burst; the reported figure is the median of 1000 timed batches, so that a
 * busy machine disturbs it less than a plain mean. Not a test: built by meson, run by hand, never installed.
 *
 *   build-release/benches/micro_parse [N]
 *
 * Ends with one line: RESULT micro_parse udp4_ns=.. tcp4_ns=.. udp6_ns=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"

#define NREC   32
#define NBATCH 1000

struct frame {
	const char *name;
	uint8_t b[128];
	uint32_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet header with `et`; returns the next offset. */
static uint32_t eth(uint8_t *b, uint16_t et)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };

	memcpy(b, macs, sizeof(macs));
	put16(b + 12, et);
	return 14;
}

/* IPv4 header without options carrying `proto`, `totlen` bytes long. */
static uint32_t ipv4(uint8_t *p, uint8_t proto, uint16_t totlen)
{
	static const uint8_t addrs[8] = { 10, 0, 0, 1, 192, 0, 2, 7 };

	p[0] = 0x45;
	put16(p + 2, totlen);
	put16(p + 4, 0x1234);
	put16(p + 6, 0x4000); /* DF */
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, addrs, sizeof(addrs));
	return 20;
}

/* IPv6 header without extension headers, `plen` payload bytes. */
static uint32_t ipv6(uint8_t *p, uint8_t nh, uint16_t plen)
{
	p[0] = 0x60;
	put16(p + 4, plen);
	p[6] = nh;
	p[7] = 64;
	p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 1;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 2;
	return 40;
}

static void make_frames(struct frame *f)
{
	uint32_t o;

	memset(f, 0, 3 * sizeof(*f));
	f[0].name = "udp4";
	o = eth(f[0].b, 0x0800);
	o += ipv4(f[0].b + o, 17, 64 - 14);
	put16(f[0].b + o, 40000), put16(f[0].b + o + 2, 53), put16(f[0].b + o + 4, 64 - 34);
	f[0].len = 64;

	f[1].name = "tcp4";
	o = eth(f[1].b, 0x0800);
	o += ipv4(f[1].b + o, 6, 64 - 14);
	put16(f[1].b + o, 40000), put16(f[1].b + o + 2, 443);
	f[1].b[o + 12] = 5 << 4;
	f[1].b[o + 13] = 0x10; /* ACK */
	f[1].len = 64;

	f[2].name = "udp6";
	o = eth(f[2].b, 0x86dd);
	o += ipv6(f[2].b + o, 17, 78 - 54);
	put16(f[2].b + o, 40000), put16(f[2].b + o + 2, 53), put16(f[2].b + o + 4, 78 - 54);
	f[2].len = 78;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * ns per parse of `f`, n times in NBATCH timed batches; the median batch is
 * returned so that time the machine took the CPU away weighs on few batches.
 * *sink keeps the results observable.
 */
static double run(const struct frame *f, unsigned long n, struct bl_pkt *rec, unsigned long *sink)
{
	static double batch[NBATCH];
	unsigned long i, j, per = n / NBATCH ? n / NBATCH : 1, acc = 0;
	double t0;

	for (i = 0; i < NREC * 4; i++) /* warm the records and the branch predictors */
		acc += bl_parse(f->b, f->len, f->len, BL_LINK_ETHER, &rec[i % NREC]);
	for (j = 0; j < NBATCH; j++) {
		t0 = now_ns();
		for (i = 0; i < per; i++) {
			struct bl_pkt *p = &rec[i % NREC];

			acc += bl_parse(f->b, f->len, f->len, BL_LINK_ETHER, p);
			acc += p->l3[0].dport;
		}
		batch[j] = (now_ns() - t0) / (double)per;
	}
	*sink += acc;
	qsort(batch, NBATCH, sizeof(batch[0]), cmp_double);
	return batch[NBATCH / 2];
}

int main(int argc, char **argv)
{
	static struct bl_pkt rec[NREC] __attribute__((aligned(64)));
	unsigned long n = 100000000UL, sink = 0;
	struct frame f[3];
	double ns[3];
	int i;

	if (argc > 1)
		n = strtoul(argv[1], NULL, 0);
	if (n == 0) {
		fprintf(stderr, "usage: %s [parses per frame, > 0]\n", argv[0]);
		return 2;
	}
	make_frames(f);
	for (i = 0; i < 3; i++) {
		if (bl_parse(f[i].b, f[i].len, f[i].len, BL_LINK_ETHER, &rec[0]) != BL_PARSE_OK) {
			fprintf(stderr, "%s: frame does not parse\n", f[i].name);
			return 1;
		}
		ns[i] = run(&f[i], n, rec, &sink);
		printf("%-5s %3u bytes  %.2f ns/parse\n", f[i].name, f[i].len, ns[i]);
	}
	printf("RESULT micro_parse udp4_ns=%.2f tcp4_ns=%.2f udp6_ns=%.2f parses=%lu check=%lu\n",
	       ns[0], ns[1], ns[2], n, sink & 0xff);
	return 0;
}
