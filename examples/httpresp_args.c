/* SPDX-License-Identifier: MIT */
/* The httpresp command line: options as curl spells them, --help and the
 * exit-code table it prints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpresp_tool.h"

/* The largest request body read from a file or stdin. */
#define TOOL_MAX_DATA ((size_t)1 << 30)

static const char usage_text[] =
    "Usage: " TOOL_NAME " [options] URL...\n"
    "\n"
    "A curl-like client over libhttpresp: redirects are followed with the\n"
    "right method and body, 1xx are absorbed, 429/503 Retry-After is waited\n"
    "for and repeated, and with --cache answers are kept on disk and\n"
    "revalidated (304).  A flag curl has means what it means in curl.\n"
    "\n"
    "Request:\n"
    "  -X, --request METHOD      method (default GET; POST with data; HEAD "
    "with -I)\n"
    "  -d, --data DATA           body; @FILE reads a file without CR/LF, @- "
    "stdin;\n"
    "                            several are joined with '&'\n"
    "      --data-binary DATA    body as is; @FILE or @- read bytes unchanged\n"
    "      --data-raw DATA       body as is; '@' is not special\n"
    "      --json DATA           JSON body (as --data-binary), with "
    "Content-Type and\n"
    "                            Accept: application/json (curl's --json)\n"
    "  -H, --header 'Name: value'  add a request header\n"
    "      --data-urlencode DATA  body piece URL-encoded: CONTENT, =CONTENT,\n"
    "                            NAME=CONTENT, @FILE or NAME@FILE (curl's)\n"
    "  -G, --get                 put the data in the URL's query, and GET\n"
    "  -F, --form NAME=CONTENT   multipart/form-data part (POST): a value, "
    "@FILE\n"
    "                            (upload) or <FILE (its contents); ;type= "
    "and\n"
    "                            ;filename= after it, as curl\n"
    "  -T, --upload-file FILE    PUT the file (- is stdin); a URL ending in "
    "/\n"
    "                            gets the file's name\n"
    "  -u, --user USER:PASSWORD  credentials, sent to the first origin only\n"
    "  -A, --user-agent NAME     User-Agent (default " TOOL_NAME "/VERSION)\n"
    "  -e, --referer URL         Referer (URL;auto: each redirect names the "
    "last)\n"
    "  -b, --cookie DATA|FILE    send NAME=VALUE cookies, or read a cookie "
    "file;\n"
    "                            either turns on libcurl's cookie engine\n"
    "  -c, --cookie-jar FILE     write the engine's cookies to FILE at the "
    "end\n"
    "      --compressed          ask for a compressed body and decode it\n"
    "Connection:\n"
    "  -x, --proxy [PROTO://]HOST[:PORT]  use this proxy\n"
    "      --resolve HOST:PORT:ADDR  connect to ADDR for HOST:PORT\n"
    "      --http1.1, --http2    the HTTP version to use (as curl)\n"
    "TLS:\n"
    "  -k, --insecure            do not verify the server's certificate\n"
    "      --cacert FILE         CA certificates to verify the server with\n"
    "      --capath DIR          a directory of CA certificates\n"
    "                            Without them, like curl: $CURL_CA_BUNDLE, "
    "else\n"
    "                            $SSL_CERT_DIR and $SSL_CERT_FILE\n";

