/* SPDX-License-Identifier: MIT */
/* Tests for lib/url.c: Location resolution, origins, schemes, request URLs. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "url.h"

#define BAD HTTPRESP_E_BAD_LOCATION

typedef struct resolve_row {
  const char *base;
  const char *ref;
  const char *want; /* NULL: expect `err` */
  int err;
} resolve_row;

static void check_resolve_len(const char *base, const char *ref, size_t len,
                              const char *want, int err) {
  /* ref need not be NUL-terminated: print at most len bytes of it, and only
   * a prefix of long inputs. */
  int rl = len > 120 ? 120 : (int)len;
  char *out = (char *)0x1; /* must be reset even on failure */
  int rc = hr_url_resolve(base, ref, len, &out);
  if (want) {
    cr_expect_eq(rc, 0, "resolve(%.120s, %.*s): rc %d", base, rl, ref, rc);
    if (rc == 0)
      cr_expect_str_eq(out, want, "resolve(%.120s, %.*s) = %s, want %s", base,
                       rl, ref, out, want);
  } else {
    cr_expect_eq(rc, err, "resolve(%.120s, %.*s): rc %d, want %d (got %.120s)",
                 base, rl, ref, rc, err, rc == 0 ? out : "-");
    cr_expect_null(rc == 0 ? NULL : out, "out not reset on failure");
  }
  if (rc == 0)
    free(out);
}

static void run_resolve(const resolve_row *rows, size_t n) {
  for (size_t i = 0; i < n; i++)
    check_resolve_len(rows[i].base, rows[i].ref, strlen(rows[i].ref),
                      rows[i].want, rows[i].err);
}

#define RFC_BASE "http://a/b/c/d;p?q"

/* RFC 3986 §5.4.1, all 23 normal examples. */
static const resolve_row rfc_normal[] = {
    {RFC_BASE, "g:h", "g:h", 0},
    {RFC_BASE, "g", "http://a/b/c/g", 0},
    {RFC_BASE, "./g", "http://a/b/c/g", 0},
    {RFC_BASE, "g/", "http://a/b/c/g/", 0},
    {RFC_BASE, "/g", "http://a/g", 0},
    {RFC_BASE, "//g", "http://g", 0},
    {RFC_BASE, "?y", "http://a/b/c/d;p?y", 0},
    {RFC_BASE, "g?y", "http://a/b/c/g?y", 0},
    {RFC_BASE, "#s", "http://a/b/c/d;p?q#s", 0},
    {RFC_BASE, "g#s", "http://a/b/c/g#s", 0},
    {RFC_BASE, "g?y#s", "http://a/b/c/g?y#s", 0},
    {RFC_BASE, ";x", "http://a/b/c/;x", 0},
    {RFC_BASE, "g;x", "http://a/b/c/g;x", 0},
    {RFC_BASE, "g;x?y#s", "http://a/b/c/g;x?y#s", 0},
    /* "" resolves to the base in the RFC; an empty Location is refused
     * here (DESIGN: a 3xx with an empty Location is the final answer). */
    {RFC_BASE, "", NULL, BAD},
    {RFC_BASE, ".", "http://a/b/c/", 0},
    {RFC_BASE, "./", "http://a/b/c/", 0},
    {RFC_BASE, "..", "http://a/b/", 0},
    {RFC_BASE, "../", "http://a/b/", 0},
    {RFC_BASE, "../g", "http://a/b/g", 0},
    {RFC_BASE, "../..", "http://a/", 0},
    {RFC_BASE, "../../", "http://a/", 0},
    {RFC_BASE, "../../g", "http://a/g", 0},
};

/* RFC 3986 §5.4.2, abnormal examples (strict parser). */
static const resolve_row rfc_abnormal[] = {
    {RFC_BASE, "../../../g", "http://a/g", 0},
    {RFC_BASE, "../../../../g", "http://a/g", 0},
    {RFC_BASE, "/./g", "http://a/g", 0},
    {RFC_BASE, "/../g", "http://a/g", 0},
    {RFC_BASE, "g.", "http://a/b/c/g.", 0},
    {RFC_BASE, ".g", "http://a/b/c/.g", 0},
    {RFC_BASE, "g..", "http://a/b/c/g..", 0},
    {RFC_BASE, "..g", "http://a/b/c/..g", 0},
    {RFC_BASE, "./../g", "http://a/b/g", 0},
    {RFC_BASE, "./g/.", "http://a/b/c/g/", 0},
    {RFC_BASE, "g/./h", "http://a/b/c/g/h", 0},
    {RFC_BASE, "g/../h", "http://a/b/c/h", 0},
    {RFC_BASE, "g;x=1/./y", "http://a/b/c/g;x=1/y", 0},
    {RFC_BASE, "g;x=1/../y", "http://a/b/c/y", 0},
    {RFC_BASE, "g?y/./x", "http://a/b/c/g?y/./x", 0},
    {RFC_BASE, "g?y/../x", "http://a/b/c/g?y/../x", 0},
    {RFC_BASE, "g#s/./x", "http://a/b/c/g#s/./x", 0},
    {RFC_BASE, "g#s/../x", "http://a/b/c/g#s/../x", 0},
    /* Strict: "http:g" is an http URL without a host, hence refused. */
    {RFC_BASE, "http:g", NULL, BAD},
};

