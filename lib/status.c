/* SPDX-License-Identifier: MIT */
/* What the library knows of each HTTP status code, as one static table. */
#include "status.h"

#include "common.h"

/* Shorthands for the table only. */
#define KNOWN_ HTTPRESP_STATUS_KNOWN
#define STD_ HTTPRESP_STATUS_STANDARD
#define INTERIM_ HTTPRESP_STATUS_INTERIM
#define FOLLOW_ HTTPRESP_STATUS_FOLLOW
#define RETRY_ HTTPRESP_STATUS_RETRYABLE
#define CACHE_ HTTPRESP_STATUS_CACHEABLE

/* A meaning defined by a registered document (the current one, so a client
 * quoting `source` points at the text that governs today). */
#define S(code, reason, doc, policy)                                           \
  {(code), (uint16_t)(KNOWN_ | STD_ | (policy)), (reason), (doc)}
/* A meaning some vendor or convention gave a code; `owner` says whose. */
#define U(code, reason, owner, policy)                                         \
  {(code), (uint16_t)(KNOWN_ | (policy)), (reason), (owner)}

/*
 * Sorted by code.  Where one number has several meanings the primary one
 * comes first: the standard meaning when there is one, else the most
 * widespread.  Policy flags: INTERIM on every 1xx; FOLLOW on the five
 * redirects the policy follows; RETRYABLE where Retry-After is honoured;
 * CACHEABLE on the heuristically cacheable statuses of RFC 9110 §15.1.
 */
