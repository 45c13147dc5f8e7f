/* config.c - loading a pipeline configuration in Vector's shape (see
 * config.h).
 *
 * Loading runs in two passes. The first parses every file, interpolates the
 * environment and gathers the top-level keys: components from `sources`,
 * `transforms` and `sinks` of all files into one list (an id may appear only
 * once across all of them, as in Vector, since inputs name ids alone), and
 * global options into one map. The second pass parses the globals and then
 * each component's options through its type's table plus the framework's
 * (inputs, buffer, acknowledgements, healthcheck). Both passes go on after
 * an error so one run reports every problem. */
#include "config/config.h"
#include "config/interp.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EMBEDDED_DEFAULT_NAME "<embedded default>"

/* What sl_config.docs points to: the documents every node comes from. */
typedef struct config_store {
    cfg_doc **docs;
    size_t ndocs;
    cfg_node globals;   /* the global keys of all files; pairs borrowed */
    bool is_default;
} config_store;

/* A component as a file gives it, before its options are parsed. */
typedef struct found_component {
    component_kind kind;
    const cfg_node *key;
    const cfg_node *value;
} found_component;

typedef struct loader {
    const component_catalog *types;
    sl_config *cfg;
    config_store *store;
    diag_list *diags;
    found_component *found;
    size_t nfound;
    size_t errors_before;
} loader;

static const char *const section_names[] = {"sources", "transforms", "sinks"};

const char *component_kind_name(component_kind kind)
{
    switch (kind) {
    case COMPONENT_SOURCE: return "source";
    case COMPONENT_TRANSFORM: return "transform";
    case COMPONENT_SINK: return "sink";
    }
    return "component";
}

/* ---- option tables ---- */

typedef struct global_options {
    char *data_dir;
    bool api_enabled;
    char *api_address;
    bool api_playground;
    bool api_graphql;
    bool acks_enabled;
    uint64_t threads;
    uint64_t shutdown_timeout_secs;
} global_options;

static const opt_spec api_fields[] = {
    OPT_BOOL_ROW("enabled", global_options, api_enabled, .def = "true",
        .help = "serve /health, /metrics and /api/components"),
    OPT_STRING_ROW("address", global_options, api_address, .def = "127.0.0.1:8686",
        .help = "host:port the API listens on"),
    OPT_BOOL_ROW("playground", global_options, api_playground, .def = "true",
        .help = "accepted for Vector configs; sluice has no GraphQL playground"),
    OPT_BOOL_ROW("graphql", global_options, api_graphql, .def = "true",
        .help = "accepted for Vector configs; sluice has no GraphQL endpoint"),
    OPT_END,
};

static const opt_spec global_acks_fields[] = {
    OPT_BOOL_ROW("enabled", global_options, acks_enabled, .def = "false",
        .help = "end-to-end acknowledgements for every sink that doesn't say otherwise"),
    OPT_END,
};

static const opt_spec global_table[] = {
    OPT_STRING_ROW("data_dir", global_options, data_dir, .def = "/var/lib/sluice",
        .help = "where checkpoints and disk buffers live"),
    OPT_OBJECT_ROW("api", api_fields, .help = "the HTTP API"),
    OPT_OBJECT_ROW("acknowledgements", global_acks_fields, .help = "end-to-end acknowledgements"),
    OPT_UINT_ROW("threads", global_options, threads, .def = "0",
        .help = "worker threads for transforms; 0 means one per online CPU"),
    OPT_UINT_ROW("shutdown_timeout_secs", global_options, shutdown_timeout_secs, .def = "60",
        .help = "how long a graceful shutdown may take"),
    OPT_END,
};

static const opt_enum_value buffer_type_values[] = {
    {"memory", BUFFER_MEMORY},
    {"disk", BUFFER_DISK},
    {NULL, 0},
};
static const opt_enum_value when_full_values[] = {
    {"block", WHEN_FULL_BLOCK},
    {"drop_newest", WHEN_FULL_DROP_NEWEST},
    {NULL, 0},
};

