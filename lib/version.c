/* SPDX-License-Identifier: MIT */
#include "common.h"

const char *httpresp_version(void) { return HTTPRESP_VERSION_STRING; }

uint32_t httpresp_version_num(void) { return HTTPRESP_VERSION_NUM; }
