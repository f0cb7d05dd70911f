/* SPDX-License-Identifier: MIT */
/* The request description: method, URL, headers, body and credentials. */
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "url.h"

/* A request and the method and URL it is made with are one allocation
 * (`text`): making, copying and freeing requests, once per hop, were a
 * good part of the library's own allocations.  A setter that replaces
 * either string gives it an allocation of its own.  `url` NULL leaves the
 * inline URL empty (the caller sets its own). */
static httpresp_request *alloc_request(const char *method, size_t mlen,
                                       const char *url, size_t ulen) {
  if (mlen > SIZE_MAX / 4 || ulen > SIZE_MAX / 4)
    return NULL;
  httpresp_request *r = malloc(sizeof(*r) + mlen + ulen + 2);
  if (!r)
    return NULL;
  memset(r, 0, sizeof(*r));
  hr_headers_init_stable(&r->headers);
  r->stream_len = -1;
  r->deadline_ms = r->max_wait_ms = -1;
  r->max_redirects = r->max_retries = -1;
  r->method = r->text;
  r->url = hr_put_pair(r->text, method, mlen, url, ulen);
  return r;
}

int httpresp_request_new(httpresp_request **out, const char *method,
                         const char *url) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!method || !url)
    return HTTPRESP_E_INVALID_ARG;
  size_t mlen = strlen(method);
  if (!hr_is_token(method, mlen))
    return HTTPRESP_E_INVALID_ARG;
  int rc = hr_url_check_request(url);
  if (rc)
    return rc;
  httpresp_request *r = alloc_request(method, mlen, url, strlen(url));
  if (!r)
    return HTTPRESP_E_NOMEM;
  *out = r;
  return 0;
}

/* Frees what a request owns besides its method and URL. */
static void free_parts(httpresp_request *r) {
  hr_headers_free(&r->headers);
  free(r->body);
  free(r->user);
  if (r->password) {
    /* Credentials should not linger in freed heap memory. */
    volatile char *p = r->password;
    while (*p)
      *p++ = 0;
  }
  free(r->password);
  free(r->cache_partition);
}

void httpresp_request_free(httpresp_request *r) {
  if (!r)
    return;
  if (r->own_method)
    free(r->method);
  if (r->own_url)
    free(r->url);
  free_parts(r);
  free(r);
}

static int replace_str(char **dst, unsigned char *own, const char *src) {
  char *p = hr_strdup(src);
  if (!p)
    return HTTPRESP_E_NOMEM;
  if (*own)
    free(*dst);
  *dst = p;
  *own = 1;
  return 0;
}

int httpresp_request_set_method(httpresp_request *r, const char *method) {
  if (!r || !method || !hr_is_token(method, strlen(method)))
    return HTTPRESP_E_INVALID_ARG;
  return replace_str(&r->method, &r->own_method, method);
}

int httpresp_request_set_url(httpresp_request *r, const char *url) {
  if (!r || !url)
    return HTTPRESP_E_INVALID_ARG;
  int rc = hr_url_check_request(url);
  return rc ? rc : replace_str(&r->url, &r->own_url, url);
}

const char *httpresp_request_method(const httpresp_request *r) {
  return r ? r->method : NULL;
}

const char *httpresp_request_url(const httpresp_request *r) {
  return r ? r->url : NULL;
}

int httpresp_request_add_header(httpresp_request *r, const char *name,
                                const char *value) {
  if (!r || !name)
    return HTTPRESP_E_INVALID_ARG;
  if (value)
    return hr_headers_add(&r->headers, name, strlen(name), value,
                          strlen(value));
  /* hr_headers_add_line tolerates a trailing CRLF; input must not have one. */
  if (strpbrk(name, "\r\n"))
    return HTTPRESP_E_INVALID_ARG;
  int rc = hr_headers_add_line(&r->headers, name, strlen(name));
  return rc == HTTPRESP_E_BAD_RESPONSE ? HTTPRESP_E_INVALID_ARG : rc;
}

int httpresp_request_remove_header(httpresp_request *r, const char *name) {
  if (!r || !name)
    return HTTPRESP_E_INVALID_ARG;
  hr_headers_remove(&r->headers, name);
  return 0;
}

const char *httpresp_request_header(const httpresp_request *r,
                                    const char *name) {
  return (r && name) ? hr_headers_get(&r->headers, name) : NULL;
}

