/* SPDX-License-Identifier: MIT */
/* The cache entry encoding: round trips, and every kind of damage a store
 * can hand back (flipped bytes, truncation, foreign data, forged counts)
 * read as HTTPRESP_E_CACHE_IO, never a crash or a huge allocation. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/codec.h"

static void add(hr_headers *h, const char *name, const char *value) {
  cr_assert(hr_headers_add(h, name, strlen(name), value, strlen(value)) == 0);
}

/* An entry with a bit of everything. */
static void sample(hr_cache_entry *e, size_t body_len) {
  hr_cache_entry_init(e);
  e->key = strdup("https://a.example/p?q=1");
  e->status = 203;
  e->request_ms = INT64_C(1700000000000);
  e->response_ms = INT64_C(1700000000123);
  add(&e->vary, "Accept-Encoding", "gzip");
  add(&e->vary, "Accept-Encoding", "br");
  add(&e->headers, "Date", "Tue, 14 Nov 2023 22:13:20 GMT");
  add(&e->headers, "Set-Cookie", "a=1");
  add(&e->headers, "Content-Type", "application/octet-stream");
  add(&e->headers, "Set-Cookie", "b=2");
  add(&e->headers, "X-Empty", "");
  e->body_len = body_len;
  e->body = malloc(body_len + 1);
  cr_assert_not_null(e->body);
  for (size_t i = 0; i < body_len; i++)
    e->body[i] = (char)((i * 7) % 256); /* NULs included */
  e->body[body_len] = '\0';
}

static void expect_same_headers(const hr_headers *a, const hr_headers *b) {
  cr_assert_eq(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    cr_expect_str_eq(a->v[i].name, b->v[i].name);
    cr_expect_str_eq(a->v[i].value, b->v[i].value);
  }
}

static void expect_same(const hr_cache_entry *a, const hr_cache_entry *b) {
  cr_expect_str_eq(a->key, b->key);
  cr_expect_eq(a->status, b->status);
  cr_expect_eq(a->request_ms, b->request_ms);
  cr_expect_eq(a->response_ms, b->response_ms);
  expect_same_headers(&a->vary, &b->vary);
  expect_same_headers(&a->headers, &b->headers);
  cr_assert_eq(a->body_len, b->body_len);
  cr_expect(a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0);
  cr_expect_not_null(b->body);
}

static void encode(const hr_cache_entry *e, hr_buf *b) {
  hr_buf_init(b);
  cr_assert(hr_cache_entry_encode(e, b) == 0);
}

static void roundtrip(size_t body_len) {
  hr_cache_entry e, d;
  hr_buf b;
  sample(&e, body_len);
  encode(&e, &b);
  cr_assert(hr_cache_entry_decode(b.data, b.len, &d) == 0);
  expect_same(&e, &d);
  hr_cache_entry_free(&d);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, roundtrip_binary_body) { roundtrip(1000); }
Test(cache_entry, roundtrip_empty_body) { roundtrip(0); }
Test(cache_entry, roundtrip_large_body) { roundtrip(8u * 1024 * 1024 + 3); }

