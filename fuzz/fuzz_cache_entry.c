/* SPDX-License-Identifier: MIT */
/* hr_cache_entry_decode (and hr_cache_entry_encode): the bytes a cache store
 * hands back are untrusted (a damaged disk, another program's file).
 *
 * Input byte 0 picks the mode:
 *  - bit 0 clear: the rest is a stored entry, decoded as is.  Whatever
 *    decodes must encode again, and that encoding must decode to the same
 *    entry and re-encode to the same bytes.
 *  - bit 0 set: the rest describes an entry ("URL\n", 2 bytes status,
 *    2 bytes times, Vary'd request fields up to an empty line, response
 *    fields up to an empty line, then the body; the last 2 bytes pick a
 *    position).  It is encoded, must decode to the same entry, and every
 *    truncation must be refused.  Then the picked byte is flipped and the
 *    result decoded: no crash, and whatever decodes must be sane.
 *    With bit 2 set too, the entry is incomplete (a 200 cut short, kept
 *    for resuming): it encodes as format version 2 with its flag.
 *  - bit 1 set: before decoding damaged or raw bytes, their total-length
 *    field and trailing checksum are recomputed, so the fuzzer gets past
 *    the checksum into the field decoding.  This mirrors the layout
 *    described at the top of lib/cache/codec.c; should it change, the
 *    fix-up merely stops helping (nothing is asserted about its result
 *    beyond "no crash, sane if accepted").
 * Every entry that encodes is also frozen (the memory store's form): the
 * frozen copy must hold the same entry and answer freshness, age,
 * validator and selection questions exactly as the entry does. */
#include "cache/rules.h"
#include "cache/codec.h"
#include "common.h"
#include "fuzz.h"
#include "headers.h"

static int str_eq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static int headers_eq(const hr_headers *a, const hr_headers *b) {
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (!str_eq(a->v[i].name, b->v[i].name) ||
        !str_eq(a->v[i].value, b->v[i].value))
      return 0;
  return 1;
}

static int entry_eq(const hr_cache_entry *a, const hr_cache_entry *b) {
  return str_eq(a->key, b->key) && a->status == b->status &&
         headers_eq(&a->vary, &b->vary) &&
         headers_eq(&a->headers, &b->headers) && a->body_len == b->body_len &&
         (a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0) &&
         a->request_ms == b->request_ms && a->response_ms == b->response_ms &&
         a->incomplete == b->incomplete;
}

static void check_headers(const hr_headers *h) {
  FUZZ_CHECK(h->n == 0 || h->v != NULL);
  for (size_t i = 0; i < h->n; i++) {
    FUZZ_CHECK(h->v[i].name != NULL && h->v[i].value != NULL);
    FUZZ_CHECK(hr_is_token(h->v[i].name, strlen(h->v[i].name)));
    FUZZ_CHECK(strpbrk(h->v[i].value, "\r\n") == NULL);
  }
}

/* What a decoded entry must look like for the cache to use it safely. */
static void check_sane(const hr_cache_entry *e) {
  FUZZ_CHECK(e->body_len <= HR_CACHE_MAX_ENTRY);
  FUZZ_CHECK(e->body_len == 0 || e->body != NULL);
  check_headers(&e->vary);
  check_headers(&e->headers);
}

/* A frozen copy (what the memory store holds) holds the same entry, its
 * precomputed facts answer as the rules do on the unfrozen entry, and
 * thawing gives the entry back. */
static void check_frozen(const hr_cache_entry *e) {
  hr_stored *v;
  int rc = hr_stored_freeze(e, &v);
  if (rc == HTTPRESP_E_NOMEM)
    return;
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(entry_eq(e, &v->e));
  FUZZ_CHECK(v->e.facts == &v->facts);
  FUZZ_CHECK(hr_cache_freshness_lifetime(&v->e) ==
             hr_cache_freshness_lifetime(e));
  FUZZ_CHECK(hr_cache_has_validator(&v->e) == hr_cache_has_validator(e));
  static const int64_t offsets[] = {0, 999, 60000, INT64_C(86400000) * 400};
  httpresp_request *q = NULL;
  if (httpresp_request_new(&q, "GET", "http://example.com/") == 0) {
    for (size_t i = 0; i < HR_ARRAY_LEN(offsets); i++) {
      int64_t now = e->response_ms + offsets[i];
      FUZZ_CHECK(hr_cache_current_age(&v->e, now) ==
                 hr_cache_current_age(e, now));
      const char *w1, *w2;
      FUZZ_CHECK(hr_cache_select(&v->e, q, now, &w1) ==
                 hr_cache_select(e, q, now, &w2));
      FUZZ_CHECK(strcmp(w1, w2) == 0);
    }
    httpresp_request_free(q);
  }
  hr_cache_entry back;
  rc = hr_stored_thaw(v, &back);
  if (rc == 0) {
    FUZZ_CHECK(entry_eq(e, &back));
    hr_cache_entry_free(&back);
  }
  hr_stored_unref(v);
}

