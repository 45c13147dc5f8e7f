/* fuzz_config.c - libFuzzer target for configuration loading: YAML or JSON
 * parsing, interpolation, option tables and every component's checks.
 *
 * Any input must end in a config or in diagnostics, never a crash, a hang
 * or a leak. The first byte picks the syntax (odd: JSON, even: YAML) and
 * the rest is the document, so both parsers see every kind of text; the
 * seeds in corpus/config start with ' ' (YAML) or '!' (JSON). */
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "pipeline/component.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *name = data[0] & 1 ? "fuzz.json" : "fuzz.yaml";
    diag_list diags = DIAG_LIST_INIT;
    sl_config *cfg = config_load_text(name, (const char *)data + 1, size - 1, &registry_catalog, &diags);
    for (size_t i = 0; i < diags.n; i++) {
        buf line = BUF_INIT;
        diag_format(&diags.items[i], &line);
        buf_free(&line);
    }
    config_free(cfg);
    diag_list_free(&diags);
    return 0;
}
