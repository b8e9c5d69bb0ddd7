/*
 * Sticky partitioner: every message goes to one partition for a while, then to the next available one, in turn.
 * For topics that need spreading but no key affinity (logdist.packets): a linger window's messages make one batch
 * for one partition instead of one small batch per partition, so librdkafka wakes its broker thread and the broker
 * handles a partition once per window instead of once per message. Keys are still written.
 *
 * rkt_opaque carries how long to stick, in microseconds (set with rd_kafka_topic_conf_set_opaque). The current
 * partition and its deadline are shared by every sticky topic of the process (defined here, once): only the
 * rotation is shared, a partition that does not exist in a topic is never returned.
 */
#include "logdist_kafka.h"
#include <stdatomic.h>
#include <time.h>

static _Atomic int32_t logdist_sticky_current = -1;
static _Atomic int64_t logdist_sticky_until_us = 0;

logdist_sticky_choice logdist_sticky_choose(
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

static int topic_available(const void *rkt, int32_t partition) {
    return rd_kafka_topic_partition_available((const rd_kafka_topic_t *)rkt, partition);
}

static int32_t sticky_partitioner(
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
        now, current, until, partition_cnt, (int64_t)(uintptr_t)rkt_opaque, topic_available, rkt);
    if (choice.partition != current || choice.until_us != until) {
        atomic_store_explicit(&logdist_sticky_current, choice.partition, memory_order_relaxed);
        atomic_store_explicit(&logdist_sticky_until_us, choice.until_us, memory_order_relaxed);
    }
    return choice.partition;
}

rd_kafka_topic_conf_t *logdist_sticky_topic_conf(rd_kafka_t *rk, int64_t stick_us) {
    rd_kafka_topic_conf_t *conf = rd_kafka_default_topic_conf_dup(rk);
    rd_kafka_topic_conf_set_partitioner_cb(conf, sticky_partitioner);
    rd_kafka_topic_conf_set_opaque(conf, (void *)(uintptr_t)(stick_us > 0 ? stick_us : 1));
    return conf;
}
