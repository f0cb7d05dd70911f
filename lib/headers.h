/* SPDX-License-Identifier: MIT */
/* An ordered list of header fields, and the parsers for header lines. */
#ifndef HR_HEADERS_H
#define HR_HEADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_field {
  char *name;  /* as received, NUL-terminated */
  char *value; /* OWS trimmed, NUL-terminated */
} hr_field;

/* The fields' strings live in chunks owned by the list (name and value of
 * a field side by side), so adding a field rarely allocates and clearing
 * a list keeps its memory for the next response.  A list edited in place
 * for long compacts its chunks, which moves the strings; a *stable* list
 * (a request's, whose values callers may hold) instead gives each field an
 * allocation of its own, so a string stays where it is until its field is
 * removed. */
typedef struct hr_chunk hr_chunk;

typedef struct hr_headers {
  hr_field *v;
  size_t n;
  size_t cap;
  size_t bytes;     /* sum of name and value lengths, for limits */
  hr_chunk *chunks; /* newest first */
  size_t dead;      /* chunk bytes of removed or replaced strings */
  int stable;       /* one allocation per field, never moved */
  int v_in_chunk;   /* v lies at the start of the oldest chunk: a list's
                       first fields and strings are one allocation */
} hr_headers;

void hr_headers_init(hr_headers *h);
void hr_headers_init_stable(hr_headers *h);
void hr_headers_clear(hr_headers *h); /* drops every field, keeps storage */
void hr_headers_free(hr_headers *h);
/* Appends a field; the value's surrounding OWS is trimmed.  Returns 0,
 * HTTPRESP_E_NOMEM, or HTTPRESP_E_INVALID_ARG if the name is not a token or
 * either part contains CR, LF or NUL. */
int hr_headers_add(hr_headers *h, const char *name, size_t nlen,
                   const char *value, size_t vlen);
/* Parses one "Name: value" line (a trailing CRLF or LF is ignored).
 * Returns 0, HTTPRESP_E_NOMEM or HTTPRESP_E_BAD_RESPONSE. */
int hr_headers_add_line(hr_headers *h, const char *line, size_t len);
/* The same, and on success *name_len is the new field's name length (what
 * the receive path classifies fields by, before comparing any name). */
int hr_headers_add_line_n(hr_headers *h, const char *line, size_t len,
                          size_t *name_len);
/* First value of `name` (case-insensitive), or NULL. */
const char *hr_headers_get(const hr_headers *h, const char *name);
/* Number of fields named `name`. */
size_t hr_headers_count(const hr_headers *h, const char *name);
/* Removes every field named `name`; returns how many were removed. */
size_t hr_headers_remove(hr_headers *h, const char *name);
/* Removes field `i`, keeping the order of the others. */
void hr_headers_remove_at(hr_headers *h, size_t i);
/* Room for a value of `len` bytes (and its NUL) for field `i`, which keeps
 * its name; the caller fills it and sets v[i].value.  The old value stays
 * readable until the list is cleared or edited.  NULL without memory, and
 * always for a stable list. */
char *hr_headers_value_space(hr_headers *h, size_t i, size_t len);
/* Replaces dst's fields by copies of src's. */
int hr_headers_copy(hr_headers *dst, const hr_headers *src);
/* Whether any field `name`, read as a comma-separated list, contains
 * `token` (case-insensitive), e.g. Connection: close. */
int hr_headers_has_token(const hr_headers *h, const char *name,
                         const char *token);

/* Walks the comma-separated elements of every field `name` of `h`, in
 * order (RFC 9110 §5.6.1), with OWS trimmed and empty elements skipped. */
typedef struct hr_list_iter {
  const hr_headers *h;
  const char *name;
  size_t i;
  const char *p; /* inside h->v[i].value, NULL before the first field */
} hr_list_iter;
void hr_list_init(hr_list_iter *it, const hr_headers *h, const char *name);
/* 1 and the next element in *s, *len; 0 at the end. */
int hr_list_next(hr_list_iter *it, const char **s, size_t *len);
/* Whether the Content-Length fields of a final response leave its length
 * known (RFC 9112 §6.3).  `bodyless`: a response to HEAD, or a 204 or 304,
 * which ends at the empty line whatever its fields say (item 1); with
 * Transfer-Encoding, Content-Length is overridden (item 3).  Otherwise every
 * Content-Length field, read as a list, must hold only 1*DIGIT values that
 * fit in 63 bits and are all the same (item 5: "5, 5" is processed as 5).
 * Returns 0, or HTTPRESP_E_BAD_RESPONSE with *why set to a static message.
 * `length` (may be NULL) gets the length Content-Length frames the body
 * with, -1 when none does (no field, Transfer-Encoding, bodyless). */
int hr_headers_check_framing(const hr_headers *h, int bodyless,
                             int64_t *length, const char **why);

/* The same verdict gathered field by field as a header block arrives:
 * hr_framing_field for each field in order (`nlen` its name's length),
 * then hr_framing_verdict, which answers as hr_headers_check_framing over
 * those fields would.  A field changed after it was fed (an obs-fold)
 * needs the whole check instead. */
typedef struct hr_framing {
  int64_t length;  /* -1 until a Content-Length value is read */
  const char *bad; /* the first Content-Length verdict against it */
  int chunked;     /* a Transfer-Encoding field was seen */
} hr_framing;

void hr_framing_init(hr_framing *f);
/* hr_framing_field for a name of a framing field's length. */
void hr_framing_named(hr_framing *f, const char *name, size_t nlen,
                      const char *value);
/* Inline: it runs for every field received, and most fields are settled
 * by their name's length alone (Content-Length 14, Transfer-Encoding 17). */
static inline void hr_framing_field(hr_framing *f, const char *name,
                                    size_t nlen, const char *value) {
  if (nlen == 14 || nlen == 17)
    hr_framing_named(f, name, nlen, value);
}
int hr_framing_verdict(const hr_framing *f, int bodyless, int64_t *length,
                       const char **why);

/* Parses an HTTP/1.x or HTTP/2/3 status line as libcurl hands it
 * ("HTTP/1.1 200 OK\r\n", "HTTP/2 200").  Returns 0 and the status, or
 * HTTPRESP_E_BAD_RESPONSE. */
int hr_parse_status_line(const char *line, size_t len, int *status);

/* Parses a whole header block: a status line, then fields, up to an empty
 * line or the end of input.  Obsolete line folding is refused. */
int hr_parse_header_block(const char *data, size_t len, int *status,
                          hr_headers *out);

#endif
