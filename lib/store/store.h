/* SPDX-License-Identifier: MIT */
/* The entry-store interface and its bundled backends, as libcurl's vtls:
 * the cache asks a vtable and its capability bits, never which backend it
 * has.
 *
 *  - memory.c: an LRU of frozen entries (HR_STORE_FROZEN: a hit shares the
 *    stored object, nothing is decoded or copied);
 *  - bytes.c: any store of bytes -- disk.c, a caller's httpresp_store_ops
 *    (version 1 or 2) -- behind the same vtable: entries are encoded on
 *    put, and decoded and verified on get (bytes from a store are as
 *    untrusted as bytes from the network);
 *  - disk.c: a directory of files, a byte store;
 *  - quiet.c (origin.h): per-origin state, the other thing a fleet shares. */
#ifndef HR_STORE_H
#define HR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/facts.h"
#include "common.h"
#include "cache/key.h"

/* Capability bits. */
#define HR_STORE_FROZEN 0x01u      /* holds frozen entries: hits share them */
/* Takes a key's variant id beside its flat key (hr_key.variant); for any
 * other store the cache folds the id into the flat key (hr_key_variant),
 * so every store keeps several variants per key. */
#define HR_STORE_VARIANTS 0x02u
#define HR_STORE_UPDATE_ONLY 0x04u /* update-only puts are atomic */
#define HR_STORE_TTL 0x08u         /* puts carry a time to live */
#define HR_STORE_LOCKS 0x10u       /* serialises its own operations */
/* Keeps the variant index in an order of its own (Redis: latest expiry
 * first): a put of the index writes its Vary names only, and the cache
 * does not rewrite it to record a use. */
#define HR_STORE_INDEX_ORDERED 0x20u

/* How a put writes. */
typedef struct hr_put_how {
  int update_only; /* write only over an entry still stored for the key */
  int64_t ttl_sec; /* how long the entry is worth keeping, 0: no limit */
} hr_put_how;

/* get's miss from a stand-in (the Redis store's local memory while Redis
 * is set aside): nothing to serve, and nothing known of what the store
 * proper holds, so a superseded entry must still be removed there. */
#define HR_STORE_MISS_STANDIN 2

typedef struct hr_store_vt {
  const char *name;
  unsigned caps;
  /* 0 and a reference in *out on a hit; 1 on a miss (a damaged entry, or
   * one stored under another key, is removed and read as a miss);
   * HR_STORE_MISS_STANDIN; HTTPRESP_E_NOMEM or HTTPRESP_E_CACHE_IO. */
  int (*get)(void *impl, const hr_key *k, hr_stored **out);
  /* Stores `e` (whose key field is k->flat), replacing what was there.
   * 0 stored; 1 not stored because `how->update_only` and nothing was
   * stored; HTTPRESP_E_INVALID_ARG too large (any older entry for the key
   * is removed); HTTPRESP_E_NOMEM or HTTPRESP_E_CACHE_IO; or -errno, a
   * failure of the system (HTTPRESP_E_CACHE_IO, with its cause). */
  int (*put)(void *impl, const hr_key *k, const hr_cache_entry *e,
             const hr_put_how *how);
  /* Removes the entry for the key: 0, also when there was none, or
   * HTTPRESP_E_NOMEM / HTTPRESP_E_CACHE_IO / -errno. */
  int (*del)(void *impl, const hr_key *k);
  void (*destroy)(void *impl);
} hr_store_vt;

typedef struct hr_store {
  const hr_store_vt *vt;
  void *impl;
} hr_store;

/* The operations the cache uses.  hr_store_put gives every backend the
 * update-only semantics: those without HR_STORE_UPDATE_ONLY get a read
 * first (which another writer can race: such a store can resurrect an
 * entry removed in between, never serve a wrong one). */
int hr_store_get(const hr_store *s, const hr_key *k, hr_stored **out);
int hr_store_put(const hr_store *s, const hr_key *k, const hr_cache_entry *e,
                 const hr_put_how *how);
int hr_store_del(const hr_store *s, const hr_key *k);
void hr_store_destroy(hr_store *s);

/* ---- backends ------------------------------------------------------------ */

typedef struct hr_mstore hr_mstore;

