/* SPDX-License-Identifier: MIT */
/* Per-origin quiet times shared by a fleet through Redis: a backend of
 * origin.h over the connection layer of redis_conn.c.
 *
 * Key: <prefix>nb:{scheme://host:port}, a string whose PTTL is the quiet
 * time left, on the server's clock, so the workers' clocks need not agree;
 * its value is the status that asked for it ("429", "503"; "0" when not
 * known: a raise replayed after a back-off), for whoever looks at Redis.
 * The client's local memory is kept beside it (every raise goes there too)
 * and is all there is while Redis is set aside; raises made meanwhile are
 * remembered and replayed when Redis is back, if still in the future. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "origin.h"

#ifdef HTTPRESP_HAVE_REDIS

#include <stdio.h>

#include "quiet.h"
#include "redis_conn.h"

/* Delays sent to Redis are clamped (DESIGN.md): a key always gets a TTL
 * of at least a second and never lives past an hour. */
#define NB_MIN_MS 1000
#define NB_MAX_MS 3600000

/* The atomic max for servers before 7.0 (no PEXPIRE GT); its SHA-1 is
 * checked against SCRIPT LOAD by the tests.  A key without TTL (PTTL -1)
 * is replaced, so none is ever left without one. */
static const char raise_lua[] =
    "local t = redis.call('PTTL', KEYS[1])\n"
    "local d = tonumber(ARGV[2])\n"
    "if t < d then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', d)\n"
    "  return d\n"
    "end\n"
    "return t";
static const char raise_sha[] = "89d0e979e6405b2b837f11d8c76a5d0c13da177a";

typedef struct rorigins {
  hr_redis *r;
  hr_quiet *local;
  hr_quiet *pending; /* raises Redis missed, by absolute not-before */
} rorigins;

static char *nb_key(const rorigins *ro, const char *origin, size_t *len) {
  const char *prefix = hr_redis_prefix(ro->r);
  size_t n = strlen(prefix) + strlen(origin) + 6;
  char *k = malloc(n);
  if (!k)
    return NULL;
  int w = snprintf(k, n, "%snb:{%s}", prefix, origin);
  *len = (size_t)w;
  return k;
}

/* PTTL of the origin's key: the ms left, 0 if none, -1 on failure. */
static int64_t remote_left(redisContext *ctx, const char *key, size_t klen) {
  const char *argv[2] = {"PTTL", key};
  size_t lens[2] = {4, klen};
  redisReply *rep = redisCommandArgv(ctx, 2, argv, lens);
  if (!rep)
    return -1;
  int64_t left = -1;
  if (rep->type == REDIS_REPLY_INTEGER)
    left = rep->integer > 0 ? (int64_t)rep->integer : 0;
  freeReplyObject(rep);
  return left;
}

/* MULTI; SET k v PX d NX; PEXPIRE k d GT; PTTL k; EXEC, in one round trip.
 * 0 or -1. */
static int raise_multi(redisContext *ctx, const char *key, size_t klen,
                       const char *st, const char *d, size_t dlen) {
  const char *multi[1] = {"MULTI"};
  size_t multi_l[1] = {5};
  const char *set[6] = {"SET", key, st, "PX", d, "NX"};
  size_t set_l[6] = {3, klen, strlen(st), 2, dlen, 2};
  const char *exp[4] = {"PEXPIRE", key, d, "GT"};
  size_t exp_l[4] = {7, klen, dlen, 2};
  const char *pttl[2] = {"PTTL", key};
  size_t pttl_l[2] = {4, klen};
  const char *exec[1] = {"EXEC"};
  size_t exec_l[1] = {4};
  if (redisAppendCommandArgv(ctx, 1, multi, multi_l) != REDIS_OK ||
      redisAppendCommandArgv(ctx, 6, set, set_l) != REDIS_OK ||
      redisAppendCommandArgv(ctx, 4, exp, exp_l) != REDIS_OK ||
      redisAppendCommandArgv(ctx, 2, pttl, pttl_l) != REDIS_OK ||
      redisAppendCommandArgv(ctx, 1, exec, exec_l) != REDIS_OK)
    return -1;
  int ok = 1;
  /* All five replies are read even after a bad one, so that the
   * connection stays in step (it is dropped on failure anyway). */
  for (int i = 0; i < 5; i++) {
    void *v = NULL;
    if (redisGetReply(ctx, &v) != REDIS_OK || !v)
      return -1;
    redisReply *rep = v;
    if (i == 4)
      ok = ok && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
           rep->element[2]->type == REDIS_REPLY_INTEGER &&
           rep->element[2]->integer > 0;
    else
      ok = ok && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
  }
  return ok ? 0 : -1;
}

