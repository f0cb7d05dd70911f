/* SPDX-License-Identifier: MIT */
/* RFC 9111 rules for a private cache: what may be stored, how old and how
 * fresh it is, whether it serves a request, how a 304 updates it, what an
 * unsafe request invalidates.
 *
 * Pure: the time is an argument, nothing here reads a clock or a store.
 * Directives come from hr_cc (which already resolves duplicates and invalid
 * values towards "stale"), dates from hr_httpdate_parse.  Times are kept in
 * milliseconds and every sum saturates: Age and Date are server input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachecontrol.h"
#include "httpdate.h"
#include "rules.h"
#include "sha256.h"
#include "status.h"
#include "url.h"


static int is_method(const httpresp_request *req, const char *m) {
  return req && req->method && strcmp(req->method, m) == 0;
}

char *hr_cache_key_url(const char *url) {
  return hr_url_without_fragment(url);
}

/* ---- identity ---------------------------------------------------------- */

/* Feeds one tagged, length-delimited part, so that no two different
 * identities feed the same bytes. */
static void feed(hr_sha256 *h, int tag, const char *s) {
  char head[24];
  int n = snprintf(head, sizeof(head), "%c%zu:", tag, strlen(s));
  hr_sha256_update(h, head, (size_t)n);
  hr_sha256_update(h, s, strlen(s));
}

void hr_cache_partition(const httpresp_request *req,
                        char out[HR_CACHE_PARTITION_MAX]) {
  out[0] = '\0';
  if (req->cache_partition) {
    snprintf(out, HR_CACHE_PARTITION_MAX, "p:%s", req->cache_partition);
    return;
  }
  hr_sha256 h;
  int any = 0;
  for (size_t i = 0; i < req->headers.n; i++) {
    const hr_field *f = &req->headers.v[i];
    int tag = hr_strcaseeq(f->name, "Authorization") ? 'A'
              : hr_strcaseeq(f->name, "Cookie")      ? 'C'
                                                     : 0;
    if (!tag)
      continue;
    if (!any++)
      hr_sha256_init(&h);
    feed(&h, tag, f->value);
  }
  if (req->user) {
    if (!any++)
      hr_sha256_init(&h);
    char auth[24];
    snprintf(auth, sizeof(auth), "%lu", req->auth);
    feed(&h, 'U', req->user);
    feed(&h, 'P', req->password ? req->password : "");
    feed(&h, 'M', auth);
  }
  if (!any)
    return;
  unsigned char d[32];
  hr_sha256_final(&h, d);
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "id:", 3);
  for (int i = 0; i < 16; i++) {
    out[3 + 2 * i] = hex[d[i] >> 4];
    out[4 + 2 * i] = hex[d[i] & 15];
  }
  out[35] = '\0';
}

/* ---- list helpers ----------------------------------------------------- */

static int vary_has_star(const hr_headers *h) {
  hr_list_iter it;
  const char *s;
  size_t n;
  hr_list_init(&it, h, "Vary");
  while (hr_list_next(&it, &s, &n))
    if (n == 1 && s[0] == '*')
      return 1;
  return 0;
}

/* ---- small parsers ---------------------------------------------------- */

static int has_authorization(const httpresp_request *req) {
  /* Credentials given to libcurl turn into an Authorization field. */
  return hr_headers_get(&req->headers, "Authorization") != NULL ||
         (req->user && *req->user);
}

/* Whether we know the caching requirements of the status (must-understand,
 * RFC 9111 §5.2.2.3). */
static int status_understood(int status) {
  if (status == 206 || status == 304 || status < 200)
    return 0;
  const httpresp_status_info *si = httpresp_status_lookup(status);
  return si && (si->flags & HTTPRESP_STATUS_STANDARD);
}

/* ---- storing ---------------------------------------------------------- */

/* The request fields that make a request conditional (RFC 9110 §13.1),
 * all "If-" and the rest of the name. */
static const char *const conditional_names[] = {
    "None-Match", "Modified-Since", "Match", "Unmodified-Since", "Range"};

static int is_conditional(const char *name) {
  if ((name[0] | 0x20) != 'i' || (name[1] | 0x20) != 'f' || name[2] != '-')
    return 0;
  for (size_t i = 0; i < HR_ARRAY_LEN(conditional_names); i++)
    if (hr_strcaseeq(name + 3, conditional_names[i]))
      return 1;
  return 0;
}

int hr_cache_request_applies(const httpresp_request *req, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "";
  if (!req || !(is_method(req, "GET") || is_method(req, "HEAD"))) {
    *why = "method";
    return 0;
  }
  /* One pass over the request's fields; a conditional one is the reason
   * given even when a Range comes first. */
  int range = 0;
  for (size_t i = 0; i < req->headers.n; i++) {
    const char *name = req->headers.v[i].name;
    if (is_conditional(name)) {
      *why = "conditional";
      return 0;
    }
    range |= hr_strcaseeq(name, "Range");
  }
  if (range) {
    *why = "range";
    return 0;
  }
  return 1;
}

int hr_cache_hop_storable(int retried, size_t dropped_body) {
  return !retried && dropped_body == 0;
}

/* hr_cache_storable with the method `as` stands for (the stored GET
 * response, when a 304 refreshes it). */
static int storable_as(const httpresp_request *req, const char *as, int status,
                       const hr_headers *resp, size_t body_len,
                       const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "";
  if (!req || !resp || !as || strcmp(as, "GET") != 0) {
    *why = "method";
    return 0;
  }
  if (status == 206) {
    *why = "partial";
    return 0;
  }
  if (status < 200 || status > 599 || status == 304) {
    *why = "status";
    return 0;
  }
  hr_cc rq, rs;
  hr_cc_from_headers(&rq, &req->headers);
  hr_cc_from_headers(&rs, resp);
  if (rq.flags & HR_CC_NO_STORE) {
    *why = "request-no-store";
    return 0;
  }
  if (rs.flags & HR_CC_MUST_UNDERSTAND) {
    /* §5.2.2.3: no-store gives way when the status is understood. */
    if (!status_understood(status)) {
      *why = "must-understand";
      return 0;
    }
  } else if (rs.flags & HR_CC_NO_STORE) {
    *why = "no-store";
    return 0;
  }
  if (vary_has_star(resp)) {
    *why = "vary-star";
    return 0;
  }
  if (has_authorization(req) &&
      !(rs.flags & (HR_CC_PUBLIC | HR_CC_MUST_REVALIDATE)) && rs.s_maxage < 0) {
    *why = "authorization";
    return 0;
  }
  /* §3: for a private cache `private` counts, s-maxage does not. */
  if (!hr_cache_status_heuristic(status) && rs.max_age < 0 &&
      !(rs.flags & (HR_CC_PUBLIC | HR_CC_PRIVATE)) &&
      !hr_headers_get(resp, "Expires")) {
    *why = "status";
    return 0;
  }
  if (body_len > HR_CACHE_MAX_ENTRY ||
      resp->bytes > HR_CACHE_MAX_ENTRY - body_len) {
    *why = "too-large";
    return 0;
  }
  return 1;
}

