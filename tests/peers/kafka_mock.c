/* kafka_mock - a Kafka cluster for the e2e tests, the chaos suite and the
 * benchmarks: librdkafka's mock cluster (the real Kafka protocol on loopback,
 * consumer groups and offset commits included) held by a process that a test
 * drives over stdin. Debian has no Kafka broker; librdkafka's mock is the
 * broker, and python3-kafka and kcat are the clients that check it.
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * It prints one line "BOOTSTRAP host:port[,host:port...]", then answers each
 * command line on stdin with one line, "OK ..." or "ERR <why>":
 *
 *   topic NAME PARTITIONS            create a topic
 *   down BROKER_ID / up BROKER_ID    close a broker's connections and refuse
 *                                    new ones / accept them again (brokers
 *                                    count from 1; -1 is all of them)
 *   rtt BROKER_ID MS                 delay every response of a broker (or -1)
 *   leader TOPIC PARTITION BROKER_ID move a partition's leadership (a down
 *                                    broker's partitions stay with it
 *                                    until moved)
 *   error APIKEY ERRCODE COUNT       answer the next COUNT requests of APIKEY
 *                                    (any broker) with ERRCODE
 *   preload TOPIC COUNT SIZE [CODEC] produce COUNT messages of SIZE bytes
 *                                    round-robin over the partitions (codec
 *                                    lz4 unless given), wait for every
 *                                    delivery: "OK <count> <seconds>"
 *   earliest TOPIC                   "OK 0:<offset> 1:<offset> ..."
 *   quit
 *
 * The 2.0.2 mock answers Metadata up to v2, which always auto-creates: a
 * topic nobody created yet (preload, earliest, or any client asking for it)
 * springs up with 4 partitions.
 *
 * It exits 0 when stdin closes, so a test that dies never leaves it behind,
 * and on SIGTERM or SIGINT.
 *
 * Preloaded payloads read "<seq> level=info ts=... msg=..." cut or padded
 * to SIZE: every message is distinct (seq counts on per topic across
 * preloads) and a reader can parse its number back.
 *
 * Capacity: librdkafka 2.0.2's mock keeps at most 5 MiB of record batches
 * (compressed size) and 100,000 batches per partition and silently deletes
 * the oldest beyond that; a consumer then meets "offset out of range". So
 * preload sends 1 MB compressed batches, and tests check `earliest` is still
 * 0. Measured with 200-byte preload messages, per partition: about 390,000
 * with lz4, about 1,070,000 with zstd, about 24,000 uncompressed. A
 * million-message benchmark therefore wants lz4 and 4 partitions or more. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "pipeline/common.h"

#define MOCK_LINE_MAX 4096
#define MOCK_QUERY_TIMEOUT_MS 5000
/* Bounds a preload: a message not delivered by then fails it. */
#define MOCK_PRELOAD_TIMEOUT_MS 120000
#define MOCK_PRELOAD_MIN_SIZE 24

/* The next preload sequence number of a topic, so payloads stay distinct
 * across preloads. */
typedef struct mock_seq {
    char *topic;
    uint64_t next;
} mock_seq;

typedef struct mock {
    rd_kafka_t *rk; /* owns the cluster; also the client for metadata and watermarks */
    rd_kafka_mock_cluster_t *mc;
    int brokers;
    mock_seq *seqs;
    size_t nseqs;
} mock;

static volatile sig_atomic_t mock_stop;

static void mock_on_signal(int sig) {
    (void)sig;
    mock_stop = 1;
}

static int mock_parse_int(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int mock_open(mock *m, int brokers, sl_error *err) {
    char errstr[512], n[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(n, sizeof n, "%d", brokers);
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", n, errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return sl_fail(err, "config: %s", errstr);
    }
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        return sl_fail(err, "rd_kafka_new: %s", errstr);
    }
    m->mc = rd_kafka_handle_mock_cluster(m->rk);
    if (!m->mc)
        return sl_fail(err, "librdkafka made no mock cluster");
    m->brokers = brokers;
    return 0;
}

