/* SPDX-License-Identifier: MIT */
/* The cache's entries on Redis, shared by a fleet: a store of bytes
 * (httpresp_store_ops_v2, so encoding, decoding and verification are
 * bytes.c's, as for the disk store) with variants, TTLs and atomic
 * update-only writes.
 *
 * Keys (DESIGN.md, "Fleet mode"), P a digest of the flat key, V the
 * variant id, both hex:
 *   <prefix>c:{P}:v:<V>  the entry: a format byte, then the codec's bytes;
 *   <prefix>c:{P}:i      the variant index, a hash: field V = the entry's
 *                        expiry (Unix seconds), field `vary` = the Vary
 *                        names the variants were chosen by.
 * The cache reads and writes its index as an entry (variant
 * HR_VARIANT_INDEX); here that entry is the hash, written a field at a
 * time so that writers at once lose none of each other's variants: a put
 * of the index writes `vary` only (each variant's own put adds its
 * field), a get rebuilds the entry from the fields, the ids latest expiry
 * first.
 * The braces are a hash tag: one key's entries stay on one cluster shard,
 * and the put script may touch both.
 *
 * While Redis is set aside (redis_conn.c's back-off) the cache goes on in
 * a local memory store: the tier below is what the cache object sees. */
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/codec.h"
#include "cache/key.h"
#include "cache/ttl.h"
#include "common.h"
#include "store.h"

#ifdef HTTPRESP_HAVE_REDIS

#include <stdio.h>
#include <time.h>

#include "redis_conn.h"
#include "sha256.h"

/* The format byte in front of the codec's bytes: another value is an
 * entry written by another version of the library (rolling upgrades). */
#define FORMAT 0x01
#define MAX_ENTRY_DEFAULT ((size_t)1 << 20)
/* The local memory that stands in for Redis while it is set aside. */
#define LOCAL_BYTES ((size_t)16 << 20)

/* The write, atomic with its index entry, for every server version; with
 * ARGV[4] = "1" only over an entry still stored (a 304 refresh never brings
 * back an evicted entry).  Its SHA-1 is checked by the tests. */
static const char put_lua[] =
    "local px = tonumber(ARGV[2])\n"
    "if ARGV[4] == '1' then\n"
    "  if not redis.call('SET', KEYS[1], ARGV[1], 'PX', px, 'XX') then\n"
    "    return 0\n"
    "  end\n"
    "else\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', px)\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])\n"
    "if redis.call('PTTL', KEYS[2]) < px then\n"
    "  redis.call('PEXPIRE', KEYS[2], px)\n"
    "end\n"
    "return 1";
static const char put_sha[] = "e493430757ddc2d1c4ea2e0a501eca363e45c8f6";

/* The index's `vary` field, never removing a variant's; fields of
 * variants expired by the writer's clock (ARGV[3]) go, which bounds the
 * hash; the TTL is extended, never shortened. */
static const char index_lua[] =
    "redis.call('HSET', KEYS[1], 'vary', ARGV[1])\n"
    "local f = redis.call('HGETALL', KEYS[1])\n"
    "local now = tonumber(ARGV[3])\n"
    "for j = 1, #f, 2 do\n"
    "  if f[j] ~= 'vary' and (tonumber(f[j + 1]) or 0) <= now then\n"
    "    redis.call('HDEL', KEYS[1], f[j])\n"
    "  end\n"
    "end\n"
    "local px = tonumber(ARGV[2])\n"
    "if redis.call('PTTL', KEYS[1]) < px then\n"
    "  redis.call('PEXPIRE', KEYS[1], px)\n"
    "end\n"
    "return 1";
static const char index_sha[] = "23971ce15c75f093b7eff371dbefbef48dbb5fa0";

/* Compare-and-delete: only the holder's token releases the lock. */
static const char unlock_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0";
static const char unlock_sha[] = "b6a796aa8d73bb4ce6e26afe648196d086a8d1f1";

typedef struct rstore {
  hr_redis *r;
  size_t max_entry;
} rstore;

typedef struct rkeys {
  char lock[256 + 64];
  size_t locklen;
  char v[256 + 64];
  char i[256 + 64];
  char field[17];
  size_t vlen, ilen;
} rkeys;

