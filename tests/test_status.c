/* SPDX-License-Identifier: MIT */
/* Status-code knowledge: the table against the seed documents, the policy
 * flags, generic entries for unknown codes and invalid input. */
#include <criterion/criterion.h>

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "status.h"

/*
 * Every meaning the seed documents describe, written down from the seeds
 * (seeds/000..004: RFC 2616 text, the Wikipedia-like list with the
 * unofficial codes, the MDN-like list, the Baidu-derived list) and checked
 * against the current defining document.  `primary` marks the meaning
 * lookup() must return.  The table in lib/status.c must hold exactly these.
 */
typedef struct expected {
  int code;
  const char *reason;
  bool standard;
  const char *source;
  bool primary;
} expected;

#define STD(c, r, s) {c, r, true, s, true}
#define UNO(c, r, s) {c, r, false, s, true}
#define ALT(c, r, s) {c, r, false, s, false} /* a secondary meaning */

static const expected seeds[] = {
    STD(100, "Continue", "RFC 9110"),
    STD(101, "Switching Protocols", "RFC 9110"),
    STD(102, "Processing", "RFC 2518"),
    STD(103, "Early Hints", "RFC 8297"),
    ALT(103, "Checkpoint", "resumable requests proposal"),
    STD(200, "OK", "RFC 9110"),
    STD(201, "Created", "RFC 9110"),
    STD(202, "Accepted", "RFC 9110"),
    STD(203, "Non-Authoritative Information", "RFC 9110"),
    STD(204, "No Content", "RFC 9110"),
    STD(205, "Reset Content", "RFC 9110"),
    STD(206, "Partial Content", "RFC 9110"),
    STD(207, "Multi-Status", "RFC 4918"),
    STD(208, "Already Reported", "RFC 5842"),
    STD(226, "IM Used", "RFC 3229"),
    STD(300, "Multiple Choices", "RFC 9110"),
    STD(301, "Moved Permanently", "RFC 9110"),
    STD(302, "Found", "RFC 9110"),
    STD(303, "See Other", "RFC 9110"),
    STD(304, "Not Modified", "RFC 9110"),
    STD(305, "Use Proxy", "RFC 9110"),
    STD(306, "(Unused)", "RFC 9110"),
    STD(307, "Temporary Redirect", "RFC 9110"),
    STD(308, "Permanent Redirect", "RFC 9110"),
    STD(400, "Bad Request", "RFC 9110"),
    STD(401, "Unauthorized", "RFC 9110"),
    STD(402, "Payment Required", "RFC 9110"),
    STD(403, "Forbidden", "RFC 9110"),
    STD(404, "Not Found", "RFC 9110"),
    STD(405, "Method Not Allowed", "RFC 9110"),
    STD(406, "Not Acceptable", "RFC 9110"),
    STD(407, "Proxy Authentication Required", "RFC 9110"),
    STD(408, "Request Timeout", "RFC 9110"),
    STD(409, "Conflict", "RFC 9110"),
    STD(410, "Gone", "RFC 9110"),
    STD(411, "Length Required", "RFC 9110"),
    STD(412, "Precondition Failed", "RFC 9110"),
    STD(413, "Content Too Large", "RFC 9110"),
    STD(414, "URI Too Long", "RFC 9110"),
    STD(415, "Unsupported Media Type", "RFC 9110"),
    STD(416, "Range Not Satisfiable", "RFC 9110"),
    STD(417, "Expectation Failed", "RFC 9110"),
    STD(418, "I'm a teapot", "RFC 2324"),
    UNO(420, "Enhance Your Calm", "Twitter"),
    ALT(420, "Method Failure", "Spring Framework"),
    STD(421, "Misdirected Request", "RFC 9110"),
    ALT(421, "There is too many connections from your Internet address",
        "Baidu Baike"),
    STD(422, "Unprocessable Content", "RFC 9110"),
    STD(423, "Locked", "RFC 4918"),
    STD(424, "Failed Dependency", "RFC 4918"),
    STD(425, "Too Early", "RFC 8470"),
    ALT(425, "Unordered Collection", "WebDAV Advanced Collections draft"),
    STD(426, "Upgrade Required", "RFC 9110"),
    STD(428, "Precondition Required", "RFC 6585"),
    STD(429, "Too Many Requests", "RFC 6585"),
    STD(431, "Request Header Fields Too Large", "RFC 6585"),
    UNO(440, "Login Time-out", "IIS"),
    UNO(444, "No Response", "nginx"),
    UNO(449, "Retry With", "IIS"),
    UNO(450, "Blocked by Windows Parental Controls", "Microsoft"),
    STD(451, "Unavailable For Legal Reasons", "RFC 7725"),
    ALT(451, "Redirect", "IIS"),
    UNO(495, "SSL Certificate Error", "nginx"),
    UNO(496, "SSL Certificate Required", "nginx"),
    UNO(497, "HTTP Request Sent to HTTPS Port", "nginx"),
    UNO(498, "Invalid Token", "Esri"),
    UNO(499, "Client Closed Request", "nginx"),
    ALT(499, "Token Required", "Esri"),
    STD(500, "Internal Server Error", "RFC 9110"),
    STD(501, "Not Implemented", "RFC 9110"),
    STD(502, "Bad Gateway", "RFC 9110"),
    STD(503, "Service Unavailable", "RFC 9110"),
    STD(504, "Gateway Timeout", "RFC 9110"),
    STD(505, "HTTP Version Not Supported", "RFC 9110"),
    STD(506, "Variant Also Negotiates", "RFC 2295"),
    STD(507, "Insufficient Storage", "RFC 4918"),
    STD(508, "Loop Detected", "RFC 5842"),
    UNO(509, "Bandwidth Limit Exceeded", "Apache/cPanel"),
    STD(510, "Not Extended", "RFC 2774"),
    STD(511, "Network Authentication Required", "RFC 6585"),
    UNO(520, "Unknown Error", "Cloudflare"),
    UNO(521, "Web Server Is Down", "Cloudflare"),
    UNO(522, "Connection Timed Out", "Cloudflare"),
    UNO(523, "Origin Is Unreachable", "Cloudflare"),
    UNO(524, "A Timeout Occurred", "Cloudflare"),
    UNO(525, "SSL Handshake Failed", "Cloudflare"),
    UNO(526, "Invalid SSL Certificate", "Cloudflare"),
    UNO(527, "Range Error", "Cloudflare"),
    ALT(527, "Bad Gateway Error", "Cloudflare"),
    UNO(530, "Site is frozen", "Pantheon"),
    UNO(598, "Network read timeout error", "proxies"),
    UNO(599, "Network connect timeout error", "proxies"),
    UNO(600, "Unparseable Response Headers", "Baidu Baike"),
};

