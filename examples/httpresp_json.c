/* SPDX-License-Identifier: MIT */
/* -w/--write-out, curl's way: text with %{variable}s after each URL, and
 * %{json}, one JSON object with curl's variables and everything a script
 * needs to know what the library did.  No JSON library: the escaper below
 * is the only tricky part, and it must be right for any bytes a server
 * sends. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "httpresp_tool.h"

/* Length of the valid UTF-8 sequence at `s` (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if the bytes are not one. */
static size_t utf8_len(const unsigned char *s, size_t avail) {
  unsigned char c = s[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else
    return 0;
  if (avail < n)
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return n;
}

int json_is_utf8(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_len(s + i, len - i);
    if (!n)
      return 0;
    i += n;
  }
  return 1;
}

/* RFC 4648 §4 base64, with padding. */
static void json_base64(FILE *f, const char *str, size_t len) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', f);
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)s[i] << 16;
    if (i + 1 < len)
      v |= (unsigned)s[i + 1] << 8;
    if (i + 2 < len)
      v |= s[i + 2];
    fputc(abc[(v >> 18) & 63], f);
    fputc(abc[(v >> 12) & 63], f);
    fputc(i + 1 < len ? abc[(v >> 6) & 63] : '=', f);
    fputc(i + 2 < len ? abc[v & 63] : '=', f);
  }
  fputc('"', f);
}

void json_string(FILE *f, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', f);
  for (size_t i = 0; s && i < len;) {
    unsigned char c = s[i];
    switch (c) {
    case '"':
      fputs("\\\"", f);
      i++;
      continue;
    case '\\':
      fputs("\\\\", f);
      i++;
      continue;
    case '\b':
      fputs("\\b", f);
      i++;
      continue;
    case '\f':
      fputs("\\f", f);
      i++;
      continue;
    case '\n':
      fputs("\\n", f);
      i++;
      continue;
    case '\r':
      fputs("\\r", f);
      i++;
      continue;
    case '\t':
      fputs("\\t", f);
      i++;
      continue;
    default:
      break;
    }
    if (c < 0x20 || c == 0x7F) {
      fprintf(f, "\\u%04x", c);
      i++;
      continue;
    }
    size_t n = utf8_len(s + i, len - i);
    if (n == 0) {
      fputs("\\ufffd", f); /* one replacement per invalid byte */
      i++;
      continue;
    }
    fwrite(s + i, 1, n, f);
    i += n;
  }
  fputc('"', f);
}

static void json_cstr(FILE *f, const char *s) {
  if (s)
    json_string(f, s, strlen(s));
  else
    fputs("null", f);
}

static void json_key(FILE *f, const char *k, int first) {
  if (!first)
    fputc(',', f);
  json_cstr(f, k);
  fputc(':', f);
}

/* The final status's reason phrase: the server's own when the answer came
 * from the network, else the library's. */
static const char *final_reason(const tool_job *j, int status, char *buf,
                                size_t len) {
  httpresp_cache_status cs = httpresp_response_cache_status(j->resp);
  if (j->wire && j->wire_status == status && !j->wire_followed &&
      cs != HTTPRESP_CACHE_HIT && cs != HTTPRESP_CACHE_REVALIDATED) {
    const char *sp = memchr(j->wire, ' ', j->wire_len);
    const char *end = memchr(j->wire, '\n', j->wire_len);
    const char *rp =
        sp && end ? memchr(sp + 1, ' ', (size_t)(end - sp - 1)) : NULL;
    if (rp) {
      size_t n = (size_t)(end - rp - 1);
      while (n && (rp[n] == '\r' || rp[n] == ' '))
        n--;
      snprintf(buf, len, "%.*s", (int)n, rp + 1);
      return buf;
    }
  }
  return status ? httpresp_status_reason(status) : "";
}

static const char *errormsg(const tool_job *j) {
  if (!j->rc)
    return NULL;
  return j->resp ? httpresp_response_errmsg(j->resp) : httpresp_strerror(j->rc);
}

static uint64_t size_download(const tool_job *j) { return j->body_bytes; }

