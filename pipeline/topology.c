/* topology.c - input resolution, graph checks and stage planning
 * (see topology.h). Configs are small (tens of components), so plain arrays
 * and quadratic scans keep this simple. */
#include "pipeline/topology.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/component.h"

static const char *type_names(uint8_t types)
{
    switch (types & EVENT_ANY) {
    case EVENT_LOG: return "logs";
    case EVENT_METRIC: return "metrics";
    case EVENT_ANY: return "logs and metrics";
    default: return "nothing";
    }
}

long topo_find(const topology *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->nodes[i].cfg->id, id) == 0)
            return (long)i;
    return -1;
}

static bool reaches_acking_sink(const topology *t, size_t i, uint8_t *seen)
{
    const topo_node *n = &t->nodes[i];
    if (n->cfg->kind == COMPONENT_SINK)
        return n->cfg->acks_enabled;
    if (seen[i])
        return false;
    seen[i] = 1;
    for (size_t k = 0; k < n->noutputs; k++)
        for (size_t c = 0; c < n->outputs[k].nconsumers; c++)
            if (reaches_acking_sink(t, n->outputs[k].consumers[c], seen))
                return true;
    return false;
}

bool topo_wants_acks(const topology *t, size_t i)
{
    uint8_t *seen = calloc(t->n ? t->n : 1, 1);
    /* Without memory to walk the graph, assume yes: tracking deliveries
     * that nobody reports costs little, missing them loses guarantees. */
    if (!seen)
        return true;
    bool wants = reaches_acking_sink(t, i, seen);
    free(seen);
    return wants;
}

static int output_add_consumer(topo_output *o, size_t consumer)
{
    for (size_t i = 0; i < o->nconsumers; i++)
        if (o->consumers[i] == consumer)
            return 0;
    size_t *c = realloc(o->consumers, (o->nconsumers + 1) * sizeof(*c));
    if (!c)
        return -1;
    size_t pos = o->nconsumers;
    while (pos > 0 && c[pos - 1] > consumer) {
        c[pos] = c[pos - 1];
        pos--;
    }
    c[pos] = consumer;
    o->consumers = c;
    o->nconsumers++;
    return 0;
}

/* Every node but sinks has a default output; route-like transforms add the
 * named ones their descriptor reports. */
static int node_make_outputs(topo_node *n, diag_list *diags)
{
    const component_config *cc = n->cfg;
    if (cc->kind == COMPONENT_SINK)
        return 0;
    size_t nnamed = cc->desc->output_count ? cc->desc->output_count(cc->options) : 0;
    n->outputs = calloc(1 + nnamed, sizeof(*n->outputs));
    if (!n->outputs) {
        diag_add(diags, DIAG_ERROR, cc->node, cc->label, "out of memory");
        return -1;
    }
    n->noutputs = 1 + nnamed;
    for (size_t i = 0; i < nnamed; i++)
        n->outputs[1 + i].name = cc->desc->output_name(cc->options, i);
    return 0;
}

/* The output `text` names ("id" or "id.name"), or NULL. */
static topo_output *find_output(topology *t, const char *text, size_t *node_out)
{
    for (size_t i = 0; i < t->n; i++) {
        topo_node *n = &t->nodes[i];
        const char *id = n->cfg->id;
        size_t idlen = strlen(id);
        if (strncmp(text, id, idlen) != 0)
            continue;
        if (text[idlen] == '\0' && n->noutputs && !n->cfg->desc->no_default_output) {
            *node_out = i;
            return &n->outputs[0];
        }
        if (text[idlen] != '.')
            continue;
        for (size_t k = 1; k < n->noutputs; k++) {
            if (strcmp(text + idlen + 1, n->outputs[k].name) == 0) {
                *node_out = i;
                return &n->outputs[k];
            }
        }
    }
    return NULL;
}

static bool is_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Wildcards match component ids (their default outputs) and, when the
 * pattern has a dot, named outputs "id.name". A component never reads its
 * own outputs through a wildcard. */
