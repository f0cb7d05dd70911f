/* The header field list: its operations and the string pool under it. */
#include <criterion/criterion.h>
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
