/* SPDX-License-Identifier: MIT */
/* Retry-After rules: when a 429, 503 or 413 is repeated, after how long,
 * and when the caller's limits say no (RFC 9110 §10.2.3, RFC 6585 §4). */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "httpdate.h"
#include "policy.h"
#include "url.h"

int64_t hr_policy_retry_after(const hr_headers *resp, int64_t now_ms) {
  const char *value = NULL;
  for (size_t i = 0; i < resp->n; i++) {
    if (!hr_strcaseeq(resp->v[i].name, "Retry-After"))
      continue;
    if (!value)
      value = resp->v[i].value;
    else if (strcmp(value, resp->v[i].value) != 0)
      return -1; /* not a list field: disagreeing copies mean nothing */
  }
  if (!value)
    return -1;
  int64_t delay;
  if (hr_retry_after_parse(value, hr_headers_get(resp, "Date"), now_ms,
                           &delay) != 0)
    return -1;
  return delay;
}

static int is_retry_status(int status) {
  return status == 429 || status == 503 || status == 413;
}

int hr_retry_decide(const hr_policy_input *in, hr_decision *d) {
  const hr_policy *p = in->policy;
  d->next = HR_NEXT_DELIVER;
  if (!is_retry_status(in->status))
    return 0;
  int64_t delay = hr_policy_retry_after(in->resp, in->now_ms);
  d->retry_after_ms = delay;
  /* RFC 9110 §10.2.3 asks the client to wait, but the client's memory of
   * it is capped: one absurd Retry-After must not take an origin away for
   * good.  The delay itself stays exposed as the server gave it. */
  if (delay >= 0 && p->max_quiet_ms > 0 &&
      p->quiet_scope != HTTPRESP_QUIET_OFF)
    d->quiet_until_ms = hr_sat_add(
        in->now_ms, delay < p->max_quiet_ms ? delay : p->max_quiet_ms);
  if (delay < 0) {
    /* 413 only means "try later" when the server says when. */
    if (in->status == 413 || p->backoff_base_ms <= 0)
      return 0;
    unsigned shift = in->history->retries < 40 ? in->history->retries : 40;
    int64_t bound = hr_sat_mul(p->backoff_base_ms, (int64_t)1 << shift);
    if (bound > p->backoff_cap_ms)
      bound = p->backoff_cap_ms;
    delay = in->random_ms < bound ? in->random_ms : bound;
  }
  if (in->history->retries >= p->max_retries) {
    d->retry_stop = HTTPRESP_RETRY_EXHAUSTED;
    return 0;
  }
  if (delay > p->max_wait_ms) {
    d->retry_stop = HTTPRESP_RETRY_WAIT_TOO_LONG;
    return 0;
  }
  if (p->deadline_ms > 0 &&
      hr_sat_add(in->now_ms, delay) > hr_sat_add(in->start_ms, p->deadline_ms)) {
    d->retry_stop = HTTPRESP_RETRY_DEADLINE;
    return 0;
  }
  if (!hr_request_body_replayable(in->cur)) {
    d->retry_stop = HTTPRESP_RETRY_NOT_REPLAYABLE;
    return 0;
  }
  d->next = HR_NEXT_RETRY;
  d->wait_ms = delay;
  return 0;
}

void hr_quiet_decide(const hr_policy *p, int64_t not_before_ms, int64_t now_ms,
                     int64_t start_ms, hr_decision *d) {
  d->next = HR_NEXT_DELIVER;
  if (not_before_ms <= now_ms)
    return;
  int64_t wait = not_before_ms - now_ms;
  d->retry_after_ms = wait;
  if (wait > p->max_wait_ms) {
    hr_decision_stop(d, HTTPRESP_E_ORIGIN_BACKOFF,
                     "the origin asked for quiet for %lld ms more, above the "
                     "maximum wait of %lld ms",
                     (long long)wait, (long long)p->max_wait_ms);
    return;
  }
  if (p->deadline_ms > 0 &&
      not_before_ms > hr_sat_add(start_ms, p->deadline_ms)) {
    hr_decision_stop(d, HTTPRESP_E_DEADLINE,
                     "the origin's quiet time ends after the deadline");
    return;
  }
  d->next = HR_NEXT_RETRY;
  d->wait_ms = wait;
}

int64_t hr_policy_wait_granted(int64_t planned, int64_t asked) {
  if (asked < 0)
    return -1;
  return asked < planned ? asked : planned;
}

int hr_quiet_key(int scope, const char *url, char **out) {
  *out = NULL;
  if (scope == HTTPRESP_QUIET_OFF)
    return 0;
  if (scope != HTTPRESP_QUIET_URL)
    return hr_url_origin_key(url, out);
  /* One URL however it is spelled: "HTTP://H:80/a#x" is "http://h/a". */
  char *norm;
  int rc = hr_url_normalize(url, &norm);
  if (rc)
    return rc;
  size_t n = strlen(norm);
  char *key = malloc(n + 5);
  if (!key) {
    free(norm);
    return HTTPRESP_E_NOMEM;
  }
  memcpy(key, "url ", 4);
  memcpy(key + 4, norm, n + 1);
  free(norm);
  *out = key;
  return 0;
}
