/* SPDX-License-Identifier: BSD-3-Clause */
/* SHA-256 for the policy's content hash, on OpenSSL's libcrypto (EVP). */
#include <errno.h>

#include <openssl/evp.h>

#include "policy_int.h"

void sha256_init(struct sha256 *s)
{
	s->err = 0;
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
		s->err = 1;
}

void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	if (!s->err && n && EVP_DigestUpdate(s->ctx, data, n) != 1)
		s->err = 1;
}

int sha256_final(struct sha256 *s, uint8_t out[32])
{
	unsigned len = 0;
	int rc = 0;

	if (s->err || EVP_DigestFinal_ex(s->ctx, out, &len) != 1 || len != 32)
		rc = -ENOMEM;
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
	return rc;
}