/* Fields a cache never stores (RFC 9111 §3.1): connection-specific ones
 * (RFC 9110 §7.6.1) and those of the proxy it talks through. */
static int never_stored(const char *name) {
  static const char *const names[] = {
      "Connection",          "Keep-Alive",
      "Proxy-Connection",    "TE",
      "Transfer-Encoding",   "Upgrade",
      "Proxy-Authenticate",  "Proxy-Authentication-Info",
      "Proxy-Authorization", "Trailer"};
  for (size_t i = 0; i < HR_ARRAY_LEN(names); i++)
    if (hr_strcaseeq(name, names[i]))
      return 1;
  return 0;
}

static int add_field(hr_headers *h, const hr_field *f) {
  return hr_headers_add(h, f->name, strlen(f->name), f->value,
                        strlen(f->value));
}

static int add_str(hr_headers *h, const char *name, const char *value) {
  return hr_headers_add(h, name, strlen(name), value, strlen(value));
}

/* Records the request's fields named by the response's Vary. */
static int record_vary(hr_headers *out, const hr_headers *resp,
                       const hr_headers *req) {
  hr_list_iter it;
  const char *s;
  size_t n;
  hr_list_init(&it, resp, "Vary");
  while (hr_list_next(&it, &s, &n)) {
    int seen = 0;
    for (size_t k = 0; k < out->n && !seen; k++)
      seen = strlen(out->v[k].name) == n && hr_strncaseeq(out->v[k].name, s, n);
    if (seen)
      continue;
    for (size_t k = 0; k < req->n; k++) {
      const hr_field *f = &req->v[k];
      if (strlen(f->name) == n && hr_strncaseeq(f->name, s, n)) {
        int rc = add_field(out, f);
        if (rc)
          return rc;
      }
    }
  }
  return 0;
}

static int set_date(hr_headers *h, int64_t ms) {
  char buf[40];
  if (ms < 0 || hr_httpdate_format(ms / 1000, buf, sizeof(buf)) != 0)
    return 0;
  return add_str(h, "Date", buf);
}

int hr_cache_entry_from_response(hr_cache_entry *e, const hr_key *k,
                                 const httpresp_request *req,
                                 int status, const hr_headers *resp,
                                 const char *body, size_t body_len,
                                 int64_t request_ms, int64_t response_ms) {
  if (!e)
    return HTTPRESP_E_INVALID_ARG;
  hr_cache_entry_init(e);
  if (!req || !req->url || !resp || (body_len && !body))
    return HTTPRESP_E_INVALID_ARG;
  int rc = HTTPRESP_E_NOMEM;
  e->status = status;
  e->request_ms = request_ms;
  e->response_ms = response_ms;
  if (!k || !(e->key = hr_strndup(k->flat, k->flat_len)) ||
      !(e->body = malloc(body_len + 1)))
    goto fail;
  if (body_len)
    memcpy(e->body, body, body_len);
  e->body[body_len] = '\0';
  e->body_len = body_len;
  for (size_t i = 0; i < resp->n; i++) {
    const hr_field *f = &resp->v[i];
    if (never_stored(f->name) || hr_headers_has_token(resp, "Connection", f->name))
      continue;
    if ((rc = add_field(&e->headers, f)))
      goto fail;
  }
  /* RFC 9110 §6.6.1: a recipient with a clock adds the Date it lacked. */
  if (!hr_headers_get(&e->headers, "Date") &&
      (rc = set_date(&e->headers, response_ms)))
    goto fail;
  if ((rc = record_vary(&e->vary, resp, &req->headers)))
    goto fail;
  return 0;
fail:
  hr_cache_entry_free(e);
  return rc ? rc : HTTPRESP_E_NOMEM;
}

int hr_cache_storable(const httpresp_request *req, int status,
                      const hr_headers *resp, size_t body_len,
                      const char **why) {
  return storable_as(req, req ? req->method : NULL, status, resp, body_len,
                     why);
}

int hr_cache_refresh_storable(const httpresp_request *req, int status,
                              const hr_headers *resp, size_t body_len,
                              const char **why) {
  /* RFC 9111 §4.3.5: a HEAD's answer updates the stored GET response; the
   * rules are those of the GET that answer belongs to. */
  int validating = is_method(req, "GET") || is_method(req, "HEAD");
  return storable_as(req, validating ? "GET" : NULL, status, resp, body_len,
                     why);
}

/* ---- age and freshness ------------------------------------------------ */

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* §4.2.3 in milliseconds. */
static int64_t current_age_ms(const hr_cache_entry *e, const hr_cache_facts *f,
                              int64_t now_ms) {
  int64_t resident = max64(0, hr_sat_sub(now_ms, e->response_ms));
  return hr_sat_add(f->initial_age_ms, resident);
}

int64_t hr_cache_current_age(const hr_cache_entry *e, int64_t now_ms) {
  hr_cache_facts tmp;
  return e ? current_age_ms(e, hr_cache_facts_of(e, &tmp), now_ms) / 1000 : 0;
}

int64_t hr_cache_freshness_lifetime(const hr_cache_entry *e) {
  hr_cache_facts tmp;
  return e ? hr_cache_facts_of(e, &tmp)->lifetime : 0;
}

