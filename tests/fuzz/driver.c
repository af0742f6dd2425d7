/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stand-in main for compilers without libFuzzer (gcc builds): runs every
 * seed file named on the command line through the target, then a bounded
 * number of deterministic byte mutations of each. The clang sanitizer build
 * runs the real coverage-guided fuzzer instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS 2000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void run_mutations(const uint8_t *seed, size_t size)
{
	uint8_t buf[4096];

	if (size > sizeof(buf))
		size = sizeof(buf);
	for (int m = 0; m < MUTATIONS; m++) {
		size_t n = size ? 1 + rng() % size : 0;

		memcpy(buf, seed, n);
		for (int k = 0; k < 4 && n > 1; k++)
			buf[1 + rng() % (n - 1)] = (uint8_t)rng();
		LLVMFuzzerTestOneInput(buf, n);
	}
}

static int run_file(const char *path)
{
	uint8_t buf[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	run_mutations(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned files = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		char path[4096];

		if (!d) {
			if (run_file(argv[i]) == 0)
				files++;
			continue;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (run_file(path) == 0)
				files++;
		}
		closedir(d);
	}
	printf("fuzz driver: %u inputs, %u mutations each, no crash\n", files, MUTATIONS);
	return files ? 0 : 1;
}