static const opt_spec buffer_fields[] = {
    OPT_ENUM_ROW("type", component_config, buffer_type, buffer_type_values, .def = "memory",
        .help = "where events wait for the sink"),
    OPT_UINT_ROW("max_events", component_config, buffer_max_events, .def = "500",
        .help = "memory buffers: the most events held"),
    OPT_UINT_ROW("max_size", component_config, buffer_max_size,
        .help = "disk buffers: the most bytes the buffer's files may take"),
    OPT_UINT_ROW("sync_interval_ms", component_config, buffer_sync_interval_ms, .def = "500",
        .help = "disk buffers: how often writes are fsynced, and so acknowledged upstream"),
    OPT_ENUM_ROW("when_full", component_config, buffer_when_full, when_full_values,
        .def = "block", .help = "wait for room, or drop the newest events"),
    OPT_END,
};

static const opt_spec sink_acks_fields[] = {
    OPT_BOOL_ROW("enabled", component_config, acks_enabled, .def = "false",
        .help = "report deliveries back to the sources"),
    OPT_END,
};

static const opt_spec healthcheck_fields[] = {
    OPT_BOOL_ROW("enabled", component_config, healthcheck_enabled, .def = "true",
        .help = "check the destination at startup"),
    OPT_STRING_ROW("uri", component_config, healthcheck_uri,
        .help = "http sink: the URL to GET (any 2xx is healthy); without it, no check"),
    OPT_END,
};

#define INPUTS_SPEC                                                                    \
    OPT_LIST_ROW("inputs", component_config, inputs, .required = true, .nonempty = true, \
        .help = "ids of the components to read from (named outputs and wildcards allowed)")

static const opt_spec source_framework[] = {OPT_END};

static const opt_spec transform_framework[] = {INPUTS_SPEC, OPT_END};

static const opt_spec sink_framework[] = {
    INPUTS_SPEC,
    OPT_OBJECT_ROW("buffer", buffer_fields, .help = "the sink's input buffer"),
    OPT_OBJECT_ROW("acknowledgements", sink_acks_fields, .help = "end-to-end acknowledgements"),
    OPT_OBJECT_ROW("healthcheck", healthcheck_fields, .help = "the startup healthcheck"),
    OPT_END,
};

static const opt_spec *framework_table(component_kind kind)
{
    switch (kind) {
    case COMPONENT_SOURCE: return source_framework;
    case COMPONENT_TRANSFORM: return transform_framework;
    case COMPONENT_SINK: return sink_framework;
    }
    return source_framework;
}

/* ---- small helpers ---- */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void out_of_memory(loader *L)
{
    diag_add(L->diags, DIAG_ERROR, NULL, NULL, "out of memory");
}

/* "a list", "a map", "a string", or "null". */
static const char *kind_phrase(cfg_kind kind)
{
    switch (kind) {
    case CFG_SCALAR: return "a string";
    case CFG_SEQ: return "a list";
    case CFG_MAP: return "a map";
    case CFG_NULL: break;
    }
    return "null";
}

static bool nodes_equal(const cfg_node *a, const cfg_node *b)
{
    if (a->kind != b->kind)
        return false;
    /* YAML's /d and JSON's "/d" are the same value. */
    if (a->kind == CFG_SCALAR)
        return strcmp(a->text, b->text) == 0;
    if (a->nitems != b->nitems || a->npairs != b->npairs)
        return false;
    for (size_t i = 0; i < a->nitems; i++)
        if (!nodes_equal(a->items[i], b->items[i]))
            return false;
    for (size_t i = 0; i < a->npairs; i++)
        if (strcmp(a->pairs[i].key->text, b->pairs[i].key->text) != 0 ||
            !nodes_equal(a->pairs[i].value, b->pairs[i].value))
            return false;
    return true;
}

/* Vector takes `acknowledgements: true` as short for `{enabled: true}`. */
static bool acks_shorthand(const cfg_node *v, bool *enabled)
{
    return v && v->kind == CFG_SCALAR && v->plain && opt_parse_bool(v->text, enabled) == 0;
}

