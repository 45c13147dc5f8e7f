/* rfc3339.h - reading RFC 3339 timestamps, for timestamp literals (t'...')
 * and to_timestamp.
 *
 * "2020-10-21T16:00:00Z", "2020-10-21 16:00:00.123456+02:00": a `T`, `t`
 * or space between date and time, up to nine fraction digits kept (more are
 * cut, as chrono does), `Z`/`z` or a numeric offset. The result is
 * nanoseconds since the Unix epoch, UTC. */
#ifndef SLUICE_VRL_RFC3339_H
#define SLUICE_VRL_RFC3339_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 on success. With zone_optional a missing offset reads as UTC (VRL's
 * to_timestamp takes "%F %T" without a zone). */
int vrl_rfc3339_parse(const char *s, size_t n, bool zone_optional, int64_t *ns);

#endif
