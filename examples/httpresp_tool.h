/* SPDX-License-Identifier: MIT */
/* The httpresp command-line tool: what its parts share (httpresp.c: the
 * requests, drivers and exit codes; httpresp_args.c: the command line and
 * --help; httpresp_output.c: bodies as they arrive and the output of each
 * URL; httpresp_trace.c: the -v trace; httpresp_json.c: -w/--write-out and
 * its %{json}).
 * Built on the public API alone. */
#ifndef HTTPRESP_TOOL_H
#define HTTPRESP_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>
#include <httpresp/httpresp.h>

#define TOOL_NAME "httpresp"

/* Exit codes besides the per-error ones in httpresp.c's table: curl's. */
enum {
  EXIT_UNSUPPORTED = 1, /* CURLE_UNSUPPORTED_PROTOCOL */
  EXIT_USAGE = 2,       /* curl's exit code for a bad command line */
  EXIT_BAD_URL = 3,     /* CURLE_URL_MALFORMAT */
  EXIT_HTTP_ERROR = 22, /* -f and a status >= 400: CURLE_HTTP_RETURNED_ERROR */
  EXIT_WRITE = 23,      /* CURLE_WRITE_ERROR */
  EXIT_READ = 26,       /* CURLE_READ_ERROR */
  EXIT_NOMEM = 27       /* CURLE_OUT_OF_MEMORY */
};

/* Everything the command line says. */
typedef struct tool_opts {
  const char *method; /* -X; NULL: HEAD with -I, POST with data, else GET */
  int head;           /* -I */
  int include;        /* -i */
  char *data;         /* -d / --data-binary, joined with '&'; NULL if none */
  size_t data_len;
  int json_data;        /* --json: the data is JSON (curl's --json) */
  const char **headers; /* -H, as given */
  size_t nheaders;
  const char **outputs; /* -o, the n-th for the n-th URL */
  size_t noutputs;
  const char **urls;
  size_t nurls;
  int silent, show_error, verbose, fail;
  const char *write_out; /* -w FORMAT (read from the file with @FILE) */
  char *write_out_owned;
  int want_body_copy;         /* -w uses %{json}: keep the body for it */
  int follow;                 /* 0 with --no-follow */
  long max_redirs;            /* -2: library default; -1: unlimited */
  int keep_post;              /* --keep-post */
  long max_retries;           /* -1: library default */
  int64_t max_wait_ms;        /* -1: library default */
  int cache;                  /* --cache[=DIR] or $HTTPRESP_CACHE: opt-in */
  const char *cache_dir;      /* its directory (or redis:// unix:// URL);
                                 NULL: the default location */
  const char *share_origins;  /* --share-origins URL: quiet times on Redis */
  int insecure;               /* -k */
  const char *cacert;         /* --cacert FILE, else from the environment */
  const char *capath;         /* --capath DIR, else from the environment */
  long parallel;              /* --parallel N; 0: one URL after the other */
  int64_t connect_timeout_ms; /* 0: libcurl's default */
  int64_t max_time_ms;        /* -m: overall limit per URL, waits included */
  const char *user;           /* -u user:password */
  const char *user_agent;     /* -A */
  char *cookie;               /* -b NAME=VALUE pieces, joined with ';' */
  const char **cookie_files;  /* -b FILE: read into the cookie engine */
  size_t ncookie_files;
  const char *cookie_jar;  /* -c FILE: the engine's cookies at the end */
  const char *dump_header; /* -D FILE ("-": stdout) */
  FILE *dump_fp;           /* it, once opened (main) */
  int get;                 /* -G: the data goes into the URL's query */
  const char *referer;     /* -e URL (";auto" cut off) */
  char *referer_owned;
  int auto_referer;     /* -e ...;auto: each hop names the previous */
  int fail_with_body;   /* --fail-with-body */
  int compressed;       /* --compressed */
  const char *proxy;    /* -x */
  const char **resolve; /* --resolve HOST:PORT:ADDR */
  size_t nresolve;
  long http_version;       /* --http1.1 / --http2; 0: libcurl's default */
  const char *upload_file; /* -T FILE ("-": stdin) */
  const char **forms;      /* -F NAME=CONTENT, as given */
  size_t nforms;
  struct curl_slist *resolve_list; /* --resolve, as libcurl takes it */
  int progress_bar;                /* -#: a bar of '#' for the meter */
  int meter;     /* a meter may be shown: stderr is a terminal,
                    and neither -s nor -v */
  CURLSH *share; /* --parallel with cookies: one cookie jar */
} tool_opts;

