/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets: the libFuzzer entry point's prototype, an
 * invariant check that crashes loudly, and a tiny reader that splits one
 * input into the several arguments a target needs.
 *
 * The same target files are built twice: as libFuzzer binaries (clang,
 * -fsanitize=fuzzer) and, in every build, with replay_main.c as ordinary
 * ctest programs that replay the committed corpora. */
#ifndef HR_FUZZ_H
#define HR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() is what libFuzzer and the replay driver both report as a crash;
 * the message says which invariant broke. */
static _Noreturn inline void fuzz_fail(const char *expr, const char *file,
                                       int line) {
  fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, expr);
  abort();
}
#define FUZZ_CHECK(cond)                                                       \
  ((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))

/* A cursor over the input. */
typedef struct fz {
  const uint8_t *p;
  size_t n;
} fz;

static inline fz fz_make(const uint8_t *data, size_t size) {
  fz f = {data, size};
  return f;
}

/* Next byte, 0 once the input is used up (short inputs stay meaningful). */
static inline uint8_t fz_u8(fz *f) {
  if (f->n == 0)
    return 0;
  uint8_t b = *f->p;
  f->p++;
  f->n--;
  return b;
}

static inline uint16_t fz_u16(fz *f) {
  uint16_t hi = fz_u8(f);
  return (uint16_t)((hi << 8) | fz_u8(f));
}

/* The bytes up to the next `sep` (not included; the separator is consumed),
 * or all that is left.  *len gets the length; the pointer is into the input,
 * not NUL-terminated. */
static inline const char *fz_until(fz *f, uint8_t sep, size_t *len) {
  const char *s = (const char *)f->p;
  const uint8_t *q = f->n ? memchr(f->p, sep, f->n) : NULL;
  size_t k = q ? (size_t)(q - f->p) : f->n;
  *len = k;
  f->p += k;
  f->n -= k;
  if (q) {
    f->p++;
    f->n--;
  }
  return s;
}

/* A malloc'd NUL-terminated copy of [s, s+len); aborts when memory runs out
 * (the fuzzers bound their inputs, so that is a real leak somewhere). */
static inline char *fz_strndup(const char *s, size_t len) {
  FUZZ_CHECK(len < SIZE_MAX);
  char *c = malloc(len + 1);
  FUZZ_CHECK(c != NULL);
  if (len)
    memcpy(c, s, len);
  c[len] = '\0';
  return c;
}

/* A signed decimal number with optional '-', saturating at the int64
 * limits; anything that is not a number gives `dflt`.  Decimal text keeps
 * the seeds readable while still reaching every int64 value. */
static inline int64_t fz_parse_i64(const char *s, size_t len, int64_t dflt) {
  size_t i = 0;
  int neg = 0;
  if (i < len && s[i] == '-') {
    neg = 1;
    i++;
  }
  if (i == len)
    return dflt;
  uint64_t v = 0;
  const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return dflt;
    unsigned d = (unsigned)(s[i] - '0');
    v = v > (lim - d) / 10 ? lim : v * 10 + d;
  }
  if (!neg)
    return (int64_t)v;
  return v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
}

#endif
