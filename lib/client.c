/* SPDX-License-Identifier: MIT */
/* The client: settings, clock, callbacks and per-origin quiet times. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects.h"
#include "policy.h"
#include "store/origin.h"
#include "url.h"

static int64_t system_now(void *ud) {
  (void)ud;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int system_sleep(void *ud, int64_t ms) {
  (void)ud;
  if (ms <= 0)
    return 0;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

int httpresp_client_new(httpresp_client **out) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  httpresp_client *c = calloc(1, sizeof(*c));
  if (!c)
    return HTTPRESP_E_NOMEM;
  hr_policy *p = &c->policy;
  p->follow = 1;
  p->max_redirects = 20;
  p->max_retries = 3;
  p->max_wait_ms = 60000;
  p->max_quiet_ms = (int64_t)3600 * 1000; /* one hour */
  p->max_body = (size_t)1 << 30;
  p->max_header_bytes = (size_t)256 * 1024;
  p->max_header_fields = 1000;
  p->schemes = hr_strdup("http,https");
  c->now = system_now;
  c->sleep = system_sleep;
  atomic_init(&c->rng, (uint64_t)system_now(NULL) ^ (uint64_t)(uintptr_t)c);
  c->local_origins = malloc(sizeof(*c->local_origins));
  c->origins = c->local_origins;
  int ok = p->schemes && c->origins && hr_origins_new_local(c->origins) == 0;
  if (ok && pthread_mutex_init(&c->swr_lock, NULL) != 0) {
    c->origins->vt->destroy(c->origins->impl);
    ok = 0;
  }
  if (!ok) {
    free(c->local_origins);
    free(p->schemes);
    free(c);
    return HTTPRESP_E_NOMEM;
  }
  *out = c;
  return 0;
}

void httpresp_client_free(httpresp_client *c) {
  if (!c)
    return;
  free(c->policy.schemes);
  for (size_t i = 0; i < c->policy.nkeep; i++)
    free(c->policy.keep_headers[i]);
  free(c->policy.keep_headers);
  c->local_origins->vt->destroy(c->local_origins->impl);
  free(c->local_origins);
  for (size_t i = 0; i < c->nswr; i++) {
    free(c->swr[i].id);
    httpresp_request_free(c->swr[i].req);
  }
  free(c->swr);
  pthread_mutex_destroy(&c->swr_lock);
  free(c);
}

/* ---- stale-while-revalidate: deferred revalidations ----------------------- */

int hr_client_swr_defer(httpresp_client *c, const char *id,
                        const httpresp_request *req) {
  pthread_mutex_lock(&c->swr_lock);
  int rc = 0;
  int found = 0;
  for (size_t i = 0; i < c->nswr && !found; i++)
    found = strcmp(c->swr[i].id, id) == 0;
  if (!found) {
    rc = HTTPRESP_E_NOMEM;
    struct hr_swr_pending *grown =
        c->nswr < HR_SWR_PENDING_MAX
            ? realloc(c->swr, (c->nswr + 1) * sizeof(*c->swr))
            : NULL;
    httpresp_request *copy = NULL;
    char *idc = hr_strdup(id);
    if (grown) {
      c->swr = grown;
      if (idc && hr_request_copy(&copy, req) == 0) {
        /* Nobody waits for its body, and the caller's sink may be gone. */
        copy->sink = NULL;
        copy->sink_ud = NULL;
        /* Nor its userdata: what it points to may be freed when the first
         * request is done, before the revalidation runs a callback. */
        copy->userdata = NULL;
        copy->cache_refresh = 1;
        c->swr[c->nswr].id = idc;
        c->swr[c->nswr].req = copy;
        c->swr[c->nswr].running = 0;
        c->nswr++;
        idc = NULL;
        rc = 0;
      }
    }
    free(idc);
  }
  pthread_mutex_unlock(&c->swr_lock);
  return rc;
}

