/* SPDX-License-Identifier: MIT */
/* httpresp: a curl-like command-line client that shows what libhttpresp
 * does with each response — redirects, interim 1xx, Retry-After and cache
 * revalidation.  Built on the public API alone.
 *
 * This file: the command line, the two drivers (one URL after the other
 * over one easy handle, or --parallel over the multi driver), bodies
 * written as they arrive, and exit codes.  The -v trace is in
 * httpresp_trace.c, -w/--write-out and its %{json} in httpresp_json.c. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "httpresp_tool.h"

#define TOOL_CACHE_BYTES ((size_t)256 * 1024 * 1024)

/* ---- small helpers ------------------------------------------------------ */

int64_t tool_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tool_status_retryable(int status) {
  const httpresp_status_info *info = httpresp_status_lookup(status);
  return info && (info->flags & HTTPRESP_STATUS_RETRYABLE);
}

unsigned tool_redirect_count(const httpresp_response *r) {
  unsigned n = 0;
  for (size_t i = 0; i < httpresp_response_hop_count(r); i++) {
    httpresp_decision d;
    if (httpresp_response_hop(r, i, NULL, NULL, NULL, &d) == 0 &&
        d == HTTPRESP_DECISION_FOLLOW)
      n++;
  }
  return n;
}

void tool_say(const tool_opts *o, const char *fmt, ...) {
  if (o && o->silent && !o->show_error)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs(TOOL_NAME ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void *tool_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fputs(TOOL_NAME ": out of memory\n", stderr);
    exit(EXIT_NOMEM);
  }
  return q;
}

/* ---- error classes and exit codes --------------------------------------- */

/* The library's errors: a short label and the exit code.  Where curl has
 * the same failure, its CURLcode is the exit code, as curl's. */
static const struct {
  int code;
  int exit;
  const char *label;
} error_table[] = {
    {HTTPRESP_E_NOMEM, EXIT_NOMEM, "out of memory"},
    {HTTPRESP_E_INVALID_ARG, CURLE_BAD_FUNCTION_ARGUMENT, "invalid argument"},
    {HTTPRESP_E_CURL, CURLE_COULDNT_CONNECT, "transfer failed"},
    {HTTPRESP_E_BAD_RESPONSE, CURLE_WEIRD_SERVER_REPLY, "malformed response"},
    {HTTPRESP_E_HEADERS_TOO_LARGE, CURLE_WEIRD_SERVER_REPLY,
     "response headers too large"},
    {HTTPRESP_E_BODY_TOO_LARGE, CURLE_FILESIZE_EXCEEDED,
     "response body too large"},
    {HTTPRESP_E_TOO_MANY_INTERIM, CURLE_WEIRD_SERVER_REPLY,
     "too many interim responses"},
    {HTTPRESP_E_UNEXPECTED_UPGRADE, CURLE_WEIRD_SERVER_REPLY,
     "unexpected protocol switch"},
    {HTTPRESP_E_TOO_MANY_REDIRECTS, CURLE_TOO_MANY_REDIRECTS,
     "too many redirects"},
    {HTTPRESP_E_REDIRECT_LOOP, TOOL_EXIT_LOOP, "redirect loop"},
    {HTTPRESP_E_BAD_LOCATION, EXIT_BAD_URL, "bad Location"},
    {HTTPRESP_E_SCHEME_NOT_ALLOWED, EXIT_UNSUPPORTED,
     "redirect scheme not allowed"},
    {HTTPRESP_E_DOWNGRADE_REFUSED, TOOL_EXIT_DOWNGRADE,
     "https to http redirect refused"},
    {HTTPRESP_E_BODY_NOT_REWINDABLE, CURLE_SEND_FAIL_REWIND,
     "body cannot be sent again"},
    {HTTPRESP_E_ORIGIN_BACKOFF, TOOL_EXIT_WAIT, "server asks to wait too long"},
    {HTTPRESP_E_DEADLINE, CURLE_OPERATION_TIMEDOUT, "time limit reached"},
    {HTTPRESP_E_NOT_CACHED, TOOL_EXIT_CACHE, "not in the cache"},
    {HTTPRESP_E_CACHE_IO, TOOL_EXIT_CACHE, "cache failure"},
    {HTTPRESP_E_ABORTED, CURLE_ABORTED_BY_CALLBACK, "aborted"},
    {HTTPRESP_E_BAD_URL, EXIT_BAD_URL, "bad URL"},
    {HTTPRESP_E_BUSY, CURLE_BAD_FUNCTION_ARGUMENT, "handle busy"},
};

const char *tool_error_label(int code) {
  for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
    if (error_table[i].code == code)
      return error_table[i].label;
  return httpresp_strerror(code);
}