static int connect_wildcard(topology *t, size_t consumer, const char *pattern,
                            size_t *matched)
{
    bool dotted = strchr(pattern, '.') != NULL;
    for (size_t i = 0; i < t->n; i++) {
        topo_node *n = &t->nodes[i];
        if (i == consumer || n->noutputs == 0)
            continue;
        if (!dotted) {
            if (!n->cfg->desc->no_default_output && fnmatch(pattern, n->cfg->id, 0) == 0) {
                if (output_add_consumer(&n->outputs[0], consumer) < 0)
                    return -1;
                (*matched)++;
            }
            continue;
        }
        for (size_t k = 1; k < n->noutputs; k++) {
            char full[512];
            snprintf(full, sizeof(full), "%s.%s", n->cfg->id, n->outputs[k].name);
            if (fnmatch(pattern, full, 0) == 0) {
                if (output_add_consumer(&n->outputs[k], consumer) < 0)
                    return -1;
                (*matched)++;
            }
        }
    }
    return 0;
}

/* A transform that only has named outputs (route) was named as a whole:
 * the message lists what can be read instead. */
static void refuse_default_output(const topo_node *n, const component_config *cc,
                                  const char *input, diag_list *diags)
{
    buf names = BUF_INIT;
    for (size_t k = 1; k < n->noutputs; k++)
        buf_printf(&names, "%s\"%s.%s\"", k == 1 ? "" : k + 1 == n->noutputs ? " or " : ", ",
                   input, n->outputs[k].name);
    if (names.len)
        diag_add(diags, DIAG_ERROR, cc->node, cc->label,
                 "input \"%s\" has no default output; read one of its named outputs: %s",
                 input, names.data);
    else
        diag_add(diags, DIAG_ERROR, cc->node, cc->label,
                 "input \"%s\" has no default output and no named outputs", input);
    buf_free(&names);
}

static void connect_one_input(topology *t, size_t consumer, const char *input,
                              diag_list *diags)
{
    const component_config *cc = t->nodes[consumer].cfg;
    if (is_wildcard(input)) {
        size_t matched = 0;
        if (connect_wildcard(t, consumer, input, &matched) < 0)
            diag_add(diags, DIAG_ERROR, cc->node, cc->label, "out of memory");
        else if (matched == 0)
            diag_add(diags, DIAG_ERROR, cc->node, cc->label,
                     "input \"%s\" matches no source or transform", input);
        return;
    }
    size_t producer;
    topo_output *o = find_output(t, input, &producer);
    if (!o) {
        long idx = topo_find(t, input);
        if (idx >= 0 && t->nodes[idx].cfg->desc->no_default_output)
            refuse_default_output(&t->nodes[idx], cc, input, diags);
        else if (idx >= 0 && t->nodes[idx].cfg->kind == COMPONENT_SINK)
            diag_add(diags, DIAG_ERROR, cc->node, cc->label,
                     "input \"%s\" is a sink; only sources and transforms can be inputs", input);
        else
            diag_add(diags, DIAG_ERROR, cc->node, cc->label,
                     "input \"%s\" doesn't match any source or transform", input);
        return;
    }
    if (producer == consumer) {
        diag_add(diags, DIAG_ERROR, cc->node, cc->label, "reads its own output \"%s\"", input);
        return;
    }
    if (output_add_consumer(o, consumer) < 0)
        diag_add(diags, DIAG_ERROR, cc->node, cc->label, "out of memory");
}

static void connect_inputs(topology *t, diag_list *diags)
{
    for (size_t i = 0; i < t->n; i++) {
        const component_config *cc = t->nodes[i].cfg;
        for (size_t k = 0; k < cc->inputs.n; k++)
            connect_one_input(t, i, cc->inputs.items[k], diags);
    }
}

/* Depth-first search for cycles among transforms; colours: 0 new, 1 on the
 * current path, 2 done. */