static void mock_close(mock *m) {
    if (m->rk)
        rd_kafka_destroy(m->rk);
    for (size_t i = 0; i < m->nseqs; i++)
        free(m->seqs[i].topic);
    free(m->seqs);
}

static int mock_create_topic(mock *m, const char *name, long partitions, sl_error *err) {
    int rf = m->brokers < 3 ? m->brokers : 3;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(m->mc, name, (int)partitions, rf);
    if (e)
        return sl_fail(err, "topic %s: %s", name, rd_kafka_err2str(e));
    return 0;
}

/* "NAME:PARTITIONS" from the command line. */
static int mock_create_topic_arg(mock *m, char *arg, sl_error *err) {
    char *colon = strrchr(arg, ':');
    long partitions;
    if (!colon || colon == arg || mock_parse_int(colon + 1, 1, 100000, &partitions))
        return sl_fail(err, "--topic wants NAME:PARTITIONS, got '%s'", arg);
    *colon = '\0';
    return mock_create_topic(m, arg, partitions, err);
}

static int mock_partition_count(mock *m, const char *topic, int *count, sl_error *err) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(m->rk, topic, NULL);
    if (!rkt)
        return sl_fail(err, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(m->rk, 0, rkt, &md, MOCK_QUERY_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (e)
        return sl_fail(err, "metadata of %s: %s", topic, rd_kafka_err2str(e));
    int rc = 0;
    if (md->topic_cnt != 1 || md->topics[0].err)
        rc = sl_fail(err, "topic %s: %s", topic,
                     rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
                                                    : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    else if (md->topics[0].partition_cnt < 1)
        rc = sl_fail(err, "topic %s has no partitions", topic);
    else
        *count = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return rc;
}

static uint64_t *mock_seq_of(mock *m, const char *topic, sl_error *err) {
    for (size_t i = 0; i < m->nseqs; i++)
        if (!strcmp(m->seqs[i].topic, topic))
            return &m->seqs[i].next;
    mock_seq *grown = realloc(m->seqs, (m->nseqs + 1) * sizeof *grown);
    if (!grown) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    m->seqs = grown;
    char *name = strdup(topic);
    if (!name) {
        sl_fail(err, "out of memory");
        return NULL;
    }
    m->seqs[m->nseqs] = (mock_seq){.topic = name, .next = 0};
    return &m->seqs[m->nseqs++].next;
}

/* ---- preload ------------------------------------------------------------ */

typedef struct preload_result {
    size_t delivered;
    size_t failed;
    rd_kafka_resp_err_t first_error;
} preload_result;

static void preload_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    preload_result *r = opaque;
    if (msg->err) {
        if (!r->failed++)
            r->first_error = msg->err;
    } else {
        r->delivered++;
    }
}

/* A producer tuned to fill the mock densely: batches of up to 1 MB
 * (uncompressed) so few, well-compressed batches count against the
 * partition's limits. */
static rd_kafka_t *preload_producer(mock *m, const char *codec, preload_result *r,
                                    sl_error *err) {
    static const char *const settings[][2] = {
        {"linger.ms", "100"},
        {"batch.size", "1000000"},
        {"batch.num.messages", "1000000"},
        {"queue.buffering.max.messages", "1000000"},
        {"acks", "1"},
    };
    char errstr[512], timeout[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(timeout, sizeof timeout, "%d", MOCK_PRELOAD_TIMEOUT_MS);
    rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(m->mc),
                          errstr, sizeof errstr);
    if (res == RD_KAFKA_CONF_OK)
        res = rd_kafka_conf_set(conf, "compression.codec", codec, errstr, sizeof errstr);
    if (res == RD_KAFKA_CONF_OK)
        res = rd_kafka_conf_set(conf, "message.timeout.ms", timeout, errstr, sizeof errstr);
    for (size_t i = 0; res == RD_KAFKA_CONF_OK && i < sizeof settings / sizeof settings[0]; i++)
        res = rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr, sizeof errstr);
    if (res != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        sl_fail(err, "producer config: %s", errstr);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, preload_on_delivery);
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p) {
        rd_kafka_conf_destroy(conf);
        sl_fail(err, "producer: %s", errstr);
    }
    return p;
}

