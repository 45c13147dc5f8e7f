/* es_bulk.h - the Elasticsearch `_bulk` API as pure functions: writing the
 * action and document lines of a request, and reading the response.
 *
 * No I/O and no state: the elasticsearch sink calls them from its codec, the
 * unit tests check them byte for byte, and a fuzz target feeds the response
 * parser arbitrary bytes. See PROTOCOLS.md "Elasticsearch _bulk". */
#ifndef SLUICE_ES_BULK_H
#define SLUICE_ES_BULK_H

#include "pipeline/arena.h"
#include "pipeline/buf.h"
#include "pipeline/event.h"
#include "pipeline/path.h"
#include "sinks/http/http_sink.h"

typedef enum es_action {
    ES_ACTION_INDEX = 0,
    ES_ACTION_CREATE,
} es_action;

/* NULL-terminated, in enum order, for option tables. */
extern const char *const es_action_names[];

/* ---- requests ---- */

/* Appends `{"<action>":{"_index":"<index>","_id":"<id>"}}\n`, the strings
 * JSON-escaped; without `_id` when id is NULL. */
int es_bulk_write_action(buf *out, es_action action, const char *index, size_t index_len,
                         const char *id, size_t id_len);

/* How a document differs from its event (Vector's process_log). The event
 * itself is never changed: sinks share batches. */
typedef struct es_doc_edits {
    const path *remove;            /* id_key: left out of the document; NULL: none */
    bool rename_timestamp;         /* data streams: `timestamp` becomes `@timestamp` */
    /* data streams: data_stream.type, .dataset, .namespace added where the
       event lacks them; NULL: not added */
    const char *data_stream[3];
} es_doc_edits;

/* Appends the event's JSON and "\n". Edits of a log are made on shallow
 * copies of the maps they touch, allocated from scratch (the caller frees it
 * from time to time). -1 on allocation failure. */
int es_bulk_write_document(buf *out, const event *e, const es_doc_edits *ed, arena *scratch);

/* The `_id` a value gives: a string as it is, an integer in decimal (Vector
 * takes strings only). Appends to out; false when the value gives none. */
bool es_bulk_id_of(const value *v, buf *out);

/* ---- responses ---- */

typedef enum es_bulk_result {
    ES_BULK_ALL_OK = 0,    /* "errors":false: every item succeeded */
    ES_BULK_ITEMS,         /* items[] holds one verdict per request item */
    ES_BULK_MALFORMED,     /* not a bulk response, or not n items */
} es_bulk_result;

/* Text of the response as it stands between the quotes of a JSON string,
 * escapes and all (es_bulk_unescape decodes it). */
typedef struct es_slice {
    const char *p;
    size_t n;
} es_slice;

/* One item that did not succeed. */
typedef struct es_bulk_item {
    size_t pos;           /* its place in the request */
    int status;           /* 0 when the response gave none */
    bool create;          /* answered as a `create` action */
    bool error;           /* the item carries an `error` */
    es_slice id, index, type, reason;
} es_bulk_item;

/* Called for each item that is to be retried or was rejected, in order,
 * while parsing: the caller keeps what it learns until the result says the
 * response was well formed. */
typedef void (*es_bulk_failure_fn)(void *ctx, const es_bulk_item *it, http_item verdict);

/* Reads a bulk response to a request of n items. ES_BULK_ITEMS fills
 * items[0..n) in request order: 2xx delivered, 409 to a create delivered
 * (the document is there already), 429 and 5xx retried, any other status
 * rejected; an item without status is rejected when it carries an error.
 * `"errors":false` ends the reading at once: the items are not looked at.
 * on_failure may be NULL. why, on ES_BULK_MALFORMED: a short static text. */
es_bulk_result es_bulk_parse(const char *body, size_t len, size_t n, uint8_t *items,
                             es_bulk_failure_fn on_failure, void *ctx, const char **why);

/* Appends the decoded text of s (escapes resolved; lone surrogates become
 * U+FFFD). -1 on allocation failure. */
int es_bulk_unescape(buf *out, es_slice s);

#endif