static bool visit_for_cycle(topology *t, size_t i, int *colour, const topo_node **at)
{
    colour[i] = 1;
    topo_node *n = &t->nodes[i];
    for (size_t k = 0; k < n->noutputs; k++) {
        for (size_t c = 0; c < n->outputs[k].nconsumers; c++) {
            size_t next = n->outputs[k].consumers[c];
            if (colour[next] == 1) {
                *at = &t->nodes[next];
                return true;
            }
            if (colour[next] == 0 && visit_for_cycle(t, next, colour, at))
                return true;
        }
    }
    colour[i] = 2;
    return false;
}

static bool check_cycles(topology *t, diag_list *diags)
{
    int *colour = calloc(t->n, sizeof(*colour));
    if (!colour) {
        diag_add(diags, DIAG_ERROR, NULL, NULL, "out of memory");
        return false;
    }
    bool found = false;
    for (size_t i = 0; i < t->n && !found; i++) {
        const topo_node *at = NULL;
        if (colour[i] == 0 && visit_for_cycle(t, i, colour, &at)) {
            diag_add(diags, DIAG_ERROR, at->cfg->node, at->cfg->label,
                     "is part of a cycle: its output leads back to its input");
            found = true;
        }
    }
    free(colour);
    return !found;
}

/* Event types flow from sources through transforms; without cycles a few
 * passes settle every node. */
static void propagate_types(topology *t)
{
    for (size_t pass = 0; pass <= t->n; pass++) {
        bool changed = false;
        for (size_t i = 0; i < t->n; i++) {
            topo_node *n = &t->nodes[i];
            const component_desc *d = n->cfg->desc;
            for (size_t k = 0; k < n->noutputs; k++) {
                uint8_t types = d->output_types ? d->output_types : n->in_types;
                if (types != n->outputs[k].types) {
                    n->outputs[k].types = types;
                    changed = true;
                }
                for (size_t c = 0; c < n->outputs[k].nconsumers; c++) {
                    topo_node *cn = &t->nodes[n->outputs[k].consumers[c]];
                    if ((cn->in_types | types) != cn->in_types) {
                        cn->in_types |= types;
                        changed = true;
                    }
                }
            }
        }
        if (!changed)
            break;
    }
}

static void check_types(topology *t, diag_list *diags)
{
    for (size_t i = 0; i < t->n; i++) {
        topo_node *n = &t->nodes[i];
        for (size_t k = 0; k < n->noutputs; k++) {
            topo_output *o = &n->outputs[k];
            for (size_t c = 0; c < o->nconsumers; c++) {
                const component_config *cc = t->nodes[o->consumers[c]].cfg;
                uint8_t accepts = cc->desc->input_types;
                if (o->types && (o->types & accepts) == 0)
                    diag_add(diags, DIAG_ERROR, cc->node, cc->label,
                             "takes %s, but its input \"%s%s%s\" sends %s",
                             type_names(accepts), n->cfg->id, o->name ? "." : "",
                             o->name ? o->name : "", type_names(o->types));
            }
        }
    }
}

/* Whether node i reads one of producer's outputs. */
static bool consumes(const topo_node *producer, size_t i)
{
    for (size_t k = 0; k < producer->noutputs; k++) {
        const topo_output *o = &producer->outputs[k];
        for (size_t c = 0; c < o->nconsumers; c++)
            if (o->consumers[c] == i)
                return true;
    }
    return false;
}

static const event_field_type *find_field(const event_field_type *f, size_t n,
                                          const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].path, path) == 0)
            return &f[i];
    return NULL;
}

/* Keeps the fields of node n that producer p also sends, their kinds
 * merged. */
static void intersect_fields(topo_node *n, const topo_node *p)
{
    size_t keep = 0;
    for (size_t i = 0; i < n->nfields; i++) {
        const event_field_type *o = find_field(p->fields, p->out_nfields, n->fields[i].path);
        if (!o)
            continue;
        n->fields[keep] = n->fields[i];
        n->fields[keep++].kinds |= o->kinds;
    }
    n->nfields = keep;
}

static int copy_fields(topo_node *n, const event_field_type *f, size_t count)
{
    if (count == 0)
        return 0;
    n->fields = malloc(count * sizeof(*f));
    if (!n->fields)
        return -1;
    memcpy(n->fields, f, count * sizeof(*f));
    n->nfields = count;
    return 0;
}