/* "<seq> " and then a log line whose only other changing part is its
 * timestamp, cut or padded to size. How well it compresses decides how many
 * messages a mock partition holds, so the rest stays the same. */
static void preload_payload(char *buf, size_t size, uint64_t seq) {
    int n = snprintf(buf, size + 1,
                     "%" PRIu64 " level=info ts=2024-05-01T12:%02u:%02u.%03uZ "
                     "msg=\"request served\" method=GET path=/api/v1/items "
                     "status=200 region=eu-west-1 ",
                     seq, (unsigned)(seq / 60000 % 60), (unsigned)(seq / 1000 % 60),
                     (unsigned)(seq % 1000));
    for (size_t i = (size_t)n; i < size; i++)
        buf[i] = "abcdefghijklmnopqrstuvwxyz"[i % 26];
}

static int preload_produce_all(rd_kafka_t *p, const char *topic, int partitions, long count,
                               size_t size, uint64_t first_seq, sl_error *err) {
    char *buf = malloc(size + 1);
    if (!buf)
        return sl_fail(err, "out of memory");
    int rc = 0;
    for (long i = 0; i < count; i++) {
        preload_payload(buf, size, first_seq + (uint64_t)i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % partitions)),
                RD_KAFKA_V_VALUE(buf, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (!e)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rc = sl_fail(err, "produce: %s", rd_kafka_err2str(e));
                goto done;
            }
            rd_kafka_poll(p, 50);
        }
        rd_kafka_poll(p, 0);
    }
done:
    free(buf);
    return rc;
}

/* Answers "OK <count> <seconds>" only once every message is acknowledged;
 * message.timeout.ms bounds the wait. */
static int mock_preload(mock *m, const char *topic, long count, long size, const char *codec,
                        char *answer, size_t answer_len, sl_error *err) {
    int partitions;
    if (mock_partition_count(m, topic, &partitions, err))
        return -1;
    uint64_t *seq = mock_seq_of(m, topic, err);
    if (!seq)
        return -1;
    preload_result r = {0};
    rd_kafka_t *p = preload_producer(m, codec, &r, err);
    if (!p)
        return -1;
    int64_t start = sl_now_mono_ns();
    int rc = preload_produce_all(p, topic, partitions, count, (size_t)size, *seq, err);
    while (rd_kafka_outq_len(p) > 0)
        rd_kafka_flush(p, 100);
    double secs = (double)(sl_now_mono_ns() - start) / NS_PER_SEC;
    rd_kafka_destroy(p);
    *seq += (uint64_t)count;
    if (rc)
        return -1;
    if (r.failed)
        return sl_fail(err, "%zu of %ld messages failed: %s", r.failed, count,
                       rd_kafka_err2str(r.first_error));
    if (r.delivered != (size_t)count)
        return sl_fail(err, "stopped after %zu of %ld messages", r.delivered, count);
    snprintf(answer, answer_len, "OK %zu %.3f", r.delivered, secs);
    return 0;
}

static int mock_earliest(mock *m, const char *topic, char *answer, size_t answer_len,
                         sl_error *err) {
    int partitions;
    if (mock_partition_count(m, topic, &partitions, err))
        return -1;
    size_t used = (size_t)snprintf(answer, answer_len, "OK");
    for (int p = 0; p < partitions; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(m->rk, topic, p, &lo, &hi, MOCK_QUERY_TIMEOUT_MS);
        if (e)
            return sl_fail(err, "watermarks of %s/%d: %s", topic, p, rd_kafka_err2str(e));
        if (used < answer_len)
            used += (size_t)snprintf(answer + used, answer_len - used, " %d:%" PRId64, p, lo);
    }
    if (used >= answer_len)
        return sl_fail(err, "too many partitions to answer on one line");
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

#define MOCK_MAX_ARGS 8

static int mock_split(char *line, char **argv) {
    int argc = 0;
    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        if (argc == MOCK_MAX_ARGS)
            return -1;
        argv[argc++] = tok;
    }
    return argc;
}

