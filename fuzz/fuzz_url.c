/* SPDX-License-Identifier: MIT */
/* hr_url_resolve, hr_origin_from_url, hr_url_same_origin,
 * hr_url_check_request, hr_url_normalize and the userinfo helpers.
 *
 * Input: "<base>\n<Location>": the base is everything before the first
 * newline (NUL-terminated there, as the request URL always is), the
 * reference everything after it, read by length (it may hold CR, LF, NUL).
 * Without a newline the whole input is the reference against a fixed base. */
#include "fuzz.h"
#include "httpresp/httpresp.h"
#include "url.h"

#define FIXED_BASE "http://example.com/a/b?q#f"
/* What hr_url_resolve promises about a URL it hands out. */
static void check_resolved(const char *u) {
  size_t n = strlen(u);
  FUZZ_CHECK(n > 0 && n <= HR_URL_MAX);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)u[i];
    FUZZ_CHECK(c > 0x20 && c < 0x7F);
  }
  /* It is absolute: scheme ":" first. */
  static const char alpha[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  size_t k = strspn(u, alpha);
  FUZZ_CHECK(k > 0);
  k += strspn(u + k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789+-.");
  FUZZ_CHECK(u[k] == ':');
}

static int has_fragment(const char *u) { return strchr(u, '#') != NULL; }

/* An absolute result resolves to itself against any base (plus the base's
 * fragment when it has none): what we return means the same thing when
 * parsed again. */
static void check_reresolve(const char *base, const char *u) {
  char *again = NULL;
  int rc = hr_url_resolve(base, u, strlen(u), &again);
  if (rc == HTTPRESP_E_NOMEM)
    return;
  FUZZ_CHECK(rc == 0);
  check_resolved(again);
  if (has_fragment(u) || !has_fragment(base)) {
    FUZZ_CHECK(strcmp(again, u) == 0);
  } else {
    size_t n = strlen(u);
    FUZZ_CHECK(strncmp(again, u, n) == 0 && again[n] == '#');
  }
  free(again);
}

static void check_origin(const char *u) {
  hr_origin o, o2;
  int rc = hr_origin_from_url(u, &o);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_BAD_URL || rc == HTTPRESP_E_NOMEM);
  if (rc != 0) {
    FUZZ_CHECK(o.scheme == NULL && o.host == NULL);
    FUZZ_CHECK(hr_url_same_origin(u, u) == -1);
    return;
  }
  FUZZ_CHECK(o.scheme && o.host && *o.host);
  for (const char *p = o.scheme; *p; p++)
    FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
  FUZZ_CHECK(o.port <= 65535);
  FUZZ_CHECK(hr_origin_equal(&o, &o));
  FUZZ_CHECK(hr_url_same_origin(u, u) == 1);
  /* The key is itself a URL of the same origin. */
  char *key = hr_origin_key(&o);
  if (key) {
    FUZZ_CHECK(hr_origin_from_url(key, &o2) == 0);
    FUZZ_CHECK(hr_origin_equal(&o, &o2));
    hr_origin_free(&o2);
    free(key);
  }
  hr_origin_free(&o);
}

static void check_pair(const char *a, const char *b) {
  int ab = hr_url_same_origin(a, b);
  int ba = hr_url_same_origin(b, a);
  FUZZ_CHECK(ab == ba);
  FUZZ_CHECK(ab == -1 || ab == 0 || ab == 1);
}

/* A request URL that passes is one the library can build origins from. */
static void check_request_url(const char *u) {
  int rc = hr_url_check_request(u);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_BAD_URL || rc == HTTPRESP_E_NOMEM);
  /* The shortcut for common URLs answers as the full parse does. */
  if (rc != HTTPRESP_E_NOMEM) {
    int full = hr_url_check_request_parsed(u);
    FUZZ_CHECK(full == HTTPRESP_E_NOMEM || full == rc);
  }
  if (rc != 0)
    return;
  FUZZ_CHECK(strlen(u) <= HR_URL_MAX);
  FUZZ_CHECK(strchr(u, ' ') == NULL);
  hr_origin o;
  FUZZ_CHECK(hr_origin_from_url(u, &o) == 0);
  FUZZ_CHECK(strcmp(o.scheme, "http") == 0 || strcmp(o.scheme, "https") == 0);
  hr_origin_free(&o);
  char *nofrag = hr_url_without_fragment(u);
  FUZZ_CHECK(nofrag != NULL);
  FUZZ_CHECK(hr_url_check_request(nofrag) == 0);
  free(nofrag);
}

