/* SPDX-License-Identifier: MIT */
/* URL handling over uriparser: Location resolution, origins, schemes.
 *
 * Every input here may come from a hostile server, so each entry point first
 * bounds the length, then rewrites the bytes into something RFC 3986 can
 * parse (see lenient_encode), and only then hands them to uriparser.  What we
 * return is re-parsed and checked, so callers never get a string that means
 * something else when parsed again. */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uriparser/Uri.h>

#include "common.h"

/* Internal verdict for "not a usable URL"; mapped to the caller's code. */
#define URL_BAD (-1)

/* Returned for URLs without an explicit port and without a known default. */
static const struct {
  const char *scheme;
  unsigned port;
} default_ports[] = {
    {"http", 80}, {"https", 443}, {"ws", 80}, {"wss", 443}, {"ftp", 21},
};

typedef struct parsed_url {
  hr_buf text; /* the encoded bytes the uri's ranges point into */
  UriUriA uri;
  int have_uri;
} parsed_url;

static int is_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_scheme_char(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

/* Length of a leading "scheme:" without the colon, or 0. */
static size_t scheme_len(const char *s, size_t len) {
  if (len == 0 || !is_alpha((unsigned char)s[0]))
    return 0;
  size_t i = 1;
  while (i < len && is_scheme_char((unsigned char)s[i]))
    i++;
  return (i < len && s[i] == ':') ? i : 0;
}

/* Bytes that WHATWG URL parsing percent-encodes rather than rejects
 * (non-ASCII, space, and the URL-code-point-invalid printable set).  The
 * backslash is among them on purpose: browsers read it as '/' for http(s),
 * which would let "/\evil.com" leave the origin; encoded, it stays a path
 * byte. */
static int needs_encoding(unsigned char c) {
  return c >= 0x80 || c == ' ' || c == '"' || c == '<' || c == '>' ||
         c == '`' || c == '{' || c == '}' || c == '|' || c == '\\' || c == '^';
}

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

static int append_pct(hr_buf *out, unsigned char c) {
  static const char hex[] = "0123456789ABCDEF";
  char e[3] = {'%', hex[c >> 4], hex[c & 0xF]};
  return hr_buf_append(out, e, sizeof(e));
}

/* Rewrites [s, s+len) so that uriparser accepts what browsers accept:
 * bytes from needs_encoding() become %XX, a '%' not followed by two hex
 * digits becomes "%25", every '#' after the first becomes "%23", and '[' ']'
 * outside the authority (where only IPv6 literals may use them) become
 * %5B %5D.  Valid percent-encodings are copied untouched.  Control bytes are
 * refused: they are never a typo, and CR/LF/NUL in a URL are header or
 * request smuggling attempts.  Returns 0, URL_BAD or HTTPRESP_E_NOMEM. */
static int lenient_encode(const char *s, size_t len, hr_buf *out) {
  size_t auth_begin = 0, auth_end = 0;
  size_t p = scheme_len(s, len);
  if (p)
    p++;
  if (len - p >= 2 && s[p] == '/' && s[p + 1] == '/') {
    auth_begin = p + 2;
    auth_end = auth_begin;
    while (auth_end < len && s[auth_end] != '/' && s[auth_end] != '?' &&
           s[auth_end] != '#')
      auth_end++;
  }
  int seen_hash = 0;
  size_t run = 0; /* start of the pending run of bytes copied verbatim */
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int encode;
    if (is_control(c))
      return URL_BAD;
    if (c == '%')
      encode = !(len - i > 2 && is_hex((unsigned char)s[i + 1]) &&
                 is_hex((unsigned char)s[i + 2]));
    else if (c == '#') {
      encode = seen_hash;
      seen_hash = 1;
    } else if (c == '[' || c == ']')
      encode = i < auth_begin || i >= auth_end;
    else
      encode = needs_encoding(c);
    if (!encode)
      continue;
    int rc = hr_buf_append(out, s + run, i - run);
    if (!rc)
      rc = append_pct(out, c);
    if (rc)
      return rc;
    run = i + 1;
  }
  return hr_buf_append(out, s + run, len - run);
}

static void parsed_free(parsed_url *p) {
  if (p->have_uri)
    uriFreeUriMembersA(&p->uri);
  p->have_uri = 0;
  hr_buf_free(&p->text);
}

