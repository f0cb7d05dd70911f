/* SPDX-License-Identifier: MIT */
/* Shared parts of the benchmark: settings, measuring, rounds, verdicts.
 *
 * bench.c holds the harness (measuring, rounds, statistics, verdicts and
 * main), cases.c the six cases and their sides, server.c the loopback
 * server. */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <curl/curl.h>

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "server.h"

#define MAX_ROUNDS 64
#define INFLIGHT 64        /* case 5: transfers in flight */
#define MANY_INFLIGHT 1000 /* case 9: transfers in flight */
#define MANY_ORIGINS 20    /* case 9: origins (host names) */

/* ---- settings ------------------------------------------------------------ */

enum { CHECK_NONE = 0, CHECK_ALL, CHECK_PREMISES };

typedef struct settings {
  int quick;
  int check; /* CHECK_*: what makes the exit status 1 */
  int verbose;
  unsigned cases; /* bit n: case n */
  int rounds;     /* 0: the mode's default */
  int nosignal;   /* CURLOPT_NOSIGNAL on every handle (bench_easy) */
} settings;

/* Operations per side and round. */
typedef struct sizes {
  int rounds, rounds_multi;
  size_t plain, chains, roundtrip, mem_hits, disk_hits, reval, multi, entries;
  size_t slow_chains;      /* case 7 */
  size_t big_entries;      /* case 8 (--entries N overrides) */
  size_t big_disk_entries; /* case 10 (--entries N overrides) */
  size_t many;             /* case 9 */
} sizes;

extern settings opt;
extern sizes sz;

/* ---- the server and its URLs --------------------------------------------- */

extern bench_server srv;
extern char url_plain[80], url_r1[80], url_cached[80], url_reval[80],
    url_redir_once[80], url_d1[80], url_tiny[80];
void make_urls(int port);

/* ---- measuring ----------------------------------------------------------- */

typedef struct meas {
  size_t ops;
  double wall;                     /* seconds */
  double cpu;                      /* seconds of this process, user + system */
  unsigned long conns, reqs, n304; /* counted by the server */
  unsigned long errors;            /* operations with a wrong outcome */
  /* values at the start */
  double wall0, cpu0;
  unsigned long conns0, reqs0, n3040;
} meas;

/* A new easy handle (exits when libcurl cannot make one). */
CURL *bench_easy(void);
double wall_now(void);
void meas_begin(meas *m);
void meas_end(meas *m, size_t ops);
/* The server's counters since meas_begin (meas_end does this itself). */
void server_deltas(meas *m);

double median(const double *v, size_t n);

/* ---- rounds and summaries ------------------------------------------------ */

typedef struct side side;
/* Runs `n` operations of one side and measures them into *m. */
typedef void (*side_fn)(side *s, size_t n, meas *m);

struct side {
  const char *name;
  side_fn run;
  size_t n; /* operations per round */
  /* State living as long as the case.  Without `open`, the harness gives
   * the side an easy handle of its own; case 5 opens a child process. */
  void (*open)(side *s);
  void (*close)(side *s);
  CURL *easy;
  const char *which; /* cases 5, 9: "curl", "httpresp", "curl-many", ... */
  pid_t child;
  FILE *to_child, *from_child;
  long rss_start_kb, rss_peak_kb; /* the child's, at its start and peak */
  unsigned long n429;             /* case 9: answers left at 429 */
  meas res[MAX_ROUNDS];           /* per round */
};

/* Opens every side, runs each once for a warm-up slice, then `rounds`
 * rounds.  A round runs each side's `n` operations in `slices` slices,
 * the sides taking turns slice by slice (A B, B A, A B, ...), so that a
 * disturbance of the machine falls on all sides alike. */
void run_rounds(side *s, size_t nsides, int rounds, int slices);

typedef struct summary {
  double rate[MAX_ROUNDS];   /* ops/s per round */
  double us[MAX_ROUNDS];     /* wall µs per op per round */
  double cpu_us[MAX_ROUNDS]; /* client CPU µs per op per round */
  double rate_med, us_med, cpu_med;
  unsigned long conns, reqs, n304, errors, ops;
} summary;

void summarize(const side *s, int rounds, summary *out);
/* The median over rounds of b's rate / a's rate (or, with `use_cpu`, of
 * a's CPU per op / b's), each round's two figures taken together. */
double round_ratio(const summary *a, const summary *b, int rounds, int use_cpu);
void print_side(const char *name, const summary *s, int rounds,
                const char *unit);

/* ---- verdicts ------------------------------------------------------------ */

/* Records and prints a target of the issue (`is_target`) or a sanity
 * check; the summary and --check look at both. */
void judge(int is_target, int pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every operation of the given sides got the expected answer. */
void errors_check(const summary *s, size_t n);
/* No new connection during the rounds: every request reused the
 * connection(s) opened in the warm-up. */
void conn_check(const char *name, const summary *s);
/* Prints the ratio of b to a and judges it against the case's target
 * (case 1: 0.97; cases 2 and 5: 0.95). */
void throughput_target(int ncase, const char *what, const summary *a,
                       const summary *b, int rounds);

/* ---- what the cases share (cases.c) ---------------------------------------
 */

#include <httpresp/httpresp.h>

/* What every response of an httpresp side must look like. */
typedef struct expect {
  size_t hops;
  httpresp_cache_status cache;
  size_t body;
  int sink; /* drop the body (as raw libcurl does here) or collect it */
} expect;

/* Exits with status 2 and a message when `rc` is an error. */
void die_on(int rc, const char *what);
/* A client, with `cache` when not NULL. */
httpresp_client *new_client(httpresp_cache *cache);
/* One request through the blocking driver; with `sunk` the body is
 * counted and dropped instead of collected. */
httpresp_response *hr_get(httpresp_client *c, CURL *e, const char *url,
                          size_t *sunk);
/* `n` GETs of `url` by raw libcurl (following `hops` redirects itself). */
void raw_gets(side *s, const char *url, long hops, size_t n, meas *m);
/* `n` GETs of `url` through `c`, each checked against `want`. */
void hr_gets(side *s, httpresp_client *c, const char *url, const expect *want,
             size_t n, meas *m);
/* Stores `url` in the cache of `c` through one request (exits if not). */
void prime(httpresp_client *c, const char *url, const char *what);
/* --rounds N when given, else `dflt`. */
int rounds_of(int dflt);

/* ---- cases (cases.c, fleet.c) ---------------------------------------------
 */

void case1(void);
void case2(void);
void case3(void);
void case4(void);
void case5(void);
void case6(void);
void case7(void);
void case8(void);
void case9(void);
void case10(void);
void case11(void); /* fleet.c */
/* `--profile SIDE N`: one side alone; returns the exit status. */
int profile(const char *name, size_t n);
/* `--child-multi SIDE PORT`: one side of case 5 in a fresh process. */
int child_main(const char *which);
/* This program, for case 5 to run itself. */
extern char self_exe[4096];

#endif
