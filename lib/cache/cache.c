/* SPDX-License-Identifier: MIT */
/* The cache object over a store, and the only writer of it.
 *
 * It asks the store's vtable (lib/store/store.h), never which backend is
 * behind it: a memory store hands out frozen entries, a byte store (disk,
 * a caller's) decodes and verifies what it read before handing out the
 * same, so every event below reads the same way whatever the store. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "codec.h"
#include "sha256.h"
#include "store/store.h"
#include "ttl.h"

/* Keys whose stored entry is superseded but could be neither replaced nor
 * removed (a read-only or full store): never served again by this
 * process.  Past this many, the cache serves nothing at all: a bound on
 * memory must not become a way back to serving superseded answers. */
#define HR_TOMBSTONES_MAX 1024

/* The store is used by any number of threads (the stores do their own
 * locking); the tombstones are under `lock`, `ntombs` readable without it
 * so that a lookup in the usual case (none) takes no lock. */
struct httpresp_cache {
  hr_store store;
  int64_t grace_sec;       /* kept for revalidation, in stores with a TTL */
  hr_coalescer co;         /* co.lock NULL: no coalescing */
  _Atomic uint64_t tokens; /* lock tokens made */
  pthread_mutex_t lock;
  _Atomic size_t ntombs; /* HR_TOMBSTONES_MAX + 1: full, nothing served */
  char *tombs[HR_TOMBSTONES_MAX];
};

static int cache_new(httpresp_cache **out, const hr_store *st) {
  httpresp_cache *c = calloc(1, sizeof(*c));
  if (!c || pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c);
    return HTTPRESP_E_NOMEM;
  }
  c->store = *st;
  c->grace_sec = HR_TTL_GRACE_SEC;
  atomic_init(&c->ntombs, 0);
  *out = c;
  return 0;
}

int hr_cache_new_over(httpresp_cache **out, const hr_store *st,
                      int64_t grace_sec) {
  int rc = cache_new(out, st);
  if (rc == 0)
    (*out)->grace_sec = grace_sec;
  return rc;
}

/* ---- coalescing ------------------------------------------------------------
 */

#define COALESCE_POLL_MS 25

void hr_cache_set_coalescer(httpresp_cache *c, const hr_coalescer *co) {
  if (co)
    c->co = *co;
  else
    memset(&c->co, 0, sizeof(c->co));
}

/* A token no other holder anywhere will have: a digest of this host,
 * process, time and a counter. */
static void make_token(httpresp_cache *c, char out[33]) {
  struct {
    char host[64];
    pid_t pid;
    struct timespec ts;
    uint64_t n;
    const void *self;
  } seed;
  memset(&seed, 0, sizeof(seed));
  gethostname(seed.host, sizeof(seed.host) - 1);
  seed.pid = getpid();
  clock_gettime(CLOCK_REALTIME, &seed.ts);
  seed.n = atomic_fetch_add(&c->tokens, 1);
  seed.self = c;
  unsigned char d[32];
  hr_sha256 h;
  hr_sha256_init(&h);
  hr_sha256_update(&h, &seed, sizeof(seed));
  hr_sha256_final(&h, d);
  for (int i = 0; i < 16; i++)
    snprintf(out + (size_t)2 * (size_t)i, 3, "%02x", d[i]);
}