static void make_keys(const rstore *s, const char *key, hr_variant_id var,
                      rkeys *k) {
  unsigned char d[32];
  hr_sha256 h;
  hr_sha256_init(&h);
  hr_sha256_update(&h, key, strlen(key));
  hr_sha256_final(&h, d);
  char p[33];
  for (int j = 0; j < 16; j++)
    snprintf(p + (size_t)2 * (size_t)j, 3, "%02x", d[j]);
  snprintf(k->field, sizeof(k->field), "%016llx", (unsigned long long)var);
  const char *prefix = hr_redis_prefix(s->r);
  k->vlen = (size_t)snprintf(k->v, sizeof(k->v), "%.255sc:{%s}:v:%s", prefix, p,
                             k->field);
  k->ilen = (size_t)snprintf(k->i, sizeof(k->i), "%.255sc:{%s}:i", prefix, p);
  k->locklen = (size_t)snprintf(k->lock, sizeof(k->lock), "%.255sc:{%s}:lock",
                                prefix, p);
}

/* The index entry the cache expects (hr_variant_index_entry), rebuilt
 * from the hash's fields in `rep` (HGETALL): 0, 1 when there is no index
 * (no hash, or no `vary` field), an error code. */
static int index_from_hash(const redisReply *rep, const char *key, void **data,
                           size_t *len) {
  if (rep->type != REDIS_REPLY_ARRAY)
    return rep->type == REDIS_REPLY_NIL ? 1 : HTTPRESP_E_CACHE_IO;
  hr_variant_index ix;
  memset(&ix, 0, sizeof(ix));
  long long exp[HR_VARIANTS_MAX];
  long long now = (long long)time(NULL);
  for (size_t j = 0; j + 1 < rep->elements; j += 2) {
    const redisReply *f = rep->element[j], *v = rep->element[j + 1];
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
      continue;
    if (f->len == 4 && memcmp(f->str, "vary", 4) == 0) {
      ix.vary = v->str;
      continue;
    }
    char *end;
    unsigned long long id = strtoull(f->str, &end, 16);
    long long e = strtoll(v->str, NULL, 10);
    if (f->len != 16 || end != f->str + 16 || id == HR_VARIANT_NONE ||
        id == HR_VARIANT_INDEX || e <= now)
      continue; /* the key's own entry, or a variant expired */
    /* Kept in order, latest expiry first, at most HR_VARIANTS_MAX. */
    size_t at = ix.n;
    while (at > 0 && exp[at - 1] < e)
      at--;
    if (at == HR_VARIANTS_MAX)
      continue;
    size_t last = ix.n < HR_VARIANTS_MAX ? ix.n : HR_VARIANTS_MAX - 1;
    memmove(&ix.ids[at + 1], &ix.ids[at], (last - at) * sizeof(ix.ids[0]));
    memmove(&exp[at + 1], &exp[at], (last - at) * sizeof(exp[0]));
    ix.ids[at] = (hr_variant_id)id;
    exp[at] = e;
    if (ix.n < HR_VARIANTS_MAX)
      ix.n++;
  }
  if (!ix.vary || !*ix.vary)
    return 1;
  hr_cache_entry e;
  int rc = hr_variant_index_entry(&ix, key, strlen(key), &e);
  if (rc)
    return rc;
  hr_buf b;
  hr_buf_init(&b);
  rc = hr_cache_entry_encode(&e, &b);
  hr_cache_entry_free(&e);
  if (rc) {
    hr_buf_free(&b);
    return rc == HTTPRESP_E_NOMEM ? rc : 1;
  }
  *len = b.len;
  *data = hr_buf_steal(&b);
  return *data ? 0 : HTTPRESP_E_NOMEM;
}

