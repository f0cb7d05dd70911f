/* SPDX-License-Identifier: MIT */
/* The facts of a stored response, and frozen entries that carry them.
 *
 * Pure: times come from the entry, nothing here reads a clock or a store.
 * Directives come from hr_cc, dates from hr_httpdate_parse. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cachecontrol.h"
#include "facts.h"
#include "httpdate.h"
#include "status.h"

#define HEURISTIC_CAP_SEC INT64_C(86400)

/* The first field `name` as an HTTP-date; 0 on success. */
static int header_date(const hr_headers *h, const char *name, int64_t now_sec,
                       int64_t *sec) {
  const char *v = hr_headers_get(h, name);
  return v && hr_httpdate_parse(v, strlen(v), now_sec, sec) == 0 ? 0 : -1;
}

int64_t hr_cache_age_value(const hr_headers *h) {
  /* §5.1: "If a recipient receives an Age field with a list value or with
   * more than one field line, it uses the first member"; "an invalid value
   * ... is ignored" (it reads as no Age at all, not as the next member). */
  hr_list_iter it;
  const char *s;
  size_t n;
  hr_list_init(&it, h, "Age");
  if (!hr_list_next(&it, &s, &n))
    return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    if (v < HR_CACHE_DELTA_MAX)
      v = v * 10 + (s[i] - '0');
  }
  return v > HR_CACHE_DELTA_MAX ? HR_CACHE_DELTA_MAX : v;
}

/* Heuristically cacheable (RFC 9110 §15.1), from the status table, minus
 * 206: stored ranges are never combined, so a partial response is of no
 * use to a later request. */
int hr_cache_status_heuristic(int status) {
  if (status == 206)
    return 0;
  const httpresp_status_info *si = httpresp_status_lookup(status);
  return si && (si->flags & HTTPRESP_STATUS_CACHEABLE);
}

/* The response's Date in ms, or its receipt time when Date is absent or
 * invalid. */
static int64_t date_ms(const hr_cache_entry *e) {
  int64_t sec;
  if (header_date(&e->headers, "Date", e->response_ms / 1000, &sec) == 0)
    return sec * 1000; /* parsed years end at 9999: no overflow */
  return e->response_ms;
}

/* §4.2.1, heuristic §4.2.2: 10% of Date - Last-Modified, at most 1 day,
 * for heuristically cacheable statuses; 0 when an invalid Expires or Date
 * makes it stale. */
static int64_t freshness_lifetime(const hr_cache_entry *e) {
  hr_cc cc;
  hr_cc_from_headers(&cc, &e->headers);
  if (cc.max_age >= 0) /* s-maxage is for shared caches only */
    return cc.max_age;

  int64_t now_sec = e->response_ms / 1000;
  int64_t date = date_ms(e) / 1000;
  if (hr_headers_get(&e->headers, "Expires")) {
    /* Invalid ("0") means already expired (§5.3); repeated different
     * values are treated the same way (§4.2.1). */
    int64_t exp, other;
    if (header_date(&e->headers, "Expires", now_sec, &exp) != 0)
      return 0;
    for (size_t i = 0; i < e->headers.n; i++) {
      const hr_field *f = &e->headers.v[i];
      if (hr_strcaseeq(f->name, "Expires") &&
          (hr_httpdate_parse(f->value, strlen(f->value), now_sec, &other) ||
           other != exp))
        return 0;
    }
    return exp > date ? exp - date : 0;
  }

  /* §4.2.2.  301 and 308 get no heuristic: "permanent" is not a lifetime,
   * and a wrongly cached redirect is hard for the user to escape. */
  if (e->status == 301 || e->status == 308)
    return 0;
  if (!hr_cache_status_heuristic(e->status) && !(cc.flags & HR_CC_PUBLIC))
    return 0;
  int64_t lm;
  if (header_date(&e->headers, "Last-Modified", now_sec, &lm) != 0 || lm > date)
    return 0;
  int64_t h = (date - lm) / 10;
  return h > HEURISTIC_CAP_SEC ? HEURISTIC_CAP_SEC : h;
}


