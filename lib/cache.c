/* The cache object over a store.
 *
 * The bundled memory store holds frozen entries and is used directly: a
 * hit takes a reference and decodes nothing.  Every other store holds
 * encoded bytes, and those are untrusted in the same way the network is: a
 * custom store may return anything, a disk store what another process or a
 * crash left.  So every load from them decodes with verification, checks
 * that the entry is the one asked for, and turns anything else into a miss
 * after removing it. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "cache_store.h"

static int cache_new(httpresp_cache **out, const httpresp_store_ops *ops,
                     void *store) {
  httpresp_cache *c = calloc(1, sizeof(*c));
  if (!c)
    return HTTPRESP_E_NOMEM;
  c->ops = *ops;
  c->store = store;
  *out = c;
  return 0;
}

int httpresp_cache_new_memory(httpresp_cache **out, size_t max_bytes) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  hr_mstore *store;
  int rc = hr_store_memory_new(&store, max_bytes);
  if (rc)
    return rc;
  static const httpresp_store_ops none = {HTTPRESP_STORE_VERSION, NULL, NULL,
                                          NULL, NULL};
  rc = cache_new(out, &none, NULL);
  if (rc)
    hr_store_memory_free(store);
  else
    (*out)->mem = store;
  return rc;
}

int httpresp_cache_new_disk(httpresp_cache **out, const char *dir,
                            size_t max_bytes) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  void *store;
  int rc = hr_store_disk_new(&store, dir, max_bytes, 0);
  if (rc)
    return rc;
  rc = cache_new(out, &hr_store_disk_ops, store);
  if (rc)
    hr_store_disk_ops.destroy(store);
  return rc;
}

int httpresp_cache_new_custom(httpresp_cache **out,
                              const httpresp_store_ops *ops, void *store) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  /* The version comes first so that a caller built against a later layout
   * is refused before any other member is read. */
  if (!ops || ops->version != HTTPRESP_STORE_VERSION || !ops->get ||
      !ops->put || !ops->del)
    return HTTPRESP_E_INVALID_ARG;
  return cache_new(out, ops, store);
}

void httpresp_cache_free(httpresp_cache *c) {
  if (!c)
    return;
  hr_store_memory_free(c->mem);
  if (c->ops.destroy)
    c->ops.destroy(c->store);
  free(c);
}

int hr_cache_load(httpresp_cache *c, const char *key, size_t klen,
                  hr_stored **out) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!c || !key)
    return HTTPRESP_E_INVALID_ARG;
  if (c->mem)
    return hr_store_memory_get(c->mem, key, klen, out);
  char *k = hr_strndup(key, klen); /* the store API takes C strings */
  if (!k)
    return HTTPRESP_E_NOMEM;
  void *data = NULL;
  size_t len = 0;
  int rc = c->ops.get(c->store, k, &data, &len);
  if (rc != 0) {
    free(data);
    free(k);
    return rc == 1 ? 1 : HTTPRESP_E_CACHE_IO;
  }
  hr_cache_entry e;
  rc = hr_cache_entry_decode(data, len, &e);
  free(data);
  if (rc != HTTPRESP_E_NOMEM && (rc || strcmp(e.url, k) != 0)) {
    hr_cache_entry_free(&e);
    c->ops.del(c->store, k);
    rc = 1;
  }
  free(k);
  if (rc)
    return rc;
  rc = hr_stored_freeze(&e, out);
  hr_cache_entry_free(&e);
  return rc == HTTPRESP_E_NOMEM ? rc : (rc ? 1 : 0);
}

int hr_cache_save(httpresp_cache *c, const hr_cache_entry *e) {
  if (!c || !e || !e->url)
    return HTTPRESP_E_INVALID_ARG;
  if (c->mem) {
    hr_stored *s;
    int rc = hr_stored_freeze(e, &s);
    if (rc == 0) {
      rc = hr_store_memory_put(c->mem, s);
      hr_stored_unref(s);
    } else if (rc == HTTPRESP_E_INVALID_ARG) {
      hr_store_memory_del(c->mem, e->url, strlen(e->url));
    }
    return rc;
  }
  hr_buf b;
  hr_buf_init(&b);
  int rc = hr_cache_entry_encode(e, &b);
  if (rc == 0) {
    rc = c->ops.put(c->store, e->url, b.data, b.len);
    if (rc == HTTPRESP_E_INVALID_ARG) {
      /* Too large for the store: the stored answer is superseded anyway
       * (the store has already removed it if it is one of ours). */
      c->ops.del(c->store, e->url);
    } else if (rc && rc != HTTPRESP_E_NOMEM) {
      rc = HTTPRESP_E_CACHE_IO;
    }
  } else if (rc == HTTPRESP_E_INVALID_ARG) {
    c->ops.del(c->store, e->url);
  }
  hr_buf_free(&b);
  return rc;
}

int hr_cache_remove(httpresp_cache *c, const char *key) {
  if (!c || !key)
    return HTTPRESP_E_INVALID_ARG;
  if (c->mem) {
    hr_store_memory_del(c->mem, key, strlen(key));
    return 0;
  }
  return c->ops.del(c->store, key) == 0 ? 0 : HTTPRESP_E_CACHE_IO;
}

hr_cache_use hr_cache_lookup(httpresp_cache *c, const httpresp_request *req,
                             int64_t now_ms, hr_stored **out,
                             const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *out = NULL;
  /* The key is the URL without its fragment: no copy needed to find it. */
  int rc = req && c ? hr_cache_load(c, req->url, strcspn(req->url, "#"), out)
                    : 1;
  hr_cache_use use = hr_cache_select(rc == 0 ? &(*out)->e : NULL, req, now_ms,
                                     why);
  if (use != HR_CACHE_USE_FRESH && use != HR_CACHE_USE_REVALIDATE) {
    hr_stored_unref(*out);
    *out = NULL;
  }
  return use;
}

int hr_cache_store_response(httpresp_cache *c, const httpresp_request *req,
                            int status, const hr_headers *resp,
                            const char *body, size_t body_len,
                            int64_t request_ms, int64_t response_ms,
                            const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  *why = "";
  if (!c || !req || !resp)
    return 0;
  if (hr_cache_storable(req, status, resp, body_len, why)) {
    hr_cache_entry e;
    int rc = hr_cache_entry_from_response(&e, req, status, resp, body, body_len,
                                          request_ms, response_ms);
    if (rc == 0) {
      rc = hr_cache_save(c, &e);
      hr_cache_entry_free(&e);
      if (rc == 0)
        return 1;
    }
    *why = rc == HTTPRESP_E_INVALID_ARG ? "too-large" : "store-failed";
  }
  /* A newer answer came from the server: what was stored is superseded.
   * Not by a HEAD's answer (it says nothing about the stored body), a 304
   * (it confirms), nor a 5xx (the server failing is no new representation,
   * RFC 9111 §4.3.3). */
  if (req->method && strcmp(req->method, "GET") == 0 && status >= 200 &&
      status < 500 && status != 304) {
    char *key = hr_cache_key(req->url);
    if (key)
      hr_cache_remove(c, key);
    free(key);
  }
  return 0;
}
