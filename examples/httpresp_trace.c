/* SPDX-License-Identifier: MIT */
/* The -v trace: one line per request sent and per response received, each
 * response annotated with what the library decided and why.
 *
 * What went over the wire comes from libcurl's debug callback (the request
 * heads out, the status lines and a few fields in).  A response's line is
 * held back until the decision about it is known: the next request of the
 * same transfer (follow, repeat), the library's sleep (a wait), or the end
 * of the request (the hop history and the response say what happened). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httpresp_tool.h"

typedef struct trace_slot {
  tool_trace *t;
  const tool_job *job;
  /* The last response received, waiting for its annotation. */
  int pending;      /* its status, 0 if none */
  char reason[128]; /* its reason phrase, as the server sent it */
  int followed;     /* the library follows it (the hop callback said so) */
  char follow_to[2048];
  int64_t pending_ms; /* when it arrived */
  char retry_after[64];
  int has_location;
  /* The last request sent. */
  char method[32];
  char url[2048];
  long long body_len; /* -1: chunked */
  int had_auth;
  unsigned attempt;
  unsigned requests;
  const char *conn_note;
  int64_t begin_ms;
} trace_slot;

/* A pause longer than this before a request is the library waiting for
 * the origin's quiet time, not the network. */
#define QUIET_NOTE_MS 250

struct tool_trace {
  FILE *out;
  int prefix;
  const tool_opts *o;
  trace_slot *slots;
  size_t nslots;
  size_t cur; /* the slot of the latest event: callbacks without a handle */
};

static void emit(trace_slot *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emit(trace_slot *s, const char *fmt, ...) {
  FILE *f = s->t->out;
  if (s->t->prefix && s->job)
    fprintf(f, "[%zu] ", s->job->index + 1);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fflush(f);
}

void trace_note(tool_trace *t, const char *fmt, ...) {
  fputs("* ", t->out);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(t->out, fmt, ap);
  va_end(ap);
  fputc('\n', t->out);
  fflush(t->out);
}

/* Appends to a fixed buffer, silently truncating. */
static void cat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...) {
  size_t used = strlen(buf);
  if (used + 1 >= len)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

static int is_redirect(int status) {
  return status >= 300 && status < 400 && status != 304;
}

/* Prints the held-back response line with `note` after it. */
static void flush(trace_slot *s, const char *note) {
  if (!s->pending)
    return;
  emit(s, "< %d%s%s%s%s", s->pending, *s->reason ? " " : "", s->reason,
       note && *note ? "  " : "", note ? note : "");
  s->pending = 0;
  s->followed = 0;
}

/* An origin as the library compares them: scheme, host and port, with
 * userinfo left out and the scheme's default port filled in. */
typedef struct origin {
  char *scheme, *host;
  long port;
} origin;

static void origin_free(origin *o) {
  curl_free(o->scheme);
  curl_free(o->host);
}

/* 0 on success; -1 if `url` has no scheme, host and port libcurl can
 * parse. */
static int origin_of(const char *url, origin *o) {
  memset(o, 0, sizeof(*o));
  CURLU *u = curl_url();
  char *port = NULL;
  int bad =
      !u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &o->host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK;
  if (!bad) {
    char *end;
    o->port = strtol(port, &end, 10);
    bad = end == port || *end;
  }
  curl_free(port);
  curl_url_cleanup(u);
  if (bad)
    origin_free(o);
  return bad ? -1 : 0;
}

/* Whether `a` and `b` have the same origin; URLs that do not parse have
 * none, so they are never the same origin as anything. */
static int same_origin(const char *a, const char *b) {
  origin oa, ob;
  if (origin_of(a, &oa) != 0)
    return 0;
  if (origin_of(b, &ob) != 0) {
    origin_free(&oa);
    return 0;
  }
  int same = oa.port == ob.port && strcasecmp(oa.scheme, ob.scheme) == 0 &&
             strcasecmp(oa.host, ob.host) == 0;
  origin_free(&oa);
  origin_free(&ob);
  return same;
}

static const char *field(const char *head, size_t len, const char *name,
                         char *val, size_t vlen) {
  size_t nlen = strlen(name);
  const char *p = head, *end = head + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
    if (l > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
      const char *v = p + nlen + 1;
      size_t vl = l - nlen - 1;
      while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
        vl--;
      if (vl >= vlen)
        vl = vlen - 1;
      memcpy(val, v, vl);
      val[vl] = '\0';
      return val;
    }
    p += l + 1;
  }
  return NULL;
}

