/* Ingest's produce loop: records validated in place in a request body, produced without leaving C. */
#include "logdist_kafka.h"
#include <sys/types.h>

size_t logdist_decimal(int32_t value, char *out) {
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

size_t logdist_produce_slices(
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
