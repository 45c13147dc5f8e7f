/* functions.c - the remap language's standard library: one table made of
 * the groups each fn_*.c file exports, looked up by name when a program is
 * compiled (never at run time). */
#include <pthread.h>
#include <string.h>

#include "transforms/vrl/function.h"

extern const vrl_function *const vrl_core_functions[];       /* fn_core.c */
extern const vrl_function *const vrl_string_functions[];     /* fn_string.c */
extern const vrl_function *const vrl_regex_functions[];      /* fn_regex.c */
extern const vrl_function *const vrl_parse_functions[];      /* fn_parse.c */
extern const vrl_function *const vrl_key_value_functions[];  /* fn_key_value.c */
extern const vrl_function *const vrl_syslog_functions[];     /* fn_syslog.c */
extern const vrl_function *const vrl_access_log_functions[]; /* fn_access_log.c */
extern const vrl_function *const vrl_timestamp_functions[];  /* fn_timestamp.c */
extern const vrl_function *const vrl_collection_functions[]; /* fn_collection.c */
extern const vrl_function *const vrl_misc_functions[];       /* fn_misc.c */

static const vrl_function *const *const groups[] = {
    vrl_core_functions,
    vrl_string_functions,
    vrl_regex_functions,
    vrl_parse_functions,
    vrl_key_value_functions,
    vrl_syslog_functions,
    vrl_access_log_functions,
    vrl_timestamp_functions,
    vrl_collection_functions,
    vrl_misc_functions,
};

#define VRL_MAX_FUNCTIONS 256

static const vrl_function *all[VRL_MAX_FUNCTIONS];
static size_t nall;
static pthread_once_t all_once = PTHREAD_ONCE_INIT;

static void collect_functions(void)
{
    for (size_t g = 0; g < SL_ARRAY_LEN(groups); g++)
        for (size_t i = 0; groups[g][i] && nall < VRL_MAX_FUNCTIONS; i++)
            all[nall++] = groups[g][i];
}

const vrl_function *const *vrl_functions_all(size_t *n)
{
    pthread_once(&all_once, collect_functions);
    *n = nall;
    return all;
}

const vrl_function *vrl_function_find(const char *name)
{
    size_t n;
    const vrl_function *const *fns = vrl_functions_all(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(fns[i]->name, name) == 0)
            return fns[i];
    return NULL;
}