static int mock_broker_command(mock *m, const char *cmd, char **argv, int argc, sl_error *err) {
    long id, ms = 0;
    if (argc != (strcmp(cmd, "rtt") ? 2 : 3) || mock_parse_int(argv[1], -1, m->brokers, &id) ||
        id == 0 || (argc == 3 && mock_parse_int(argv[2], 0, 3600000, &ms)))
        return sl_fail(err, "usage: %s BROKER_ID(1-%d, or -1 for all)%s", cmd, m->brokers,
                       strcmp(cmd, "rtt") ? "" : " MS");
    rd_kafka_resp_err_t e;
    if (!strcmp(cmd, "down"))
        e = rd_kafka_mock_broker_set_down(m->mc, (int32_t)id);
    else if (!strcmp(cmd, "up"))
        e = rd_kafka_mock_broker_set_up(m->mc, (int32_t)id);
    else
        e = rd_kafka_mock_broker_set_rtt(m->mc, (int32_t)id, (int)ms);
    if (e)
        return sl_fail(err, "%s %ld: %s", cmd, id, rd_kafka_err2str(e));
    return 0;
}

static int mock_set_leader(mock *m, char **argv, int argc, sl_error *err) {
    long partition, id;
    if (argc != 4 || mock_parse_int(argv[2], 0, 100000, &partition) ||
        mock_parse_int(argv[3], 1, m->brokers, &id))
        return sl_fail(err, "usage: leader TOPIC PARTITION BROKER_ID(1-%d)", m->brokers);
    rd_kafka_resp_err_t e =
        rd_kafka_mock_partition_set_leader(m->mc, argv[1], (int32_t)partition, (int32_t)id);
    if (e)
        return sl_fail(err, "leader of %s/%ld: %s", argv[1], partition, rd_kafka_err2str(e));
    return 0;
}

static int mock_push_errors(mock *m, char **argv, int argc, sl_error *err) {
    long apikey, code, count;
    if (argc != 4 || mock_parse_int(argv[1], 0, INT16_MAX, &apikey) ||
        mock_parse_int(argv[2], -1, 1000, &code) || mock_parse_int(argv[3], 1, 100000, &count))
        return sl_fail(err, "usage: error APIKEY ERRCODE COUNT");
    rd_kafka_resp_err_t *errs = malloc((size_t)count * sizeof *errs);
    if (!errs)
        return sl_fail(err, "out of memory");
    for (long i = 0; i < count; i++)
        errs[i] = (rd_kafka_resp_err_t)code;
    rd_kafka_mock_push_request_errors_array(m->mc, (int16_t)apikey, (size_t)count, errs);
    free(errs);
    return 0;
}