Test(cache_entry, roundtrip_minimal_and_negative_times) {
  hr_cache_entry e, d;
  hr_cache_entry_init(&e);
  e.key = strdup("http://x/");
  e.status = 200;
  e.request_ms = -5;
  e.response_ms = INT64_MIN;
  hr_buf b;
  encode(&e, &b);
  cr_assert(hr_cache_entry_decode(b.data, b.len, &d) == 0);
  expect_same(&e, &d);
  cr_expect_eq(d.body_len, 0u);
  hr_cache_entry_free(&d);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, encode_appends_to_buffer) {
  hr_cache_entry e, d;
  sample(&e, 10);
  hr_buf b;
  hr_buf_init(&b);
  cr_assert(hr_buf_append_str(&b, "prefix") == 0);
  cr_assert(hr_cache_entry_encode(&e, &b) == 0);
  cr_assert(hr_cache_entry_decode(b.data + 6, b.len - 6, &d) == 0);
  expect_same(&e, &d);
  hr_cache_entry_free(&d);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, encode_refuses_oversize) {
  hr_cache_entry e;
  sample(&e, 4);
  size_t real = e.body_len;
  e.body_len = HR_CACHE_MAX_ENTRY; /* never read: refused on the sizes */
  hr_buf b;
  hr_buf_init(&b);
  cr_expect_eq(hr_cache_entry_encode(&e, &b), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(b.len, 0u);
  e.body_len = real;
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

/* Every single-byte change anywhere is caught. */
Test(cache_entry, every_byte_corruption_rejected) {
  hr_cache_entry e, d;
  hr_buf b;
  sample(&e, 100);
  encode(&e, &b);
  static const unsigned char flips[] = {0x01, 0x80, 0xFF, 0x20};
  for (size_t pos = 0; pos < b.len; pos++) {
    for (size_t f = 0; f < sizeof(flips); f++) {
      b.data[pos] = (char)(b.data[pos] ^ flips[f]);
      int rc = hr_cache_entry_decode(b.data, b.len, &d);
      cr_assert_eq(rc, HTTPRESP_E_CACHE_IO, "byte %zu ^ %02x decoded (%d)", pos,
                   flips[f], rc);
      cr_assert_null(d.key); /* left empty */
      b.data[pos] = (char)(b.data[pos] ^ flips[f]);
    }
  }
  cr_assert(hr_cache_entry_decode(b.data, b.len, &d) == 0);
  hr_cache_entry_free(&d);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, every_truncation_and_extension_rejected) {
  hr_cache_entry e, d;
  hr_buf b;
  sample(&e, 50);
  encode(&e, &b);
  for (size_t len = 0; len < b.len; len++) {
    /* A private copy, so ASan catches any read past the given length. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, b.data, len);
    cr_assert_eq(hr_cache_entry_decode(copy, len, &d), HTTPRESP_E_CACHE_IO,
                 "truncated to %zu", len);
    free(copy);
  }
  cr_assert(hr_buf_append(&b, "x", 1) == 0);
  cr_expect_eq(hr_cache_entry_decode(b.data, b.len, &d), HTTPRESP_E_CACHE_IO);
  cr_expect_eq(hr_cache_entry_decode(NULL, 0, &d), HTTPRESP_E_CACHE_IO);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, foreign_data_rejected) {
  hr_cache_entry d;
  static const char *const foreign[] = {
      "",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0",
      "HRCE",
      "HRCE\x01\0\0\0",
  };
  for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
    cr_expect_eq(hr_cache_entry_decode(foreign[i], strlen(foreign[i]) + 1, &d),
                 HTTPRESP_E_CACHE_IO, "sample %zu", i);
  unsigned char junk[4096];
  uint64_t x = 88172645463325252u;
  for (size_t i = 0; i < sizeof(junk); i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    junk[i] = (unsigned char)x;
  }
  for (size_t len = 0; len <= sizeof(junk); len += 61)
    cr_expect_eq(hr_cache_entry_decode(junk, len, &d), HTTPRESP_E_CACHE_IO);
}

/* ---- forged entries: valid framing and checksum, lying contents -------- */

static void put32(char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (char)(v >> (8 * i));
}

static void put64(char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (char)(v >> (8 * i));
}

/* Rewrites the checksum so that only the semantic checks remain. */
static void reseal(hr_buf *b) {
  put64(b->data + b->len - 8, hr_cache_checksum(b->data, b->len - 8));
}

/* The sample with an empty body and no fields: url at 56, body after. */
static void bare(hr_buf *b, const char *url) {
  hr_cache_entry e;
  hr_cache_entry_init(&e);
  e.key = strdup(url);
  e.status = 200;
  encode(&e, b);
  hr_cache_entry_free(&e);
}

Test(cache_entry, resealed_original_still_decodes) {
  hr_buf b;
  hr_cache_entry d;
  bare(&b, "http://x/");
  reseal(&b);
  cr_assert(hr_cache_entry_decode(b.data, b.len, &d) == 0);
  hr_cache_entry_free(&d);
  hr_buf_free(&b);
}

typedef void (*forge_fn)(hr_buf *b);

static void absurd_header_count(hr_buf *b) { put32(b->data + 44, 1000000000u); }
static void absurd_vary_count(hr_buf *b) { put32(b->data + 40, UINT32_MAX); }
static void absurd_url_len(hr_buf *b) { put32(b->data + 20, UINT32_MAX); }
static void zero_url_len(hr_buf *b) { put32(b->data + 20, 0); }
static void absurd_body_len(hr_buf *b) { put64(b->data + 48, UINT64_MAX); }
static void short_body_len(hr_buf *b) { put64(b->data + 48, 1); }
static void bad_status(hr_buf *b) { put32(b->data + 16, 42); }
static void huge_status(hr_buf *b) { put32(b->data + 16, 0x80000000u); }
static void other_version(hr_buf *b) { put32(b->data + 4, 2); }
static void future_version(hr_buf *b) { put32(b->data + 4, 3); }
static void other_magic(hr_buf *b) { memcpy(b->data, "XRCE", 4); }
static void wrong_total(hr_buf *b) { put64(b->data + 8, b->len + 1); }
static void nul_in_url(hr_buf *b) { b->data[58] = '\0'; }

static const forge_fn forgeries[] = {
    absurd_header_count, absurd_vary_count, absurd_url_len, zero_url_len,
    absurd_body_len,     short_body_len,    bad_status,     huge_status,
    other_version,       other_magic,       wrong_total,    nul_in_url,
    future_version,
};

/* An incomplete entry (a 200 cut short, kept for resuming) is written as
 * version 2 with its flag; a complete one stays version 1, readable by
 * builds that know only that. */
Test(cache_entry, incomplete_flag_round_trips_as_version_2) {
  hr_cache_entry e, d;
  hr_cache_entry_init(&e);
  e.key = strdup("http://x/big");
  e.status = 200;
  add(&e.headers, "ETag", "\"v1\"");
  e.body = strdup("01234");
  e.body_len = 5;
  hr_buf b1, b2;
  encode(&e, &b1);
  e.incomplete = 1;
  encode(&e, &b2);
  cr_assert_eq(b1.data[4], 1);
  cr_assert_eq(b2.data[4], 2);
  cr_assert_eq(b2.len, b1.len + 8);
  cr_assert_eq(hr_cache_entry_decode(b1.data, b1.len, &d), 0);
  cr_assert_eq(d.incomplete, 0);
  hr_cache_entry_free(&d);
  cr_assert_eq(hr_cache_entry_decode(b2.data, b2.len, &d), 0);
  cr_assert_eq(d.incomplete, 1);
  cr_assert_eq(d.body_len, 5);
  cr_assert(memcmp(d.body, "01234", 5) == 0);
  cr_assert_str_eq(d.key, "http://x/big");
  hr_cache_entry_free(&d);
  /* A flag this build does not know, or a version 2 without the flag, is
   * foreign. */
  put32(b2.data + 56, 3);
  reseal(&b2);
  cr_assert_eq(hr_cache_entry_decode(b2.data, b2.len, &d), HTTPRESP_E_CACHE_IO);
  put32(b2.data + 56, 0);
  reseal(&b2);
  cr_assert_eq(hr_cache_entry_decode(b2.data, b2.len, &d), HTTPRESP_E_CACHE_IO);
  put32(b2.data + 56, 1);
  put32(b2.data + 60, 1);
  reseal(&b2);
  cr_assert_eq(hr_cache_entry_decode(b2.data, b2.len, &d), HTTPRESP_E_CACHE_IO);
  hr_cache_entry_free(&e);
  hr_buf_free(&b1);
  hr_buf_free(&b2);
}

Test(cache_entry, forged_fields_rejected) {
  for (size_t i = 0; i < sizeof(forgeries) / sizeof(forgeries[0]); i++) {
    hr_buf b;
    hr_cache_entry d;
    bare(&b, "http://x/");
    forgeries[i](&b);
    reseal(&b);
    cr_expect_eq(hr_cache_entry_decode(b.data, b.len, &d), HTTPRESP_E_CACHE_IO,
                 "forgery %zu", i);
    hr_buf_free(&b);
  }
}

/* A field whose bytes are rewritten after encoding. */
static void forged_field(const char *name, const char *value, size_t at,
                         char with) {
  hr_cache_entry e, d;
  hr_cache_entry_init(&e);
  e.key = strdup("http://x/");
  e.status = 200;
  add(&e.headers, name, value);
  hr_buf b;
  encode(&e, &b);
  /* url (9 bytes) at 56, then the two lengths, then name and value. */
  b.data[56 + 9 + 8 + at] = with;
  reseal(&b);
  cr_expect_eq(hr_cache_entry_decode(b.data, b.len, &d), HTTPRESP_E_CACHE_IO,
               "%s: %s with byte %zu = %d", name, value, at, with);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, forged_field_contents_rejected) {
  forged_field("X-A", "value", 1, ' '); /* name not a token */
  forged_field("X-A", "value", 1, ':');
  forged_field("X-A", "value", 3, '\r'); /* CR in value */
  forged_field("X-A", "value", 4, '\n');
  forged_field("X-A", "value", 5, '\0'); /* NUL in value */
  forged_field("X-A", "value", 3, ' ');  /* leading OWS: never encoded */
  forged_field("X-A", "value", 7, '\t'); /* trailing OWS */
}

Test(cache_entry, forged_field_lengths_rejected) {
  hr_cache_entry e, d;
  hr_cache_entry_init(&e);
  e.key = strdup("http://x/");
  e.status = 200;
  add(&e.headers, "X-A", "v");
  hr_buf b;
  encode(&e, &b);
  static const uint32_t lens[] = {0, 5, 100, 0x7FFFFFFFu, UINT32_MAX};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    for (size_t which = 0; which < 2; which++) {
      hr_buf c;
      hr_buf_init(&c);
      cr_assert(hr_buf_append(&c, b.data, b.len) == 0);
      put32(c.data + 56 + 9 + 4 * which, lens[i]);
      reseal(&c);
      int rc = hr_cache_entry_decode(c.data, c.len, &d);
      if (which == 1 && lens[i] == 0) {
        /* An empty value is legal; the byte left over is not. */
        cr_expect_eq(rc, HTTPRESP_E_CACHE_IO);
      } else {
        cr_expect_eq(rc, HTTPRESP_E_CACHE_IO, "len %u in slot %zu", lens[i],
                     which);
      }
      hr_buf_free(&c);
    }
  }
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}

Test(cache_entry, checksum_detects_any_single_byte_change) {
  unsigned char buf[67];
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (unsigned char)i;
  uint64_t base = hr_cache_checksum(buf, sizeof(buf));
  for (size_t pos = 0; pos < sizeof(buf); pos++) {
    for (int v = 0; v < 256; v++) {
      if (v == buf[pos])
        continue;
      unsigned char old = buf[pos];
      buf[pos] = (unsigned char)v;
      cr_assert_neq(hr_cache_checksum(buf, sizeof(buf)), base, "pos %zu", pos);
      buf[pos] = old;
    }
  }
  cr_expect_neq(hr_cache_checksum(buf, sizeof(buf) - 1), base);
}

/* Whatever encodes must decode: the encoder refuses what the decoder
 * would. */
Test(cache_entry, encode_refuses_what_decode_refuses) {
  static const int statuses[] = {0, 99, 1000, -1, 65535};
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
    hr_cache_entry e;
    sample(&e, 3);
    e.status = statuses[i];
    hr_buf b;
    hr_buf_init(&b);
    cr_expect_eq(hr_cache_entry_encode(&e, &b), HTTPRESP_E_INVALID_ARG,
                 "status %d", statuses[i]);
    hr_cache_entry_free(&e);
    hr_buf_free(&b);
  }
  hr_cache_entry e;
  sample(&e, 3);
  e.key[0] = '\0';
  hr_buf b;
  hr_buf_init(&b);
  cr_expect_eq(hr_cache_entry_encode(&e, &b), HTTPRESP_E_INVALID_ARG);
  hr_cache_entry_free(&e);
  /* A field value with surrounding space (only reachable by editing the
   * list by hand). */
  sample(&e, 3);
  char *v = hr_headers_value_space(&e.headers, 0, 7);
  cr_assert_not_null(v);
  memcpy(v, " padded", 8);
  e.headers.v[0].value = v;
  cr_expect_eq(hr_cache_entry_encode(&e, &b), HTTPRESP_E_INVALID_ARG);
  hr_cache_entry_free(&e);
  hr_buf_free(&b);
}
