/* interp.h - environment interpolation in configuration values.
 *
 * Vector's forms: ${VAR}, $VAR, ${VAR:-default} (unset or empty),
 * ${VAR-default} (unset), ${VAR:?message} / ${VAR?message} (an error with
 * the message), and $$ for a literal $. Names are letters, digits, '_' and
 * '.'. It applies to parsed scalar values only, never to raw text or to map
 * keys, so a variable can't add structure; a value with a line break is
 * refused. An unset variable without a default becomes "" with a warning. */
#ifndef SLUICE_INTERP_H
#define SLUICE_INTERP_H

#include <stddef.h>
#include "config/cfg_node.h"
#include "config/diag.h"
#include "pipeline/buf.h"

/* Appends text with references expanded to out. Problems go to diags,
 * positioned at `where` (may be NULL). Returns 0, or -1 when an error was
 * added (out is then incomplete). */
int interp_expand(const char *text, size_t len, const cfg_node *where, buf *out,
                  diag_list *diags);

/* Expands every scalar value under root in place; keys stay as written and
 * node kinds never change. Returns the number of errors added. */
size_t interp_tree(cfg_node *root, diag_list *diags);

#endif
