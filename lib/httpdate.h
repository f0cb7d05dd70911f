/* SPDX-License-Identifier: MIT */
/* HTTP-date (RFC 9110 §5.6.7) and Retry-After (RFC 9110 §10.2.3). */
#ifndef HR_HTTPDATE_H
#define HR_HTTPDATE_H

#include <stddef.h>
#include <stdint.h>

/* Parses an HTTP-date in any of the three forms a recipient must accept:
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years per §5.6.7: more than
 * 50 years in the future means the past century, relative to `now_sec`;
 * pass 0 to use 19xx/20xx by the 70 pivot) and asctime
 * "Sun Nov  6 08:49:37 1994".  Surrounding whitespace is allowed.  The day
 * name must be a valid name but is not checked against the date; impossible
 * dates (Feb 30, hour 24, second 61) are refused.  Leap second 60 is
 * accepted.  Returns 0 and seconds since the epoch, or -1. */
int hr_httpdate_parse(const char *s, size_t len, int64_t now_sec,
                      int64_t *epoch_sec);

/* Writes the IMF-fixdate for `epoch_sec` into buf (at least 30 bytes).
 * Returns 0, or -1 for times before 1970 or after 9999. */
int hr_httpdate_format(int64_t epoch_sec, char *buf, size_t buflen);

/* The largest delay a Retry-After can yield; larger values saturate here
 * (about 292 years, far above any caller's maximum wait). */
#define HR_DELAY_MAX_MS ((int64_t)1 << 53)

/* Parses a Retry-After value: delay-seconds (1*DIGIT) or an HTTP-date,
 * surrounding whitespace allowed; anything else is invalid.  Too many digits
 * saturate at HR_DELAY_MAX_MS.  For a date the delay is measured against
 * `date_hdr` (the response's Date value, may be NULL or invalid, then
 * against `now_ms`); a date in the past gives 0.
 * Returns 0 and *delay_ms, or -1 if invalid (treat as absent). */
int hr_retry_after_parse(const char *value, const char *date_hdr,
                         int64_t now_ms, int64_t *delay_ms);

#endif