static const resolve_row forms[] = {
    {"http://a/b/c", "http://other:8080/x", "http://other:8080/x", 0},
    {"http://a/b/c", "/a/b", "http://a/a/b", 0},
    {"http://a/b/c/d", "../c/./d", "http://a/b/c/d", 0},
    {"http://a/x/y/z", "../c/./d", "http://a/x/c/d", 0},
    {"http://a/b?x", "?y", "http://a/b?y", 0},
    {"http://a/b?x", "#f", "http://a/b?x#f", 0},
    {"https://a/b", "//host2/p", "https://host2/p", 0},
    {"http://a/b", "http://[::1]:8080/p", "http://[::1]:8080/p", 0},
    {"http://a/b", "http://[2001:db8::1]/", "http://[2001:db8::1]/", 0},
    {"http://a/b", "//[2001:DB8::1]/p", "http://[2001:DB8::1]/p", 0},
    {"http://[::1]:8080/a/b", "c", "http://[::1]:8080/a/c", 0},
    {"http://[::1]:8080/a/b", "/", "http://[::1]:8080/", 0},
    /* Empty paths, in the base and in the result. */
    {"http://a", "b", "http://a/b", 0},
    {"http://a", "?y", "http://a?y", 0},
    {"http://a", "#f", "http://a#f", 0},
    {"http://a/b", "http://c", "http://c", 0},
    {"http://a/b", "http://c?q", "http://c?q", 0},
    /* Case and ports are kept as sent; origins compare case-insensitively. */
    {"http://a/b", "HTTP://A.Example:80/X", "HTTP://A.Example:80/X", 0},
    {"http://a/b", "http://a:/x", "http://a:/x", 0},
    {"http://a/b", "http://a:65535/x", "http://a:65535/x", 0},
    {"http://a/b", "http://u:p@h/x", "http://u:p@h/x", 0},
    /* Dot segments of the base path are dropped too (as browsers do when
     * they parse the base), even for "?y" and "#f". */
    {"http://a/b/../c/./d?q", "?y", "http://a/c/d?y", 0},
    {"http://a/b/../c/./d?q", "#f", "http://a/c/d?q#f", 0},
    {"http://a/b/../c/./d?q", "e", "http://a/c/e", 0},
    {"http://a/../../x", "?y", "http://a/x?y", 0},
    /* Surrounding spaces are trimmed. */
    {"http://a/b", "  /x  ", "http://a/x", 0},
};

static const resolve_row fragments[] = {
    {"http://a/b#frag", "/x", "http://a/x#frag", 0},
    {"http://a/b#frag", "?q", "http://a/b?q#frag", 0},
    {"http://a/b#frag", "//c/d", "http://c/d#frag", 0},
    {"http://a/b#frag", "https://c/d", "https://c/d#frag", 0},
    {"http://a/b#frag", "/x#", "http://a/x#", 0},
    {"http://a/b#frag", "/x#y", "http://a/x#y", 0},
    {"http://a/b#frag", "#", "http://a/b#", 0},
    {"http://a/b#frag", "#other", "http://a/b#other", 0},
    {"http://a/b#", "/x", "http://a/x#", 0},
    {"http://a/b#f%20g", "/x", "http://a/x#f%20g", 0},
    {"http://a/b", "/x", "http://a/x", 0},
};

static const resolve_row encoding[] = {
    /* Valid percent-encodings are kept byte for byte. */
    {"http://a/b", "/a%2Fb%7e", "http://a/a%2Fb%7e", 0},
    {"http://a/b", "/%7E%7e?q=%2f#%41", "http://a/%7E%7e?q=%2f#%41", 0},
    {"http://a/b", "/%2e%2e/x", "http://a/%2e%2e/x", 0},
    /* A '%' not starting a valid escape is taken literally: "%25". */
    {"http://a/b/c", "%zz", "http://a/b/%25zz", 0},
    {"http://a/b/c", "%", "http://a/b/%25", 0},
    {"http://a/b/c", "/%4", "http://a/%254", 0},
    {"http://a/b/c", "/x?%g1", "http://a/x?%25g1", 0},
    /* Non-ASCII and space: %XX, upper-case hex. */
    {"http://a/b", "/caf\xc3\xa9", "http://a/caf%C3%A9", 0},
    {"http://a/b", "/\xff\x80?\xfe#\xfd", "http://a/%FF%80?%FE#%FD", 0},
    {"http://a/b", "/a b?c d#e f", "http://a/a%20b?c%20d#e%20f", 0},
    /* The WHATWG URL-code-point-invalid printable set. */
    {"http://a/b", "/\"<>`{}|\\^", "http://a/%22%3C%3E%60%7B%7D%7C%5C%5E", 0},
    /* Brackets outside the authority, extra '#'. */
    {"http://a/b", "/p?a[]=1&b[x]=2", "http://a/p?a%5B%5D=1&b%5Bx%5D=2", 0},
    {"http://a/b", "/p[1]", "http://a/p%5B1%5D", 0},
    {"http://a/b", "#a#b", "http://a/b#a%23b", 0},
    /* Backslashes are path bytes, never separators: no origin change. */
    {"http://a/b/c", "\\\\evil.com", "http://a/b/%5C%5Cevil.com", 0},
    {"http://a/b/c", "/\\evil.com/", "http://a/%5Cevil.com/", 0},
    {"http://a/b/c", "\\/evil.com", "http://a/b/%5C/evil.com", 0},
    /* The base gets the same treatment. */
    {"http://a/caf\xc3\xa9/x", "y", "http://a/caf%C3%A9/y", 0},
};

static const resolve_row other_schemes[] = {
    {"http://a/b", "ftp://x/y", "ftp://x/y", 0},
    {"http://a/b", "javascript:alert(1)", "javascript:alert(1)", 0},
    {"http://a/b", "data:text/plain,x", "data:text/plain,x", 0},
    {"http://a/b", "mailto:a@b.example", "mailto:a@b.example", 0},
    {"http://a/b", "file:///etc/passwd", "file:///etc/passwd", 0},
    {"http://a/b", "ws://h:1/s", "ws://h:1/s", 0},
    {"http://a/b", "foo:a/../b", "foo:b", 0},
    {"ftp://x/a/b", "c", "ftp://x/a/c", 0},
    /* An ambiguous recomposition ("foo:" + path "//evil") is refused. */
    {"foo:x", "//", "foo://", 0},
    {"foo:/a", "/.//evil", NULL, BAD},
    {"foo:/a/b", "..//evil", NULL, BAD},
};