void json_job(FILE *f, const tool_job *j, const tool_opts *o) {
  const httpresp_response *r = j->resp;
  int status = httpresp_response_status(r);
  char rbuf[256];
  fputc('{', f);
  /* curl's %{json} variables first, named and typed as curl has them. */
  json_key(f, "http_code", 1);
  fprintf(f, "%d", status);
  json_key(f, "url_effective", 0);
  json_cstr(f,
            r && *httpresp_response_url(r) ? httpresp_response_url(r) : j->url);
  json_key(f, "num_redirects", 0);
  fprintf(f, "%u", tool_redirect_count(r));
  json_key(f, "time_total", 0);
  fprintf(f, "%.6f", (double)(j->end_ms - j->start_ms) / 1000.0);
  json_key(f, "size_download", 0);
  fprintf(f, "%" PRIu64, size_download(j));
  json_key(f, "exitcode", 0);
  fprintf(f, "%d", tool_exit_code(j, o));
  json_key(f, "errormsg", 0);
  json_cstr(f, errormsg(j));

  /* Then what the library did. */
  json_key(f, "index", 0);
  fprintf(f, "%zu", j->index);
  json_key(f, "url", 0);
  json_cstr(f, j->url);
  json_key(f, "method", 0);
  json_cstr(f, j->method);
  json_key(f, "status", 0);
  fprintf(f, "%d", status);
  json_key(f, "reason", 0);
  json_cstr(f, final_reason(j, status, rbuf, sizeof(rbuf)));
  json_key(f, "final_url", 0);
  json_cstr(f, r ? httpresp_response_url(r) : "");
  json_key(f, "exit_code", 0);
  fprintf(f, "%d", tool_exit_code(j, o));

  json_key(f, "headers", 0);
  fputc('[', f);
  size_t nh = httpresp_response_header_count(r);
  for (size_t i = 0; i < nh; i++) {
    const char *name, *value;
    if (httpresp_response_header_at(r, i, &name, &value) != 0)
      continue;
    fputs(i ? ",{" : "{", f);
    json_key(f, "name", 1);
    json_cstr(f, name);
    json_key(f, "value", 0);
    json_cstr(f, value);
    fputc('}', f);
  }
  fputc(']', f);

  json_key(f, "hops", 0);
  fputc('[', f);
  size_t nhops = httpresp_response_hop_count(r);
  for (size_t i = 0; i < nhops; i++) {
    int hs = 0;
    const char *method = NULL, *url = NULL;
    httpresp_decision d = HTTPRESP_DECISION_DELIVER;
    if (httpresp_response_hop(r, i, &hs, &method, &url, &d) != 0)
      continue;
    fputs(i ? ",{" : "{", f);
    json_key(f, "status", 1);
    fprintf(f, "%d", hs);
    json_key(f, "reason", 0);
    json_cstr(f, hs ? httpresp_status_reason(hs) : "");
    json_key(f, "method", 0);
    json_cstr(f, method);
    json_key(f, "url", 0);
    json_cstr(f, url);
    json_key(f, "decision", 0);
    json_cstr(f, httpresp_decision_name(d));
    fputc('}', f);
  }
  fputc(']', f);
  json_key(f, "redirects", 0);
  fprintf(f, "%u", tool_redirect_count(r));

  json_key(f, "attempts", 0);
  fprintf(f, "%u", httpresp_response_attempts(r));
  json_key(f, "retry_after_ms", 0);
  int64_t ra = httpresp_response_retry_after_ms(r);
  if (ra >= 0)
    fprintf(f, "%" PRId64, ra);
  else
    fputs("null", f);
  json_key(f, "retry_stop", 0);
  json_cstr(f, httpresp_retry_stop_name(httpresp_response_retry_stop(r)));

  /* An answer that did not come from the server just now says so, with
   * its age as the cache computed it (RFC 9111 §4.2.3). */
  httpresp_cache_status cs = httpresp_response_cache_status(r);
  json_key(f, "cache", 0);
  fputc('{', f);
  json_key(f, "status", 1);
  json_cstr(f, httpresp_cache_status_name(cs));
  json_key(f, "reason", 0);
  json_cstr(f, httpresp_response_cache_reason(r));
  json_key(f, "fetched_now", 0);
  int stored = cs == HTTPRESP_CACHE_HIT || cs == HTTPRESP_CACHE_REVALIDATED;
  fputs(stored ? "false" : "true", f);
  json_key(f, "age", 0);
  const char *age = stored ? httpresp_response_header(r, "Age") : NULL;
  if (age)
    fprintf(f, "%lld", strtoll(age, NULL, 10));
  else
    fputs("null", f);
  /* A body completed from a part stored when an earlier transfer was cut:
   * where the new part began. */
  json_key(f, "resumed_from", 0);
  if (httpresp_response_resumed_from(r) >= 0)
    fprintf(f, "%lld", (long long)httpresp_response_resumed_from(r));
  else
    fputs("null", f);
  fputc('}', f);

  json_key(f, "error", 0);
  if (j->rc) {
    fputc('{', f);
    json_key(f, "code", 1);
    fprintf(f, "%d", j->rc);
    json_key(f, "name", 0);
    json_cstr(f, httpresp_errname(j->rc));
    json_key(f, "label", 0);
    json_cstr(f, tool_error_label(j->rc));
    json_key(f, "message", 0);
    json_cstr(f, errormsg(j));
    json_key(f, "curl_code", 0);
    fprintf(f, "%d", (int)httpresp_response_curl_code(r));
    fputc('}', f);
  } else {
    fputs("null", f);
  }

  json_key(f, "time_ms", 0);
  fprintf(f, "%" PRId64, j->end_ms - j->start_ms);
  json_key(f, "body_bytes", 0);
  fprintf(f, "%" PRIu64, size_download(j));
  /* The body never loses a byte: text when it is UTF-8, else base64. */
  int text = json_is_utf8(j->kept, j->kept_len);
  json_key(f, "body_encoding", 0);
  json_cstr(f, text ? "utf-8" : "base64");
  json_key(f, "body", 0);
  if (text)
    json_string(f, j->kept, j->kept_len);
  else
    json_base64(f, j->kept, j->kept_len);
  json_key(f, "body_truncated", 0);
  fputs(j->kept_all ? "false" : "true", f);
  fputc('}', f);
}

