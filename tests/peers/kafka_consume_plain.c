/* kafka_consume_plain - the Kafka source benchmark's ceiling: a plain
 * librdkafka high-level consumer loop that only counts messages and bytes.
 * Whatever the kafka source does on top (events, decoding, the pipeline),
 * its rate is measured against this one on the same cluster and topic.
 *
 *   kafka_consume_plain --bootstrap HOST:PORT --topic T --count N
 *                       [--group G] [--timeout-secs S]
 *
 * Reads until it has seen N messages and prints one JSON line
 * {"messages":N,"bytes":B,"seconds":S,"rate":R}, where seconds run from the
 * first message to the N-th (the group join before it is not the consumer's
 * speed) and rate is messages per second. Exits 1 with a message on stderr
 * when N messages did not arrive within the timeout (default 60 s). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "pipeline/common.h"

typedef struct plain_args {
    const char *bootstrap;
    const char *topic;
    char group[128];
    long long count;
    long long timeout_secs;
} plain_args;

typedef struct plain_tally {
    long long messages;
    long long bytes;
    int64_t first_ns;
    int64_t last_ns;
} plain_tally;

static int plain_parse_count(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1)
        return -1;
    *out = v;
    return 0;
}

static int plain_parse_args(plain_args *a, int argc, char **argv, sl_error *err) {
    snprintf(a->group, sizeof a->group, "kafka-consume-plain-%ld", (long)getpid());
    a->timeout_secs = 60;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i], *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val)
            return sl_fail(err, "%s wants a value", name);
        if (!strcmp(name, "--bootstrap"))
            a->bootstrap = val;
        else if (!strcmp(name, "--topic"))
            a->topic = val;
        else if (!strcmp(name, "--group"))
            snprintf(a->group, sizeof a->group, "%s", val);
        else if (!strcmp(name, "--count") ? plain_parse_count(val, &a->count)
                 : !strcmp(name, "--timeout-secs") ? plain_parse_count(val, &a->timeout_secs)
                                                   : 1)
            return sl_fail(err, "bad option %s %s", name, val);
    }
    if (!a->bootstrap || !a->topic || !a->count)
        return sl_fail(err, "usage: kafka_consume_plain --bootstrap HOST:PORT --topic T "
                            "--count N [--group G] [--timeout-secs S]");
    return 0;
}

static rd_kafka_t *plain_consumer(const plain_args *a, sl_error *err) {
    const char *const settings[][2] = {
        {"bootstrap.servers", a->bootstrap},
        {"group.id", a->group},
        {"auto.offset.reset", "earliest"},
        {"fetch.wait.max.ms", "100"},
        {"enable.partition.eof", "false"},
    };
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr, sizeof errstr)) {
            rd_kafka_conf_destroy(conf);
            sl_fail(err, "config: %s", errstr);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        sl_fail(err, "consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, a->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        rd_kafka_destroy(rk);
        sl_fail(err, "subscribe %s: %s", a->topic, rd_kafka_err2str(e));
        return NULL;
    }
    return rk;
}

static int plain_consume(rd_kafka_t *rk, const plain_args *a, plain_tally *t, sl_error *err) {
    int64_t deadline = sl_now_mono_ns() + a->timeout_secs * NS_PER_SEC;
    while (t->messages < a->count) {
        if (sl_now_mono_ns() > deadline)
            return sl_fail(err, "timeout after %lld s: %lld of %lld messages", a->timeout_secs,
                           t->messages, a->count);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg)
            continue;
        if (msg->err) {
            fprintf(stderr, "kafka_consume_plain: %s\n", rd_kafka_message_errstr(msg));
        } else {
            t->last_ns = sl_now_mono_ns();
            if (!t->messages)
                t->first_ns = t->last_ns;
            t->messages++;
            t->bytes += (long long)msg->len;
        }
        rd_kafka_message_destroy(msg);
    }
    return 0;
}

int main(int argc, char **argv) {
    plain_args a = {0};
    plain_tally t = {0};
    sl_error err = {{0}};
    rd_kafka_t *rk = NULL;
    int rc = plain_parse_args(&a, argc, argv, &err);
    if (!rc && !(rk = plain_consumer(&a, &err)))
        rc = -1;
    if (!rc)
        rc = plain_consume(rk, &a, &t, &err);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (rc) {
        fprintf(stderr, "kafka_consume_plain: %s\n", err.msg);
        return 1;
    }
    double secs = (double)(t.last_ns - t.first_ns) / NS_PER_SEC;
    printf("{\"messages\":%lld,\"bytes\":%lld,\"seconds\":%.3f,\"rate\":%.0f}\n", t.messages,
           t.bytes, secs, secs > 0 ? (double)t.messages / secs : 0.0);
    return 0;
}
