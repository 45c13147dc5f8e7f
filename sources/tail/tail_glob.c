/* tail_glob.c - the tailer's glob patterns (see tailer_glob_match in
 * tailer.h): `*`, `?` and `[...]` within one path segment, `**` across any
 * number of them. */
#include "sources/tail/tailer.h"

#include <string.h>

/* One bracket expression at *pp against c; advances *pp past it. */
static bool match_class(const char **pp, char c)
{
    const char *p = *pp + 1;
    bool negate = false, hit = false;
    if (*p == '!' || *p == '^') {
        negate = true;
        p++;
    }
    bool first = true;
    while (*p && (first || *p != ']')) {
        first = false;
        char lo = *p, hi = *p;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            p += 3;
        } else {
            p++;
        }
        if (c >= lo && c <= hi)
            hit = true;
    }
    if (*p == ']')
        p++;
    *pp = p;
    return hit != negate;
}

static bool match_here(const char *p, const char *s)
{
    for (;;) {
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            if (*p == '/')
                p++;
            if (!*p)
                return true;
            /* `**` is any run of whole segments, none included. */
            for (const char *t = s;; t++) {
                if ((t == s || t[-1] == '/') && match_here(p, t))
                    return true;
                if (!*t)
                    return false;
            }
        }
        switch (*p) {
        case '\0':
            return *s == '\0';
        case '*':
            p++;
            for (const char *t = s;; t++) {
                if (match_here(p, t))
                    return true;
                if (!*t || *t == '/')
                    return false;
            }
        case '?':
            if (!*s || *s == '/')
                return false;
            p++;
            s++;
            break;
        case '[':
            if (!*s || *s == '/' || !match_class(&p, *s))
                return false;
            s++;
            break;
        default:
            if (*p != *s)
                return false;
            p++;
            s++;
        }
    }
}

bool tailer_glob_match(const char *pattern, const char *path)
{
    return match_here(pattern, path);
}
