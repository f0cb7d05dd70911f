/* SPDX-License-Identifier: MIT */
/* The operations every backend gets the same way. */
#include "store.h"

int hr_store_get(const hr_store *s, const hr_key *k, hr_stored **out) {
  *out = NULL;
  return s->vt->get(s->impl, k, out);
}

int hr_store_put(const hr_store *s, const hr_key *k, const hr_cache_entry *e,
                 const hr_put_how *how) {
  if (how->update_only && !(s->vt->caps & HR_STORE_UPDATE_ONLY)) {
    hr_stored *old = NULL;
    int rc = s->vt->get(s->impl, k, &old);
    hr_stored_unref(old);
    if (rc)
      return rc == 1 ? 1 : rc;
    hr_put_how plain = *how;
    plain.update_only = 0;
    return s->vt->put(s->impl, k, e, &plain);
  }
  return s->vt->put(s->impl, k, e, how);
}

int hr_store_del(const hr_store *s, const hr_key *k) {
  return s->vt->del(s->impl, k);
}

void hr_store_destroy(hr_store *s) {
  if (s->vt && s->vt->destroy)
    s->vt->destroy(s->impl);
  s->vt = NULL;
  s->impl = NULL;
}
