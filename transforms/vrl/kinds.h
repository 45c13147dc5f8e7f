/* kinds.h - short names for kinds and sets of kinds of values (VRL_KIND
 * bits), as the type checker and the function tables write them. Only the
 * remap language's own .c files include it (fn_util.h does for the
 * functions): the names are too short for a public header. */
#ifndef SLUICE_VRL_KINDS_H
#define SLUICE_VRL_KINDS_H

#include "transforms/vrl/vrl.h"

#define K(kind) VRL_KIND(kind)
#define K_NULL VRL_KIND(VALUE_NULL)
#define K_BOOL VRL_KIND(VALUE_BOOL)
#define K_INT VRL_KIND(VALUE_INT)
#define K_FLOAT VRL_KIND(VALUE_FLOAT)
#define K_BYTES VRL_KIND(VALUE_BYTES)
#define K_TS VRL_KIND(VALUE_TIMESTAMP)
#define K_ARRAY VRL_KIND(VALUE_ARRAY)
#define K_MAP VRL_KIND(VALUE_MAP)
#define K_ANY VRL_KIND_ANY

#endif