/* Whether the server's last word was "later" and we stopped listening. */
static int gave_up_waiting(const httpresp_response *r) {
  int st = httpresp_response_status(r);
  httpresp_retry_stop s = httpresp_response_retry_stop(r);
  return tool_status_retryable(st) && s != HTTPRESP_RETRY_NONE &&
         s != HTTPRESP_RETRY_SUCCEEDED;
}

int tool_exit_code(const tool_job *j, const tool_opts *o) {
  if (j->exit_code)
    return j->exit_code;
  if (j->write_failed)
    return EXIT_WRITE;
  int st = j->resp ? httpresp_response_status(j->resp) : 0;
  if (j->fail_stopped ||
      (!j->rc && (o->fail || o->fail_with_body) && st >= 400))
    return gave_up_waiting(j->resp) ? TOOL_EXIT_WAIT : EXIT_HTTP_ERROR;
  if (j->rc == HTTPRESP_E_CURL) {
    /* curl's exit code is the CURLcode: the same failure, the same number. */
    CURLcode cc = httpresp_response_curl_code(j->resp);
    return cc != CURLE_OK ? (int)cc : CURLE_COULDNT_CONNECT;
  }
  if (j->rc) {
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
      if (error_table[i].code == j->rc)
        return error_table[i].exit;
    return CURLE_BAD_FUNCTION_ARGUMENT;
  }
  return 0;
}

/* ---- the cache directory ------------------------------------------------ */

/* $XDG_CACHE_HOME/httpresp, else $HOME/.cache/httpresp (malloc'd), or NULL
 * when neither is set. */
static char *default_cache_dir(void) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  const char *base, *sub;
  if (xdg && xdg[0] == '/')
    base = xdg, sub = "/httpresp";
  else if (home && home[0] == '/')
    base = home, sub = "/.cache/httpresp";
  else
    return NULL;
  size_t len = strlen(base) + strlen(sub) + 1;
  char *dir = tool_xrealloc(NULL, len);
  snprintf(dir, len, "%s%s", base, sub);
  return dir;
}

/* ---- requests and output ------------------------------------------------ */

static const char *job_method(const tool_opts *o) {
  if (o->method)
    return o->method;
  if (o->head)
    return "HEAD";
  if (o->upload_file)
    return "PUT";
  if (o->nforms)
    return "POST";
  return o->data && !o->get ? "POST" : "GET";
}

/* The URL's path, or NULL when it does not parse (curl_free it). */
static char *url_path(const char *u) {
  CURLU *h = curl_url();
  char *out = NULL;
  if (h && curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK) {
    char *path = NULL;
    if (curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK)
      out = path;
  }
  curl_url_cleanup(h);
  return out;
}

/* Replaces the job's URL with `u` (malloc'd). */
static void set_job_url(tool_job *j, char *u) {
  free(j->url_owned);
  j->url = j->url_owned = u;
}

/* -G: the data goes after the URL's query ('?' or '&'), before any
 * fragment, as curl puts it. */
static void data_into_query(tool_job *j, const tool_opts *o) {
  const char *hash = strchr(j->url, '#');
  size_t base = hash ? (size_t)(hash - j->url) : strlen(j->url);
  const char *q = memchr(j->url, '?', base);
  size_t len = base + 1 + o->data_len + 1;
  char *u = tool_xrealloc(NULL, len);
  snprintf(u, len, "%.*s%c%s", (int)base, j->url, q ? '&' : '?', o->data);
  set_job_url(j, u);
}

/* -T FILE to a URL whose path ends in '/' (or is empty): like curl, the
 * file's name goes at the end. */
static void upload_name_into_url(tool_job *j, const tool_opts *o) {
  if (!strcmp(o->upload_file, "-"))
    return;
  char *path = url_path(j->url);
  size_t plen = path ? strlen(path) : 0;
  int wants_name = path && (!plen || path[plen - 1] == '/');
  curl_free(path);
  if (!wants_name)
    return;
  const char *slash = strrchr(o->upload_file, '/');
  const char *name = slash ? slash + 1 : o->upload_file;
  char *enc = curl_easy_escape(NULL, name, 0);
  if (!enc)
    return;
  CURLU *h = curl_url();
  char *p = NULL, *u = NULL;
  if (h && curl_url_set(h, CURLUPART_URL, j->url, 0) == CURLUE_OK &&
      curl_url_get(h, CURLUPART_PATH, &p, 0) == CURLUE_OK) {
    size_t len = strlen(p) + strlen(enc) + 2;
    char *np = tool_xrealloc(NULL, len);
    snprintf(np, len, "%s%s%s", p, p[0] && p[strlen(p) - 1] == '/' ? "" : "/",
             enc);
    if (curl_url_set(h, CURLUPART_PATH, np, 0) == CURLUE_OK &&
        curl_url_get(h, CURLUPART_URL, &u, 0) == CURLUE_OK) {
      char *copy = tool_xrealloc(NULL, strlen(u) + 1);
      memcpy(copy, u, strlen(u) + 1);
      set_job_url(j, copy);
    }
    free(np);
  }
  curl_free(u);
  curl_free(p);
  curl_url_cleanup(h);
  curl_free(enc);
}

