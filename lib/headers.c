/* SPDX-License-Identifier: MIT */
/* Header field lists and the header-line parsers. */
#include "headers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct hr_chunk {
  hr_chunk *next;
  size_t used, cap;
  char data[];
};

#define HR_CHUNK_MIN 512u
/* Fields the first allocation of a list has room for. */
#define HR_FIELDS_FIRST 16u

void hr_headers_init(hr_headers *h) { memset(h, 0, sizeof(*h)); }

void hr_headers_init_stable(hr_headers *h) {
  hr_headers_init(h);
  h->stable = 1;
}

static void free_chunks(hr_chunk *c) {
  while (c) {
    hr_chunk *next = c->next;
    free(c);
    c = next;
  }
}

/* Gives the field array an allocation of its own (`cap` fields), before
 * the chunk it lies in is freed or when it outgrows its place there. */
static int fields_out(hr_headers *h, size_t cap) {
  if (cap > SIZE_MAX / sizeof(hr_field))
    return HTTPRESP_E_NOMEM;
  hr_field *v = malloc(cap * sizeof(*v));
  if (!v)
    return HTTPRESP_E_NOMEM;
  if (h->n)
    memcpy(v, h->v, h->n * sizeof(*v));
  h->v = v;
  h->cap = cap;
  h->v_in_chunk = 0;
  return 0;
}

void hr_headers_clear(hr_headers *h) {
  if (h->stable)
    for (size_t i = 0; i < h->n; i++)
      free(h->v[i].name); /* the value shares the allocation */
  h->n = 0;
  /* The newest chunk is the largest: keep it for the next use.  The field
   * array leaves the oldest chunk first; without memory for that, every
   * chunk stays. */
  if (h->chunks) {
    if (!h->chunks->next || !h->v_in_chunk ||
        fields_out(h, HR_FIELDS_FIRST) == 0) {
      free_chunks(h->chunks->next);
      h->chunks->next = NULL;
    }
    h->chunks->used = h->v_in_chunk && !h->chunks->next
                          ? HR_FIELDS_FIRST * sizeof(hr_field)
                          : 0;
  }
  h->bytes = 0;
  h->dead = 0;
}

void hr_headers_free(hr_headers *h) {
  int stable = h->stable;
  hr_headers_clear(h);
  if (!h->v_in_chunk)
    free(h->v);
  free_chunks(h->chunks);
  hr_headers_init(h);
  h->stable = stable;
}

/* `len` bytes of string space; a new chunk at least doubles the last. */
static char *space(hr_headers *h, size_t len) {
  hr_chunk *c = h->chunks;
  if (c && c->cap - c->used >= len) {
    char *p = c->data + c->used;
    c->used += len;
    return p;
  }
  size_t cap = c ? c->cap * 2 : HR_CHUNK_MIN;
  if (cap < len)
    cap = len;
  if (cap > SIZE_MAX - sizeof(hr_chunk))
    return NULL;
  hr_chunk *n = malloc(sizeof(hr_chunk) + cap);
  if (!n)
    return NULL;
  n->next = c;
  n->cap = cap;
  n->used = len;
  h->chunks = n;
  return n->data;
}

/* A list's first fields and its first strings: one allocation, where
 * a response's header block mostly fits. */
static int first_block(hr_headers *h) {
  const size_t fields = HR_FIELDS_FIRST * sizeof(hr_field);
  hr_chunk *c = malloc(sizeof(hr_chunk) + fields + HR_CHUNK_MIN);
  if (!c)
    return HTTPRESP_E_NOMEM;
  c->next = NULL;
  c->cap = fields + HR_CHUNK_MIN;
  c->used = fields;
  h->chunks = c;
  h->v = (hr_field *)(void *)c->data;
  h->cap = HR_FIELDS_FIRST;
  h->v_in_chunk = 1;
  return 0;
}

static int grow_fields(hr_headers *h) {
  if (h->n < h->cap)
    return 0;
  if (!h->stable && !h->v && !h->chunks)
    return first_block(h);
  size_t cap = h->cap ? h->cap * 2 : 16;
  if (h->v_in_chunk)
    return fields_out(h, cap);
  hr_field *v = realloc(h->v, cap * sizeof(*v));
  if (!v)
    return HTTPRESP_E_NOMEM;
  h->v = v;
  h->cap = cap;
  return 0;
}