int64_t hr_cache_coalesce(httpresp_cache *c, const httpresp_request *req,
                          int64_t now_ms, hr_claim *cl) {
  if (!c || !c->co.lock || cl->key || (cl->until && now_ms >= cl->until))
    return 0;
  hr_key k;
  if (hr_cache_request_key(req, &k) != 0)
    return 0;
  char token[33];
  make_token(c, token);
  int got = c->co.lock(c->co.impl, k.flat, k.flat_len, token, c->co.ttl_ms);
  int64_t again = 0;
  if (got == 1) {
    /* the key, its NUL, then the token and its NUL */
    cl->key = malloc(k.flat_len + 1 + sizeof(token));
    cl->klen = k.flat_len;
    if (cl->key) {
      memcpy(cl->key, k.flat, k.flat_len);
      cl->key[k.flat_len] = '\0';
      memcpy(cl->key + k.flat_len + 1, token, sizeof(token));
    } else { /* cannot release it later: let it expire now */
      c->co.unlock(c->co.impl, k.flat, k.flat_len, token);
    }
  } else if (got == 0) {
    if (!cl->until)
      cl->until = hr_sat_add(now_ms, c->co.ttl_ms);
    again = hr_sat_add(now_ms, COALESCE_POLL_MS);
    if (again > cl->until)
      again = cl->until;
  }
  hr_key_free(&k);
  return again;
}

void hr_cache_release(httpresp_cache *c, hr_claim *cl) {
  if (cl->key && c && c->co.unlock)
    c->co.unlock(c->co.impl, cl->key, cl->klen, hr_claim_token(cl));
  free(cl->key);
  memset(cl, 0, sizeof(*cl));
}

/* ---- tombstones ------------------------------------------------------------
 */

static long tomb_find(httpresp_cache *c, const hr_key *k, size_t n) {
  for (size_t i = 0; i < n && i < HR_TOMBSTONES_MAX; i++)
    if (strlen(c->tombs[i]) == k->flat_len &&
        memcmp(c->tombs[i], k->flat, k->flat_len) == 0)
      return (long)i;
  return -1;
}

/* Whether what is stored under `k` must not be served. */
static int tombstoned(httpresp_cache *c, const hr_key *k) {
  if (atomic_load_explicit(&c->ntombs, memory_order_acquire) == 0)
    return 0;
  pthread_mutex_lock(&c->lock);
  size_t n = atomic_load_explicit(&c->ntombs, memory_order_relaxed);
  int dead = n > HR_TOMBSTONES_MAX || tomb_find(c, k, n) >= 0;
  pthread_mutex_unlock(&c->lock);
  return dead;
}

static void tomb_add(httpresp_cache *c, const hr_key *k) {
  char *copy = hr_strndup(k->flat, k->flat_len);
  pthread_mutex_lock(&c->lock);
  size_t n = atomic_load_explicit(&c->ntombs, memory_order_relaxed);
  if (n <= HR_TOMBSTONES_MAX && tomb_find(c, k, n) < 0) {
    if (copy && n < HR_TOMBSTONES_MAX) {
      c->tombs[n] = copy;
      copy = NULL;
      n++;
    } else {
      n = HR_TOMBSTONES_MAX + 1; /* cannot remember it: serve nothing */
    }
    atomic_store_explicit(&c->ntombs, n, memory_order_release);
  }
  pthread_mutex_unlock(&c->lock);
  free(copy);
}

/* The key's entry was written or removed: it may be served again. */
static void tomb_clear(httpresp_cache *c, const hr_key *k) {
  if (atomic_load_explicit(&c->ntombs, memory_order_acquire) == 0)
    return;
  pthread_mutex_lock(&c->lock);
  size_t n = atomic_load_explicit(&c->ntombs, memory_order_relaxed);
  long i = n <= HR_TOMBSTONES_MAX ? tomb_find(c, k, n) : -1;
  char *dead = NULL;
  if (i >= 0) {
    dead = c->tombs[i];
    c->tombs[i] = c->tombs[n - 1];
    atomic_store_explicit(&c->ntombs, n - 1, memory_order_release);
  }
  pthread_mutex_unlock(&c->lock);
  free(dead);
}

/* Removes what is stored under `k`; when that fails the entry is
 * tombstoned.  Returns the store's code (0, or why it failed). */
static int supersede(httpresp_cache *c, const hr_key *k) {
  int rc = hr_store_del(&c->store, k);
  if (rc)
    tomb_add(c, k);
  else
    tomb_clear(c, k);
  return rc;
}