#undef STD
#undef UNO
#undef ALT

#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))
#define MAXM 8

static bool has(unsigned flags, unsigned bit) { return (flags & bit) != 0; }

static bool in_set(int code, const int *set, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (set[i] == code)
      return true;
  return false;
}

static bool is_seed_code(int code) {
  for (size_t i = 0; i < N_SEEDS; i++)
    if (seeds[i].code == code)
      return true;
  return false;
}

Test(status, every_seed_meaning_is_known) {
  for (size_t i = 0; i < N_SEEDS; i++) {
    const expected *e = &seeds[i];
    const httpresp_status_info *m[MAXM];
    size_t n = httpresp_status_meanings(e->code, m, MAXM);
    cr_assert(n >= 1 && n <= MAXM, "%d: %zu meanings", e->code, n);
    const httpresp_status_info *hit = NULL;
    for (size_t j = 0; j < n; j++)
      if (strcmp(m[j]->reason, e->reason) == 0)
        hit = m[j];
    cr_expect_not_null(hit, "%d \"%s\" missing", e->code, e->reason);
    if (!hit)
      continue;
    cr_expect_eq(hit->code, e->code);
    cr_expect_str_eq(hit->source, e->source, "%d \"%s\"", e->code,
                     e->reason);
    cr_expect_eq(has(hit->flags, HTTPRESP_STATUS_STANDARD), e->standard,
                 "%d \"%s\" standard", e->code, e->reason);
    cr_expect(has(hit->flags, HTTPRESP_STATUS_KNOWN), "%d \"%s\" known",
              e->code, e->reason);
    if (e->primary) {
      cr_expect_eq(m[0], hit, "%d: \"%s\" is not first", e->code, e->reason);
      cr_expect_eq(httpresp_status_lookup(e->code), hit, "%d lookup",
                   e->code);
      cr_expect_str_eq(httpresp_status_reason(e->code), e->reason);
    } else {
      cr_expect_neq(m[0], hit, "%d: \"%s\" must not be primary", e->code,
                    e->reason);
    }
  }
}

/* The other direction: nothing in the table that the seeds do not back. */
Test(status, table_holds_exactly_the_seed_meanings) {
  size_t n;
  const httpresp_status_info *t = hr_status_table(&n);
  cr_assert_eq(n, N_SEEDS, "table has %zu meanings, seeds %zu", n,
               (size_t)N_SEEDS);
  for (size_t i = 0; i < n; i++) {
    bool found = false;
    for (size_t j = 0; j < N_SEEDS && !found; j++)
      found = seeds[j].code == t[i].code &&
              strcmp(seeds[j].reason, t[i].reason) == 0;
    cr_expect(found, "table entry %d \"%s\" not in the seeds", t[i].code,
              t[i].reason);
  }
}

