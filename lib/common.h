/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by every module: allocation, strings, buffers. */
#ifndef HR_COMMON_H
#define HR_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "httpresp/httpresp.h"

#define HR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct hr_buf {
  char *data;
  size_t len;
  size_t cap;
} hr_buf;

void hr_buf_init(hr_buf *b);
void hr_buf_free(hr_buf *b);
void hr_buf_reset(hr_buf *b);
/* Appends; returns 0 or HTTPRESP_E_NOMEM. */
int hr_buf_append(hr_buf *b, const void *data, size_t len);
int hr_buf_append_str(hr_buf *b, const char *s);
/* Takes the buffer's storage (never NULL on success: "" for empty). */
char *hr_buf_steal(hr_buf *b);

char *hr_strdup(const char *s);
/* A copy of the text `fmt` formats with `ap`, cut to `max` - 1 bytes
 * (`max` at most 512: messages, never data), or NULL out of memory. */
char *hr_vformat(size_t max, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
char *hr_strndup(const char *s, size_t n);
/* Writes "a\0b\0" (the first `alen` and `blen` bytes) at `dst`, which has
 * room for alen + blen + 2 bytes; returns where the copy of b starts.  A
 * method and a URL share one allocation so, in requests, hop records and
 * redirect visits. */
char *hr_put_pair(char *dst, const char *a, size_t alen, const char *b,
                  size_t blen);
/* Doubles an array of `elem`-byte items that starts out in inline storage
 * (`inl`, *cap items) and moves to the heap when it outgrows it.  Returns 0
 * or HTTPRESP_E_NOMEM (the array is then unchanged). */
int hr_grow_inline(void **v, size_t *cap, void *inl, size_t elem);
/* ASCII-only case-insensitive comparisons (locale-independent). */
int hr_strcaseeq(const char *a, const char *b);
int hr_strncaseeq(const char *a, const char *b, size_t n);
/* The character classes below are inline: header parsing asks them once
 * per byte received. */
static inline char hr_tolower(char c) {
  if (c >= 'A' && c <= 'Z')
    return (char)(c + ('a' - 'A'));
  return c;
}
/* 1 for the token characters of RFC 9110 §5.6.2. */
extern const unsigned char hr_tchar_table[256];
static inline int hr_is_tchar(unsigned char c) { return hr_tchar_table[c]; }
/* Whether [s, s+len) is a non-empty RFC 9110 token. */
int hr_is_token(const char *s, size_t len);
/* Optional whitespace (SP / HTAB). */
static inline int hr_is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
/* Trims OWS at both ends of [*s, *s+*len). */
void hr_trim_ows(const char **s, size_t *len);

/* Little-endian fixed-width integers, for the cache's byte formats.
 * Inline and written out byte by byte, which compilers turn into one load
 * or store: the entry checksum reads every 8 bytes of an entry through
 * hr_get_le64, and as a call with a loop that was a sixth of the
 * instructions of a cache hit. */
static inline void hr_put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static inline void hr_put_le64(unsigned char *p, uint64_t v) {
  hr_put_le32(p, (uint32_t)v);
  hr_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t hr_get_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline uint64_t hr_get_le64(const unsigned char *p) {
  return (uint64_t)hr_get_le32(p) | (uint64_t)hr_get_le32(p + 4) << 32;
}

/* Saturating arithmetic for delays and times.  Inline: a cache hit asks
 * them a dozen times. */
static inline int64_t hr_sat_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b)
    return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b)
    return INT64_MIN;
  return a + b;
}

/* a - b, saturating (times come from servers and callers' clocks). */
static inline int64_t hr_sat_sub(int64_t a, int64_t b) {
  if (b < 0 && a > INT64_MAX + b)
    return INT64_MAX;
  if (b > 0 && a < INT64_MIN + b)
    return INT64_MIN;
  return a - b;
}

/* Only non-negative products are needed here: a negative factor gives 0. */
static inline int64_t hr_sat_mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0)
    return 0;
  if (a > INT64_MAX / b)
    return INT64_MAX;
  return a * b;
}

#endif
