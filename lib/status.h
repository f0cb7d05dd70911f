/* SPDX-License-Identifier: MIT */
/* The status-code table, exposed to the unit tests and the policy core. */
#ifndef HR_STATUS_H
#define HR_STATUS_H

#include <stddef.h>

#include "httpresp/httpresp.h"

/* Every meaning the library knows, sorted by code; for one code the primary
 * meaning comes first.  Generic entries for unknown codes are not in it. */
const httpresp_status_info *hr_status_table(size_t *count);

#endif
