/* SPDX-License-Identifier: MIT */
/* In-memory LRU store of frozen entries, bounded in bytes.
 *
 * A node per entry points at the frozen entry (which holds its key); a chained hash table finds it and a doubly-linked list orders it
 * by use, so get, put and del are O(1) (amortised over table growth).  The
 * bound counts what an entry really costs (hr_store_memory_charge), so it
 * is a bound on memory, not just on payload.  A get takes a reference
 * under the lock and copies nothing; frees happen outside the lock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store.h"

typedef struct node {
  struct node *hnext;       /* bucket chain */
  struct node *prev, *next; /* use order: prev is more recent */
  uint64_t hash;
  size_t klen;
  hr_stored *val; /* key: val->e.key */
} node;

/* One hash chain. */
typedef struct bucket {
  node *head;
} bucket;

struct hr_mstore {
  pthread_mutex_t lock;
  bucket *buckets;
  size_t nbuckets; /* a power of two */
  size_t count;
  size_t bytes;
  size_t max_bytes;
  node *mru, *lru;
  uint64_t k0, k1; /* keys can be chosen by servers (redirects): SipHash */
};

typedef struct hr_mstore mstore;

#define INITIAL_BUCKETS 64u

size_t hr_store_memory_charge(const hr_stored *v) {
  /* The node, its bucket slot at load factor 1, the frozen entry. */
  size_t fixed = sizeof(node) + sizeof(bucket);
  return v->size > SIZE_MAX - fixed ? SIZE_MAX : fixed + v->size;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

/* SipHash-1-3 of the key under the store's random 128-bit key: eight
 * bytes a round where FNV-1a took one multiply a byte.  Words are read
 * little-endian (hr_get_le64, one load on x86) and the tail byte by byte,
 * so the value is the same on any byte order. */
static uint64_t hash_key(const mstore *s, const char *key, size_t len) {
  const unsigned char *p = (const unsigned char *)key;
  uint64_t v0 = s->k0 ^ UINT64_C(0x736f6d6570736575);
  uint64_t v1 = s->k1 ^ UINT64_C(0x646f72616e646f6d);
  uint64_t v2 = s->k0 ^ UINT64_C(0x6c7967656e657261);
  uint64_t v3 = s->k1 ^ UINT64_C(0x7465646279746573);
  const unsigned char *end = p + (len & ~(size_t)7);
  for (; p != end; p += 8) {
    uint64_t m = hr_get_le64(p);
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  switch (len & 7) {
  case 7:
    b |= (uint64_t)p[6] << 48; /* fall through */
  case 6:
    b |= (uint64_t)p[5] << 40; /* fall through */
  case 5:
    b |= (uint64_t)p[4] << 32; /* fall through */
  case 4:
    b |= (uint64_t)p[3] << 24; /* fall through */
  case 3:
    b |= (uint64_t)p[2] << 16; /* fall through */
  case 2:
    b |= (uint64_t)p[1] << 8; /* fall through */
  case 1:
    b |= (uint64_t)p[0];
    break;
  default:
    break;
  }
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

static node **slot_of(mstore *s, uint64_t hash) {
  return &s->buckets[hash & (s->nbuckets - 1)].head;
}

static node *find(mstore *s, const char *key, size_t klen, uint64_t hash) {
  for (node *n = *slot_of(s, hash); n; n = n->hnext)
    if (n->hash == hash && n->klen == klen &&
        memcmp(n->val->e.key, key, klen) == 0)
      return n;
  return NULL;
}

static void lru_unlink(mstore *s, node *n) {
  if (n->prev)
    n->prev->next = n->next;
  else
    s->mru = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    s->lru = n->prev;
  n->prev = n->next = NULL;
}

static void lru_push_front(mstore *s, node *n) {
  n->prev = NULL;
  n->next = s->mru;
  if (s->mru)
    s->mru->prev = n;
  s->mru = n;
  if (!s->lru)
    s->lru = n;
}

/* Takes `n` out of the table and the list; the caller frees it. */
static void detach(mstore *s, node *n) {
  node **pp = slot_of(s, n->hash);
  while (*pp != n)
    pp = &(*pp)->hnext;
  *pp = n->hnext;
  n->hnext = NULL;
  lru_unlink(s, n);
  s->count--;
  s->bytes -= hr_store_memory_charge(n->val);
}

/* Doubles the table when it is fuller than one entry per bucket; if memory
 * runs out the chains just get longer. */
static void maybe_grow(mstore *s) {
  if (s->count <= s->nbuckets || s->nbuckets > SIZE_MAX / 2 / sizeof(bucket))
    return;
  size_t nb = s->nbuckets * 2;
  bucket *b = calloc(nb, sizeof(*b));
  if (!b)
    return;
  for (size_t i = 0; i < s->nbuckets; i++) {
    node *n = s->buckets[i].head;
    while (n) {
      node *next = n->hnext;
      node **slot = &b[n->hash & (nb - 1)].head;
      n->hnext = *slot;
      *slot = n;
      n = next;
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->nbuckets = nb;
}

static void free_chain(node *n) {
  while (n) {
    node *next = n->next;
    hr_stored_unref(n->val);
    free(n);
    n = next;
  }
}

int hr_store_memory_get(mstore *s, const char *key, size_t klen,
                        hr_stored **out) {
  *out = NULL;
  uint64_t h = hash_key(s, key, klen);
  pthread_mutex_lock(&s->lock);
  node *n = find(s, key, klen, h);
  if (n) {
    lru_unlink(s, n);
    lru_push_front(s, n);
    *out = hr_stored_ref(n->val);
  }
  pthread_mutex_unlock(&s->lock);
  return n ? 0 : 1;
}

void hr_store_memory_del(mstore *s, const char *key, size_t klen) {
  uint64_t h = hash_key(s, key, klen);
  pthread_mutex_lock(&s->lock);
  node *n = find(s, key, klen, h);
  if (n)
    detach(s, n);
  pthread_mutex_unlock(&s->lock);
  free_chain(n); /* detach left it alone: one node */
}

int hr_store_memory_put(mstore *s, hr_stored *v, int update_only) {
  size_t klen = strlen(v->e.key);
  size_t charge = hr_store_memory_charge(v);
  if (charge > s->max_bytes) {
    hr_store_memory_del(s, v->e.key, klen); /* replaced by what we refuse */
    return HTTPRESP_E_INVALID_ARG;
  }
  node *n = malloc(sizeof(node));
  if (!n)
    return HTTPRESP_E_NOMEM;
  n->hnext = n->prev = n->next = NULL;
  n->hash = hash_key(s, v->e.key, klen);
  n->klen = klen;
  n->val = hr_stored_ref(v);

  node *dead = NULL; /* freed after the lock is dropped */
  pthread_mutex_lock(&s->lock);
  node *old = find(s, v->e.key, klen, n->hash);
  if (!old && update_only) {
    /* Evicted or removed meanwhile: an update must not bring it back. */
    pthread_mutex_unlock(&s->lock);
    hr_stored_unref(n->val);
    free(n);
    return 1;
  }
  if (old) {
    detach(s, old);
    old->next = dead;
    dead = old;
  }
  while (s->lru && s->bytes > s->max_bytes - charge) {
    node *victim = s->lru;
    detach(s, victim);
    victim->next = dead;
    dead = victim;
  }
  node **slot = slot_of(s, n->hash);
  n->hnext = *slot;
  *slot = n;
  lru_push_front(s, n);
  s->count++;
  s->bytes += charge;
  maybe_grow(s);
  pthread_mutex_unlock(&s->lock);
  free_chain(dead);
  return 0;
}

void hr_store_memory_free(mstore *s) {
  if (!s)
    return;
  free_chain(s->mru);
  free(s->buckets);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* The SipHash key, once per store: from getrandom, or (if the kernel has
 * none to give) the clock and the store's address, which still differ
 * from store to store and from run to run. */
static void seed_hash(mstore *s) {
  unsigned char k[16];
  if (getrandom(k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k)) {
    s->k0 = hr_get_le64(k);
    s->k1 = hr_get_le64(k + 8);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  s->k0 = ((uint64_t)(uintptr_t)s * UINT64_C(0x9e3779b97f4a7c15)) ^
          ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
  s->k1 = s->k0 * UINT64_C(0xd6e8feb86659fd93) + (uint64_t)ts.tv_nsec;
}

int hr_store_memory_new(mstore **out, size_t max_bytes) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (max_bytes == 0)
    return HTTPRESP_E_INVALID_ARG;
  mstore *s = calloc(1, sizeof(*s));
  if (!s)
    return HTTPRESP_E_NOMEM;
  s->buckets = calloc(INITIAL_BUCKETS, sizeof(*s->buckets));
  if (!s->buckets || pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s->buckets);
    free(s);
    return HTTPRESP_E_NOMEM;
  }
  s->nbuckets = INITIAL_BUCKETS;
  s->max_bytes = max_bytes;
  seed_hash(s);
  *out = s;
  return 0;
}

size_t hr_store_memory_bytes(mstore *s) {
  pthread_mutex_lock(&s->lock);
  size_t b = s->bytes;
  pthread_mutex_unlock(&s->lock);
  return b;
}

size_t hr_store_memory_count(mstore *s) {
  pthread_mutex_lock(&s->lock);
  size_t c = s->count;
  pthread_mutex_unlock(&s->lock);
  return c;
}

/* ---- behind the vtable ---------------------------------------------------- */

static int m_get(void *impl, const hr_key *k, hr_stored **out) {
  return hr_store_memory_get(impl, k->flat, k->flat_len, out);
}

static int m_put(void *impl, const hr_key *k, const hr_cache_entry *e,
                 const hr_put_how *how) {
  (void)k; /* e->key is its flat form */
  hr_stored *v;
  int rc = hr_stored_freeze(e, &v);
  if (rc == 0) {
    rc = hr_store_memory_put(impl, v, how->update_only);
    hr_stored_unref(v);
  } else if (rc == HTTPRESP_E_INVALID_ARG) {
    hr_store_memory_del(impl, e->key, strlen(e->key));
  }
  return rc;
}

static int m_del(void *impl, const hr_key *k) {
  hr_store_memory_del(impl, k->flat, k->flat_len);
  return 0;
}

static void m_destroy(void *impl) { hr_store_memory_free(impl); }

/* Entries carry their own freshness, so no TTL: the LRU bound decides. */
static const hr_store_vt memory_vt = {
    "memory", HR_STORE_FROZEN | HR_STORE_UPDATE_ONLY | HR_STORE_LOCKS, m_get,
    m_put, m_del, m_destroy};

void hr_store_memory_bind(hr_store *out, hr_mstore *m) {
  out->vt = &memory_vt;
  out->impl = m;
}
