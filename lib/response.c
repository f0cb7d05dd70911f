/* SPDX-License-Identifier: MIT */
/* The response object: final answer, hop history and outcome. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/rules.h"
#include "objects.h"

int hr_response_new(httpresp_response **out, size_t first) {
  if (first > SIZE_MAX - sizeof(httpresp_response))
    return HTTPRESP_E_NOMEM;
  httpresp_response *r = malloc(sizeof(*r) + first);
  if (!r)
    return HTTPRESP_E_NOMEM;
  memset(r, 0, sizeof(*r));
  r->first_cap = first;
  hr_headers_init(&r->headers);
  hr_buf_init(&r->body);
  r->hops = r->hop0;
  r->hops_cap = HR_ARRAY_LEN(r->hop0);
  r->retry_after_ms = -1;
  r->resumed_from = -1;
  r->cache_reason = "";
  *out = r;
  return 0;
}

void httpresp_response_free(httpresp_response *r) {
  if (!r)
    return;
  free(r->errmsg);
  free(r->url_own);
  free(r->cache_reason_own);
  hr_stored_unref(r->shared);
  hr_headers_free(&r->headers);
  hr_buf_free(&r->body);
  for (size_t i = 0; i < r->nhops; i++)
    if (r->hops[i].owned)
      free(r->hops[i].method); /* the URL shares its allocation */
  if (r->hops != r->hop0)
    free(r->hops);
  free(r->room);
  free(r);
}

int hr_response_add_hop(httpresp_response *r, int status, const char *method,
                        const char *url, httpresp_decision d) {
  if (r->nhops == r->hops_cap) {
    void *v = r->hops;
    if (hr_grow_inline(&v, &r->hops_cap, r->hop0, sizeof(hr_hop)) != 0)
      return HTTPRESP_E_NOMEM;
    r->hops = v;
  }
  hr_hop *h = &r->hops[r->nhops];
  h->status = status;
  h->decision = d;
  size_t mlen = strlen(method), ulen = strlen(url);
  size_t need = mlen + ulen + 2; /* no overflow: both strings are in memory */
  if (need <= r->first_cap) {
    h->owned = 0;
    h->method = r->first;
    r->first_cap = 0;
    h->url = hr_put_pair(h->method, method, mlen, url, ulen);
    r->nhops++;
    return 0;
  }
  if (!r->room && need <= HR_RESPONSE_ROOM)
    r->room = malloc(HR_RESPONSE_ROOM); /* without it: owned, as below */
  h->owned = !r->room || need > HR_RESPONSE_ROOM - r->room_used;
  if (h->owned) {
    h->method = malloc(need);
    if (!h->method)
      return HTTPRESP_E_NOMEM;
  } else {
    h->method = r->room + r->room_used;
    r->room_used += need;
  }
  h->url = hr_put_pair(h->method, method, mlen, url, ulen);
  r->nhops++;
  return 0;
}

void hr_response_set_cache_reason(httpresp_response *r, const char *fmt,
                                  ...) {
  va_list ap;
  va_start(ap, fmt);
  char *own = hr_vformat(128, fmt, ap);
  va_end(ap);
  if (!own)
    return; /* the plain reason set before stays */
  free(r->cache_reason_own);
  r->cache_reason = r->cache_reason_own = own;
}

int hr_response_set_url(httpresp_response *r, const char *url) {
  if (r->nhops && strcmp(r->hops[r->nhops - 1].url, url) == 0) {
    free(r->url_own); /* the hop record lives as long as the response */
    r->url_own = NULL;
    r->url = r->hops[r->nhops - 1].url;
    return 0;
  }
  char *u = hr_strdup(url);
  if (!u)
    return HTTPRESP_E_NOMEM;
  free(r->url_own);
  r->url = r->url_own = u;
  return 0;
}

void hr_response_unshare(httpresp_response *r) {
  hr_stored_unref(r->shared);
  r->shared = NULL;
  r->shared_headers = r->shared_body = 0;
}

int hr_response_share(httpresp_response *r, hr_stored *s, int64_t now_ms) {
  hr_response_unshare(r);
  hr_headers_clear(&r->headers);
  hr_buf_reset(&r->body);
  r->shared = hr_stored_ref(s);
  if (s->facts.age_count > 1) /* rare: served_headers drops the extras */
    return hr_cache_served_headers(&s->e, now_ms, &r->headers);
  r->shared_headers = 1;
  hr_cache_age_text(&s->e, now_ms, r->age);
  return 0;
}

void hr_response_share_body(httpresp_response *r) {
  r->shared_body = r->shared && r->shared->e.body_len > 0;
}

void hr_response_fail(httpresp_response *r, int code, const char *fmt, ...) {
  if (r->error && r->error == code && r->errmsg)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = hr_vformat(512, fmt, ap);
  va_end(ap);
  r->error = code;
  free(r->errmsg);
  r->errmsg = msg;
}

