/* http_arc.c - Vector's Adaptive Request Concurrency (`request.concurrency:
 * adaptive`) as a pure controller the engine feeds: how many requests an
 * HTTP sink may have in flight, found by AIMD on the round-trip times.
 *
 * The limit starts at initial_concurrency. Responses are gathered over
 * periods of about one past round trip; at the end of each the limit grows
 * by one when the requests reached it, none signalled back pressure and
 * the period's mean RTT is no worse than the EWMA of past ones; it shrinks
 * to floor(limit x decrease_ratio) after back pressure (a retryable status,
 * a timeout) or when the mean RTT exceeds the EWMA by rtt_deviation_scale
 * standard deviations. Kept apart from curl and the clock so that it can be
 * unit tested with made-up times. */
#include "sinks/http/http_internal.h"

#include <math.h>

void http_arc_init(http_arc *a, const http_arc_settings *s, int64_t now)
{
    *a = (http_arc){.cfg = *s, .limit = s->initial, .next_update_ns = now};
    if (a->limit < 1)
        a->limit = 1;
    if (a->limit > s->max)
        a->limit = s->max;
}

void http_arc_started(http_arc *a, size_t inflight)
{
    if (inflight >= a->limit)
        a->reached_limit = true;
}

/* The EWMA of the periods' mean RTTs and of their variance (Vector's
 * EwmaVar): the first sample sets the mean with no variance. */
static void past_rtt_add(http_arc *a, double rtt)
{
    if (!a->have_past) {
        a->past_mean = rtt;
        a->past_var = 0;
        a->have_past = true;
        return;
    }
    double diff = rtt - a->past_mean;
    double inc = a->cfg.ewma_alpha * diff;
    a->past_mean += inc;
    a->past_var = (1 - a->cfg.ewma_alpha) * (a->past_var + diff * inc);
}

static void adjust_limit(http_arc *a, bool have_current, double current)
{
    double threshold = sqrt(a->past_var) * a->cfg.rtt_deviation_scale;
    if (a->limit < a->cfg.max && a->reached_limit && !a->back_pressure && have_current &&
        current <= a->past_mean) {
        a->limit++;
    } else if (a->limit > 1 &&
               (a->back_pressure || (have_current ? current : 0) >= a->past_mean + threshold)) {
        size_t lower = (size_t)((double)a->limit * a->cfg.decrease_ratio);
        a->limit = lower > 0 ? lower : 1;
    }
}

static int64_t secs_to_ns(double secs)
{
    return (int64_t)(secs * (double)NS_PER_SEC);
}

bool http_arc_done(http_arc *a, int64_t now, double rtt_secs, bool back_pressure)
{
    size_t before = a->limit;
    if (back_pressure)
        a->back_pressure = true;
    if (rtt_secs >= 0) {
        a->sum_rtt += rtt_secs;
        a->nrtt++;
    }
    bool have_current = a->nrtt > 0;
    double current = have_current ? a->sum_rtt / (double)a->nrtt : 0;
    if (!a->have_past) {
        if (have_current) {
            past_rtt_add(a, current);
            a->next_update_ns = now + secs_to_ns(current);
        }
        return false;
    }
    if (now < a->next_update_ns)
        return false;
    adjust_limit(a, have_current, current);
    if (have_current)
        past_rtt_add(a, current);
    a->next_update_ns = now + secs_to_ns(a->past_mean);
    a->sum_rtt = 0;
    a->nrtt = 0;
    a->back_pressure = false;
    a->reached_limit = false;
    return a->limit != before;
}