static void clear_body(httpresp_request *r) {
  free(r->body);
  r->body = NULL;
  r->body_len = 0;
  r->read = NULL;
  r->rewind = NULL;
  r->stream_len = -1;
  r->stream_ud = NULL;
  r->mime = NULL;
  r->body_kind = HR_BODY_NONE;
}

int httpresp_request_set_body(httpresp_request *r, const void *data,
                              size_t len) {
  if (!r || (!data && len))
    return HTTPRESP_E_INVALID_ARG;
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return HTTPRESP_E_NOMEM;
  if (len)
    memcpy(copy, data, len);
  clear_body(r);
  r->body = copy;
  r->body_len = len;
  r->body_kind = HR_BODY_MEMORY;
  return 0;
}

int httpresp_request_set_body_stream(httpresp_request *r, httpresp_read_fn read,
                                     httpresp_rewind_fn rewind, int64_t length,
                                     void *userdata) {
  if (!r || !read || length < -1)
    return HTTPRESP_E_INVALID_ARG;
  clear_body(r);
  r->body_kind = HR_BODY_STREAM;
  r->read = read;
  r->rewind = rewind;
  r->stream_len = length;
  r->stream_ud = userdata;
  return 0;
}

int httpresp_request_set_body_mime(httpresp_request *r, curl_mime *mime) {
  if (!r || !mime)
    return HTTPRESP_E_INVALID_ARG;
  clear_body(r);
  r->body_kind = HR_BODY_MIME;
  r->mime = mime;
  return 0;
}

int httpresp_request_set_sink(httpresp_request *r, httpresp_write_fn write,
                              void *userdata) {
  if (!r)
    return HTTPRESP_E_INVALID_ARG;
  r->sink = write;
  r->sink_ud = userdata;
  return 0;
}

int httpresp_request_set_credentials(httpresp_request *r, const char *user,
                                     const char *password, unsigned long auth) {
  if (!r || !user)
    return HTTPRESP_E_INVALID_ARG;
  char *u = hr_strdup(user);
  char *p = hr_strdup(password ? password : "");
  if (!u || !p) {
    free(u);
    free(p);
    return HTTPRESP_E_NOMEM;
  }
  free(r->user);
  free(r->password);
  r->user = u;
  r->password = p;
  r->auth = auth ? auth : CURLAUTH_BASIC;
  return 0;
}

/* A copy of `src` whose method and URL are `method` and `url` (copied),
 * or with `url` NULL an empty inline URL for the caller to replace. */
static int derive(httpresp_request **out, const httpresp_request *src,
                  const char *method, const char *url) {
  /* `src` was checked when its method and URL were set, and `url` is one
   * of those or a resolved redirect target, so nothing is parsed again:
   * that parse was once the largest part of what a request cost. */
  *out = NULL;
  httpresp_request *r =
      alloc_request(method, strlen(method), url, url ? strlen(url) : 0);
  if (!r)
    return HTTPRESP_E_NOMEM;
  int rc = 0;
  if (src->headers.n)
    rc = hr_headers_copy(&r->headers, &src->headers);
  if (!rc && src->body_kind == HR_BODY_MEMORY)
    rc = httpresp_request_set_body(r, src->body, src->body_len);
  if (!rc && src->user)
    rc = httpresp_request_set_credentials(r, src->user, src->password,
                                          src->auth);
  if (!rc && src->cache_partition)
    rc = httpresp_request_set_cache_partition(r, src->cache_partition);
  if (rc) {
    free_parts(r); /* method and URL are still the inline ones */
    free(r);
    return rc;
  }
  if (src->body_kind == HR_BODY_MIME) {
    r->body_kind = HR_BODY_MIME;
    r->mime = src->mime;
  }
  if (src->body_kind == HR_BODY_STREAM) {
    r->body_kind = HR_BODY_STREAM;
    r->read = src->read;
    r->rewind = src->rewind;
    r->stream_len = src->stream_len;
    r->stream_ud = src->stream_ud;
  }
  r->sink = src->sink;
  r->sink_ud = src->sink_ud;
  r->cache_refresh = src->cache_refresh;
  /* Redirects and repeats run under the policy the caller chose. */
  r->deadline_ms = src->deadline_ms;
  r->max_wait_ms = src->max_wait_ms;
  r->max_redirects = src->max_redirects;
  r->max_retries = src->max_retries;
  r->cache_mode = src->cache_mode;
  r->userdata = src->userdata;
  *out = r;
  return 0;
}

