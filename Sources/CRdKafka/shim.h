#ifndef LOGDIST_CRDKAFKA_SHIM_H
#define LOGDIST_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <stddef.h>
#include <stdatomic.h>
#include <time.h>

/*
 * Sticky partitioner: every message goes to one partition for a while, then to the next available one, in turn.
 * For topics that need spreading but no key affinity (logdist.packets): a linger window's messages make one batch
 * for one partition instead of one small batch per partition, so librdkafka wakes its broker thread and the broker
 * handles a partition once per window instead of once per message. Keys are still written.
 *
 * rkt_opaque carries how long to stick, in microseconds (set with rd_kafka_topic_conf_set_opaque). The current
 * partition and its deadline are shared by every sticky topic of the process: only the rotation is shared, a
 * partition that does not exist in a topic is never returned.
 */
static _Atomic int32_t logdist_sticky_current = -1;
static _Atomic int64_t logdist_sticky_until_us = 0;

/* One decision of the sticky partitioner, a pure function of its inputs (tested without a clock or a broker). */
typedef struct {
    int32_t partition;
    int64_t until_us;
} logdist_sticky_choice;

/*
 * Keeps `current` while `now_us` is before `until_us` and it is available; else the next available partition after
 * it in turn (the first one, when none is current, is now_us modulo the count), sticking `stick_us` from now. When
 * none is available: the first candidate, where the message waits for a leader. `available(context, p)` says
 * whether partition p has a leader.
 */
static inline logdist_sticky_choice logdist_sticky_choose(
    int64_t now_us, int32_t current, int64_t until_us, int32_t partition_cnt, int64_t stick_us,
    int (*available)(const void *context, int32_t partition), const void *context) {
    if (current >= 0 && current < partition_cnt && now_us < until_us && available(context, current)) {
        logdist_sticky_choice kept = {current, until_us};
        return kept;
    }
    int32_t start = current < 0 || current >= partition_cnt ? (int32_t)(now_us % partition_cnt) : (current + 1) % partition_cnt;
    int32_t chosen = start;
    for (int32_t i = 0; i < partition_cnt; i++) {
        int32_t candidate = (start + i) % partition_cnt;
        if (available(context, candidate)) {
            chosen = candidate;
            break;
        }
    }
    logdist_sticky_choice next = {chosen, now_us + stick_us};
    return next;
}

static inline int logdist_sticky_topic_available(const void *rkt, int32_t partition) {
    return rd_kafka_topic_partition_available((const rd_kafka_topic_t *)rkt, partition);
}

static int32_t logdist_sticky_partitioner(
    const rd_kafka_topic_t *rkt, const void *key, size_t keylen, int32_t partition_cnt, void *rkt_opaque,
    void *msg_opaque) {
    (void)key;
    (void)keylen;
    (void)msg_opaque;
    if (partition_cnt <= 0) return RD_KAFKA_PARTITION_UA;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int32_t current = atomic_load_explicit(&logdist_sticky_current, memory_order_relaxed);
    int64_t until = atomic_load_explicit(&logdist_sticky_until_us, memory_order_relaxed);
    logdist_sticky_choice choice = logdist_sticky_choose(
        now, current, until, partition_cnt, (int64_t)(uintptr_t)rkt_opaque, logdist_sticky_topic_available, rkt);
    if (choice.partition != current || choice.until_us != until) {
        atomic_store_explicit(&logdist_sticky_current, choice.partition, memory_order_relaxed);
        atomic_store_explicit(&logdist_sticky_until_us, choice.until_us, memory_order_relaxed);
    }
    return choice.partition;
}

/*
 * The handle's default topic configuration (message.timeout.ms, acks, … as configured) with the sticky partitioner,
 * sticking `stick_us` microseconds. A fresh rd_kafka_topic_conf_new() would silently reset those to librdkafka's
 * defaults (message.timeout.ms 300 s).
 */
static inline rd_kafka_topic_conf_t *logdist_sticky_topic_conf(rd_kafka_t *rk, int64_t stick_us) {
    rd_kafka_topic_conf_t *conf = rd_kafka_default_topic_conf_dup(rk);
    rd_kafka_topic_conf_set_partitioner_cb(conf, logdist_sticky_partitioner);
    rd_kafka_topic_conf_set_opaque(conf, (void *)(uintptr_t)(stick_us > 0 ? stick_us : 1));
    return conf;
}