/* -O: the last segment of the URL's path names the file, as in curl
 * (which neither decodes it nor follows redirects for it).  0, or
 * EXIT_WRITE when the URL names no file. */
static int remote_name(tool_job *j, const tool_opts *o) {
  char *path = url_path(j->url);
  const char *slash = path ? strrchr(path, '/') : NULL;
  const char *name = slash ? slash + 1 : path;
  if (!name || !*name) {
    curl_free(path);
    tool_say(o, "%s: -O: the URL names no file", j->url);
    j->exit_code = EXIT_WRITE;
    return EXIT_WRITE;
  }
  j->path_owned = tool_xrealloc(NULL, strlen(name) + 1);
  memcpy(j->path_owned, name, strlen(name) + 1);
  j->path = j->path_owned;
  curl_free(path);
  return 0;
}

/* -T's body: the file, read as libcurl asks; rewound for a redirect that
 * keeps the body, or a repeat. */
static size_t upload_read(void *ud, char *buf, size_t len) {
  tool_job *j = ud;
  size_t got = fread(buf, 1, len, j->upload);
  return got == 0 && ferror(j->upload) ? (size_t)-1 : got;
}

static int upload_rewind(void *ud) {
  tool_job *j = ud;
  return fseek(j->upload, 0, SEEK_SET);
}

/* Opens -T's file and makes it the job's streamed body.  Returns 0, or
 * EXIT_READ when it cannot be read. */
static int set_upload(tool_job *j, const tool_opts *o) {
  int is_stdin = !strcmp(o->upload_file, "-");
  j->upload = is_stdin ? stdin : fopen(o->upload_file, "rb");
  struct stat st;
  if (!j->upload || fstat(fileno(j->upload), &st) != 0) {
    tool_say(o, "%s: cannot read: %s", o->upload_file, strerror(errno));
    j->exit_code = EXIT_READ;
    return EXIT_READ;
  }
  /* A regular file has a length and can be read again; a pipe is sent
   * chunked, once, as curl does. */
  int regular = S_ISREG(st.st_mode);
  j->upload_size = regular ? (int64_t)st.st_size : -1;
  /* curl's -T sends no Content-Type; libcurl would add a form's to the
   * body the library streams, unless told to leave the field out. */
  if (!httpresp_request_header(j->req, "Content-Type") &&
      httpresp_request_add_header(j->req, "Content-Type:", NULL) != 0)
    return HTTPRESP_E_NOMEM;
  return httpresp_request_set_body_stream(
      j->req, upload_read, regular ? upload_rewind : NULL,
      regular ? (int64_t)st.st_size : -1, j);
}

/* One -F part: NAME=CONTENT, CONTENT being @FILE (the file, uploaded
 * under its name), <FILE (its contents as the value) or the value itself,
 * followed by ";type=TYPE" and ";filename=NAME" as curl reads them.
 * Returns 0, or EXIT_READ when the file cannot be read. */
static int add_form_part(tool_job *j, const tool_opts *o, const char *spec) {
  const char *eq = strchr(spec, '=');
  size_t len = strlen(eq + 1);
  char *value = tool_xrealloc(NULL, len + 1);
  memcpy(value, eq + 1, len + 1);
  const char *type = NULL, *filename = NULL;
  /* The parameters start at the first ";type=" or ";filename=". */
  char *params = NULL;
  for (char *s = strchr(value, ';'); s && !params; s = strchr(s + 1, ';'))
    if (!strncmp(s, ";type=", 6) || !strncmp(s, ";filename=", 10))
      params = s;
  for (char *s = params; s;) {
    *s++ = '\0';
    char *next = strchr(s, ';');
    if (!strncmp(s, "type=", 5))
      type = s + 5;
    else if (!strncmp(s, "filename=", 9))
      filename = s + 9;
    s = next;
  }
  curl_mimepart *part = curl_mime_addpart(j->form);
  char *name = tool_xrealloc(NULL, (size_t)(eq - spec) + 1);
  memcpy(name, spec, (size_t)(eq - spec));
  name[eq - spec] = '\0';
  int rc = 0;
  CURLcode cc = part ? curl_mime_name(part, name) : CURLE_OUT_OF_MEMORY;
  if (!cc && (value[0] == '@' || value[0] == '<')) {
    if (access(value + 1, R_OK) != 0) {
      tool_say(o, "%s: cannot read: %s", value + 1, strerror(errno));
      j->exit_code = EXIT_READ;
      rc = EXIT_READ;
    } else {
      cc = curl_mime_filedata(part, value + 1);
      if (!cc && value[0] == '<') /* the contents, not a file upload */
        cc = curl_mime_filename(part, NULL);
    }
  } else if (!cc) {
    cc = curl_mime_data(part, value, CURL_ZERO_TERMINATED);
  }
  if (!rc && !cc && type)
    cc = curl_mime_type(part, type);
  if (!rc && !cc && filename)
    cc = curl_mime_filename(part, filename);
  free(name);
  free(value);
  return rc ? rc : cc ? HTTPRESP_E_NOMEM : 0;
}