int hr_cache_has_validator(const hr_cache_entry *e) {
  hr_cache_facts tmp;
  return e ? hr_cache_facts_of(e, &tmp)->validator : 0;
}

/* ---- selection -------------------------------------------------------- */

/* ---- Vary: names, normalised values, variant ids ------------------------ */

/* Fields whose members are unordered, case-insensitive tokens with
 * parameters, where whitespace outside quoted strings is not significant
 * (RFC 9110 §12.5): their values are normalised before matching, as RFC
 * 9111 §4.1 allows.  Accept keeps its case (a media type parameter's
 * value may be case-sensitive). */
static const struct {
  const char *name;
  int fold_case;
} normalised_fields[] = {
    {"accept", 0},
    {"accept-charset", 1},
    {"accept-encoding", 1},
    {"accept-language", 1},
};

static int cmp_member(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

#define HR_VARY_MEMBERS_MAX 64

/* Appends one list member without OWS outside quotes, case folded there
 * when `fold`, NUL-terminated. */
static int append_member(hr_buf *out, const char *s, size_t n, int fold) {
  int quoted = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '"')
      quoted = !quoted;
    if (!quoted && hr_is_ows((unsigned char)c))
      continue;
    if (!quoted && fold)
      c = hr_tolower(c);
    if (hr_buf_append(out, &c, 1))
      return HTTPRESP_E_NOMEM;
  }
  return hr_buf_append(out, "", 1) ? HTTPRESP_E_NOMEM : 0;
}

int hr_cache_vary_value(const hr_headers *h, const char *name, hr_buf *out) {
  hr_buf_reset(out);
  int known = -1;
  for (size_t i = 0; i < sizeof(normalised_fields) / sizeof(*normalised_fields);
       i++)
    if (hr_strcaseeq(name, normalised_fields[i].name))
      known = (int)i;
  hr_list_iter it;
  const char *s;
  size_t n;
  hr_list_init(&it, h, name);
  if (known < 0) {
    /* Members in order, as sent: OWS around commas does not count. */
    for (int first = 1; hr_list_next(&it, &s, &n); first = 0)
      if ((!first && hr_buf_append(out, ",", 1)) || hr_buf_append(out, s, n))
        return HTTPRESP_E_NOMEM;
    return 0;
  }
  /* Each member normalised, then the members sorted. */
  hr_buf all;
  hr_buf_init(&all);
  size_t starts[HR_VARY_MEMBERS_MAX], count = 0;
  int rc = 0;
  while (!rc && hr_list_next(&it, &s, &n)) {
    if (count == HR_VARY_MEMBERS_MAX) {
      rc = HTTPRESP_E_INVALID_ARG; /* no sane request lists this many */
      break;
    }
    starts[count++] = all.len;
    rc = append_member(&all, s, n, normalised_fields[known].fold_case);
  }
  char *members[HR_VARY_MEMBERS_MAX];
  for (size_t i = 0; !rc && i < count; i++)
    members[i] = all.data + starts[i];
  if (!rc && count > 1)
    qsort(members, count, sizeof(*members), cmp_member);
  for (size_t i = 0; !rc && i < count; i++)
    if ((i && hr_buf_append(out, ",", 1)) ||
        hr_buf_append_str(out, members[i]))
      rc = HTTPRESP_E_NOMEM;
  hr_buf_free(&all);
  return rc;
}

int hr_cache_vary_names(const hr_headers *resp, char **out) {
  *out = NULL;
  char *names[HR_VARY_MEMBERS_MAX];
  size_t count = 0;
  hr_list_iter it;
  const char *s;
  size_t n;
  int rc = 0;
  hr_list_init(&it, resp, "Vary");
  while (!rc && hr_list_next(&it, &s, &n)) {
    if ((n == 1 && s[0] == '*') || !hr_is_token(s, n) || n > 255 ||
        count == HR_VARY_MEMBERS_MAX) {
      rc = HTTPRESP_E_INVALID_ARG; /* "*", or no sane request field */
      break;
    }
    char *name = hr_strndup(s, n);
    if (!name) {
      rc = HTTPRESP_E_NOMEM;
      break;
    }
    for (size_t i = 0; i < n; i++)
      name[i] = hr_tolower(name[i]);
    int seen = 0;
    for (size_t i = 0; i < count && !seen; i++)
      seen = strcmp(names[i], name) == 0;
    if (seen)
      free(name);
    else
      names[count++] = name;
  }
  if (count > 1)
    qsort(names, count, sizeof(*names), cmp_member);
  hr_buf b;
  hr_buf_init(&b);
  for (size_t i = 0; i < count; i++) {
    if (!rc && ((i && hr_buf_append(&b, ",", 1)) ||
                hr_buf_append_str(&b, names[i])))
      rc = HTTPRESP_E_NOMEM;
    free(names[i]);
  }
  if (!rc && count)
    *out = hr_buf_steal(&b);
  hr_buf_free(&b);
  return rc;
}