static int raise_lua_path(redisContext *ctx, const char *key, size_t klen,
                          const char *st, const char *d, size_t dlen) {
  const char *argv[3] = {key, st, d};
  size_t lens[3] = {klen, strlen(st), dlen};
  redisReply *rep = hr_redis_eval(ctx, raise_lua, raise_sha, 1, 3, argv, lens);
  if (!rep)
    return -1;
  int ok = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
  freeReplyObject(rep);
  return ok ? 0 : -1;
}

static int remote_raise(rorigins *ro, redisContext *ctx, const char *origin,
                        int64_t delay_ms, int status) {
  if (delay_ms < NB_MIN_MS)
    delay_ms = NB_MIN_MS;
  if (delay_ms > NB_MAX_MS)
    delay_ms = NB_MAX_MS;
  size_t klen;
  char *key = nb_key(ro, origin, &klen);
  if (!key)
    return HTTPRESP_E_NOMEM;
  char d[24], st[8];
  size_t dlen = (size_t)snprintf(d, sizeof(d), "%lld", (long long)delay_ms);
  snprintf(st, sizeof(st), "%d", status >= 100 && status <= 999 ? status : 0);
  int rc = hr_redis_server_version(ro->r) >= 700 && !hr_redis_lua_forced(ro->r)
               ? raise_multi(ctx, key, klen, st, d, dlen)
               : raise_lua_path(ctx, key, klen, st, d, dlen);
  free(key);
  return rc;
}

/* Redis is back after a back-off: what it missed and is still ahead. */
static void replay(rorigins *ro, redisContext *ctx, int64_t now) {
  hr_quiet *p = ro->pending;
  pthread_mutex_lock(&p->quiet_lock);
  hr_quiet_entry *v = p->quiet;
  size_t n = p->nquiet;
  p->quiet = NULL;
  p->nquiet = p->quiet_cap = 0;
  atomic_store_explicit(&p->any, 0, memory_order_release);
  pthread_mutex_unlock(&p->quiet_lock);
  size_t i = 0;
  for (; i < n; i++) {
    if (v[i].not_before_ms > now &&
        remote_raise(ro, ctx, v[i].origin, v[i].not_before_ms - now, 0) != 0)
      break;
    free(v[i].origin);
  }
  if (i < n) {
    /* A failure midway: the rest waits for the next time Redis is back. */
    hr_redis_done(ro->r, 0);
    for (; i < n; i++) {
      hr_quiet_set(p, v[i].origin, now, v[i].not_before_ms);
      free(v[i].origin);
    }
  }
  free(v);
}

static int ro_any(void *impl) {
  (void)impl;
  return 1; /* another worker may have raised any origin */
}

/* While Redis answers it is the fleet's memory: every raise of this
 * process went there too, except those it missed, still pending here (so
 * a forget by any worker takes effect for all).  Only while it is set
 * aside does this process's own memory answer. */