/* -F: the job's form, of its own (libcurl cannot send one mime twice). */
static int set_form(tool_job *j, const tool_opts *o) {
  j->form = curl_mime_init(NULL);
  if (!j->form)
    return HTTPRESP_E_NOMEM;
  for (size_t i = 0; i < o->nforms; i++) {
    int rc = add_form_part(j, o, o->forms[i]);
    if (rc)
      return rc;
  }
  return httpresp_request_set_body_mime(j->req, j->form);
}

/* Adds `name: value` unless a -H of that name is there already. */
static int add_default(httpresp_request *req, const char *name,
                       const char *value) {
  return httpresp_request_header(req, name)
             ? 0
             : httpresp_request_add_header(req, name, value);
}

/* The URL as curl would request it: http:// for a bare host, -G's data
 * in the query, -T's file name after a final '/'. */
static void shape_url(tool_job *j, const tool_opts *o) {
  if (!strstr(j->url, "://")) { /* like curl: a bare host means http */
    size_t len = strlen(j->url) + 8;
    char *u = tool_xrealloc(NULL, len);
    snprintf(u, len, "http://%s", j->url);
    set_job_url(j, u);
  }
  if (o->get && o->data)
    data_into_query(j, o);
  if (o->upload_file)
    upload_name_into_url(j, o);
}

/* The request body: -T's file, else the data (unless -G took it).
 * Returns an httpresp code, or EXIT_READ with j->exit_code set. */
static int set_body(tool_job *j, const tool_opts *o) {
  if (o->upload_file)
    return set_upload(j, o);
  if (o->nforms)
    return set_form(j, o);
  if (!o->data || o->get)
    return 0;
  /* A -H Content-Type, even an empty one, replaces the default. */
  int rc = add_default(j->req, "Content-Type",
                       o->json_data ? "application/json"
                                    : "application/x-www-form-urlencoded");
  if (!rc && o->json_data)
    rc = add_default(j->req, "Accept", "application/json");
  if (!rc)
    rc = httpresp_request_set_body(j->req, o->data, o->data_len);
  return rc;
}

/* Builds the job's request; on failure the job is done with an error.
 * Returns EXIT_USAGE for a bad -H or -u, 0 otherwise. */
static int build_request(tool_job *j, const tool_opts *o) {
  j->method = job_method(o);
  j->o = o;
  j->kept_all = 1;
  j->path = j->index < o->noutputs && strcmp(o->outputs[j->index], "-") != 0
                ? o->outputs[j->index]
                : NULL;
  shape_url(j, o);
  if (j->path == tool_remote_name && remote_name(j, o) != 0)
    return 0; /* this URL fails; the others still run */
  int rc = httpresp_request_new(&j->req, j->method, j->url);
  if (rc == HTTPRESP_E_INVALID_ARG && o->method) {
    tool_say(o, "-X %s: not a valid method", o->method);
    return EXIT_USAGE;
  }
  if (rc) { /* this URL fails; the others still run */
    j->rc = rc == HTTPRESP_E_NOMEM ? rc : HTTPRESP_E_BAD_URL;
    /* Like curl --proto =http,https: another scheme is unsupported (1),
     * an http(s) URL that does not parse is malformed (3). */
    if (rc != HTTPRESP_E_NOMEM && strncasecmp(j->url, "http://", 7) != 0 &&
        strncasecmp(j->url, "https://", 8) != 0)
      j->exit_code = EXIT_UNSUPPORTED;
    return 0;
  }
  for (size_t i = 0; i < o->nheaders; i++) {
    if (httpresp_request_add_header(j->req, o->headers[i], NULL) != 0) {
      tool_say(o, "-H '%s': not a valid header line", o->headers[i]);
      return EXIT_USAGE;
    }
  }
  rc = set_body(j, o);
  if (j->exit_code) { /* -T's file cannot be read: this URL fails */
    httpresp_request_free(j->req);
    j->req = NULL;
    return 0;
  }
  if (!rc && o->user) {
    const char *colon = strchr(o->user, ':');
    size_t ulen = colon ? (size_t)(colon - o->user) : strlen(o->user);
    char *user = tool_xrealloc(NULL, ulen + 1);
    memcpy(user, o->user, ulen);
    user[ulen] = '\0';
    rc = httpresp_request_set_credentials(j->req, user, colon ? colon + 1 : "",
                                          0);
    free(user);
  }
  if (!rc)
    rc = httpresp_request_set_sink(j->req, tool_sink, j);
  if (rc) {
    tool_say(o, "%s: %s", j->url, httpresp_strerror(rc));
    return rc == HTTPRESP_E_NOMEM ? EXIT_NOMEM : EXIT_USAGE;
  }
  return 0;
}