static const httpresp_status_info table[] = {
    S(100, "Continue", "RFC 9110", INTERIM_),
    S(101, "Switching Protocols", "RFC 9110", INTERIM_),
    /* RFC 4918 dropped 102; RFC 2518 is still where it is defined. */
    S(102, "Processing", "RFC 2518", INTERIM_),
    S(103, "Early Hints", "RFC 8297", INTERIM_),
    U(103, "Checkpoint", "resumable requests proposal", INTERIM_),

    S(200, "OK", "RFC 9110", CACHE_),
    S(201, "Created", "RFC 9110", 0),
    S(202, "Accepted", "RFC 9110", 0),
    S(203, "Non-Authoritative Information", "RFC 9110", CACHE_),
    S(204, "No Content", "RFC 9110", CACHE_),
    S(205, "Reset Content", "RFC 9110", 0),
    S(206, "Partial Content", "RFC 9110", CACHE_),
    S(207, "Multi-Status", "RFC 4918", 0),
    S(208, "Already Reported", "RFC 5842", 0),
    S(226, "IM Used", "RFC 3229", 0),

    S(300, "Multiple Choices", "RFC 9110", CACHE_),
    S(301, "Moved Permanently", "RFC 9110", FOLLOW_ | CACHE_),
    S(302, "Found", "RFC 9110", FOLLOW_),
    S(303, "See Other", "RFC 9110", FOLLOW_),
    S(304, "Not Modified", "RFC 9110", 0),
    S(305, "Use Proxy", "RFC 9110", 0), /* deprecated there */
    /* Once "Switch Proxy" in a draft; RFC 9110 reserves it as unused. */
    S(306, "(Unused)", "RFC 9110", 0),
    S(307, "Temporary Redirect", "RFC 9110", FOLLOW_),
    S(308, "Permanent Redirect", "RFC 9110", FOLLOW_ | CACHE_),

    S(400, "Bad Request", "RFC 9110", 0),
    S(401, "Unauthorized", "RFC 9110", 0),
    S(402, "Payment Required", "RFC 9110", 0),
    S(403, "Forbidden", "RFC 9110", 0),
    S(404, "Not Found", "RFC 9110", CACHE_),
    S(405, "Method Not Allowed", "RFC 9110", CACHE_),
    S(406, "Not Acceptable", "RFC 9110", 0),
    S(407, "Proxy Authentication Required", "RFC 9110", 0),
    S(408, "Request Timeout", "RFC 9110", 0),
    S(409, "Conflict", "RFC 9110", 0),
    S(410, "Gone", "RFC 9110", CACHE_),
    S(411, "Length Required", "RFC 9110", 0),
    S(412, "Precondition Failed", "RFC 9110", 0),
    /* 413, 414, 416, 422: RFC 9110's names, not the older ones the seeds
     * also use ("Request Entity Too Large", "Payload Too Large", ...). */
    S(413, "Content Too Large", "RFC 9110", RETRY_),
    S(414, "URI Too Long", "RFC 9110", CACHE_),
    S(415, "Unsupported Media Type", "RFC 9110", 0),
    S(416, "Range Not Satisfiable", "RFC 9110", 0),
    S(417, "Expectation Failed", "RFC 9110", 0),
    /* RFC 9110 §15.5.19 reserves 418 because of RFC 2324. */
    S(418, "I'm a teapot", "RFC 2324", 0),
    /* Twitter's meaning is the one seen in the wild and described by most
     * sources; Spring's is deprecated. */
    U(420, "Enhance Your Calm", "Twitter", 0),
    U(420, "Method Failure", "Spring Framework", 0),
    S(421, "Misdirected Request", "RFC 9110", 0),
    /* An old Chinese reference list carries this FTP-like meaning. */
    U(421, "There is too many connections from your Internet address",
      "Baidu Baike", 0),
    S(422, "Unprocessable Content", "RFC 9110", 0),
    S(423, "Locked", "RFC 4918", 0),
    S(424, "Failed Dependency", "RFC 4918", 0),
    S(425, "Too Early", "RFC 8470", 0),
    U(425, "Unordered Collection", "WebDAV Advanced Collections draft", 0),
    S(426, "Upgrade Required", "RFC 9110", 0),
    S(428, "Precondition Required", "RFC 6585", 0),
    S(429, "Too Many Requests", "RFC 6585", RETRY_),
    S(431, "Request Header Fields Too Large", "RFC 6585", 0),
    U(440, "Login Time-out", "IIS", 0),
    U(444, "No Response", "nginx", 0),
    U(449, "Retry With", "IIS", 0),
    U(450, "Blocked by Windows Parental Controls", "Microsoft", 0),
    S(451, "Unavailable For Legal Reasons", "RFC 7725", 0),
    U(451, "Redirect", "IIS", 0),
    U(495, "SSL Certificate Error", "nginx", 0),
    U(496, "SSL Certificate Required", "nginx", 0),
    U(497, "HTTP Request Sent to HTTPS Port", "nginx", 0),
    U(498, "Invalid Token", "Esri", 0),
    /* nginx's meaning shows up in the logs of a large share of the web;
     * Esri's only in ArcGIS Server. */
    U(499, "Client Closed Request", "nginx", 0),
    U(499, "Token Required", "Esri", 0),

    S(500, "Internal Server Error", "RFC 9110", 0),
    S(501, "Not Implemented", "RFC 9110", CACHE_),
    S(502, "Bad Gateway", "RFC 9110", 0),
    S(503, "Service Unavailable", "RFC 9110", RETRY_),
    S(504, "Gateway Timeout", "RFC 9110", 0),
    S(505, "HTTP Version Not Supported", "RFC 9110", 0),
    S(506, "Variant Also Negotiates", "RFC 2295", 0),
    S(507, "Insufficient Storage", "RFC 4918", 0),
    S(508, "Loop Detected", "RFC 5842", 0),
    U(509, "Bandwidth Limit Exceeded", "Apache/cPanel", 0),
    S(510, "Not Extended", "RFC 2774", 0),
    S(511, "Network Authentication Required", "RFC 6585", 0),
    U(520, "Unknown Error", "Cloudflare", 0),
    U(521, "Web Server Is Down", "Cloudflare", 0),
    U(522, "Connection Timed Out", "Cloudflare", 0),
    U(523, "Origin Is Unreachable", "Cloudflare", 0),
    U(524, "A Timeout Occurred", "Cloudflare", 0),
    U(525, "SSL Handshake Failed", "Cloudflare", 0),
    U(526, "Invalid SSL Certificate", "Cloudflare", 0),
    /* The seed lists both names under Cloudflare but describes only "Range
     * Error" (timeouts after the WAN connection is up: Cloudflare's Railgun
     * error, whose name it seems to garble), so that one is primary. */
    U(527, "Range Error", "Cloudflare", 0),
    U(527, "Bad Gateway Error", "Cloudflare", 0),
    U(530, "Site is frozen", "Pantheon", 0),
    U(598, "Network read timeout error", "proxies", 0),
    U(599, "Network connect timeout error", "proxies", 0),

    U(600, "Unparseable Response Headers", "Baidu Baike", 0),
};

