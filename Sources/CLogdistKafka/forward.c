/* The dispatcher's produce loop: consumed records forwarded to their routes without leaving C. */
#include "logdist_kafka.h"

size_t logdist_forward(
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
