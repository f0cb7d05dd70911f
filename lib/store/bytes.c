/* SPDX-License-Identifier: MIT */
/* Any store of bytes behind the entry-store vtable: the disk store and a
 * caller's httpresp_store_ops (version 1, or 2 with variants, TTLs and
 * update-only writes).
 *
 * Bytes from such a store are untrusted in the same way the network is: a
 * caller's store may return anything, a disk store what another process or
 * a crash left.  So every get decodes with verification, checks that the
 * entry is the one asked for, and turns anything else into a miss after
 * removing it. */
#include <stdlib.h>
#include <string.h>

#include "cache/codec.h"
#include "store.h"

typedef struct bstore {
  int version;
  int errno_rc; /* put and del return -errno for a failure of the system */
  httpresp_store_ops v1;
  httpresp_store_ops_v2 v2;
  void *store;
} bstore;

int hr_store_ops_valid(const httpresp_store_ops *ops) {
  /* The version comes first so that a caller built against a later layout
   * is refused before any other member is read. */
  return ops && ops->version == HTTPRESP_STORE_VERSION && ops->get &&
         ops->put && ops->del;
}

int hr_store_ops_v2_valid(const httpresp_store_ops_v2 *ops) {
  return ops && ops->version == HTTPRESP_STORE_VERSION_2 && ops->get &&
         ops->put && ops->del &&
         !(ops->flags &
           ~(unsigned)(HTTPRESP_STORE_UPDATE_ONLY | HTTPRESP_STORE_TTL));
}

static int raw_get(const bstore *b, const char *key, hr_variant_id v,
                   void **data, size_t *len) {
  if (b->version == HTTPRESP_STORE_VERSION_2)
    return b->v2.get(b->store, key, v, data, len);
  return b->v1.get(b->store, key, data, len);
}

static int raw_del(const bstore *b, const char *key, hr_variant_id v) {
  if (b->version == HTTPRESP_STORE_VERSION_2)
    return b->v2.del(b->store, key, v);
  return b->v1.del(b->store, key);
}

static int b_get(void *impl, const hr_key *k, hr_stored **out) {
  bstore *b = impl;
  char *key = hr_strndup(k->flat, k->flat_len); /* the API takes C strings */
  if (!key)
    return HTTPRESP_E_NOMEM;
  void *data = NULL;
  size_t len = 0;
  int rc = raw_get(b, key, k->variant, &data, &len);
  if (rc != 0) {
    free(data);
    free(key);
    return rc == 1 ? 1 : HTTPRESP_E_CACHE_IO;
  }
  hr_cache_entry e;
  rc = hr_cache_entry_decode(data, len, &e);
  free(data);
  if (rc != HTTPRESP_E_NOMEM && (rc || strcmp(e.key, key) != 0)) {
    hr_cache_entry_free(&e);
    raw_del(b, key, k->variant);
    rc = 1;
  }
  free(key);
  if (rc)
    return rc;
  rc = hr_stored_freeze(&e, out);
  hr_cache_entry_free(&e);
  return rc == HTTPRESP_E_NOMEM ? rc : (rc ? 1 : 0);
}

static int b_put(void *impl, const hr_key *k, const hr_cache_entry *e,
                 const hr_put_how *how) {
  bstore *b = impl;
  char *key = hr_strndup(k->flat, k->flat_len);
  if (!key)
    return HTTPRESP_E_NOMEM;
  hr_buf buf;
  hr_buf_init(&buf);
  int rc = hr_cache_entry_encode(e, &buf);
  if (rc == 0) {
    if (b->version == HTTPRESP_STORE_VERSION_2) {
      unsigned flags = how->update_only ? HTTPRESP_STORE_UPDATE_ONLY : 0;
      rc = b->v2.put(b->store, key, k->variant, buf.data, buf.len,
                     how->ttl_sec, flags);
    } else {
      rc = b->v1.put(b->store, key, buf.data, buf.len);
    }
    if (rc == HTTPRESP_E_INVALID_ARG) {
      /* Too large for the store: the stored answer is superseded anyway
       * (the store has already removed it if it is one of ours). */
      int drc = raw_del(b, key, k->variant);
      if (drc)
        rc = drc < 0 && b->errno_rc ? drc : HTTPRESP_E_CACHE_IO;
    } else if (rc && rc != 1 && rc != HTTPRESP_E_NOMEM &&
               !(rc < 0 && b->errno_rc)) {
      rc = HTTPRESP_E_CACHE_IO;
    }
  } else if (rc == HTTPRESP_E_INVALID_ARG) {
    raw_del(b, key, k->variant);
  }
  hr_buf_free(&buf);
  free(key);
  return rc;
}