int httpresp_client_set_stale_while_revalidate(httpresp_client *c, int mode) {
  if (!c)
    return HTTPRESP_E_INVALID_ARG;
  if (mode != HTTPRESP_SWR_REVALIDATE_NOW && mode != HTTPRESP_SWR_DEFER)
    return HTTPRESP_E_INVALID_ARG;
  c->swr_mode = mode;
  return 0;
}

httpresp_request *hr_client_swr_take(httpresp_client *c, const char *id,
                                     const char **idp) {
  httpresp_request *req = NULL;
  pthread_mutex_lock(&c->swr_lock);
  for (size_t i = 0; i < c->nswr && !req; i++)
    if (!c->swr[i].running && (!id || strcmp(c->swr[i].id, id) == 0)) {
      c->swr[i].running = 1;
      req = c->swr[i].req;
      *idp = c->swr[i].id;
    }
  pthread_mutex_unlock(&c->swr_lock);
  return req;
}

void hr_client_swr_end(httpresp_client *c, const char *id, int drop) {
  httpresp_request *req = NULL;
  char *idc = NULL;
  pthread_mutex_lock(&c->swr_lock);
  for (size_t i = 0; i < c->nswr; i++)
    if (c->swr[i].id == id) {
      if (drop) {
        idc = c->swr[i].id;
        req = c->swr[i].req;
        c->swr[i] = c->swr[--c->nswr];
      } else {
        c->swr[i].running = 0;
      }
      break;
    }
  pthread_mutex_unlock(&c->swr_lock);
  free(idc);
  httpresp_request_free(req);
}

int httpresp_client_revalidate(httpresp_client *c, CURL *easy, size_t *done) {
  if (done)
    *done = 0;
  if (!c || !easy)
    return HTTPRESP_E_INVALID_ARG;
  for (;;) {
    /* Take one that nobody runs; it stays listed while it runs, so that
     * requests meanwhile neither defer nor run a second one. */
    const char *id = NULL;
    httpresp_request *req = hr_client_swr_take(c, NULL, &id);
    if (!req)
      return 0;
    httpresp_response *resp = NULL;
    httpresp_perform(c, easy, req, &resp);
    httpresp_response_free(resp);
    hr_client_swr_end(c, id, 1);
    if (done)
      (*done)++;
  }
}

int64_t hr_client_now(const httpresp_client *c) { return c->now(c->clock_ud); }

int64_t hr_client_random(httpresp_client *c, int64_t max) {
  if (max <= 0)
    return 0;
  /* splitmix64: good enough for jitter, no global state. */
  uint64_t z = atomic_fetch_add_explicit(&c->rng, 0x9E3779B97F4A7C15ull,
                                         memory_order_relaxed) +
               0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (int64_t)(z % ((uint64_t)max + 1));
}

#define CHECK_CLIENT(c)                                                        \
  do {                                                                         \
    if (!(c))                                                                  \
      return HTTPRESP_E_INVALID_ARG;                                           \
  } while (0)

int httpresp_client_set_follow(httpresp_client *c, int on) {
  CHECK_CLIENT(c);
  c->policy.follow = !!on;
  return 0;
}

int httpresp_client_set_max_redirects(httpresp_client *c, unsigned n) {
  CHECK_CLIENT(c);
  c->policy.max_redirects = n;
  return 0;
}

int httpresp_client_set_keep_post(httpresp_client *c, int on) {
  CHECK_CLIENT(c);
  c->policy.keep_post = !!on;
  return 0;
}

int httpresp_client_set_follow_300(httpresp_client *c, int on) {
  CHECK_CLIENT(c);
  c->policy.follow_300 = !!on;
  return 0;
}

int httpresp_client_set_refuse_downgrade(httpresp_client *c, int on) {
  CHECK_CLIENT(c);
  c->policy.refuse_downgrade = !!on;
  return 0;
}