/* ---- the drivers -------------------------------------------------------- */

/* What libcurl's debug callback and the hop callback need: the job on each
 * easy handle. */
typedef struct tool_slot {
  tool_job *job;
  tool_trace *trace;
  size_t index;
  CURL *easy;
} tool_slot;

typedef struct tool_run {
  tool_slot *slots;
  size_t nslots;
  tool_trace *trace;
  const tool_opts *o;
} tool_run;

static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size,
                    void *ud) {
  tool_slot *s = ud;
  if (s->job && type == CURLINFO_HEADER_IN)
    tool_capture_head(s->job, data, size);
  if (s->job && type == CURLINFO_DATA_OUT) {
    s->job->up_bytes += size;
    tool_meter(s->job, 0);
  }
  if (s->trace)
    trace_debug(s->trace, s->index, easy, type, data, size);
  return 0;
}

/* -e ';auto': like curl's CURLOPT_AUTOREFERER, the next hop names the URL
 * that sent it there, without its user, password and fragment (which a
 * Referer must not carry, RFC 9110 10.1.3).  Non-zero when out of memory:
 * the redirect is then not followed. */
static int set_auto_referer(httpresp_request *next, const char *from) {
  CURLU *h = curl_url();
  char *ref = NULL;
  int rc = !h || curl_url_set(h, CURLUPART_URL, from, 0) != CURLUE_OK ||
           curl_url_set(h, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
           curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
           curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
           curl_url_get(h, CURLUPART_URL, &ref, 0) != CURLUE_OK;
  if (!rc)
    rc = httpresp_request_remove_header(next, "Referer") != 0 ||
         httpresp_request_add_header(next, "Referer", ref) != 0;
  curl_free(ref);
  curl_url_cleanup(h);
  return rc;
}

/* The library follows a redirect: the head just received is not the
 * answer.  The hop says where it came from; with several transfers at
 * once, that URL tells which job it is. */
static int hop_cb(void *ud, const httpresp_hop_view *hop,
                  httpresp_request *next) {
  tool_run *run = ud;
  const char *from = httpresp_hop_from(hop);
  if (run->o->auto_referer && from && next && set_auto_referer(next, from))
    return 1;
  for (size_t i = 0; i < run->nslots; i++) {
    tool_slot *s = &run->slots[i];
    char *eff = NULL;
    if (!s->job || s->job->wire_followed ||
        s->job->wire_status != httpresp_hop_status(hop))
      continue;
    if (run->nslots > 1 &&
        (curl_easy_getinfo(s->easy, CURLINFO_EFFECTIVE_URL, &eff) != CURLE_OK ||
         !eff || !from || strcmp(eff, from) != 0))
      continue;
    s->job->wire_followed = 1;
    if (run->trace)
      trace_follow(run->trace, i, hop);
    break;
  }
  return 0;
}

static CURL *new_easy(const tool_opts *o, tool_slot *slot) {
  CURL *e = curl_easy_init();
  if (!e)
    return NULL;
  slot->easy = e;
  char ua[64];
  snprintf(ua, sizeof(ua), TOOL_NAME "/%s", HTTPRESP_VERSION_STRING);
  curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  if (o->connect_timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(o->connect_timeout_ms < LONG_MAX
                                ? o->connect_timeout_ms
                                : LONG_MAX));
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o->cacert)
    curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
  if (o->capath)
    curl_easy_setopt(e, CURLOPT_CAPATH, o->capath);
  /* What curl's flags of the same names set on its handle. */
  if (o->referer)
    curl_easy_setopt(e, CURLOPT_REFERER, o->referer);
  if (o->compressed)
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (o->proxy)
    curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
  if (o->resolve_list)
    curl_easy_setopt(e, CURLOPT_RESOLVE, o->resolve_list);
  if (o->http_version)
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, o->http_version);
  /* The cookie engine: on with -b (text or file) or -c, as in curl.  The
   * library sees each Set-Cookie itself, for its loop rule. */
  for (size_t i = 0; i < o->ncookie_files; i++)
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, o->cookie_files[i]);
  if (o->cookie && !o->ncookie_files)
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
  if (o->cookie_jar)
    curl_easy_setopt(e, CURLOPT_COOKIEJAR, o->cookie_jar);
  if (o->share)
    curl_easy_setopt(e, CURLOPT_SHARE, o->share);
  /* The heads as they arrive: -i prints the server's own, and the trace
   * reads the exchange from here. */
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, slot);
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  return e;
}