/* The rest of the usage (one literal would pass C's 4095-byte limit). */
static const char usage_text2[] =
    "Output:\n"
    "  -o, --output FILE         write the body to FILE as it arrives (one -o "
    "per\n"
    "                            URL, in order; - is stdout)\n"
    "  -i, --include             print each response head as it arrives "
    "(1xx and\n"
    "                            redirects too, like curl -i -L), then the "
    "body\n"
    "  -I, --head                HEAD request, print the heads\n"
    "  -O, --remote-name         write the body to a file named as the URL's "
    "last\n"
    "                            path segment (one -o or -O per URL)\n"
    "  -D, --dump-header FILE    write the response heads there as they "
    "arrive\n"
    "  -w, --write-out FORMAT    after each URL print FORMAT (@FILE reads it): "
    "text\n"
    "                            with %{http_code} %{url_effective} "
    "%{num_redirects}\n"
    "                            %{time_total} %{size_download} %{exitcode}\n"
    "                            %{errormsg} %{json}, \\n \\t %%, and "
    "%output{FILE}\n"
    "                            (%output{>>FILE} appends) to write the rest "
    "there.\n"
    "                            %{json} also has the hops, attempts, retry "
    "and\n"
    "                            cache, and the body (base64 unless UTF-8)\n"
    "  -v, --verbose             trace every hop and decision on stderr\n"
    "  -#, --progress-bar        the progress meter as a bar of '#'\n"
    "                            (a meter shows on a terminal when a "
    "transfer\n"
    "                            takes over a second and its body does not "
    "go\n"
    "                            to the terminal)\n"
    "  -s, --silent              no meter and no error messages;\n"
    "  -S, --show-error          with -s, still the error messages\n"
    "  -f, --fail                exit 22 on HTTP status >= 400 (body not "
    "written)\n"
    "      --fail-with-body      exit 22 on HTTP status >= 400, body written\n"
    "Policy:\n"
    "      --no-follow           do not follow redirects (following is the "
    "default;\n"
    "                            -L, --location are accepted and do "
    "nothing)\n"
    "      --max-redirs N        redirect limit (default 20; -1: no limit)\n"
    "      --keep-post           keep POST and its body on 301/302\n"
    "      --max-retries N       repeats after 429/503 Retry-After (default "
    "3)\n"
    "      --max-wait SECONDS    longest single wait, fractions allowed "
    "(default 60)\n"
    "      --cache[=DIR]         answer from a disk cache and revalidate (off "
    "by\n"
    "                            default; DIR defaults to "
    "$XDG_CACHE_HOME/httpresp,\n"
    "                            else ~/.cache/httpresp).  $HTTPRESP_CACHE=DIR "
    "turns\n"
    "                            it on too.  A stored answer says so: -v, "
    "%{json},\n"
    "                            and its Age with -i\n"
    "      --no-cache            no cache, whatever came before\n"
    "      --cache=redis://HOST[:PORT][/DB] or --cache=unix:///SOCKET[?db=N]\n"
    "                            a cache shared with other processes on Redis\n"
    "      --share-origins URL   remember servers' Retry-After on Redis (URL as\n"
    "                            for --cache), shared with other processes\n"
    "Transfer:\n"
    "      --connect-timeout SECONDS   limit for connecting\n"
    "  -m, --max-time SECONDS    limit per URL, redirects and waits included\n"
    "  -Z, --parallel N          run up to N URLs at once (-Z alone: 50)\n"
    "  -h, --help                this text\n"
    "  -V, --version             tool, library and libcurl versions\n"
    "\n"
    "Several URLs share one client, one cache and one connection pool.\n";

/* Printed after usage_text (one literal would pass C's 4095-byte limit). */
static const char exit_text[] =
    "\n"
    "Exit codes (with several URLs: the code of the last one that failed).\n"
    "A failure curl also has exits with curl's number (its CURLcode); the\n"
    "tool's own reasons are 110-113:\n"
    "   0  success, whatever the HTTP status (unless -f)\n"
    "   1  the URL or a redirect is not http or https\n"
    "   2  usage error\n"
    "   3  the URL or a redirect's Location is not a valid URL\n"
    "   6  could not resolve the host\n"
    "   7  could not connect\n"
    "   8  malformed or oversized response, or an unexpected 101 upgrade\n"
    "  22  HTTP status >= 400 with -f or --fail-with-body\n"
    "  23  could not write the output (or -O finds no file name in the URL)\n"
    "  26  could not read the data file\n"
    "  27  out of memory\n"
    "  28  time limit reached (--connect-timeout, -m)\n"
    "  35  TLS handshake failed\n"
    "  42  transfer aborted\n"
    "  43  internal error\n"
    "  47  too many redirects (--max-redirs)\n"
    "  60  the server's certificate does not verify (see -k, --cacert)\n"
    "  63  response body too large\n"
    "  65  the request body could not be sent again\n"
    " other  any other libcurl failure: its CURLcode, as curl exits\n"
    " 110  redirect loop\n"
    " 111  redirect from https to http refused\n"
    " 112  the server asks to wait longer than --max-wait allows, or (with "
    "-f)\n"
    "      still answers 429/503 after the retries\n"
    " 113  the cache cannot be used\n";

