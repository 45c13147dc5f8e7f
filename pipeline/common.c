/* common.c - error formatting, clocks and the host name (see common.h). */
#include "pipeline/common.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

int sl_fail(sl_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t sl_now_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t sl_now_wall_ns(void) { return clock_ns(CLOCK_REALTIME); }

static char hostname_buf[256] = "localhost";
static pthread_once_t hostname_once = PTHREAD_ONCE_INIT;

static void resolve_hostname(void)
{
    char tmp[sizeof(hostname_buf)];
    if (gethostname(tmp, sizeof(tmp)) == 0) {
        tmp[sizeof(tmp) - 1] = '\0';
        if (tmp[0])
            memcpy(hostname_buf, tmp, sizeof(tmp));
    }
}

const char *sl_hostname(void)
{
    pthread_once(&hostname_once, resolve_hostname);
    return hostname_buf;
}

int sl_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

const char sl_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int sl_grow(void *items_ptr, size_t *cap, size_t n, size_t size, size_t first_cap)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : first_cap;
    if (ncap <= *cap || ncap > SIZE_MAX / size)
        return -1;
    void *old;
    memcpy(&old, items_ptr, sizeof(old));
    void *p = realloc(old, ncap * size);
    if (!p)
        return -1;
    memcpy(items_ptr, &p, sizeof(p));
    *cap = ncap;
    return 0;
}

int sl_mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

ssize_t sl_pread_all(int fd, void *dst, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)dst + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}
