/* The cache object over a store, and the only writer of it.
 *
 * It asks the store's vtable (lib/store/store.h), never which backend is
 * behind it: a memory store hands out frozen entries, a byte store (disk,
 * a caller's) decodes and verifies what it read before handing out the
 * same, so every event below reads the same way whatever the store. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "store/store.h"

/* Immutable once built, so any number of threads may use it; the stores
 * do their own locking. */
struct httpresp_cache {
  hr_store store;
};

static int cache_new(httpresp_cache **out, const hr_store *st) {
  httpresp_cache *c = calloc(1, sizeof(*c));
  if (!c)
    return HTTPRESP_E_NOMEM;
  c->store = *st;
  *out = c;
  return 0;
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
  rc = hr_store_bytes_bind(&st, &hr_store_disk_ops, disk);
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
  int rc = hr_store_bytes_bind(&st, ops, store);
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

/* Stores `e` under `k`; a store that refuses it as too large has removed
 * the superseded entry itself. */
static int save(httpresp_cache *c, const hr_key *k, const hr_cache_entry *e,
                int update_only) {
  hr_put_how how = {update_only, 0};
  return hr_store_put(&c->store, k, e, &how);
}

hr_cache_use hr_cache_lookup(httpresp_cache *c, const httpresp_request *req,
                             int64_t now_ms, hr_stored **out,
                             const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *out = NULL;
  int rc = 1;
  hr_key k;
  if (req && c && hr_cache_request_key(req, &k) == 0) {
    rc = hr_store_get(&c->store, &k, out);
    hr_key_free(&k);
  }
  hr_cache_use use = hr_cache_select(rc == 0 ? &(*out)->e : NULL, req, now_ms,
                                     why);
  if (use != HR_CACHE_USE_FRESH && use != HR_CACHE_USE_REVALIDATE) {
    hr_stored_unref(*out);
    *out = NULL;
  }
  return use;
}

int hr_cache_on_response(httpresp_cache *c, const httpresp_request *req,
                         int status, const hr_headers *resp, const char *body,
                         size_t body_len, int64_t request_ms,
                         int64_t response_ms, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "";
  if (!c || !req || !resp)
    return 0;
  hr_key k;
  if (hr_cache_request_key(req, &k) != 0) {
    *why = "store-failed";
    return 0;
  }
  int stored = 0;
  if (hr_cache_storable(req, status, resp, body_len, why)) {
    hr_cache_entry e;
    int rc = hr_cache_entry_from_response(&e, &k, req, status, resp, body,
                                          body_len, request_ms, response_ms);
    if (rc == 0) {
      rc = save(c, &k, &e, 0);
      hr_cache_entry_free(&e);
      stored = rc == 0;
    }
    if (!stored)
      *why = rc == HTTPRESP_E_INVALID_ARG ? "too-large" : "store-failed";
  }
  /* A newer answer came from the server: what was stored is superseded.
   * Not by a HEAD's answer (it says nothing about the stored body), a 304
   * (it confirms), nor a 5xx (the server failing is no new representation,
   * RFC 9111 §4.3.3). */
  if (!stored && req->method && strcmp(req->method, "GET") == 0 &&
      status >= 200 && status < 500 && status != 304)
    hr_store_del(&c->store, &k);
  hr_key_free(&k);
  return stored;
}

int hr_cache_on_304(httpresp_cache *c, const httpresp_request *req,
                    const hr_stored *stored, int selected,
                    const hr_headers *h304, int64_t request_ms,
                    int64_t response_ms, hr_cache_entry *out) {
  if (!c || !req || !stored)
    return HTTPRESP_E_INVALID_ARG;
  hr_key k;
  if (hr_cache_request_key(req, &k) != 0)
    return HTTPRESP_E_NOMEM;
  int rc = 0;
  if (!selected) {
    hr_store_del(&c->store, &k);
  } else if (!out) {
    rc = HTTPRESP_E_INVALID_ARG;
  } else if ((rc = hr_stored_thaw(stored, out)) == 0 &&
             (rc = hr_cache_update_from_304(out, h304, request_ms,
                                            response_ms)) == 0) {
    /* The updated answer is stored only if it still may be; a failed
     * refresh is only a lost update. */
    if (hr_cache_refresh_storable(req, out->status, &out->headers,
                                  out->body_len, NULL))
      save(c, &k, out, 1);
    else
      hr_store_del(&c->store, &k);
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
        hr_store_del(&c->store, &k);
        hr_key_free(&k);
      }
    }
    free(urls[i]);
  }
}
