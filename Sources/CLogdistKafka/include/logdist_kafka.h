#ifndef LOGDIST_KAFKA_H
#define LOGDIST_KAFKA_H
/*
 * logdist's C helpers around librdkafka: loops that stay in C for a whole batch (no Swift value and no call back
 * into Swift per record) and the sticky partitioner, which librdkafka calls on its own threads. Each function is
 * defined once, in the .c file named beside it.
 */
/* librdkafka through the CRdKafka module's header, so that Swift sees one owner of its declarations (a second
 * textual copy here would hide librdkafka's enum constants from files that import only CRdKafka). */
#include "../../CRdKafka/shim.h"
#include <stddef.h>
#include <stdint.h>

/* ---- sticky.c ---- */

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
logdist_sticky_choice logdist_sticky_choose(
    int64_t now_us, int32_t current, int64_t until_us, int32_t partition_cnt, int64_t stick_us,
    int (*available)(const void *context, int32_t partition), const void *context);

/*
 * The handle's default topic configuration (message.timeout.ms, acks, … as configured) with the sticky partitioner,
 * sticking `stick_us` microseconds. A fresh rd_kafka_topic_conf_new() would silently reset those to librdkafka's
 * defaults (message.timeout.ms 300 s).
 */
rd_kafka_topic_conf_t *logdist_sticky_topic_conf(rd_kafka_t *rk, int64_t stick_us);

/* ---- forward.c ---- */

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
size_t logdist_forward(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, rd_kafka_message_t *const *messages, const int32_t *routes,
    size_t start, size_t count, const int32_t *partitions, const char *header_name,
    const void *const *header_values, const size_t *header_sizes, uintptr_t opaque_base, rd_kafka_resp_err_t *err);

/* ---- slices.c ---- */

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
size_t logdist_decimal(int32_t value, char *out);

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
size_t logdist_produce_slices(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *values, const uint8_t *keys, const logdist_slice *slices,
    size_t start, size_t count, const char *header_name, const void *header_value, size_t header_size,
    const char *count_header_name, int64_t timestamp_ms, uintptr_t opaque_base, rd_kafka_resp_err_t *err);

#endif
