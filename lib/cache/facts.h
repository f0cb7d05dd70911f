/* SPDX-License-Identifier: MIT */
/* What the cache rules need of a stored response, worked out in one place:
 * every rule reads an entry through its facts, computed once when the
 * entry is frozen (hr_stored) or on the spot for an entry being built. */
#ifndef HR_CACHE_FACTS_H
#define HR_CACHE_FACTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "entry.h"

/* RFC 9111 §1.2.2: delta-seconds past this are sent and read as it. */
#define HR_CACHE_DELTA_MAX INT64_C(2147483648)

typedef struct hr_cache_facts {
  int64_t age_value;       /* Age in seconds, -1 when absent or invalid */
  int64_t date_ms;         /* Date, or the receipt time without a valid one */
  int64_t lifetime;        /* freshness lifetime, seconds */
  int64_t initial_age_ms;  /* §4.2.3 corrected_initial_age, ms */
  unsigned rs_flags;       /* the response's Cache-Control flags */
  uint32_t age_index;      /* first Age field, or headers.n when none */
  uint32_t age_count;      /* how many Age fields */
  unsigned char validator; /* an ETag, or a valid Last-Modified */
  unsigned char varies;    /* Vary names at least one element */
  unsigned char set_cookie; /* a Set-Cookie field (the loop check counts it) */
} hr_cache_facts;

/* Computes the facts of `e`. */
void hr_cache_facts_compute(const hr_cache_entry *e, hr_cache_facts *f);
/* The facts of `e`: its frozen ones, else computed into `tmp`. */
const hr_cache_facts *hr_cache_facts_of(const hr_cache_entry *e,
                                        hr_cache_facts *tmp);

/* The Age value of a field set (RFC 9111 §5.1), in seconds: the first
 * member of the first Age field (a list, or several fields, are invalid
 * as a whole: the first member is used), saturated at 2^31; -1 when it is
 * absent or not delta-seconds (an invalid Age is ignored). */
int64_t hr_cache_age_value(const hr_headers *h);

/* Heuristically cacheable (RFC 9110 §15.1), minus 206. */
int hr_cache_status_heuristic(int status);

/* A frozen entry: one allocation holding the entry, its facts, and every
 * string, field array and the body it points to.  Immutable and reference
 * counted, so a memory store hands the same object to any number of
 * requests and threads, and a cache hit copies nothing.  Never pass its
 * `e` to anything that frees or edits an entry. */
typedef struct hr_stored {
  hr_cache_entry e;
  hr_cache_facts facts;
  size_t size; /* bytes of the allocation */
  _Atomic size_t refs;
} hr_stored;

/* Freezes a copy of `src` (refcount 1).  Returns 0, HTTPRESP_E_NOMEM, or
 * HTTPRESP_E_INVALID_ARG when it is larger than HR_CACHE_MAX_ENTRY. */
int hr_stored_freeze(const hr_cache_entry *src, hr_stored **out);
hr_stored *hr_stored_ref(hr_stored *s);
void hr_stored_unref(hr_stored *s); /* NULL is fine */
/* A mutable deep copy of the frozen entry (free with hr_cache_entry_free). */
int hr_stored_thaw(const hr_stored *s, hr_cache_entry *out);

#endif
