/* SPDX-License-Identifier: MIT */
/* The header field list: its operations and the string pool under it. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "headers.h"
#include "httpresp/httpresp.h"

static void add(hr_headers *h, const char *name, const char *value) {
  cr_assert_eq(hr_headers_add(h, name, strlen(name), value, strlen(value)), 0,
               "add %s", name);
}

Test(headers, add_get_count_remove_keep_order) {
  hr_headers h;
  hr_headers_init(&h);
  add(&h, "A", "1");
  add(&h, "B", "  two ");
  add(&h, "a", "3");
  add(&h, "C", "");
  cr_expect_eq(h.n, 4u);
  cr_expect_str_eq(hr_headers_get(&h, "b"), "two");
  cr_expect_str_eq(hr_headers_get(&h, "A"), "1");
  cr_expect_eq(hr_headers_count(&h, "A"), 2u);
  cr_expect_eq(h.bytes, 1u + 1 + 1 + 3 + 1 + 1 + 1 + 0);
  cr_expect_eq(hr_headers_remove(&h, "A"), 2u);
  cr_expect_eq(h.n, 2u);
  cr_expect_str_eq(h.v[0].name, "B");
  cr_expect_str_eq(h.v[1].name, "C");
  cr_expect_eq(h.bytes, 1u + 3 + 1);
  hr_headers_remove_at(&h, 0);
  cr_expect_eq(h.n, 1u);
  cr_expect_str_eq(h.v[0].name, "C");
  cr_expect_null(hr_headers_get(&h, "B"));
  hr_headers_free(&h);
}

Test(headers, refused_fields_leave_the_list_unchanged) {
  static const struct {
    const char *name, *value;
  } bad[] = {{"", "x"}, {"Bad Name", "x"}, {"X", "a\r\nInjected: 1"},
             {"X", "a\nb"}, {"Na:me", "x"}};
  hr_headers h;
  hr_headers_init(&h);
  add(&h, "Keep", "me");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_expect_eq(hr_headers_add(&h, bad[i].name, strlen(bad[i].name),
                                bad[i].value, strlen(bad[i].value)),
                 HTTPRESP_E_INVALID_ARG, "row %zu", i);
  cr_expect_eq(hr_headers_add(&h, "X", 1, "a\0b", 3), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(h.n, 1u);
  cr_expect_eq(h.bytes, 6u);
  hr_headers_free(&h);
}

Test(headers, copy_is_deep_and_replaces) {
  hr_headers a, b;
  hr_headers_init(&a);
  hr_headers_init(&b);
  add(&b, "Old", "gone");
  char name[16], value[64];
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof(name), "F%d", i);
    snprintf(value, sizeof(value), "value number %d of the list", i);
    add(&a, name, value);
  }
  cr_assert_eq(hr_headers_copy(&b, &a), 0);
  cr_expect_eq(b.n, a.n);
  cr_expect_eq(b.bytes, a.bytes);
  cr_expect_null(hr_headers_get(&b, "Old"));
  for (size_t i = 0; i < a.n; i++) {
    cr_expect_str_eq(b.v[i].name, a.v[i].name);
    cr_expect_str_eq(b.v[i].value, a.v[i].value);
    cr_expect_neq(b.v[i].value, a.v[i].value, "shares storage");
  }
  hr_headers_free(&a); /* b must not depend on a */
  cr_expect_str_eq(hr_headers_get(&b, "F39"), "value number 39 of the list");
  hr_headers_free(&b);
}

/* A list reused for response after response (clear, add) and one edited
 * in place for ever (remove, add) both stay bounded. */
static size_t pool_bytes(const hr_headers *h) {
  /* Every live string sits in the pool; the rest is what it holds back. */
  return h->bytes + 2 * h->n + h->dead;
}