static int map_uri_error(int err) {
  return err == URI_ERROR_MALLOC ? HTTPRESP_E_NOMEM : URL_BAD;
}

/* Parses text already known to be RFC 3986 syntax-clean (or not). */
static int parse_exact(UriUriA *uri, const char *s, size_t len) {
  if (len == 0)
    return URL_BAD;
  int err = uriParseSingleUriExA(uri, s, s + len, NULL);
  return err ? map_uri_error(err) : 0;
}

/* Leniently encodes and parses [s, s+len).  On failure `p` holds nothing. */
static int parse_lenient(const char *s, size_t len, parsed_url *p) {
  hr_buf_init(&p->text);
  p->have_uri = 0;
  if (len > HR_URL_MAX)
    return URL_BAD;
  int rc = lenient_encode(s, len, &p->text);
  if (!rc)
    rc = parse_exact(&p->uri, p->text.data, p->text.len);
  if (rc) {
    hr_buf_free(&p->text);
    return rc;
  }
  p->have_uri = 1;
  return 0;
}

/* Length of a NUL-terminated input, or SIZE_MAX when beyond HR_URL_MAX (the
 * scan itself stays bounded). */
static size_t bounded_len(const char *s) {
  size_t n = strnlen(s, HR_URL_MAX + 1);
  return n > HR_URL_MAX ? SIZE_MAX : n;
}

static size_t range_len(const UriTextRangeA *r) {
  return r->first ? (size_t)(r->afterLast - r->first) : 0;
}

static int range_caseeq(const UriTextRangeA *r, const char *lit) {
  size_t n = strlen(lit);
  return r->first && range_len(r) == n && hr_strncaseeq(r->first, lit, n);
}

static int is_http_scheme(const UriUriA *u) {
  return range_caseeq(&u->scheme, "http") || range_caseeq(&u->scheme, "https");
}

/* Explicit port into *port (1), no port or an empty one (0), or URL_BAD
 * outside 0..65535. */
static int port_of(const UriUriA *u, unsigned *port) {
  size_t n = range_len(&u->portText);
  if (n == 0)
    return 0;
  unsigned long v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)u->portText.first[i];
    if (!is_digit(c))
      return URL_BAD;
    v = v * 10 + (unsigned)(c - '0');
    if (v > 65535)
      return URL_BAD;
  }
  *port = (unsigned)v;
  return 1;
}

/* What every URL we hand out or accept must satisfy: a scheme; a host that
 * is not percent-encoded (that is where encoded spaces and other garbage
 * land) nor an IPvFuture literal no client can connect to; a port that fits;
 * for http(s) a non-empty host. */
static int check_absolute(const UriUriA *u) {
  if (!u->scheme.first)
    return URL_BAD;
  if (u->hostText.first) {
    if (u->hostData.ipFuture.first ||
        memchr(u->hostText.first, '%', range_len(&u->hostText)))
      return URL_BAD;
  }
  unsigned port;
  if (port_of(u, &port) < 0)
    return URL_BAD;
  if (is_http_scheme(u) && range_len(&u->hostText) == 0)
    return URL_BAD;
  return 0;
}

static int has_dot_segment(const UriUriA *u) {
  for (const UriPathSegmentA *s = u->pathHead; s; s = s->next) {
    size_t n = range_len(&s->text);
    if ((n == 1 || n == 2) && s->text.first[0] == '.' &&
        (n == 1 || s->text.first[1] == '.'))
      return 1;
  }
  return 0;
}

/* uriToStringA writes IPv6 literals from their binary form, fully expanded
 * ("[0000:...:0001]"); writing them through the IPvFuture slot instead keeps
 * the text the server sent.  The copy is shallow and never freed. */
static int uri_to_buf(const UriUriA *u, hr_buf *out) {
  UriUriA w = *u;
  if (w.hostData.ip6) {
    w.hostData.ip6 = NULL;
    w.hostData.ipFuture = w.hostText;
  }
  int n;
  int err = uriToStringCharsRequiredA(&w, &n);
  if (err)
    return map_uri_error(err);
  if (n < 0 || (size_t)n > HR_URL_MAX)
    return URL_BAD;
  char *s = malloc((size_t)n + 1);
  if (!s)
    return HTTPRESP_E_NOMEM;
  err = uriToStringA(s, &w, n + 1, NULL);
  if (err) {
    free(s);
    return map_uri_error(err);
  }
  int rc = hr_buf_append(out, s, strlen(s));
  free(s);
  return rc;
}