/* ---- the command line --------------------------------------------------- */

/* Reads all of `f` into a malloc'd buffer. */
static char *slurp(FILE *f, size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = tool_xrealloc(NULL, cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n > TOOL_MAX_DATA) {
      free(buf);
      errno = EFBIG;
      return NULL;
    }
    if (n == cap)
      buf = tool_xrealloc(buf, cap *= 2);
  }
  if (ferror(f)) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Appends bytes to the body, '&' between pieces like curl. */
static void add_bytes(tool_opts *o, const char *bytes, size_t len) {
  size_t sep = o->data ? 1 : 0;
  o->data = tool_xrealloc(o->data, o->data_len + sep + len + 1);
  if (sep)
    o->data[o->data_len] = '&';
  if (len)
    memcpy(o->data + o->data_len + sep, bytes, len);
  o->data_len += sep + len;
  o->data[o->data_len] = '\0';
}

static void push(const char ***v, size_t *n, const char *s) {
  *v = tool_xrealloc((void *)*v, (*n + 1) * sizeof(**v));
  (*v)[(*n)++] = s;
}

/* Reads `path` (@- is stdin) whole; prints why not. */
static char *read_arg_file(const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    tool_say(NULL, "%s: cannot read: %s", path, strerror(errno));
    return NULL;
  }
  char *bytes = slurp(f, len);
  int err = errno;
  if (f != stdin)
    fclose(f);
  if (!bytes)
    tool_say(NULL, "%s: cannot read: %s", path, strerror(err));
  return bytes;
}

/* --data-urlencode, as curl reads it: CONTENT and =CONTENT encode it all,
 * NAME=CONTENT encodes CONTENT, @FILE and NAME@FILE encode the file. */
static int add_urlencoded(tool_opts *o, const char *arg) {
  const char *eq = strchr(arg, '='), *at = strchr(arg, '@');
  size_t name_len = 0, len;
  char *owned = NULL;
  const char *content;
  if (eq && (!at || eq < at)) {
    name_len = (size_t)(eq - arg);
    content = eq + 1;
    len = strlen(content);
  } else if (at) {
    name_len = (size_t)(at - arg);
    if (!(owned = read_arg_file(at + 1, &len)))
      return EXIT_READ;
    content = owned;
  } else {
    content = arg;
    len = strlen(arg);
  }
  /* As curl encodes it: letters, digits and -._~ stay, a space is '+',
   * every other byte %XX. */
  char *piece = tool_xrealloc(NULL, name_len + 1 + 3 * len + 1);
  memcpy(piece, arg, name_len);
  size_t n = name_len;
  if (name_len)
    piece[n++] = '=';
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)content[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      piece[n++] = (char)c;
    } else if (c == ' ') {
      piece[n++] = '+';
    } else {
      piece[n++] = '%';
      piece[n++] = hex[c >> 4];
      piece[n++] = hex[c & 15];
    }
  }
  free(owned);
  add_bytes(o, piece, n);
  free(piece);
  return 0;
}

/* -b: NAME=VALUE text (curl tells it by the '='), else a cookie file.
 * Several texts are joined with ';', as curl joins them. */
static void add_cookie(tool_opts *o, const char *arg) {
  if (!strchr(arg, '=')) {
    push(&o->cookie_files, &o->ncookie_files, arg);
    return;
  }
  size_t old = o->cookie ? strlen(o->cookie) : 0, len = strlen(arg);
  o->cookie = tool_xrealloc(o->cookie, old + 1 + len + 1);
  if (old)
    o->cookie[old++] = ';';
  memcpy(o->cookie + old, arg, len + 1);
}