static int has_validator(const hr_cache_entry *e) {
  int64_t lm;
  const char *etag = hr_headers_get(&e->headers, "ETag");
  if (etag && *etag)
    return 1;
  return header_date(&e->headers, "Last-Modified", e->response_ms / 1000,
                     &lm) == 0;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* §4.2.3 corrected_initial_age of `e` in ms, from its Age value and Date
 * (`age_value`, `date_ms` as in the facts) and its request and response
 * times.  A fact, so a hit only adds how long the entry has been resident. */
static int64_t initial_age_ms(const hr_cache_entry *e, int64_t age_value,
                              int64_t date_ms) {
  int64_t apparent = max64(0, hr_sat_sub(e->response_ms, date_ms));
  int64_t delay = max64(0, hr_sat_sub(e->response_ms, e->request_ms));
  int64_t corrected =
      hr_sat_add(age_value < 0 ? 0 : age_value * 1000, delay);
  return max64(apparent, corrected);
}

void hr_cache_facts_compute(const hr_cache_entry *e, hr_cache_facts *f) {
  memset(f, 0, sizeof(*f));
  f->age_value = hr_cache_age_value(&e->headers);
  f->date_ms = date_ms(e);
  f->initial_age_ms = initial_age_ms(e, f->age_value, f->date_ms);
  f->lifetime = freshness_lifetime(e);
  hr_cc cc;
  hr_cc_from_headers(&cc, &e->headers);
  f->rs_flags = cc.flags;
  f->validator = (unsigned char)has_validator(e);
  hr_list_iter it;
  const char *s;
  size_t n;
  hr_list_init(&it, &e->headers, "Vary");
  f->varies = (unsigned char)hr_list_next(&it, &s, &n);
  f->age_index = (uint32_t)e->headers.n; /* freezing bounds the count */
  for (size_t i = 0; i < e->headers.n; i++) {
    if (hr_strcaseeq(e->headers.v[i].name, "Set-Cookie"))
      f->set_cookie = 1;
    if (!hr_strcaseeq(e->headers.v[i].name, "Age"))
      continue;
    if (f->age_count++ == 0)
      f->age_index = (uint32_t)i;
  }
}

const hr_cache_facts *hr_cache_facts_of(const hr_cache_entry *e,
                                        hr_cache_facts *tmp) {
  if (e->facts)
    return e->facts;
  hr_cache_facts_compute(e, tmp);
  return tmp;
}

/* ---- frozen entries ----------------------------------------------------- */

/* Bytes the strings of a field list take, NULs included. */
static size_t strings_size(const hr_headers *h) {
  size_t n = 0;
  for (size_t i = 0; i < h->n; i++)
    n += strlen(h->v[i].name) + strlen(h->v[i].value) + 2;
  return n;
}

/* Copies `src`'s fields into the frozen block: the field array at *fields,
 * the strings at *text; both cursors advance. */
static void freeze_fields(const hr_headers *src, hr_headers *dst,
                          hr_field **fields, char **text) {
  hr_headers_init(dst);
  dst->v = *fields;
  dst->n = dst->cap = src->n;
  dst->bytes = src->bytes;
  for (size_t i = 0; i < src->n; i++) {
    size_t nl = strlen(src->v[i].name) + 1, vl = strlen(src->v[i].value) + 1;
    memcpy(*text, src->v[i].name, nl);
    dst->v[i].name = *text;
    *text += nl;
    memcpy(*text, src->v[i].value, vl);
    dst->v[i].value = *text;
    *text += vl;
  }
  *fields += src->n;
}

int hr_stored_freeze(const hr_cache_entry *src, hr_stored **out) {
  *out = NULL;
  if (!src || !src->key || (src->body_len && !src->body))
    return HTTPRESP_E_INVALID_ARG;
  size_t key_len = strlen(src->key) + 1;
  size_t nfields = src->vary.n + src->headers.n;
  if (key_len > HR_CACHE_MAX_ENTRY || nfields > HR_CACHE_MAX_ENTRY ||
      src->body_len > HR_CACHE_MAX_ENTRY)
    return HTTPRESP_E_INVALID_ARG;
  size_t text = key_len + strings_size(&src->vary) +
                strings_size(&src->headers) + src->body_len + 1;
  if (text > HR_CACHE_MAX_ENTRY)
    return HTTPRESP_E_INVALID_ARG;
  size_t size = sizeof(hr_stored) + nfields * sizeof(hr_field) + text;
  hr_stored *s = malloc(size);
  if (!s)
    return HTTPRESP_E_NOMEM;
  memset(s, 0, sizeof(*s));
  hr_field *fields = (hr_field *)(s + 1);
  char *p = (char *)(fields + nfields);
  hr_cache_entry *e = &s->e;
  e->status = src->status;
  e->request_ms = src->request_ms;
  e->response_ms = src->response_ms;
  e->incomplete = src->incomplete;
  memcpy(p, src->key, key_len);
  e->key = p;
  p += key_len;
  freeze_fields(&src->vary, &e->vary, &fields, &p);
  freeze_fields(&src->headers, &e->headers, &fields, &p);
  if (src->body_len)
    memcpy(p, src->body, src->body_len);
  p[src->body_len] = '\0';
  e->body = p;
  e->body_len = src->body_len;
  hr_cache_facts_compute(e, &s->facts);
  e->facts = &s->facts;
  s->size = size;
  atomic_init(&s->refs, 1);
  *out = s;
  return 0;
}

hr_stored *hr_stored_ref(hr_stored *s) {
  atomic_fetch_add_explicit(&s->refs, 1,
                            memory_order_relaxed);
  return s;
}

void hr_stored_unref(hr_stored *s) {
  if (s && atomic_fetch_sub_explicit(&s->refs, 1,
                                     memory_order_acq_rel) == 1)
    free(s);
}

int hr_stored_thaw(const hr_stored *s, hr_cache_entry *out) {
  hr_cache_entry_init(out);
  const hr_cache_entry *e = &s->e;
  out->status = e->status;
  out->request_ms = e->request_ms;
  out->response_ms = e->response_ms;
  out->incomplete = e->incomplete;
  out->key = hr_strdup(e->key);
  out->body = malloc(e->body_len + 1);
  int rc = out->key && out->body ? 0 : HTTPRESP_E_NOMEM;
  if (!rc) {
    memcpy(out->body, e->body, e->body_len + 1);
    out->body_len = e->body_len;
    rc = hr_headers_copy(&out->vary, &e->vary);
  }
  if (!rc)
    rc = hr_headers_copy(&out->headers, &e->headers);
  if (rc)
    hr_cache_entry_free(out);
  return rc;
}
