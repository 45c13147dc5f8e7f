/* template.h - Vector's templates: `{{ field.path }}` replaced by the field's
 * value and strftime specifiers (`%Y-%m-%d`) rendered with the event's
 * timestamp (its `timestamp` field, or the current time when it has none).
 *
 * Parsed once at config load (owned by the caller: template_free), rendered
 * per event. Rendering fails, naming the field, when a referenced field is
 * missing: the caller drops the event and counts the error, as Vector does. */
#ifndef SLUICE_TEMPLATE_H
#define SLUICE_TEMPLATE_H

#include "pipeline/common.h"
#include "pipeline/buf.h"
#include "pipeline/event.h"

typedef struct template template;

int template_parse(const char *text, template **out, sl_error *err);
void template_free(template *t);

/* True when the output can differ between events (fields or strftime). */
bool template_is_dynamic(const template *t);
/* True when it references event fields (not only strftime). */
bool template_has_fields(const template *t);

/* Appends the rendering for e to out. -1 with a message naming the missing
 * fields when some are missing (maps and arrays render as JSON, as Vector's
 * to_string_lossy does). */
int template_render(const template *t, const event *e, buf *out, sl_error *err);

#endif
