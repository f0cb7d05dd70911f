/* SPDX-License-Identifier: MIT */
/* Flat store keys: the one place that spells a key as a string. */
#include "key.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int hr_key_init(hr_key *k, const char *method, const char *url, size_t url_len,
                const char *partition) {
  memset(k, 0, sizeof(*k));
  k->method = method;
  k->url = url;
  k->url_len = url_len;
  if (!partition)
    partition = "";
  k->variant = HR_VARIANT_NONE;
  if (strcmp(method, "GET") == 0 && !*partition) {
    k->flat = url;
    k->flat_len = url_len;
    return 0;
  }
  size_t mlen = strlen(method), plen = strlen(partition);
  if (url_len > SIZE_MAX / 4 || plen > SIZE_MAX / 4 || mlen > SIZE_MAX / 4)
    return HTTPRESP_E_NOMEM;
  char num[24];
  int nlen = snprintf(num, sizeof(num), "%zu", plen);
  size_t total = mlen + 1 + (size_t)nlen + 1 + plen + 1 + url_len;
  char *p = malloc(total + 1);
  if (!p)
    return HTTPRESP_E_NOMEM;
  char *w = p;
  memcpy(w, method, mlen);
  w += mlen;
  *w++ = ' ';
  memcpy(w, num, (size_t)nlen);
  w += nlen;
  *w++ = ':';
  memcpy(w, partition, plen);
  w += plen;
  *w++ = ' ';
  memcpy(w, url, url_len);
  w[url_len] = '\0';
  k->own = p;
  k->flat = p;
  k->flat_len = total;
  return 0;
}

void hr_key_free(hr_key *k) {
  free(k->own);
  k->own = NULL;
  k->flat = NULL;
}

int hr_key_variant(const hr_key *base, hr_variant_id id, int fold,
                   hr_key *out) {
  *out = *base;
  out->own = NULL;
  out->variant = id;
  if (!fold || id == HR_VARIANT_NONE)
    return 0;
  out->variant = HR_VARIANT_NONE;
  if (base->flat_len > SIZE_MAX - 32)
    return HTTPRESP_E_NOMEM;
  char *p = malloc(base->flat_len + 32);
  if (!p)
    return HTTPRESP_E_NOMEM;
  memcpy(p, base->flat, base->flat_len);
  int n = id == HR_VARIANT_INDEX
              ? snprintf(p + base->flat_len, 32, "#i")
              : snprintf(p + base->flat_len, 32, "#v%016" PRIx64, id);
  out->own = p;
  out->flat = p;
  out->flat_len = base->flat_len + (size_t)n;
  return 0;
}
