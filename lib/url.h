/* SPDX-License-Identifier: MIT */
/* URL handling over uriparser: Location resolution, origins, schemes. */
#ifndef HR_URL_H
#define HR_URL_H

#include <stddef.h>

/* Longest URL accepted anywhere (request URL or resolved Location). */
#define HR_URL_MAX ((size_t)64 * 1024)

/* Resolves the Location value `ref` (`reflen` bytes, not NUL-terminated)
 * against the absolute URL `base` per RFC 3986 §5.2 (dot segments removed).
 * If `ref` has no fragment, the fragment of `base` is kept (RFC 9110
 * §10.2.2).  Bytes >= 0x80 and spaces inside `ref` are percent-encoded
 * (as browsers do); existing percent-encodings are kept as they are.
 * Also encoded, in `ref` and `base`: " < > ` { } | \ ^, a '%' not followed
 * by two hex digits ("%25"), any '#' after the first, '[' ']' outside the
 * authority.  Surrounding spaces of `ref` are trimmed; dot segments of the
 * base path are removed too.
 * Refused with HTTPRESP_E_BAD_LOCATION: an empty reference, control bytes
 * (0x00-0x1F, 0x7F), invalid syntax, a result longer than HR_URL_MAX, a
 * result without scheme or (for http/https) without host, a host holding a
 * '%' (encoded garbage, non-ASCII names: use punycode), a port > 65535.
 * On success *out is a malloc'd absolute URL.  Returns 0,
 * HTTPRESP_E_BAD_LOCATION or HTTPRESP_E_NOMEM. */
int hr_url_resolve(const char *base, const char *ref, size_t reflen,
                   char **out);
/* The same through the parser alone: hr_url_resolve answers the common
 * shapes without it, and tests hold the two to the same results. */
int hr_url_resolve_parsed(const char *base, const char *ref, size_t reflen,
                          char **out);

/* An origin: lower-cased scheme and host, explicit or default port.
 * IPv6 literal hosts are kept without brackets. */
typedef struct hr_origin {
  char *scheme;
  char *host;
  unsigned port;
} hr_origin;

/* Fills `o` from an absolute URL.  Returns 0, HTTPRESP_E_BAD_URL or
 * HTTPRESP_E_NOMEM.  Default ports: http 80, https 443, ws 80, wss 443,
 * ftp 21; other schemes without a port get 0. */
int hr_origin_from_url(const char *url, hr_origin *o);
void hr_origin_free(hr_origin *o);
/* Same scheme, host and port. */
int hr_origin_equal(const hr_origin *a, const hr_origin *b);
/* 1 if same origin, 0 if not, -1 if either URL does not parse, has no
 * host, or memory ran out. */
int hr_url_same_origin(const char *a, const char *b);
/* The same for two URLs known to parse (a checked request URL, a resolved
 * target): the same bytes up to the end of the authority mean the same
 * origin, so a redirect or an invalidation within a site parses neither
 * URL; anything else is left to hr_url_same_origin. */
int hr_url_same_origin_valid(const char *a, const char *b);
/* "scheme://host:port" with the port always written (IPv6 hosts in
 * brackets); malloc'd, NULL when memory runs out. */
char *hr_origin_key(const hr_origin *o);

/* hr_origin_key of the origin of `url`: 0 and *out (malloc'd),
 * HTTPRESP_E_BAD_URL or HTTPRESP_E_NOMEM. */
int hr_url_origin_key(const char *url, char **out);

/* Copies the lower-cased scheme of `url` into buf (NUL-terminated).
 * Returns 0, or -1 if the URL has no valid scheme or buf is too small. */
int hr_url_scheme(const char *url, char *buf, size_t buflen);
/* Whether `scheme` is in the comma-separated `list` (case-insensitive,
 * spaces around items allowed). */
int hr_scheme_in_list(const char *scheme, const char *list);
/* Checks a request URL: absolute, http or https, has a host, no control
 * bytes or spaces, at most HR_URL_MAX.  Returns 0, HTTPRESP_E_BAD_URL or
 * HTTPRESP_E_NOMEM. */
int hr_url_check_request(const char *url);
/* The same check always through the full parse (hr_url_check_request
 * first tries a one-pass scan of the common shape); for tests. */
int hr_url_check_request_parsed(const char *url);
/* Whether the Location reference `ref` (`len` bytes) itself carries
 * userinfo: an authority ("//" after an optional scheme, surrounding
 * spaces ignored, as hr_url_resolve reads it) holding an '@'.  A relative
 * reference inherits the base's authority, which is not the server's. */
int hr_url_ref_has_userinfo(const char *ref, size_t len);
/* Removes "userinfo@" from the authority of the absolute URL `url`, in
 * place; a URL without one is left as it is. */
void hr_url_strip_userinfo(char *url);
/* RFC 3986 §6.2.2-6.2.3 normal form of an absolute URL, for comparing
 * URLs: scheme and host lower case, percent-encodings in upper case and
 * those of unreserved characters decoded, dot segments removed, the
 * scheme's default port and an empty port dropped, an empty path with an
 * authority written "/"; the fragment is dropped.  *out is malloc'd.
 * Returns 0, HTTPRESP_E_BAD_URL or HTTPRESP_E_NOMEM. */
int hr_url_normalize(const char *url, char **out);
/* Whether hr_url_normalize would return `url` unchanged up to its
 * fragment, judged in one pass for the common shape (lower-case
 * http(s)://host[:port]/path without '%' or dot segments); 0 means "not
 * known", never "different". */
int hr_url_plainly_normal(const char *url);
/* The length of `url`'s "http://" or "https://" prefix (any case): 7, 8,
 * or 0 when it starts otherwise.  Reads no byte past the string's end. */
size_t hr_url_http_prefix(const char *url);

/* A malloc'd copy of `url` without its fragment (the cache key). */
char *hr_url_without_fragment(const char *url);

#endif
