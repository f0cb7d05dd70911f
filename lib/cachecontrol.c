/* SPDX-License-Identifier: MIT */
/* Cache-Control and Pragma parsing (RFC 9111 §5.2, §5.4).
 *
 * Field values are untrusted: the tokenizer reads [p, end) only, never
 * allocates, and turns anything it cannot make sense of into the answer
 * that keeps a cache from serving something it should not. */
#include "cachecontrol.h"

#include <string.h>

#include "common.h"

#define DELTA_MAX INT64_C(2147483647) /* RFC 9111 §1.2.2 */

/* One list element: name [ "=" ( token / quoted-string ) ]. */
typedef struct directive {
  const char *name;
  size_t nlen;
  const char *value; /* token, or a quoted-string's inside (still escaped) */
  size_t vlen;
  int has_value;
  int quoted;
  int malformed; /* unterminated quote, empty value, junk before the comma */
} directive;

static void skip_ows(const char **p, const char *end) {
  while (*p < end && hr_is_ows((unsigned char)**p))
    (*p)++;
}

/* Skips a quoted-string starting at *p (on the opening quote).  Returns 1 if
 * it was terminated; *p is then just past the closing quote, else at end. */
static int skip_quoted(const char **p, const char *end) {
  const char *q = *p + 1;
  while (q < end) {
    if (*q == '\\') {
      if (q + 1 >= end)
        break;
      q += 2;
    } else if (*q == '"') {
      *p = q + 1;
      return 1;
    } else {
      q++;
    }
  }
  *p = end;
  return 0;
}

/* Skips to the next comma that is not inside a quoted-string. */
static void skip_element(const char **p, const char *end) {
  while (*p < end && **p != ',') {
    if (**p == '"')
      skip_quoted(p, end);
    else
      (*p)++;
  }
}

/* Reads the next non-empty element.  Returns 0 at the end of the list. */
static int next_directive(const char **p, const char *end, directive *d) {
  for (;;) {
    while (*p < end && (**p == ',' || hr_is_ows((unsigned char)**p)))
      (*p)++;
    if (*p >= end)
      return 0;
    memset(d, 0, sizeof *d);
    d->name = *p;
    while (*p < end && hr_is_tchar((unsigned char)**p))
      (*p)++;
    d->nlen = (size_t)(*p - d->name);
    if (d->nlen == 0) { /* no name at all: nothing to act on */
      skip_element(p, end);
      continue;
    }
    /* Tolerate BWS around "=" as for parameters (RFC 9110 §5.6.6). */
    skip_ows(p, end);
    if (*p < end && **p == '=') {
      (*p)++;
      skip_ows(p, end);
      d->has_value = 1;
      if (*p < end && **p == '"') {
        d->quoted = 1;
        d->value = *p + 1;
        if (skip_quoted(p, end))
          d->vlen = (size_t)(*p - d->value - 1);
        else
          d->malformed = 1;
      } else {
        d->value = *p;
        while (*p < end && hr_is_tchar((unsigned char)**p))
          (*p)++;
        d->vlen = (size_t)(*p - d->value);
        if (d->vlen == 0)
          d->malformed = 1;
      }
      skip_ows(p, end);
    }
    if (*p < end && **p != ',') {
      d->malformed = 1;
      skip_element(p, end);
    }
    return 1;
  }
}

static int name_is(const directive *d, const char *name) {
  size_t n = strlen(name);
  return d->nlen == n && hr_strncaseeq(d->name, name, n);
}

/* delta-seconds = 1*DIGIT, saturating; the quoted form is accepted too
 * (RFC 9111 §5.2).  Returns -1 if the value is missing or not digits. */
static int64_t delta_seconds(const directive *d) {
  if (!d->has_value || d->malformed || d->vlen == 0)
    return -1;
  int64_t v = 0;
  size_t ndigits = 0;
  for (size_t i = 0; i < d->vlen; i++) {
    char c = d->value[i];
    if (d->quoted && c == '\\' && i + 1 < d->vlen)
      c = d->value[++i];
    if (c < '0' || c > '9')
      return -1;
    if (v <= DELTA_MAX)
      v = v * 10 + (c - '0');
    ndigits++;
  }
  if (ndigits == 0)
    return -1;
  return v > DELTA_MAX ? DELTA_MAX : v;
}

/* max-age / s-maxage: the same value every time, else 0 (stale), which
 * RFC 9111 §4.2.1 allows for conflicting or invalid freshness. */
static void set_freshness(int64_t *slot, int64_t v) {
  if (v < 0 || (*slot >= 0 && *slot != v))
    *slot = 0;
  else
    *slot = v;
}