Test(headers, clear_reuses_and_edits_stay_bounded) {
  hr_headers h;
  hr_headers_init(&h);
  for (int round = 0; round < 1000; round++) {
    hr_headers_clear(&h);
    for (int i = 0; i < 10; i++)
      add(&h, "Name", "some value of moderate length");
    cr_assert_eq(h.n, 10u);
  }
  hr_headers_clear(&h);
  add(&h, "Stay", "here");
  for (int i = 0; i < 100000; i++) {
    add(&h, "If-None-Match", "\"an etag of some length\"");
    cr_assert_eq(hr_headers_remove(&h, "If-None-Match"), 1u);
    cr_assert_leq(pool_bytes(&h), 8192u, "round %d", i);
  }
  cr_expect_eq(h.n, 1u);
  cr_expect_str_eq(hr_headers_get(&h, "Stay"), "here");
  hr_headers_free(&h);
}

/* A list's first fields share one allocation with its first strings; each
 * way out of it (more fields, more strings then a clear, a copy, a
 * compaction) must leave every field readable (ASan checks the memory). */
static void fill(hr_headers *h, int n, size_t vlen, char tag) {
  char name[32], value[4096];
  memset(value, tag, vlen);
  value[vlen] = '\0';
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof(name), "F%d", i);
    add(h, name, value);
  }
}

static void expect_filled(const hr_headers *h, int n, size_t vlen, char tag) {
  cr_assert_eq(h->n, (size_t)n);
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "F%d", i);
    const char *v = hr_headers_get(h, name);
    cr_assert_not_null(v, "%s", name);
    cr_assert_eq(strlen(v), vlen, "%s", name);
    cr_assert(vlen == 0 || (v[0] == tag && v[vlen - 1] == tag), "%s", name);
  }
}

Test(headers, first_allocation_shared_by_fields_and_strings) {
  static const struct {
    int n1;
    size_t len1;
    int n2;
    size_t len2;
  } rows[] = {
      {3, 10, 3, 10},   /* stays in the first allocation */
      {3, 10, 40, 20},  /* more fields than it holds */
      {3, 2000, 5, 10}, /* a second chunk, then a clear */
      {40, 300, 2, 5},  /* both outgrown */
      {16, 10, 17, 10}, /* exactly full, then one more */
  };
  for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
    hr_headers h;
    hr_headers_init(&h);
    fill(&h, rows[r].n1, rows[r].len1, 'a');
    expect_filled(&h, rows[r].n1, rows[r].len1, 'a');
    hr_headers_clear(&h);
    fill(&h, rows[r].n2, rows[r].len2, 'b');
    expect_filled(&h, rows[r].n2, rows[r].len2, 'b');
    hr_headers_clear(&h);
    fill(&h, rows[r].n1, rows[r].len1, 'c');
    expect_filled(&h, rows[r].n1, rows[r].len1, 'c');

    hr_headers big, small;
    hr_headers_init(&big);
    hr_headers_init(&small);
    fill(&big, rows[r].n2 + 20, rows[r].len2 + 100, 'd');
    fill(&small, 2, 5, 'e');
    cr_assert_eq(hr_headers_copy(&small, &big), 0, "row %zu", r);
    expect_filled(&small, rows[r].n2 + 20, rows[r].len2 + 100, 'd');
    cr_assert_eq(hr_headers_copy(&big, &h), 0, "row %zu", r);
    expect_filled(&big, rows[r].n1, rows[r].len1, 'c');

    /* Edits that leave dead strings behind until the list compacts. */
    for (int i = 0; i < 50; i++) {
      add(&h, "Churn",
          "a value long enough to leave garbage behind it, "
          "many times over, until the list compacts itself");
      cr_assert_eq(hr_headers_remove(&h, "Churn"), 1u);
    }
    expect_filled(&h, rows[r].n1, rows[r].len1, 'c');
    hr_headers_free(&h);
    hr_headers_free(&big);
    hr_headers_free(&small);
  }
}