/* What the trace needs of one request head. */
typedef struct sent {
  char method[32];
  const char *url;
  long long body; /* bytes; -1 chunked */
  int auth;
  const char *head;
  size_t len;
} sent;

/* The note on a 3xx whose redirect has just gone out as `r`. */
static void follow_note(const trace_slot *s, const sent *r, char *note,
                        size_t len) {
  cat(note, len, "-> follow to %s (", r->url);
  if (strcmp(r->method, s->method) != 0)
    cat(note, len, "%s becomes %s", s->method, r->method);
  else
    cat(note, len, "%s", r->method);
  if (s->body_len != 0 && r->body == 0)
    cat(note, len, ", body dropped");
  else if (r->body > 0)
    cat(note, len, ", body kept: %lld bytes", r->body);
  else if (r->body < 0)
    cat(note, len, ", body kept");
  if (!same_origin(r->url, s->url)) {
    cat(note, len, ", other origin");
    if (s->had_auth && !r->auth)
      cat(note, len, ": credentials not sent");
  }
  int64_t waited = tool_mono_ms() - s->pending_ms;
  if (waited >= QUIET_NOTE_MS)
    cat(note, len, ", after %.1f s: the origin asked for quiet",
        (double)waited / 1000.0);
  cat(note, len, ")");
}

/* The note on a response whose request is sent again as is. */
static void repeat_note(const trace_slot *s, char *note, size_t len) {
  int st = s->pending;
  if (tool_status_retryable(st)) {
    double secs = (double)(tool_mono_ms() - s->pending_ms) / 1000.0;
    cat(note, len, "-> repeated after %.1f s", secs);
    if (*s->retry_after)
      cat(note, len, " (Retry-After: %s)", s->retry_after);
  } else if (st == 417) {
    cat(note, len, "-> repeat without Expect: 100-continue");
  } else if (st == 304) {
    cat(note, len,
        "-> the stored response is gone: repeat without conditionals");
  } else {
    cat(note, len, "-> repeat");
  }
}

/* The "> METHOD URL  (...)" line. */
static void request_line(trace_slot *s, const sent *r) {
  char extra[512] = "", v[256];
  if (s->attempt > 1)
    cat(extra, sizeof(extra), ", attempt %u", s->attempt);
  int64_t waited = tool_mono_ms() - s->begin_ms;
  if (!s->requests && waited >= QUIET_NOTE_MS)
    cat(extra, sizeof(extra), ", after %.1f s: the origin asked for quiet",
        (double)waited / 1000.0);
  if (r->body > 0)
    cat(extra, sizeof(extra), ", %lld body bytes", r->body);
  else if (r->body < 0)
    cat(extra, sizeof(extra), ", chunked body");
  if (field(r->head, r->len, "If-None-Match", v, sizeof(v)))
    cat(extra, sizeof(extra), ", If-None-Match: %s", v);
  else if (field(r->head, r->len, "If-Modified-Since", v, sizeof(v)))
    cat(extra, sizeof(extra), ", If-Modified-Since: %s", v);
  if (r->auth)
    cat(extra, sizeof(extra), ", with credentials");
  if (s->conn_note)
    cat(extra, sizeof(extra), ", %s", s->conn_note);
  emit(s, "> %s %s%s%s%s", r->method, r->url, *extra ? "  (" : "",
       *extra ? extra + 2 : "", *extra ? ")" : "");
}