static const resolve_row refused[] = {
    {"http://a/b", "http://", NULL, BAD},
    {"http://a/b", "https://", NULL, BAD},
    {"http://a/b", "http:", NULL, BAD},
    {"http://a/b", "http:/x", NULL, BAD},
    {"http://a/b", "http:///x", NULL, BAD},
    {"http://a/b", "//", NULL, BAD},
    {"http://a/b", "///x", NULL, BAD},
    {"http://a/b", "http:\\\\evil.com", NULL, BAD},
    {"http://a/b", "http://[::1/", NULL, BAD},
    {"http://a/b", "http://[::1", NULL, BAD},
    {"http://a/b", "http://[zz::1]/", NULL, BAD},
    {"http://a/b", "http://[v1.x]/", NULL, BAD},
    {"http://a/b", "http://::1/", NULL, BAD},
    {"http://a/b", "http://exa mple.com/", NULL, BAD},
    {"http://a/b", "http://exa%20mple.com/", NULL, BAD},
    {"http://a/b", "http://exa{mple.com/", NULL, BAD},
    {"http://a/b", "http://caf\xc3\xa9.example/", NULL, BAD},
    {"http://a/b", "http://a:99999/", NULL, BAD},
    {"http://a/b", "http://a:65536/", NULL, BAD},
    {"http://a/b", "http://a:123456789012345678901234567890/", NULL, BAD},
    {"http://a/b", "http://a:8x/", NULL, BAD},
    {"http://a/b", "http://a:-1/", NULL, BAD},
    {"http://a/b", "http://u@a@b/", NULL, BAD},
    {"http://a/b", "1a:b", NULL, BAD},
    {"http://a/b", " ", NULL, BAD},
    {"http://a/b", "   ", NULL, BAD},
    /* Control bytes anywhere. */
    {"http://a/b", "/x\r\nSet-Cookie: a=b", NULL, BAD},
    {"http://a/b", "/x\n", NULL, BAD},
    {"http://a/b", "\r/x", NULL, BAD},
    {"http://a/b", "/x\ty", NULL, BAD},
    {"http://a/b", "/x\x7f", NULL, BAD},
    {"http://a/b", "/x\x1b[0m", NULL, BAD},
    {"http://a/b", "http://a\x01.com/", NULL, BAD},
    /* Bad bases. */
    {"", "/x", NULL, BAD},
    {"relative/path", "/x", NULL, BAD},
    {"/abs", "x", NULL, BAD},
    {"http://a/b\r\n", "x", NULL, BAD},
    {"http://[::1/", "x", NULL, BAD},
    /* The base's missing host is not filled from nowhere. */
    {"http:/a", "b", NULL, BAD},
};

Test(url_resolve, rfc3986_normal_examples) {
  cr_assert_eq(HR_ARRAY_LEN(rfc_normal), 23);
  run_resolve(rfc_normal, HR_ARRAY_LEN(rfc_normal));
}

Test(url_resolve, rfc3986_abnormal_examples) {
  run_resolve(rfc_abnormal, HR_ARRAY_LEN(rfc_abnormal));
}

Test(url_resolve, reference_forms) { run_resolve(forms, HR_ARRAY_LEN(forms)); }

Test(url_resolve, fragment_inheritance) {
  run_resolve(fragments, HR_ARRAY_LEN(fragments));
}

Test(url_resolve, percent_encoding) {
  run_resolve(encoding, HR_ARRAY_LEN(encoding));
}

Test(url_resolve, other_schemes) {
  run_resolve(other_schemes, HR_ARRAY_LEN(other_schemes));
}

Test(url_resolve, refused) { run_resolve(refused, HR_ARRAY_LEN(refused)); }

Test(url_resolve, bad_arguments) {
  char *out = NULL;
  cr_expect_eq(hr_url_resolve(NULL, "/x", 2, &out), BAD);
  cr_expect_null(out);
  cr_expect_eq(hr_url_resolve("http://a/", NULL, 0, &out), BAD);
  cr_expect_eq(hr_url_resolve("http://a/", "/x", 2, NULL), BAD);
  cr_expect_eq(hr_url_resolve("http://a/", "/x", 0, &out), BAD);
}

Test(url_resolve, reads_only_reflen) {
  /* Bytes after reflen are not part of the reference. */
  check_resolve_len("http://a/b", "/x\r\nGARBAGE", 2, "http://a/x", 0);
  check_resolve_len("http://a/b", "/x#frag", 2, "http://a/x", 0);
  /* No NUL terminator at all: a heap buffer sized exactly reflen, so ASan
   * reports any read past it. */
  char *p = malloc(4);
  cr_assert_not_null(p);
  memcpy(p, "/abc", 4);
  check_resolve_len("http://a/b", p, 4, "http://a/abc", 0);
  free(p);
}

Test(url_resolve, nul_inside_reflen) {
  check_resolve_len("http://a/b", "/a\0b", 4, NULL, BAD);
  check_resolve_len("http://a/b", "\0", 1, NULL, BAD);
  check_resolve_len("http://a/b", "http://evil\0.a/", 15, NULL, BAD);
}