static int64_t ro_get(void *impl, const char *origin, int64_t now) {
  rorigins *ro = impl;
  size_t klen;
  char *key = nb_key(ro, origin, &klen);
  int64_t left;
  if (key && hr_redis_take_pttl(ro->r, key, klen, &left)) {
    /* Read with the cache lookup, in its round trip; that lookup may have
     * been the probe that ended a back-off, so what Redis missed goes to it
     * now. */
    free(key);
    if (hr_quiet_any(ro->pending)) {
      redisContext *ctx = hr_redis_ctx(ro->r);
      if (ctx)
        replay(ro, ctx, now);
      hr_redis_end();
    }
    int64_t missed = hr_quiet_get(ro->pending, origin, now);
    int64_t remote = left > 0 ? hr_sat_add(now, left) : 0;
    return remote > missed ? remote : missed;
  }
  redisContext *ctx = hr_redis_ctx(ro->r);
  if (!ctx) {
    free(key);
    return hr_quiet_get(ro->local, origin, now);
  }
  int64_t missed = hr_quiet_get(ro->pending, origin, now);
  left = key ? remote_left(ctx, key, klen) : -1;
  free(key);
  if (left < 0) {
    hr_redis_done(ro->r, 0);
    hr_redis_end();
    return hr_quiet_get(ro->local, origin, now);
  }
  /* Redis is back (this endpoint's probe may have been the cache's): what
   * it missed goes to it now. */
  if (hr_redis_done(ro->r, 1) || hr_quiet_any(ro->pending))
    replay(ro, ctx, now);
  hr_redis_end();
  int64_t remote = left > 0 ? hr_sat_add(now, left) : 0;
  return remote > missed ? remote : missed;
}

static int ro_raise(void *impl, const char *origin, int64_t now,
                    int64_t delay_ms, int status) {
  rorigins *ro = impl;
  int64_t nb = hr_sat_add(now, delay_ms);
  int rc = hr_quiet_set(ro->local, origin, now, nb);
  if (rc || delay_ms <= 0)
    return rc;
  redisContext *ctx = hr_redis_ctx(ro->r);
  int ok = ctx && remote_raise(ro, ctx, origin, delay_ms, status) == 0;
  if (ctx && (hr_redis_done(ro->r, ok) || hr_quiet_any(ro->pending)) && ok)
    replay(ro, ctx, now);
  hr_redis_end();
  if (!ok)
    return hr_quiet_set(ro->pending, origin, now, nb);
  return 0;
}

/* DEL of one key: 0 or -1. */
static int remote_del(redisContext *ctx, const char *key, size_t klen) {
  const char *argv[2] = {"DEL", key};
  size_t lens[2] = {3, klen};
  redisReply *rep = redisCommandArgv(ctx, 2, argv, lens);
  int ok = rep && rep->type == REDIS_REPLY_INTEGER;
  if (rep)
    freeReplyObject(rep);
  return ok ? 0 : -1;
}

/* Most SCAN rounds a forget of every origin makes: a fleet's origins are
 * thousands, not millions, and a forget must not hold its thread for long. */
#define FORGET_SCAN_ROUNDS 256

/* Every origin key under the prefix goes (SCAN ... MATCH, then DEL of each
 * batch): 0 or -1. */