static int r_get(void *store, const char *key, hr_variant_id var, void **data,
                 size_t *len) {
  rstore *s = store;
  rkeys k;
  make_keys(s, key, var, &k);
  const char *hgetall[2] = {"HGETALL", k.i};
  size_t hgetall_l[2] = {7, k.ilen};
  if (var == HR_VARIANT_INDEX) {
    /* Read with the key's entry when that missed (one round trip). */
    redisReply *ahead = hr_redis_unstash(s->r, k.i, k.ilen);
    if (ahead) {
      int rc = index_from_hash(ahead, key, data, len);
      freeReplyObject(ahead);
      return rc;
    }
  }
  redisContext *ctx = hr_redis_ctx(s->r);
  if (!ctx)
    return HTTPRESP_E_CACHE_IO;
  redisReply *rep, *ix = NULL;
  if (var == HR_VARIANT_INDEX) {
    rep =
        hr_redis_command(s->r, ctx, 2, hgetall, hgetall_l, 0, NULL, NULL, NULL);
    int rc = rep ? index_from_hash(rep, key, data, len) : HTTPRESP_E_CACHE_IO;
    hr_redis_done(s->r, rep && rep->type != REDIS_REPLY_ERROR);
    hr_redis_end();
    if (rep)
      freeReplyObject(rep);
    return rc;
  }
  const char *argv[2] = {"GET", k.v};
  size_t lens[2] = {3, k.vlen};
  /* With the origin's PTTL when the client asked for it, and for the key's
   * own entry with its index, which the cache reads next if the entry is
   * missing (one round trip). */
  int with_index = var == HR_VARIANT_NONE;
  rep = hr_redis_command(s->r, ctx, 2, argv, lens, with_index ? 2 : 0, hgetall,
                         hgetall_l, &ix);
  int rc = HTTPRESP_E_CACHE_IO;
  if (rep && rep->type == REDIS_REPLY_NIL) {
    rc = 1;
    if (ix) {
      hr_redis_stash(s->r, k.i, k.ilen, ix);
      ix = NULL;
    }
  } else if (rep && rep->type == REDIS_REPLY_STRING) {
    /* Another format is a miss, and stays for the writers that read it. */
    rc = 1;
    if (rep->len > 1 && (unsigned char)rep->str[0] == FORMAT) {
      *len = (size_t)rep->len - 1;
      *data = malloc(*len);
      rc = *data ? 0 : HTTPRESP_E_NOMEM;
      if (*data)
        memcpy(*data, rep->str + 1, *len);
    }
  }
  if (ix)
    freeReplyObject(ix);
  hr_redis_done(s->r, rep && rep->type != REDIS_REPLY_ERROR);
  hr_redis_end();
  if (rep)
    freeReplyObject(rep);
  return rc;
}

static int r_del(void *store, const char *key, hr_variant_id var) {
  rstore *s = store;
  redisContext *ctx = hr_redis_ctx(s->r);
  if (!ctx)
    return HTTPRESP_E_CACHE_IO;
  rkeys k;
  make_keys(s, key, var, &k);
  /* The index is the hash, all of it; a variant is its key and its
   * field. */
  int idx = var == HR_VARIANT_INDEX;
  const char *del[2] = {"DEL", idx ? k.i : k.v};
  size_t del_l[2] = {3, idx ? k.ilen : k.vlen};
  const char *hdel[3] = {"HDEL", k.i, k.field};
  size_t hdel_l[3] = {4, k.ilen, 16};
  int ok = redisAppendCommandArgv(ctx, 2, del, del_l) == REDIS_OK &&
           (idx || redisAppendCommandArgv(ctx, 3, hdel, hdel_l) == REDIS_OK);
  for (int j = 0; ok && j < (idx ? 1 : 2); j++) {
    void *v = NULL;
    ok = redisGetReply(ctx, &v) == REDIS_OK && v &&
         ((redisReply *)v)->type == REDIS_REPLY_INTEGER;
    if (v)
      freeReplyObject(v);
  }
  hr_redis_done(s->r, ok);
  hr_redis_end();
  return ok ? 0 : HTTPRESP_E_CACHE_IO;
}

/* The index entry's Vary names into the hash's `vary` field. */
static int put_index(rstore *s, const char *key, const void *data, size_t len,
                     int64_t ttl_sec) {
  hr_cache_entry e;
  int rc = hr_cache_entry_decode(data, len, &e);
  if (rc)
    return rc == HTTPRESP_E_NOMEM ? rc : HTTPRESP_E_INVALID_ARG;
  const char *vary = hr_headers_get(&e.headers, "Vary");
  redisContext *ctx = vary && *vary ? hr_redis_ctx(s->r) : NULL;
  if (!ctx) {
    hr_cache_entry_free(&e);
    return vary && *vary ? HTTPRESP_E_CACHE_IO : HTTPRESP_E_INVALID_ARG;
  }
  rkeys k;
  make_keys(s, key, HR_VARIANT_INDEX, &k);
  char px[24], now[24];
  size_t pxlen =
      (size_t)snprintf(px, sizeof(px), "%lld", (long long)ttl_sec * 1000);
  size_t nowlen =
      (size_t)snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
  const char *argv[4] = {k.i, vary, px, now};
  size_t lens[4] = {k.ilen, strlen(vary), pxlen, nowlen};
  redisReply *rep = hr_redis_eval(ctx, index_lua, index_sha, 1, 4, argv, lens);
  hr_cache_entry_free(&e);
  rc = rep && rep->type == REDIS_REPLY_INTEGER ? 0 : HTTPRESP_E_CACHE_IO;
  hr_redis_done(s->r, rc == 0);
  hr_redis_end();
  if (rep)
    freeReplyObject(rep);
  return rc;
}