Test(headers, value_space_replaces_a_value) {
  hr_headers h;
  hr_headers_init(&h);
  add(&h, "A", "short");
  add(&h, "B", "b");
  char *v = hr_headers_value_space(&h, 0, 11);
  cr_assert_not_null(v);
  memcpy(v, "longer text", 12);
  h.v[0].value = v;
  cr_expect_str_eq(hr_headers_get(&h, "A"), "longer text");
  cr_expect_str_eq(hr_headers_get(&h, "B"), "b");
  cr_expect_null(hr_headers_value_space(&h, 2, 1));
  hr_headers_free(&h);
}

Test(headers, tchar_table_is_rfc9110) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; c++) {
    int want = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
               (c >= 'A' && c <= 'Z') || (c && strchr(extra, c));
    cr_expect_eq(hr_is_tchar((unsigned char)c), want, "byte %d", c);
  }
}

/* ---- one "Name: value" line, and hr_headers_add, against a reference ----
 *
 * The parser makes one pass over the name and checks the value a word at a
 * time; the reference below is the rule as written in RFC 9110 §5 and RFC
 * 9112 §5, one step after the other: name up to the first colon, a
 * non-empty token; value without CR, LF or NUL, OWS trimmed at both ends;
 * a trailing CR/LF run ignored. */

static int ref_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int ref_field(const char *name, size_t nlen, const char *value,
                     size_t vlen, char *name_out, char *value_out) {
  if (nlen == 0)
    return -1;
  for (size_t i = 0; i < nlen; i++)
    if (!ref_tchar((unsigned char)name[i]))
      return -1;
  for (size_t i = 0; i < vlen; i++)
    if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
      return -1;
  while (vlen && (value[0] == ' ' || value[0] == '\t')) {
    value++;
    vlen--;
  }
  while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
    vlen--;
  memcpy(name_out, name, nlen);
  name_out[nlen] = '\0';
  memcpy(value_out, value, vlen);
  value_out[vlen] = '\0';
  return 0;
}

static int ref_line(const char *line, size_t len, char *name_out,
                    char *value_out) {
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  const char *colon = memchr(line, ':', len);
  if (!colon)
    return -1;
  size_t nlen = (size_t)(colon - line);
  return ref_field(line, nlen, colon + 1, len - nlen - 1, name_out, value_out);
}

/* Bytes as C escapes, for messages. */
static const char *shown(const char *s, size_t len) {
  static char out[1024];
  size_t o = 0;
  for (size_t i = 0; i < len && o + 5 < sizeof(out); i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
  }
  out[o] = '\0';
  return out;
}

/* The field list after one call agrees with the reference's verdict. */
static void expect_one_field(hr_headers *h, int rc, int want, const char *name,
                             const char *value, const char *what) {
  if (want != 0) {
    cr_assert_eq(h->n, 0u, "%s: refused, yet a field was added", what);
    cr_assert_eq(h->bytes, 0u, "%s", what);
    return;
  }
  cr_assert_eq(rc, 0, "%s", what);
  cr_assert_eq(h->n, 1u, "%s", what);
  cr_assert_str_eq(h->v[0].name, name, "%s", what);
  cr_assert_str_eq(h->v[0].value, value, "%s", what);
  cr_assert_eq(h->bytes, strlen(name) + strlen(value), "%s", what);
}

static void expect_line_like_reference(const char *line, size_t len) {
  char name[512], value[512];
  cr_assert_lt(len, sizeof(name));
  int want = ref_line(line, len, name, value);
  hr_headers h;
  hr_headers_init(&h);
  int rc = hr_headers_add_line(&h, line, len);
  const char *what = shown(line, len);
  cr_assert_eq(rc, want ? HTTPRESP_E_BAD_RESPONSE : 0, "line \"%s\"", what);
  expect_one_field(&h, rc, want, name, value, what);
  hr_headers_free(&h);
}