static int b_del(void *impl, const hr_key *k) {
  bstore *b = impl;
  char *key = hr_strndup(k->flat, k->flat_len);
  if (!key)
    return HTTPRESP_E_NOMEM;
  int rc = raw_del(b, key, k->variant);
  if (rc && !(rc < 0 && b->errno_rc))
    rc = HTTPRESP_E_CACHE_IO;
  free(key);
  return rc;
}

static void b_destroy(void *impl) {
  bstore *b = impl;
  void (*destroy)(void *) = b->version == HTTPRESP_STORE_VERSION_2
                                ? b->v2.destroy
                                : b->v1.destroy;
  if (destroy)
    destroy(b->store);
  free(b);
}

static const hr_store_vt bytes_v1 = {"bytes", HR_STORE_LOCKS, b_get, b_put,
                                     b_del, b_destroy};
/* A version 2 store takes the variant id with the key. */
static const hr_store_vt bytes_v2 = {"bytes-v2",
                                     HR_STORE_LOCKS | HR_STORE_VARIANTS, b_get,
                                     b_put, b_del, b_destroy};
static const hr_store_vt bytes_v2_update = {
    "bytes-v2", HR_STORE_LOCKS | HR_STORE_VARIANTS | HR_STORE_UPDATE_ONLY,
    b_get, b_put, b_del, b_destroy};
static const hr_store_vt bytes_v2_ttl = {
    "bytes-v2", HR_STORE_LOCKS | HR_STORE_VARIANTS | HR_STORE_TTL, b_get,
    b_put, b_del, b_destroy};
static const hr_store_vt bytes_v2_both = {
    "bytes-v2",
    HR_STORE_LOCKS | HR_STORE_VARIANTS | HR_STORE_UPDATE_ONLY | HR_STORE_TTL,
    b_get, b_put, b_del, b_destroy};

static int bind_to(hr_store *out, const hr_store_vt *vt, bstore *b) {
  out->vt = vt;
  out->impl = b;
  return 0;
}

int hr_store_bytes_bind(hr_store *out, const httpresp_store_ops *ops,
                        void *store, int errno_rc) {
  bstore *b = calloc(1, sizeof(*b));
  if (!b)
    return HTTPRESP_E_NOMEM;
  b->version = HTTPRESP_STORE_VERSION;
  b->errno_rc = errno_rc;
  b->v1 = *ops;
  b->store = store;
  return bind_to(out, &bytes_v1, b);
}

int hr_store_bytes_bind_v2(hr_store *out, const httpresp_store_ops_v2 *ops,
                           void *store) {
  bstore *b = calloc(1, sizeof(*b));
  if (!b)
    return HTTPRESP_E_NOMEM;
  b->version = HTTPRESP_STORE_VERSION_2;
  b->v2 = *ops;
  b->store = store;
  unsigned f = ops->flags;
  const hr_store_vt *vt =
      (f & HTTPRESP_STORE_UPDATE_ONLY)
          ? ((f & HTTPRESP_STORE_TTL) ? &bytes_v2_both : &bytes_v2_update)
          : ((f & HTTPRESP_STORE_TTL) ? &bytes_v2_ttl : &bytes_v2);
  return bind_to(out, vt, b);
}
