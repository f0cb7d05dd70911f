/* SPDX-License-Identifier: MIT */
/* A stored response and its byte encoding.
 *
 * Whatever a store hands back may have been damaged on disk, truncated by a
 * crash, written by another program or crafted: the decoder verifies the
 * length and the checksum before reading anything else, then still checks
 * every count and length against the bytes that remain, so no value read
 * from the input ever sizes an allocation beyond the input itself.
 *
 * Layout (integers little-endian):
 *   0  "HRCE"        4  u32 version     8  u64 total length
 *  16  u32 status   20  u32 key length  24  i64 request_ms
 *  32  i64 response_ms                  40  u32 vary fields
 *  44  u32 header fields                48  u64 body length
 *  56  key, then per field: u32 name length, u32 value length, name, value
 *      (vary fields first), then the body, then u64 checksum of all before.
 *
 * Version 2 (written only for an incomplete entry, so that a complete one
 * stays readable by builds that know only version 1) inserts at 56 a u32
 * of flags (bit 0: incomplete, the others zero) and a u32 zero; the key
 * and the rest follow at 64.  Both versions are read.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define MAGIC "HRCE"
#define FORMAT_VERSION 1u
#define FORMAT_VERSION_FLAGS 2u
#define FIXED_LEN 56u
#define FLAGS_LEN 8u /* version 2: u32 flags, u32 zero */
#define FLAG_INCOMPLETE 1u
#define TRAILER_LEN 8u
#define FIELD_LEN 8u /* the two lengths before each field */

uint64_t hr_cache_checksum(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = UINT64_C(0xcbf29ce484222325) ^ (uint64_t)len;
  /* xor, multiply by an odd constant, xorshift: each is invertible, so a
   * change in one word survives every later step. */
  while (len >= 8) {
    h ^= hr_get_le64(p);
    h *= UINT64_C(0x9e3779b97f4a7c15);
    h ^= h >> 29;
    p += 8;
    len -= 8;
  }
  uint64_t w = 0;
  for (size_t i = 0; i < len; i++)
    w |= (uint64_t)p[i] << (8 * i);
  h ^= w;
  h *= UINT64_C(0x9e3779b97f4a7c15);
  h ^= h >> 32;
  h *= UINT64_C(0xd6e8feb86659fd93);
  h ^= h >> 32;
  return h;
}

/* What the decoder accepts as a field value: no CR, LF or NUL, and no
 * surrounding OWS (hr_headers_add trims it, so a stored value never has
 * any).  The encoder checks the same, so whatever encodes decodes. */
static int value_ok(const char *v, size_t len) {
  if (len &&
      (hr_is_ows((unsigned char)v[0]) || hr_is_ows((unsigned char)v[len - 1])))
    return 0;
  return !memchr(v, '\r', len) && !memchr(v, '\n', len);
}

/* Adds the encoded size of a field list to *total; 0 on a field the
 * decoder would refuse or on overflow past the entry bound. */
static int fields_size(const hr_headers *h, size_t *total) {
  if (h->n > UINT32_MAX)
    return 0;
  for (size_t i = 0; i < h->n; i++) {
    size_t nl = strlen(h->v[i].name), vl = strlen(h->v[i].value);
    if (nl > HR_CACHE_MAX_ENTRY || vl > HR_CACHE_MAX_ENTRY ||
        !hr_is_token(h->v[i].name, nl) || !value_ok(h->v[i].value, vl))
      return 0;
    *total += FIELD_LEN + nl + vl;
    if (*total > HR_CACHE_MAX_ENTRY)
      return 0;
  }
  return 1;
}

static unsigned char *put_fields(unsigned char *p, const hr_headers *h) {
  for (size_t i = 0; i < h->n; i++) {
    size_t nl = strlen(h->v[i].name), vl = strlen(h->v[i].value);
    hr_put_le32(p, (uint32_t)nl);
    hr_put_le32(p + 4, (uint32_t)vl);
    p += FIELD_LEN;
    memcpy(p, h->v[i].name, nl);
    p += nl;
    memcpy(p, h->v[i].value, vl);
    p += vl;
  }
  return p;
}

int hr_cache_entry_encode(const hr_cache_entry *e, hr_buf *out) {
  if (!e || !out || !e->key || (e->body_len && !e->body))
    return HTTPRESP_E_INVALID_ARG;
  size_t key_len = strlen(e->key);
  if (key_len == 0 || key_len > HR_CACHE_MAX_ENTRY ||
      e->body_len > HR_CACHE_MAX_ENTRY || e->status < 100 || e->status > 999)
    return HTTPRESP_E_INVALID_ARG;
  size_t fixed = e->incomplete ? FIXED_LEN + FLAGS_LEN : FIXED_LEN;
  size_t total = fixed + TRAILER_LEN + key_len + e->body_len;
  if (total > HR_CACHE_MAX_ENTRY || !fields_size(&e->vary, &total) ||
      !fields_size(&e->headers, &total))
    return HTTPRESP_E_INVALID_ARG;

  if (out->len > SIZE_MAX - total - 1)
    return HTTPRESP_E_NOMEM;
  size_t need = out->len + total + 1;
  if (need > out->cap) {
    char *d = realloc(out->data, need);
    if (!d)
      return HTTPRESP_E_NOMEM;
    out->data = d;
    out->cap = need;
  }
  unsigned char *start = (unsigned char *)out->data + out->len;
  unsigned char *p = start;
  memcpy(p, MAGIC, 4);
  hr_put_le32(p + 4, e->incomplete ? FORMAT_VERSION_FLAGS : FORMAT_VERSION);
  hr_put_le64(p + 8, (uint64_t)total);
  hr_put_le32(p + 16, (uint32_t)e->status);
  hr_put_le32(p + 20, (uint32_t)key_len);
  hr_put_le64(p + 24, (uint64_t)e->request_ms);
  hr_put_le64(p + 32, (uint64_t)e->response_ms);
  hr_put_le32(p + 40, (uint32_t)e->vary.n);
  hr_put_le32(p + 44, (uint32_t)e->headers.n);
  hr_put_le64(p + 48, (uint64_t)e->body_len);
  if (e->incomplete) {
    hr_put_le32(p + FIXED_LEN, FLAG_INCOMPLETE);
    hr_put_le32(p + FIXED_LEN + 4, 0);
  }
  p += fixed;
  memcpy(p, e->key, key_len);
  p += key_len;
  p = put_fields(p, &e->vary);
  p = put_fields(p, &e->headers);
  if (e->body_len)
    memcpy(p, e->body, e->body_len);
  p += e->body_len;
  hr_put_le64(p, hr_cache_checksum(start, total - TRAILER_LEN));
  out->len += total;
  out->data[out->len] = '\0';
  return 0;
}

