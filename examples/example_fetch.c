/* SPDX-License-Identifier: MIT */
/* A concurrent fetcher over the non-blocking driver: N transfers in flight,
 * each following redirects, honouring Retry-After and answering from a
 * shared in-memory cache, without ever blocking the loop.
 *
 *   example_fetch [-n N] URL...
 *   example_fetch [-n N] < urls.txt     (one URL a line; # comments)
 *
 * Prints one line per completed URL, in completion order:
 *
 *   <status> <hops> <bytes> <url> -> <final url>
 *   ERR <errname> <message> <url>
 *
 * Exits 0 when every URL completed without a library error (whatever the
 * HTTP status), 1 otherwise, 2 on bad usage. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <httpresp/httpresp.h>

#define DEFAULT_SLOTS 8
#define MAX_SLOTS 1024

/* Where the URLs come from: the command line, else standard input, read
 * one line at a time as slots free up so a long list costs no memory. */
typedef struct url_source {
  char **argv;
  int argc, next;
  int from_stdin;
  char *line;
  size_t cap;
  int oom; /* a line did not fit in memory: the rest was not read */
} url_source;

/* Reads one line of stdin, however long, into src->line.  Returns 0 at
 * the end of the input (or when memory runs out: src->oom). */
static int read_line(url_source *src) {
  size_t n = 0;
  for (;;) {
    /* getline is POSIX 2008; fgets into a growing buffer is plain C11. */
    if (src->cap - n < 2) {
      size_t cap = src->cap ? src->cap * 2 : 8192;
      char *p = realloc(src->line, cap);
      if (!p) {
        src->oom = 1;
        return 0;
      }
      src->line = p;
      src->cap = cap;
    }
    size_t room = src->cap - n;
    if (!fgets(src->line + n, room > INT_MAX ? INT_MAX : (int)room, stdin))
      return n > 0; /* a last line without '\n' still counts */
    n += strlen(src->line + n);
    if (n && src->line[n - 1] == '\n')
      return 1;
  }
}

/* The next URL (malloc'd), or NULL when there are no more. */
static char *next_url(url_source *src) {
  if (!src->from_stdin)
    return src->next < src->argc ? strdup(src->argv[src->next++]) : NULL;
  while (read_line(src)) {
    char *s = src->line;
    while (isspace((unsigned char)*s))
      s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
      s[--n] = '\0';
    if (n && *s != '#')
      return strdup(s);
  }
  return NULL;
}

/* One slot: an easy handle reused for URL after URL, so its connections
 * (and the multi handle's pool) carry over. */
typedef struct slot {
  CURL *easy;
  char *url; /* the URL it is fetching, NULL when free */
} slot;

typedef struct fetcher {
  httpresp_multi *multi;
  slot *slots;
  size_t nslots;
  url_source src;
  int more; /* the source may still have URLs */
  int failed;
} fetcher;

static void print_error(const char *url, int code, const char *msg) {
  printf("ERR %s %s %s\n", httpresp_errname(code),
         msg && *msg ? msg : httpresp_strerror(code), url);
}

/* Starts the next URL on slot `s`; returns 0 when the source is empty.
 * A URL that cannot start (a bad URL) is reported and the next one tried. */
static int start_next(fetcher *f, slot *s) {
  for (;;) {
    char *url = next_url(&f->src);
    if (!url)
      return 0;
    httpresp_request *req = NULL;
    int rc = httpresp_request_new(&req, "GET", url);
    if (!rc)
      rc = httpresp_multi_add(f->multi, s->easy, req, s);
    httpresp_request_free(req); /* the driver keeps its own copy */
    if (!rc) {
      s->url = url;
      return 1;
    }
    print_error(url, rc, NULL);
    f->failed = 1;
    free(url);
  }
}

/* Puts the next URLs on the free slots. */
static void fill_slots(fetcher *f) {
  for (size_t i = 0; i < f->nslots && f->more; i++)
    if (!f->slots[i].url)
      f->more = start_next(f, &f->slots[i]);
}

/* Reports every finished transfer and frees its slot. */
static size_t take_done(fetcher *f) {
  httpresp_response *resp;
  CURL *easy;
  void *ud;
  size_t n = 0;
  while (httpresp_multi_next_done(f->multi, &resp, &easy, &ud)) {
    slot *s = ud;
    int rc = httpresp_response_error(resp);
    if (rc) {
      print_error(s->url, rc, httpresp_response_errmsg(resp));
      f->failed = 1;
    } else {
      size_t len = 0;
      httpresp_response_body(resp, &len);
      printf("%d %zu %zu %s -> %s\n", httpresp_response_status(resp),
             httpresp_response_hop_count(resp), len, s->url,
             httpresp_response_url(resp));
    }
    httpresp_response_free(resp);
    free(s->url);
    s->url = NULL;
    n++;
  }
  return n;
}

