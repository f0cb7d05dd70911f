/* SPDX-License-Identifier: MIT */
/* Running the httpresp tool, the demo server, curl and openssl as
 * programs: what the tool's suites (test_tool*.c) share. */
#ifndef TOOLRUN_H
#define TOOLRUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testsrv.h"

/* A finished program. */
typedef struct run {
  int code; /* exit status; 128 + signal if killed */
  char *out;
  size_t out_len;
  char *err;
  size_t err_len;
  int64_t ms;
  long maxrss_kb; /* the program's peak resident set size */
} run;

/* The loopback server (two ports) and scratch directory of the running
 * test, made by tool_setup() and removed by tool_teardown(). */
extern ts_server *tool_ts;
extern char tool_tmpdir[64];
void tool_setup(void);
void tool_teardown(void);

int64_t now_ms(void);
/* A time bound, stretched by HTTPRESP_TEST_TIME_SCALE when set (the
 * valgrind run sets it: the tool then starts under memcheck). */
int64_t bound_ms(int64_t ms);
/* Appends `n` bytes to a NUL-terminated malloc'd buffer. */
void append(char **buf, size_t *len, const char *d, size_t n);
/* $HTTPRESP_TOOL, or the test is skipped. */
const char *tool_path(void);
/* Runs program `prog` with `args` (NULL-terminated), `in` on stdin; kills
 * it after 15 s. */
run run_prog_in(const char *prog, const char *in, size_t in_len,
                const char *const *args);
/* Runs the tool with `args` (NULL-terminated), `in` on stdin. */
run run_tool_in(const char *in, size_t in_len, const char *const *args);
/* Runs /usr/bin/curl with `args`, or skips the test without it. */
run run_curl(const char *const *args);
void run_free(run *r);

#define RUN(...) run_tool_in(NULL, 0, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(in, len, ...)                                                   \
  run_tool_in(in, len, (const char *const[]){__VA_ARGS__, NULL})

/* The demo server, started on ephemeral ports. */
typedef struct demo {
  pid_t pid;
  char base[64];  /* http://127.0.0.1:PORT */
  char base2[64]; /* the second origin */
} demo;
demo demo_start(void);
void demo_stop(demo *d);
/* Reads one line from `fd` into `line`; 0 on success. */
int read_line(int fd, char *line, size_t len, int64_t deadline);

/* An `openssl s_server -www` on 127.0.0.1 with `cert` and `key`; its pid,
 * its port in `*port`.  Skips the test without openssl. */
pid_t tls_server(const char *cert, const char *key, int *port);

/* tool_ts's URL for `path` on its first port (malloc'd). */
char *url(const char *path);
/* `name` in the scratch directory (one of four rotating buffers). */
char *path_in_tmp(const char *name);
/* The file's bytes, NUL-terminated (malloc'd), or NULL. */
char *slurp_file(const char *path, size_t *len);
/* The n-th line (0-based) of `s`, malloc'd. */
char *line_of(const char *s, int n);

/* -w '%{json}' after the body: the summary starts on a line of its own. */
#define WJSON "-w", "\n%{json}\n"
/* The n-th (0-based) -w '%{json}' line of `out`, malloc'd ("" if none). */
char *json_of(const char *out, int n);

#endif
