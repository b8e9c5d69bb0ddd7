#ifndef LOGDIST_CRDKAFKA_SHIM_H
#define LOGDIST_CRDKAFKA_SHIM_H
/* librdkafka's C API (and its mock cluster, the embedded broker) as the Swift module CRdKafka. logdist's own C
 * code is in the CLogdistKafka target. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