static void expect_field_like_reference(const char *n, size_t nlen,
                                        const char *v, size_t vlen) {
  char name[512], value[512];
  cr_assert_lt(nlen, sizeof(name));
  cr_assert_lt(vlen, sizeof(value));
  int want = ref_field(n, nlen, v, vlen, name, value);
  hr_headers h;
  hr_headers_init(&h);
  int rc = hr_headers_add(&h, n, nlen, v, vlen);
  char what[1100];
  snprintf(what, sizeof(what), "name \"%s\"", shown(n, nlen));
  snprintf(what + strlen(what), sizeof(what) - strlen(what), " value \"%s\"",
           shown(v, vlen));
  cr_assert_eq(rc, want ? HTTPRESP_E_INVALID_ARG : 0, "%s", what);
  expect_one_field(&h, rc, want, name, value, what);
  hr_headers_free(&h);
}

Test(headers, add_line_table) {
  static const struct {
    const char *line;
    size_t len;               /* 0: strlen */
    const char *name, *value; /* NULL: refused */
  } rows[] = {
      {"Content-Type: text/plain\r\n", 0, "Content-Type", "text/plain"},
      {"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n", 0, "Date",
       "Mon, 01 Jan 2024 00:00:00 GMT"},
      {"X:", 0, "X", ""},
      {"X:\r\n", 0, "X", ""},
      {"X:  \t \r\n", 0, "X", ""},
      {"X: a b \t\r\n", 0, "X", "a b"},
      {"X:\ta\tb\t", 0, "X", "a\tb"},
      {"X:a:b", 0, "X", "a:b"},
      {"X: a\r\r\n", 0, "X", "a"},
      {"X: a\n\r", 0, "X", "a"},
      {"X: \x01\x0b\x7f\x80\xff", 0, "X", "\x01\x0b\x7f\x80\xff"},
      {"!#$%&'*+-.^_`|~09azAZ: v", 0, "!#$%&'*+-.^_`|~09azAZ", "v"},
      {"A-Rather-Long-Field-Name-Of-Forty-Chars: 12345678", 0,
       "A-Rather-Long-Field-Name-Of-Forty-Chars", "12345678"},
      {"X: 1234567812345678\r\n", 0, "X", "1234567812345678"},
      {"X: 12345678 \t 12345678 \t ", 0, "X", "12345678 \t 12345678"},
      {"X :a", 0, NULL, NULL},
      {" X: a", 0, NULL, NULL},
      {"\tX: a", 0, NULL, NULL},
      {":a", 0, NULL, NULL},
      {"X", 0, NULL, NULL},
      {"Xyzzyxyzzy", 0, NULL, NULL},
      {"", 0, NULL, NULL},
      {"\r\n", 0, NULL, NULL},
      {"Na(me: v", 0, NULL, NULL},
      {"Na\"me: v", 0, NULL, NULL},
      {"Name\x80: v", 0, NULL, NULL},
      {"X: a\rb", 0, NULL, NULL},
      {"X: a\r\nInjected: 1", 0, NULL, NULL},
      {"X: 1234567\n8", 0, NULL, NULL},
      {"X: 12345678123456\r8", 0, NULL, NULL},
      {"X: a\0b", 6, NULL, NULL},
      {"X\0: a", 5, NULL, NULL},
      {"X: 12345678\0", 12, NULL, NULL},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    size_t len = rows[i].len ? rows[i].len : strlen(rows[i].line);
    hr_headers h;
    hr_headers_init(&h);
    int rc = hr_headers_add_line(&h, rows[i].line, len);
    if (!rows[i].name) {
      cr_expect_eq(rc, HTTPRESP_E_BAD_RESPONSE, "row %zu", i);
      cr_expect_eq(h.n, 0u, "row %zu", i);
    } else {
      cr_expect_eq(rc, 0, "row %zu", i);
      cr_expect_eq(h.n, 1u, "row %zu", i);
      if (h.n == 1) {
        cr_expect_str_eq(h.v[0].name, rows[i].name, "row %zu", i);
        cr_expect_str_eq(h.v[0].value, rows[i].value, "row %zu", i);
      }
    }
    hr_headers_free(&h);
    /* The reference agrees with the table. */
    expect_line_like_reference(rows[i].line, len);
  }
}

