/* SPDX-License-Identifier: MIT */
/* The simplest correct use of libhttpresp: one GET that follows redirects,
 * absorbs 1xx and honours Retry-After, over the caller's own curl handle.
 *
 *   example_simple URL
 *
 * Prints the final status, every hop and the body size; exits 0 when the
 * request completed (whatever the status), 1 on an error. */
#include <stdio.h>

#include <curl/curl.h>
#include <httpresp/httpresp.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s URL\n", argv[0]);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *easy = curl_easy_init();
  /* Transport settings stay the caller's. */
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "example_simple/1");

  httpresp_client *client = NULL;
  httpresp_request *req = NULL;
  httpresp_response *resp = NULL;
  int rc = httpresp_client_new(&client);
  if (!rc)
    rc = httpresp_request_new(&req, "GET", argv[1]);
  if (!rc)
    rc = httpresp_perform(client, easy, req, &resp);

  for (size_t i = 0; i < httpresp_response_hop_count(resp); i++) {
    int status;
    const char *method, *url;
    httpresp_decision d;
    httpresp_response_hop(resp, i, &status, &method, &url, &d);
    printf("hop %zu: %s %s -> %d (%s)\n", i + 1, method, url, status,
           httpresp_decision_name(d));
  }
  if (rc) {
    fprintf(stderr, "error: %s: %s\n", httpresp_errname(rc),
            resp ? httpresp_response_errmsg(resp) : httpresp_strerror(rc));
  } else {
    size_t len;
    httpresp_response_body(resp, &len);
    printf("final: %d %s, %zu body bytes, library %s\n",
           httpresp_response_status(resp), httpresp_response_url(resp), len,
           httpresp_version());
  }
  httpresp_response_free(resp);
  httpresp_request_free(req);
  httpresp_client_free(client);
  curl_easy_cleanup(easy);
  curl_global_cleanup();
  return rc ? 1 : 0;
}