/* -b NAME=VALUE, set for every URL: the library clears it on a hop to
 * another origin, as it does credentials. */
static void set_job_cookie(CURL *e, const tool_opts *o) {
  if (o->cookie)
    curl_easy_setopt(e, CURLOPT_COOKIE, o->cookie);
}

static void release(tool_job *j) {
  httpresp_response_free(j->resp);
  j->resp = NULL;
  httpresp_request_free(j->req);
  j->req = NULL;
  if (j->upload && j->upload != stdin)
    fclose(j->upload);
  j->upload = NULL;
  curl_mime_free(j->form); /* the request using it is done */
  j->form = NULL;
  free(j->kept);
  j->kept = NULL;
  free(j->stored);
  j->stored = NULL;
  free(j->wire);
  j->wire = NULL;
  if (j->spool)
    fclose(j->spool);
  j->spool = NULL;
}

/* Output, exit code and memory of a finished job. */
static void settle(tool_job *j, const tool_opts *o, int *status) {
  tool_finish_job(j, o);
  int code = tool_exit_code(j, o);
  if (code)
    *status = code;
  release(j);
}

/* One URL after the other over one easy handle: the connection is reused
 * from one URL to the next. */
static int run_serial(httpresp_client *client, tool_job *jobs, size_t n,
                      const tool_opts *o, tool_run *run) {
  tool_slot *slot = &run->slots[0];
  CURL *easy = new_easy(o, slot);
  if (!easy) {
    tool_say(o, "cannot create a libcurl handle");
    return EXIT_NOMEM;
  }
  int status = 0;
  for (size_t i = 0; i < n; i++) {
    tool_job *j = &jobs[i];
    slot->job = j;
    if (run->trace)
      trace_begin(run->trace, 0, j);
    j->start_ms = tool_mono_ms();
    set_job_cookie(easy, o);
    if (j->req) {
      j->rc = httpresp_perform(client, easy, j->req, &j->resp);
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &j->http_version);
    }
    j->end_ms = tool_mono_ms();
    if (run->trace)
      trace_end(run->trace, 0, j);
    slot->job = NULL;
    settle(j, o, &status);
  }
  curl_easy_cleanup(easy);
  return status;
}

/* The state of a --parallel run. */
typedef struct par {
  httpresp_multi *m;
  tool_run *run;
  tool_job *jobs;
  size_t n, next;
} par;

/* Puts the next jobs on the free slots. */
static void start_jobs(par *p) {
  for (size_t s = 0; s < p->run->nslots && p->next < p->n; s++) {
    tool_slot *slot = &p->run->slots[s];
    if (slot->job)
      continue;
    tool_job *j = &p->jobs[p->next++];
    j->slot = s;
    j->start_ms = tool_mono_ms();
    if (p->run->trace)
      trace_begin(p->run->trace, s, j);
    set_job_cookie(slot->easy, p->run->o);
    if (j->req &&
        (j->rc = httpresp_multi_add(p->m, slot->easy, j->req, j)) == 0) {
      slot->job = j;
      continue;
    }
    j->end_ms = tool_mono_ms(); /* never started: a bad URL */
    j->done = 1;
    if (p->run->trace)
      trace_end(p->run->trace, s, j);
  }
}

/* Takes the finished transfers; returns how many. */
static size_t collect_done(par *p) {
  httpresp_response *resp;
  CURL *e;
  void *ud;
  size_t got = 0;
  while (httpresp_multi_next_done(p->m, &resp, &e, &ud)) {
    tool_job *j = ud;
    j->resp = resp;
    j->rc = httpresp_response_error(resp);
    j->end_ms = tool_mono_ms();
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &j->http_version);
    j->done = 1;
    p->run->slots[j->slot].job = NULL;
    got++;
    if (p->run->trace)
      trace_end(p->run->trace, j->slot, j);
  }
  return got;
}

/* Up to `nslots` URLs at once over the multi driver; one CURLM, so one
 * connection pool.  Bodies for stdout come out in command-line order: a
 * job writes straight through when it is the first unfinished one, and to
 * a temporary file until then. */