/* The normal form (loop detection) of a URL the library hands out: it
 * exists, is stable, keeps the origin, and the one-pass judgement never
 * vouches for a URL it would change. */
static void check_normalize(const char *u) {
  char *n = NULL;
  int rc = hr_url_normalize(u, &n);
  if (rc == HTTPRESP_E_NOMEM)
    return;
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_BAD_URL);
  FUZZ_CHECK((rc == 0) == (n != NULL));
  if (!n)
    return;
  FUZZ_CHECK(strchr(n, '#') == NULL);
  char *again = NULL;
  rc = hr_url_normalize(n, &again);
  if (rc != HTTPRESP_E_NOMEM) {
    FUZZ_CHECK(rc == 0 && strcmp(again, n) == 0);
    free(again);
  }
  if (hr_url_plainly_normal(u)) {
    size_t len = strcspn(u, "#");
    FUZZ_CHECK(strlen(n) == len && strncmp(n, u, len) == 0);
  }
  int same = hr_url_same_origin(u, n);
  FUZZ_CHECK(same == 1 || same == -1);
  free(n);
}

/* Stripping the userinfo of a checked URL leaves a URL of the same origin
 * without any. */
static void check_strip(const char *u) {
  char *s = fz_strndup(u, strlen(u));
  hr_url_strip_userinfo(s);
  FUZZ_CHECK(!hr_url_ref_has_userinfo(s, strlen(s)));
  int same = hr_url_same_origin(u, s);
  FUZZ_CHECK(same == 1 || same == -1);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Long enough to cross HR_URL_MAX after percent-encoding tripled it. */
  if (size > 3 * HR_URL_MAX)
    return 0;
  const uint8_t *nl = memchr(data, '\n', size);
  char *base;
  const char *ref;
  size_t reflen;
  if (nl) {
    base = fz_strndup((const char *)data, (size_t)(nl - data));
    ref = (const char *)nl + 1;
    reflen = size - (size_t)(nl - data) - 1;
  } else {
    base = fz_strndup(FIXED_BASE, strlen(FIXED_BASE));
    ref = (const char *)data;
    reflen = size;
  }
  /* An exact-size copy of the reference: ASan catches reads past reflen. */
  char *rexact = malloc(reflen ? reflen : 1);
  FUZZ_CHECK(rexact != NULL);
  if (reflen)
    memcpy(rexact, ref, reflen);
  char *refz = fz_strndup(ref, reflen);

  check_origin(base);
  check_request_url(base);
  check_pair(base, refz);
  check_normalize(base);
  (void)hr_url_ref_has_userinfo(rexact, reflen);

  char *out = NULL;
  int rc = hr_url_resolve(base, rexact, reflen, &out);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_BAD_LOCATION ||
             rc == HTTPRESP_E_NOMEM);
  FUZZ_CHECK((rc == 0) == (out != NULL));
  if (out) {
    check_resolved(out);
    check_reresolve(base, out);
    check_reresolve(out, out);
    check_reresolve(FIXED_BASE, out);
    check_origin(out);
    check_request_url(out);
    check_pair(base, out);
    check_pair(out, FIXED_BASE);
    check_normalize(out);
    check_strip(out);
    /* A relative reference against the result works like against any
     * absolute URL with a scheme. */
    char *rel = NULL;
    int rc2 = hr_url_resolve(out, "x", 1, &rel);
    FUZZ_CHECK(rc2 == 0 || rc2 == HTTPRESP_E_BAD_LOCATION ||
               rc2 == HTTPRESP_E_NOMEM);
    if (rel) {
      check_resolved(rel);
      check_reresolve(out, rel);
    }
    free(rel);
    free(out);
  }

  free(refz);
  free(rexact);
  free(base);
  return 0;
}