int httpresp_client_set_redirect_schemes(httpresp_client *c, const char *list) {
  CHECK_CLIENT(c);
  if (!list)
    return HTTPRESP_E_INVALID_ARG;
  char *p = hr_strdup(list);
  if (!p)
    return HTTPRESP_E_NOMEM;
  free(c->policy.schemes);
  c->policy.schemes = p;
  return 0;
}

int httpresp_client_keep_header_across_origins(httpresp_client *c,
                                               const char *name) {
  CHECK_CLIENT(c);
  if (!name || !hr_is_token(name, strlen(name)))
    return HTTPRESP_E_INVALID_ARG;
  char **v = realloc(c->policy.keep_headers,
                     (c->policy.nkeep + 1) * sizeof(*v));
  if (!v)
    return HTTPRESP_E_NOMEM;
  c->policy.keep_headers = v;
  if (!(v[c->policy.nkeep] = hr_strdup(name)))
    return HTTPRESP_E_NOMEM;
  c->policy.nkeep++;
  return 0;
}

int httpresp_client_set_max_retries(httpresp_client *c, unsigned n) {
  CHECK_CLIENT(c);
  c->policy.max_retries = n;
  return 0;
}

int httpresp_client_set_max_wait_ms(httpresp_client *c, int64_t ms) {
  CHECK_CLIENT(c);
  if (ms < 0)
    return HTTPRESP_E_INVALID_ARG;
  c->policy.max_wait_ms = ms;
  return 0;
}

int httpresp_client_set_max_quiet_ms(httpresp_client *c, int64_t ms) {
  CHECK_CLIENT(c);
  if (ms < 0)
    return HTTPRESP_E_INVALID_ARG;
  c->policy.max_quiet_ms = ms;
  return 0;
}

int httpresp_client_forget_quiet(httpresp_client *c, const char *url) {
  CHECK_CLIENT(c);
  const hr_origins *o = c->origins;
  if (!url) {
    o->vt->forget(o->impl, NULL);
    return 0;
  }
  char *key;
  /* With nothing remembered from now on (OFF), what was remembered under
   * the default scope is what there is to forget. */
  int scope = c->policy.quiet_scope == HTTPRESP_QUIET_OFF
                  ? HTTPRESP_QUIET_ORIGIN
                  : c->policy.quiet_scope;
  int rc = hr_quiet_key(scope, url, &key);
  if (rc)
    return rc;
  o->vt->forget(o->impl, key);
  free(key);
  return 0;
}

int httpresp_client_set_quiet_scope(httpresp_client *c,
                                    httpresp_quiet_scope scope) {
  CHECK_CLIENT(c);
  if (scope < HTTPRESP_QUIET_ORIGIN || scope > HTTPRESP_QUIET_OFF)
    return HTTPRESP_E_INVALID_ARG;
  c->policy.quiet_scope = (int)scope;
  return 0;
}

int httpresp_client_quiet_until(httpresp_client *c, const char *url,
                                int64_t *until_ms) {
  if (until_ms)
    *until_ms = 0;
  if (!c || !url || !until_ms)
    return HTTPRESP_E_INVALID_ARG;
  char *key;
  int rc = hr_quiet_key(c->policy.quiet_scope, url, &key);
  if (rc || !key)
    return rc;
  const hr_origins *o = c->origins;
  int64_t now = hr_client_now(c);
  int64_t nb = o->vt->get(o->impl, key, now);
  free(key);
  *until_ms = nb > now ? nb : 0;
  return 0;
}

int httpresp_client_set_deadline_ms(httpresp_client *c, int64_t ms) {
  CHECK_CLIENT(c);
  if (ms < 0)
    return HTTPRESP_E_INVALID_ARG;
  c->policy.deadline_ms = ms;
  return 0;
}