#undef S
#undef U

/*
 * Codes the table does not know get a generic entry for their class.  There
 * is one per code, so `code` is always the code asked for and the pointer
 * is static like every other.  Any 1xx is interim (RFC 9110 §15: an unknown
 * code is treated as the x00 of its class); the other policy flags need a
 * code the library understands, so they stay off.  They carry no source.
 */
#define G1(c, r, f) {(uint16_t)(c), (uint16_t)(f), (r), ""}
#define G10(c, r, f)                                                           \
  G1(c, r, f), G1((c) + 1, r, f), G1((c) + 2, r, f), G1((c) + 3, r, f),              \
      G1((c) + 4, r, f), G1((c) + 5, r, f), G1((c) + 6, r, f), G1((c) + 7, r, f),      \
      G1((c) + 8, r, f), G1((c) + 9, r, f)
#define G100(c, r, f)                                                          \
  G10(c, r, f), G10((c) + 10, r, f), G10((c) + 20, r, f), G10((c) + 30, r, f),       \
      G10((c) + 40, r, f), G10((c) + 50, r, f), G10((c) + 60, r, f),                 \
      G10((c) + 70, r, f), G10((c) + 80, r, f), G10((c) + 90, r, f)

static const httpresp_status_info generic[] = {
    G100(100, "Unknown Informational", INTERIM_),
    G100(200, "Unknown Success", 0),
    G100(300, "Unknown Redirection", 0),
    G100(400, "Unknown Client Error", 0),
    G100(500, "Unknown Server Error", 0),
    G100(600, "Unknown", 0),
    G100(700, "Unknown", 0),
    G100(800, "Unknown", 0),
    G100(900, "Unknown", 0),
};

#undef G1
#undef G10
#undef G100

#define MIN_CODE 100
#define MAX_CODE 999

_Static_assert(HR_ARRAY_LEN(generic) == MAX_CODE - MIN_CODE + 1,
               "one generic entry per code");

const httpresp_status_info *hr_status_table(size_t *count) {
  if (count)
    *count = HR_ARRAY_LEN(table);
  return table;
}

/* The meanings of `code` in the table: the first, and how many follow. */
static const httpresp_status_info *find(int code, size_t *n) {
  size_t lo = 0, hi = HR_ARRAY_LEN(table);
  while (lo < hi) { /* first entry whose code is >= `code` */
    size_t mid = lo + (hi - lo) / 2;
    if (table[mid].code < code)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t end = lo;
  while (end < HR_ARRAY_LEN(table) && table[end].code == code)
    end++;
  *n = end - lo;
  return *n ? &table[lo] : NULL;
}

const httpresp_status_info *httpresp_status_lookup(int code) {
  if (code < MIN_CODE || code > MAX_CODE)
    return NULL;
  size_t n;
  const httpresp_status_info *first = find(code, &n);
  return first ? first : &generic[code - MIN_CODE];
}

size_t httpresp_status_meanings(int code, const httpresp_status_info **out,
                                size_t max) {
  if (code < MIN_CODE || code > MAX_CODE)
    return 0;
  size_t n;
  const httpresp_status_info *first = find(code, &n);
  if (!first) { /* so that meanings[0] is always what lookup returns */
    first = &generic[code - MIN_CODE];
    n = 1;
  }
  for (size_t i = 0; out && i < n && i < max; i++)
    out[i] = &first[i];
  return n;
}

int httpresp_status_class(int code) {
  if (code < MIN_CODE || code > MAX_CODE)
    return -1;
  return code < 600 ? code / 100 : 0;
}

const char *httpresp_status_reason(int code) {
  const httpresp_status_info *info = httpresp_status_lookup(code);
  return info ? info->reason : "Unknown";
}