int httpresp_cache_new_memory(httpresp_cache **out, size_t max_bytes) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  hr_mstore *m;
  int rc = hr_store_memory_new(&m, max_bytes);
  if (rc)
    return rc;
  hr_store st;
  hr_store_memory_bind(&st, m);
  rc = cache_new(out, &st);
  if (rc)
    hr_store_destroy(&st);
  return rc;
}

int httpresp_cache_new_disk(httpresp_cache **out, const char *dir,
                            size_t max_bytes) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  void *disk;
  int rc = hr_store_disk_new(&disk, dir, max_bytes, 0);
  if (rc)
    return rc;
  hr_store st;
  rc = hr_store_bytes_bind(&st, &hr_store_disk_ops, disk, 1);
  if (rc) {
    hr_store_disk_ops.destroy(disk);
    return rc;
  }
  rc = cache_new(out, &st);
  if (rc)
    hr_store_destroy(&st);
  return rc;
}

int httpresp_cache_new_custom(httpresp_cache **out,
                              const httpresp_store_ops *ops, void *store) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!hr_store_ops_valid(ops))
    return HTTPRESP_E_INVALID_ARG;
  hr_store st;
  int rc = hr_store_bytes_bind(&st, ops, store, 0);
  if (rc)
    return rc;
  rc = cache_new(out, &st);
  if (rc) {
    /* The caller keeps its store when this call fails. */
    st.vt = NULL;
    free(st.impl);
  }
  return rc;
}

int httpresp_cache_new_custom_v2(httpresp_cache **out,
                                 const httpresp_store_ops_v2 *ops,
                                 void *store) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!hr_store_ops_v2_valid(ops))
    return HTTPRESP_E_INVALID_ARG;
  hr_store st;
  int rc = hr_store_bytes_bind_v2(&st, ops, store);
  if (rc)
    return rc;
  rc = cache_new(out, &st);
  if (rc) {
    st.vt = NULL;
    free(st.impl);
  }
  return rc;
}