static int run_parallel(httpresp_client *client, tool_job *jobs, size_t n,
                        const tool_opts *o, tool_run *run) {
  par p = {NULL, run, jobs, n, 0};
  CURLM *multi = curl_multi_init();
  int status = 0;
  int rc = multi ? httpresp_multi_new(&p.m, client, multi) : HTTPRESP_E_NOMEM;
  for (size_t s = 0; !rc && s < run->nslots; s++)
    if (!new_easy(o, &run->slots[s]))
      rc = HTTPRESP_E_NOMEM;
  for (size_t i = 1; i < n; i++)
    jobs[i].to_spool = 1;
  size_t written = 0;
  while (!rc && written < n) {
    start_jobs(&p);
    int running = 0;
    rc = httpresp_multi_perform(p.m, &running);
    size_t got = rc ? 0 : collect_done(&p);
    while (written < n && jobs[written].done) {
      settle(&jobs[written++], o, &status);
      if (written < n)
        tool_take_turn(&jobs[written]);
    }
    if (!rc && !got && httpresp_multi_pending(p.m) > 0)
      rc = httpresp_multi_poll(p.m, 1000);
  }
  if (rc) {
    tool_say(o, "the multi driver failed: %s", httpresp_strerror(rc));
    status = CURLE_BAD_FUNCTION_ARGUMENT;
  }
  httpresp_multi_free(p.m);
  for (size_t s = 0; s < run->nslots; s++)
    if (run->slots[s].easy)
      curl_easy_cleanup(run->slots[s].easy);
  if (multi)
    curl_multi_cleanup(multi);
  return status;
}

/* The library's policy as the options say. */
static int configure_client(httpresp_client *c, const tool_opts *o,
                            tool_run *run) {
  int rc = httpresp_client_set_follow(c, o->follow);
  if (!rc)
    rc = httpresp_client_set_keep_post(c, o->keep_post);
  if (!rc && o->max_redirs != -2)
    rc = httpresp_client_set_max_redirects(
        c, o->max_redirs < 0 ? UINT_MAX : (unsigned)o->max_redirs);
  if (!rc && o->max_retries >= 0)
    rc = httpresp_client_set_max_retries(
        c, o->max_retries > UINT_MAX ? UINT_MAX : (unsigned)o->max_retries);
  if (!rc && o->max_wait_ms >= 0)
    rc = httpresp_client_set_max_wait_ms(c, o->max_wait_ms);
  if (!rc && o->max_time_ms > 0)
    rc = httpresp_client_set_deadline_ms(c, o->max_time_ms);
  if (!rc)
    rc = httpresp_client_set_hop_callback(c, hop_cb, run);
  /* Cookies on the handle are an identity the library cannot see: answers
   * made for them are neither served from the cache nor stored in it. */
  if (!rc && (o->cookie || o->ncookie_files || o->cookie_jar))
    rc = httpresp_client_set_handle_identity(c, 1);
  return rc;
}

/* The disk cache (--cache[=DIR] or $HTTPRESP_CACHE).  Returns 0, or
 * TOOL_EXIT_CACHE when it cannot be used. */
static int open_cache(httpresp_client *client, const tool_opts *o,
                      tool_trace *trace, httpresp_cache **cache, char **owned) {
  const char *dir = o->cache_dir;
  if (!dir)
    dir = *owned = default_cache_dir();
  int rc = HTTPRESP_E_CACHE_IO;
  const char *why = "neither XDG_CACHE_HOME nor HOME is set";
  errno = 0;
  /* The store creates the directory and its parents (mode 0700); when that
   * fails, errno says why better than the error code does. */
  int redis =
      dir && (!strncmp(dir, "redis://", 8) || !strncmp(dir, "unix://", 7));
  if (redis && (rc = httpresp_cache_new_redis(cache, dir, NULL)) != 0)
    why = httpresp_strerror(rc);
  if (dir && !redis &&
      (rc = httpresp_cache_new_disk(cache, dir, TOOL_CACHE_BYTES)) != 0)
    why = rc == HTTPRESP_E_CACHE_IO && errno ? strerror(errno)
                                             : httpresp_strerror(rc);
  if (!rc)
    rc = httpresp_client_set_cache(client, *cache);
  if (rc) {
    tool_say(o, "%s: cannot use as a cache: %s", dir ? dir : "--cache", why);
    return TOOL_EXIT_CACHE;
  }
  if (trace)
    trace_note(trace, "cache: %s", dir);
  return 0;
}

/* What the easy handles share, made once: the --resolve list, -D's file,
 * and for --parallel with cookies a share so that all handles use one
 * cookie store, as curl's parallel mode does.  0 or an exit code. */
