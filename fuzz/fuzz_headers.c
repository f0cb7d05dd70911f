/* SPDX-License-Identifier: MIT */
/* hr_parse_status_line and hr_parse_header_block, the field list they
 * fill, and the framing verdict on it (hr_headers_check_framing).
 *
 * Input: a raw header block as libcurl would hand it over ("HTTP/1.1 200
 * OK\r\nName: value\r\n...\r\n\r\n"), read by length only.  Its first line
 * also goes alone to the status-line parser. */
#include "common.h"
#include "fuzz.h"
#include "headers.h"

static void check_field(const hr_field *f) {
  FUZZ_CHECK(f->name != NULL && f->value != NULL);
  FUZZ_CHECK(hr_is_token(f->name, strlen(f->name)));
  size_t vlen = strlen(f->value);
  FUZZ_CHECK(strpbrk(f->value, "\r\n") == NULL);
  if (vlen > 0) {
    FUZZ_CHECK(!hr_is_ows((unsigned char)f->value[0]));
    FUZZ_CHECK(!hr_is_ows((unsigned char)f->value[vlen - 1]));
  }
}

static void check_list(const hr_headers *h) {
  size_t bytes = 0;
  FUZZ_CHECK(h->n <= h->cap);
  for (size_t i = 0; i < h->n; i++) {
    check_field(&h->v[i]);
    bytes += strlen(h->v[i].name) + strlen(h->v[i].value);
    /* Every name is found again (a few suffice: lookups are linear). */
    if (i < 16) {
      FUZZ_CHECK(hr_headers_get(h, h->v[i].name) != NULL);
      FUZZ_CHECK(hr_headers_count(h, h->v[i].name) >= 1);
    }
  }
  FUZZ_CHECK(bytes == h->bytes);
}

/* The fields written back as a block parse to the same list. */
static void check_roundtrip(int status, const hr_headers *h) {
  hr_buf b;
  hr_buf_init(&b);
  char line[32];
  snprintf(line, sizeof(line), "HTTP/1.1 %03d\r\n", status);
  int rc = hr_buf_append_str(&b, line);
  for (size_t i = 0; !rc && i < h->n; i++) {
    rc = hr_buf_append_str(&b, h->v[i].name);
    rc = rc ? rc : hr_buf_append_str(&b, ": ");
    rc = rc ? rc : hr_buf_append_str(&b, h->v[i].value);
    rc = rc ? rc : hr_buf_append_str(&b, "\r\n");
  }
  rc = rc ? rc : hr_buf_append_str(&b, "\r\n");
  FUZZ_CHECK(rc == 0);
  hr_headers again;
  hr_headers_init(&again);
  int st = 0;
  FUZZ_CHECK(hr_parse_header_block(b.data, b.len, &st, &again) == 0);
  FUZZ_CHECK(st == status);
  FUZZ_CHECK(again.n == h->n);
  for (size_t i = 0; i < h->n; i++) {
    FUZZ_CHECK(strcmp(again.v[i].name, h->v[i].name) == 0);
    FUZZ_CHECK(strcmp(again.v[i].value, h->v[i].value) == 0);
  }
  hr_headers_free(&again);
  hr_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (size_t)64 * 1024)
    return 0;
  const char *s = (const char *)data;

  const uint8_t *nl = memchr(data, '\n', size);
  size_t first = nl ? (size_t)(nl - data) + 1 : size;
  int status = -1;
  if (hr_parse_status_line(s, first, &status) == 0)
    FUZZ_CHECK(status >= 100 && status <= 999);

  hr_headers h;
  hr_headers_init(&h);
  status = -1;
  int rc = hr_parse_header_block(s, size, &status, &h);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_BAD_RESPONSE ||
             rc == HTTPRESP_E_NOMEM);
  /* Whatever was parsed before an error is still a valid list. */
  check_list(&h);
  if (rc == 0) {
    FUZZ_CHECK(status >= 100 && status <= 999);
    check_roundtrip(status, &h);
    /* A verdict always, with a reason exactly when it refuses; a bodyless
     * answer is never refused. */
    const char *why = "unset";
    int framing = hr_headers_check_framing(&h, 0, NULL, &why);
    FUZZ_CHECK(framing == 0 || framing == HTTPRESP_E_BAD_RESPONSE);
    FUZZ_CHECK((framing == 0) == (why == NULL));
    FUZZ_CHECK(hr_headers_check_framing(&h, 1, NULL, &why) == 0 && why == NULL);

    hr_headers copy;
    hr_headers_init(&copy);
    if (hr_headers_copy(&copy, &h) == 0) {
      check_list(&copy);
      FUZZ_CHECK(copy.n == h.n);
      /* Removing a name removes every field of that name, nothing else. */
      if (copy.n > 0) {
        char *name = hr_strdup(copy.v[0].name);
        FUZZ_CHECK(name != NULL);
        size_t count = hr_headers_count(&copy, name);
        size_t n = copy.n;
        FUZZ_CHECK(hr_headers_remove(&copy, name) == count);
        FUZZ_CHECK(copy.n == n - count);
        FUZZ_CHECK(hr_headers_get(&copy, name) == NULL);
        check_list(&copy);
        free(name);
      }
      (void)hr_headers_has_token(&copy, "Connection", "close");
    }
    hr_headers_free(&copy);
  }
  hr_headers_free(&h);
  return 0;
}