int hr_cache_variant_id(const char *names, const hr_headers *fields,
                        hr_variant_id *out) {
  hr_sha256 h;
  hr_sha256_init(&h);
  hr_sha256_update(&h, names, strlen(names) + 1);
  hr_buf v;
  hr_buf_init(&v);
  int rc = 0;
  for (const char *p = names; *p && !rc;) {
    size_t n = strcspn(p, ",");
    char name[256];
    if (n >= sizeof(name)) {
      rc = HTTPRESP_E_INVALID_ARG;
      break;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    p += n + (p[n] == ',');
    if (!(rc = hr_cache_vary_value(fields, name, &v))) {
      /* Length first, so no two value lists hash alike by their joins. */
      unsigned char len[8];
      hr_put_le64(len, (uint64_t)v.len);
      hr_sha256_update(&h, len, sizeof(len));
      hr_sha256_update(&h, v.data ? v.data : "", v.len);
    }
  }
  hr_buf_free(&v);
  if (rc)
    return rc;
  unsigned char d[32];
  hr_sha256_final(&h, d);
  hr_variant_id id = hr_get_le64(d);
  /* 0 is the key's entry without Vary, the largest its index. */
  if (id == HR_VARIANT_NONE || id == HR_VARIANT_INDEX)
    id = 1;
  *out = id;
  return 0;
}

/* Every field the stored response's Vary names matches the request, after
 * normalisation (hr_cache_vary_value). */
static int vary_matches(const hr_cache_entry *e, const httpresp_request *req) {
  hr_list_iter it;
  const char *s;
  size_t n;
  char name[256];
  hr_buf a, b;
  hr_buf_init(&a);
  hr_buf_init(&b);
  int match = 1;
  hr_list_init(&it, &e->headers, "Vary");
  while (match && hr_list_next(&it, &s, &n)) {
    if ((n == 1 && s[0] == '*') || n >= sizeof(name) || !hr_is_token(s, n)) {
      match = 0; /* "*", or no sane request field has this name */
      break;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    match = hr_cache_vary_value(&e->vary, name, &a) == 0 &&
            hr_cache_vary_value(&req->headers, name, &b) == 0 &&
            a.len == b.len && (!a.len || memcmp(a.data, b.data, a.len) == 0);
  }
  hr_buf_free(&a);
  hr_buf_free(&b);
  return match;
}

hr_cache_use hr_cache_select(const hr_cache_entry *e,
                             const httpresp_request *req, int64_t now_ms,
                             const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "";
  if (!req) {
    *why = "miss";
    return HR_CACHE_USE_NONE;
  }
  hr_cc rq;
  hr_cc_from_headers(&rq, &req->headers);
  /* only-if-cached: whatever cannot be served as it is fails (§5.2.1.7). */
  httpresp_cache_mode mode = req->cache_mode;
  hr_cache_use cannot = (rq.flags & HR_CC_ONLY_IF_CACHED) ||
                                mode == HTTPRESP_CACHE_MODE_ONLY_IF_CACHED
                            ? HR_CACHE_USE_NOT_CACHED
                            : HR_CACHE_USE_NONE;
  if (mode == HTTPRESP_CACHE_MODE_NO_STORE ||
      mode == HTTPRESP_CACHE_MODE_RELOAD) {
    *why = "cache-mode"; /* Fetch: nothing stored is used */
    return HR_CACHE_USE_NONE;
  }
  if (!e) {
    *why = cannot == HR_CACHE_USE_NONE ? "miss" : "only-if-cached";
    return cannot;
  }
  hr_cache_facts tmp;
  const hr_cache_facts *f = hr_cache_facts_of(e, &tmp);
  if (f->varies && !vary_matches(e, req)) {
    *why = "vary";
    return cannot;
  }
  if (e->incomplete) {
    /* Only the first part of a body: never served, only resumed. */
    *why = "incomplete";
    return cannot;
  }
  if (rq.flags & HR_CC_NO_STORE) {
    *why = "request-no-store";
    return cannot;
  }
  /* Fetch's force-cache and only-if-cached: any stored answer matching
   * the request, "not paying attention to staleness". */
  if (mode == HTTPRESP_CACHE_MODE_FORCE_CACHE ||
      mode == HTTPRESP_CACHE_MODE_ONLY_IF_CACHED) {
    *why = "cache-mode";
    return HR_CACHE_USE_FRESH;
  }
  int validator = f->validator;
  hr_cache_use revalidate =
      cannot == HR_CACHE_USE_NOT_CACHED
          ? cannot
          : (validator ? HR_CACHE_USE_REVALIDATE : HR_CACHE_USE_NONE);
  if ((rq.flags & HR_CC_NO_CACHE) || mode == HTTPRESP_CACHE_MODE_NO_CACHE) {
    *why = (rq.flags & HR_CC_NO_CACHE) ? "request-no-cache" : "cache-mode";
    return revalidate;
  }
  hr_cc rs;
  rs.flags = f->rs_flags;
  if (rs.flags & HR_CC_NO_CACHE) {
    *why = "no-cache";
    return revalidate;
  }

  int64_t age = current_age_ms(e, f, now_ms);
  int64_t life = hr_sat_mul(f->lifetime, 1000);
  int fresh = life > age;
  if (rq.max_age >= 0 && age > hr_sat_mul(rq.max_age, 1000)) {
    *why = "request-max-age";
    return revalidate;
  }
  if (fresh) {
    if (rq.min_fresh >= 0 && life - age < hr_sat_mul(rq.min_fresh, 1000)) {
      *why = "min-fresh";
      return revalidate;
    }
    *why = "fresh";
    return HR_CACHE_USE_FRESH;
  }
  /* Stale.  The client may accept that (§5.2.1.2) unless the server said
   * it must not be served stale (§5.2.2.2). */
  int64_t staleness = age - life;
  if (!(rs.flags & HR_CC_MUST_REVALIDATE) && rq.min_fresh < 0 &&
      ((rq.flags & HR_CC_MAX_STALE_ANY) ||
       (rq.max_stale >= 0 && staleness <= hr_sat_mul(rq.max_stale, 1000)))) {
    *why = "max-stale";
    return HR_CACHE_USE_FRESH;
  }
  *why = "stale";
  return revalidate;
}

/* ---- serving stale on error (RFC 5861 §4, RFC 9111 §4.2.4) ------------ */

int hr_cache_error_status(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

int hr_cache_stale_on_error(const hr_cache_entry *e,
                            const httpresp_request *req, int64_t now_ms,
                            int64_t client_sec, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "miss";
  if (!e || !req)
    return 0;
  if (e->incomplete) {
    *why = "incomplete";
    return 0;
  }
  hr_cache_facts tmp;
  const hr_cache_facts *f = hr_cache_facts_of(e, &tmp);
  if (f->varies && !vary_matches(e, req)) {
    *why = "vary";
    return 0;
  }
  hr_cc rq, rs;
  hr_cc_from_headers(&rq, &req->headers);
  hr_cc_from_headers(&rs, &e->headers);
  /* The request insists on the origin (§5.2.1.4), or the server forbade
   * serving it unvalidated (§5.2.2.2, §5.2.2.4, §5.2.2.8). */
  if (rq.flags & (HR_CC_NO_CACHE | HR_CC_NO_STORE)) {
    *why = "request-no-cache";
    return 0;
  }
  if (rs.flags & (HR_CC_NO_CACHE | HR_CC_NO_STORE | HR_CC_MUST_REVALIDATE |
                  HR_CC_PROXY_REVALIDATE)) {
    *why = rs.flags & HR_CC_MUST_REVALIDATE    ? "must-revalidate"
           : rs.flags & HR_CC_PROXY_REVALIDATE ? "proxy-revalidate"
                                               : "no-cache";
    return 0;
  }
  int64_t allow = client_sec > 0 ? client_sec : -1;
  if (rs.stale_if_error > allow)
    allow = rs.stale_if_error;
  if (rq.stale_if_error > allow)
    allow = rq.stale_if_error;
  if (allow < 0) {
    *why = "no-stale-if-error";
    return 0;
  }
  int64_t staleness = current_age_ms(e, f, now_ms) -
                      hr_sat_mul(f->lifetime, 1000);
  if (staleness > hr_sat_mul(allow, 1000)) {
    *why = "too-stale";
    return 0;
  }
  *why = "stale-if-error";
  return 1;
}

/* ---- stale-while-revalidate (RFC 5861 §3) ------------------------------ */

int hr_cache_swr_allows(const hr_cache_entry *e, const httpresp_request *req,
                        int64_t now_ms, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "miss";
  if (!e || !req)
    return 0;
  if (e->incomplete) {
    *why = "incomplete";
    return 0;
  }
  hr_cache_facts tmp;
  const hr_cache_facts *f = hr_cache_facts_of(e, &tmp);
  if (f->varies && !vary_matches(e, req)) {
    *why = "vary";
    return 0;
  }
  hr_cc rq, rs;
  hr_cc_from_headers(&rq, &req->headers);
  hr_cc_from_headers(&rs, &e->headers);
  /* A request that asks for the origin or for freshness gets it. */
  if ((rq.flags & (HR_CC_NO_CACHE | HR_CC_NO_STORE)) || rq.max_age >= 0 ||
      rq.min_fresh >= 0) {
    *why = "request-directive";
    return 0;
  }
  if (rs.flags & (HR_CC_NO_CACHE | HR_CC_NO_STORE | HR_CC_MUST_REVALIDATE)) {
    *why = rs.flags & HR_CC_MUST_REVALIDATE ? "must-revalidate" : "no-cache";
    return 0;
  }
  if (rs.stale_while_revalidate < 0) {
    *why = "no-stale-while-revalidate";
    return 0;
  }
  int64_t age = current_age_ms(e, f, now_ms);
  int64_t life = hr_sat_mul(f->lifetime, 1000);
  if (life > age) { /* as hr_cache_select has it */
    *why = "fresh";
    return 0;
  }
  if (age - life > hr_sat_mul(rs.stale_while_revalidate, 1000)) {
    *why = "too-stale";
    return 0;
  }
  *why = "stale-while-revalidate";
  return 1;
}

/* ---- validation ------------------------------------------------------- */

int hr_cache_conditionals(const hr_cache_entry *e, hr_headers *out) {
  if (!e || !out)
    return HTTPRESP_E_INVALID_ARG;
  const char *etag = hr_headers_get(&e->headers, "ETag");
  int rc = 0;
  if (etag && *etag)
    rc = add_str(out, "If-None-Match", etag);
  int64_t lm;
  const char *lmv = hr_headers_get(&e->headers, "Last-Modified");
  if (!rc && lmv &&
      hr_httpdate_parse(lmv, strlen(lmv), e->response_ms / 1000, &lm) == 0)
    rc = add_str(out, "If-Modified-Since", lmv);
  return rc;
}

/* Splits an entity-tag into weakness and opaque-tag; 0 if malformed. */
static int parse_etag(const char *v, int *weak, const char **tag, size_t *len) {
  size_t n = strlen(v);
  *weak = 0;
  if (n >= 2 && v[0] == 'W' && v[1] == '/') {
    *weak = 1;
    v += 2;
    n -= 2;
  }
  if (n < 2 || v[0] != '"' || v[n - 1] != '"' || memchr(v + 1, '"', n - 2))
    return 0;
  *tag = v;
  *len = n;
  return 1;
}

hr_304_sel hr_cache_304_selects(const hr_cache_entry *e,
                                const hr_headers *h304) {
  if (!e || !h304)
    return HR_304_NONE;
  const char *new_tag = hr_headers_get(h304, "ETag");
  const char *old_tag = hr_headers_get(&e->headers, "ETag");
  if (new_tag) {
    int nw, ow;
    const char *nt, *ot;
    size_t nl, ol;
    if (!old_tag)
      return HR_304_NONE;
    if (!parse_etag(new_tag, &nw, &nt, &nl) ||
        !parse_etag(old_tag, &ow, &ot, &ol))
      return strcmp(new_tag, old_tag) == 0 ? HR_304_UPDATE
                                           : HR_304_NONE; /* unquoted */
    if (nl != ol || memcmp(nt, ot, nl) != 0)
      return HR_304_NONE;
    /* A strong validator selects for update only an entry holding the same
     * strong validator; a weak one by weak comparison (RFC 9110 §8.8.3.2).
     * A strong "x" answering our W/"x" (nginx with gzip does this) still
     * says that If-None-Match matched by weak comparison (RFC 9110
     * §13.1.2): the entry we asked about is current and is served, but
     * §4.3.4 forbids updating it from this 304. */
    return nw || !ow ? HR_304_UPDATE : HR_304_SERVE;
  }
  const char *new_lm = hr_headers_get(h304, "Last-Modified");
  if (new_lm) {
    const char *old_lm = hr_headers_get(&e->headers, "Last-Modified");
    int64_t a, b;
    if (!old_lm)
      return HR_304_NONE;
    if (hr_httpdate_parse(new_lm, strlen(new_lm), 0, &a) == 0 &&
        hr_httpdate_parse(old_lm, strlen(old_lm), 0, &b) == 0)
      return a == b ? HR_304_UPDATE : HR_304_NONE;
    return strcmp(new_lm, old_lm) == 0 ? HR_304_UPDATE : HR_304_NONE;
  }
  /* No validator at all: the answer to the conditional we sent for e. */
  return HR_304_UPDATE;
}

/* Fields a 304 never changes in the stored response (RFC 9111 §3.2):
 * Content-Length, those never stored, and those the stored body depends
 * on (its coding and its range). */
static int never_updated(const hr_headers *h304, const char *name) {
  return hr_strcaseeq(name, "Content-Length") ||
         hr_strcaseeq(name, "Content-Encoding") ||
         hr_strcaseeq(name, "Content-Range") || never_stored(name) ||
         hr_headers_has_token(h304, "Connection", name);
}

static int name_in(const hr_headers *h, size_t before, const char *name) {
  for (size_t i = 0; i < before; i++)
    if (hr_strcaseeq(h->v[i].name, name))
      return 1;
  return 0;
}

/* Appends every updatable field of the 304 named `name`, in order. */
static int add_group(hr_headers *out, const hr_headers *h304,
                     const char *name) {
  for (size_t i = 0; i < h304->n; i++) {
    if (hr_strcaseeq(h304->v[i].name, name)) {
      int rc = add_field(out, &h304->v[i]);
      if (rc)
        return rc;
    }
  }
  return 0;
}

static int update_headers(hr_headers *out, const hr_headers *old,
                          const hr_headers *h304, int64_t response_ms) {
  int rc;
  for (size_t i = 0; i < old->n; i++) {
    const hr_field *f = &old->v[i];
    int replaced =
        !never_updated(h304, f->name) && hr_headers_get(h304, f->name) != NULL;
    if (!replaced) {
      /* The Age it had was measured for the old exchange. */
      if (hr_strcaseeq(f->name, "Age"))
        continue;
      if (hr_strcaseeq(f->name, "Date") && !name_in(old, i, "Date")) {
        if ((rc = set_date(out, response_ms)))
          return rc;
        continue;
      }
      if (hr_strcaseeq(f->name, "Date"))
        continue;
      if ((rc = add_field(out, f)))
        return rc;
    } else if (!name_in(old, i, f->name) &&
               (rc = add_group(out, h304, f->name))) {
      return rc;
    }
  }
  for (size_t i = 0; i < h304->n; i++) {
    const char *name = h304->v[i].name;
    if (never_updated(h304, name) || name_in(h304, i, name) ||
        hr_headers_get(old, name))
      continue;
    if ((rc = add_group(out, h304, name)))
      return rc;
  }
  if (!hr_headers_get(out, "Date"))
    return set_date(out, response_ms);
  return 0;
}

int hr_cache_update_from_304(hr_cache_entry *e, const hr_headers *h304,
                             int64_t request_ms, int64_t response_ms) {
  if (!e || !h304)
    return HTTPRESP_E_INVALID_ARG;
  hr_headers next;
  hr_headers_init(&next);
  int rc = update_headers(&next, &e->headers, h304, response_ms);
  if (rc) {
    hr_headers_free(&next);
    return rc;
  }
  hr_headers_free(&e->headers);
  e->headers = next;
  e->request_ms = request_ms;
  e->response_ms = response_ms;
  return 0;
}

void hr_cache_age_text(const hr_cache_entry *e, int64_t now_ms,
                       char buf[HR_CACHE_AGE_TEXT]) {
  int64_t age = hr_cache_current_age(e, now_ms);
  if (age > HR_CACHE_DELTA_MAX)
    age = HR_CACHE_DELTA_MAX; /* §5.1: a larger age is sent as 2^31 */
  char tmp[HR_CACHE_AGE_TEXT];
  size_t n = 0;
  do { /* not printf: this runs on every cache hit */
    tmp[n++] = (char)('0' + age % 10);
    age /= 10;
  } while (age > 0);
  for (size_t i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
}

int hr_cache_served_headers(const hr_cache_entry *e, int64_t now_ms,
                            hr_headers *out) {
  if (!e || !out)
    return HTTPRESP_E_INVALID_ARG;
  hr_headers_clear(out);
  char buf[HR_CACHE_AGE_TEXT];
  hr_cache_age_text(e, now_ms, buf);
  int rc = 0, placed = 0;
  for (size_t i = 0; i < e->headers.n && !rc; i++) {
    const hr_field *f = &e->headers.v[i];
    if (!hr_strcaseeq(f->name, "Age"))
      rc = add_field(out, f);
    else if (!placed++)
      rc = add_str(out, f->name, buf);
  }
  if (!rc && !placed)
    rc = add_str(out, "Age", buf);
  if (rc)
    hr_headers_clear(out);
  return rc;
}

/* ---- invalidation ----------------------------------------------------- */

int hr_cache_method_unsafe(const char *method) {
  if (!method)
    return 1;
  return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
         strcmp(method, "OPTIONS") != 0 && strcmp(method, "TRACE") != 0;
}

static size_t add_key(char *keys[3], size_t n, char *key) {
  if (!key)
    return n;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(keys[i], key) == 0) {
      free(key);
      return n;
    }
  }
  keys[n] = key;
  return n + 1;
}

size_t hr_cache_invalidation_keys(const char *req_url, int status,
                                  const hr_headers *resp, char *keys[3]) {
  static const char *const targets[] = {"Location", "Content-Location"};
  if (!req_url || !keys || status < 200 || status > 399)
    return 0;
  size_t n = add_key(keys, 0, hr_cache_key_url(req_url));
  for (size_t i = 0; resp && i < HR_ARRAY_LEN(targets); i++) {
    const char *v = hr_headers_get(resp, targets[i]);
    char *abs = NULL;
    if (!v || hr_url_resolve(req_url, v, strlen(v), &abs) != 0)
      continue;
    /* §4.4: only the same origin, or a server could evict others' data. */
    if (hr_url_same_origin_valid(req_url, abs) == 1)
      n = add_key(keys, n, hr_cache_key_url(abs));
    free(abs);
  }
  return n;
}

/* ---- the request's cache mode (Fetch, "cache mode") ------------------- */

hr_cache_plan hr_cache_mode_plan(httpresp_cache_mode mode, int have_cache,
                                 int applies) {
  if (mode == HTTPRESP_CACHE_MODE_ONLY_IF_CACHED && (!have_cache || !applies))
    return HR_CACHE_PLAN_FAIL; /* never the network */
  if (!have_cache || !applies || mode == HTTPRESP_CACHE_MODE_NO_STORE)
    return HR_CACHE_PLAN_OFF;
  if (mode == HTTPRESP_CACHE_MODE_RELOAD)
    return HR_CACHE_PLAN_STORE_ONLY;
  return HR_CACHE_PLAN_CONSULT;
}

int hr_cache_mode_fields(httpresp_cache_mode mode, const hr_headers *req,
                         hr_headers *out) {
  int has_cc = hr_headers_get(req, "Cache-Control") != NULL;
  int rc = 0;
  /* Fetch, HTTP-network-or-cache fetch: so that caches on the way to the
   * server answer as this one does. */
  if (mode == HTTPRESP_CACHE_MODE_NO_CACHE && !has_cc)
    rc = hr_headers_add(out, "Cache-Control", 13, "max-age=0", 9);
  if (mode == HTTPRESP_CACHE_MODE_NO_STORE ||
      mode == HTTPRESP_CACHE_MODE_RELOAD) {
    if (!hr_headers_get(req, "Pragma"))
      rc = hr_headers_add(out, "Pragma", 6, "no-cache", 8);
    if (!rc && !has_cc)
      rc = hr_headers_add(out, "Cache-Control", 13, "no-cache", 8);
  }
  return rc;
}

/* ---- partial content (RFC 9110 §14, RFC 9111 §3.3-3.4) ------------------ */

/* The strong entity-tag of `h` (its whole value), or NULL. */
static const char *strong_etag(const hr_headers *h) {
  const char *v = hr_headers_get(h, "ETag");
  int weak;
  const char *tag;
  size_t len;
  return v && parse_etag(v, &weak, &tag, &len) && !weak ? v : NULL;
}

/* A Last-Modified of `h` that is a strong validator (RFC 9110 §8.8.2.2:
 * the Date is at least one second after it), or NULL. */
static const char *strong_last_modified(const hr_headers *h) {
  const char *lm = hr_headers_get(h, "Last-Modified");
  const char *date = hr_headers_get(h, "Date");
  int64_t a, b;
  if (!lm || !date || hr_httpdate_parse(lm, strlen(lm), 0, &a) != 0 ||
      hr_httpdate_parse(date, strlen(date), 0, &b) != 0)
    return NULL;
  return b - a >= 1 ? lm : NULL;
}

int hr_cache_strong_validator(const hr_headers *h) {
  return h && (strong_etag(h) || strong_last_modified(h));
}

/* Reads digits at *p into *out (no sign, no overflow): 1, or 0. */
static int read_u64(const char **p, uint64_t *out) {
  const char *s = *p;
  uint64_t n = 0;
  if (*s < '0' || *s > '9')
    return 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (n > (UINT64_MAX - 9) / 10)
      return 0;
    n = n * 10 + (uint64_t)(*s - '0');
  }
  *p = s;
  *out = n;
  return 1;
}

/* A Content-Length value: 0 and the number, or -1. */
static int content_length(const hr_headers *h, uint64_t *out) {
  const char *p = hr_headers_get(h, "Content-Length");
  return p && read_u64(&p, out) && *p == '\0' ? 0 : -1;
}

int hr_cache_content_range(const char *v, uint64_t *first, uint64_t *last,
                           int64_t *complete) {
  /* RFC 9110 §14.4: "bytes" SP first-pos "-" last-pos "/" (length / "*") */
  if (!v || !first || !last || !complete || !hr_strncaseeq(v, "bytes ", 6))
    return -1;
  const char *p = v + 6;
  uint64_t len = 0;
  if (!read_u64(&p, first) || *p++ != '-' || !read_u64(&p, last) ||
      *p++ != '/' || *last < *first)
    return -1;
  if (p[0] == '*' && p[1] == '\0') {
    *complete = -1;
    return 0;
  }
  if (!read_u64(&p, &len) || *p != '\0' || len > INT64_MAX || *last >= len)
    return -1;
  *complete = (int64_t)len;
  return 0;
}

/* Whether the response's content is coded (anything but identity): its
 * bytes are then not the ones a range counts. */
static int coded(const hr_headers *h) {
  const char *ce = hr_headers_get(h, "Content-Encoding");
  return ce && *ce && !hr_strcaseeq(ce, "identity");
}

int hr_cache_partial_storable(const httpresp_request *req, int status,
                              const hr_headers *resp, size_t body_len,
                              const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  if (!hr_cache_storable(req, status, resp, body_len, why))
    return 0;
  uint64_t total;
  if (status != 200 || body_len == 0) {
    *why = "partial-status";
    return 0;
  }
  if (!hr_cache_strong_validator(resp)) {
    *why = "no-strong-validator";
    return 0;
  }
  if (coded(resp)) {
    *why = "content-encoding";
    return 0;
  }
  if (content_length(resp, &total) == 0 && total <= body_len) {
    *why = "partial-length";
    return 0;
  }
  *why = "";
  return 1;
}

int hr_cache_resume_fields(const hr_cache_entry *e, hr_headers *out) {
  if (!e || !out || !e->incomplete)
    return HTTPRESP_E_INVALID_ARG;
  const char *v = strong_etag(&e->headers);
  if (!v)
    v = strong_last_modified(&e->headers);
  if (!v)
    return HTTPRESP_E_INVALID_ARG;
  char range[40];
  snprintf(range, sizeof(range), "bytes=%llu-",
           (unsigned long long)e->body_len);
  int rc = add_str(out, "Range", range);
  return rc ? rc : add_str(out, "If-Range", v);
}

int hr_cache_resume_combines(const hr_cache_entry *e, const hr_headers *h206,
                             uint64_t *rest_len, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "partial-mismatch";
  if (!e || !h206 || !rest_len || !e->incomplete)
    return 0;
  uint64_t first, last, stored_total, sent_len;
  int64_t complete;
  const char *cr = hr_headers_get(h206, "Content-Range");
  /* One range (not multipart/byteranges), starting where the stored part
   * ends and running to the end of a representation of the stored length
   * (RFC 9111 §3.4: the parts must be of one representation). */
  if (!cr || hr_cache_content_range(cr, &first, &last, &complete) != 0) {
    *why = "content-range";
    return 0;
  }
  if (first != e->body_len || complete < 0 || last + 1 != (uint64_t)complete ||
      (content_length(&e->headers, &stored_total) == 0 &&
       stored_total != (uint64_t)complete)) {
    *why = "content-range";
    return 0;
  }
  if (content_length(h206, &sent_len) == 0 && sent_len != last - first + 1) {
    *why = "content-length";
    return 0;
  }
  if (coded(h206)) {
    *why = "content-encoding";
    return 0;
  }
  /* The same strong validator in both (RFC 9111 §3.4). */
  const char *se = strong_etag(&e->headers), *ne = hr_headers_get(h206, "ETag");
  if (se) {
    if (!ne || strcmp(se, ne) != 0) {
      *why = "validator";
      return 0;
    }
  } else {
    const char *slm = strong_last_modified(&e->headers);
    const char *nlm = hr_headers_get(h206, "Last-Modified");
    int64_t a, b;
    if (!slm || ne || !nlm || hr_httpdate_parse(slm, strlen(slm), 0, &a) != 0 ||
        hr_httpdate_parse(nlm, strlen(nlm), 0, &b) != 0 || a != b) {
      *why = "validator";
      return 0;
    }
  }
  *rest_len = last - first + 1;
  *why = "";
  return 1;
}

int hr_cache_resume_headers(const hr_cache_entry *e, const hr_headers *h206,
                            uint64_t total, int64_t response_ms,
                            hr_headers *out) {
  if (!e || !h206 || !out)
    return HTTPRESP_E_INVALID_ARG;
  hr_headers_clear(out);
  /* The stored fields updated from the 206 as a 304 would update them
   * (§3.4 refers to §3.2); Content-Length is the whole length. */
  hr_headers tmp;
  hr_headers_init(&tmp);
  int rc = update_headers(&tmp, &e->headers, h206, response_ms);
  for (size_t i = 0; !rc && i < tmp.n; i++)
    if (!hr_strcaseeq(tmp.v[i].name, "Content-Length") &&
        !hr_strcaseeq(tmp.v[i].name, "Content-Range"))
      rc = add_field(out, &tmp.v[i]);
  hr_headers_free(&tmp);
  char num[24];
  snprintf(num, sizeof(num), "%llu", (unsigned long long)total);
  return rc ? rc : add_str(out, "Content-Length", num);
}

int hr_cache_range_single(const char *range, uint64_t len, uint64_t *first,
                          uint64_t *last) {
  /* RFC 9110 §14.1.1-14.1.2: "bytes=" first "-" [last], or "-" suffix. */
  if (!range || !first || !last || !hr_strncaseeq(range, "bytes=", 6))
    return 0;
  const char *p = range + 6;
  while (*p == ' ' || *p == '\t')
    p++;
  uint64_t a = 0, b = 0;
  if (*p == '-') {
    p++;
    if (!read_u64(&p, &b))
      return 0;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p || b == 0 || len == 0)
      return 0;
    *first = b >= len ? 0 : len - b;
    *last = len - 1;
    return 1;
  }
  if (!read_u64(&p, &a) || *p++ != '-')
    return 0;
  int open = !(*p >= '0' && *p <= '9');
  if (!open && !read_u64(&p, &b))
    return 0;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p || a >= len || (!open && b < a))
    return 0; /* several ranges, unsatisfiable, or invalid */
  *first = a;
  *last = open || b >= len ? len - 1 : b;
  return 1;
}