/* A request head went out. */
static void request_out(trace_slot *s, CURL *easy, const char *head,
                        size_t len) {
  const char *sp = memchr(head, ' ', len);
  sent r;
  if (!sp || sp == head || (size_t)(sp - head) >= sizeof(r.method))
    return; /* not a request line (a continuation of one) */
  memcpy(r.method, head, (size_t)(sp - head));
  r.method[sp - head] = '\0';
  char *url = NULL;
  curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
  r.url = url ? url : "";
  r.head = head;
  r.len = len;
  char v[256];
  r.body = 0;
  if (field(head, len, "Content-Length", v, sizeof(v)))
    r.body = strtoll(v, NULL, 10);
  else if (field(head, len, "Transfer-Encoding", v, sizeof(v)))
    r.body = -1;
  r.auth = field(head, len, "Authorization", v, sizeof(v)) != NULL;
  /* Whether the library followed the last response, the hop callback
   * said: a redirect to the same URL is followed too, and a resend that
   * follows nothing is another attempt at the same hop, as the library
   * counts attempts. */
  int followed = s->pending && s->followed;
  if (s->pending) {
    char note[512] = "";
    if (followed)
      follow_note(s, &r, note, sizeof(note));
    else
      repeat_note(s, note, sizeof(note));
    flush(s, note);
  }
  s->attempt = followed || !s->requests ? 1 : s->attempt + 1;
  if (!followed) /* the follow line named the request already */
    request_line(s, &r);
  s->conn_note = NULL;
  snprintf(s->method, sizeof(s->method), "%s", r.method);
  snprintf(s->url, sizeof(s->url), "%s", r.url);
  s->body_len = r.body;
  s->had_auth = r.auth;
  s->requests++;
}

static void header_in(trace_slot *s, const char *line, size_t len) {
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    const char *sp = memchr(line, ' ', len);
    int status = sp ? (int)strtol(sp + 1, NULL, 10) : 0;
    /* libcurl does not always show the blank line that ends a 1xx. */
    if (s->pending >= 100 && s->pending < 200)
      flush(s, "(interim, absorbed)");
    else if (s->pending) /* a response we could not account for */
      flush(s, NULL);
    s->pending = status;
    s->followed = 0;
    /* The reason phrase as the server sent it (RFC 9112 §4): what the
     * trace shows is what came over the wire. */
    const char *rp =
        sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line)) : NULL;
    size_t rl = rp ? len - (size_t)(rp + 1 - line) : 0;
    while (rl && (rp[rl] == '\r' || rp[rl] == '\n' || rp[rl] == ' '))
      rl--;
    if (rl >= sizeof(s->reason))
      rl = sizeof(s->reason) - 1;
    if (rp)
      memcpy(s->reason, rp + 1, rl);
    s->reason[rp ? rl : 0] = '\0';
    s->pending_ms = tool_mono_ms();
    s->retry_after[0] = '\0';
    s->has_location = 0;
    return;
  }
  if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) {
    if (s->pending >= 100 && s->pending < 200)
      flush(s, "(interim, absorbed)");
    return;
  }
  char v[64];
  if (field(line, len, "Retry-After", v, sizeof(v)))
    snprintf(s->retry_after, sizeof(s->retry_after), "%s", v);
  else if (field(line, len, "Location", v, sizeof(v)))
    s->has_location = 1;
}

void trace_debug(tool_trace *t, size_t slot, CURL *easy, curl_infotype type,
                 const char *data, size_t size) {
  trace_slot *s = &t->slots[slot];
  if (!s->job)
    return;
  t->cur = slot;
  switch (type) {
  case CURLINFO_HEADER_OUT:
    request_out(s, easy, data, size);
    break;
  case CURLINFO_HEADER_IN:
    header_in(s, data, size);
    break;
  case CURLINFO_TEXT:
    /* Wording differs between libcurl versions; the prefixes do not. */
    if (size > 28 && memcmp(data, "Re-using existing connection", 28) == 0)
      s->conn_note = "reused connection";
    else if (size > 13 && memcmp(data, "Connected to ", 13) == 0)
      s->conn_note = "new connection";
    break;
  default:
    break;
  }
}

void trace_follow(tool_trace *t, size_t slot, const httpresp_hop_view *hop) {
  trace_slot *s = &t->slots[slot];
  const char *to = httpresp_hop_to(hop);
  s->followed = 1;
  snprintf(s->follow_to, sizeof(s->follow_to), "%s", to ? to : "");
}

static void hints_cb(void *ud, int status, const char *const *headers,
                     size_t count) {
  tool_trace *t = ud;
  trace_slot *s = &t->slots[t->cur];
  if (s->pending == status)
    flush(s, "(interim, absorbed)");
  for (size_t i = 0; i < count; i++)
    emit(s, "    early hint: %s", headers[i]);
}

