/* SPDX-License-Identifier: MIT */
/* The client's memory of origins that asked for quiet (Retry-After). */
#include "quiet.h"

#include <stdlib.h>
#include <string.h>

#include "origin.h"

static void prune(hr_quiet *c, int64_t now) {
  size_t out = 0;
  for (size_t i = 0; i < c->nquiet; i++) {
    if (c->quiet[i].not_before_ms > now)
      c->quiet[out++] = c->quiet[i];
    else
      free(c->quiet[i].origin);
  }
  c->nquiet = out;
}

int hr_quiet_any(hr_quiet *c) {
  return atomic_load_explicit(&c->any, memory_order_acquire);
}

int64_t hr_quiet_get(hr_quiet *c, const char *origin_key, int64_t now) {
  int64_t nb = 0;
  pthread_mutex_lock(&c->quiet_lock);
  for (size_t i = 0; i < c->nquiet; i++) {
    if (strcmp(c->quiet[i].origin, origin_key) == 0) {
      nb = c->quiet[i].not_before_ms;
      break;
    }
  }
  pthread_mutex_unlock(&c->quiet_lock);
  return nb > now ? nb : 0;
}

int hr_quiet_set(hr_quiet *c, const char *origin_key, int64_t now,
                 int64_t not_before) {
  int rc = 0;
  if (not_before <= now)
    return 0;
  pthread_mutex_lock(&c->quiet_lock);
  for (size_t i = 0; i < c->nquiet; i++) {
    if (strcmp(c->quiet[i].origin, origin_key) == 0) {
      if (not_before > c->quiet[i].not_before_ms)
        c->quiet[i].not_before_ms = not_before;
      goto out;
    }
  }
  if (c->nquiet >= HR_QUIET_MAX)
    prune(c, now);
  if (c->nquiet >= HR_QUIET_MAX) {
    size_t soonest = 0;
    for (size_t i = 1; i < c->nquiet; i++)
      if (c->quiet[i].not_before_ms < c->quiet[soonest].not_before_ms)
        soonest = i;
    free(c->quiet[soonest].origin);
    c->quiet[soonest] = c->quiet[--c->nquiet];
  }
  if (c->nquiet == c->quiet_cap) {
    size_t cap = c->quiet_cap ? c->quiet_cap * 2 : 8;
    hr_quiet_entry *v = realloc(c->quiet, cap * sizeof(*v));
    if (!v) {
      rc = HTTPRESP_E_NOMEM;
      goto out;
    }
    c->quiet = v;
    c->quiet_cap = cap;
  }
  char *key = hr_strdup(origin_key);
  if (!key) {
    rc = HTTPRESP_E_NOMEM;
    goto out;
  }
  c->quiet[c->nquiet].origin = key;
  c->quiet[c->nquiet].not_before_ms = not_before;
  c->nquiet++;
out:
  atomic_store_explicit(&c->any, c->nquiet > 0, memory_order_release);
  pthread_mutex_unlock(&c->quiet_lock);
  return rc;
}

size_t hr_quiet_forget(hr_quiet *c, const char *origin_key) {
  size_t found = 0;
  pthread_mutex_lock(&c->quiet_lock);
  for (size_t i = 0; i < c->nquiet;) {
    if (origin_key && strcmp(c->quiet[i].origin, origin_key) != 0) {
      i++;
      continue;
    }
    found++;
    free(c->quiet[i].origin);
    c->quiet[i] = c->quiet[--c->nquiet];
  }
  atomic_store_explicit(&c->any, c->nquiet > 0, memory_order_release);
  pthread_mutex_unlock(&c->quiet_lock);
  return found;
}

int hr_quiet_new(hr_quiet **out) {
  hr_quiet *c = calloc(1, sizeof(*c));
  if (!c || pthread_mutex_init(&c->quiet_lock, NULL) != 0) {
    free(c);
    return HTTPRESP_E_NOMEM;
  }
  atomic_init(&c->any, 0);
  *out = c;
  return 0;
}

void hr_quiet_free(hr_quiet *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->nquiet; i++)
    free(c->quiet[i].origin);
  free(c->quiet);
  pthread_mutex_destroy(&c->quiet_lock);
  free(c);
}

/* ---- behind the origin-state vtable -------------------------------------- */

static int q_any(void *impl) { return hr_quiet_any(impl); }

static int64_t q_get(void *impl, const char *origin, int64_t now) {
  return hr_quiet_get(impl, origin, now);
}

static int q_raise(void *impl, const char *origin, int64_t now,
                   int64_t delay_ms, int status) {
  (void)status;
  return hr_quiet_set(impl, origin, now, hr_sat_add(now, delay_ms));
}

static void q_forget(void *impl, const char *origin) {
  hr_quiet_forget(impl, origin);
}

static void q_destroy(void *impl) { hr_quiet_free(impl); }

static const hr_origin_vt local_vt = {"local",  q_any,     q_get, q_raise,
                                      q_forget, q_destroy, NULL};

int hr_origins_new_local(hr_origins *out) {
  hr_quiet *q;
  int rc = hr_quiet_new(&q);
  if (rc)
    return rc;
  out->vt = &local_vt;
  out->impl = q;
  return 0;
}