void httpresp_cache_free(httpresp_cache *c) {
  if (!c)
    return;
  hr_store_destroy(&c->store);
  size_t n = atomic_load(&c->ntombs);
  for (size_t i = 0; i < n && i < HR_TOMBSTONES_MAX; i++)
    free(c->tombs[i]);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const hr_store *hr_cache_store(const httpresp_cache *c) {
  return c ? &c->store : NULL;
}

int hr_cache_request_key(const httpresp_request *req, hr_key *k) {
  /* The URL without its fragment (no copy needed for an anonymous GET),
   * in the partition of the request's identity. */
  char part[HR_CACHE_PARTITION_MAX];
  hr_cache_partition(req, part);
  return hr_key_init(k, "GET", req->url, strcspn(req->url, "#"), part);
}

/* save()'s answer for an entry a store with TTLs would keep for no time:
 * it is not written (DESIGN.md: nothing is written with a TTL <= 0).  Not
 * an error code, nor a store's 1 or -errno. */
#define SAVE_EXPIRED (HTTPRESP_E_COUNT_ + 1)

/* Stores `e` under `k`; a store that refuses it as too large has removed
 * the superseded entry itself.  A store with TTLs gets the entry's
 * (hr_cache_entry_ttl), with a jitter drawn from the key so that one
 * URL's expiry is the same in every process. */
static int save_for(httpresp_cache *c, const hr_key *k,
                    const hr_cache_entry *e, int update_only, int64_t ttl_sec) {
  hr_put_how how = {update_only, ttl_sec};
  int rc = hr_store_put(&c->store, k, e, &how);
  if (rc == 0)
    tomb_clear(c, k);
  return rc;
}

static int save(httpresp_cache *c, const hr_key *k, const hr_cache_entry *e,
                int update_only, int64_t now_ms) {
  int64_t ttl = 0;
  if (c->store.vt->caps & HR_STORE_TTL) {
    ttl = hr_cache_entry_ttl(e, now_ms, c->grace_sec,
                             hr_cache_checksum(k->flat, k->flat_len));
    if (ttl <= 0)
      return SAVE_EXPIRED;
  }
  return save_for(c, k, e, update_only, ttl);
}

/* ---- variants (RFC 9111 §4.1) ------------------------------------------------
 *
 * A response without Vary lives under the key itself (variant
 * HR_VARIANT_NONE).  Responses with Vary live under their variant id
 * (hr_cache_variant_id of the Vary names and the request's values), and
 * the key's index (variant HR_VARIANT_INDEX: an entry whose Vary field
 * holds the names and whose body the ids, most recently used first) says
 * which are held, at most HR_VARIANTS_MAX.  The index is read, changed and
 * written without a lock.  The Redis store keeps it as a hash whose
 * variant fields only the variants' own writes add (redis_store.c), so
 * none is lost there; elsewhere two writers at once can lose an id,
 * which leaves a variant unreachable (a miss, then evicted by the store's
 * own bound), never a wrong one served, since a variant is served only
 * when its recorded request fields match. */

static int fold(const httpresp_cache *c) {
  return !(c->store.vt->caps & HR_STORE_VARIANTS);
}

static void index_free(hr_variant_index *ix) {
  free(ix->vary);
  memset(ix, 0, sizeof(*ix));
}

/* 0 and the index of `k` in `ix`; 1 when there is none (or it is
 * damaged); HR_STORE_MISS_STANDIN; an error code. */
static int index_load(httpresp_cache *c, const hr_key *k, hr_variant_index *ix) {
  memset(ix, 0, sizeof(*ix));
  hr_key ik;
  int rc = hr_key_variant(k, HR_VARIANT_INDEX, fold(c), &ik);
  if (rc)
    return rc;
  hr_stored *s = NULL;
  rc = hr_store_get(&c->store, &ik, &s);
  hr_key_free(&ik);
  if (rc)
    return rc;
  const char *vary = hr_headers_get(&s->e.headers, "Vary");
  const char *p = s->e.body ? s->e.body : "";
  rc = vary && *vary ? 0 : 1;
  if (!rc && !(ix->vary = hr_strdup(vary)))
    rc = HTTPRESP_E_NOMEM;
  while (!rc && *p) {
    char *end;
    unsigned long long id = strtoull(p, &end, 16);
    if (end == p || (*end && *end != ' ') || ix->n == HR_VARIANTS_MAX ||
        id == HR_VARIANT_NONE || id == HR_VARIANT_INDEX)
      rc = 1;
    else
      ix->ids[ix->n++] = (hr_variant_id)id;
    p = *end ? end + 1 : end;
  }
  hr_stored_unref(s);
  if (rc)
    index_free(ix);
  return rc;
}

int hr_variant_index_entry(const hr_variant_index *ix, const char *key,
                           size_t key_len, hr_cache_entry *e) {
  hr_cache_entry_init(e);
  e->status = 200;
  hr_buf body;
  hr_buf_init(&body);
  char num[24];
  int rc = 0;
  for (size_t i = 0; i < ix->n && !rc; i++) {
    snprintf(num, sizeof(num), "%s%016llx", i ? " " : "",
             (unsigned long long)ix->ids[i]);
    rc = hr_buf_append_str(&body, num);
  }
  if (!rc && !(e->key = hr_strndup(key, key_len)))
    rc = HTTPRESP_E_NOMEM;
  if (!rc)
    rc = hr_headers_add(&e->headers, "Vary", 4, ix->vary, strlen(ix->vary));
  if (!rc) {
    e->body_len = body.len;
    e->body = hr_buf_steal(&body);
    if (!e->body)
      rc = HTTPRESP_E_NOMEM;
  }
  hr_buf_free(&body);
  if (rc)
    hr_cache_entry_free(e);
  return rc;
}

static int index_save(httpresp_cache *c, const hr_key *k,
                      const hr_variant_index *ix) {
  hr_key ik;
  int rc = hr_key_variant(k, HR_VARIANT_INDEX, fold(c), &ik);
  if (rc)
    return rc;
  hr_cache_entry e;
  rc = hr_variant_index_entry(ix, ik.flat, ik.flat_len, &e);
  /* The index lives as long as a store keeps anything (its variants carry
   * their own TTLs; an index that outlives them only leads to misses). */
  if (!rc) {
    rc = save_for(c, &ik, &e, 0,
                  (c->store.vt->caps & HR_STORE_TTL) ? HR_TTL_MAX_SEC : 0);
    hr_cache_entry_free(&e);
  }
  hr_key_free(&ik);
  return rc;
}

/* Removes variant `id` of `k`: the store's code. */
static int del_variant(httpresp_cache *c, const hr_key *k, hr_variant_id id) {
  hr_key vk;
  int rc = hr_key_variant(k, id, fold(c), &vk);
  if (!rc) {
    rc = hr_store_del(&c->store, &vk);
    hr_key_free(&vk);
  }
  return rc;
}

/* Removes the key's index and every variant it lists; the store's code
 * (the first failure). */
static int del_variants(httpresp_cache *c, const hr_key *k) {
  hr_variant_index ix;
  int rc = index_load(c, k, &ix);
  /* After a stand-in's miss, the removal of the key's own entry fails
   * as long as the store proper is away, and tombstones the key. */
  if (rc)
    return rc == 1 || rc == HR_STORE_MISS_STANDIN ? 0 : rc;
  for (size_t i = 0; i < ix.n; i++) {
    int drc = del_variant(c, k, ix.ids[i]);
    if (!rc)
      rc = drc;
  }
  int drc = del_variant(c, k, HR_VARIANT_INDEX);
  index_free(&ix);
  return rc ? rc : drc;
}

/* Everything stored for `k` is superseded (§4.4 invalidation, a newer
 * answer): its own entry and all its variants.  What cannot be removed
 * is tombstoned.  Returns the store's code. */
static int supersede_all(httpresp_cache *c, const hr_key *k) {
  int vrc = del_variants(c, k);
  int rc = hr_store_del(&c->store, k);
  if (!rc)
    rc = vrc;
  if (rc)
    tomb_add(c, k);
  else
    tomb_clear(c, k);
  return rc;
}

/* Makes `id` the most recently used variant in `ix`; the one pushed out
 * past HR_VARIANTS_MAX, if any, in `*out` (else HR_VARIANT_NONE). */
static void index_touch(hr_variant_index *ix, hr_variant_id id,
                        hr_variant_id *out) {
  *out = HR_VARIANT_NONE;
  size_t at = ix->n;
  for (size_t i = 0; i < ix->n; i++)
    if (ix->ids[i] == id)
      at = i;
  if (at == ix->n) {
    if (ix->n == HR_VARIANTS_MAX)
      *out = ix->ids[--at];
    else
      ix->n++;
  }
  memmove(&ix->ids[1], &ix->ids[0], at * sizeof(ix->ids[0]));
  ix->ids[0] = id;
}

/* The variant of the request in the key's index, read into `*out`:
 * 0, or 1 (no index, not in it, or not stored); `*no_index` says whether
 * the store answered that it holds no index for the key. */
static int lookup_variant(httpresp_cache *c, const hr_key *k,
                          const httpresp_request *req, hr_stored **out,
                          int *no_index) {
  hr_variant_index ix;
  int irc = index_load(c, k, &ix);
  *no_index = irc == 1;
  if (irc != 0)
    return 1;
  hr_variant_id id;
  int rc = 1;
  size_t at = ix.n;
  if (hr_cache_variant_id(ix.vary, &req->headers, &id) == 0)
    for (size_t i = 0; i < ix.n; i++)
      if (ix.ids[i] == id)
        at = i;
  if (at < ix.n) {
    hr_key vk;
    if (hr_key_variant(k, id, fold(c), &vk) == 0) {
      rc = hr_store_get(&c->store, &vk, out);
      hr_key_free(&vk);
    }
    if (rc == 0 && at > 0 && !(c->store.vt->caps & HR_STORE_INDEX_ORDERED)) {
      /* Used: first in the index, so eviction takes the least used. */
      hr_variant_id dropped;
      index_touch(&ix, id, &dropped);
      index_save(c, k, &ix);
    }
  }
  index_free(&ix);
  return rc == 0 ? 0 : 1;
}

/* Stores `e` (built for variant key `vk`) as variant `id` of `k`, chosen by
 * the Vary names `names`: the index gets it first; an index of other names
 * (the resource's Vary changed) is replaced with its variants; the variant
 * pushed past HR_VARIANTS_MAX is removed, as is the key's entry without
 * Vary, which this answer supersedes.  Returns save()'s code. */
static int save_variant(httpresp_cache *c, const hr_key *k, const hr_key *vk,
                        const char *names, hr_variant_id id,
                        const hr_cache_entry *e, int64_t now_ms) {
  int rc = save(c, vk, e, 0, now_ms);
  if (rc)
    return rc;
  hr_variant_index ix;
  if (index_load(c, k, &ix) == 0 && strcmp(ix.vary, names) != 0) {
    index_free(&ix);
    del_variants(c, k);
    ix.n = 0;
  }
  if (!ix.vary && !(ix.vary = hr_strdup(names))) {
    del_variant(c, k, id); /* unreachable without an index */
    return HTTPRESP_E_NOMEM;
  }
  hr_variant_id dropped;
  index_touch(&ix, id, &dropped);
  if (dropped != HR_VARIANT_NONE)
    del_variant(c, k, dropped);
  rc = index_save(c, k, &ix);
  index_free(&ix);
  if (rc) {
    del_variant(c, k, id);
    return rc;
  }
  supersede(c, k);
  return 0;
}

hr_cache_use hr_cache_lookup(httpresp_cache *c, const httpresp_request *req,
                             int64_t now_ms, hr_stored **out,
                             const char **why) {
  return hr_cache_consult(c, req, now_ms, 0, out, why, NULL);
}

hr_cache_use hr_cache_consult(httpresp_cache *c, const httpresp_request *req,
                              int64_t now_ms, int keep_stale, hr_stored **out,
                              const char **why, int *absent) {
  const char *dummy;
  int no_absent;
  if (!why)
    why = &dummy;
  if (!absent)
    absent = &no_absent;
  *out = NULL;
  *absent = 0;
  int rc = 1;
  hr_key k;
  if (req && c && hr_cache_request_key(req, &k) == 0) {
    if (!tombstoned(c, &k)) {
      rc = hr_store_get(&c->store, &k, out);
      int entry_rc = rc, no_index = 0;
      if (rc != 0)
        rc = lookup_variant(c, &k, req, out, &no_index);
      /* The store said it holds neither an entry nor an index for the
       * key (a store error or a stand-in's miss says nothing). */
      *absent = entry_rc == 1 && no_index;
    }
    hr_key_free(&k);
  }
  hr_cache_use use = hr_cache_select(rc == 0 ? &(*out)->e : NULL, req, now_ms,
                                     why);
  int keep = use == HR_CACHE_USE_FRESH || use == HR_CACHE_USE_REVALIDATE ||
             (keep_stale && use == HR_CACHE_USE_NONE && *out &&
              (strcmp(*why, "stale") == 0 || strcmp(*why, "incomplete") == 0));
  if (!keep) {
    hr_stored_unref(*out);
    *out = NULL;
  }
  return use;
}

/* Stores a response hr_cache_storable allows under `k` (or its variant):
 * 1 when stored, else 0 with `*why` and `*sys_err` saying why not. */
static int store_new(httpresp_cache *c, const hr_key *k,
                     const httpresp_request *req, int status,
                     const hr_headers *resp, const char *body, size_t body_len,
                     int64_t request_ms, int64_t response_ms, int incomplete,
                     int absent, const char **why, int *sys_err) {
  char *names = NULL;
  hr_variant_id id = HR_VARIANT_NONE;
  hr_key vk;
  int stored = 0;
  int rc = hr_cache_vary_names(resp, &names);
  if (rc == 0 && names)
    rc = hr_cache_variant_id(names, &req->headers, &id);
  /* A Vary no request could be matched against (a name that is no token,
   * a value of more members than any sane request sends). */
  int unmatchable = rc == HTTPRESP_E_INVALID_ARG;
  if (rc == 0)
    rc = hr_key_variant(k, id, fold(c), &vk);
  if (rc == 0) {
    hr_cache_entry e;
    rc = hr_cache_entry_from_response(&e, &vk, req, status, resp, body,
                                      body_len, request_ms, response_ms);
    e.incomplete = incomplete;
    if (rc == 0) {
      if (names) {
        rc = save_variant(c, k, &vk, names, id, &e, response_ms);
      } else if ((rc = save(c, k, &e, 0, response_ms)) == 0 && !absent &&
                 del_variants(c, k)) {
        /* Variants this answer supersedes could not be removed. */
        tomb_add(c, k);
      }
      hr_cache_entry_free(&e);
      stored = rc == 0;
    }
    hr_key_free(&vk);
  }
  free(names);
  if (!stored) {
    *why = unmatchable                  ? "vary-unmatchable"
           : rc == HTTPRESP_E_INVALID_ARG ? "too-large"
           : rc == SAVE_EXPIRED           ? "expired"
                                          : "store-failed";
    *sys_err = rc < 0 && !unmatchable ? -rc : 0;
  }
  return stored;
}

int hr_cache_on_response(httpresp_cache *c, const httpresp_request *req,
                         int status, const hr_headers *resp, const char *body,
                         size_t body_len, int64_t request_ms,
                         int64_t response_ms, const char **why, int *sys_err) {
  return hr_cache_on_answer(c, req, 0, status, resp, body, body_len, request_ms,
                            response_ms, why, sys_err);
}

int hr_cache_on_answer(httpresp_cache *c, const httpresp_request *req,
                       int absent, int status, const hr_headers *resp,
                       const char *body, size_t body_len, int64_t request_ms,
                       int64_t response_ms, const char **why, int *sys_err) {
  const char *dummy;
  int no_err;
  if (!why)
    why = &dummy;
  if (!sys_err)
    sys_err = &no_err;
  *why = "";
  *sys_err = 0;
  if (!c || !req || !resp)
    return 0;
  hr_key k;
  if (hr_cache_request_key(req, &k) != 0) {
    *why = "store-failed";
    return 0;
  }
  int stored = hr_cache_storable(req, status, resp, body_len, why) &&
               store_new(c, &k, req, status, resp, body, body_len, request_ms,
                         response_ms, 0, absent, why, sys_err);
  /* A newer answer came from the server: what was stored is superseded.
   * Not by a HEAD's answer (it says nothing about the stored body), a 304
   * (it confirms), nor a 5xx (the server failing is no new representation,
   * RFC 9111 §4.3.3).  Should the store fail to remove it too, it is
   * tombstoned: never served again by this process. */
  if (!stored && !absent && req->method && strcmp(req->method, "GET") == 0 &&
      status >= 200 && status < 500 && status != 304) {
    int rc = supersede_all(c, &k);
    if (rc && !*sys_err && rc < 0)
      *sys_err = -rc;
  }
  hr_key_free(&k);
  return stored;
}

int hr_cache_on_partial(httpresp_cache *c, const httpresp_request *req,
                        int status, const hr_headers *resp, const char *body,
                        size_t body_len, int64_t request_ms,
                        int64_t response_ms, const char **why) {
  const char *dummy;
  int sys_err = 0;
  if (!why)
    why = &dummy;
  *why = "";
  if (!c || !req || !resp || !req->method || strcmp(req->method, "GET") != 0 ||
      !hr_cache_request_applies(req, why) ||
      !hr_cache_partial_storable(req, status, resp, body_len, why))
    return 0;
  hr_key k;
  if (hr_cache_request_key(req, &k) != 0) {
    *why = "store-failed";
    return 0;
  }
  int stored = store_new(c, &k, req, status, resp, body, body_len, request_ms,
                         response_ms, 1, 0, why, &sys_err);
  hr_key_free(&k);
  return stored;
}

/* Writes an entry a 304 refreshed back where it was read from: its own
 * variant (the one the 304 validated, §4.3.4), found from the Vary names
 * and request fields it recorded; update-only, so an entry removed
 * meanwhile stays removed.  A failure is only a lost update. */
static void save_refreshed(httpresp_cache *c, const hr_key *k,
                           hr_cache_entry *e, int64_t now_ms) {
  char *names = NULL;
  hr_variant_id id = HR_VARIANT_NONE;
  hr_key vk;
  if (hr_cache_vary_names(&e->headers, &names) != 0 ||
      (names && hr_cache_variant_id(names, &e->vary, &id) != 0) ||
      hr_key_variant(k, id, fold(c), &vk) != 0) {
    free(names);
    return;
  }
  free(names);
  char *key = hr_strndup(vk.flat, vk.flat_len);
  if (key) {
    free(e->key);
    e->key = key;
    save(c, &vk, e, 1, now_ms);
  }
  hr_key_free(&vk);
}

int hr_cache_on_304(httpresp_cache *c, const httpresp_request *req,
                    const hr_stored *stored, hr_304_sel selected,
                    const hr_headers *h304, int64_t request_ms,
                    int64_t response_ms, hr_cache_entry *out) {
  if (!c || !req || !stored)
    return HTTPRESP_E_INVALID_ARG;
  hr_key k;
  if (hr_cache_request_key(req, &k) != 0)
    return HTTPRESP_E_NOMEM;
  int rc = 0;
  if (selected == HR_304_NONE) {
    supersede_all(c, &k);
  } else if (!out) {
    rc = HTTPRESP_E_INVALID_ARG;
  } else if (selected == HR_304_SERVE) {
    rc = hr_stored_thaw(stored, out); /* served as stored, store untouched */
  } else if ((rc = hr_stored_thaw(stored, out)) == 0 &&
             (rc = hr_cache_update_from_304(out, h304, request_ms,
                                            response_ms)) == 0) {
    /* The updated answer is stored only if it still may be; a failed
     * refresh is only a lost update. */
    if (hr_cache_refresh_storable(req, out->status, &out->headers,
                                  out->body_len, NULL))
      save_refreshed(c, &k, out, response_ms);
    else
      supersede_all(c, &k);
  }
  hr_key_free(&k);
  return rc;
}

void hr_cache_on_unsafe(httpresp_cache *c, const httpresp_request *req,
                        int status, const hr_headers *resp) {
  if (!c || !req)
    return;
  /* The anonymous entries and those of the request's own identity; other
   * identities' entries cannot be found from here (keys are not listed). */
  char part[HR_CACHE_PARTITION_MAX];
  hr_cache_partition(req, part);
  char *urls[3] = {NULL, NULL, NULL};
  size_t n = hr_cache_invalidation_keys(req->url, status, resp, urls);
  for (size_t i = 0; i < n; i++) {
    const char *parts[2] = {"", part};
    for (size_t j = 0; j < (*part ? 2u : 1u); j++) {
      hr_key k;
      if (hr_key_init(&k, "GET", urls[i], strlen(urls[i]), parts[j]) == 0) {
        supersede_all(c, &k);
        hr_key_free(&k);
      }
    }
    free(urls[i]);
  }
}