int httpresp_client_set_backoff(httpresp_client *c, int64_t base_ms,
                                int64_t cap_ms) {
  CHECK_CLIENT(c);
  if (base_ms < 0 || cap_ms < 0 || (base_ms && cap_ms < base_ms))
    return HTTPRESP_E_INVALID_ARG;
  c->policy.backoff_base_ms = base_ms;
  c->policy.backoff_cap_ms = cap_ms;
  return 0;
}

int httpresp_client_set_clock(httpresp_client *c, httpresp_now_fn now,
                              httpresp_sleep_fn sleep, void *userdata) {
  CHECK_CLIENT(c);
  c->now = now ? now : system_now;
  c->sleep = sleep ? sleep : system_sleep;
  c->clock_ud = userdata;
  return 0;
}

int httpresp_client_set_cache(httpresp_client *c, httpresp_cache *cache) {
  CHECK_CLIENT(c);
  c->cache = cache;
  return 0;
}

int httpresp_client_set_stale_if_error(httpresp_client *c,
                                       int64_t max_stale_sec) {
  CHECK_CLIENT(c);
  if (max_stale_sec < 0)
    return HTTPRESP_E_INVALID_ARG;
  c->stale_if_error_sec = max_stale_sec;
  return 0;
}

int httpresp_client_set_handle_identity(httpresp_client *c, int hidden) {
  CHECK_CLIENT(c);
  c->handle_identity = hidden != 0;
  return 0;
}

int httpresp_client_set_max_body(httpresp_client *c, size_t bytes) {
  CHECK_CLIENT(c);
  c->policy.max_body = bytes;
  return 0;
}

int httpresp_client_set_max_headers(httpresp_client *c, size_t bytes,
                                    size_t fields) {
  CHECK_CLIENT(c);
  if (!bytes || !fields)
    return HTTPRESP_E_INVALID_ARG;
  c->policy.max_header_bytes = bytes;
  c->policy.max_header_fields = fields;
  return 0;
}

int httpresp_client_set_hop_callback(httpresp_client *c, httpresp_hop_fn fn,
                                     void *userdata) {
  CHECK_CLIENT(c);
  c->hop_fn = fn;
  c->hop_ud = userdata;
  return 0;
}

int httpresp_client_set_wait_callback(httpresp_client *c, httpresp_wait_fn fn,
                                      void *userdata) {
  CHECK_CLIENT(c);
  c->wait_fn = fn;
  c->wait_ud = userdata;
  return 0;
}

const char *httpresp_wait_reason_name(httpresp_wait_reason r) {
  switch (r) {
  case HTTPRESP_WAIT_RETRY_AFTER:
    return "retry-after";
  case HTTPRESP_WAIT_BACKOFF:
    return "backoff";
  case HTTPRESP_WAIT_ORIGIN_QUIET:
    return "origin-quiet";
  }
  return "unknown";
}

int httpresp_client_set_headers_callback(httpresp_client *c,
                                         httpresp_headers_fn fn,
                                         void *userdata) {
  CHECK_CLIENT(c);
  c->headers_fn = fn;
  c->headers_ud = userdata;
  return 0;
}

int httpresp_client_set_early_hints_callback(httpresp_client *c,
                                             httpresp_early_hints_fn fn,
                                             void *userdata) {
  CHECK_CLIENT(c);
  c->hints_fn = fn;
  c->hints2_fn = NULL;
  c->hints_ud = userdata;
  return 0;
}

int httpresp_client_set_early_hints_callback2(httpresp_client *c,
                                              httpresp_early_hints2_fn fn,
                                              void *userdata) {
  CHECK_CLIENT(c);
  c->hints2_fn = fn;
  c->hints_fn = NULL;
  c->hints_ud = userdata;
  return 0;
}

int httpresp_client_set_origins(httpresp_client *c, httpresp_origins *o) {
  if (!c)
    return HTTPRESP_E_INVALID_ARG;
  c->origins = o ? &o->o : c->local_origins;
  return 0;
}
