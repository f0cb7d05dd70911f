/* SPDX-License-Identifier: MIT */
/* The public header must compile on its own, warning-free and pedantic. */
#include <httpresp/httpresp.h>

int headertest_version_matches(void);
int headertest_version_matches(void) {
  return httpresp_version_num() == HTTPRESP_VERSION_NUM;
}