/* ---- first pass: documents ---- */

static int remember_file(loader *L, const char *name)
{
    char **files = realloc(L->cfg->files, (L->cfg->nfiles + 1) * sizeof(*files));
    if (!files)
        return -1;
    L->cfg->files = files;
    if (!(files[L->cfg->nfiles] = strdup(name)))
        return -1;
    L->cfg->nfiles++;
    return 0;
}

static int keep_document(loader *L, cfg_doc *doc)
{
    cfg_doc **docs = realloc(L->store->docs, (L->store->ndocs + 1) * sizeof(*docs));
    if (!docs)
        return -1;
    docs[L->store->ndocs++] = doc;
    L->store->docs = docs;
    return 0;
}

static const found_component *find_found(const loader *L, const char *id)
{
    for (size_t i = 0; i < L->nfound; i++)
        if (strcmp(L->found[i].key->text, id) == 0)
            return &L->found[i];
    return NULL;
}

static void collect_component(loader *L, component_kind kind, const cfg_pair *pair)
{
    const found_component *earlier = find_found(L, pair->key->text);
    if (earlier) {
        diag_add(L->diags, DIAG_ERROR, pair->key, NULL,
                 "component id \"%s\" is already defined at %s:%d", pair->key->text,
                 earlier->key->file, earlier->key->line);
        return;
    }
    found_component *found = realloc(L->found, (L->nfound + 1) * sizeof(*found));
    if (!found) {
        out_of_memory(L);
        return;
    }
    found[L->nfound++] = (found_component){kind, pair->key, pair->value};
    L->found = found;
}

static void collect_section(loader *L, component_kind kind, const cfg_node *section)
{
    if (section->kind == CFG_NULL)
        return;
    if (section->kind != CFG_MAP) {
        diag_add(L->diags, DIAG_ERROR, section, NULL,
                 "\"%s\" must be a map from component ids to components, got %s",
                 section_names[kind], kind_phrase(section->kind));
        return;
    }
    for (size_t i = 0; i < section->npairs; i++)
        collect_component(L, kind, &section->pairs[i]);
}

static void collect_global(loader *L, const cfg_pair *pair)
{
    cfg_node *globals = &L->store->globals;
    const cfg_pair *earlier = cfg_map_pair(globals, pair->key->text);
    if (earlier) {
        if (!nodes_equal(earlier->value, pair->value))
            diag_add(L->diags, DIAG_ERROR, pair->key, NULL,
                     "conflicting values for \"%s\" (also set at %s:%d)", pair->key->text,
                     earlier->key->file, earlier->key->line);
        return;
    }
    cfg_pair *pairs = realloc(globals->pairs, (globals->npairs + 1) * sizeof(*pairs));
    if (!pairs) {
        out_of_memory(L);
        return;
    }
    pairs[globals->npairs++] = *pair;
    globals->pairs = pairs;
}

static bool is_section(const char *key, component_kind *kind)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(section_names); i++) {
        if (strcmp(key, section_names[i]) == 0) {
            *kind = (component_kind)i;
            return true;
        }
    }
    return false;
}

static bool is_global_name(const char *key)
{
    for (const opt_spec *s = global_table; s->name; s++)
        if (strcmp(s->name, key) == 0)
            return true;
    return false;
}

static void report_unknown_top_level(loader *L, const cfg_node *key)
{
    const char *names[SL_ARRAY_LEN(section_names) + SL_ARRAY_LEN(global_table)];
    size_t n = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(section_names); i++)
        names[n++] = section_names[i];
    for (const opt_spec *s = global_table; s->name; s++)
        names[n++] = s->name;
    const char *hint = opt_did_you_mean(key->text, names, n);
    if (hint)
        diag_add(L->diags, DIAG_ERROR, key, NULL,
                 "unknown top-level key \"%s\" (did you mean \"%s\"?)", key->text, hint);
    else
        diag_add(L->diags, DIAG_ERROR, key, NULL, "unknown top-level key \"%s\"", key->text);
}

