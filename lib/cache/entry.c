/* SPDX-License-Identifier: MIT */
/* A stored response: what it holds and who frees it. */
#include <stdlib.h>
#include <string.h>

#include "entry.h"

void hr_cache_entry_init(hr_cache_entry *e) {
  memset(e, 0, sizeof(*e));
  hr_headers_init(&e->vary);
  hr_headers_init(&e->headers);
}

void hr_cache_entry_free(hr_cache_entry *e) {
  if (!e)
    return;
  free(e->key);
  free(e->body);
  hr_headers_free(&e->vary);
  hr_headers_free(&e->headers);
  hr_cache_entry_init(e);
}
