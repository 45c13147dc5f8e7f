/* runtime.h - runs a checked topology: one thread per source, a worker pool
 * for the fused transform stages, one thread per sink, bounded queues between
 * them, and an orderly drain at the end.
 *
 *   runtime_start   builds every component and starts all threads
 *   runtime_done_fd readable once every source has finished by itself
 *   runtime_drain   stops the sources (if still running), lets everything
 *                   already read flow into the sinks' buffers and through
 *                   the sinks within the timeout (a sink whose buffer keeps
 *                   what it holds across restarts stops sooner, see
 *                   buffer.h), and joins every thread
 *   runtime_free    destroys the components
 *
 * The runtime borrows the config and topology, which must outlive it. */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include "pipeline/common.h"
#include "pipeline/topology.h"

typedef struct runtime runtime;

typedef struct runtime_options {
    unsigned threads;          /* worker pool size; 0 = online CPUs */
    uint32_t batch_events;     /* 0 = BATCH_DEFAULT_EVENTS */
} runtime_options;

int runtime_start(const topology *topo, const runtime_options *opts,
                  runtime **out, sl_error *err);
int runtime_done_fd(const runtime *rt);
/* 0 when everything drained in time; -1 when the timeout forced the queues
 * closed (what each sink's buffer still held is logged; a memory buffer's is
 * released as errored). timeout_ms < 0 waits without limit. */
int runtime_drain(runtime *rt, int64_t timeout_ms);
void runtime_free(runtime *rt);

/* Builds a component's state outside a running pipeline (validate's
 * healthchecks); destroy it with desc->destroy. */
int runtime_build_component(const component_config *cc, const char *data_dir,
                            void **state, sl_error *err);

#endif