static int parse_slots(const char *arg, size_t *out) {
  char *end;
  long v = strtol(arg, &end, 10);
  if (end == arg || *end || v < 1 || v > MAX_SLOTS)
    return -1;
  *out = (size_t)v;
  return 0;
}

static int usage(const char *prog) {
  fprintf(stderr,
          "usage: %s [-n N] URL...\n"
          "       %s [-n N] < urls.txt\n"
          "Fetches every URL with up to N (default %d, at most %d) in "
          "flight.\n",
          prog, prog, DEFAULT_SLOTS, MAX_SLOTS);
  return 2;
}

int main(int argc, char **argv) {
  fetcher f;
  memset(&f, 0, sizeof(f));
  f.nslots = DEFAULT_SLOTS;
  int first = 1;
  while (first < argc && argv[first][0] == '-' && argv[first][1]) {
    if (strcmp(argv[first], "--") == 0) {
      first++;
      break;
    }
    if (strcmp(argv[first], "-n") == 0 && first + 1 < argc &&
        parse_slots(argv[first + 1], &f.nslots) == 0)
      first += 2;
    else if (strncmp(argv[first], "-n", 2) == 0 && argv[first][2] &&
             parse_slots(argv[first] + 2, &f.nslots) == 0)
      first++;
    else
      return usage(argv[0]);
  }
  f.src.argv = argv + first;
  f.src.argc = argc - first;
  f.src.from_stdin = f.src.argc == 0;
  f.more = 1;
  setvbuf(stdout, NULL, _IOLBF, 0); /* a line per completion, as it comes */

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "curl_global_init failed\n");
    return 1;
  }
  httpresp_client *client = NULL;
  httpresp_cache *cache = NULL;
  CURLM *cm = curl_multi_init();
  f.slots = calloc(f.nslots, sizeof(*f.slots));
  int rc = cm && f.slots ? 0 : HTTPRESP_E_NOMEM;
  if (!rc)
    rc = httpresp_client_new(&client);
  if (!rc)
    rc = httpresp_cache_new_memory(&cache, (size_t)64 << 20);
  if (!rc)
    rc = httpresp_client_set_cache(client, cache);
  if (!rc)
    rc = httpresp_multi_new(&f.multi, client, cm);
  for (size_t i = 0; !rc && i < f.nslots; i++) {
    /* Transport settings stay the caller's; the library owns the rest. */
    CURL *e = f.slots[i].easy = curl_easy_init();
    if (!e) {
      rc = HTTPRESP_E_NOMEM;
      break;
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, "example_fetch/1");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
  }
  if (rc) {
    fprintf(stderr, "setup failed: %s\n", httpresp_strerror(rc));
    f.failed = 1;
  }

  /* The loop: start what fits, let libcurl work, take what finished,
   * wait for sockets or for the next Retry-After wake-up.  Nothing here
   * sleeps beyond that wait, which the driver shortens as needed. */
  while (!rc && (f.more || httpresp_multi_pending(f.multi) > 0)) {
    fill_slots(&f);
    int running = 0;
    rc = httpresp_multi_perform(f.multi, &running);
    if (rc)
      break;
    size_t got = take_done(&f);
    if (!got && httpresp_multi_pending(f.multi) > 0)
      rc = httpresp_multi_poll(f.multi, 1000);
  }
  if (rc && f.multi) {
    fprintf(stderr, "the multi driver failed: %s\n", httpresp_strerror(rc));
    f.failed = 1;
  }
  if (f.src.oom) {
    fprintf(stderr, "out of memory reading the URLs\n");
    f.failed = 1;
  }

  httpresp_multi_free(f.multi); /* before the handles it may hold */
  for (size_t i = 0; f.slots && i < f.nslots; i++) {
    free(f.slots[i].url);
    if (f.slots[i].easy)
      curl_easy_cleanup(f.slots[i].easy);
  }
  free(f.slots);
  free(f.src.line);
  if (cm)
    curl_multi_cleanup(cm);
  httpresp_client_free(client);
  httpresp_cache_free(cache); /* after the client that used it */
  curl_global_cleanup();
  return f.failed ? 1 : 0;
}