Test(url_resolve, length_limits) {
  size_t big = 100 * 1024;
  char *ref = malloc(big);
  cr_assert_not_null(ref);
  ref[0] = '/';
  memset(ref + 1, 'a', big - 1);
  check_resolve_len("http://a/b", ref, big, NULL, BAD);
  /* Exactly at the limit once resolved: accepted; one more byte: refused. */
  const char *base = "http://a/b";
  size_t path = HR_URL_MAX - strlen("http://a");
  char *out = NULL;
  cr_expect_eq(hr_url_resolve(base, ref, path, &out), 0);
  if (out)
    cr_expect_eq(strlen(out), (size_t)HR_URL_MAX);
  free(out);
  check_resolve_len(base, ref, path + 1, NULL, BAD);
  /* Encoding can triple a short-enough reference past the limit. */
  memset(ref + 1, '<', big - 1);
  check_resolve_len(base, ref, HR_URL_MAX / 2, NULL, BAD);
  /* The result, not only the reference, is bounded: long base + long
   * query. */
  char *lbase = malloc(HR_URL_MAX);
  cr_assert_not_null(lbase);
  memcpy(lbase, "http://a/", 9);
  memset(lbase + 9, 'b', HR_URL_MAX - 10);
  lbase[HR_URL_MAX - 1] = '\0';
  memset(ref, 'c', big);
  ref[0] = '?';
  check_resolve_len(lbase, ref, 64, NULL, BAD);
  check_resolve_len(lbase, "#f", 2, NULL, BAD);
  /* A base longer than HR_URL_MAX is refused before parsing. */
  char *hbase = malloc(big + 1);
  cr_assert_not_null(hbase);
  memcpy(hbase, "http://a/", 9);
  memset(hbase + 9, 'b', big - 9);
  hbase[big] = '\0';
  check_resolve_len(hbase, "/x", 2, NULL, BAD);
  free(hbase);
  free(lbase);
  free(ref);
}

Test(url_resolve, deep_dot_segments) {
  /* Many segments and many ".." stay linear and end at the root. */
  hr_buf b;
  hr_buf_init(&b);
  for (int i = 0; i < 8000; i++)
    cr_assert_eq(hr_buf_append_str(&b, "../"), 0);
  cr_assert_eq(hr_buf_append_str(&b, "g"), 0);
  check_resolve_len("http://a/b/c", b.data, b.len, "http://a/g", 0);
  hr_buf_reset(&b);
  for (int i = 0; i < 16000; i++)
    cr_assert_eq(hr_buf_append_str(&b, "/."), 0);
  check_resolve_len("http://a/b/c", b.data, b.len, "http://a/", 0);
  hr_buf_free(&b);
}

/* A small deterministic generator: the same bytes on every run. */
static uint32_t rng_next(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static void random_ref(uint32_t *seed, char *buf, size_t *len) {
  static const char alpha[] = "abc:/?#[]@%.-+~!$&'()*,;=  \\\"<>{}|^`09AFz";
  static const char *const pieces[] = {
      "http://", "https://", "//", "../", "./",      "[::1]",
      ":8080",   "%2F",      "#",  "?",   "@",       "http:",
      "%",       "%z",       "[",  "]",   "\xc3\xa9"};
  size_t n = 0, want = rng_next(seed) % 40;
  while (n < want) {
    uint32_t r = rng_next(seed);
    if (r % 4 == 0) {
      const char *p = pieces[(r >> 8) % HR_ARRAY_LEN(pieces)];
      size_t pl = strlen(p);
      if (n + pl > 64)
        break;
      memcpy(buf + n, p, pl);
      n += pl;
    } else if (r % 17 == 1) {
      buf[n++] = (char)(r >> 8); /* any byte, NUL and controls included */
    } else {
      buf[n++] = alpha[(r >> 8) % (sizeof(alpha) - 1)];
    }
  }
  *len = n;
}

static int has_bad_byte(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c <= 0x20 || c >= 0x7F || strchr("\"<>`{}|\\^", c))
      return 1;
  }
  return 0;
}

Test(url_resolve, random_bytes) {
  static const char *const bases[] = {"http://a/b/c/d;p?q",
                                      "https://[::1]:8443/x#f", "http://a",
                                      "ftp://u@h/p/q/", "foo:bar"};
  uint32_t seed = 0x9E3779B9u;
  char ref[80];
  size_t ok = 0;
  for (int i = 0; i < 30000; i++) {
    size_t len;
    random_ref(&seed, ref, &len);
    const char *base = bases[(size_t)i % HR_ARRAY_LEN(bases)];
    char *out = NULL;
    int rc = hr_url_resolve(base, ref, len, &out);
    cr_assert(rc == 0 || rc == BAD, "rc %d", rc);
    if (rc)
      continue;
    ok++;
    cr_assert_not_null(out);
    cr_assert(!has_bad_byte(out), "unencoded byte in %s", out);
    cr_assert_leq(strlen(out), (size_t)HR_URL_MAX);
    /* What we produce is absolute and stable: resolving it again (against
     * a base without fragment) gives it back unchanged. */
    char *again = NULL;
    cr_assert_eq(hr_url_resolve("http://z/", out, strlen(out), &again), 0,
                 "re-resolve of %s", out);
    cr_assert_str_eq(again, out);
    free(again);
    char scheme[32];
    cr_assert_eq(hr_url_scheme(out, scheme, sizeof(scheme)), 0);
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
      hr_origin o;
      cr_assert_eq(hr_origin_from_url(out, &o), 0, "origin of %s", out);
      hr_origin_free(&o);
      cr_assert_eq(hr_url_check_request(out), 0, "check_request(%s)", out);
    }
    free(out);
  }
  cr_expect_gt(ok, 1000); /* the generator does reach the success paths */
}

Test(url_resolve, random_bases) {
  uint32_t seed = 12345;
  char buf[81];
  for (int i = 0; i < 10000; i++) {
    size_t len;
    random_ref(&seed, buf, &len);
    buf[len] = '\0';
    char *out = NULL;
    int rc = hr_url_resolve(buf, "../x?y", 6, &out);
    cr_assert(rc == 0 || rc == BAD);
    free(out);
    hr_origin o;
    rc = hr_origin_from_url(buf, &o);
    cr_assert(rc == 0 || rc == HTTPRESP_E_BAD_URL);
    if (rc == 0)
      hr_origin_free(&o);
    rc = hr_url_check_request(buf);
    cr_assert(rc == 0 || rc == HTTPRESP_E_BAD_URL);
  }
}