/* Computes the declared fields of node i once its producers have theirs;
 * colour marks nodes in progress, so a cycle (already reported) ends with
 * no fields rather than looping. */
static int resolve_fields(topology *t, size_t i, uint8_t *colour)
{
    topo_node *n = &t->nodes[i];
    if (colour[i])
        return 0;
    colour[i] = 1;
    const component_desc *d = n->cfg->desc;
    if (n->cfg->kind == COMPONENT_SOURCE) {
        if (copy_fields(n, d->fields, d->nfields) < 0)
            return -1;
        n->out_nfields = n->nfields;
        colour[i] = 2;
        return 0;
    }
    bool first = true;
    for (size_t j = 0; j < t->n; j++) {
        if (!consumes(&t->nodes[j], i))
            continue;
        if (resolve_fields(t, j, colour) < 0)
            return -1;
        const topo_node *p = &t->nodes[j];
        if (colour[j] != 2) {   /* in a cycle */
            n->nfields = 0;
            break;
        }
        if (first) {
            if (copy_fields(n, p->fields, p->out_nfields) < 0)
                return -1;
            first = false;
        } else {
            intersect_fields(n, p);
        }
    }
    n->out_nfields = d->keeps_fields ? n->nfields : 0;
    colour[i] = 2;
    return 0;
}

static int propagate_fields(topology *t)
{
    uint8_t *colour = calloc(t->n ? t->n : 1, 1);
    if (!colour)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++)
        rc = resolve_fields(t, i, colour);
    free(colour);
    return rc;
}

static void check_with_fields(topology *t, diag_list *diags)
{
    for (size_t i = 0; i < t->n; i++) {
        const topo_node *n = &t->nodes[i];
        const component_config *cc = n->cfg;
        if (cc->desc->check_fields)
            cc->desc->check_fields(cc->options, cc->label, cc->node, n->fields, n->nfields,
                                   diags);
    }
}

static void warn_unconsumed(topology *t, diag_list *diags)
{
    for (size_t i = 0; i < t->n; i++) {
        topo_node *n = &t->nodes[i];
        size_t consumers = 0;
        for (size_t k = 0; k < n->noutputs; k++)
            consumers += n->outputs[k].nconsumers;
        if (n->noutputs && consumers == 0)
            diag_add(diags, DIAG_WARNING, n->cfg->node, n->cfg->label,
                     "has no consumers: nothing reads its output");
    }
}

/* Vector warns too: a source that can't go back (stdin, a generator)
 * gains nothing from acknowledgements, and the operator should know the
 * guarantee doesn't cover it. A source that could go back but feeds no
 * sink with acknowledgements says what its position does instead. */
static void warn_acks_unusable(topology *t, diag_list *diags)
{
    for (size_t i = 0; i < t->n; i++) {
        const component_config *cc = t->nodes[i].cfg;
        if (cc->kind == COMPONENT_SOURCE && !cc->desc->acknowledges && topo_wants_acks(t, i))
            diag_add(diags, DIAG_WARNING, cc->node, cc->label,
                     "acknowledgements are enabled for a sink it feeds, but a %s source "
                     "can't use them: what it read is not read again if delivery fails",
                     cc->desc->type);
        else if (cc->kind == COMPONENT_SOURCE && cc->desc->position_without_acks &&
                 !topo_wants_acks(t, i))
            diag_add(diags, DIAG_WARNING, cc->node, cc->label,
                     "acknowledgements are off for every sink it feeds: %s, so what is in "
                     "memory is lost if sluice stops abruptly or a delivery fails",
                     cc->desc->position_without_acks);
    }
}

/* The only consumer of a node's default output when there is exactly one
 * and no named outputs are read; -1 otherwise. */
static long sole_consumer(const topo_node *n)
{
    if (n->noutputs == 0 || n->outputs[0].nconsumers != 1)
        return -1;
    for (size_t k = 1; k < n->noutputs; k++)
        if (n->outputs[k].nconsumers)
            return -1;
    return (long)n->outputs[0].consumers[0];
}