int httpresp_response_error(const httpresp_response *r) {
  return r ? r->error : HTTPRESP_E_INVALID_ARG;
}

const char *httpresp_response_errmsg(const httpresp_response *r) {
  if (!r)
    return "";
  if (r->errmsg)
    return r->errmsg;
  return r->error ? httpresp_strerror(r->error) : "";
}

CURLcode httpresp_response_curl_code(const httpresp_response *r) {
  return r ? r->curl_code : CURLE_OK;
}

int httpresp_response_status(const httpresp_response *r) {
  return r ? r->status : 0;
}

const char *httpresp_response_url(const httpresp_response *r) {
  return r && r->url ? r->url : "";
}

/* A shared answer's fields are the stored ones with the (at most one)
 * Age field's value replaced, or an Age field appended when there was
 * none: the order hr_cache_served_headers gives. */
size_t httpresp_response_header_count(const httpresp_response *r) {
  if (!r)
    return 0;
  if (!r->shared_headers)
    return r->headers.n;
  const hr_stored *s = r->shared;
  return s->e.headers.n + (s->facts.age_count ? 0 : 1);
}

int httpresp_response_header_at(const httpresp_response *r, size_t i,
                                const char **name, const char **value) {
  if (!r || i >= httpresp_response_header_count(r))
    return HTTPRESP_E_INVALID_ARG;
  const hr_headers *h = r->shared_headers ? &r->shared->e.headers : &r->headers;
  const char *n, *v;
  if (r->shared_headers && i == r->shared->facts.age_index) {
    n = i < h->n ? h->v[i].name : "Age";
    v = r->age;
  } else {
    n = h->v[i].name;
    v = h->v[i].value;
  }
  if (name)
    *name = n;
  if (value)
    *value = v;
  return 0;
}

const char *httpresp_response_header(const httpresp_response *r,
                                     const char *name) {
  if (!r || !name)
    return NULL;
  if (!r->shared_headers)
    return hr_headers_get(&r->headers, name);
  if (hr_strcaseeq(name, "Age"))
    return r->age;
  return hr_headers_get(&r->shared->e.headers, name);
}

const char *httpresp_response_body(const httpresp_response *r, size_t *len) {
  if (r && r->shared_body) {
    if (len)
      *len = r->shared->e.body_len;
    return r->shared->e.body;
  }
  if (len)
    *len = r ? r->body.len : 0;
  return r ? r->body.data : NULL;
}

size_t httpresp_response_hop_count(const httpresp_response *r) {
  return r ? r->nhops : 0;
}

int httpresp_response_hop(const httpresp_response *r, size_t i, int *status,
                          const char **method, const char **url,
                          httpresp_decision *decision) {
  if (!r || i >= r->nhops)
    return HTTPRESP_E_INVALID_ARG;
  if (status)
    *status = r->hops[i].status;
  if (method)
    *method = r->hops[i].method;
  if (url)
    *url = r->hops[i].url;
  if (decision)
    *decision = r->hops[i].decision;
  return 0;
}

const char *httpresp_decision_name(httpresp_decision d) {
  static const char *const names[] = {"deliver",   "follow",      "retry",
                                      "repeat",    "cache-hit",   "revalidated",
                                      "stop",      "vetoed",    "stale"};
  return (unsigned)d < HR_ARRAY_LEN(names) ? names[d] : "unknown";
}

unsigned httpresp_response_attempts(const httpresp_response *r) {
  return r ? r->attempts : 0;
}

int64_t httpresp_response_retry_after_ms(const httpresp_response *r) {
  return r ? r->retry_after_ms : -1;
}

httpresp_retry_stop httpresp_response_retry_stop(const httpresp_response *r) {
  return r ? r->retry_stop : HTTPRESP_RETRY_NONE;
}

const char *httpresp_retry_stop_name(httpresp_retry_stop s) {
  static const char *const names[] = {"none",          "succeeded",
                                      "exhausted",     "wait-too-long",
                                      "deadline",      "not-replayable"};
  return (unsigned)s < HR_ARRAY_LEN(names) ? names[s] : "unknown";
}

httpresp_cache_status httpresp_response_cache_status(
    const httpresp_response *r) {
  return r ? r->cache_status : HTTPRESP_CACHE_NONE;
}

const char *httpresp_cache_status_name(httpresp_cache_status s) {
  static const char *const names[] = {"none",    "bypass", "hit",
                                      "miss",    "stored", "revalidated",
                                      "updated", "stale",  "resumed"};
  return (unsigned)s < HR_ARRAY_LEN(names) ? names[s] : "unknown";
}

int64_t httpresp_response_resumed_from(const httpresp_response *r) {
  return r ? r->resumed_from : -1;
}

const char *httpresp_response_cache_reason(const httpresp_response *r) {
  return r && r->cache_reason ? r->cache_reason : "";
}