static int prepare_handles_setup(tool_opts *o, size_t nslots) {
  for (size_t i = 0; i < o->nresolve; i++) {
    struct curl_slist *l = curl_slist_append(o->resolve_list, o->resolve[i]);
    if (!l)
      return EXIT_NOMEM;
    o->resolve_list = l;
  }
  if (o->dump_header) {
    o->dump_fp =
        strcmp(o->dump_header, "-") == 0 ? stdout : fopen(o->dump_header, "wb");
    if (!o->dump_fp) {
      tool_say(o, "%s: cannot write: %s", o->dump_header, strerror(errno));
      return EXIT_WRITE;
    }
  }
  if (nslots > 1 && (o->cookie || o->ncookie_files || o->cookie_jar)) {
    if (!(o->share = curl_share_init()) ||
        curl_share_setopt(o->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) !=
            CURLSHE_OK)
      return EXIT_NOMEM;
  }
  return 0;
}

int main(int argc, char **argv) {
  tool_opts o;
  memset(&o, 0, sizeof(o));
  o.follow = 1;
  o.max_redirs = -2;
  o.max_retries = -1;
  o.max_wait_ms = -1;
  o.cache = -1;
  int rc = tool_parse_args(&o, argc, argv);
  if (rc) {
    tool_free_opts(&o);
    return rc < 0 ? 0 : rc;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    tool_say(&o, "libcurl failed to initialise");
    tool_free_opts(&o);
    return CURLE_FAILED_INIT;
  }

  httpresp_client *client = NULL;
  httpresp_cache *cache = NULL;
  char *cache_dir = NULL;
  size_t nslots = o.parallel > 1 ? (size_t)o.parallel : 1;
  if (nslots > o.nurls)
    nslots = o.nurls;
  if (nslots > 1)
    o.meter = 0; /* one line cannot show several transfers */
  tool_run run = {calloc(nslots, sizeof(tool_slot)), nslots, NULL, &o};
  tool_job *jobs = calloc(o.nurls, sizeof(*jobs));
  int status = 0;
  rc = jobs && run.slots ? httpresp_client_new(&client) : HTTPRESP_E_NOMEM;
  if (!rc)
    rc = configure_client(client, &o, &run);
  if (!rc && o.verbose) {
    run.trace = trace_new(stderr, nslots, nslots > 1, &o);
    rc = run.trace ? trace_install(run.trace, client, nslots == 1)
                   : HTTPRESP_E_NOMEM;
  }
  for (size_t s = 0; !rc && s < nslots; s++) {
    run.slots[s].trace = run.trace;
    run.slots[s].index = s;
  }
  if (rc) {
    tool_say(&o, "cannot set up the client: %s", httpresp_strerror(rc));
    status = rc == HTTPRESP_E_NOMEM ? EXIT_NOMEM : CURLE_FAILED_INIT;
  }
  if (!status && o.cache)
    status = open_cache(client, &o, run.trace, &cache, &cache_dir);
  httpresp_origins *origins = NULL;
  if (!status && o.share_origins &&
      ((rc = httpresp_origins_new_redis(&origins, o.share_origins, NULL)) ||
       (rc = httpresp_client_set_origins(client, origins)))) {
    tool_say(&o, "%s: cannot share origins: %s", o.share_origins,
             httpresp_strerror(rc));
    status = TOOL_EXIT_CACHE;
  }
  if (!status)
    status = prepare_handles_setup(&o, nslots);
  for (size_t i = 0; !status && i < o.nurls; i++) {
    jobs[i].index = i;
    jobs[i].url = o.urls[i];
    status = build_request(&jobs[i], &o);
  }
  if (!status && nslots > 1)
    status = run_parallel(client, jobs, o.nurls, &o, &run);
  else if (!status)
    status = run_serial(client, jobs, o.nurls, &o, &run);

  for (size_t i = 0; jobs && i < o.nurls; i++) {
    release(&jobs[i]);
    free(jobs[i].url_owned);
    free(jobs[i].path_owned);
  }
  free(jobs);
  free(run.slots);
  httpresp_client_free(client);
  httpresp_cache_free(cache); /* after the client that used it */
  httpresp_origins_free(origins);
  free(cache_dir);
  trace_free(run.trace);
  curl_slist_free_all(o.resolve_list);
  if (o.share)
    curl_share_cleanup(o.share);
  if (o.dump_fp && o.dump_fp != stdout && fclose(o.dump_fp) != 0 && !status) {
    tool_say(&o, "%s: cannot write: %s", o.dump_header, strerror(errno));
    status = EXIT_WRITE;
  }
  curl_global_cleanup();
  tool_free_opts(&o);
  return status;
}