/* Resolves, removes dot segments everywhere (also those of the base path,
 * which RFC 3986 keeps for "?y" and "#f" references but browsers drop when
 * they parse the base) and writes the result into `out`. */
static int resolve_parsed(const UriUriA *ref, const UriUriA *base,
                          hr_buf *out) {
  UriUriA t, clean;
  int err = uriAddBaseUriExA(&t, ref, base, URI_RESOLVE_STRICTLY);
  if (err)
    return map_uri_error(err);
  int rc;
  if (has_dot_segment(&t)) {
    /* A reference with a scheme gets remove_dot_segments() applied to its
     * whole path (§5.2.2), so resolving t against itself cleans it. */
    err = uriAddBaseUriExA(&clean, &t, &t, URI_RESOLVE_STRICTLY);
    if (err) {
      uriFreeUriMembersA(&t);
      return map_uri_error(err);
    }
    rc = uri_to_buf(&clean, out);
    uriFreeUriMembersA(&clean);
  } else {
    rc = uri_to_buf(&t, out);
  }
  uriFreeUriMembersA(&t);
  return rc;
}

/* Surrounding spaces are dropped as browsers do; inner ones are encoded.
 * Returns 0 when nothing usable is left. */
static int trim_reference(const char **ref, size_t *reflen) {
  while (*reflen && (*ref)[0] == ' ') {
    (*ref)++;
    (*reflen)--;
  }
  while (*reflen && (*ref)[*reflen - 1] == ' ')
    (*reflen)--;
  return *reflen != 0;
}

/* The checks both resolvers start with: 0 with the reference trimmed and
 * the base's length, or HTTPRESP_E_BAD_LOCATION. */
static int resolve_args(const char *base, const char **ref, size_t *reflen,
                        char **out, size_t *baselen) {
  if (!out)
    return HTTPRESP_E_BAD_LOCATION;
  *out = NULL;
  if (!base || !*ref || *reflen == 0 || *reflen > HR_URL_MAX ||
      !trim_reference(ref, reflen))
    return HTTPRESP_E_BAD_LOCATION;
  *baselen = bounded_len(base);
  return *baselen == SIZE_MAX ? HTTPRESP_E_BAD_LOCATION : 0;
}

/* Resolution through uriparser, for arguments resolve_args accepted. */
static int resolve_full(const char *base, size_t baselen, const char *ref,
                        size_t reflen, char **out) {
  parsed_url b, r;
  hr_buf res;
  hr_buf_init(&res);
  int rc = parse_lenient(base, baselen, &b);
  if (rc)
    goto done_nothing;
  if (!b.uri.scheme.first) {
    rc = URL_BAD;
    goto done_base;
  }
  rc = parse_lenient(ref, reflen, &r);
  if (rc)
    goto done_base;
  rc = resolve_parsed(&r.uri, &b.uri, &res);
  if (rc)
    goto done_ref;
  /* RFC 9110 §10.2.2: a Location without a fragment inherits ours.  After
   * encoding, the first '#' is the only one, so looking for it suffices. */
  const char *bfrag = memchr(b.text.data, '#', b.text.len);
  if (bfrag && !memchr(r.text.data, '#', r.text.len))
    rc = hr_buf_append(&res, bfrag, b.text.len - (size_t)(bfrag - b.text.data));
  if (rc)
    goto done_ref;
  if (res.len > HR_URL_MAX) {
    rc = URL_BAD;
    goto done_ref;
  }

  /* Validate what callers will see.  The re-parse also catches results
   * that recompose ambiguously, e.g. "foo:" with path "//x" reading back as
   * a host: the host must be present exactly when the reference or base
   * gave one. */
  UriUriA chk;
  rc = parse_exact(&chk, res.data, res.len);
  if (rc)
    goto done_ref;
  int had_host = r.uri.hostText.first != NULL ||
                 (!r.uri.scheme.first && b.uri.hostText.first != NULL);
  rc = check_absolute(&chk);
  if (!rc && (chk.hostText.first != NULL) != had_host)
    rc = URL_BAD;
  uriFreeUriMembersA(&chk);
  if (!rc) {
    *out = hr_buf_steal(&res);
    if (!*out)
      rc = HTTPRESP_E_NOMEM;
  }
done_ref:
  parsed_free(&r);
done_base:
  parsed_free(&b);
done_nothing:
  hr_buf_free(&res);
  if (rc == URL_BAD)
    return HTTPRESP_E_BAD_LOCATION;
  return rc;
}