/* ---- origins ------------------------------------------------------- */

typedef struct origin_row {
  const char *url;
  const char *scheme; /* NULL: expect HTTPRESP_E_BAD_URL */
  const char *host;
  unsigned port;
} origin_row;

static const origin_row origins[] = {
    {"http://a/", "http", "a", 80},
    {"http://a", "http", "a", 80},
    {"https://a/", "https", "a", 443},
    {"ws://a/", "ws", "a", 80},
    {"wss://a/", "wss", "a", 443},
    {"ftp://a/", "ftp", "a", 21},
    {"gopher://a/", "gopher", "a", 0},
    {"HTTP://WWW.Example.COM:8080/X", "http", "www.example.com", 8080},
    {"http://a:80/", "http", "a", 80},
    {"https://a:80/", "https", "a", 80},
    {"http://a:/", "http", "a", 80},
    {"http://a:0/", "http", "a", 0},
    {"http://a:65535/", "http", "a", 65535},
    {"http://a:0000080/", "http", "a", 80},
    {"http://user:pass@a:81/", "http", "a", 81},
    {"http://[::1]/", "http", "::1", 80},
    {"http://[2001:DB8::Ab]:8443/p", "http", "2001:db8::ab", 8443},
    {"http://127.0.0.1:8/", "http", "127.0.0.1", 8},
    {"http://a/b?c#d", "http", "a", 80},
    {"http://a:65536/", NULL, NULL, 0},
    {"http://a:99999999999999999999/", NULL, NULL, 0},
    {"http://a:x/", NULL, NULL, 0},
    {"http://a:-1/", NULL, NULL, 0},
    {"http://", NULL, NULL, 0},
    {"http:///p", NULL, NULL, 0},
    {"http:x", NULL, NULL, 0},
    {"file:///etc/passwd", NULL, NULL, 0},
    {"data:text/plain,x", NULL, NULL, 0},
    {"//a/", NULL, NULL, 0},
    {"/a", NULL, NULL, 0},
    {"", NULL, NULL, 0},
    {"http://a\r\n/", NULL, NULL, 0},
    {"http://exa%20mple/", NULL, NULL, 0},
    {"http://[::1/", NULL, NULL, 0},
};

Test(url_origin, table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(origins); i++) {
    const origin_row *r = &origins[i];
    hr_origin o = {(char *)"junk", (char *)"junk", 7};
    int rc = hr_origin_from_url(r->url, &o);
    if (!r->scheme) {
      cr_expect_eq(rc, HTTPRESP_E_BAD_URL, "%s: rc %d", r->url, rc);
      cr_expect_null(o.scheme, "%s: scheme not reset", r->url);
      cr_expect_null(o.host, "%s: host not reset", r->url);
      continue;
    }
    cr_expect_eq(rc, 0, "%s: rc %d", r->url, rc);
    if (rc)
      continue;
    cr_expect_str_eq(o.scheme, r->scheme, "%s", r->url);
    cr_expect_str_eq(o.host, r->host, "%s", r->url);
    cr_expect_eq(o.port, r->port, "%s: port %u", r->url, o.port);
    hr_origin_free(&o);
    cr_expect_null(o.scheme);
    hr_origin_free(&o); /* twice is harmless */
  }
  cr_expect_eq(hr_origin_from_url(NULL, NULL), HTTPRESP_E_BAD_URL);
  hr_origin o;
  cr_expect_eq(hr_origin_from_url(NULL, &o), HTTPRESP_E_BAD_URL);
  hr_origin_free(NULL);
}

typedef struct pair_row {
  const char *a, *b;
  int same; /* 1, 0 or -1 */
} pair_row;

static const pair_row pairs[] = {
    {"http://a/", "http://a/x?y#z", 1},
    {"http://a:80/", "http://a/", 1},
    {"https://a:443/", "https://a/", 1},
    {"http://A/", "HTTP://a/", 1},
    {"http://u:p@a/", "http://a/", 1},
    {"http://[::1]:80/", "http://[::1]/", 1},
    {"http://[ABCD::1]/", "http://[abcd::1]/", 1},
    {"http://a/", "https://a/", 0},
    {"https://a/", "http://a:443/", 0},
    {"http://a/", "http://a:8080/", 0},
    {"http://a/", "http://b/", 0},
    {"http://a/", "http://a./", 0},
    {"http://a.example/", "http://sub.a.example/", 0},
    {"http://[::1]/", "http://127.0.0.1/", 0},
    {"http://a/", "ws://a/", 0},
    {"http://a/", "not a url", -1},
    {"http://a/", "data:x", -1},
    {"http://a:99999/", "http://a/", -1},
    {NULL, "http://a/", -1},
};

Test(url_origin, same_origin_pairs) {
  for (size_t i = 0; i < HR_ARRAY_LEN(pairs); i++) {
    const pair_row *r = &pairs[i];
    cr_expect_eq(hr_url_same_origin(r->a, r->b), r->same, "(%s, %s)", r->a,
                 r->b);
    cr_expect_eq(hr_url_same_origin(r->b, r->a), r->same, "(%s, %s)", r->b,
                 r->a);
    /* The exported test is the library's own. */
    cr_expect_eq(httpresp_same_origin(r->a, r->b), r->same, "(%s, %s)", r->a,
                 r->b);
    cr_expect_eq(httpresp_same_origin(r->b, r->a), r->same, "(%s, %s)", r->b,
                 r->a);
  }
}

