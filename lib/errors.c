/* SPDX-License-Identifier: MIT */
/* Messages and names of the error codes, generated from one list. */
#include "common.h"

static const char *const messages[] = {
#define HR_X_MSG(name, msg) msg,
    HTTPRESP_ERROR_LIST(HR_X_MSG)
#undef HR_X_MSG
};

static const char *const names[] = {
#define HR_X_NAME(name, msg) "HTTPRESP_E_" #name,
    HTTPRESP_ERROR_LIST(HR_X_NAME)
#undef HR_X_NAME
};

const char *httpresp_strerror(int code) {
  if (code < 0 || code >= HTTPRESP_E_COUNT_)
    return "unknown error code";
  return messages[code];
}

const char *httpresp_errname(int code) {
  if (code < 0 || code >= HTTPRESP_E_COUNT_)
    return "HTTPRESP_E_UNKNOWN";
  return names[code];
}
