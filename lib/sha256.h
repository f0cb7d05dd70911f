/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4), for digests of secrets that must not be stored
 * as they are (the cache's identity partitions). */
#ifndef HR_SHA256_H
#define HR_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_sha256 {
  uint32_t h[8];
  uint64_t len; /* bytes so far */
  unsigned char buf[64];
  size_t nbuf;
} hr_sha256;

void hr_sha256_init(hr_sha256 *s);
void hr_sha256_update(hr_sha256 *s, const void *data, size_t len);
void hr_sha256_final(hr_sha256 *s, unsigned char out[32]);

#endif