/* Every special byte at every place of values of every length up to a few
 * words (the word-at-a-time check has edges at multiples of 8), leading and
 * trailing OWS included. */
Test(headers, add_line_special_byte_everywhere) {
  static const char special[] = {'\r',   '\n',   '\0',   '\t',   ' ',
                                 '\x0b', '\x0c', '\x0e', '\x1f', '\x7f',
                                 '\x80', '\xff', ':'};
  char line[64];
  for (size_t vlen = 1; vlen <= 34; vlen++)
    for (size_t pos = 0; pos < vlen; pos++)
      for (size_t s = 0; s < sizeof(special); s++)
        for (int pad = 0; pad < 2; pad++) {
          size_t o = 0;
          line[o++] = 'X';
          line[o++] = ':';
          if (pad)
            line[o++] = ' ';
          for (size_t i = 0; i < vlen; i++)
            line[o++] = i == pos ? special[s] : (char)('a' + i % 26);
          if (pad) {
            line[o++] = '\r';
            line[o++] = '\n';
          }
          expect_line_like_reference(line, o);
          expect_field_like_reference("X", 1, line + 2, o - 2);
        }
}

/* Random lines from an alphabet weighted towards the bytes the rules are
 * about; deterministic (xorshift), so a failure reproduces. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

Test(headers, add_line_and_add_match_the_reference) {
  static const char alphabet[] = "aZ09-_~!|.  \t\t::\r\n\x01\x0b\x0e\x1f"
                                 "\x7f\x80\xff(\",;=/";
  const size_t nalpha = sizeof(alphabet); /* with the NUL byte */
  uint64_t s = 0x9e3779b97f4a7c15u;
  char buf[80];
  for (int round = 0; round < 100000; round++) {
    size_t len = (size_t)(rng_next(&s) % 48);
    int shaped = rng_next(&s) % 2 == 0;
    size_t colon = len ? (size_t)(rng_next(&s) % len) : 0;
    for (size_t i = 0; i < len; i++) {
      uint64_t r = rng_next(&s);
      if (shaped && i < colon && r % 4 != 0)
        buf[i] = (char)('A' + r % 26); /* mostly a good name */
      else if (shaped && i == colon)
        buf[i] = ':';
      else if (shaped && r % 3 != 0)
        buf[i] = (char)(' ' + 1 + r % 94); /* mostly printable */
      else
        buf[i] = alphabet[r % nalpha];
    }
    expect_line_like_reference(buf, len);
    size_t split = len ? (size_t)(rng_next(&s) % (len + 1)) : 0;
    expect_field_like_reference(buf, split, buf + split, len - split);
  }
}

/* ---- ASCII case-insensitive comparison against tolower ---- */

static int ref_lower(unsigned char c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int ref_strncaseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (ref_lower((unsigned char)a[i]) != ref_lower((unsigned char)b[i]))
      return 0;
    if (!a[i])
      return 1;
  }
  return 1;
}

Test(headers, case_insensitive_compare_every_byte_pair) {
  for (int x = 0; x < 256; x++)
    for (int y = 0; y < 256; y++) {
      /* one byte, and the same behind an equal prefix and before a tail */
      char a[4] = {'k', (char)x, 'z', '\0'}, b[4] = {'K', (char)y, 'Z', '\0'};
      int want = ref_lower((unsigned char)x) == ref_lower((unsigned char)y) &&
                 (x != 0) == (y != 0);
      cr_assert_eq(hr_strcaseeq(a, b), want, "bytes %d %d", x, y);
      cr_assert_eq(hr_strcaseeq(a + 1, b + 1), want, "bytes %d %d", x, y);
      for (size_t n = 0; n <= 4; n++) {
        cr_assert_eq(hr_strncaseeq(a, b, n), ref_strncaseeq(a, b, n),
                     "bytes %d %d, n %zu", x, y, n);
        cr_assert_eq(hr_strncaseeq(a + 1, b + 1, n),
                     ref_strncaseeq(a + 1, b + 1, n), "bytes %d %d, n %zu", x,
                     y, n);
      }
    }
}