/*
 * Forwards consumed records to a producer without leaving C: key, value and headers are copied by librdkafka
 * (RD_KAFKA_MSG_F_COPY), a header `header_name` already on the record is replaced, and the record gets the
 * header value and partition of its route: message i goes to partitions[routes[i]] with value
 * header_values[routes[i]] (header_sizes[routes[i]] bytes); a negative route skips the message. The opaque of
 * message i is opaque_base | i.
 *
 * Enqueues messages[start..<count] in order and stops at the first enqueue error (for instance a full queue),
 * which is stored in *err; returns the index it stopped at (count when all were enqueued).
 */
static inline size_t logdist_forward(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, rd_kafka_message_t *const *messages, const int32_t *routes,
    size_t start, size_t count, const int32_t *partitions, const char *header_name,
    const void *const *header_values, const size_t *header_sizes, uintptr_t opaque_base, rd_kafka_resp_err_t *err) {
    *err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = start; i < count; i++) {
        const rd_kafka_message_t *m = messages[i];
        int32_t route = routes[i];
        if (route < 0) continue;
        rd_kafka_headers_t *source = NULL;
        rd_kafka_headers_t *headers;
        if (rd_kafka_message_headers(m, &source) == RD_KAFKA_RESP_ERR_NO_ERROR && source) {
            headers = rd_kafka_headers_copy(source);
            rd_kafka_header_remove(headers, header_name);
        } else {
            headers = rd_kafka_headers_new(1);
        }
        rd_kafka_header_add(headers, header_name, -1, header_values[route], (ssize_t)header_sizes[route]);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partitions[route]),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_OPAQUE((void *)(opaque_base | (uintptr_t)i)), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* On failure the headers are still ours. */
            rd_kafka_headers_destroy(headers);
            *err = e;
            return i;
        }
    }
    return count;
}
/* Where one record is in the two buffers given to logdist_produce_slices. */
typedef struct {
    size_t value_offset;
    size_t value_size;
    size_t key_offset;
    size_t key_size;
    /* Written as the decimal value of header `count_header_name` when that is given and this is positive. */
    int32_t messages;
} logdist_slice;

/* Writes `value` (positive) in decimal into `out` (at least 11 bytes); returns its length. */
static inline size_t logdist_decimal(int32_t value, char *out) {
    char digits[11];
    size_t n = 0;
    uint32_t v = (uint32_t)value;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

/*
 * Produces records whose values lie in one buffer and keys in another (for example packets validated in place in
 * a request body), without leaving C: librdkafka copies key and value (RD_KAFKA_MSG_F_COPY), the partitioner
 * chooses the partition, and every record gets one header `header_name` = header_value and the timestamp
 * timestamp_ms (0: librdkafka's clock at enqueue), and, when `count_header_name` is not NULL, a header of that name
 * holding its message count (slices[i].messages) in decimal. The opaque of record i is opaque_base | i.
 *
 * Enqueues slices[start..<count] in order and stops at the first enqueue error (for instance a full queue), which
 * is stored in *err; returns the index it stopped at (count when all were enqueued).
 */
static inline size_t logdist_produce_slices(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *values, const uint8_t *keys, const logdist_slice *slices,
    size_t start, size_t count, const char *header_name, const void *header_value, size_t header_size,
    const char *count_header_name, int64_t timestamp_ms, uintptr_t opaque_base, rd_kafka_resp_err_t *err) {
    *err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = start; i < count; i++) {
        const logdist_slice *s = &slices[i];
        rd_kafka_headers_t *headers = rd_kafka_headers_new(2);
        rd_kafka_header_add(headers, header_name, -1, header_value, (ssize_t)header_size);
        if (count_header_name && s->messages > 0) {
            char text[11];
            size_t length = logdist_decimal(s->messages, text);
            rd_kafka_header_add(headers, count_header_name, -1, text, (ssize_t)length);
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(keys + s->key_offset, s->key_size),
            RD_KAFKA_V_VALUE((void *)(values + s->value_offset), s->value_size), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_OPAQUE((void *)(opaque_base | (uintptr_t)i)), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(headers);
            *err = e;
            return i;
        }
    }
    return count;
}
#endif