/* Appends a field whose parts are known to be valid. */
static int append(hr_headers *h, const char *name, size_t nlen,
                  const char *value, size_t vlen) {
  if (grow_fields(h) != 0 || nlen > SIZE_MAX / 4 || vlen > SIZE_MAX / 4)
    return HTTPRESP_E_NOMEM;
  char *p = h->stable ? malloc(nlen + vlen + 2) : space(h, nlen + vlen + 2);
  if (!p)
    return HTTPRESP_E_NOMEM;
  h->v[h->n].name = p;
  h->v[h->n].value = hr_put_pair(p, name, nlen, value, vlen);
  h->n++;
  h->bytes += nlen + vlen;
  return 0;
}

/* Whether byte `c` may not appear in a field value (RFC 9110 §5.5). */
static int is_value_break(unsigned char c) {
  return c == '\r' || c == '\n' || c == '\0';
}

/* Whether one of the 8 bytes at `p` is below 0x0e, which CR, LF and NUL
 * all are (the classic "has less" bit trick: exact for "any byte"). */
static int word_has_low_byte(const unsigned char *p) {
  const uint64_t ones = 0x0101010101010101u;
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  return ((w - ones * 0x0e) & ~w & ones * 0x80) != 0;
}

static int bytes_have_break(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (is_value_break(p[i]))
      return 1;
  return 0;
}

/* The same for the 4 bytes at `p`. */
static int word4_has_low_byte(const unsigned char *p) {
  const uint32_t ones = 0x01010101u;
  uint32_t w;
  memcpy(&w, p, sizeof(w));
  return ((w - ones * 0x0e) & ~w & ones * 0x80) != 0;
}

static int has_value_break(const unsigned char *p, size_t n) {
  if (n < 4)
    return bytes_have_break(p, n);
  if (n < 8) /* two words, which may overlap */
    return (word4_has_low_byte(p) && bytes_have_break(p, 4)) ||
           (word4_has_low_byte(p + n - 4) && bytes_have_break(p + n - 4, 4));
  /* Values are mostly printable text: eight bytes settle in a few
   * instructions, and only a word with a low byte (HTAB, or worse) is
   * looked at byte by byte.  The last word may overlap the one before. */
  for (size_t i = 0; i + 8 < n; i += 8)
    if (word_has_low_byte(p + i) && bytes_have_break(p + i, 8))
      return 1;
  return word_has_low_byte(p + n - 8) && bytes_have_break(p + n - 8, 8);
}

/* Checks a field value and trims its OWS: 0 with [*v, *v + *len)
 * narrowed to the trimmed value, or -1 if the value holds CR, LF or NUL.
 * OWS holds none of those, so only the trimmed part is checked. */
static int scan_value(const char **v, size_t *len) {
  const unsigned char *p = (const unsigned char *)*v, *end = p + *len;
  while (p < end && hr_is_ows(*p))
    p++;
  while (end > p && hr_is_ows(end[-1]))
    end--;
  size_t n = (size_t)(end - p);
  if (has_value_break(p, n))
    return -1;
  *v = (const char *)p;
  *len = n;
  return 0;
}

int hr_headers_add(hr_headers *h, const char *name, size_t nlen,
                   const char *value, size_t vlen) {
  if (!hr_is_token(name, nlen) || scan_value(&value, &vlen) != 0)
    return HTTPRESP_E_INVALID_ARG;
  return append(h, name, nlen, value, vlen);
}

char *hr_headers_value_space(hr_headers *h, size_t i, size_t len) {
  if (h->stable || i >= h->n || len == SIZE_MAX)
    return NULL;
  char *p = space(h, len + 1);
  if (p)
    h->dead += strlen(h->v[i].value) + 1;
  return p;
}

int hr_headers_add_line(hr_headers *h, const char *line, size_t len) {
  size_t nlen;
  return hr_headers_add_line_n(h, line, len, &nlen);
}

