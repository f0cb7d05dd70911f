/* SPDX-License-Identifier: MIT */
/* Redirect rules: which 3xx are followed, with which method and body, to
 * which targets, with which credentials (RFC 9110 §15.4, WHATWG Fetch
 * "HTTP-redirect fetch"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "url.h"

static int is_followed_status(const hr_policy *p, int status) {
  switch (status) {
  case 301:
  case 302:
  case 303:
  case 307:
  case 308:
    return 1;
  case 300:
    return p->follow_300;
  default:
    return 0;
  }
}

int hr_policy_header_is_sensitive(const hr_policy *p, const char *name) {
  /* Asked of every request field at every hop: the first letter settles
   * most names, and leaves one candidate to compare for the others. */
  const char *sensitive;
  switch ((unsigned char)name[0] | 0x20) {
  case 'a':
    sensitive = "Authorization";
    break;
  case 'p':
    sensitive = "Proxy-Authorization";
    break;
  case 'c':
    sensitive = "Cookie";
    break;
  default:
    return 0;
  }
  if (!hr_strcaseeq(name, sensitive))
    return 0;
  for (size_t i = 0; i < p->nkeep; i++)
    if (hr_strcaseeq(p->keep_headers[i], name))
      return 0;
  return 1;
}

/* The method of the next hop, and whether the body goes with it. */
static const char *next_method(const hr_policy *p, int status,
                               const char *method, int *keep_body) {
  char m0 = (char)((unsigned char)method[0] | 0x20);
  int safe = (m0 == 'g' && hr_strcaseeq(method, "GET")) ||
             (m0 == 'h' && hr_strcaseeq(method, "HEAD"));
  *keep_body = 1;
  if (safe)
    return method;
  if (status == 303 ||
      ((status == 301 || status == 302 || status == 300) &&
       strcmp(method, "POST") == 0 && !p->keep_post)) {
    *keep_body = 0;
    return "GET";
  }
  return method;
}

#define STOP(d, code, ...) hr_decision_stop((d), (code), __VA_ARGS__)

/* Location, or NULL if absent or empty; *conflict if several disagree. */
static const char *location_of(const hr_headers *h, int *conflict) {
  const char *loc = NULL;
  *conflict = 0;
  for (size_t i = 0; i < h->n; i++) {
    const char *name = h->v[i].name;
    if (((unsigned char)name[0] | 0x20) != 'l' ||
        !hr_strcaseeq(name, "Location"))
      continue;
    if (!loc)
      loc = h->v[i].value;
    else if (strcmp(loc, h->v[i].value) != 0)
      *conflict = 1;
  }
  return loc && *loc ? loc : NULL;
}

/* *found: whether (method, url up to its fragment) was requested at this
 * cookie epoch; URLs compare in RFC 3986 §6.2.2-6.2.3 normal form, as the
 * history keeps them.  *normal: whether `target` is in that form already.
 * Returns 0 or HTTPRESP_E_NOMEM. */
static int was_visited(const hr_history *h, const char *method,
                       const char *target, int *found, int *normal) {
  char *norm = NULL;
  *found = 0;
  *normal = hr_url_plainly_normal(target);
  if (!*normal && hr_url_normalize(target, &norm) == HTTPRESP_E_NOMEM)
    return HTTPRESP_E_NOMEM;
  const char *url = norm ? norm : target;
  size_t n = strcspn(url, "#");
  for (size_t i = 0; i < h->n; i++)
    if (h->v[i].cookie_epoch == h->cookie_epoch &&
        strcmp(h->v[i].method, method) == 0 &&
        strncmp(h->v[i].url, url, n) == 0 && h->v[i].url[n] == '\0') {
      *found = 1;
      break;
    }
  free(norm);
  return 0;
}

int hr_redirect_origin_rules(const hr_policy *p, const httpresp_request *orig,
                             httpresp_request *next, int *cross_origin) {
  int same = hr_url_same_origin_valid(orig->url, next->url);
  *cross_origin = same != 1;
  for (size_t i = 0; i < next->headers.n;) {
    if (hr_policy_header_is_sensitive(p, next->headers.v[i].name))
      hr_headers_remove_at(&next->headers, i);
    else
      i++;
  }
  if (*cross_origin)
    return 0;
  for (size_t i = 0; i < orig->headers.n; i++) {
    const hr_field *f = &orig->headers.v[i];
    if (!hr_policy_header_is_sensitive(p, f->name))
      continue;
    int rc = hr_headers_add(&next->headers, f->name, strlen(f->name), f->value,
                            strlen(f->value));
    if (rc)
      return rc;
  }
  return 0;
}

/* Where the Location points, if it may be followed at all: returns 0 with
 * *target set (malloc'd), 0 with *target NULL when the 3xx is the answer or
 * `d` says STOP, or HTTPRESP_E_NOMEM. */