/* In-memory LRU store of frozen entries (hr_stored), keyed by their key.
 * Every entry is charged its allocation and its bookkeeping
 * (hr_store_memory_charge); the sum never exceeds `max_bytes`, the least
 * recently used entries going first.  An entry whose charge exceeds
 * `max_bytes` is refused (and any older entry for its key removed).
 * get/put/del are O(1): a hash table plus a doubly-linked list.  A get
 * hands out a reference, so nothing is copied and an entry evicted
 * meanwhile stays valid for whoever holds it. */
int hr_store_memory_new(hr_mstore **out, size_t max_bytes);
void hr_store_memory_free(hr_mstore *s);
/* 0 and a reference in *out, or 1 when nothing is stored for the key. */
int hr_store_memory_get(hr_mstore *s, const char *key, size_t klen,
                        hr_stored **out);
/* Stores `v` under v->e.key (taking a reference), replacing and evicting;
 * with `update_only`, only over an entry still stored for the key.
 * Returns 0, 1 (update-only and nothing stored) or HTTPRESP_E_INVALID_ARG
 * when it can never fit. */
int hr_store_memory_put(hr_mstore *s, hr_stored *v, int update_only);
void hr_store_memory_del(hr_mstore *s, const char *key, size_t klen);
/* What holding `v` is charged. */
size_t hr_store_memory_charge(const hr_stored *v);
/* Bytes charged and entries held right now. */
size_t hr_store_memory_bytes(hr_mstore *s);
size_t hr_store_memory_count(hr_mstore *s);
/* The memory store behind the vtable (takes `m`). */
void hr_store_memory_bind(hr_store *out, hr_mstore *m);

/* A store of bytes behind the vtable: `ops` (validated by the caller)
 * over `store`; `ops->destroy` is called on destroy.  With `errno_rc` its
 * put and del return -errno for a failure of the system (the disk store
 * does; a caller's store may return anything).  Returns 0 or
 * HTTPRESP_E_NOMEM (then nothing is destroyed). */
int hr_store_bytes_bind(hr_store *out, const httpresp_store_ops *ops,
                        void *store, int errno_rc);
int hr_store_bytes_bind_v2(hr_store *out, const httpresp_store_ops_v2 *ops,
                           void *store);
/* Whether `ops` is a store description of its version, functions set (and
 * for version 2, no unknown flags). */
int hr_store_ops_valid(const httpresp_store_ops *ops);
int hr_store_ops_v2_valid(const httpresp_store_ops_v2 *ops);

/* Directory store (its put and del return -errno when the system fails):
 * one file per key, named by the hex of an unkeyed 64-bit hash of the key
 * (every process must derive the same name), holding a checksummed
 * header, the key and the data.  Writes go to a mkstemp file in the same
 * directory, then rename(), so readers (in any process) see a whole old or
 * a whole new file.  Damaged, truncated or foreign files read as a miss
 * and are unlinked.
 *
 * The bound holds for the directory across processes: entry files plus
 * temp files never exceed `max_bytes`.  The total is shared in the
 * directory (".hrstate") and changed under its flock() together with the
 * files; a put reserves its file's size before writing and, when it would
 * not fit, evicts the oldest files by mtime (reads refresh mtime, so this
 * approximates LRU), or refuses with HTTPRESP_E_INVALID_ARG when live
 * writers' temp files hold the rest.  Reads take no lock.  A writer killed
 * at any point leaves the total too high, never too low; a scan recounts. */
#define HR_STORE_DISK_FSYNC 1u /* fsync each file before the rename */
extern const httpresp_store_ops hr_store_disk_ops;
/* Creates `dir` (and its parents, mode 0700) if missing, then scans it. */
int hr_store_disk_new(void **out, const char *dir, size_t max_bytes,
                      unsigned flags);
/* The bytes in the directory's entry files, as the shared total says
 * (temp files are counted apart). */
size_t hr_store_disk_bytes(void *store);
/* Rescans the directory under its lock: recounts the total, removes temp
 * files older than `temp_age_sec` and those older than a few seconds whose
 * writer is dead (no flock on them), evicts down to the bound.  Runs on
 * open (temp_age_sec 60) and whenever a put would not fit. */
int hr_store_disk_scan(void *store, int64_t temp_age_sec);

#endif