Test(status, table_sorted_one_primary_standard_first) {
  size_t n;
  const httpresp_status_info *t = hr_status_table(&n);
  for (size_t i = 0; i < n; i++) {
    cr_expect_not_null(t[i].reason);
    cr_expect_not_null(t[i].source);
    cr_expect(t[i].source && t[i].source[0], "%d has an empty source",
              t[i].code);
    if (i == 0)
      continue;
    cr_expect_leq(t[i - 1].code, t[i].code, "unsorted at %zu", i);
    /* A standard meaning is never a secondary one. */
    if (t[i - 1].code == t[i].code)
      cr_expect_not(has(t[i].flags, HTTPRESP_STATUS_STANDARD),
                    "%d: standard meaning after another", t[i].code);
  }
}

Test(status, double_meanings_primary_first) {
  static const struct {
    int code;
    const char *first, *second;
  } cases[] = {
      {103, "Early Hints", "Checkpoint"},
      {420, "Enhance Your Calm", "Method Failure"},
      {421, "Misdirected Request",
       "There is too many connections from your Internet address"},
      {425, "Too Early", "Unordered Collection"},
      {451, "Unavailable For Legal Reasons", "Redirect"},
      {499, "Client Closed Request", "Token Required"},
      {527, "Range Error", "Bad Gateway Error"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const httpresp_status_info *m[MAXM];
    size_t n = httpresp_status_meanings(cases[i].code, m, MAXM);
    cr_assert_eq(n, 2, "%d: %zu meanings", cases[i].code, n);
    cr_expect_str_eq(m[0]->reason, cases[i].first);
    cr_expect_str_eq(m[1]->reason, cases[i].second);
    cr_expect_eq(httpresp_status_lookup(cases[i].code), m[0]);
  }
  /* And no other code has more than one meaning. */
  for (int c = 100; c <= 999; c++) {
    bool dbl = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
      dbl = dbl || cases[i].code == c;
    if (!dbl)
      cr_expect_eq(httpresp_status_meanings(c, NULL, 0), 1, "%d", c);
  }
}

Test(status, policy_flags_exact_sets) {
  static const int follow[] = {301, 302, 303, 307, 308};
  static const int retry[] = {413, 429, 503};
  static const int cache[] = {200, 203, 204, 206, 300, 301,
                              308, 404, 405, 410, 414, 501};
  for (int c = 100; c <= 999; c++) {
    const httpresp_status_info *m[MAXM];
    size_t n = httpresp_status_meanings(c, m, MAXM);
    cr_assert(n >= 1 && n <= MAXM);
    for (size_t j = 0; j < n; j++) {
      unsigned f = m[j]->flags;
      cr_expect_eq(has(f, HTTPRESP_STATUS_FOLLOW), in_set(c, follow, 5),
                   "%d FOLLOW", c);
      cr_expect_eq(has(f, HTTPRESP_STATUS_RETRYABLE), in_set(c, retry, 3),
                   "%d RETRYABLE", c);
      cr_expect_eq(has(f, HTTPRESP_STATUS_CACHEABLE), in_set(c, cache, 12),
                   "%d CACHEABLE", c);
      cr_expect_eq(has(f, HTTPRESP_STATUS_INTERIM), c < 200, "%d INTERIM",
                   c);
      cr_expect_eq(has(f, HTTPRESP_STATUS_KNOWN), is_seed_code(c),
                   "%d KNOWN", c);
      cr_expect_eq(m[j]->code, c);
    }
  }
}

Test(status, unknown_codes_get_a_generic_entry) {
  static const struct {
    int code;
    const char *reason;
  } cases[] = {
      {104, "Unknown Informational"}, {199, "Unknown Informational"},
      {209, "Unknown Success"},       {299, "Unknown Success"},
      {309, "Unknown Redirection"},   {399, "Unknown Redirection"},
      {419, "Unknown Client Error"},  {470, "Unknown Client Error"},
      {494, "Unknown Client Error"},  {512, "Unknown Server Error"},
      {597, "Unknown Server Error"},  {601, "Unknown"},
      {700, "Unknown"},               {999, "Unknown"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int c = cases[i].code;
    const httpresp_status_info *info = httpresp_status_lookup(c);
    cr_assert_not_null(info, "%d", c);
    cr_expect_eq(info->code, c);
    cr_expect_str_eq(info->reason, cases[i].reason, "%d", c);
    cr_expect_str_eq(info->source, "", "%d", c);
    cr_expect_not(has(info->flags, HTTPRESP_STATUS_KNOWN), "%d", c);
    cr_expect_not(has(info->flags, HTTPRESP_STATUS_STANDARD), "%d", c);
    cr_expect_eq(info->flags, c < 200 ? HTTPRESP_STATUS_INTERIM : 0, "%d",
                 c);
    cr_expect_str_eq(httpresp_status_reason(c), cases[i].reason);
    /* Static storage: the same pointer every time, and from meanings(). */
    cr_expect_eq(httpresp_status_lookup(c), info);
    const httpresp_status_info *m[2] = {NULL, NULL};
    cr_expect_eq(httpresp_status_meanings(c, m, 2), 1);
    cr_expect_eq(m[0], info);
    cr_expect_null(m[1]);
  }
  /* Close neighbours of unknown codes are known, and vice versa. */
  cr_expect(has(httpresp_status_lookup(418)->flags, HTTPRESP_STATUS_KNOWN));
  cr_expect(has(httpresp_status_lookup(599)->flags, HTTPRESP_STATUS_KNOWN));
  cr_expect(has(httpresp_status_lookup(600)->flags, HTTPRESP_STATUS_KNOWN));
}

Test(status, invalid_codes) {
  static const int bad[] = {INT_MIN, -100, -1, 0, 1, 99, 1000, 1001,
                            65535,   65536, 100000, INT_MAX};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int c = bad[i];
    const httpresp_status_info *m[2] = {NULL, NULL};
    cr_expect_null(httpresp_status_lookup(c), "%d", c);
    cr_expect_eq(httpresp_status_meanings(c, m, 2), 0, "%d", c);
    cr_expect_null(m[0]);
    cr_expect_eq(httpresp_status_class(c), -1, "%d", c);
    cr_expect_str_eq(httpresp_status_reason(c), "Unknown", "%d", c);
  }
}

Test(status, class_digit) {
  static const struct {
    int code, cls;
  } cases[] = {{100, 1}, {103, 1}, {199, 1}, {200, 2}, {299, 2}, {300, 3},
               {308, 3}, {399, 3}, {400, 4}, {499, 4}, {500, 5}, {599, 5},
               {600, 0}, {601, 0}, {999, 0}, {99, -1}, {1000, -1}, {-1, -1}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    cr_expect_eq(httpresp_status_class(cases[i].code), cases[i].cls, "%d",
                 cases[i].code);
}

Test(status, meanings_with_small_max) {
  const httpresp_status_info *m[3] = {NULL, NULL, NULL};
  cr_expect_eq(httpresp_status_meanings(103, m, 1), 2);
  cr_expect_str_eq(m[0]->reason, "Early Hints");
  cr_expect_null(m[1], "wrote past max");

  m[0] = NULL;
  cr_expect_eq(httpresp_status_meanings(499, m, 0), 2);
  cr_expect_null(m[0], "wrote with max 0");
  cr_expect_eq(httpresp_status_meanings(499, NULL, 0), 2);

  cr_expect_eq(httpresp_status_meanings(404, m, 3), 1);
  cr_expect_str_eq(m[0]->reason, "Not Found");
  cr_expect_null(m[1]);
}

Test(status, reason_phrases) {
  cr_expect_str_eq(httpresp_status_reason(200), "OK");
  cr_expect_str_eq(httpresp_status_reason(404), "Not Found");
  cr_expect_str_eq(httpresp_status_reason(103), "Early Hints");
  cr_expect_str_eq(httpresp_status_reason(420), "Enhance Your Calm");
  cr_expect_str_eq(httpresp_status_reason(499), "Client Closed Request");
  cr_expect_str_eq(httpresp_status_reason(470), "Unknown Client Error");
  cr_expect_str_eq(httpresp_status_reason(700), "Unknown");
}

/* Lookups share nothing mutable: hammer them from several threads. */
static void *lookups(void *arg) {
  (void)arg;
  size_t bad = 0;
  for (int round = 0; round < 200; round++)
    for (int c = 90; c <= 1010; c++) {
      const httpresp_status_info *info = httpresp_status_lookup(c);
      if ((c >= 100 && c <= 999) != (info != NULL) ||
          (info && info->code != c))
        bad++;
    }
  return (void *)(uintptr_t)bad;
}

Test(status, concurrent_lookups) {
  pthread_t th[4];
  for (size_t i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, lookups, NULL), 0);
  for (size_t i = 0; i < 4; i++) {
    void *bad = NULL;
    pthread_join(th[i], &bad);
    cr_expect_null(bad, "thread %zu saw wrong entries", i);
  }
}