int httpresp_request_set_cache_partition(httpresp_request *r,
                                        const char *partition) {
  if (!r || (partition && strlen(partition) > HTTPRESP_CACHE_PARTITION_MAX))
    return HTTPRESP_E_INVALID_ARG;
  char *p = NULL;
  if (partition && !(p = hr_strdup(partition)))
    return HTTPRESP_E_NOMEM;
  free(r->cache_partition);
  r->cache_partition = p;
  return 0;
}

int httpresp_request_set_deadline_ms(httpresp_request *r, int64_t ms) {
  if (!r || ms < -1)
    return HTTPRESP_E_INVALID_ARG;
  r->deadline_ms = ms;
  return 0;
}

int httpresp_request_set_max_redirects(httpresp_request *r, long n) {
  if (!r || n < -1)
    return HTTPRESP_E_INVALID_ARG;
  r->max_redirects = n;
  return 0;
}

int httpresp_request_set_max_retries(httpresp_request *r, long n) {
  if (!r || n < -1)
    return HTTPRESP_E_INVALID_ARG;
  r->max_retries = n;
  return 0;
}

int httpresp_request_set_max_wait_ms(httpresp_request *r, int64_t ms) {
  if (!r || ms < -1)
    return HTTPRESP_E_INVALID_ARG;
  r->max_wait_ms = ms;
  return 0;
}

int httpresp_request_set_cache_mode(httpresp_request *r,
                                    httpresp_cache_mode mode) {
  if (!r || mode < HTTPRESP_CACHE_MODE_DEFAULT ||
      mode > HTTPRESP_CACHE_MODE_ONLY_IF_CACHED)
    return HTTPRESP_E_INVALID_ARG;
  r->cache_mode = mode;
  return 0;
}

int httpresp_request_set_userdata(httpresp_request *r, void *userdata) {
  if (!r)
    return HTTPRESP_E_INVALID_ARG;
  r->userdata = userdata;
  return 0;
}

void *httpresp_request_userdata(const httpresp_request *r) {
  return r ? r->userdata : NULL;
}

int hr_request_copy(httpresp_request **out, const httpresp_request *src) {
  return derive(out, src, src->method, src->url);
}

int hr_request_derive(httpresp_request **out, const httpresp_request *src,
                      const char *method, char *url) {
  /* The resolved target is taken as it is: copying it into the block
   * would only add a copy and a free. */
  int rc = derive(out, src, method, NULL);
  if (rc) {
    free(url);
    return rc;
  }
  (*out)->url = url;
  (*out)->own_url = 1;
  return 0;
}

int hr_request_body_replayable(const httpresp_request *r) {
  return r->body_kind != HR_BODY_STREAM || r->rewind != NULL;
}

/* RFC 9110 §15.4 step 5: when a redirect changes the method to GET, the
 * content-specific fields go ("including (but not limited to)
 * Content-Encoding, Content-Language, Content-Location, Content-Type,
 * Content-Length, Digest, Last-Modified"); with them go the other fields
 * that describe the dropped content (Content-Range of a partial PUT, the
 * digests of RFC 9530 and RFC 3230, Content-MD5), its framing
 * (Transfer-Encoding, Trailer), and Expect: RFC 9110 §10.1.1's
 * 100-continue is an expectation about content, and a request without
 * content cannot carry it. */
static int describes_body(const char *name) {
  static const char *const fields[] = {"Content-Type",     "Content-Length",
                                       "Content-Encoding", "Content-Language",
                                       "Content-Location", "Content-Range",
                                       "Content-MD5",      "Content-Digest",
                                       "Repr-Digest",      "Digest",
                                       "Last-Modified",    "Transfer-Encoding",
                                       "Trailer",          "Expect"};
  for (size_t i = 0; i < HR_ARRAY_LEN(fields); i++)
    if (hr_strcaseeq(name, fields[i]))
      return 1;
  return 0;
}

void hr_request_drop_body(httpresp_request *r) {
  clear_body(r);
  for (size_t i = 0; i < r->headers.n;) {
    if (describes_body(r->headers.v[i].name))
      hr_headers_remove_at(&r->headers, i);
    else
      i++;
  }
}
