/* SPDX-License-Identifier: MIT */
/* Small string and buffer helpers used across the library. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hr_buf_init(hr_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void hr_buf_free(hr_buf *b) {
  free(b->data);
  hr_buf_init(b);
}

void hr_buf_reset(hr_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

int hr_buf_append(hr_buf *b, const void *data, size_t len) {
  if (len >= SIZE_MAX - b->len - 1)
    return HTTPRESP_E_NOMEM;
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + len + 1)
      cap = cap > SIZE_MAX / 2 ? b->len + len + 1 : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
      return HTTPRESP_E_NOMEM;
    b->data = p;
    b->cap = cap;
  }
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int hr_buf_append_str(hr_buf *b, const char *s) {
  return hr_buf_append(b, s, strlen(s));
}

char *hr_buf_steal(hr_buf *b) {
  char *p = b->data;
  if (!p)
    p = hr_strdup("");
  hr_buf_init(b);
  return p;
}

char *hr_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p)
    return NULL;
  if (n)
    memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *hr_strdup(const char *s) { return s ? hr_strndup(s, strlen(s)) : NULL; }

char *hr_vformat(size_t max, const char *fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, max < sizeof(buf) ? max : sizeof(buf), fmt, ap);
  return hr_strdup(buf);
}

char *hr_put_pair(char *dst, const char *a, size_t alen, const char *b,
                  size_t blen) {
  memcpy(dst, a, alen);
  dst[alen] = '\0';
  char *second = dst + alen + 1;
  if (blen)
    memcpy(second, b, blen);
  second[blen] = '\0';
  return second;
}

int hr_grow_inline(void **v, size_t *cap, void *inl, size_t elem) {
  if (*cap > SIZE_MAX / 2 / elem)
    return HTTPRESP_E_NOMEM;
  size_t ncap = *cap * 2;
  void *nv = *v == inl ? malloc(ncap * elem) : realloc(*v, ncap * elem);
  if (!nv)
    return HTTPRESP_E_NOMEM;
  if (*v == inl)
    memcpy(nv, inl, *cap * elem);
  *v = nv;
  *cap = ncap;
  return 0;
}


/* Two bytes that differ are still equal ignoring ASCII case when they
 * differ only in the case bit and are letters.  Most compared bytes are
 * plainly equal, and that test alone settles them. */
static inline int case_differs(unsigned char a, unsigned char b) {
  unsigned char l = (unsigned char)(a | 0x20);
  return (a ^ b) != 0x20 || l < 'a' || l > 'z';
}

int hr_strcaseeq(const char *a, const char *b) {
  for (;; a++, b++) {
    unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
    if (ca == cb) {
      if (!ca)
        return 1;
    } else if (case_differs(ca, cb)) {
      return 0;
    }
  }
}

int hr_strncaseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
    if (ca == cb) {
      if (!ca)
        return 1;
    } else if (case_differs(ca, cb)) {
      return 0;
    }
  }
  return 1;
}

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
#define T10 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define T26 T10, T10, 1, 1, 1, 1, 1, 1
const unsigned char hr_tchar_table[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = T10, ['A'] = T26, ['a'] = T26};
#undef T26
#undef T10

int hr_is_token(const char *s, size_t len) {
  if (len == 0)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!hr_is_tchar((unsigned char)s[i]))
      return 0;
  return 1;
}


void hr_trim_ows(const char **s, size_t *len) {
  while (*len && hr_is_ows((unsigned char)**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len && hr_is_ows((unsigned char)(*s)[*len - 1]))
    (*len)--;
}