static void collect_top_level(loader *L, const cfg_node *root)
{
    if (root->kind == CFG_NULL)
        return;
    if (root->kind != CFG_MAP) {
        diag_add(L->diags, DIAG_ERROR, root, NULL,
                 "the top level of a configuration must be a map, got %s",
                 kind_phrase(root->kind));
        return;
    }
    for (size_t i = 0; i < root->npairs; i++) {
        const cfg_pair *pair = &root->pairs[i];
        component_kind kind;
        if (is_section(pair->key->text, &kind))
            collect_section(L, kind, pair->value);
        else if (is_global_name(pair->key->text))
            collect_global(L, pair);
        /* Vector's config unit tests, run by `vector test`: not ours to run,
         * but a Vector config that has them must still load. */
        else if (strcmp(pair->key->text, "tests") != 0)
            report_unknown_top_level(L, pair->key);
    }
}

static void load_document(loader *L, const char *name, const char *text, size_t len)
{
    if (remember_file(L, name) < 0) {
        out_of_memory(L);
        return;
    }
    if (has_suffix(name, ".toml")) {
        diag_add_at(L->diags, DIAG_ERROR, name, 0, NULL,
                    "TOML configuration is not supported; use YAML or JSON");
        return;
    }
    cfg_doc *doc = cfg_doc_parse(name, text, len, has_suffix(name, ".json"), L->diags);
    if (!doc)
        return;
    if (keep_document(L, doc) < 0) {
        cfg_doc_free(doc);
        out_of_memory(L);
        return;
    }
    cfg_node *root = cfg_doc_root(doc);
    interp_tree(root, L->diags);
    collect_top_level(L, root);
}

static int read_whole_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    for (;;) {
        if (buf_reserve(out, 65536) < 0) {
            fclose(f);
            errno = ENOMEM;
            return -1;
        }
        size_t n = fread(out->data + out->len, 1, out->cap - out->len - 1, f);
        out->len += n;
        out->data[out->len] = '\0';
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    errno = saved;
    return failed ? -1 : 0;
}

static void load_file(loader *L, const char *path)
{
    buf text = BUF_INIT;
    if (read_whole_file(path, &text) < 0) {
        diag_add_at(L->diags, DIAG_ERROR, path, 0, NULL, "cannot read file: %s",
                    strerror(errno));
        buf_free(&text);
        return;
    }
    load_document(L, path, text.data ? text.data : "", text.len);
    buf_free(&text);
}

/* Hidden names are skipped: Kubernetes ConfigMap volumes hold `..data`
 * links beside the real files, and editors leave dot-files. */