/* Adds one -d / --data-binary argument: text, or @FILE / @- read. */
static int add_data(tool_opts *o, const char *arg, int binary) {
  if (arg[0] != '@') {
    add_bytes(o, arg, strlen(arg));
    return 0;
  }
  const char *path = arg + 1;
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    tool_say(NULL, "%s: cannot read: %s", path, strerror(errno));
    return EXIT_READ;
  }
  size_t len = 0;
  char *bytes = slurp(f, &len);
  int err = errno;
  if (f != stdin)
    fclose(f);
  if (!bytes) {
    tool_say(NULL, "%s: cannot read: %s", path, strerror(err));
    return EXIT_READ;
  }
  if (!binary) { /* like curl -d @file: line ends are not part of data */
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
      if (bytes[i] != '\r' && bytes[i] != '\n')
        bytes[k++] = bytes[i];
    len = k;
  }
  add_bytes(o, bytes, len);
  free(bytes);
  return 0;
}

static int parse_long(const char *opt, const char *v, long lo, long *out) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo) {
    tool_say(NULL, "%s: expected a whole number >= %ld, got '%s'", opt, lo, v);
    return EXIT_USAGE;
  }
  *out = n;
  return 0;
}

static int parse_seconds(const char *opt, const char *v, int64_t *ms) {
  char *end;
  errno = 0;
  double s = strtod(v, &end);
  if (errno || end == v || *end || !(s >= 0) || s > 1e9) {
    tool_say(NULL, "%s: expected seconds (fractions allowed), got '%s'", opt,
             v);
    return EXIT_USAGE;
  }
  *ms = (int64_t)(s * 1000.0 + 0.5);
  return 0;
}

/* Options, long name and short letter (0 if none); takes_value 2: only as
 * "--name=value" (--cache[=DIR]). */
static const struct {
  const char *name;
  char letter;
  int takes_value;
} options[] = {
    {"request", 'X', 1},      {"data", 'd', 1},
    {"data-binary", 0, 1},    {"data-raw", 0, 1},
    {"json", 0, 1},           {"header", 'H', 1},
    {"user", 'u', 1},         {"user-agent", 'A', 1},
    {"output", 'o', 1},       {"include", 'i', 0},
    {"head", 'I', 0},         {"write-out", 'w', 1},
    {"verbose", 'v', 0},      {"silent", 's', 0},
    {"show-error", 'S', 0},   {"fail", 'f', 0},
    {"no-follow", 0, 0},      {"location", 'L', 0},
    {"max-redirs", 0, 1},     {"keep-post", 0, 0},
    {"max-retries", 0, 1},    {"max-wait", 0, 1},
    {"cache", 0, 2},          {"no-cache", 0, 0},
    {"insecure", 'k', 0},     {"cacert", 0, 1},
    {"capath", 0, 1},         {"connect-timeout", 0, 1},
    {"max-time", 'm', 1},     {"parallel", 'Z', 1},
    {"help", 'h', 0},         {"version", 'V', 0},
    {"cookie", 'b', 1},       {"cookie-jar", 'c', 1},
    {"dump-header", 'D', 1},  {"remote-name", 'O', 0},
    {"get", 'G', 0},          {"data-urlencode", 0, 1},
    {"referer", 'e', 1},      {"fail-with-body", 0, 0},
    {"compressed", 0, 0},     {"proxy", 'x', 1},
    {"resolve", 0, 1},        {"http1.1", 0, 0},
    {"http2", 0, 0},          {"upload-file", 'T', 1},
    {"progress-bar", '#', 0}, {"form", 'F', 1},
    {"share-origins", 0, 1},
};