/* decode(encode(e)) == e, and the encoding is canonical. */
static void check_roundtrip(const hr_cache_entry *e, hr_buf *enc_out) {
  hr_buf enc;
  hr_buf_init(&enc);
  int rc = hr_cache_entry_encode(e, &enc);
  if (rc == HTTPRESP_E_NOMEM) {
    hr_buf_free(&enc);
    return;
  }
  FUZZ_CHECK(rc == 0);
  check_frozen(e);
  hr_cache_entry back;
  hr_cache_entry_init(&back);
  rc = hr_cache_entry_decode(enc.data, enc.len, &back);
  FUZZ_CHECK(rc == 0);
  check_sane(&back);
  FUZZ_CHECK(entry_eq(e, &back));
  hr_buf enc2;
  hr_buf_init(&enc2);
  FUZZ_CHECK(hr_cache_entry_encode(&back, &enc2) == 0);
  FUZZ_CHECK(enc2.len == enc.len && memcmp(enc2.data, enc.data, enc.len) == 0);
  hr_buf_free(&enc2);
  hr_cache_entry_free(&back);
  if (enc_out)
    *enc_out = enc;
  else
    hr_buf_free(&enc);
}

/* Decodes exactly `len` bytes from an exact-size heap copy, so ASan sees
 * any read past the end. */
static int decode_exact(const void *data, size_t len, hr_cache_entry *e) {
  unsigned char *copy = malloc(len ? len : 1);
  FUZZ_CHECK(copy != NULL);
  if (len)
    memcpy(copy, data, len);
  int rc = hr_cache_entry_decode(copy, len, e);
  free(copy);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_CACHE_IO || rc == HTTPRESP_E_NOMEM);
  return rc;
}

/* Offsets from lib/cache/codec.c's layout comment. */
#define LAYOUT_LEN_OFFSET 8u
#define LAYOUT_FIXED_LEN 56u
#define LAYOUT_TRAILER_LEN 8u

static void put_le64(unsigned char *p, uint64_t v) {
  for (size_t i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

/* Makes the length and checksum consistent with the bytes as they are. */
static void fix_up(unsigned char *d, size_t len) {
  if (len < LAYOUT_FIXED_LEN + LAYOUT_TRAILER_LEN)
    return;
  put_le64(d + LAYOUT_LEN_OFFSET, (uint64_t)len);
  put_le64(d + len - LAYOUT_TRAILER_LEN,
           hr_cache_checksum(d, len - LAYOUT_TRAILER_LEN));
}

/* Decodes damaged bytes: must not crash; what is accepted must be sane
 * and round-trip. */
static void decode_damaged(const unsigned char *d, size_t len, int fix) {
  unsigned char *copy = malloc(len ? len : 1);
  FUZZ_CHECK(copy != NULL);
  if (len)
    memcpy(copy, d, len);
  if (fix)
    fix_up(copy, len);
  hr_cache_entry e;
  hr_cache_entry_init(&e);
  int rc = hr_cache_entry_decode(copy, len, &e);
  free(copy);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_CACHE_IO || rc == HTTPRESP_E_NOMEM);
  if (rc == 0) {
    check_sane(&e);
    check_roundtrip(&e, NULL);
  }
  /* Also after a failed decode: whatever it had filled is released. */
  hr_cache_entry_free(&e);
}

static void add_fields(fz *f, hr_headers *h) {
  while (f->n > 0) {
    size_t len;
    const char *line = fz_until(f, '\n', &len);
    if (len == 0)
      break;
    (void)hr_headers_add_line(h, line, len);
  }
}

static void structured(fz *f, int fix, int incomplete) {
  hr_cache_entry e;
  hr_cache_entry_init(&e);
  e.incomplete = incomplete;
  size_t len;
  const char *url = fz_until(f, '\n', &len);
  e.key = fz_strndup(url, len);
  if (e.key[0] == '\0') {
    /* Entries always have a key: both codec directions refuse an empty
     * one. */
    free(e.key);
    e.key = fz_strndup("http://example.com/", 19);
  }
  e.status = 100 + fz_u16(f) % 900;
  e.response_ms =
      (int64_t)fz_u8(f) * INT64_C(86400000) + INT64_C(1600000000000);
  e.request_ms = e.response_ms - fz_u8(f);
  add_fields(f, &e.vary);
  add_fields(f, &e.headers);
  /* The last two bytes pick a truncation point and a byte to flip. */
  uint16_t pick = 0;
  if (f->n >= 2) {
    pick = (uint16_t)((f->p[f->n - 2] << 8) | f->p[f->n - 1]);
    f->n -= 2;
  }
  e.body_len = f->n;
  e.body = fz_strndup((const char *)f->p, f->n);

  hr_buf enc;
  hr_buf_init(&enc);
  check_roundtrip(&e, &enc);
  if (enc.len > 0) {
    hr_cache_entry x;
    /* Every proper prefix is truncated, never a shorter valid entry. */
    size_t cuts[] = {0, enc.len - 1, pick % enc.len, enc.len / 2};
    for (size_t i = 0; i < HR_ARRAY_LEN(cuts); i++) {
      hr_cache_entry_init(&x);
      int rc = decode_exact(enc.data, cuts[i], &x);
      FUZZ_CHECK(rc != 0);
      hr_cache_entry_free(&x);
    }
    /* A flipped byte: refused, or (after the fix-up) sane. */
    ((unsigned char *)enc.data)[pick % enc.len] ^=
        (unsigned char)(1u << (pick >> 13));
    decode_damaged((const unsigned char *)enc.data, enc.len, fix);
  }
  hr_buf_free(&enc);
  hr_cache_entry_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (size_t)256 * 1024)
    return 0;
  fz f = fz_make(data, size);
  uint8_t mode = fz_u8(&f);
  if (mode & 1)
    structured(&f, mode & 2, (mode & 4) != 0);
  else
    decode_damaged(f.p, f.n, mode & 2);
  return 0;
}
