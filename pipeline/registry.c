/* registry.c - the one list of component types. Adding a type means adding
 * its descriptor here (and its file and tests). */
#include "pipeline/component.h"

#include <string.h>

extern const component_desc source_stdin_desc;
extern const component_desc source_demo_logs_desc;
extern const component_desc source_internal_metrics_desc;
extern const component_desc source_file_desc;
extern const component_desc source_kubernetes_logs_desc;
extern const component_desc source_kafka_desc;
extern const component_desc transform_noop_desc;
extern const component_desc transform_remap_desc;
extern const component_desc transform_filter_desc;
extern const component_desc transform_route_desc;
extern const component_desc transform_sample_desc;
extern const component_desc transform_log_to_metric_desc;
extern const component_desc transform_dedupe_desc;
extern const component_desc transform_throttle_desc;
extern const component_desc sink_console_desc;
extern const component_desc sink_file_desc;
extern const component_desc sink_blackhole_desc;
extern const component_desc sink_http_desc;
extern const component_desc sink_datadog_logs_desc;
extern const component_desc sink_datadog_metrics_desc;
extern const component_desc sink_elasticsearch_desc;
extern const component_desc sink_kafka_desc;

static const component_desc *const all_types[] = {
    &source_stdin_desc,
    &source_demo_logs_desc,
    &source_internal_metrics_desc,
    &source_file_desc,
    &source_kubernetes_logs_desc,
    &source_kafka_desc,
    &transform_noop_desc,
    &transform_remap_desc,
    &transform_filter_desc,
    &transform_route_desc,
    &transform_sample_desc,
    &transform_log_to_metric_desc,
    &transform_dedupe_desc,
    &transform_throttle_desc,
    &sink_console_desc,
    &sink_file_desc,
    &sink_blackhole_desc,
    &sink_http_desc,
    &sink_datadog_logs_desc,
    &sink_datadog_metrics_desc,
    &sink_elasticsearch_desc,
    &sink_kafka_desc,
};

const component_desc *registry_find(component_kind kind, const char *type)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(all_types); i++)
        if (all_types[i]->kind == kind && strcmp(all_types[i]->type, type) == 0)
            return all_types[i];
    return NULL;
}

const component_desc *const *registry_all(size_t *n)
{
    *n = SL_ARRAY_LEN(all_types);
    return all_types;
}

size_t registry_type_names(component_kind kind, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(all_types) && n < max; i++)
        if (all_types[i]->kind == kind && !all_types[i]->internal)
            names[n++] = all_types[i]->type;
    return n;
}

static bool find_schema(component_kind kind, const char *type, component_schema *out)
{
    const component_desc *d = registry_find(kind, type);
    if (!d)
        return false;
    *out = (component_schema){d, d->options, d->options_size, d->check};
    return true;
}

const component_catalog registry_catalog = {find_schema, registry_type_names};