const char tool_remote_name[] = "-O";
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* -w FORMAT, or @FILE / @- to read it. */
static int set_write_out(tool_opts *o, const char *val) {
  free(o->write_out_owned);
  o->write_out_owned = NULL;
  if (val[0] != '@') {
    o->write_out = val;
  } else {
    const char *path = val + 1;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t len = 0;
    char *fmt = f ? slurp(f, &len) : NULL;
    int err = errno;
    if (f && f != stdin)
      fclose(f);
    if (!fmt) {
      tool_say(NULL, "-w %s: cannot read: %s", path, strerror(err));
      return EXIT_READ;
    }
    fmt[len < TOOL_MAX_DATA ? len : TOOL_MAX_DATA - 1] = '\0';
    o->write_out = o->write_out_owned = fmt;
  }
  o->want_body_copy = strstr(o->write_out, "%{json}") != NULL;
  return 0;
}

/* -e URL or URL;auto. */
static void set_referer(tool_opts *o, const char *val) {
  const char *semi = strstr(val, ";auto");
  o->auto_referer = semi && !semi[5];
  if (o->auto_referer) { /* "URL;auto": the URL part, maybe empty */
    free(o->referer_owned);
    o->referer_owned = tool_xrealloc(NULL, (size_t)(semi - val) + 1);
    memcpy(o->referer_owned, val, (size_t)(semi - val));
    o->referer_owned[semi - val] = '\0';
    val = o->referer_owned;
  }
  o->referer = *val ? val : NULL;
}

/* The options of cookies, connection and transfer details (apply()'s
 * second half).  Returns 0, an exit code, or -2 for "not one of these". */
static int apply_more(tool_opts *o, const char *name, const char *arg) {
  /* Every option here that takes a value has one (parse_*_opt). */
  const char *val = arg ? arg : "";
  if (!strcmp(name, "cookie"))
    add_cookie(o, val);
  else if (!strcmp(name, "cookie-jar"))
    o->cookie_jar = val;
  else if (!strcmp(name, "dump-header"))
    o->dump_header = val;
  else if (!strcmp(name, "remote-name"))
    push(&o->outputs, &o->noutputs, tool_remote_name);
  else if (!strcmp(name, "get"))
    o->get = 1;
  else if (!strcmp(name, "data-urlencode"))
    return add_urlencoded(o, val);
  else if (!strcmp(name, "referer"))
    set_referer(o, val);
  else if (!strcmp(name, "fail-with-body"))
    o->fail_with_body = 1;
  else if (!strcmp(name, "compressed"))
    o->compressed = 1;
  else if (!strcmp(name, "proxy"))
    o->proxy = val;
  else if (!strcmp(name, "resolve"))
    push(&o->resolve, &o->nresolve, val);
  else if (!strcmp(name, "http1.1"))
    o->http_version = CURL_HTTP_VERSION_1_1;
  else if (!strcmp(name, "http2"))
    o->http_version = CURL_HTTP_VERSION_2_0;
  else if (!strcmp(name, "upload-file"))
    o->upload_file = val;
  else if (!strcmp(name, "progress-bar"))
    o->progress_bar = 1;
  else if (!strcmp(name, "form")) {
    /* curl refuses a part without a name at once (exit 2). */
    if (!strchr(val, '=') || val[0] == '=') {
      tool_say(NULL, "-F '%s': illegally formatted input field", val);
      return EXIT_USAGE;
    }
    push(&o->forms, &o->nforms, val);
  }
  else
    return -2;
  return 0;
}

/* Applies option `name` (long form) with `val` (NULL: none given).
 * Returns 0, an exit code, or -1 for "print help/version and exit 0". */
