#ifndef LOGDIST_CRDKAFKA_SHIM_H
#define LOGDIST_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdint.h>
#include <stddef.h>

/*
 * Forwards consumed records to a producer without leaving C: key, value and headers are copied by librdkafka
 * (RD_KAFKA_MSG_F_COPY), a header `header_name` already on the record is replaced, and the record gets the
 * header value and partition of its route: message i goes to partitions[routes[i]] with value
 * header_values[routes[i]] (header_sizes[routes[i]] bytes). The opaque of message i is opaque_base | i.
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
} logdist_slice;

/*
 * Produces records whose values lie in one buffer and keys in another (for example packets validated in place in
 * a request body), without leaving C: librdkafka copies key and value (RD_KAFKA_MSG_F_COPY), the partitioner
 * chooses the partition, and every record gets one header `header_name` = header_value and the timestamp
 * timestamp_ms (0: librdkafka's clock at enqueue). The opaque of record i is opaque_base | i.
 *
 * Enqueues slices[start..<count] in order and stops at the first enqueue error (for instance a full queue), which
 * is stored in *err; returns the index it stopped at (count when all were enqueued).
 */
static inline size_t logdist_produce_slices(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *values, const uint8_t *keys, const logdist_slice *slices,
    size_t start, size_t count, const char *header_name, const void *header_value, size_t header_size,
    int64_t timestamp_ms, uintptr_t opaque_base, rd_kafka_resp_err_t *err) {
    *err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = start; i < count; i++) {
        const logdist_slice *s = &slices[i];
        rd_kafka_headers_t *headers = rd_kafka_headers_new(1);
        rd_kafka_header_add(headers, header_name, -1, header_value, (ssize_t)header_size);
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