int hr_headers_add_line_n(hr_headers *h, const char *line, size_t len,
                          size_t *name_len) {
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  /* The name is the token the line starts with, and the byte after it must
   * be the colon: ':' is no tchar, and RFC 9112 §5.1 allows no whitespace
   * between the name and the colon. */
  const unsigned char *u = (const unsigned char *)line;
  size_t nlen = 0;
  while (nlen + 4 <= len && hr_is_tchar(u[nlen]) && hr_is_tchar(u[nlen + 1]) &&
         hr_is_tchar(u[nlen + 2]) && hr_is_tchar(u[nlen + 3]))
    nlen += 4;
  while (nlen < len && hr_is_tchar(u[nlen]))
    nlen++;
  if (nlen == 0 || nlen == len || line[nlen] != ':')
    return HTTPRESP_E_BAD_RESPONSE;
  const char *value = line + nlen + 1;
  size_t vlen = len - nlen - 1;
  if (scan_value(&value, &vlen) != 0)
    return HTTPRESP_E_BAD_RESPONSE;
  *name_len = nlen;
  if (h->stable)
    return append(h, line, nlen, value, vlen);
  /* One copy of the line up to the value's end; the colon and the OWS
   * before the value stay in the copy, and NULs end name and value. */
  size_t span = (size_t)(value - line) + vlen;
  if ((h->n == h->cap && grow_fields(h) != 0) || span > SIZE_MAX / 4)
    return HTTPRESP_E_NOMEM;
  /* space()'s usual case written out: the newest chunk has room. */
  hr_chunk *c = h->chunks;
  char *p;
  if (c && c->cap - c->used > span) {
    p = c->data + c->used;
    c->used += span + 1;
  } else if ((p = space(h, span + 1)) == NULL) {
    return HTTPRESP_E_NOMEM;
  }
  memcpy(p, line, span);
  p[nlen] = '\0';
  p[span] = '\0';
  h->v[h->n].name = p;
  h->v[h->n].value = p + (value - line);
  h->n++;
  h->bytes += nlen + vlen;
  return 0;
}

const char *hr_headers_get(const hr_headers *h, const char *name) {
  for (size_t i = 0; i < h->n; i++)
    if (hr_strcaseeq(h->v[i].name, name))
      return h->v[i].value;
  return NULL;
}

size_t hr_headers_count(const hr_headers *h, const char *name) {
  size_t c = 0;
  for (size_t i = 0; i < h->n; i++)
    c += hr_strcaseeq(h->v[i].name, name) ? 1 : 0;
  return c;
}

/* A list edited again and again (a request reused with changing headers)
 * would keep every removed string: once the dead part outweighs the live
 * one, the strings move to one fresh chunk. */
static void compact(hr_headers *h) {
  if (h->stable || h->dead < 4096 || h->dead < h->bytes)
    return;
  /* Without memory to move the field array, the garbage stays. */
  if (h->v_in_chunk && fields_out(h, h->cap) != 0)
    return;
  if (h->n == 0) { /* nothing live: just drop the strings */
    free_chunks(h->chunks);
    h->chunks = NULL;
    h->dead = 0;
    return;
  }
  hr_headers fresh;
  hr_headers_init(&fresh);
  fresh.v = h->v; /* the field array stays; only strings move */
  fresh.cap = h->cap;
  if (!space(&fresh, h->bytes + 2 * h->n))
    return; /* no memory: keep the garbage, lose nothing */
  fresh.chunks->used = 0;
  for (size_t i = 0; i < h->n; i++) {
    size_t nl = strlen(h->v[i].name), vl = strlen(h->v[i].value);
    char *p = space(&fresh, nl + vl + 2);
    h->v[i].value = hr_put_pair(p, h->v[i].name, nl, h->v[i].value, vl);
    h->v[i].name = p;
  }
  free_chunks(h->chunks);
  h->chunks = fresh.chunks;
  h->dead = 0;
}

static void drop(hr_headers *h, size_t i) {
  size_t nl = strlen(h->v[i].name), vl = strlen(h->v[i].value);
  h->bytes -= nl + vl;
  if (h->stable)
    free(h->v[i].name); /* the value shares the allocation */
  else
    h->dead += nl + vl + 2;
}

size_t hr_headers_remove(hr_headers *h, const char *name) {
  size_t out = 0, removed = 0;
  for (size_t i = 0; i < h->n; i++) {
    if (hr_strcaseeq(h->v[i].name, name)) {
      drop(h, i);
      removed++;
    } else {
      h->v[out++] = h->v[i];
    }
  }
  h->n = out;
  if (removed)
    compact(h);
  return removed;
}

void hr_headers_remove_at(hr_headers *h, size_t i) {
  if (i >= h->n)
    return;
  drop(h, i);
  memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof(h->v[0]));
  h->n--;
  compact(h);
}

