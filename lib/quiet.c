/* The client's memory of origins that asked for quiet (Retry-After). */
#include "quiet.h"

#include <stdlib.h>
#include <string.h>

static void prune(httpresp_client *c, int64_t now) {
  size_t out = 0;
  for (size_t i = 0; i < c->nquiet; i++) {
    if (c->quiet[i].not_before_ms > now)
      c->quiet[out++] = c->quiet[i];
    else
      free(c->quiet[i].origin);
  }
  c->nquiet = out;
}

int hr_quiet_any(httpresp_client *c) {
  pthread_mutex_lock(&c->quiet_lock);
  int any = c->nquiet > 0;
  pthread_mutex_unlock(&c->quiet_lock);
  return any;
}

int64_t hr_quiet_get(httpresp_client *c, const char *origin_key, int64_t now) {
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

int hr_quiet_set(httpresp_client *c, const char *origin_key, int64_t now,
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
  pthread_mutex_unlock(&c->quiet_lock);
  return rc;
}

size_t hr_quiet_forget(httpresp_client *c, const char *origin_key) {
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
  pthread_mutex_unlock(&c->quiet_lock);
  return found;
}

int64_t hr_client_random(httpresp_client *c, int64_t max) {
  if (max <= 0)
    return 0;
  pthread_mutex_lock(&c->quiet_lock);
  /* splitmix64: good enough for jitter, no global state. */
  uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
  pthread_mutex_unlock(&c->quiet_lock);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (int64_t)(z % ((uint64_t)max + 1));
}
