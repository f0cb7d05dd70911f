/* The cache object's layout and the two bundled stores (in memory, on
 * disk), each reached through the public httpresp_store_ops interface so
 * that the cache treats them exactly like a caller's store. */
#ifndef HR_CACHE_STORE_H
#define HR_CACHE_STORE_H

#include <stddef.h>

#include "common.h"

/* Immutable once built, so any number of threads may use it; the stores
 * do their own locking. */
struct httpresp_cache {
  httpresp_store_ops ops;
  void *store;
};

/* In-memory LRU store.  Every entry is charged its key, its data and its
 * bookkeeping (hr_store_memory_charge); the sum never exceeds `max_bytes`,
 * the least recently used entries going first.  An entry whose charge
 * exceeds `max_bytes` is refused (and any older entry for its key
 * removed).  get/put are O(1): a hash table plus a doubly-linked list. */
extern const httpresp_store_ops hr_store_memory_ops;
int hr_store_memory_new(void **out, size_t max_bytes);
/* What an entry of `klen` key bytes and `dlen` data bytes is charged. */
size_t hr_store_memory_charge(size_t klen, size_t dlen);
/* Bytes charged and entries held right now. */
size_t hr_store_memory_bytes(void *store);
size_t hr_store_memory_count(void *store);

/* Directory store: one file per key, named by the hex of a keyed 64-bit
 * hash of the key, holding a checksummed header, the key and the data.
 * Writes go to a mkstemp file in the same directory, then rename(), so
 * readers (in any process) see a whole old or a whole new file.  Damaged,
 * truncated or foreign files read as a miss and are unlinked.  The total
 * is kept approximately; over `max_bytes` the oldest files by mtime are
 * removed (reads refresh mtime, so this approximates LRU). */
#define HR_STORE_DISK_FSYNC 1u /* fsync each file before the rename */
extern const httpresp_store_ops hr_store_disk_ops;
/* Creates `dir` (and its parents, mode 0700) if missing, then scans it. */
int hr_store_disk_new(void **out, const char *dir, size_t max_bytes,
                      unsigned flags);
/* The store's current estimate of the bytes its files use. */
size_t hr_store_disk_bytes(void *store);
/* Rescans the directory: recounts the total, removes temp files of
 * killed writers older than `temp_age_sec`, evicts down to the bound.
 * Runs on open (temp_age_sec 60) and whenever the estimate passes the
 * bound. */
int hr_store_disk_scan(void *store, int64_t temp_age_sec);

#endif
