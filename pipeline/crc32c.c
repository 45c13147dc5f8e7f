/* crc32c.c - CRC-32C with SSE4.2 when the CPU has it, a table otherwise
 * (see crc32c.h). */
#include "pipeline/crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t crc_table[256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void build_crc_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_table_once, build_crc_table);
    const uint8_t *p = data;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

static bool have_sse42;
static pthread_once_t sse42_once = PTHREAD_ONCE_INIT;

static void detect_sse42(void)
{
    have_sse42 = __builtin_cpu_supports("sse4.2");
}

static bool cpu_has_sse42(void)
{
    pthread_once(&sse42_once, detect_sse42);
    return have_sse42;
}
#endif

uint32_t crc32c(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
    if (cpu_has_sse42())
        return crc32c_sse42(crc, data, n);
#endif
    return crc32c_portable(crc, data, n);
}