static bool is_config_name(const char *name)
{
    return name[0] != '.' && (has_suffix(name, ".yaml") || has_suffix(name, ".yml") ||
                              has_suffix(name, ".json"));
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_config_names(const char *dir, char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    struct dirent *e;
    *n = 0;
    while ((e = readdir(d))) {
        if (!is_config_name(e->d_name))
            continue;
        char **grown = realloc(names, (*n + 1) * sizeof(*names));
        if (!grown || !(grown[*n] = strdup(e->d_name))) {
            names = grown ? grown : names;
            while (*n)
                free(names[--*n]);
            free(names);
            closedir(d);
            errno = ENOMEM;
            return -1;
        }
        names = grown;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof(*names), compare_names);
    *out = names;
    return 0;
}

static bool is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Returns 1 when the directory holds configuration files, 0 when it holds
 * none, -1 when it can't be read. */
static int load_dir(loader *L, const char *dir)
{
    char **names = NULL;
    size_t n = 0;
    if (list_config_names(dir, &names, &n) < 0) {
        diag_add_at(L->diags, DIAG_ERROR, dir, 0, NULL, "cannot read directory: %s",
                    strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        buf path = BUF_INIT;
        if (buf_printf(&path, "%s/%s", dir, names[i]) < 0)
            out_of_memory(L);
        else if (is_regular_file(path.data))
            load_file(L, path.data);
        buf_free(&path);
        free(names[i]);
    }
    free(names);
    return n > 0;
}

/* ---- second pass: options ---- */

static void apply_globals(loader *L)
{
    sl_config *cfg = L->cfg;
    cfg_node *globals = &L->store->globals;
    global_options g = {0};
    opt_target target = {global_table, &g};
    const char *ignore[] = {NULL, NULL};
    bool acks = false;
    bool short_acks = acks_shorthand(cfg_map_get(globals, "acknowledgements"), &acks);
    if (short_acks)
        ignore[0] = "acknowledgements";
    opt_apply(globals, &target, 1, ignore, NULL, L->diags);
    cfg->data_dir = g.data_dir;
    cfg->data_dir_set = opt_set(globals, "data_dir");
    cfg->data_dir_node = cfg->data_dir_set ? cfg_map_get(globals, "data_dir") : NULL;
    cfg->api_enabled = g.api_enabled;
    cfg->api_address = g.api_address;
    cfg->acks_enabled = short_acks ? acks : g.acks_enabled;
    cfg->threads = g.threads;
    cfg->shutdown_timeout_secs = g.shutdown_timeout_secs;
}

static bool is_valid_id(const char *id)
{
    return id[0] && !strpbrk(id, ".*");
}

static void report_unknown_type(loader *L, component_config *cc, const cfg_node *type)
{
    const char *names[128];
    size_t n = L->types->type_names(cc->kind, names, SL_ARRAY_LEN(names));
    const char *hint = opt_did_you_mean(type->text, names, n);
    const char *kind = component_kind_name(cc->kind);
    if (hint)
        diag_add(L->diags, DIAG_ERROR, type, cc->label,
                 "unknown %s type \"%s\" (did you mean \"%s\"?)", kind, type->text, hint);
    else
        diag_add(L->diags, DIAG_ERROR, type, cc->label, "unknown %s type \"%s\"", kind,
                 type->text);
}

/* The component's type in *schema, or false after reporting why there is
 * none. */
static bool find_type(loader *L, component_config *cc, component_schema *schema)
{
    const cfg_node *type = cfg_map_get(cc->node, "type");
    if (!type) {
        diag_add(L->diags, DIAG_ERROR, cc->node, cc->label, "missing required option \"type\"");
        return false;
    }
    if (type->kind != CFG_SCALAR) {
        diag_add(L->diags, DIAG_ERROR, type, cc->label,
                 "option \"type\" must be a string, got %s", kind_phrase(type->kind));
        return false;
    }
    bool found = L->types->find(cc->kind, type->text, schema);
    if (!found)
        report_unknown_type(L, cc, type);
    return found;
}

/* A disk buffer needs max_size (as in Vector), lives in a directory named
 * after the sink, and has no use for max_events. */
static size_t check_buffer(loader *L, component_config *cc)
{
    const cfg_node *buffer = cfg_map_get(cc->node, "buffer");
    size_t errors = 0;
    if (cc->buffer_type != BUFFER_DISK) {
        if (opt_set(cc->node, "buffer.max_size") || opt_set(cc->node, "buffer.sync_interval_ms"))
            diag_add(L->diags, DIAG_WARNING, buffer, cc->label,
                     "buffer.max_size and buffer.sync_interval_ms apply to disk buffers; "
                     "a memory buffer is bounded by max_events");
        return 0;
    }
    if (!opt_set(cc->node, "buffer.max_size")) {
        diag_add(L->diags, DIAG_ERROR, buffer, cc->label,
                 "a disk buffer needs buffer.max_size (bytes its files may take)");
        errors++;
    } else if (cc->buffer_max_size < BUFFER_DISK_MIN_SIZE) {
        diag_add(L->diags, DIAG_ERROR, cfg_map_get(buffer, "max_size"), cc->label,
                 "buffer.max_size must be at least %u bytes, got %" PRIu64,
                 BUFFER_DISK_MIN_SIZE, cc->buffer_max_size);
        errors++;
    }
    if (opt_set(cc->node, "buffer.max_events")) {
        diag_add(L->diags, DIAG_ERROR, cfg_map_get(buffer, "max_events"), cc->label,
                 "buffer.max_events applies to memory buffers; a disk buffer is bounded "
                 "by max_size");
        errors++;
    }
    if (strchr(cc->id, '/') || strcmp(cc->id, ".") == 0 || strcmp(cc->id, "..") == 0) {
        diag_add(L->diags, DIAG_ERROR, buffer, cc->label,
                 "a sink with a disk buffer needs an id that can name a directory "
                 "(no \"/\", not \".\" or \"..\")");
        errors++;
    }
    return errors;
}

static size_t finish_sink(loader *L, component_config *cc, bool short_acks, bool acks)
{
    size_t errors = check_buffer(L, cc);
    if (short_acks) {
        cc->acks_enabled = acks;
        cc->acks_set = true;
    } else {
        cc->acks_set = opt_set(cc->node, "acknowledgements.enabled");
    }
    if (!cc->acks_set)
        cc->acks_enabled = L->cfg->acks_enabled;
    return errors;
}

static void apply_component_options(loader *L, component_config *cc,
                                    const component_schema *schema)
{
    cc->options = calloc(1, schema->options_size ? schema->options_size : 1);
    if (!cc->options) {
        out_of_memory(L);
        return;
    }
    bool acks = false;
    bool short_acks = cc->kind == COMPONENT_SINK &&
                      acks_shorthand(cfg_map_get(cc->node, "acknowledgements"), &acks);
    const char *ignore[] = {"type", short_acks ? "acknowledgements" : NULL, NULL};
    opt_target targets[] = {
        {schema->options, cc->options},
        {framework_table(cc->kind), cc},
    };
    size_t errors = opt_apply(cc->node, targets, SL_ARRAY_LEN(targets), ignore, cc->label,
                              L->diags);
    if (cc->kind == COMPONENT_SINK)
        errors += finish_sink(L, cc, short_acks, acks);
    /* A type's own checks may assume its options parsed cleanly. */
    if (!errors && schema->check)
        schema->check(cc->options, cc->label, cc->node, L->diags);
}

static void build_component(loader *L, const found_component *f)
{
    component_config *cc = &L->cfg->components[L->cfg->ncomponents++];
    buf label = BUF_INIT;
    cc->kind = f->kind;
    cc->node = f->value;
    cc->id = strdup(f->key->text);
    if (!cc->id || buf_printf(&label, "%s.%s", section_names[f->kind], f->key->text) < 0) {
        buf_free(&label);
        out_of_memory(L);
        return;
    }
    cc->label = buf_detach(&label);
    if (!is_valid_id(cc->id))
        diag_add(L->diags, DIAG_ERROR, f->key, NULL,
                 "invalid component id \"%s\": ids must be non-empty and may not contain "
                 "\".\" or \"*\"", cc->id);
    if (f->value->kind != CFG_MAP) {
        diag_add(L->diags, DIAG_ERROR, f->value, cc->label,
                 "expected a map of options, got %s", kind_phrase(f->value->kind));
        return;
    }
    component_schema schema;
    if (!find_type(L, cc, &schema))
        return;
    cc->desc = schema.desc;
    cc->options_table = schema.options;
    apply_component_options(L, cc, &schema);
}

static void build_components(loader *L)
{
    if (!L->nfound)
        return;
    L->cfg->components = calloc(L->nfound, sizeof(*L->cfg->components));
    if (!L->cfg->components) {
        out_of_memory(L);
        return;
    }
    static const component_kind order[] = {COMPONENT_SOURCE, COMPONENT_TRANSFORM,
                                           COMPONENT_SINK};
    for (size_t k = 0; k < SL_ARRAY_LEN(order); k++)
        for (size_t i = 0; i < L->nfound; i++)
            if (L->found[i].kind == order[k])
                build_component(L, &L->found[i]);
}

/* ---- loading ---- */

static int loader_init(loader *L, const component_catalog *types, diag_list *diags)
{
    memset(L, 0, sizeof(*L));
    L->types = types;
    L->diags = diags;
    L->errors_before = diag_errors(diags);
    L->cfg = calloc(1, sizeof(*L->cfg));
    L->store = calloc(1, sizeof(*L->store));
    if (!L->cfg || !L->store) {
        free(L->cfg);
        free(L->store);
        diag_add(diags, DIAG_ERROR, NULL, NULL, "out of memory");
        return -1;
    }
    L->store->globals.kind = CFG_MAP;
    L->cfg->docs = L->store;
    return 0;
}

static sl_config *loader_finish(loader *L)
{
    apply_globals(L);
    build_components(L);
    free(L->found);
    if (diag_errors(L->diags) > L->errors_before) {
        config_free(L->cfg);
        return NULL;
    }
    return L->cfg;
}

/* An empty directory is an error only when nothing else was loaded
 * either: `-C conf.d` alone must not run an empty pipeline by mistake. */
static void load_dirs(loader *L, const char *const *dirs, size_t n)
{
    if (!n)
        return;
    bool *empty = calloc(n, sizeof(*empty));
    if (!empty) {
        out_of_memory(L);
        return;
    }
    for (size_t i = 0; i < n; i++)
        empty[i] = load_dir(L, dirs[i]) == 0;
    for (size_t i = 0; L->cfg->nfiles == 0 && i < n; i++)
        if (empty[i])
            diag_add_at(L->diags, DIAG_ERROR, dirs[i], 0, NULL,
                        "no configuration files (*.yaml, *.yml, *.json) in this directory");
    free(empty);
}

sl_config *config_load_text(const char *name, const char *text, size_t len,
                            const component_catalog *types, diag_list *diags)
{
    loader L;
    if (loader_init(&L, types, diags) < 0)
        return NULL;
    load_document(&L, name, text, len);
    return loader_finish(&L);
}

sl_config *config_load(const config_sources *src, const component_catalog *types,
                       diag_list *diags)
{
    loader L;
    if (loader_init(&L, types, diags) < 0)
        return NULL;
    if (src && (src->nfiles || src->ndirs)) {
        for (size_t i = 0; i < src->nfiles; i++)
            load_file(&L, src->files[i]);
        load_dirs(&L, src->dirs, src->ndirs);
    } else if (access(SL_DEFAULT_CONFIG_PATH, F_OK) == 0) {
        load_file(&L, SL_DEFAULT_CONFIG_PATH);
    } else {
        L.store->is_default = true;
        load_document(&L, EMBEDDED_DEFAULT_NAME, config_default_yaml,
                      strlen(config_default_yaml));
    }
    return loader_finish(&L);
}

void config_free(sl_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ncomponents; i++) {
        component_config *cc = &cfg->components[i];
        if (cc->options_table && cc->options)
            opt_free(cc->options_table, cc->options);
        free(cc->options);
        opt_free(framework_table(cc->kind), cc);
        free(cc->id);
        free(cc->label);
    }
    free(cfg->components);
    free(cfg->data_dir);
    free(cfg->api_address);
    for (size_t i = 0; i < cfg->nfiles; i++)
        free(cfg->files[i]);
    free(cfg->files);
    config_store *store = cfg->docs;
    if (store) {
        for (size_t i = 0; i < store->ndocs; i++)
            cfg_doc_free(store->docs[i]);
        free(store->docs);
        free(store->globals.pairs);
        free(store);
    }
    free(cfg);
}

bool config_is_default(const sl_config *cfg)
{
    const config_store *store = cfg->docs;
    return store && store->is_default;
}

const component_config *config_find(const sl_config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->ncomponents; i++)
        if (cfg->components[i].id && strcmp(cfg->components[i].id, id) == 0)
            return &cfg->components[i];
    return NULL;
}