/* Directives bounding staleness: the smallest allowance wins; an invalid
 * value allows none. */
static void set_least(int64_t *slot, int64_t v) {
  if (v < 0)
    v = 0;
  if (*slot < 0 || v < *slot)
    *slot = v;
}

/* min-fresh asks for more freshness, so the largest value is the
 * conservative one; an invalid value demands the most. */
static void set_most(int64_t *slot, int64_t v) {
  if (v < 0)
    v = DELTA_MAX;
  if (v > *slot)
    *slot = v;
}

static const struct {
  const char *name;
  unsigned flag;
} flag_directives[] = {
    {"no-store", HR_CC_NO_STORE},
    {"no-cache", HR_CC_NO_CACHE},
    {"must-revalidate", HR_CC_MUST_REVALIDATE},
    {"proxy-revalidate", HR_CC_PROXY_REVALIDATE},
    {"private", HR_CC_PRIVATE},
    {"public", HR_CC_PUBLIC},
    {"only-if-cached", HR_CC_ONLY_IF_CACHED},
    {"no-transform", HR_CC_NO_TRANSFORM},
    {"immutable", HR_CC_IMMUTABLE},
    {"must-understand", HR_CC_MUST_UNDERSTAND},
};

static void apply(hr_cc *cc, const directive *d) {
  /* Flags hold whatever argument follows: no-cache="f" and private="f"
   * are the qualified forms, and an argument nobody defined is no reason
   * to drop, say, no-store. */
  for (size_t i = 0; i < HR_ARRAY_LEN(flag_directives); i++) {
    if (name_is(d, flag_directives[i].name)) {
      cc->flags |= flag_directives[i].flag;
      return;
    }
  }
  if (name_is(d, "max-age")) {
    set_freshness(&cc->max_age, delta_seconds(d));
  } else if (name_is(d, "s-maxage")) {
    set_freshness(&cc->s_maxage, delta_seconds(d));
  } else if (name_is(d, "max-stale")) {
    if (!d->has_value && !d->malformed) {
      /* Any staleness, unless a bounded max-stale already said less. */
      if (cc->max_stale < 0)
        cc->flags |= HR_CC_MAX_STALE_ANY;
    } else {
      set_least(&cc->max_stale, delta_seconds(d));
      cc->flags &= ~(unsigned)HR_CC_MAX_STALE_ANY;
    }
  } else if (name_is(d, "min-fresh")) {
    set_most(&cc->min_fresh, delta_seconds(d));
  } else if (name_is(d, "stale-while-revalidate")) {
    set_least(&cc->stale_while_revalidate, delta_seconds(d));
  } else if (name_is(d, "stale-if-error")) {
    set_least(&cc->stale_if_error, delta_seconds(d));
  }
  /* Anything else is an extension we do not understand: ignored (§5.2.3). */
}

void hr_cc_init(hr_cc *cc) {
  if (!cc)
    return;
  cc->flags = 0;
  cc->max_age = -1;
  cc->s_maxage = -1;
  cc->max_stale = -1;
  cc->min_fresh = -1;
  cc->stale_while_revalidate = -1;
  cc->stale_if_error = -1;
}

void hr_cc_parse_value(hr_cc *cc, const char *value, size_t len) {
  if (!cc || !value)
    return;
  const char *p = value;
  const char *end = value + len;
  directive d;
  while (next_directive(&p, end, &d))
    apply(cc, &d);
}

/* Pragma = 1#pragma-directive; only a bare no-cache counts (RFC 9111 §5.4). */
static int pragma_no_cache(const char *value) {
  const char *p = value;
  const char *end = value + strlen(value);
  directive d;
  while (next_directive(&p, end, &d))
    if (name_is(&d, "no-cache") && !d.has_value && !d.malformed)
      return 1;
  return 0;
}

void hr_cc_from_headers(hr_cc *cc, const hr_headers *h) {
  if (!cc)
    return;
  hr_cc_init(cc);
  if (!h)
    return;
  int have_cc = 0;
  for (size_t i = 0; i < h->n; i++) {
    const hr_field *f = &h->v[i];
    if (f->name && f->value && hr_strcaseeq(f->name, "Cache-Control")) {
      have_cc = 1;
      hr_cc_parse_value(cc, f->value, strlen(f->value));
    }
  }
  if (have_cc)
    return;
  for (size_t i = 0; i < h->n; i++) {
    const hr_field *f = &h->v[i];
    if (f->name && f->value && hr_strcaseeq(f->name, "Pragma") &&
        pragma_no_cache(f->value)) {
      cc->flags |= HR_CC_NO_CACHE | HR_CC_PRAGMA_NO_CACHE;
      return;
    }
  }
}