Test(url_origin, equal_and_key) {
  static const struct {
    const char *url, *key;
  } rows[] = {
      {"http://a/", "http://a:80"},
      {"HTTPS://Ex.COM/x", "https://ex.com:443"},
      {"http://a:8080/", "http://a:8080"},
      {"gopher://h/", "gopher://h:0"},
      {"http://[2001:DB8::1]:81/", "http://[2001:db8::1]:81"},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++) {
    hr_origin o;
    cr_assert_eq(hr_origin_from_url(rows[i].url, &o), 0);
    char *k = hr_origin_key(&o);
    cr_expect_str_eq(k, rows[i].key);
    free(k);
    cr_expect(hr_origin_equal(&o, &o));
    hr_origin_free(&o);
  }
  hr_origin a, b;
  cr_assert_eq(hr_origin_from_url("http://a/", &a), 0);
  cr_assert_eq(hr_origin_from_url("http://a:81/", &b), 0);
  cr_expect_not(hr_origin_equal(&a, &b));
  cr_expect_not(hr_origin_equal(&a, NULL));
  hr_origin_free(&b);
  hr_origin empty = {NULL, NULL, 0};
  cr_expect_not(hr_origin_equal(&a, &empty));
  cr_expect_null(hr_origin_key(&empty));
  cr_expect_null(hr_origin_key(NULL));
  hr_origin_free(&a);
}

/* ---- request URLs -------------------------------------------------- */

typedef struct check_row {
  const char *url;
  int ok;
} check_row;

static const check_row checks[] = {
    {"http://a/", 1},
    {"https://a/", 1},
    {"http://a", 1},
    {"HTTPS://Example.COM:8443/p?q=1#f", 1},
    {"http://u:p@a/", 1},
    {"http://[::1]:8080/", 1},
    {"http://127.0.0.1/", 1},
    {"http://a/%2F%7e", 1},
    {"http://a/caf\xc3\xa9", 1}, /* non-ASCII: sent as given */
    {"http://a/p?x[]=1|2", 1},   /* browser-lenient bytes */
    {"http://a/%zz", 1},         /* a literal '%' */
    {"ftp://a/", 0},
    {"ws://a/", 0},
    {"file:///etc/passwd", 0},
    {"javascript:alert(1)", 0},
    {"//a/", 0},
    {"/a", 0},
    {"a", 0},
    {"", 0},
    {"http://", 0},
    {"http:///a", 0},
    {"http:a", 0},
    {"http://a b/", 0},
    {"http://a/b c", 0},
    {" http://a/", 0},
    {"http://a/\r\n", 0},
    {"http://a/\tb", 0},
    {"http://a/\x7f", 0},
    {"http://a:65536/", 0},
    {"http://a:x/", 0},
    {"http://[::1/", 0},
    {"http://exa%20mple/", 0},
    {"http://[v1.x]/", 0},
};

Test(url_check_request, table) {
  for (size_t i = 0; i < HR_ARRAY_LEN(checks); i++)
    cr_expect_eq(hr_url_check_request(checks[i].url),
                 checks[i].ok ? 0 : HTTPRESP_E_BAD_URL, "%s", checks[i].url);
  cr_expect_eq(hr_url_check_request(NULL), HTTPRESP_E_BAD_URL);
}

Test(url_check_request, length) {
  char *u = malloc(HR_URL_MAX + 2);
  cr_assert_not_null(u);
  memcpy(u, "http://a/", 9);
  memset(u + 9, 'x', HR_URL_MAX - 9);
  u[HR_URL_MAX] = '\0';
  cr_expect_eq(hr_url_check_request(u), 0);
  u[HR_URL_MAX] = 'x';
  u[HR_URL_MAX + 1] = '\0';
  cr_expect_eq(hr_url_check_request(u), HTTPRESP_E_BAD_URL);
  free(u);
}

/* ---- schemes and fragments ----------------------------------------- */

Test(url_scheme, extract) {
  static const struct {
    const char *url, *scheme; /* NULL: -1 */
  } rows[] = {
      {"http://a/", "http"},
      {"HTTPS://a/", "https"},
      {"Svn+SSH://h/", "svn+ssh"},
      {"javascript:alert(1)", "javascript"},
      {"data:,x", "data"},
      {"a:", "a"},
      {"//a/", NULL},
      {"/a:b", NULL},
      {"1http://a/", NULL},
      {":a", NULL},
      {"http//a", NULL},
      {"", NULL},
      {"ht tp://a", NULL},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++) {
    char buf[16];
    int rc = hr_url_scheme(rows[i].url, buf, sizeof(buf));
    if (!rows[i].scheme) {
      cr_expect_eq(rc, -1, "%s", rows[i].url);
      continue;
    }
    cr_expect_eq(rc, 0, "%s", rows[i].url);
    if (rc == 0)
      cr_expect_str_eq(buf, rows[i].scheme);
  }
  char small[5];
  cr_expect_eq(hr_url_scheme("http://a/", small, sizeof(small)), 0);
  cr_expect_str_eq(small, "http");
  cr_expect_eq(hr_url_scheme("https://a/", small, sizeof(small)), -1);
  cr_expect_eq(hr_url_scheme("http://a/", small, 0), -1);
  cr_expect_eq(hr_url_scheme("http://a/", NULL, 4), -1);
  cr_expect_eq(hr_url_scheme(NULL, small, sizeof(small)), -1);
}

Test(url_scheme, in_list) {
  static const struct {
    const char *scheme, *list;
    int in;
  } rows[] = {
      {"http", "http,https", 1},   {"https", "http,https", 1},
      {"HTTPS", "http, https", 1}, {"https", " http ,\tHTTPS\t", 1},
      {"ftp", "http,https", 0},    {"http", "https", 0},
      {"https", "http", 0},        {"http", "", 0},
      {"http", ",,http,", 1},      {"", "http,,https", 0},
      {"ht", "http", 0},           {"http", "ht,tp", 0},
      {"ws", "wss,ws", 1},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++)
    cr_expect_eq(hr_scheme_in_list(rows[i].scheme, rows[i].list), rows[i].in,
                 "%s in \"%s\"", rows[i].scheme, rows[i].list);
  cr_expect_eq(hr_scheme_in_list(NULL, "http"), 0);
  cr_expect_eq(hr_scheme_in_list("http", NULL), 0);
}

