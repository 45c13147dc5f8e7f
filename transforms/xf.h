/* xf.h - what several transforms share: conditions (filter, route, and the
 * `exclude` of sample and throttle), remap-language compile errors placed at
 * their line in the config file, and a per-component error log that a stream
 * of bad events can't flood.
 *
 * A condition is written as Vector accepts it: a string holding a remap
 * boolean expression, or a map `{type: vrl, source: "..."}`. It is compiled
 * by the component's check_fields (so `validate` reports it, knowing the
 * fields the sources upstream declare) and again by build. */
#ifndef SLUICE_XF_H
#define SLUICE_XF_H

#include "pipeline/component.h"
#include "pipeline/log.h"
#include "transforms/vrl/vrl.h"

/* Error logging of one component: at most one line per XF_LOG_INTERVAL_NS,
 * naming how many errors went unlogged since the previous line. Vector
 * limits these logs per call site rather than per message text, because the
 * text of a runtime error usually carries the offending value. */
#define XF_LOG_INTERVAL_NS (10 * NS_PER_SEC)

/* What a transform needs to count and log its errors; filled by build. */
typedef struct xf_ctx {
    const char *id;
    const component_metrics *metrics;
    log_limiter log;
} xf_ctx;

void xf_ctx_init(xf_ctx *c, const component_info *info);

/* Logs a processing error of the component, rate-limited. Callers count
 * their errors per batch and add them to component_errors_total once
 * (xf_count_errors): registering the series takes the registry's lock. */
void xf_log_error(xf_ctx *c, const char *fmt, ...) SL_PRINTF(2, 3);
/* component_errors_total{error_type, stage="processing"} += n (n may be 0). */
void xf_count_errors(const xf_ctx *c, const char *error_type, uint64_t n);
/* component_discarded_events_total{intentional} += n. */
void xf_count_discarded(const xf_ctx *c, bool intentional, uint64_t n);

/* Adds the compile error `msg` of a program given as the value of `option`
 * (node `where`) to diags. The line is the file line the program's own
 * "--> L:C" points at, when the program's first line in the file is known. */
void xf_diag_program(diag_list *diags, const cfg_node *where, const char *label,
                     const char *option, const char *msg);

/* A 64-bit hash of n bytes (FNV-1a with a final avalanche, so every bit of
 * the result depends on every input bit: modulo and threshold tests on it
 * are fair). Continue a hash by passing the previous result as h. */
#define XF_HASH_INIT 0xcbf29ce484222325ULL
uint64_t xf_hash(uint64_t h, const void *data, size_t n);
uint64_t xf_hash_finish(uint64_t h);

/* Validates and compiles a condition node against the declared fields of
 * the arriving events; problems go to diags under label, naming option.
 * Returns the number of errors. */
size_t xf_condition_check(const cfg_node *node, const char *label, const char *option,
                          const event_field_type *fields, size_t nfields, diag_list *diags);
/* Compiles a condition node (already checked) into *out, with the declared
 * fields of info. */
int xf_condition_build(const cfg_node *node, const char *option, const component_info *info,
                       vrl_program **out, sl_error *err);
/* Whether e matches. A run-time failure is logged, adds one to *errors (to
 * be counted as Vector's script_failed) and reads as false; an `abort`
 * reads as false. */
bool xf_condition_eval(const vrl_program *p, arena *a, event *e, xf_ctx *c,
                       uint64_t *errors);
#define XF_CONDITION_ERROR "script_failed"

#endif
