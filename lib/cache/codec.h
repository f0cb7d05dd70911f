/* SPDX-License-Identifier: MIT */
/* The byte encoding of a cache entry, for the stores that hold bytes. */
#ifndef HR_CACHE_CODEC_H
#define HR_CACHE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "entry.h"

/* Encodes `e` (magic, version, lengths, checksum) onto `out`.  Returns 0,
 * HTTPRESP_E_NOMEM, or HTTPRESP_E_INVALID_ARG when the encoding would
 * exceed HR_CACHE_MAX_ENTRY or hold something the decoder refuses (status
 * outside 100..999, empty key, a field that hr_headers_add would refuse):
 * whatever encodes, decodes to the same entry. */
int hr_cache_entry_encode(const hr_cache_entry *e, hr_buf *out);
/* Decodes bytes from a store.  Returns 0, HTTPRESP_E_NOMEM, or
 * HTTPRESP_E_CACHE_IO for anything damaged, truncated or foreign. */
int hr_cache_entry_decode(const void *data, size_t len, hr_cache_entry *e);

/* The 64-bit checksum of the entry encoding and of the disk store's files:
 * every step is a bijection of the state, so any single changed byte (or
 * word) always changes the result. */
uint64_t hr_cache_checksum(const void *data, size_t len);

#endif
