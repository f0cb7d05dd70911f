/* SPDX-License-Identifier: MIT */
/* The interim (1xx) response rules, pure like the others of the policy
 * core: the transfer code only reports what came and does what this says. */
#include "policy.h"

hr_interim hr_interim_decide(int status, unsigned count, int *error,
                             const char **msg) {
  if (count > HR_MAX_INTERIM) {
    *error = HTTPRESP_E_TOO_MANY_INTERIM;
    *msg = "more than 100 interim (1xx) responses";
    return HR_INTERIM_STOP;
  }
  /* We never send Upgrade, so a switch is nothing we could speak. */
  if (status == 101) {
    *error = HTTPRESP_E_UNEXPECTED_UPGRADE;
    *msg = "server answered 101 Switching Protocols to a request that "
           "asked for no upgrade";
    return HR_INTERIM_STOP;
  }
  return status == 103 ? HR_INTERIM_HINTS : HR_INTERIM_ABSORB;
}