int hr_cache_range_entry(const hr_cache_entry *e, uint64_t first, uint64_t last,
                         hr_cache_entry *out) {
  if (out)
    hr_cache_entry_init(out);
  if (!e || !out || e->incomplete || last < first || last >= e->body_len ||
      coded(&e->headers))
    return HTTPRESP_E_INVALID_ARG;
  out->status = 206;
  out->request_ms = e->request_ms;
  out->response_ms = e->response_ms;
  size_t n = (size_t)(last - first + 1);
  int rc = HTTPRESP_E_NOMEM;
  if (!(out->key = hr_strdup(e->key)) || !(out->body = malloc(n + 1)))
    goto fail;
  memcpy(out->body, e->body + first, n);
  out->body[n] = '\0';
  out->body_len = n;
  if ((rc = hr_headers_copy(&out->vary, &e->vary)))
    goto fail;
  for (size_t i = 0; i < e->headers.n; i++)
    if (!hr_strcaseeq(e->headers.v[i].name, "Content-Length") &&
        !hr_strcaseeq(e->headers.v[i].name, "Content-Range") &&
        (rc = add_field(&out->headers, &e->headers.v[i])))
      goto fail;
  char v[80];
  snprintf(v, sizeof(v), "bytes %llu-%llu/%llu", (unsigned long long)first,
           (unsigned long long)last, (unsigned long long)e->body_len);
  if ((rc = add_str(&out->headers, "Content-Range", v)))
    goto fail;
  snprintf(v, sizeof(v), "%zu", n);
  if ((rc = add_str(&out->headers, "Content-Length", v)))
    goto fail;
  return 0;
fail:
  hr_cache_entry_free(out);
  return rc ? rc : HTTPRESP_E_NOMEM;
}

int hr_cache_first_part_fields(const hr_headers *h206, size_t body_len,
                               hr_headers *out, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "content-range";
  if (!h206 || !out)
    return 0;
  hr_headers_clear(out);
  uint64_t first, last;
  int64_t complete;
  const char *cr = hr_headers_get(h206, "Content-Range");
  if (!cr || hr_cache_content_range(cr, &first, &last, &complete) != 0 ||
      first != 0 || complete < 0 || last + 1 != (uint64_t)body_len ||
      last + 1 >= (uint64_t)complete)
    return 0;
  int rc = 0;
  for (size_t i = 0; !rc && i < h206->n; i++)
    if (!hr_strcaseeq(h206->v[i].name, "Content-Length") &&
        !hr_strcaseeq(h206->v[i].name, "Content-Range"))
      rc = add_field(out, &h206->v[i]);
  char num[24];
  snprintf(num, sizeof(num), "%lld", (long long)complete);
  if (!rc)
    rc = add_str(out, "Content-Length", num);
  if (rc) {
    hr_headers_clear(out);
    *why = "store-failed";
    return 0;
  }
  *why = "";
  return 1;
}
