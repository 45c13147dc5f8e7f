/* common.h - error reporting and small helpers shared by every module.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill an
 * sl_error the caller owns with a message it can show as is (curl style).
 * Nothing below main() exits the process. */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#define SL_ERRMSG_MAX 512

#define NS_PER_SEC 1000000000LL
#define NS_PER_MS 1000000LL

typedef struct sl_error {
    char msg[SL_ERRMSG_MAX];
} sl_error;

#if defined(__GNUC__)
#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SL_PRINTF(a, b)
#endif

/* Formats the message into err (when err is not NULL) and returns -1, so a
 * failing path reads `return sl_fail(err, "...", ...);`. */
int sl_fail(sl_error *err, const char *fmt, ...) SL_PRINTF(2, 3);

/* Monotonic and wall clocks in nanoseconds. */
int64_t sl_now_mono_ns(void);
int64_t sl_now_wall_ns(void);

/* Writes all n bytes to fd, retrying short writes and EINTR. -1 with errno
 * set on failure (EPIPE, ENOSPC, ...). */
int sl_write_all(int fd, const void *data, size_t n);
/* Reads up to n bytes at offset off, retrying short reads and EINTR: the
 * count read (less only at the end of the file), or -1 with errno set. */
ssize_t sl_pread_all(int fd, void *dst, size_t n, uint64_t off);

/* mkdir -p: creates path and its missing parents (mode 0755). 0, or -1
 * with errno set. */
int sl_mkdir_p(const char *path);

/* The machine's host name, resolved once; never NULL. */
const char *sl_hostname(void);

/* The value of the hex digit c (either case), or -1 when it is not one. */
static inline int sl_hex_value(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "00" "01" ... "99": two decimal digits at 2 * v, for number and time
 * formatting on hot paths (a table load instead of a division). */
extern const char sl_digit_pairs[201];

/* Makes room for one more element in a heap array that holds n of *cap
 * elements of `size` bytes, doubling it (first_cap elements the first
 * time). items_ptr is the address of the caller's array pointer, which is
 * replaced on growth. 0, or -1 out of memory with the array unchanged.
 * SL_GROW(arr, n, cap, first) passes arr's address and element size. */
int sl_grow(void *items_ptr, size_t *cap, size_t n, size_t size, size_t first_cap);
#define SL_GROW(items, n, cap, first) \
    sl_grow(&(items), &(cap), (n), sizeof(*(items)), (first))

/* FNV-1a of n bytes: the hash of the small open-addressing tables keyed by
 * a name (a file sink's open paths, a kafka sink's topics). */
static inline uint64_t sl_hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Binary search over n sorted elements of `size` bytes: the index of the
 * element cmp() finds equal to key (*found = true), else the index where key
 * would be inserted. Inline so that a constant comparator is inlined too. */
static inline size_t sl_bsearch(const void *base, size_t n, size_t size, const void *key,
                                int (*cmp)(const void *elem, const void *key), bool *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp((const char *)base + mid * size, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_UNUSED(x) ((void)(x))

#endif