Test(headers, case_insensitive_compare_lengths) {
  static const struct {
    const char *a, *b;
    int eq;
  } rows[] = {{"", "", 1},
              {"", "a", 0},
              {"a", "", 0},
              {"Location", "location", 1},
              {"Location", "LOCATION", 1},
              {"Location", "Locatio", 0},
              {"Locatio", "Location", 0},
              {"Location", "Locations", 0},
              {"Set-Cookie", "set-cookie", 1},
              {"Set-Cookie", "set_cookie", 0},
              {"@[`{", "`{@[", 0},
              {"\xc1", "\xe1", 0}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    cr_expect_eq(hr_strcaseeq(rows[i].a, rows[i].b), rows[i].eq, "row %zu", i);
    size_t n = strlen(rows[i].a) + 2;
    cr_expect_eq(hr_strncaseeq(rows[i].a, rows[i].b, n),
                 ref_strncaseeq(rows[i].a, rows[i].b, n), "row %zu", i);
  }
  cr_expect(hr_strncaseeq("http://x", "HTTP://y", 7));
  cr_expect(!hr_strncaseeq("http:/", "HTTP://", 7));
  cr_expect(hr_strncaseeq("ab", "AB", 9));
  cr_expect(!hr_strncaseeq("ab", "ABC", 3));
}

/* Removing every field of a list with much dead space left nothing to
 * compact into: it must just drop the strings. */
Test(headers, removing_everything_compacts_to_nothing) {
  hr_headers h;
  hr_headers_init(&h);
  char value[64];
  memset(value, 'v', sizeof(value) - 1);
  value[sizeof(value) - 1] = '\0';
  for (int i = 0; i < 200; i++)
    add(&h, "Gone", value);
  cr_expect_eq(hr_headers_remove(&h, "Gone"), 200u);
  cr_expect_eq(h.n, 0u);
  cr_expect_eq(h.bytes, 0u);
  /* 200 dead fields are well over the compaction threshold: with nothing
   * live the strings are dropped, not moved to a fresh chunk. */
  cr_expect_eq(h.dead, 0u);
  cr_expect_null(h.chunks);
  add(&h, "After", "works");
  cr_expect_str_eq(hr_headers_get(&h, "After"), "works");
  for (int i = 0; i < 200; i++)
    add(&h, "Gone", value);
  for (int i = 200; i > 0; i--)
    hr_headers_remove_at(&h, (size_t)i);
  hr_headers_remove_at(&h, 0);
  cr_expect_eq(h.n, 0u);
  hr_headers_free(&h);
}

/* A stable list (a request's) never moves a string: a value handed out
 * stays valid however often other fields come and go; and it is bounded
 * without compaction, since each removed field is freed. */
Test(headers, stable_list_keeps_values_in_place) {
  hr_headers h;
  hr_headers_init_stable(&h);
  add(&h, "User-Agent", "keeps/1.0");
  const char *ua = hr_headers_get(&h, "User-Agent");
  char value[64];
  memset(value, 'v', sizeof(value) - 1);
  value[sizeof(value) - 1] = '\0';
  for (int i = 0; i < 1000; i++) {
    add(&h, "X-Id", value);
    cr_assert_eq(hr_headers_remove(&h, "X-Id"), 1u);
  }
  cr_expect_eq(hr_headers_get(&h, "User-Agent"), ua, "the value moved");
  cr_expect_str_eq(ua, "keeps/1.0");
  cr_expect_null(hr_headers_value_space(&h, 0, 4));
  hr_headers copy;
  hr_headers_init_stable(&copy);
  cr_assert_eq(hr_headers_copy(&copy, &h), 0);
  cr_expect_str_eq(hr_headers_get(&copy, "User-Agent"), "keeps/1.0");
  hr_headers_free(&h);
  cr_expect(h.stable, "free keeps the kind of list");
  cr_expect_str_eq(hr_headers_get(&copy, "User-Agent"), "keeps/1.0");
  hr_headers_clear(&copy);
  add(&copy, "After", "clear");
  cr_expect_str_eq(hr_headers_get(&copy, "After"), "clear");
  hr_headers_free(&copy);
}