static int apply(tool_opts *o, const char *name, const char *val) {
  int more = apply_more(o, name, val);
  if (more != -2)
    return more;
  if (!strcmp(name, "request"))
    o->method = val;
  else if (!strcmp(name, "data"))
    return add_data(o, val, 0);
  else if (!strcmp(name, "data-binary"))
    return add_data(o, val, 1);
  else if (!strcmp(name, "data-raw"))
    add_bytes(o, val, strlen(val));
  else if (!strcmp(name, "json")) {
    o->json_data = 1;
    return add_data(o, val, 1);
  } else if (!strcmp(name, "header"))
    push(&o->headers, &o->nheaders, val);
  else if (!strcmp(name, "user"))
    o->user = val;
  else if (!strcmp(name, "user-agent"))
    o->user_agent = val;
  else if (!strcmp(name, "output"))
    push(&o->outputs, &o->noutputs, val);
  else if (!strcmp(name, "include"))
    o->include = 1;
  else if (!strcmp(name, "head"))
    o->head = 1;
  else if (!strcmp(name, "write-out"))
    return set_write_out(o, val);
  else if (!strcmp(name, "verbose"))
    o->verbose = 1;
  else if (!strcmp(name, "silent"))
    o->silent = 1;
  else if (!strcmp(name, "show-error"))
    o->show_error = 1;
  else if (!strcmp(name, "fail"))
    o->fail = 1;
  else if (!strcmp(name, "no-follow"))
    o->follow = 0;
  else if (!strcmp(name, "location"))
    o->follow = 1;
  else if (!strcmp(name, "max-redirs"))
    return parse_long("--max-redirs", val, -1, &o->max_redirs);
  else if (!strcmp(name, "keep-post"))
    o->keep_post = 1;
  else if (!strcmp(name, "max-retries"))
    return parse_long("--max-retries", val, 0, &o->max_retries);
  else if (!strcmp(name, "max-wait"))
    return parse_seconds("--max-wait", val, &o->max_wait_ms);
  else if (!strcmp(name, "cache")) {
    if (val && !*val) {
      tool_say(NULL, "--cache=: the directory is empty");
      return EXIT_USAGE;
    }
    o->cache = 1;
    o->cache_dir = val;
  } else if (!strcmp(name, "share-origins")) {
    o->share_origins = val;
  } else if (!strcmp(name, "no-cache"))
    o->cache = 0, o->cache_dir = NULL;
  else if (!strcmp(name, "insecure"))
    o->insecure = 1;
  else if (!strcmp(name, "cacert"))
    o->cacert = val;
  else if (!strcmp(name, "capath"))
    o->capath = val;
  else if (!strcmp(name, "connect-timeout"))
    return parse_seconds("--connect-timeout", val, &o->connect_timeout_ms);
  else if (!strcmp(name, "max-time"))
    return parse_seconds("--max-time", val, &o->max_time_ms);
  else if (!strcmp(name, "parallel"))
    return parse_long("--parallel", val, 1, &o->parallel);
  else if (!strcmp(name, "help")) {
    fputs(usage_text, stdout);
    fputs(usage_text2, stdout);
    fputs(exit_text, stdout);
    return -1;
  } else if (!strcmp(name, "version")) {
    printf(TOOL_NAME " %s (libhttpresp %s, libcurl %s)\n",
           HTTPRESP_VERSION_STRING, httpresp_version(),
           curl_version_info(CURLVERSION_NOW)->version);
    return -1;
  }
  return 0;
}

/* "--name [value]" or "--cache=DIR" at argv[*i]. */
static int parse_long_opt(tool_opts *o, int argc, char **argv, int *i) {
  const char *a = argv[*i] + 2;
  const char *eq = strchr(a, '=');
  size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
  size_t k = 0;
  while (k < NOPTIONS && (strlen(options[k].name) != nlen ||
                          strncmp(options[k].name, a, nlen) != 0))
    k++;
  if (k == NOPTIONS || (eq && options[k].takes_value != 2)) {
    tool_say(NULL, "unknown option '%s' (try --help)", argv[*i]);
    return EXIT_USAGE;
  }
  const char *val = NULL;
  if (options[k].takes_value == 2) {
    val = eq ? eq + 1 : NULL;
  } else if (options[k].takes_value) {
    if (*i + 1 >= argc) {
      tool_say(NULL, "option '%s' needs a value", argv[*i]);
      return EXIT_USAGE;
    }
    val = argv[++*i];
  }
  return apply(o, options[k].name, val);
}

