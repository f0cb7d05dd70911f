/* The cache object's layout and the two bundled stores: in memory, used
 * directly (it holds frozen entries, no bytes), and on disk, reached like
 * a caller's store through the public httpresp_store_ops interface. */
#ifndef HR_CACHE_STORE_H
#define HR_CACHE_STORE_H

#include <stddef.h>

#include "common.h"

typedef struct hr_mstore hr_mstore;

/* Immutable once built, so any number of threads may use it; the stores
 * do their own locking.  The bundled memory store is used directly
 * (`mem`), every other store through `ops`. */
struct httpresp_cache {
  httpresp_store_ops ops;
  void *store;
  hr_mstore *mem;
};

/* In-memory LRU store of frozen entries (hr_stored), keyed by their URL.
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
/* Stores `v` under v->e.url (taking a reference), replacing and evicting.
 * Returns 0 or HTTPRESP_E_INVALID_ARG when it can never fit. */
int hr_store_memory_put(hr_mstore *s, hr_stored *v);
void hr_store_memory_del(hr_mstore *s, const char *key, size_t klen);
/* What holding `v` is charged. */
size_t hr_store_memory_charge(const hr_stored *v);
/* Bytes charged and entries held right now. */
size_t hr_store_memory_bytes(hr_mstore *s);
size_t hr_store_memory_count(hr_mstore *s);

/* Directory store: one file per key, named by the hex of an unkeyed
 * 64-bit hash of the key (every process must derive the same name),
 * holding a checksummed header, the key and the data.  Writes go to a
 * mkstemp file in the same directory, then rename(), so readers (in any
 * process) see a whole old or a whole new file.  Damaged, truncated or
 * foreign files read as a miss and are unlinked.
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