/* RFC 9112 §6.3: which Content-Length fields leave a response's length
 * known.  Each row is a set of fields ('|' separates lines). */
typedef struct framing_row {
  const char *fields;
  int bodyless;
  int ok;
} framing_row;

Test(headers, content_length_framing_table) {
  static const framing_row rows[] = {
      {"", 0, 1},
      {"Content-Length: 5", 0, 1},
      {"Content-Length: 0", 0, 1},
      {"Content-Length: 005", 0, 1},
      {"Content-Length: 9223372036854775807", 0, 1},
      /* item 5: the same value repeated is that value */
      {"Content-Length: 5, 5", 0, 1},
      {"Content-Length: 5|Content-Length: 5", 0, 1},
      {"content-length: 5|CONTENT-LENGTH: 5,5", 0, 1},
      /* RFC 9110 §5.6.1: empty list elements are ignored */
      {"Content-Length: 5,,5", 0, 1},
      {"Content-Length: ,5", 0, 1},
      {"Content-Length: 5, 6", 0, 0},
      {"Content-Length: 5|Content-Length: 6", 0, 0},
      {"Content-Length: 5, 5|Content-Length: 6", 0, 0},
      {"Content-Length: 5x", 0, 0},
      {"Content-Length: x5", 0, 0},
      {"Content-Length: +5", 0, 0},
      {"Content-Length: -5", 0, 0},
      {"Content-Length: 5 5", 0, 0},
      {"Content-Length: 0x10", 0, 0},
      {"Content-Length: 5.0", 0, 0},
      {"Content-Length: ", 0, 0},
      {"Content-Length: ,", 0, 0},
      {"Content-Length: 9223372036854775808", 0, 0},
      {"Content-Length: 99999999999999999999999", 0, 0},
      {"Content-Length: 5|Content-Length: x", 0, 0},
      /* item 3: Transfer-Encoding overrides, before or after */
      {"Transfer-Encoding: chunked|Content-Length: x", 0, 1},
      {"Content-Length: 5, 6|Transfer-Encoding: chunked", 0, 1},
      /* names of the same length that differ anywhere are other fields,
       * in any case the names themselves match */
      {"TRANSFER-ENCODING: chunked|Content-Length: x", 0, 1},
      {"Transfer_Encoding: chunked|Content-Length: x", 0, 0},
      {"Transfer-Encodinh: chunked|Content-Length: x", 0, 0},
      {"Xransfer-Encoding: chunked|Content-Length: x", 0, 0},
      {"Content_Length: x", 0, 1},
      {"Content-Lengtx: x", 0, 1},
      {"Dontent-Length: x", 0, 1},
      {"Content-Lengthh: x", 0, 1},
      {"cONTENT-lENGTH: x", 0, 0},
      /* item 1: HEAD, 204 and 304 end at the empty line */
      {"Content-Length: 5, 6", 1, 1},
      {"Content-Length: abc", 1, 1},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    hr_headers h;
    hr_headers_init(&h);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", rows[i].fields);
    for (char *line = strtok(buf, "|"); line; line = strtok(NULL, "|"))
      cr_assert_eq(hr_headers_add_line(&h, line, strlen(line)), 0, "%s", line);
    const char *why = "unset";
    int rc = hr_headers_check_framing(&h, rows[i].bodyless, NULL, &why);
    cr_expect_eq(rc, rows[i].ok ? 0 : HTTPRESP_E_BAD_RESPONSE, "row %zu: %s", i,
                 rows[i].fields);
    if (rows[i].ok)
      cr_expect_null(why, "row %zu", i);
    else
      cr_expect(why && strstr(why, "Content-Length"), "row %zu: %s", i,
                why ? why : "(null)");
    hr_headers_free(&h);
  }
}
