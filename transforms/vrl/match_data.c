/* match_data.c - per-thread PCRE2 match data (see function.h).
 *
 * Compiled regexes are shared read-only by every worker, but a match needs
 * somewhere to write its offsets. Each thread keeps one match data block,
 * grown to the largest capture count it has met, and freed by a pthread key
 * destructor when the thread ends. (POSIX runs no destructor for a thread
 * that returns from main; its block stays reachable until the process
 * ends.) */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>

#include "transforms/vrl/function.h"

typedef struct thread_match {
    pcre2_match_data *md;
    uint32_t pairs;
} thread_match;

static pthread_key_t match_key;
static pthread_once_t match_once = PTHREAD_ONCE_INIT;
static bool key_ok;

static void free_thread_match(void *p)
{
    thread_match *tm = p;
    pcre2_match_data_free(tm->md);
    free(tm);
}

static void create_key(void)
{
    key_ok = pthread_key_create(&match_key, free_thread_match) == 0;
}

static thread_match *this_thread(void)
{
    pthread_once(&match_once, create_key);
    if (!key_ok)
        return NULL;
    thread_match *tm = pthread_getspecific(match_key);
    if (tm)
        return tm;
    tm = calloc(1, sizeof(*tm));
    if (tm && pthread_setspecific(match_key, tm) != 0) {
        free(tm);
        tm = NULL;
    }
    return tm;
}

pcre2_match_data *vrl_match_data(const vrl_regex_code *code)
{
    thread_match *tm = this_thread();
    if (!tm)
        return NULL;
    uint32_t captures = 0;
    if (pcre2_pattern_info((const pcre2_code *)code, PCRE2_INFO_CAPTURECOUNT, &captures) != 0)
        return NULL;
    uint32_t pairs = captures + 1;
    if (tm->md && tm->pairs >= pairs)
        return tm->md;
    pcre2_match_data *md = pcre2_match_data_create(pairs, NULL);
    if (!md)
        return NULL;
    pcre2_match_data_free(tm->md);
    tm->md = md;
    tm->pairs = pairs;
    return md;
}
