/* The httpresp command-line tool: what its parts (httpresp.c: options and
 * drivers; httpresp_trace.c: the -v trace; httpresp_json.c: --json) share.
 * Built on the public API alone. */
#ifndef HTTPRESP_TOOL_H
#define HTTPRESP_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>
#include <httpresp/httpresp.h>

/* Everything the command line says. */
typedef struct tool_opts {
  const char *method; /* -X; NULL: HEAD with -I, POST with data, else GET */
  int head;           /* -I */
  int include;        /* -i */
  char *data;         /* -d / --data-binary, joined with '&'; NULL if none */
  size_t data_len;
  const char **headers; /* -H, as given */
  size_t nheaders;
  const char **outputs; /* -o, the n-th for the n-th URL */
  size_t noutputs;
  const char **urls;
  size_t nurls;
  int silent, show_error, verbose, fail, json;
  int follow;                 /* 0 with --no-follow */
  long max_redirs;            /* -2: library default; -1: unlimited */
  int keep_post;              /* --keep-post */
  long max_retries;           /* -1: library default */
  int64_t max_wait_ms;        /* -1: library default */
  const char *cache_dir;      /* --cache DIR, or the default location */
  int no_cache;               /* --no-cache */
  long parallel;              /* --parallel N; 0: one URL after the other */
  int64_t connect_timeout_ms; /* 0: libcurl's default */
  int64_t max_time_ms;        /* -m: overall limit per URL, waits included */
  const char *user;           /* -u user:password */
  const char *user_agent;     /* -A */
} tool_opts;

/* One URL of the run and what became of it. */
typedef struct tool_job {
  size_t index;
  const char *url; /* as requested (http:// added when missing) */
  char *url_owned;
  const char *method;
  httpresp_request *req;
  httpresp_response *resp;
  int rc;           /* httpresp_code the request ended with */
  int exit_code;    /* this URL's exit code (0 on success) */
  int64_t start_ms; /* monotonic */
  int64_t end_ms;
  long http_version; /* CURLINFO_HTTP_VERSION of the last transfer */
  size_t slot;       /* the easy handle (and trace slot) it ran on */
  int done;
} tool_job;

/* Monotonic milliseconds, for durations. */
int64_t tool_mono_ms(void);

/* Whether the library repeats a response with this status when its
 * Retry-After says so (HTTPRESP_STATUS_RETRYABLE: 413, 429, 503). */
int tool_status_retryable(int status);

/* How many redirects `r` followed (its hops decided FOLLOW). */
unsigned tool_redirect_count(const httpresp_response *r);

/* The exit code for a finished job, and a short English label of the
 * library error class ("redirect loop").  See the table in --help. */
int tool_exit_code(const tool_job *j, const tool_opts *o);
const char *tool_error_label(int code);

/* ---- the -v trace (httpresp_trace.c) --------------------------------- */

typedef struct tool_trace tool_trace;

/* A trace for `nslots` easy handles, written to `out`.  With `prefix`,
 * every line starts with the URL's number ("[2] "), for parallel runs.
 * Returns NULL on allocation failure. */
tool_trace *trace_new(FILE *out, size_t nslots, int prefix, const tool_opts *o);
void trace_free(tool_trace *t);
/* Turns libcurl's debug output of `easy` into trace events for `slot`. */
void trace_attach(tool_trace *t, size_t slot, CURL *easy);
/* Registers the early-hints callback and, for the blocking driver, a sleep
 * that says why and how long it waits.  `t` must outlive the client. */
int trace_install(tool_trace *t, httpresp_client *c, int blocking);
/* A job starts or ends on `slot`. */
void trace_begin(tool_trace *t, size_t slot, const tool_job *j);
void trace_end(tool_trace *t, size_t slot, const tool_job *j);
/* A one-line note ("* cache: ...") outside any job. */
void trace_note(tool_trace *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- --json (httpresp_json.c) ---------------------------------------- */

/* Writes `s` (`len` bytes, any content) as a JSON string literal: quotes,
 * backslash and control characters escaped, bytes that are not valid
 * UTF-8 replaced by \ufffd. */
void json_string(FILE *f, const char *s, size_t len);
/* Writes one JSON object (one line) summarising `j`.  The body is included
 * unless `with_body` is 0. */
void json_job(FILE *f, const tool_job *j, const tool_opts *o, int with_body);

#endif