static int r_put(void *store, const char *key, hr_variant_id var,
                 const void *data, size_t len, int64_t ttl_sec, unsigned how) {
  rstore *s = store;
  /* Too large, or worth no time: never written (a key without a TTL would
   * live for ever); the caller removes what was stored. */
  if (len >= s->max_entry || ttl_sec <= 0)
    return HTTPRESP_E_INVALID_ARG;
  if (var == HR_VARIANT_INDEX)
    return put_index(s, key, data, len, ttl_sec);
  char *val = malloc(len + 1);
  if (!val)
    return HTTPRESP_E_NOMEM;
  val[0] = (char)FORMAT;
  memcpy(val + 1, data, len);
  redisContext *ctx = hr_redis_ctx(s->r);
  if (!ctx) {
    free(val);
    return HTTPRESP_E_CACHE_IO;
  }
  rkeys k;
  make_keys(s, key, var, &k);
  char px[24], exp[24];
  size_t pxlen =
      (size_t)snprintf(px, sizeof(px), "%lld", (long long)ttl_sec * 1000);
  size_t explen = (size_t)snprintf(exp, sizeof(exp), "%lld",
                                   (long long)time(NULL) + (long long)ttl_sec);
  const char *update = how & HTTPRESP_STORE_UPDATE_ONLY ? "1" : "0";
  const char *argv[7] = {k.v, k.i, val, px, k.field, update, exp};
  size_t lens[7] = {k.vlen, k.ilen, len + 1, pxlen, 16, 1, explen};
  redisReply *rep = hr_redis_eval(ctx, put_lua, put_sha, 2, 7, argv, lens);
  free(val);
  int rc = HTTPRESP_E_CACHE_IO;
  if (rep && rep->type == REDIS_REPLY_INTEGER)
    rc = rep->integer == 1 ? 0 : 1;
  hr_redis_done(s->r, rc != HTTPRESP_E_CACHE_IO);
  hr_redis_end();
  if (rep)
    freeReplyObject(rep);
  return rc;
}

/* The key's coalescing lock (keys are NUL-free C strings here: the flat
 * key of a URL). */
static int r_lock(void *impl, const char *key, size_t klen, const char *token,
                  int64_t ttl_ms) {
  rstore *s = impl;
  char *kz = hr_strndup(key, klen);
  if (!kz)
    return -1;
  rkeys k;
  make_keys(s, kz, HR_VARIANT_NONE, &k);
  free(kz);
  redisContext *ctx = hr_redis_ctx(s->r);
  if (!ctx)
    return -1;
  char px[24];
  size_t pxlen = (size_t)snprintf(px, sizeof(px), "%lld", (long long)ttl_ms);
  const char *argv[6] = {"SET", k.lock, token, "NX", "PX", px};
  size_t lens[6] = {3, k.locklen, strlen(token), 2, 2, pxlen};
  redisReply *rep = redisCommandArgv(ctx, 6, argv, lens);
  int rc = -1;
  if (rep && rep->type == REDIS_REPLY_STATUS)
    rc = 1;
  else if (rep && rep->type == REDIS_REPLY_NIL)
    rc = 0;
  hr_redis_done(s->r, rc >= 0);
  hr_redis_end();
  if (rep)
    freeReplyObject(rep);
  return rc;
}

static void r_unlock(void *impl, const char *key, size_t klen,
                     const char *token) {
  rstore *s = impl;
  char *kz = hr_strndup(key, klen);
  if (!kz)
    return;
  rkeys k;
  make_keys(s, kz, HR_VARIANT_NONE, &k);
  free(kz);
  redisContext *ctx = hr_redis_ctx(s->r);
  if (!ctx)
    return; /* it expires by itself */
  const char *argv[2] = {k.lock, token};
  size_t lens[2] = {k.locklen, strlen(token)};
  redisReply *rep =
      hr_redis_eval(ctx, unlock_lua, unlock_sha, 1, 2, argv, lens);
  hr_redis_done(s->r, rep && rep->type == REDIS_REPLY_INTEGER);
  hr_redis_end();
  if (rep)
    freeReplyObject(rep);
}

static void r_destroy(void *store) {
  rstore *s = store;
  hr_redis_free(s->r);
  free(s);
}

static const httpresp_store_ops_v2 redis_ops = {HTTPRESP_STORE_VERSION_2,
                                                HTTPRESP_STORE_UPDATE_ONLY |
                                                    HTTPRESP_STORE_TTL,
                                                r_get,
                                                r_put,
                                                r_del,
                                                r_destroy};

/* ---- Redis, or local memory while Redis is set aside ----------------------
 */

typedef struct tier {
  hr_store remote; /* the byte store above, bound by bytes.c */
  hr_store local;  /* a memory store */
  hr_redis *r;
} tier;

