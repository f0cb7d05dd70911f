/* --json: one JSON object per URL, on one line, with everything a script
 * needs to know what the library did.  No JSON library: the escaper below
 * is the only tricky part, and it must be right for any bytes a server
 * sends. */
#include <inttypes.h>
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

void json_job(FILE *f, const tool_job *j, const tool_opts *o, int with_body) {
  const httpresp_response *r = j->resp;
  int status = httpresp_response_status(r);
  fputc('{', f);
  json_key(f, "index", 1);
  fprintf(f, "%zu", j->index);
  json_key(f, "url", 0);
  json_cstr(f, j->url);
  json_key(f, "method", 0);
  json_cstr(f, j->method);
  json_key(f, "status", 0);
  fprintf(f, "%d", status);
  json_key(f, "reason", 0);
  json_cstr(f, status ? httpresp_status_reason(status) : "");
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

  json_key(f, "cache", 0);
  fputc('{', f);
  json_key(f, "status", 1);
  json_cstr(f, httpresp_cache_status_name(httpresp_response_cache_status(r)));
  json_key(f, "reason", 0);
  json_cstr(f, httpresp_response_cache_reason(r));
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
    json_cstr(f, r ? httpresp_response_errmsg(r) : httpresp_strerror(j->rc));
    json_key(f, "curl_code", 0);
    fprintf(f, "%d", (int)httpresp_response_curl_code(r));
    fputc('}', f);
  } else {
    fputs("null", f);
  }

  json_key(f, "time_ms", 0);
  fprintf(f, "%" PRId64, j->end_ms - j->start_ms);
  size_t blen = 0;
  const char *body = httpresp_response_body(r, &blen);
  json_key(f, "body_bytes", 0);
  fprintf(f, "%zu", blen);
  if (with_body) {
    json_key(f, "body", 0);
    json_string(f, body, blen);
  }
  fputs("}\n", f);
}