/* Runs one command line and writes its one-line answer. Returns 1 on quit. */
static int mock_run_command(mock *m, char *line, char *answer, size_t answer_len) {
    char *argv[MOCK_MAX_ARGS];
    sl_error err = {{0}};
    int argc = mock_split(line, argv);
    long a, b;
    int rc;
    snprintf(answer, answer_len, "OK");
    if (argc <= 0) {
        rc = sl_fail(&err, argc ? "too many words" : "empty command");
    } else if (!strcmp(argv[0], "quit")) {
        return 1;
    } else if (!strcmp(argv[0], "topic")) {
        rc = argc != 3 || mock_parse_int(argv[2], 1, 100000, &a)
                 ? sl_fail(&err, "usage: topic NAME PARTITIONS")
                 : mock_create_topic(m, argv[1], a, &err);
    } else if (!strcmp(argv[0], "down") || !strcmp(argv[0], "up") || !strcmp(argv[0], "rtt")) {
        rc = mock_broker_command(m, argv[0], argv, argc, &err);
    } else if (!strcmp(argv[0], "leader")) {
        rc = mock_set_leader(m, argv, argc, &err);
    } else if (!strcmp(argv[0], "error")) {
        rc = mock_push_errors(m, argv, argc, &err);
    } else if (!strcmp(argv[0], "preload")) {
        rc = (argc != 4 && argc != 5) || mock_parse_int(argv[2], 1, 1000000000, &a) ||
                     mock_parse_int(argv[3], MOCK_PRELOAD_MIN_SIZE, 900000, &b)
                 ? sl_fail(&err, "usage: preload TOPIC COUNT SIZE(%d-900000) [CODEC]",
                           MOCK_PRELOAD_MIN_SIZE)
                 : mock_preload(m, argv[1], a, b, argc == 5 ? argv[4] : "lz4", answer,
                                answer_len, &err);
    } else if (!strcmp(argv[0], "earliest")) {
        rc = argc != 2 ? sl_fail(&err, "usage: earliest TOPIC")
                       : mock_earliest(m, argv[1], answer, answer_len, &err);
    } else {
        rc = sl_fail(&err, "unknown command '%s'", argv[0]);
    }
    if (rc)
        snprintf(answer, answer_len, "ERR %s", err.msg);
    return 0;
}

/* Reads stdin line by line until it closes, quit, or a signal. ppoll lets
 * SIGTERM in only while waiting, so a signal never lands mid-command. */
static void mock_serve(mock *m, const sigset_t *waitmask) {
    char line[MOCK_LINE_MAX], answer[MOCK_LINE_MAX];
    size_t used = 0;
    for (;;) {
        char *nl = memchr(line, '\n', used);
        if (nl) {
            *nl = '\0';
            if (mock_run_command(m, line, answer, sizeof answer))
                return;
            printf("%s\n", answer);
            fflush(stdout);
            used -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, used);
            continue;
        }
        if (used == sizeof line) {
            printf("ERR line longer than %d bytes\n", MOCK_LINE_MAX);
            fflush(stdout);
            used = 0;
        }
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (mock_stop || (ppoll(&pfd, 1, NULL, waitmask) < 0 && errno != EINTR) || mock_stop)
            return;
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(STDIN_FILENO, line + used, sizeof line - used);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            return;
        if (n > 0)
            used += (size_t)n;
    }
}

static int mock_parse_args(mock *m, int argc, char **argv, sl_error *err) {
    long brokers = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            if (mock_parse_int(argv[++i], 1, 100, &brokers))
                return sl_fail(err, "--brokers wants 1-100, got '%s'", argv[i]);
        } else if (strcmp(argv[i], "--topic") || i + 1 >= argc) {
            return sl_fail(err, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...");
        } else {
            i++;
        }
    if (mock_open(m, (int)brokers, err))
        return -1;
    for (int i = 1; i < argc; i += 2)
        if (!strcmp(argv[i], "--topic") && mock_create_topic_arg(m, argv[i + 1], err))
            return -1;
    return 0;
}

int main(int argc, char **argv) {
    /* Block the stop signals in every thread (librdkafka's inherit the
     * mask); mock_serve takes them only inside ppoll. */
    sigset_t stopmask, waitmask;
    sigemptyset(&stopmask);
    sigaddset(&stopmask, SIGTERM);
    sigaddset(&stopmask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopmask, &waitmask);
    struct sigaction sa = {.sa_handler = mock_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mock m = {0};
    sl_error err = {{0}};
    int rc = 0;
    if (mock_parse_args(&m, argc, argv, &err)) {
        fprintf(stderr, "kafka_mock: %s\n", err.msg);
        rc = 1;
    } else {
        printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(m.mc));
        fflush(stdout);
        mock_serve(&m, &waitmask);
    }
    mock_close(&m);
    return rc;
}