/* When the back-off is due, the next operation on Redis is its probe. */
static int aside(const tier *t) { return hr_redis_aside(t->r); }

/* The local memory store keeps no variants: their ids are folded into
 * its keys. */
static int local_key(const hr_key *k, hr_key *lk) {
  hr_key base = *k;
  base.own = NULL;
  base.variant = HR_VARIANT_NONE;
  return hr_key_variant(&base, k->variant, 1, lk);
}

static int t_get(void *impl, const hr_key *k, hr_stored **out) {
  tier *t = impl;
  if (!aside(t)) {
    int rc = hr_store_get(&t->remote, k, out);
    if (rc != HTTPRESP_E_CACHE_IO)
      return rc;
  }
  hr_key lk;
  int rc = local_key(k, &lk);
  if (rc)
    return rc;
  rc = hr_store_get(&t->local, &lk, out);
  hr_key_free(&lk);
  return rc == 1 ? HR_STORE_MISS_STANDIN : rc;
}

static int t_put(void *impl, const hr_key *k, const hr_cache_entry *e,
                 const hr_put_how *how) {
  tier *t = impl;
  hr_key lk;
  int rc = local_key(k, &lk);
  if (rc)
    return rc;
  if (!aside(t)) {
    rc = hr_store_put(&t->remote, k, e, how);
    if (rc != HTTPRESP_E_CACHE_IO) {
      /* Redis has the newer answer (or refused it): a copy kept locally
       * while it was away is superseded. */
      hr_store_del(&t->local, &lk);
      hr_key_free(&lk);
      return rc;
    }
  }
  rc = hr_store_put(&t->local, &lk, e, how);
  hr_key_free(&lk);
  return rc;
}

static int t_del(void *impl, const hr_key *k) {
  tier *t = impl;
  hr_key lk;
  if (local_key(k, &lk) == 0) {
    hr_store_del(&t->local, &lk);
    hr_key_free(&lk);
  }
  /* What Redis holds cannot be removed while it is away: the error makes
   * the cache tombstone the key, so it is not served meanwhile. */
  return aside(t) ? HTTPRESP_E_CACHE_IO : hr_store_del(&t->remote, k);
}

static void t_destroy(void *impl) {
  tier *t = impl;
  hr_store_destroy(&t->local);
  hr_store_destroy(&t->remote);
  free(t);
}

static const hr_store_vt tier_vt = {"redis",
                                    HR_STORE_UPDATE_ONLY | HR_STORE_TTL |
                                        HR_STORE_LOCKS | HR_STORE_VARIANTS |
                                        HR_STORE_INDEX_ORDERED,
                                    t_get,
                                    t_put,
                                    t_del,
                                    t_destroy};

int httpresp_cache_new_redis(httpresp_cache **out, const char *url,
                             const httpresp_redis_options *opts) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  rstore *s = calloc(1, sizeof(*s));
  if (!s)
    return HTTPRESP_E_NOMEM;
  int rc = hr_redis_new(&s->r, url, opts);
  if (rc) {
    free(s);
    return rc;
  }
  const char *scripts[3] = {put_lua, unlock_lua, index_lua};
  hr_redis_use_scripts(s->r, scripts, 3);
  s->max_entry = opts && opts->max_entry ? opts->max_entry : MAX_ENTRY_DEFAULT;
  int64_t grace = opts && opts->grace_sec ? opts->grace_sec : HR_TTL_GRACE_SEC;
  tier *t = calloc(1, sizeof(*t));
  hr_mstore *m = NULL;
  rc = t ? hr_store_memory_new(&m, LOCAL_BYTES) : HTTPRESP_E_NOMEM;
  if (rc == 0)
    rc = hr_store_bytes_bind_v2(&t->remote, &redis_ops, s);
  if (rc) {
    hr_store_memory_free(m);
    free(t);
    r_destroy(s);
    return rc;
  }
  hr_store_memory_bind(&t->local, m);
  t->r = s->r;
  hr_store st = {&tier_vt, t};
  rc = hr_cache_new_over(out, &st, grace < 0 ? 0 : grace);
  if (rc) {
    t_destroy(t);
    return rc;
  }
  if (opts && opts->coalesce_ms) {
    hr_coalescer co = {r_lock, r_unlock, s, opts->coalesce_ms};
    hr_cache_set_coalescer(*out, &co);
  }
  return 0;
}

#else

int httpresp_cache_new_redis(httpresp_cache **out, const char *url,
                             const httpresp_redis_options *opts) {
  (void)url;
  (void)opts;
  if (out)
    *out = NULL;
  return HTTPRESP_E_UNSUPPORTED;
}

#endif