/* Short options at argv[*i]: they may be bundled ("-sSf"), and a value may
 * be attached ("-XPOST") or follow ("-X POST"). */
static int parse_short_opts(tool_opts *o, int argc, char **argv, int *i) {
  for (const char *p = argv[*i] + 1; *p; p++) {
    size_t k = 0;
    while (k < NOPTIONS && options[k].letter != *p)
      k++;
    if (k == NOPTIONS) {
      tool_say(NULL, "unknown option '-%c' (try --help)", *p);
      return EXIT_USAGE;
    }
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (*p == 'Z' && (p[1] || !next || next[0] < '0' || next[0] > '9')) {
      o->parallel = 50; /* curl's -Z is a switch; a count may follow */
      continue;
    }
    if (!options[k].takes_value) {
      int rc = apply(o, options[k].name, NULL);
      if (rc)
        return rc;
      continue;
    }
    const char *val = p[1] ? p + 1 : next;
    if (!val) {
      tool_say(NULL, "option '-%c' needs a value", *p);
      return EXIT_USAGE;
    }
    if (!p[1])
      ++*i;
    return apply(o, options[k].name, val); /* the value ends the bundle */
  }
  return 0;
}

int tool_parse_args(tool_opts *o, int argc, char **argv) {
  int only_urls = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int rc = 0;
    if (only_urls || a[0] != '-' || !a[1])
      push(&o->urls, &o->nurls, a);
    else if (!strcmp(a, "--"))
      only_urls = 1;
    else if (a[1] == '-')
      rc = parse_long_opt(o, argc, argv, &i);
    else
      rc = parse_short_opts(o, argc, argv, &i);
    if (rc)
      return rc;
  }
  if (!o->nurls) {
    tool_say(NULL, "no URL given (try --help)");
    return EXIT_USAGE;
  }
  if (o->fail && o->fail_with_body) { /* curl refuses the pair too */
    tool_say(NULL, "--fail and --fail-with-body cannot be used together");
    return EXIT_USAGE;
  }
  if (o->upload_file && o->data && !o->get) {
    tool_say(NULL, "-T and a request body (-d, --json, ...) do not go "
                   "together");
    return EXIT_USAGE;
  }
  /* One body at a time, as curl says ("you can only select one HTTP
   * request method"). */
  if (o->nforms && ((o->data && !o->get) || o->upload_file || o->head)) {
    tool_say(NULL, "-F and another body or method (-d, -T, -I) do not go "
                   "together");
    return EXIT_USAGE;
  }
  if (o->head && o->data && !o->get) {
    tool_say(NULL, "-I (HEAD) and a request body do not go together");
    return EXIT_USAGE;
  }
  /* curl's meter is for a person watching: the tool draws it only on a
   * terminal, and -s or the -v trace leave no room for it. */
  o->meter = !o->silent && !o->verbose && isatty(STDERR_FILENO);
  if (o->cache < 0) { /* neither --cache nor --no-cache: the environment */
    const char *env = getenv("HTTPRESP_CACHE");
    o->cache = env && *env;
    o->cache_dir = o->cache ? env : NULL;
  }
  /* Like curl: without --cacert/--capath (and unless -k), the CA bundle
   * comes from CURL_CA_BUNDLE, else SSL_CERT_DIR and SSL_CERT_FILE. */
  if (!o->cacert && !o->capath && !o->insecure) {
    const char *bundle = getenv("CURL_CA_BUNDLE");
    if (bundle) {
      o->cacert = bundle;
    } else {
      o->capath = getenv("SSL_CERT_DIR");
      o->cacert = getenv("SSL_CERT_FILE");
    }
  }
  return 0;
}

void tool_free_opts(tool_opts *o) {
  free(o->data);
  free(o->urls);
  free(o->headers);
  free(o->outputs);
  free(o->write_out_owned);
  free(o->cookie);
  free(o->cookie_files);
  free(o->resolve);
  free(o->forms);
  free(o->referer_owned);
}