/* A transform may extend the chain of its single upstream transform when
 * both are stateless, it reads nothing else, and it is that upstream's only
 * reader. */
static long chain_predecessor(const topology *t, size_t i)
{
    const component_config *cc = t->nodes[i].cfg;
    if (!cc->desc->stateless)
        return -1;
    long pred = -1;
    size_t edges = 0;
    for (size_t p = 0; p < t->n; p++) {
        const topo_node *pn = &t->nodes[p];
        for (size_t k = 0; k < pn->noutputs; k++)
            for (size_t c = 0; c < pn->outputs[k].nconsumers; c++)
                if (pn->outputs[k].consumers[c] == i) {
                    edges++;
                    pred = (long)p;
                }
    }
    if (edges != 1)
        return -1;
    const topo_node *pn = &t->nodes[pred];
    if (pn->cfg->kind != COMPONENT_TRANSFORM || !pn->cfg->desc->stateless)
        return -1;
    return sole_consumer(pn) == (long)i ? pred : -1;
}

static int plan_stages(topology *t)
{
    t->stages = calloc(t->n ? t->n : 1, sizeof(*t->stages));
    if (!t->stages)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        t->nodes[i].stage = -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->nodes[i].cfg->kind != COMPONENT_TRANSFORM || chain_predecessor(t, i) >= 0)
            continue;
        topo_stage *st = &t->stages[t->nstages];
        st->nodes = malloc(t->n * sizeof(*st->nodes));
        if (!st->nodes)
            return -1;
        size_t cur = i;
        for (;;) {
            st->nodes[st->n++] = cur;
            t->nodes[cur].stage = (int)t->nstages;
            if (!t->nodes[cur].cfg->desc->stateless)
                st->serial = true;
            long next = sole_consumer(&t->nodes[cur]);
            if (next < 0 || chain_predecessor(t, (size_t)next) != (long)cur)
                break;
            cur = (size_t)next;
        }
        t->nstages++;
    }
    return 0;
}

topology *topo_build(const sl_config *cfg, diag_list *diags)
{
    size_t errors_before = diag_errors(diags);
    topology *t = calloc(1, sizeof(*t));
    if (!t || !(t->nodes = calloc(cfg->ncomponents ? cfg->ncomponents : 1, sizeof(*t->nodes)))) {
        free(t);
        diag_add(diags, DIAG_ERROR, NULL, NULL, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->n = cfg->ncomponents;
    for (size_t i = 0; i < t->n; i++) {
        t->nodes[i].cfg = &cfg->components[i];
        if (node_make_outputs(&t->nodes[i], diags) < 0) {
            topo_free(t);
            return NULL;
        }
    }
    connect_inputs(t, diags);
    if (diag_errors(diags) == errors_before && check_cycles(t, diags)) {
        propagate_types(t);
        check_types(t, diags);
        warn_unconsumed(t, diags);
        warn_acks_unusable(t, diags);
    }
    /* Programs are checked even in a broken graph, so that validate shows
     * all the errors at once (with no declared fields where unknown). */
    if (propagate_fields(t) < 0) {
        diag_add(diags, DIAG_ERROR, NULL, NULL, "out of memory");
        topo_free(t);
        return NULL;
    }
    check_with_fields(t, diags);
    if (diag_errors(diags) != errors_before || plan_stages(t) < 0) {
        if (diag_errors(diags) == errors_before)
            diag_add(diags, DIAG_ERROR, NULL, NULL, "out of memory");
        topo_free(t);
        return NULL;
    }
    return t;
}

void topo_free(topology *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        for (size_t k = 0; k < t->nodes[i].noutputs; k++)
            free(t->nodes[i].outputs[k].consumers);
        free(t->nodes[i].outputs);
        free(t->nodes[i].fields);
    }
    for (size_t s = 0; s < t->nstages; s++)
        free(t->stages[s].nodes);
    free(t->stages);
    free(t->nodes);
    free(t);
}
