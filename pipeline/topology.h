/* topology.h - the graph a config describes, checked and planned.
 *
 * topo_build resolves every `inputs` entry (ids, named outputs `route.name`,
 * wildcards `app*`), then checks the graph: inputs that match nothing, sinks
 * used as inputs, cycles, event types a consumer can't take, and components
 * whose output nobody reads (a warning, as in Vector). It also plans the
 * stages the runtime executes: a maximal linear run of stateless transforms
 * is fused into one stage run on a worker, batch by batch.
 *
 * Declared fields flow too: a transform learns the fields (and their types)
 * that every source upstream of it declares, through transforms that keep
 * fields, and its check_fields() runs with them (the remap language
 * type-checks programs against them).
 *
 * The topology borrows the sl_config (which must outlive it) and owns the
 * rest. */
#ifndef SLUICE_TOPOLOGY_H
#define SLUICE_TOPOLOGY_H

#include "config/config.h"
#include "config/diag.h"
#include "pipeline/event.h"

/* One edge: the consumer (node index) reading an output. */
typedef struct topo_output {
    const char *name;          /* NULL for the default output */
    uint8_t types;             /* event types it carries */
    size_t *consumers;         /* node indexes, sorted, unique */
    size_t nconsumers;
} topo_output;

typedef struct topo_node {
    const component_config *cfg;
    topo_output *outputs;      /* [0] default, then the named ones */
    size_t noutputs;           /* 0 for sinks */
    uint8_t in_types;          /* union of the types arriving */
    int stage;                 /* transforms: the stage it runs in */
    /* Fields every arriving event has (transforms), or every leaving event
     * has (sources): owned array, paths borrowed from the descriptors. */
    event_field_type *fields;
    size_t nfields;
    size_t out_nfields;        /* how many of them leave: all, or none */
} topo_node;

/* A fused chain of transforms: nodes[0] reads the stage's input, each next
 * one reads the previous one's default output, and the last one's outputs
 * leave the stage. */
typedef struct topo_stage {
    size_t *nodes;
    size_t n;
    bool serial;               /* contains a stateful transform: one batch at a time */
} topo_stage;

typedef struct topology {
    const sl_config *cfg;
    topo_node *nodes;          /* same order as cfg->components */
    size_t n;
    topo_stage *stages;
    size_t nstages;
} topology;

/* NULL when the graph has errors (all of them are in diags). */
topology *topo_build(const sl_config *cfg, diag_list *diags);
void topo_free(topology *t);

/* Index of the node with this id, or -1. */
long topo_find(const topology *t, const char *id);

/* Whether a sink downstream of node i has acknowledgements enabled (its
 * own setting or the global one): a source then tracks deliveries. */
bool topo_wants_acks(const topology *t, size_t i);

#endif