static int redirect_target(const hr_policy_input *in, hr_decision *d,
                           char **target) {
  const hr_policy *p = in->policy;
  *target = NULL;
  if (in->location_malformed) {
    STOP(d, HTTPRESP_E_BAD_LOCATION,
         "the Location field contains control characters");
    return 0;
  }
  int conflict;
  const char *loc = location_of(in->resp, &conflict);
  if (!loc) {
    d->next = HR_NEXT_DELIVER; /* a 3xx without Location is the answer */
    return 0;
  }
  if (conflict) {
    STOP(d, HTTPRESP_E_BAD_LOCATION,
         "redirect refused: several different Location fields");
    return 0;
  }
  size_t loclen = strlen(loc);
  if (loclen > HR_URL_MAX) {
    /* The cause is the bound, whatever the syntax. */
    STOP(d, HTTPRESP_E_BAD_LOCATION,
         "Location of %zu bytes is over the URL limit of %zu bytes", loclen,
         HR_URL_MAX);
    return 0;
  }
  char *t = NULL;
  int rc = hr_url_resolve(in->cur->url, loc, loclen, &t);
  if (rc == HTTPRESP_E_NOMEM)
    return rc;
  if (rc) {
    STOP(d, HTTPRESP_E_BAD_LOCATION, "Location \"%.120s\" is not a valid URI "
         "reference", loc);
    return 0;
  }
  char scheme[32], cur_scheme[32];
  if (hr_url_scheme(t, scheme, sizeof(scheme)) != 0 ||
      !hr_scheme_in_list(scheme, p->schemes)) {
    STOP(d, HTTPRESP_E_SCHEME_NOT_ALLOWED,
         "redirect to \"%.120s\": scheme not allowed", t);
    free(t);
    return 0;
  }
  if (p->refuse_downgrade &&
      hr_url_scheme(in->cur->url, cur_scheme, sizeof(cur_scheme)) == 0 &&
      strcmp(cur_scheme, "https") == 0 && strcmp(scheme, "http") == 0) {
    STOP(d, HTTPRESP_E_DOWNGRADE_REFUSED,
         "redirect from https to \"%.120s\" refused", t);
    free(t);
    return 0;
  }
  /* RFC 9110 §4.2.4: userinfo in a URI is likely there to mislead, and
   * WHATWG Fetch makes a redirect to another origin with credentials a
   * network error.  The userinfo the server put in its Location is never
   * sent (libcurl would turn it into Basic credentials): to another origin
   * the redirect stops, on the same origin it is followed without it.  A
   * relative Location keeps the caller's own URL's authority, userinfo
   * included: that is the caller's choice, not the server's. */
  if (hr_url_ref_has_userinfo(loc, loclen)) {
    if (hr_url_same_origin_valid(in->cur->url, t) != 1) {
      STOP(d, HTTPRESP_E_BAD_LOCATION,
           "redirect refused: the Location carries credentials (userinfo) "
           "and leads to another origin");
      free(t);
      return 0;
    }
    hr_url_strip_userinfo(t);
  }
  *target = t;
  return 0;
}

int hr_redirect_decide(const hr_policy_input *in, hr_decision *d) {
  const hr_policy *p = in->policy;
  const httpresp_request *cur = in->cur;
  if (!p->follow || !is_followed_status(p, in->status)) {
    d->next = HR_NEXT_DELIVER;
    return 0;
  }
  char *target = NULL;
  int rc = redirect_target(in, d, &target);
  if (rc || !target)
    return rc;
  if (in->history->redirects >= p->max_redirects) {
    STOP(d, HTTPRESP_E_TOO_MANY_REDIRECTS, "redirect limit of %u reached",
         p->max_redirects);
    free(target);
    return 0;
  }
  int keep_body;
  const char *method = next_method(p, in->status, cur->method, &keep_body);
  int loop, normal;
  rc = was_visited(in->history, method, target, &loop, &normal);
  if (rc) {
    free(target);
    return rc;
  }
  if (loop) {
    STOP(d, HTTPRESP_E_REDIRECT_LOOP, "redirect loop: \"%.120s\" was already "
         "requested in this chain", target);
    free(target);
    return 0;
  }
  if (keep_body && cur->body_kind != HR_BODY_NONE &&
      !hr_request_body_replayable(cur)) {
    STOP(d, HTTPRESP_E_BODY_NOT_REWINDABLE,
         "redirect to \"%.120s\" needs the streamed body again and no rewind "
         "callback was given", target);
    free(target);
    return 0;
  }
  httpresp_request *next = NULL;
  rc = hr_request_derive(&next, cur, method, target);
  if (!rc && !keep_body)
    hr_request_drop_body(next);
  if (!rc)
    rc = hr_redirect_origin_rules(p, in->orig, next, &d->cross_origin);
  if (rc) {
    httpresp_request_free(next);
    return rc;
  }
  d->next = HR_NEXT_FOLLOW; /* no message: the hop record says it all */
  d->next_req = next;
  d->target_normal = normal;
  return 0;
}