int hr_headers_copy(hr_headers *dst, const hr_headers *src) {
  hr_headers_clear(dst);
  if (src->n == 0)
    return 0;
  /* One chunk for all the strings, one array for the fields. */
  size_t need = src->bytes + 2 * src->n;
  if (!dst->stable && dst->chunks && dst->chunks->cap < need) {
    if (dst->v_in_chunk && fields_out(dst, src->n) != 0)
      return HTTPRESP_E_NOMEM;
    free_chunks(dst->chunks);
    dst->chunks = NULL;
  }
  if (!dst->stable && !dst->chunks) {
    if (!space(dst, need))
      return HTTPRESP_E_NOMEM;
    dst->chunks->used = 0;
  }
  if (dst->cap < src->n && dst->v_in_chunk) {
    if (fields_out(dst, src->n) != 0)
      return HTTPRESP_E_NOMEM;
  } else if (dst->cap < src->n) {
    hr_field *v = realloc(dst->v, src->n * sizeof(*v));
    if (!v)
      return HTTPRESP_E_NOMEM;
    dst->v = v;
    dst->cap = src->n;
  }
  for (size_t i = 0; i < src->n; i++) {
    int rc = append(dst, src->v[i].name, strlen(src->v[i].name),
                    src->v[i].value, strlen(src->v[i].value));
    if (rc)
      return rc;
  }
  return 0;
}

static int list_has_token(const char *v, const char *token) {
  size_t tlen = strlen(token);
  while (*v) {
    while (*v == ',' || hr_is_ows((unsigned char)*v))
      v++;
    const char *start = v;
    while (*v && *v != ',')
      v++;
    size_t len = (size_t)(v - start);
    hr_trim_ows(&start, &len);
    if (len == tlen && hr_strncaseeq(start, token, tlen))
      return 1;
  }
  return 0;
}

int hr_headers_has_token(const hr_headers *h, const char *name,
                         const char *token) {
  for (size_t i = 0; i < h->n; i++)
    if (hr_strcaseeq(h->v[i].name, name) && list_has_token(h->v[i].value, token))
      return 1;
  return 0;
}

/* The verdict on one Content-Length field value given the length so far
 * (-1: none yet): NULL when it agrees, with *len set.  One pass: it runs
 * for nearly every response. */
static const char *length_field(const char *v, int64_t *len) {
  int members = 0;
  for (;;) {
    while (*v == ' ' || *v == '\t')
      v++;
    if (*v >= '0' && *v <= '9') {
      /* RFC 9110 §8.6: 1*DIGIT, kept within 63 bits (a recipient must not
       * let the conversion overflow). */
      int64_t x = 0;
      for (; *v >= '0' && *v <= '9'; v++) {
        if (x > (INT64_MAX - (*v - '0')) / 10)
          return "malformed response: Content-Length is too large to "
                 "represent";
        x = x * 10 + (*v - '0');
      }
      while (*v == ' ' || *v == '\t')
        v++;
      if (*len >= 0 && x != *len)
        return "malformed response: several different Content-Length values";
      *len = x;
      members++;
    }
    /* RFC 9110 §5.6.1: empty list elements are ignored. */
    if (*v == ',') {
      v++;
      continue;
    }
    if (*v)
      return "malformed response: Content-Length is not a number";
    break;
  }
  return members ? NULL : "malformed response: Content-Length is empty";
}

/* The 8 bytes at `p`, as one word (any byte order: both sides of a
 * comparison are read alike). */
static uint64_t word_at(const char *p) {
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  return w;
}

/* Whether the field name `name`, `n` >= 8 bytes long, is `lower` (as long,
 * of lower case letters and '-'), compared a word at a time: runs for
 * every field of every response whose name has one of the lengths asked
 * about.  Setting 0x20 in every byte folds letters to lower case; no other
 * tchar becomes a letter or '-' so. */
static int name_is(const char *name, const char *lower, size_t n) {
  const uint64_t fold = 0x2020202020202020u;
  for (size_t i = 0; i + 8 < n; i += 8)
    if ((word_at(name + i) | fold) != word_at(lower + i))
      return 0;
  return (word_at(name + n - 8) | fold) == word_at(lower + n - 8);
}

void hr_framing_init(hr_framing *f) {
  f->length = -1;
  f->bad = NULL;
  f->chunked = 0;
}

