/* SPDX-License-Identifier: MIT */
/* Replays fuzz inputs through LLVMFuzzerTestOneInput without libFuzzer, so
 * the committed corpora run as ordinary ctest programs under any compiler
 * (and under the sanitizers when the build has them).
 *
 *   fuzz_replay_<target> DIR_OR_FILE...
 *
 * Every regular file of each directory is fed once, in name order; a crash
 * or a broken invariant aborts with the file's name already printed.  An
 * empty corpus is an error: it would make the test pass vacuously. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* The inputs stay small: the committed seeds and minimised reproducers. */
#define REPLAY_MAX_INPUT ((size_t)16 * 1024 * 1024)

static int replay_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  unsigned char *buf = malloc(cap);
  int rc = buf ? 0 : -1;
  while (rc == 0) {
    if (len == cap) {
      unsigned char *nb = cap < REPLAY_MAX_INPUT ? realloc(buf, cap * 2) : NULL;
      if (!nb) {
        fprintf(stderr, "replay: %s: too large\n", path);
        rc = -1;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, fp);
    len += got;
    if (got == 0) {
      if (ferror(fp)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        rc = -1;
      }
      break;
    }
  }
  fclose(fp);
  if (rc == 0) {
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* An exact-size copy, as libFuzzer gives: reads past the end are then
     * caught by AddressSanitizer in sanitizer builds. */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
      rc = -1;
    } else {
      if (len)
        memcpy(exact, buf, len);
      (void)LLVMFuzzerTestOneInput(exact, len);
      free(exact);
    }
  }
  free(buf);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file in `dir`; returns how many, or -1. */
static long replay_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  long count = 0;
  const struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    if (ent->d_name[0] == '.')
      continue; /* ".", ".." and hidden files such as .gitkeep */
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      char **nv = realloc(names, ncap * sizeof(*nv));
      if (!nv) {
        count = -1;
        break;
      }
      names = nv;
      cap = ncap;
    }
    size_t plen = strlen(dir) + 1 + strlen(ent->d_name) + 1;
    names[n] = malloc(plen);
    if (!names[n]) {
      count = -1;
      break;
    }
    snprintf(names[n], plen, "%s/%s", dir, ent->d_name);
    n++;
  }
  closedir(d);
  if (count == 0 && n > 0)
    qsort(names, n, sizeof(*names), cmp_names);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (count >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
      count = replay_file(names[i]) == 0 ? count + 1 : -1;
    free(names[i]);
  }
  free(names);
  return count;
}

int main(int argc, char **argv) {
  long total = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    long k = S_ISDIR(st.st_mode) ? replay_dir(argv[i])
                                 : (replay_file(argv[i]) == 0 ? 1 : -1);
    if (k < 0)
      return 1;
    total += k;
  }
  if (total == 0) {
    fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  fprintf(stderr, "replay: %ld inputs, no crash\n", total);
  return 0;
}