Test(url_fragment, without_fragment) {
  static const struct {
    const char *url, *want;
  } rows[] = {
      {"http://a/b#c", "http://a/b"},
      {"http://a/b?q#c#d", "http://a/b?q"},
      {"http://a/b#", "http://a/b"},
      {"http://a/b", "http://a/b"},
      {"#x", ""},
      {"", ""},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++) {
    char *s = hr_url_without_fragment(rows[i].url);
    cr_assert_not_null(s);
    cr_expect_str_eq(s, rows[i].want);
    free(s);
  }
  cr_expect_null(hr_url_without_fragment(NULL));
}

/* The one-pass scan in hr_url_check_request must never accept what the
 * full parse refuses: random URLs over an alphabet rich in edge bytes. */
Test(url, request_check_fast_path_agrees_with_the_parser) {
  static const char alphabet[] = "aZ09.-_~:/?#[]@%!$&'()*+,;= \"<>\\^`{|}Fh";
  static const char *const prefixes[] = {"http://", "https://", "HTTP://",
                                         "http:/",  "http://:", "https:"};
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  char buf[96];
  for (int round = 0; round < 200000; round++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    const char *pre = prefixes[seed % 6];
    size_t plen = strlen(pre);
    memcpy(buf, pre, plen);
    size_t len = plen + (size_t)((seed >> 8) % 40);
    uint64_t r = seed;
    for (size_t i = plen; i < len; i++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      buf[i] = alphabet[(r >> 33) % (sizeof(alphabet) - 1)];
    }
    buf[len] = '\0';
    int fast = hr_url_check_request(buf);
    int full = hr_url_check_request_parsed(buf);
    if ((fast == 0) != (full == 0))
      cr_assert_fail("disagree on \"%s\": fast %d, parser %d", buf, fast,
                     full);
  }
}

/* hr_url_resolve answers common references without the parser; whatever
 * it answers must be exactly the parser's answer.  Random bases and
 * references over an alphabet rich in dots, escapes and edge bytes, with
 * shapes that hit the shortcut (absolute paths, absolute URLs) and that
 * miss it (network paths, relative paths, dot segments). */
static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void random_text(uint64_t *seed, char *out, size_t len) {
  static const char alphabet[] = "aZ09./..%2e%2E%41%g?#/:@~!$&'()*+,;=[] \\^";
  for (size_t i = 0; i < len; i++)
    out[i] = alphabet[xorshift(seed) % (sizeof(alphabet) - 1)];
  out[len] = '\0';
}

Test(url, resolve_shortcut_agrees_with_the_parser) {
  static const char *const bases[] = {"http://h", "http://h.example:8080",
                                      "HTTPS://H.Example", "https://h:1"};
  static const char *const ref_starts[] = {"/", "//", "http://o", "https://o",
                                           "HTTP://O:99", "", "?", "#",
                                           "./", "../", "/./", "/a/.."};
  uint64_t seed = 0xD1B54A32D192ED03ull;
  char tail[48], base[128], ref[128];
  size_t shortcut = 0;
  for (int round = 0; round < 100000; round++) {
    uint64_t r = xorshift(&seed);
    random_text(&seed, tail, r % 24);
    snprintf(base, sizeof(base), "%s%s", bases[(r >> 8) % 4], tail);
    random_text(&seed, tail, (r >> 16) % 24);
    snprintf(ref, sizeof(ref), "%s%s",
             ref_starts[(r >> 24) % HR_ARRAY_LEN(ref_starts)], tail);
    if (hr_url_check_request(base) != 0)
      continue; /* bases are request URLs or earlier results */
    char *fast = NULL, *full = NULL;
    int rf = hr_url_resolve(base, ref, strlen(ref), &fast);
    int rp = hr_url_resolve_parsed(base, ref, strlen(ref), &full);
    if (rf != rp || (fast && strcmp(fast, full) != 0))
      cr_assert_fail("\"%s\" against \"%s\": shortcut %d \"%s\", parser %d "
                     "\"%s\"", ref, base, rf, fast ? fast : "", rp,
                     full ? full : "");
    shortcut += rf == 0 && ref[0] == '/' && ref[1] != '/';
    free(fast);
    free(full);
  }
  cr_expect_gt(shortcut, 1000u, "the shortcut was hardly exercised");
}

Test(url, resolve_shortcut_table) {
  static const struct {
    const char *base, *ref, *want;
  } rows[] = {
      {"http://h/a/b?q#f", "/c?d", "http://h/c?d#f"},
      {"http://h/a#f", "/c#g", "http://h/c#g"},
      {"http://h:8080", "/x", "http://h:8080/x"},
      {"https://h/a", "http://o/p?q", "http://o/p?q"},
      {"https://h/a#keep", "https://o/p", "https://o/p#keep"},
      {"http://h/a", "/b/../c", "http://h/c"},
      {"http://h/a/b", "c", "http://h/a/c"},
      {"http://h/a", "//o/p", "http://o/p"},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++) {
    char *out = NULL;
    cr_assert_eq(hr_url_resolve(rows[i].base, rows[i].ref,
                                strlen(rows[i].ref), &out),
                 0, "row %zu", i);
    cr_expect_str_eq(out, rows[i].want, "row %zu", i);
    free(out);
  }
}