void hr_framing_named(hr_framing *f, const char *name, size_t nlen,
                      const char *value) {
  if (nlen == 17 && name_is(name, "transfer-encoding", 17))
    f->chunked = 1; /* it frames the message; Content-Length is ignored */
  else if (nlen == 14 && !f->bad && name_is(name, "content-length", 14))
    f->bad = length_field(value, &f->length);
}

int hr_framing_verdict(const hr_framing *f, int bodyless, int64_t *length,
                       const char **why) {
  *why = NULL;
  if (length)
    *length = -1;
  if (bodyless || f->chunked)
    return 0;
  if (f->bad) {
    *why = f->bad;
    return HTTPRESP_E_BAD_RESPONSE;
  }
  if (length)
    *length = f->length;
  return 0;
}

int hr_headers_check_framing(const hr_headers *h, int bodyless, int64_t *length,
                             const char **why) {
  hr_framing f;
  hr_framing_init(&f);
  if (!bodyless)
    for (size_t i = 0; i < h->n && !f.chunked; i++)
      hr_framing_field(&f, h->v[i].name, strlen(h->v[i].name), h->v[i].value);
  return hr_framing_verdict(&f, bodyless, length, why);
}

int hr_parse_status_line(const char *line, size_t len, int *status) {
  /* HTTP-version SP 3DIGIT [SP reason]; libcurl gives "HTTP/2" for h2. */
  if (len < 5 || memcmp(line, "HTTP/", 5) != 0)
    return HTTPRESP_E_BAD_RESPONSE;
  size_t i = 5;
  if (i >= len || line[i] < '0' || line[i] > '9')
    return HTTPRESP_E_BAD_RESPONSE;
  i++;
  if (i < len && line[i] == '.') {
    i++;
    if (i >= len || line[i] < '0' || line[i] > '9')
      return HTTPRESP_E_BAD_RESPONSE;
    i++;
  }
  if (i >= len || line[i] != ' ')
    return HTTPRESP_E_BAD_RESPONSE;
  i++;
  if (i + 3 > len)
    return HTTPRESP_E_BAD_RESPONSE;
  int code = 0;
  for (size_t k = 0; k < 3; k++) {
    char c = line[i + k];
    if (c < '0' || c > '9')
      return HTTPRESP_E_BAD_RESPONSE;
    code = code * 10 + (c - '0');
  }
  i += 3;
  if (i < len && line[i] != ' ' && line[i] != '\r' && line[i] != '\n')
    return HTTPRESP_E_BAD_RESPONSE;
  if (code < 100)
    return HTTPRESP_E_BAD_RESPONSE;
  *status = code;
  return 0;
}

int hr_parse_header_block(const char *data, size_t len, int *status,
                          hr_headers *out) {
  size_t pos = 0;
  int first = 1;
  hr_headers_clear(out);
  while (pos < len) {
    const char *nl = memchr(data + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - data) + 1 : len;
    const char *line = data + pos;
    size_t llen = end - pos;
    pos = end;
    size_t bare = llen;
    while (bare && (line[bare - 1] == '\n' || line[bare - 1] == '\r'))
      bare--;
    if (first) {
      int rc = hr_parse_status_line(line, bare, status);
      if (rc)
        return rc;
      first = 0;
      continue;
    }
    if (bare == 0)
      return 0;
    if (hr_is_ows((unsigned char)line[0]))
      return HTTPRESP_E_BAD_RESPONSE; /* obs-fold */
    int rc = hr_headers_add_line(out, line, bare);
    if (rc)
      return rc;
  }
  return first ? HTTPRESP_E_BAD_RESPONSE : 0;
}

void hr_list_init(hr_list_iter *it, const hr_headers *h, const char *name) {
  it->h = h;
  it->name = name;
  it->i = 0;
  it->p = NULL;
}

int hr_list_next(hr_list_iter *it, const char **s, size_t *len) {
  for (;;) {
    if (!it->p) {
      while (it->i < it->h->n && !hr_strcaseeq(it->h->v[it->i].name, it->name))
        it->i++;
      if (it->i >= it->h->n)
        return 0;
      it->p = it->h->v[it->i].value;
    }
    if (!*it->p) {
      it->p = NULL;
      it->i++;
      continue;
    }
    const char *start = it->p;
    const char *comma = strchr(start, ',');
    size_t n = comma ? (size_t)(comma - start) : strlen(start);
    it->p = comma ? comma + 1 : start + n;
    hr_trim_ows(&start, &n);
    if (n) {
      *s = start;
      *len = n;
      return 1;
    }
  }
}
