/* crc32c.h - CRC-32C (Castagnoli), the checksum of disk buffer records.
 *
 * Castagnoli rather than the zlib polynomial because x86 computes it in
 * hardware (SSE4.2), so checking every record read back costs little. The
 * hardware path is chosen at run time; other CPUs get a table. */
#ifndef SLUICE_CRC32C_H
#define SLUICE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes: crc32c(crc32c(0, a), b) is the
 * checksum of a followed by b. crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

/* The table implementation, whatever the CPU (tests compare the two). */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n);

#endif