/* A read cursor that can only move forward within [p, end). */
typedef struct cursor {
  const unsigned char *p;
  const unsigned char *end;
} cursor;

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

static int take(cursor *c, size_t n, const unsigned char **out) {
  if (n > left(c))
    return 0;
  *out = c->p;
  c->p += n;
  return 1;
}

static int decode_fields(cursor *c, uint32_t count, hr_headers *h) {
  /* Each field takes at least FIELD_LEN bytes: a count the remaining bytes
   * cannot hold fails before anything is allocated for it. */
  if (count > left(c) / FIELD_LEN)
    return HTTPRESP_E_CACHE_IO;
  for (uint32_t i = 0; i < count; i++) {
    const unsigned char *lens, *name, *value;
    if (!take(c, FIELD_LEN, &lens))
      return HTTPRESP_E_CACHE_IO;
    uint32_t nl = hr_get_le32(lens), vl = hr_get_le32(lens + 4);
    if (!take(c, nl, &name) || !take(c, vl, &value))
      return HTTPRESP_E_CACHE_IO;
    if (memchr(value, '\0', vl) || !value_ok((const char *)value, vl))
      return HTTPRESP_E_CACHE_IO; /* not something we ever encode */
    int rc = hr_headers_add(h, (const char *)name, nl, (const char *)value, vl);
    if (rc)
      return rc == HTTPRESP_E_NOMEM ? rc : HTTPRESP_E_CACHE_IO;
  }
  return 0;
}

static int decode(const unsigned char *d, size_t len, hr_cache_entry *e) {
  if (len < FIXED_LEN + TRAILER_LEN || len > HR_CACHE_MAX_ENTRY ||
      memcmp(d, MAGIC, 4) != 0 || hr_get_le64(d + 8) != (uint64_t)len)
    return HTTPRESP_E_CACHE_IO;
  uint32_t version = hr_get_le32(d + 4);
  size_t fixed = version == FORMAT_VERSION_FLAGS ? FIXED_LEN + FLAGS_LEN
                 : version == FORMAT_VERSION     ? FIXED_LEN
                                                 : 0;
  if (!fixed || len < fixed + TRAILER_LEN)
    return HTTPRESP_E_CACHE_IO;
  if (hr_get_le64(d + len - TRAILER_LEN) != hr_cache_checksum(d, len - TRAILER_LEN))
    return HTTPRESP_E_CACHE_IO;

  uint32_t status = hr_get_le32(d + 16);
  if (status < 100 || status > 999)
    return HTTPRESP_E_CACHE_IO;
  e->status = (int)status;
  e->request_ms = (int64_t)hr_get_le64(d + 24);
  e->response_ms = (int64_t)hr_get_le64(d + 32);
  uint64_t body_len = hr_get_le64(d + 48);
  if (version == FORMAT_VERSION_FLAGS) {
    /* Only the flag we write, and a version-2 entry always has it (a
     * complete entry is written as version 1): anything else is foreign. */
    if (hr_get_le32(d + FIXED_LEN) != FLAG_INCOMPLETE ||
        hr_get_le32(d + FIXED_LEN + 4) != 0)
      return HTTPRESP_E_CACHE_IO;
    e->incomplete = 1;
  }

  cursor c = {d + fixed, d + len - TRAILER_LEN};
  const unsigned char *key, *body;
  uint32_t key_len = hr_get_le32(d + 20);
  if (key_len == 0 || !take(&c, key_len, &key) || memchr(key, '\0', key_len))
    return HTTPRESP_E_CACHE_IO;
  if (!(e->key = hr_strndup((const char *)key, key_len)))
    return HTTPRESP_E_NOMEM;
  int rc = decode_fields(&c, hr_get_le32(d + 40), &e->vary);
  if (!rc)
    rc = decode_fields(&c, hr_get_le32(d + 44), &e->headers);
  if (rc)
    return rc;
  /* The body must be exactly what is left. */
  if (body_len != left(&c) || !take(&c, (size_t)body_len, &body))
    return HTTPRESP_E_CACHE_IO;
  if (!(e->body = malloc((size_t)body_len + 1)))
    return HTTPRESP_E_NOMEM;
  if (body_len)
    memcpy(e->body, body, (size_t)body_len);
  e->body[body_len] = '\0';
  e->body_len = (size_t)body_len;
  return 0;
}

int hr_cache_entry_decode(const void *data, size_t len, hr_cache_entry *e) {
  if (!e)
    return HTTPRESP_E_INVALID_ARG;
  hr_cache_entry_init(e);
  if (!data)
    return HTTPRESP_E_CACHE_IO;
  int rc = decode(data, len, e);
  if (rc)
    hr_cache_entry_free(e);
  return rc;
}