/* RFC 3986 §6.2.2-6.2.3 normal form, as loop detection compares URLs. */
Test(url_normalize, table) {
  static const struct {
    const char *in;
    const char *want;
  } rows[] = {
      /* already normal: unchanged (the fragment goes) */
      {"http://h/a", "http://h/a"},
      {"http://h/a?q=1#frag", "http://h/a?q=1"},
      {"https://h:8443/a", "https://h:8443/a"},
      /* §6.2.2.1 case of scheme and host, not of the path */
      {"HTTP://H/a", "http://h/a"},
      {"hTTp://Example.COM/Path", "http://example.com/Path"},
      /* §6.2.3 default port, empty port, empty path */
      {"http://h:80/a", "http://h/a"},
      {"HTTP://H:80/a", "http://h/a"},
      {"https://h:443/a", "https://h/a"},
      {"http://h:443/a", "http://h:443/a"},
      {"https://h:80/a", "https://h:80/a"},
      {"http://h:0080/a", "http://h/a"},
      {"http://h:/a", "http://h/a"},
      {"http://h", "http://h/"},
      {"http://h:80", "http://h/"},
      {"http://h?q", "http://h/?q"},
      {"http://h#f", "http://h/"},
      /* §6.2.2.2 percent-encoding: upper-case hex, unreserved decoded */
      {"http://h/%7euser", "http://h/~user"},
      {"http://h/%7Euser", "http://h/~user"},
      {"http://h/a%2fb", "http://h/a%2Fb"},
      {"http://h/%41%42c", "http://h/ABc"},
      {"http://h/a?x=%7e", "http://h/a?x=~"},
      /* §6.2.2.3 dot segments */
      {"http://h/a/./b", "http://h/a/b"},
      {"http://h/a/../b", "http://h/b"},
      {"http://h/../../a", "http://h/a"},
      {"http://h/a/b/..", "http://h/a/"},
      /* IPv6 literals keep their brackets; the port after them goes */
      {"http://[::1]:80/a", "http://[::1]/a"},
      {"http://[::1]:8080/a", "http://[::1]:8080/a"},
      {"http://[::1]/a", "http://[::1]/a"},
      {"http://127.0.0.1:80/", "http://127.0.0.1/"},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++) {
    char *out = NULL;
    int rc = hr_url_normalize(rows[i].in, &out);
    cr_expect_eq(rc, 0, "%s: rc %d", rows[i].in, rc);
    if (!rc)
      cr_expect_str_eq(out, rows[i].want, "%s -> %s, want %s", rows[i].in, out,
                       rows[i].want);
    free(out);
  }
  /* Without an authority a URL compares as written: normalising
   * "a:/..//b" would give "a://b", which has one (found by fuzz_url). */
  static const char *const as_written[] = {"a:/..//b", "t:.///x",
                                           "mailto:A@B"};
  for (size_t i = 0; i < HR_ARRAY_LEN(as_written); i++) {
    char *o = NULL;
    cr_expect_eq(hr_url_normalize(as_written[i], &o), 0);
    cr_expect_str_eq(o, as_written[i]);
    free(o);
  }
  char *out = (char *)0x1;
  cr_expect_eq(hr_url_normalize("not a url", &out), HTTPRESP_E_BAD_URL);
  cr_expect_null(out);
}

/* The one-pass judgement never vouches for a URL the full normalisation
 * would change. */
Test(url_normalize, plain_shape_agrees_with_the_parser) {
  static const char *const urls[] = {
      "http://h/a",       "http://h/a?b#c",  "https://h:8443/x",
      "http://h:80/a",    "https://h:443/a", "http://h:0/a",
      "http://H/a",       "HTTP://h/a",      "http://h",
      "http://h?x",       "http://h/%7e",    "http://h/a/./b",
      "http://h/.x",      "http://h/a/..",   "http://127.0.0.1:8080/p",
      "http://h:08080/a", "http://h/a?%41",  "http://h/A/B",
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(urls); i++) {
    if (!hr_url_plainly_normal(urls[i]))
      continue;
    char *out = NULL;
    cr_assert_eq(hr_url_normalize(urls[i], &out), 0);
    size_t n = strcspn(urls[i], "#");
    cr_expect(strlen(out) == n && strncmp(out, urls[i], n) == 0,
              "%s vouched for, normalised to %s", urls[i], out);
    free(out);
  }
  cr_expect(hr_url_plainly_normal("http://h/a"));
  cr_expect_not(hr_url_plainly_normal("http://h:80/a"));
  cr_expect_not(hr_url_plainly_normal("http://H/a"));
}

Test(url_userinfo, in_the_reference_itself) {
  static const struct {
    const char *ref;
    int has;
  } rows[] = {
      {"http://user:pw@other/", 1},
      {"http://user@other/", 1},
      {"//user:pw@other/x", 1},
      {"  http://u@h/", 1},
      {"https://@h/", 1},
      {"http://evil.com\\@good.com/", 1},
      {"http://h/a@b", 0},
      {"http://h/?x=@", 0},
      {"http://h/#@", 0},
      {"/path@x", 0},
      {"mailto:a@b", 0},
      {"a@b/c", 0},
      {"", 0},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(rows); i++)
    cr_expect_eq(hr_url_ref_has_userinfo(rows[i].ref, strlen(rows[i].ref)),
                 rows[i].has, "%s", rows[i].ref);
  /* Only the given length counts. */
  cr_expect_eq(hr_url_ref_has_userinfo("http://h@x/", 8), 0);

  static const struct {
    const char *in, *want;
  } strip[] = {
      {"http://user:pw@h/a", "http://h/a"},
      {"http://u@h:8080/a?b@c", "http://h:8080/a?b@c"},
      {"http://h/a@b", "http://h/a@b"},
      {"https://u:p@[::1]:8443", "https://[::1]:8443"},
  };
  for (size_t i = 0; i < HR_ARRAY_LEN(strip); i++) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", strip[i].in);
    hr_url_strip_userinfo(buf);
    cr_expect_str_eq(buf, strip[i].want);
  }
}
