/* In-memory LRU store bounded in bytes.
 *
 * One allocation per entry holds the node, the key and the data; a chained
 * hash table finds it and a doubly-linked list orders it by use, so get and
 * put are O(1) (amortised over table growth).  The bound counts what an
 * entry really costs (hr_store_memory_charge), so it is a bound on memory,
 * not just on payload.  Allocation, copying and freeing happen outside the
 * lock where they can. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_store.h"

typedef struct node {
  struct node *hnext;       /* bucket chain */
  struct node *prev, *next; /* use order: prev is more recent */
  uint64_t hash;
  size_t klen;
  size_t dlen;
  char mem[]; /* key, NUL, data */
} node;

/* One hash chain. */
typedef struct bucket {
  node *head;
} bucket;

typedef struct mstore {
  pthread_mutex_t lock;
  bucket *buckets;
  size_t nbuckets; /* a power of two */
  size_t count;
  size_t bytes;
  size_t max_bytes;
  node *mru, *lru;
  uint64_t seed; /* keys can be chosen by servers (redirects): keyed hash */
} mstore;

#define INITIAL_BUCKETS 64u

size_t hr_store_memory_charge(size_t klen, size_t dlen) {
  /* The node, its bucket slot at load factor 1, the key with its NUL, the
   * data.  Saturates instead of wrapping. */
  size_t fixed = sizeof(node) + sizeof(bucket) + 1;
  if (klen > SIZE_MAX - fixed || dlen > SIZE_MAX - fixed - klen)
    return SIZE_MAX;
  return fixed + klen + dlen;
}

static uint64_t hash_key(const mstore *s, const char *key, size_t len) {
  uint64_t h = UINT64_C(0xcbf29ce484222325) ^ s->seed;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= UINT64_C(0x100000001b3);
  }
  h ^= h >> 32;
  h *= UINT64_C(0xd6e8feb86659fd93);
  return h ^ (h >> 32);
}

static node **slot_of(mstore *s, uint64_t hash) {
  return &s->buckets[hash & (s->nbuckets - 1)].head;
}

static node *find(mstore *s, const char *key, size_t klen, uint64_t hash) {
  for (node *n = *slot_of(s, hash); n; n = n->hnext)
    if (n->hash == hash && n->klen == klen && memcmp(n->mem, key, klen) == 0)
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
  s->bytes -= hr_store_memory_charge(n->klen, n->dlen);
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
    free(n);
    n = next;
  }
}

static int m_get(void *store, const char *key, void **data, size_t *len) {
  mstore *s = store;
  if (!s || !key || !data || !len)
    return HTTPRESP_E_INVALID_ARG;
  *data = NULL;
  *len = 0;
  size_t klen = strlen(key);
  uint64_t h = hash_key(s, key, klen);
  pthread_mutex_lock(&s->lock);
  node *n = find(s, key, klen, h);
  if (!n) {
    pthread_mutex_unlock(&s->lock);
    return 1;
  }
  lru_unlink(s, n);
  lru_push_front(s, n);
  void *copy = malloc(n->dlen ? n->dlen : 1);
  if (copy) {
    memcpy(copy, n->mem + n->klen + 1, n->dlen);
    *len = n->dlen;
  }
  pthread_mutex_unlock(&s->lock);
  if (!copy)
    return HTTPRESP_E_NOMEM;
  *data = copy;
  return 0;
}

static int m_del(void *store, const char *key) {
  mstore *s = store;
  if (!s || !key)
    return HTTPRESP_E_INVALID_ARG;
  size_t klen = strlen(key);
  uint64_t h = hash_key(s, key, klen);
  pthread_mutex_lock(&s->lock);
  node *n = find(s, key, klen, h);
  if (n)
    detach(s, n);
  pthread_mutex_unlock(&s->lock);
  free(n);
  return 0;
}

static int m_put(void *store, const char *key, const void *data, size_t len) {
  mstore *s = store;
  if (!s || !key || (len && !data))
    return HTTPRESP_E_INVALID_ARG;
  size_t klen = strlen(key);
  size_t charge = hr_store_memory_charge(klen, len);
  if (charge > s->max_bytes) {
    m_del(s, key); /* replaced by something we will not hold */
    return HTTPRESP_E_INVALID_ARG;
  }
  node *n = malloc(sizeof(node) + klen + 1 + len);
  if (!n)
    return HTTPRESP_E_NOMEM;
  n->hnext = n->prev = n->next = NULL;
  n->hash = hash_key(s, key, klen);
  n->klen = klen;
  n->dlen = len;
  memcpy(n->mem, key, klen + 1);
  if (len)
    memcpy(n->mem + klen + 1, data, len);

  node *dead = NULL; /* freed after the lock is dropped */
  pthread_mutex_lock(&s->lock);
  node *old = find(s, key, klen, n->hash);
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

static void m_destroy(void *store) {
  mstore *s = store;
  if (!s)
    return;
  free_chain(s->mru);
  free(s->buckets);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

const httpresp_store_ops hr_store_memory_ops = {HTTPRESP_STORE_VERSION, m_get,
                                                m_put, m_del, m_destroy};

int hr_store_memory_new(void **out, size_t max_bytes) {
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
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  s->seed = ((uint64_t)(uintptr_t)s * UINT64_C(0x9e3779b97f4a7c15)) ^
            ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
  *out = s;
  return 0;
}

size_t hr_store_memory_bytes(void *store) {
  mstore *s = store;
  pthread_mutex_lock(&s->lock);
  size_t b = s->bytes;
  pthread_mutex_unlock(&s->lock);
  return b;
}

size_t hr_store_memory_count(void *store) {
  mstore *s = store;
  pthread_mutex_lock(&s->lock);
  size_t c = s->count;
  pthread_mutex_unlock(&s->lock);
  return c;
}