static int remote_forget_all(const rorigins *ro, redisContext *ctx) {
  const char *prefix = hr_redis_prefix(ro->r);
  size_t plen = strlen(prefix);
  char *pat = malloc(2 * plen + 5);
  if (!pat)
    return -1;
  size_t n = 0;
  for (size_t i = 0; i < plen; i++) { /* the prefix matched literally */
    if (strchr("*?[]\\", prefix[i]))
      pat[n++] = '\\';
    pat[n++] = prefix[i];
  }
  memcpy(pat + n, "nb:*", 5);
  n += 4;
  char cursor[32] = "0";
  int rc = 0;
  for (int round = 0; round < FORGET_SCAN_ROUNDS; round++) {
    const char *argv[6] = {"SCAN", cursor, "MATCH", pat, "COUNT", "512"};
    size_t lens[6] = {4, strlen(cursor), 5, n, 5, 3};
    redisReply *rep = redisCommandArgv(ctx, 6, argv, lens);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[0]->len >= sizeof(cursor) ||
        rep->element[1]->type != REDIS_REPLY_ARRAY) {
      if (rep)
        freeReplyObject(rep);
      rc = -1;
      break;
    }
    memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
    cursor[rep->element[0]->len] = '\0';
    const redisReply *keys = rep->element[1];
    for (size_t i = 0; rc == 0 && i < keys->elements; i++)
      if (keys->element[i]->type == REDIS_REPLY_STRING)
        rc = remote_del(ctx, keys->element[i]->str, keys->element[i]->len);
    freeReplyObject(rep);
    if (rc || strcmp(cursor, "0") == 0)
      break;
  }
  free(pat);
  return rc;
}

/* Forgetting is for the fleet: the shared key goes too, else the next get
 * would read it straight back.  While Redis is set aside only this
 * process's memory (and its pending raises) can be cleared. */
static void ro_forget(void *impl, const char *origin) {
  rorigins *ro = impl;
  hr_quiet_forget(ro->local, origin);
  hr_quiet_forget(ro->pending, origin);
  redisContext *ctx = hr_redis_ctx(ro->r);
  if (!ctx)
    return;
  int ok;
  if (origin) {
    size_t klen;
    char *key = nb_key(ro, origin, &klen);
    ok = key && remote_del(ctx, key, klen) == 0;
    free(key);
  } else {
    ok = remote_forget_all(ro, ctx) == 0;
  }
  hr_redis_done(ro->r, ok);
  hr_redis_end();
}

static void ro_destroy(void *impl) {
  rorigins *ro = impl;
  hr_redis_free(ro->r);
  hr_quiet_free(ro->local);
  hr_quiet_free(ro->pending);
  free(ro);
}

static void ro_prefetch(void *impl, const char *origin) {
  rorigins *ro = impl;
  size_t klen = 0;
  char *key = origin ? nb_key(ro, origin, &klen) : NULL;
  hr_redis_want_pttl(ro->r, key, klen);
  free(key);
}

static const hr_origin_vt redis_vt = {
    "redis", ro_any, ro_get, ro_raise, ro_forget, ro_destroy, ro_prefetch};

int httpresp_origins_new_redis(httpresp_origins **out, const char *url,
                               const httpresp_redis_options *opts) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  rorigins *ro = calloc(1, sizeof(*ro));
  if (!ro)
    return HTTPRESP_E_NOMEM;
  int rc = hr_redis_new(&ro->r, url, opts);
  if (rc == 0) {
    const char *scripts[1] = {raise_lua};
    hr_redis_use_scripts(ro->r, scripts, 1);
    rc = hr_quiet_new(&ro->local);
  }
  if (rc == 0)
    rc = hr_quiet_new(&ro->pending);
  httpresp_origins *o = rc == 0 ? malloc(sizeof(*o)) : NULL;
  if (!o) {
    ro_destroy(ro);
    return rc ? rc : HTTPRESP_E_NOMEM;
  }
  o->o.vt = &redis_vt;
  o->o.impl = ro;
  *out = o;
  return 0;
}

hr_redis *hr_origins_redis(httpresp_origins *o) {
  return o && o->o.vt == &redis_vt ? ((rorigins *)o->o.impl)->r : NULL;
}

#else

int httpresp_origins_new_redis(httpresp_origins **out, const char *url,
                               const httpresp_redis_options *opts) {
  (void)url;
  (void)opts;
  if (out)
    *out = NULL;
  return HTTPRESP_E_UNSUPPORTED;
}

#endif

void httpresp_origins_free(httpresp_origins *o) {
  if (!o)
    return;
  o->o.vt->destroy(o->o.impl);
  free(o);
}
