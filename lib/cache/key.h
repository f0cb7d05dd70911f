/* SPDX-License-Identifier: MIT */
/* What stores are keyed by: a key (method, normalised URL, partition)
 * flattened to one string, and a variant id.  Keys are built above the
 * store layer (the cache normalises the URL and picks the partition);
 * stores only compare and hash the flat string, never parse it. */
#ifndef HR_CACHE_KEY_H
#define HR_CACHE_KEY_H

#include <stddef.h>
#include <stdint.h>

/* Which of a key's variants (RFC 9111 §4.1: one per set of the request
 * fields a response's Vary names).  HR_VARIANT_NONE is the single entry a
 * store keeps per key while the cache selects no variants itself. */
typedef uint64_t hr_variant_id;
#define HR_VARIANT_NONE ((hr_variant_id)0)
/* Where the index of a key's variants lives (hr_variant_index). */
#define HR_VARIANT_INDEX UINT64_MAX

typedef struct hr_key {
  const char *method;    /* whose responses the entry answers ("GET") */
  const char *url;       /* normalised (no fragment), not NUL-terminated */
  size_t url_len;
  const char *flat;      /* the string stores index by, not NUL-terminated */
  size_t flat_len;
  hr_variant_id variant;
  char *own; /* `flat` when it had to be built */
} hr_key;

/* Builds the key of `method`, the first `url_len` bytes of `url` and
 * `partition` (NULL or "" for none: hr_cache_partition); `method` and `url`
 * are borrowed and must outlive `k`, `partition` is copied.  The flat form of a GET without a partition is the URL
 * itself (no allocation, and the name stores have always used); anything
 * else is "METHOD <partition length>:<partition> URL", which no URL can
 * spell.  Returns 0 or HTTPRESP_E_NOMEM. */
int hr_key_init(hr_key *k, const char *method, const char *url, size_t url_len,
                const char *partition);
void hr_key_free(hr_key *k);
/* The key of variant `id` of `base` in `out` (free with hr_key_free;
 * `base` must outlive it).  A store that keeps variants itself
 * (HR_STORE_VARIANTS) gets the flat key of `base` and the id; for any
 * other (`fold`), the id is folded into the flat key: "<flat>#v<16 hex>",
 * or "<flat>#i" for the index, which no base key can spell (a key's URL
 * is cut at its fragment's "#").  Returns 0 or HTTPRESP_E_NOMEM. */
int hr_key_variant(const hr_key *base, hr_variant_id id, int fold,
                   hr_key *out);

/* The index the cache keeps per key whose responses carry Vary (as the
 * variant HR_VARIANT_INDEX of the key): the Vary field names its
 * responses were chosen by, and which variants it holds, most recently
 * used first, so that a lookup reads the index, computes the request's
 * variant id from those fields, and reads that variant. */
#define HR_VARIANTS_MAX 8
typedef struct hr_variant_index {
  char *vary; /* lower-case field names, comma-separated, sorted */
  size_t n;
  hr_variant_id ids[HR_VARIANTS_MAX];
} hr_variant_index;

/* The entry the cache stores a key's index as (variant HR_VARIANT_INDEX,
 * under `key`): its Vary field holds the names, its body the ids in
 * order, as 16 hex digits separated by spaces.  A store that keeps the
 * index in its own form (Redis: a hash) rebuilds it with this.  Returns 0
 * (free `*e` with hr_cache_entry_free) or HTTPRESP_E_NOMEM. */
struct hr_cache_entry;
int hr_variant_index_entry(const hr_variant_index *ix, const char *key,
                           size_t key_len, struct hr_cache_entry *e);

#endif
