/* http_zpool.c - request bodies compressed off the sink's thread.
 *
 * gzip was most of an Elasticsearch sink's CPU, all of it on the sink's one
 * thread, while other cores sat idle. So a sink that compresses has a few
 * workers (one per online CPU, at most ZPOOL_MAX_THREADS), each with its own
 * compressor, since a compressor is not thread-safe.
 *
 * The sink thread appends a finished request to the pool's list; a worker
 * claims the first unclaimed one, compresses it, marks it done and wakes
 * the sink thread's wait in its transport's poll. The sink thread takes requests back
 * from the head of the list only while they are done, so they leave in the
 * order they came, as they did when compression was inline.
 *
 * What is shared, all under the pool's mutex: the list (head, tail,
 * next_job), the `zdone` flag of the requests on it, and `stopping`. While
 * a worker holds a claimed request nobody else touches that request; the
 * mutex handing it back orders the worker's writes (zbody, zerr) before the
 * sink thread's reads. Everything else about a request (its events, its
 * destination) is the sink thread's alone and workers never look at it.
 *
 * Lock, unlock, wait, signal and broadcast are not checked: on a mutex and
 * condition variable that were initialised (and are default ones) POSIX
 * gives them no error that could happen. Init, create and join are. */
#include "sinks/http/http_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define ZPOOL_MAX_THREADS 4

typedef struct zworker {
    struct http_zpool *pool;
    http_compressor *zc;
    pthread_t tid;
    bool started;
} zworker;

struct http_zpool {
    pthread_mutex_t mu;
    pthread_cond_t work;       /* a request to claim, or stopping */
    request *head, *tail;      /* in submission order, linked by next */
    request *next_job;         /* the first one no worker has claimed */
    bool stopping;
    void (*wake)(void *);      /* ends the sink thread's wait */
    void *wake_ud;
    zworker *workers;
    size_t nworkers;
};

/* Compresses r; on success only the compressed body is kept (a split or a
 * partial retry encodes again from the events). */
static void compress_one(http_compressor *zc, request *r)
{
    r->zerr.msg[0] = '\0';
    r->zfailed = http_compress(zc, r->body.data, r->body.len, &r->zbody, &r->zerr) < 0;
    if (!r->zfailed)
        buf_free(&r->body);
}

/* Claims the next unclaimed request, waiting for one; NULL when stopping.
 * Called, and returns, with the mutex held. */
static request *claim(http_zpool *p)
{
    while (!p->stopping && !p->next_job)
        pthread_cond_wait(&p->work, &p->mu);
    if (p->stopping)
        return NULL;
    request *r = p->next_job;
    p->next_job = r->next;
    return r;
}

static void *worker_main(void *arg)
{
    zworker *w = arg;
    http_zpool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    request *r;
    while ((r = claim(p))) {
        pthread_mutex_unlock(&p->mu);
        compress_one(w->zc, r);
        pthread_mutex_lock(&p->mu);
        r->zdone = true;
        /* wake is safe from any thread, and the transport outlives us:
         * http_sink_free joins us before it closes it. */
        p->wake(p->wake_ud);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static size_t worker_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > ZPOOL_MAX_THREADS ? ZPOOL_MAX_THREADS : (size_t)n;
}

int http_zpool_new(http_compression algo, int level, void (*wake)(void *), void *wake_ud,
                   http_zpool **out, sl_error *err)
{
    *out = NULL;
    http_zpool *p = calloc(1, sizeof(*p));
    if (!p)
        return sl_fail(err, "out of memory");
    p->wake = wake;
    p->wake_ud = wake_ud;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return sl_fail(err, "cannot create a mutex");
    }
    if (pthread_cond_init(&p->work, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return sl_fail(err, "cannot create a condition variable");
    }
    p->nworkers = worker_count();
    p->workers = calloc(p->nworkers, sizeof(*p->workers));
    if (!p->workers) {
        p->nworkers = 0;
        http_zpool_free(p);
        return sl_fail(err, "out of memory");
    }
    /* On failure, http_zpool_free frees every slot's compressor (NULL ones
     * too) and joins the workers marked started. */
    for (size_t i = 0; i < p->nworkers; i++) {
        zworker *w = &p->workers[i];
        w->pool = p;
        if (!(w->zc = http_compressor_new(algo, level))) {
            http_zpool_free(p);
            return sl_fail(err, "cannot set up %s compression (out of memory)",
                           http_compression_names[algo]);
        }
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            http_zpool_free(p);
            return sl_fail(err, "cannot start a compression thread");
        }
        w->started = true;
    }
    *out = p;
    return 0;
}

void http_zpool_submit(http_zpool *p, request *r)
{
    r->next = NULL;
    r->zdone = false;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
    if (!p->next_job)
        p->next_job = r;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

request *http_zpool_take_done(http_zpool *p)
{
    pthread_mutex_lock(&p->mu);
    request *first = p->head, *last = NULL;
    for (request *r = p->head; r && r->zdone; r = r->next)
        last = r;
    if (last) {
        p->head = last->next;
        if (!p->head)
            p->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    return last ? first : NULL;
}

request *http_zpool_free(http_zpool *p)
{
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nworkers; i++) {
        /* A join cannot fail on a thread we started and did not detach; if
         * it did, the worker might still use its compressor, which is then
         * left allocated rather than freed under it. */
        if (p->workers[i].started && pthread_join(p->workers[i].tid, NULL) != 0) {
            slog_error("sluice", "A compression thread could not be joined.");
            continue;
        }
        http_compressor_free(p->workers[i].zc);
    }
    request *left = p->head;
    free(p->workers);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return left;
}