/* The blocking driver's sleep: says why it waits, then waits. */
static int sleep_cb(void *ud, int64_t ms) {
  tool_trace *t = ud;
  trace_slot *s = &t->slots[t->cur];
  char note[256] = "";
  if (is_redirect(s->pending)) {
    /* Waiting for the origin's quiet time before following: the follow
     * line will say so. */
  } else if (s->pending) {
    cat(note, sizeof(note), "-> wait %.1f s", (double)ms / 1000.0);
    if (*s->retry_after)
      cat(note, sizeof(note), " (Retry-After: %s)", s->retry_after);
    cat(note, sizeof(note), ", then repeat");
    flush(s, note);
  } else {
    emit(s, "* waiting %.1f s: the origin asked for quiet earlier",
         (double)ms / 1000.0);
    s->begin_ms += ms; /* said here: the request line need not repeat it */
  }
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

tool_trace *trace_new(FILE *out, size_t nslots, int prefix,
                      const tool_opts *o) {
  tool_trace *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->slots = calloc(nslots ? nslots : 1, sizeof(*t->slots));
  if (!t->slots) {
    free(t);
    return NULL;
  }
  t->out = out;
  t->prefix = prefix;
  t->o = o;
  t->nslots = nslots;
  for (size_t i = 0; i < nslots; i++)
    t->slots[i].t = t;
  return t;
}

void trace_free(tool_trace *t) {
  if (!t)
    return;
  free(t->slots);
  free(t);
}

int trace_install(tool_trace *t, httpresp_client *c, int blocking) {
  int rc = httpresp_client_set_early_hints_callback(c, hints_cb, t);
  if (!rc && blocking)
    rc = httpresp_client_set_clock(c, NULL, sleep_cb, t);
  return rc;
}

void trace_begin(tool_trace *t, size_t slot, const tool_job *j) {
  trace_slot *s = &t->slots[slot];
  tool_trace *keep = s->t;
  memset(s, 0, sizeof(*s));
  s->t = keep;
  s->job = j;
  s->begin_ms = tool_mono_ms();
  t->cur = slot;
}

/* What the cache did, in words: its status name, and for an answer served
 * stale or a body resumed, what that was ("stale (revalidating)", "stale
 * (origin error)", "resumed from byte N"). */
static void cache_words(const httpresp_response *r, char *buf, size_t len) {
  httpresp_cache_status cs = httpresp_response_cache_status(r);
  const char *why = httpresp_response_cache_reason(r);
  if (cs == HTTPRESP_CACHE_STALE)
    snprintf(buf, len, "stale (%s)",
             strcmp(why, "revalidating") == 0 ? "revalidating"
                                              : "origin error");
  else if (cs == HTTPRESP_CACHE_RESUMED)
    snprintf(buf, len, "resumed from byte %lld",
             (long long)httpresp_response_resumed_from(r));
  else
    snprintf(buf, len, "%s", httpresp_cache_status_name(cs));
}

/* The annotation of the last response when the request is over. */
static void final_note(trace_slot *s, const tool_job *j, char *note,
                       size_t len) {
  const tool_opts *o = s->t->o;
  const httpresp_response *r = j->resp;
  int st = s->pending;
  httpresp_cache_status cs = httpresp_response_cache_status(r);
  if (j->rc) {
    cat(note, len, "-> stop: %s", tool_error_label(j->rc));
    if (cs == HTTPRESP_CACHE_STORED &&
        strcmp(httpresp_response_cache_reason(r), "incomplete") == 0)
      cat(note, len, "  (cache: the part received is kept, to resume)");
    return;
  }
  if (st == 304 && cs == HTTPRESP_CACHE_REVALIDATED) {
    cat(note, len,
        "-> the stored response is still valid: served from the "
        "cache");
    return;
  }
  if (is_redirect(st)) {
    if (!o->follow)
      cat(note, len, "-> not followed (--no-follow)");
    else if (!s->has_location)
      cat(note, len, "(no Location: this is the final answer)");
    else
      cat(note, len, "(not a redirect the client follows)");
  } else if (tool_status_retryable(st)) {
    switch (httpresp_response_retry_stop(r)) {
    case HTTPRESP_RETRY_EXHAUSTED:
      cat(note, len, "-> not repeated: the retry limit is reached");
      break;
    case HTTPRESP_RETRY_WAIT_TOO_LONG:
      cat(note, len,
          "-> not repeated: Retry-After: %s is longer than the "
          "maximum wait (--max-wait)",
          s->retry_after);
      break;
    case HTTPRESP_RETRY_DEADLINE:
      cat(note, len, "-> not repeated: the wait would pass the -m limit");
      break;
    case HTTPRESP_RETRY_NOT_REPLAYABLE:
      cat(note, len, "-> not repeated: the body cannot be sent again");
      break;
    default:
      if (!*s->retry_after)
        cat(note, len, "(no Retry-After: not repeated)");
      break;
    }
  }
  if (cs == HTTPRESP_CACHE_NONE)
    return;
  const char *why = httpresp_response_cache_reason(r);
  char words[64];
  cache_words(r, words, sizeof(words));
  const char *what = cs == HTTPRESP_CACHE_MISS     ? "not stored"
                     : cs == HTTPRESP_CACHE_BYPASS ? "not used"
                                                   : words;
  cat(note, len, "%s(cache: %s%s%s)", *note ? "  " : "", what, *why ? ": " : "",
      why);
}

/* "Age: N" of an answer served from the cache, for the notes. */
static void age_note(const httpresp_response *r, char *buf, size_t len) {
  const char *age = httpresp_response_header(r, "Age");
  buf[0] = '\0';
  if (age)
    snprintf(buf, len, ", stored %s s ago", age);
}

void trace_end(tool_trace *t, size_t slot, const tool_job *j) {
  trace_slot *s = &t->slots[slot];
  const httpresp_response *r = j->resp;
  httpresp_cache_status cs = httpresp_response_cache_status(r);
  char note[512] = "", age[64];
  age_note(r, age, sizeof(age));
  if (s->pending && s->followed) {
    /* Followed to an answer the cache gave: no request went out, so the
     * hop records say where it went and what it was. */
    cat(note, sizeof(note), "-> follow to %s", s->follow_to);
    flush(s, note);
    if (!j->rc && cs == HTTPRESP_CACHE_HIT)
      emit(s, "* %s %s: fresh in the cache, no request sent%s",
           j->method && strcmp(j->method, "HEAD") == 0 ? "HEAD" : "GET",
           httpresp_response_url(r), age);
  } else if (s->pending) {
    final_note(s, j, note, sizeof(note));
    flush(s, note);
  } else if (!s->requests) {
    if (!j->rc && cs == HTTPRESP_CACHE_HIT)
      emit(s, "* %s %s: fresh in the cache, no request sent%s", j->method,
           j->url, age);
    else
      emit(s, "* %s %s", j->method, j->url);
  }
  if (!j->rc) { /* errors get their own line from the caller */
    int st = httpresp_response_status(r);
    unsigned redirects = tool_redirect_count(r);
    char sum[512] = "";
    if (redirects)
      cat(sum, sizeof(sum), ", %u redirect%s", redirects,
          redirects == 1 ? "" : "s");
    if (httpresp_response_attempts(r) > 1)
      cat(sum, sizeof(sum), ", %u attempts", httpresp_response_attempts(r));
    if (cs == HTTPRESP_CACHE_HIT || cs == HTTPRESP_CACHE_REVALIDATED)
      cat(sum, sizeof(sum), ", cache %s: not fetched just now%s",
          httpresp_cache_status_name(cs), age);
    else if (cs != HTTPRESP_CACHE_NONE) {
      char words[64];
      cache_words(r, words, sizeof(words));
      cat(sum, sizeof(sum), ", cache %s", words);
    }
    int wire = j->wire_status == st && *s->reason && cs != HTTPRESP_CACHE_HIT &&
               cs != HTTPRESP_CACHE_REVALIDATED;
    emit(s, "= %d %s from %s  (%llu bytes%s, %.2f s)", st,
         wire ? s->reason : httpresp_status_reason(st),
         httpresp_response_url(r),
         (unsigned long long)(j->body_bytes + j->stored_len), sum,
         (double)(j->end_ms - j->start_ms) / 1000.0);
  }
  s->job = NULL;
}
