/* SPDX-License-Identifier: MIT */
/* The blocking driver: runs the shared state machine over
 * curl_easy_perform, sleeping through the client's sleep function. */
#include "xfer.h"

int httpresp_perform(httpresp_client *client, CURL *easy,
                     const httpresp_request *req, httpresp_response **out) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!client || !easy || !req)
    return HTTPRESP_E_INVALID_ARG;
  hr_xfer x;
  int rc = hr_xfer_init(&x, client, easy, req, 0);
  if (rc)
    return rc;
  hr_step step = hr_xfer_begin(&x);
  while (step != HR_STEP_DONE) {
    if (step == HR_STEP_WAIT) {
      int64_t wait = x.wake_ms - hr_client_now(client);
      if (wait > 0 && client->sleep(client->clock_ud, wait) != 0) {
        hr_response_fail(x.resp, HTTPRESP_E_ABORTED,
                         "the sleep callback aborted the wait");
        break;
      }
      step = hr_xfer_resume(&x);
    } else {
      step = hr_xfer_complete(&x, curl_easy_perform(easy));
    }
  }
  *out = hr_xfer_take_response(&x);
  hr_xfer_cleanup(&x);
  return (*out)->error;
}