/* The -O marker among the -o names: the file name comes from the URL. */
extern const char tool_remote_name[];

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

  /* The body as it arrives (the request's sink). */
  const tool_opts *o;
  FILE *out;           /* stdout or the -o file, once opened */
  FILE *spool;         /* --parallel: stdout output held until its turn */
  int to_spool;        /* not this job's turn on stdout yet */
  const char *path;    /* the -o or -O file; NULL: stdout */
  char *path_owned;    /* -O: the name taken from the URL */
  FILE *upload;        /* -T FILE, open while the job runs */
  curl_mime *form;     /* -F's parts, while the job runs */
  int64_t upload_size; /* its length, -1 if unknown */
  uint64_t up_bytes;   /* request body bytes sent (the meter's) */
  int64_t meter_last;  /* when the meter was last drawn, 0: never */
  uint64_t body_bytes; /* written (size_download) */
  int head_written;    /* -i/-I: the head received last went out */
  int fail_stopped;    /* -f stopped the transfer at a status >= 400 */
  int write_failed;    /* the output refused the bytes: exit 23 */
  int write_errno;
  char *kept; /* for %{json}: the body's first TOOL_KEEP_BODY bytes */
  size_t kept_len;
  int kept_all; /* 0 once the body grew past what is kept */
  char *stored; /* a body served from the cache, held until the end */
  size_t stored_len;
  int sink_seen;
  int from_wire; /* the final body came from the network */

  /* The last response head received from the network for this job, as the
   * server sent it (status line and fields), and whether the library has
   * since followed it (so it is not the answer). */
  char *wire;
  size_t wire_len, wire_cap;
  int wire_status;
  int wire_done;     /* its blank line was seen */
  int wire_followed; /* the hop callback fired for it */
} tool_job;

/* How much of a body -w '%{json}' shows (longer ones are cut, and say so). */
#define TOOL_KEEP_BODY ((size_t)1 << 20)

/* An error line on stderr ("httpresp: ..."), unless -s without -S; `o`
 * may be NULL (always shown). */
void tool_say(const tool_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* realloc that exits 27 (out of memory) on failure. */
void *tool_xrealloc(void *p, size_t n);

/* ---- the command line (httpresp_args.c) -------------------------------- */

/* Fills `o` (set to its defaults by the caller) from the command line and
 * the environment.  Returns 0, an exit code, or -1 when --help or
 * --version was printed. */
int tool_parse_args(tool_opts *o, int argc, char **argv);
void tool_free_opts(tool_opts *o);

/* ---- output (httpresp_output.c) ---------------------------------------- */

/* The request's sink: the final body as it arrives (`ud` is the job). */
size_t tool_sink(void *ud, const char *data, size_t len);
/* A response head line from libcurl's debug output, for -i. */
void tool_capture_head(tool_job *j, const char *line, size_t len);
/* --parallel: it is `j`'s turn on stdout; what it spooled goes first. */
void tool_take_turn(tool_job *j);
/* Writes what the job has not written yet, closes its output, prints its
 * error line and its -w. */
void tool_finish_job(tool_job *j, const tool_opts *o);

/* The progress meter on stderr (a terminal) for a transfer that has run
 * a second or more, redrawn at most five times a second; `final` ends its
 * line.  Nothing unless the job's body goes elsewhere than a terminal. */
void tool_meter(tool_job *j, int final);

/* Monotonic milliseconds, for durations. */
int64_t tool_mono_ms(void);

/* Whether the library repeats a response with this status when its
 * Retry-After says so (HTTPRESP_STATUS_RETRYABLE: 413, 429, 503). */
int tool_status_retryable(int status);

/* How many redirects `r` followed (its hops decided FOLLOW). */
unsigned tool_redirect_count(const httpresp_response *r);

/* The tool's own exit codes, on numbers curl does not assign (curl's exit
 * code is its CURLcode, 0..101 today).  Failures curl also has exit with
 * curl's number. */
enum {
  TOOL_EXIT_LOOP = 110,      /* redirect loop */
  TOOL_EXIT_DOWNGRADE = 111, /* https to http redirect refused */
  TOOL_EXIT_WAIT = 112,      /* asked to wait longer than allowed */
  TOOL_EXIT_CACHE = 113      /* the cache cannot be used */
};

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
/* libcurl's debug output of the transfer on `slot` (the tool's own debug
 * callback passes it on). */
void trace_debug(tool_trace *t, size_t slot, CURL *easy, curl_infotype type,
                 const char *data, size_t size);
/* The library follows the redirect `hop` of the job on `slot`. */
void trace_follow(tool_trace *t, size_t slot, const httpresp_hop_view *hop);
/* Registers the early-hints callback and, for the blocking driver, a sleep
 * that says why and how long it waits.  `t` must outlive the client. */
int trace_install(tool_trace *t, httpresp_client *c, int blocking);
/* A job starts or ends on `slot`. */
void trace_begin(tool_trace *t, size_t slot, const tool_job *j);
void trace_end(tool_trace *t, size_t slot, const tool_job *j);
/* A one-line note ("* cache: ...") outside any job. */
void trace_note(tool_trace *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- -w/--write-out (httpresp_json.c) --------------------------------- */

/* Whether `s` (`len` bytes) is valid UTF-8 (RFC 3629). */
int json_is_utf8(const char *s, size_t len);
/* Writes `s` (`len` bytes) as a JSON string literal: quotes, backslash and
 * control characters escaped, bytes that are not valid UTF-8 replaced by
 * \ufffd (for header fields; bodies use json_body). */
void json_string(FILE *f, const char *s, size_t len);
/* Writes one JSON object summarising `j`: curl's %{json} variables, then
 * what the library did.  The kept body is text when it is UTF-8, else
 * base64, with "body_encoding" saying which. */
void json_job(FILE *f, const tool_job *j, const tool_opts *o);
/* Writes `fmt` (-w) for `j` to stdout, or where %output{FILE} sends it.
 * Returns 0, or EXIT 23 when the output cannot be written. */
int write_out(const char *fmt, const tool_job *j, const tool_opts *o);

#endif
