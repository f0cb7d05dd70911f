/* SPDX-License-Identifier: MIT */
/* Shared helpers for the integration suites: a fake clock, a one-call way
 * to run a request, and the two drivers the behaviour suites run through. */
#ifndef HTTPRESP_TEST_FIXTURES_H
#define HTTPRESP_TEST_FIXTURES_H

#include <stdint.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include "testsrv.h"

/* A clock tests move by hand; sleeping advances it instantly. */
typedef struct fake_clock {
  int64_t now_ms;
  int64_t slept_ms; /* total asked to sleep */
  int sleeps;       /* number of sleeps */
} fake_clock;

int64_t fake_now(void *ud);
int fake_sleep(void *ud, int64_t ms);
/* A client on a fake clock starting at a fixed date (2026-01-01), or on
 * the real clock if `clock` is NULL. */
httpresp_client *fixture_client(fake_clock *clock);
/* httpresp_client_set_clock, remembered so that the multi driver's runs
 * wait through `sleep` as the blocking driver does (see fixture_perform);
 * use it instead of httpresp_client_set_clock in tests that run through
 * both drivers. */
void fixture_set_clock(httpresp_client *c, httpresp_now_fn now,
                       httpresp_sleep_fn sleep, void *ud);
/* An easy handle with a short timeout, quiet, on loopback only. */
CURL *fixture_easy(void);

/* ---- the drivers ----------------------------------------------------------
 * FIXTURE_BLOCKING runs a request through httpresp_perform.  FIXTURE_MULTI
 * runs it through httpresp_multi over a CURLM, as a caller's perform/poll
 * loop does; each thread has its own CURLM and context, kept from one
 * request to the next (connections are reused as in a real loop).  The
 * multi driver never sleeps: when the only thing left is a transfer parked
 * on its timer, the loop itself waits out httpresp_multi_timeout() through
 * the sleep of the client's clock (fixture_client, fixture_set_clock), so
 * a fake clock moves and counts exactly as under the blocking driver; a
 * client on the real clock is polled in real time.  Under FIXTURE_MULTI
 * the library calling the client's sleep fails the test. */
typedef enum fixture_driver { FIXTURE_BLOCKING, FIXTURE_MULTI } fixture_driver;
/* Chooses the driver of this test (default FIXTURE_BLOCKING). */
void fixture_use_driver(fixture_driver d);
/* httpresp_perform through the current driver: same return value, same
 * *out (NULL only when the request could not start). */
int fixture_perform(httpresp_client *c, CURL *easy, const httpresp_request *req,
                    httpresp_response **out);
/* Frees the calling thread's CURLM and multi context (a thread that used
 * fixture_perform calls this before it ends; fixture_suite_stop does it for
 * the test's thread). */
void fixture_driver_release(void);

/* A behaviour suite run through both drivers: FIXTURE_SUITES(s, options)
 * declares the suites `s` (blocking) and `s_multi` with the same options,
 * and FIXTURE_TEST(s, name) { ... } puts the test in both, each choosing
 * its driver before the body runs.  Criterion names the driver that
 * failed by its suite: "[FAIL] retry_multi::zero_repeats_at_once"; run one
 * driver with --filter 'retry_multi/ *' (no space). */
#define FIXTURE_SUITES(suite, ...)                                             \
  TestSuite(suite, __VA_ARGS__);                                               \
  TestSuite(suite##_multi, __VA_ARGS__)
#define FIXTURE_TEST(suite, name)                                              \
  static void fixture_body_##suite##_##name(void);                             \
  Test(suite, name) {                                                          \
    fixture_use_driver(FIXTURE_BLOCKING);                                      \
    fixture_body_##suite##_##name();                                           \
  }                                                                            \
  Test(suite##_multi, name) {                                                  \
    fixture_use_driver(FIXTURE_MULTI);                                         \
    fixture_body_##suite##_##name();                                           \
  }                                                                            \
  static void fixture_body_##suite##_##name(void)

/* Runs `method url` with an optional body (NUL-terminated, may be NULL)
 * and NULL-terminated "Name: value" headers (may be NULL) through the
 * current driver. */
httpresp_response *fixture_run(httpresp_client *c, CURL *easy,
                               const char *method, const char *url,
                               const char *body, const char *const *headers);
/* The usual suite set-up: a loopback server on `nports` ports, a client on
 * the fake clock `clk` (reset to its start) and an easy handle. */
void fixture_suite_start(int nports, ts_server **ts, fake_clock *clk,
                         httpresp_client **client, CURL **easy);
/* Releases what fixture_suite_start made, and the driver's state. */
void fixture_suite_stop(ts_server *ts, httpresp_client *client, CURL *easy);
/* The body of a response as a NUL-terminated string ("" if none). */
const char *fixture_body(const httpresp_response *r);
/* Asserts that `r` has a hop `i` (httpresp_response_hop returns 0; the test
 * stops if not), then expects its status to be `status` and its decision
 * `d`.  FIXTURE_ANY_STATUS skips the status check, for a test that only
 * knows the decision (0 is a real hop status: the transfer failed). */
#define FIXTURE_ANY_STATUS (-1)
void fixture_expect_hop(const httpresp_response *r, size_t i, int status,
                        httpresp_decision d);

/* A request body streamed from memory for httpresp_request_set_body_stream:
 * reads at most `chunk` bytes at a time (0: as much as asked, else small
 * reads make the body really stream) and counts rewinds. */
typedef struct fixture_stream {
  const char *data;
  size_t len;
  size_t chunk;
  size_t pos;
  int rewinds;
} fixture_stream;
size_t fixture_stream_read(void *ud, char *buf, size_t len);
int fixture_stream_rewind(void *ud);

/* rm -rf `path` (a test's temporary directory); symlinks are removed, not
 * followed. */
void fixture_rm_rf(const char *path);

#endif
