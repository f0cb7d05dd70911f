/* SPDX-License-Identifier: MIT */
/* Linked into the test programs of the ThreadSanitizer build only
 * (HTTPRESP_TSAN, tools/tsan.sh).
 *
 * Criterion runs each test in a sandbox (BoxFort) that shares an arena with
 * its workers.  BoxFort maps that arena with MAP_FIXED at 0x200000000000
 * plus a 16 MiB step it draws with rand_r(), and aborts at the first mmap
 * that fails ("Could not initialize inheritable arena", Criterion issue
 * #274).  TSan refuses fixed mappings outside its application ranges, and
 * nearly every step BoxFort can draw falls outside them.  This rand_r
 * (TSan's own is a weak interceptor, so this one wins) draws steps in
 * 0x558000000000-0x568000000000 instead, inside the range TSan keeps for
 * position-independent executables; BoxFort skips steps already mapped.
 * Nothing else in the test programs or the library calls rand_r. */
int rand_r(unsigned *seed);

int rand_r(unsigned *seed) {
  /* The LCG of the C standard's example rand(); the low bits are weak,
   * so the step comes from the high ones. */
  *seed = *seed * 1103515245u + 12345u;
  /* base = 0x200000000000 + r * 0x1000000: r in [0x358000, 0x368000). */
  return (int)(0x358000u + (*seed >> 16) % 0x10000u);
}