static size_t plain_authority(const char *url, size_t n);
static int plainly_valid(const char *url, size_t n);

/* The RFC 3986 characters that stand for themselves in a tail: ALPHA DIGIT
 * and "-._~!$&'()*+,;=:@/?"; 2 for '.' and '?', which the dot-segment
 * check of a path looks at, 1 for the others. */
static const unsigned char tail_class[256] = {
    ['-'] = 1, ['.'] = 2, ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1,
    ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
    [','] = 1, [';'] = 1, ['='] = 1, [':'] = 1, ['@'] = 1, ['/'] = 1,
    ['?'] = 2, ['0'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['A'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1,
    ['a'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1};

/* Whether [s, s+n) is RFC 3986 tail characters and valid %XX escapes with
 * at most one '#'; with `no_dots`, also whether its path part (up to '?'
 * or '#') holds nothing dot-segment-like ("/." or an escaped dot), which
 * the resolver would rewrite.  Runs of plain characters cost one table
 * look-up a byte in a loop of their own: they are nearly all of a URL. */
static int plain_tail(const char *s, size_t n, int no_dots) {
  const unsigned char *p = (const unsigned char *)s;
  int hashes = 0, in_path = no_dots;
  size_t i = 0;
  for (;;) {
    if (in_path)
      while (i < n && tail_class[p[i]] == 1)
        i++;
    else
      while (i < n && tail_class[p[i]])
        i++;
    if (i == n)
      return 1;
    unsigned char c = p[i];
    if (tail_class[c]) { /* '.' or '?' in the path */
      if (c == '?')
        in_path = 0;
      else if (i > 0 && p[i - 1] == '/')
        return 0;
      i++;
    } else if (c == '%') {
      if (i + 2 >= n || !is_hex(p[i + 1]) || !is_hex(p[i + 2]) ||
          (in_path && p[i + 1] == '2' && (p[i + 2] == 'e' || p[i + 2] == 'E')))
        return 0;
      i += 3;
    } else if (c == '#' && hashes++ == 0) {
      in_path = 0;
      i++;
    } else {
      return 0;
    }
  }
}

/* The redirects nearly every server sends: an absolute path ("/next?x")
 * or an absolute http(s) URL, of plain characters and without dot
 * segments, against a base of the plainly_valid shape.  The result is the
 * base's scheme and authority (for a path) and the reference, plus the
 * base's fragment when the reference has none: what the full resolution
 * gives, as the differential test checks.  Returns 1 with *out set, 0 to
 * leave it to the full resolution, or HTTPRESP_E_NOMEM. */
static int resolve_plain(const char *base, size_t blen, const char *ref,
                         size_t rlen, char **out) {
  size_t keep; /* bytes of the base that lead the result */
  if (rlen >= 2 && ref[0] == '/' && ref[1] != '/') {
    keep = plain_authority(base, blen);
    if (!keep || !plain_tail(base + keep, blen - keep, 0) ||
        !plain_tail(ref, rlen, 1))
      return 0;
  } else {
    size_t a = plain_authority(ref, rlen);
    if (!a || a == rlen || ref[a] != '/' || !plain_tail(ref + a, rlen - a, 1) ||
        !plainly_valid(base, blen))
      return 0;
    keep = 0;
  }
  const char *bfrag = memchr(base, '#', blen);
  size_t flen =
      bfrag && !memchr(ref, '#', rlen) ? blen - (size_t)(bfrag - base) : 0;
  if (keep + rlen + flen > HR_URL_MAX)
    return 0;
  char *r = malloc(keep + rlen + flen + 1);
  if (!r)
    return HTTPRESP_E_NOMEM;
  memcpy(r, base, keep);
  memcpy(r + keep, ref, rlen);
  if (flen)
    memcpy(r + keep + rlen, bfrag, flen);
  r[keep + rlen + flen] = '\0';
  *out = r;
  return 1;
}

int hr_url_resolve(const char *base, const char *ref, size_t reflen,
                   char **out) {
  size_t baselen;
  int rc = resolve_args(base, &ref, &reflen, out, &baselen);
  if (rc)
    return rc;
  rc = resolve_plain(base, baselen, ref, reflen, out);
  if (rc == 1)
    return 0;
  if (rc)
    return rc;
  return resolve_full(base, baselen, ref, reflen, out);
}

int hr_url_resolve_parsed(const char *base, const char *ref, size_t reflen,
                          char **out) {
  size_t baselen;
  int rc = resolve_args(base, &ref, &reflen, out, &baselen);
  return rc ? rc : resolve_full(base, baselen, ref, reflen, out);
}

/* Parses a NUL-terminated absolute URL leniently and checks it. */
static int parse_checked(const char *url, parsed_url *p) {
  if (!url)
    return URL_BAD;
  size_t n = bounded_len(url);
  if (n == SIZE_MAX)
    return URL_BAD;
  int rc = parse_lenient(url, n, p);
  if (rc)
    return rc;
  rc = check_absolute(&p->uri);
  if (rc)
    parsed_free(p);
  return rc;
}

static char *range_dup_lower(const UriTextRangeA *r) {
  size_t n = range_len(r);
  char *s = hr_strndup(n ? r->first : "", n);
  if (s)
    for (size_t i = 0; i < n; i++)
      s[i] = hr_tolower(s[i]);
  return s;
}

int hr_origin_from_url(const char *url, hr_origin *o) {
  if (!o)
    return HTTPRESP_E_BAD_URL;
  o->scheme = NULL;
  o->host = NULL;
  o->port = 0;
  parsed_url p;
  int rc = parse_checked(url, &p);
  if (rc)
    return rc == URL_BAD ? HTTPRESP_E_BAD_URL : rc;
  /* Without a host there is no (scheme, host, port) tuple: "data:",
   * "file:///x" and the like are never the same origin as anything. */
  if (range_len(&p.uri.hostText) == 0) {
    parsed_free(&p);
    return HTTPRESP_E_BAD_URL;
  }
  o->scheme = range_dup_lower(&p.uri.scheme);
  o->host = range_dup_lower(&p.uri.hostText);
  unsigned port = 0;
  if (port_of(&p.uri, &port) == 0) {
    for (size_t i = 0; i < HR_ARRAY_LEN(default_ports); i++)
      if (o->scheme && strcmp(o->scheme, default_ports[i].scheme) == 0)
        port = default_ports[i].port;
  }
  o->port = port;
  parsed_free(&p);
  if (!o->scheme || !o->host) {
    hr_origin_free(o);
    return HTTPRESP_E_NOMEM;
  }
  return 0;
}

void hr_origin_free(hr_origin *o) {
  if (!o)
    return;
  free(o->scheme);
  free(o->host);
  o->scheme = NULL;
  o->host = NULL;
  o->port = 0;
}

int hr_origin_equal(const hr_origin *a, const hr_origin *b) {
  if (!a || !b || !a->scheme || !b->scheme || !a->host || !b->host)
    return 0;
  return a->port == b->port && strcmp(a->scheme, b->scheme) == 0 &&
         strcmp(a->host, b->host) == 0;
}

int hr_url_same_origin(const char *a, const char *b) {
  hr_origin oa, ob;
  if (hr_origin_from_url(a, &oa) != 0)
    return -1;
  if (hr_origin_from_url(b, &ob) != 0) {
    hr_origin_free(&oa);
    return -1;
  }
  int same = hr_origin_equal(&oa, &ob);
  hr_origin_free(&oa);
  hr_origin_free(&ob);
  return same;
}

int httpresp_same_origin(const char *a, const char *b) {
  return hr_url_same_origin(a, b);
}

int hr_url_same_origin_valid(const char *a, const char *b) {
  const char *colon = strchr(a, ':');
  if (colon && colon[1] == '/' && colon[2] == '/') {
    size_t n = (size_t)(colon + 3 - a);
    n += strcspn(a + n, "/?#");
    if (strncmp(a, b, n) == 0 &&
        (b[n] == '\0' || b[n] == '/' || b[n] == '?' || b[n] == '#'))
      return 1;
  }
  return hr_url_same_origin(a, b);
}

char *hr_origin_key(const hr_origin *o) {
  if (!o || !o->scheme || !o->host)
    return NULL;
  /* IPv6 hosts go back into brackets so the key reads as a URL. */
  int v6 = strchr(o->host, ':') != NULL;
  char port[16];
  snprintf(port, sizeof(port), ":%u", o->port);
  hr_buf b;
  hr_buf_init(&b);
  if (hr_buf_append_str(&b, o->scheme) || hr_buf_append_str(&b, "://") ||
      (v6 && hr_buf_append_str(&b, "[")) || hr_buf_append_str(&b, o->host) ||
      (v6 && hr_buf_append_str(&b, "]")) || hr_buf_append_str(&b, port)) {
    hr_buf_free(&b);
    return NULL;
  }
  return hr_buf_steal(&b);
}

int hr_url_origin_key(const char *url, char **out) {
  *out = NULL;
  hr_origin o;
  int rc = hr_origin_from_url(url, &o);
  if (rc)
    return rc;
  *out = hr_origin_key(&o);
  hr_origin_free(&o);
  return *out ? 0 : HTTPRESP_E_NOMEM;
}

int hr_url_scheme(const char *url, char *buf, size_t buflen) {
  if (!url || !buf || buflen == 0)
    return -1;
  /* "http:" and "https:" (any case) without a scan: a redirect asks for
   * its target's scheme and its source's.  '|0x20' folds only the letters
   * compared; NUL and ':' match none of them. */
  if ((url[0] | 0x20) == 'h' && (url[1] | 0x20) == 't' &&
      (url[2] | 0x20) == 't' && (url[3] | 0x20) == 'p') {
    size_t n = (url[4] | 0x20) == 's' ? 5 : 4;
    if (url[n] == ':') {
      if (n >= buflen)
        return -1;
      memcpy(buf, n == 5 ? "https" : "http", n + 1);
      return 0;
    }
  }
  /* A scheme that does not fit needs no longer look than buflen + 1. */
  size_t n =
      scheme_len(url, strnlen(url, buflen < SIZE_MAX ? buflen + 1 : buflen));
  if (n == 0 || n >= buflen)
    return -1;
  for (size_t i = 0; i < n; i++)
    buf[i] = hr_tolower(url[i]);
  buf[n] = '\0';
  return 0;
}

int hr_scheme_in_list(const char *scheme, const char *list) {
  if (!scheme || !list || !*scheme)
    return 0;
  /* One pass over the list: asked on every redirect. */
  for (const char *p = list;;) {
    while (hr_is_ows((unsigned char)*p))
      p++;
    const char *s = scheme;
    while (*s && hr_tolower(*p) == hr_tolower(*s)) {
      p++;
      s++;
    }
    const char *q = p;
    while (hr_is_ows((unsigned char)*q))
      q++;
    if (!*s && (*q == ',' || !*q))
      return 1;
    while (*p && *p != ',')
      p++;
    if (!*p)
      return 0;
    p++;
  }
}

/* The characters of a plain reg-name: ALPHA DIGIT "-" ".". */
static int is_host_char(unsigned char c) {
  static const unsigned char host[256] = {
      ['-'] = 1, ['.'] = 1, ['0'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
      ['A'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 1, 1,
      ['a'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
      1, 1, 1, 1, 1};
  return host[c];
}

/* Where "http[s]://" reg-name [":" port] ends when `url` starts so and a
 * path, query, fragment or the end follows; 0 when it does not. */
size_t hr_url_http_prefix(const char *url) {
  /* '|0x20' folds only 'H', 'T', 'P' and 'S' onto the letters compared. */
  if ((url[0] | 0x20) != 'h' || (url[1] | 0x20) != 't' ||
      (url[2] | 0x20) != 't' || (url[3] | 0x20) != 'p')
    return 0;
  size_t i = (url[4] | 0x20) == 's' ? 5 : 4;
  return url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/' ? i + 3 : 0;
}

static size_t plain_authority(const char *url, size_t n) {
  size_t i = n > 7 ? hr_url_http_prefix(url) : 0;
  if (i == 0 || i >= n)
    return 0;
  size_t host = i;
  while (i < n && is_host_char((unsigned char)url[i]))
    i++;
  if (i == host)
    return 0;
  if (i < n && url[i] == ':') {
    /* At most 6 digits are looked at (6 already fail); the count is how
     * far i went. */
    size_t start = ++i;
    size_t end = n - start > 6 ? start + 6 : n;
    unsigned port = 0;
    for (; i < end && (unsigned)(url[i] - '0') <= 9; i++)
      port = port * 10 + (unsigned)(url[i] - '0');
    if (i == start || i - start > 5 || port > 65535)
      return 0;
  }
  if (i < n && url[i] != '/' && url[i] != '?' && url[i] != '#')
    return 0;
  return i;
}

/* The common shape of a request URL, checked in one pass without a parser:
 * "http[s]://" reg-name [":" port] then only RFC 3986 characters with
 * valid percent-encodings and at most one '#'.  Everything it accepts the
 * full parse accepts too; anything else (IP literals, userinfo, odd
 * bytes) is left to the full parse.  Returns 1 if it vouches for `url`. */
static int plainly_valid(const char *url, size_t n) {
  size_t a = plain_authority(url, n);
  return a && plain_tail(url + a, n - a, 0);
}

int hr_url_check_request(const char *url) {
  if (!url)
    return HTTPRESP_E_BAD_URL;
  size_t n = bounded_len(url);
  if (n == SIZE_MAX || n == 0)
    return HTTPRESP_E_BAD_URL;
  if (plainly_valid(url, n))
    return 0;
  return hr_url_check_request_parsed(url);
}

int hr_url_check_request_parsed(const char *url) {
  if (!url)
    return HTTPRESP_E_BAD_URL;
  size_t n = bounded_len(url);
  if (n == SIZE_MAX || n == 0)
    return HTTPRESP_E_BAD_URL;
  /* lenient_encode already refuses controls; a space is refused here too:
   * the caller controls this URL and should encode it. */
  if (memchr(url, ' ', n))
    return HTTPRESP_E_BAD_URL;
  parsed_url p;
  int rc = parse_checked(url, &p);
  if (rc)
    return rc == URL_BAD ? HTTPRESP_E_BAD_URL : rc;
  if (!is_http_scheme(&p.uri))
    rc = HTTPRESP_E_BAD_URL;
  parsed_free(&p);
  return rc;
}

char *hr_url_without_fragment(const char *url) {
  if (!url)
    return NULL;
  const char *hash = strchr(url, '#');
  return hash ? hr_strndup(url, (size_t)(hash - url)) : hr_strdup(url);
}

/* Where the authority of [s, s+len) starts and ends, as lenient_encode and
 * uriparser see it; 0 when there is none. */
static int authority_span(const char *s, size_t len, size_t *begin,
                          size_t *end) {
  size_t p = scheme_len(s, len);
  if (p)
    p++;
  if (len - p < 2 || s[p] != '/' || s[p + 1] != '/')
    return 0;
  size_t i = p + 2;
  *begin = i;
  while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#')
    i++;
  *end = i;
  return 1;
}

int hr_url_ref_has_userinfo(const char *ref, size_t len) {
  if (!ref || !trim_reference(&ref, &len))
    return 0;
  size_t b, e;
  return authority_span(ref, len, &b, &e) && memchr(ref + b, '@', e - b);
}

void hr_url_strip_userinfo(char *url) {
  size_t b, e;
  if (!authority_span(url, strlen(url), &b, &e))
    return;
  /* '@' is no userinfo or host character: the last one ends the userinfo
   * (a checked URL has only one). */
  const char *at = NULL;
  for (size_t i = b; i < e; i++)
    if (url[i] == '@')
      at = url + i;
  if (at)
    memmove(url + b, at + 1, strlen(at + 1) + 1);
}

static unsigned default_port(const char *scheme, size_t n) {
  for (size_t i = 0; i < HR_ARRAY_LEN(default_ports); i++)
    if (strlen(default_ports[i].scheme) == n &&
        hr_strncaseeq(scheme, default_ports[i].scheme, n))
      return default_ports[i].port;
  return 0;
}

int hr_url_plainly_normal(const char *url) {
  /* One pass, as it runs for every hop: "http[s]://", a lower-case
   * reg-name, a port that is neither the default nor zero-led, then "/"
   * and RFC 3986 characters without '%' or a "/." in the path. */
  size_t i;
  unsigned dflt;
  if (strncmp(url, "http://", 7) == 0) {
    i = 7;
    dflt = 80;
  } else if (strncmp(url, "https://", 8) == 0) {
    i = 8;
    dflt = 443;
  } else {
    return 0;
  }
  size_t host = i;
  while (is_host_char((unsigned char)url[i]) &&
         !(url[i] >= 'A' && url[i] <= 'Z'))
    i++;
  if (i == host)
    return 0;
  if (url[i] == ':') {
    unsigned port = 0;
    size_t digits = 0;
    if (url[i + 1] == '0')
      return 0;
    for (i++; url[i] >= '0' && url[i] <= '9' && digits < 6; i++, digits++)
      port = port * 10 + (unsigned)(url[i] - '0');
    if (digits == 0 || digits > 5 || port > 65535 || port == dflt)
      return 0;
  }
  if (url[i] != '/')
    return 0; /* also an empty path, written "/" in normal form */
  int in_path = 1;
  for (size_t end = i + HR_URL_MAX; i < end; i++) {
    unsigned char c = (unsigned char)url[i];
    if (c == '\0' || c == '#')
      return 1;
    if (!tail_class[c])
      return 0; /* '%' among them */
    if (c == '?')
      in_path = 0;
    else if (in_path && c == '.' && url[i - 1] == '/')
      return 0;
  }
  return 0;
}

/* The text edits of §6.2.3 that uriparser's syntax normalisation leaves:
 * the default or an empty port goes, an empty path becomes "/". */
static int scheme_normalize(hr_buf *b) {
  size_t beg, end;
  if (!authority_span(b->data, b->len, &beg, &end))
    return 0;
  size_t colon = end;
  for (size_t i = end; i > beg; i--) {
    char c = b->data[i - 1];
    if (c == ':') {
      colon = i - 1;
      break;
    }
    if (c < '0' || c > '9')
      break; /* "]" of an IPv6 literal, or a host character */
  }
  if (colon < end) {
    unsigned port = 0;
    for (size_t i = colon + 1; i < end; i++)
      port = port * 10 + (unsigned)(b->data[i] - '0');
    size_t slen = scheme_len(b->data, b->len);
    if (colon + 1 == end ||
        (end - colon <= 6 && port == default_port(b->data, slen))) {
      memmove(b->data + colon, b->data + end, b->len - end + 1);
      b->len -= end - colon;
      end = colon;
    }
  }
  if (end == b->len || b->data[end] != '/') {
    hr_buf tail;
    hr_buf_init(&tail);
    int rc = hr_buf_append(&tail, b->data + end, b->len - end);
    b->len = end;
    if (!rc)
      rc = hr_buf_append(b, "/", 1);
    if (!rc && tail.len)
      rc = hr_buf_append(b, tail.data, tail.len);
    hr_buf_free(&tail);
    return rc;
  }
  return 0;
}

int hr_url_normalize(const char *url, char **out) {
  *out = NULL;
  if (hr_url_plainly_normal(url)) {
    *out = hr_strndup(url, strcspn(url, "#"));
    return *out ? 0 : HTTPRESP_E_NOMEM;
  }
  parsed_url p;
  int rc = parse_checked(url, &p);
  if (rc)
    return rc == URL_BAD ? HTTPRESP_E_BAD_URL : rc;
  if (!p.uri.hostText.first) {
    /* Without an authority, removing dot segments can leave a path that
     * starts with "//" and reads back as one ("a:/..//b"): such URLs (no
     * redirect target of http or https) compare as written. */
    parsed_free(&p);
    *out = hr_strndup(url, strcspn(url, "#"));
    return *out ? 0 : HTTPRESP_E_NOMEM;
  }
  /* §6.2.2: case, percent-encoding and dot segments. */
  int err = uriNormalizeSyntaxA(&p.uri);
  hr_buf b;
  hr_buf_init(&b);
  rc = err ? map_uri_error(err) : uri_to_buf(&p.uri, &b);
  parsed_free(&p);
  if (!rc && b.len) {
    char *hash = memchr(b.data, '#', b.len);
    if (hash) {
      b.len = (size_t)(hash - b.data);
      *hash = '\0';
    }
    rc = scheme_normalize(&b);
  }
  if (!rc && !(*out = hr_buf_steal(&b)))
    rc = HTTPRESP_E_NOMEM;
  hr_buf_free(&b);
  return rc == URL_BAD ? HTTPRESP_E_BAD_URL : rc;
}