/* One %{name} of -w. */
static int write_var(FILE *f, const char *name, size_t len, const tool_job *j,
                     const tool_opts *o) {
  const httpresp_response *r = j->resp;
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
  if (IS("json"))
    json_job(f, j, o);
  else if (IS("http_code") || IS("response_code"))
    fprintf(f, "%03d", httpresp_response_status(r));
  else if (IS("url_effective"))
    fputs(r && *httpresp_response_url(r) ? httpresp_response_url(r) : j->url,
          f);
  else if (IS("num_redirects"))
    fprintf(f, "%u", tool_redirect_count(r));
  else if (IS("time_total"))
    fprintf(f, "%.6f", (double)(j->end_ms - j->start_ms) / 1000.0);
  else if (IS("size_download"))
    fprintf(f, "%" PRIu64, size_download(j));
  else if (IS("exitcode"))
    fprintf(f, "%d", tool_exit_code(j, o));
  else if (IS("errormsg"))
    fputs(errormsg(j) ? errormsg(j) : "", f);
  else
    return -1;
#undef IS
  return 0;
}

/* curl 8.3's %output{FILE} and %output{>>FILE}: what follows goes to FILE
 * (`name`, `len` bytes).  Returns the new stream, or NULL (with `f`
 * closed unless stdout) when FILE cannot be opened. */
static FILE *switch_output(FILE *f, const char *name, size_t len, int *bad) {
  int append = len >= 2 && strncmp(name, ">>", 2) == 0;
  if (append)
    name += 2, len -= 2;
  char path[4096];
  snprintf(path, sizeof(path), "%.*s", (int)len, name);
  FILE *nf = fopen(path, append ? "ab" : "wb");
  if (!nf)
    fprintf(stderr, "httpresp: -w %%output{%s}: %s\n", path, strerror(errno));
  int done = f == stdout ? fflush(f) : fclose(f);
  if (done != 0)
    *bad = 1;
  return nf;
}

int write_out(const char *fmt, const tool_job *j, const tool_opts *o) {
  FILE *f = stdout;
  int bad = 0;
  for (const char *p = fmt; *p; p++) {
    if (p[0] == '%' && p[1] == '%') {
      fputc('%', f);
      p++;
    } else if (p[0] == '%' && p[1] == '{' && strchr(p + 2, '}')) {
      const char *end = strchr(p + 2, '}');
      if (write_var(f, p + 2, (size_t)(end - p - 2), j, o) != 0)
        fprintf(stderr, "httpresp: unknown --write-out variable: '%.*s'\n",
                (int)(end - p - 2), p + 2);
      p = end;
    } else if (strncmp(p, "%output{", 8) == 0 && strchr(p + 8, '}')) {
      const char *end = strchr(p + 8, '}');
      if (!(f = switch_output(f, p + 8, (size_t)(end - p - 8), &bad)))
        return EXIT_WRITE;
      p = end;
    } else if (p[0] == '\\' && p[1]) {
      p++;
      fputc(*p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == 't' ? '\t' : *p, f);
    } else {
      fputc(*p, f);
    }
  }
  int closed = f == stdout ? fflush(f) : fclose(f);
  return bad || closed != 0 ? EXIT_WRITE : 0;
}
