/* Run segments against lthread_stats().switches (test_introspect,
 * test_enomem): every run segment of an lthread begins with a switch into
 * it, so at the start of each, the scheduler's switch count is the number
 * of segments so far. Each lthread calls segment_note() first thing and
 * after every call that may switch it out; a test checks that `bad` stayed
 * 0. Public API only. */
#ifndef LTHREAD_TEST_SEGMENTS_H
#define LTHREAD_TEST_SEGMENTS_H

#include <lthread.h>

#include <stdint.h>
#include <stdio.h>

struct segments {
    uint64_t n; /* segments so far */
    int bad;    /* starts at which the count was another */
};

static inline void segment_note(struct segments *sg)
{
    struct lthread_stats st;

    sg->n++;
    if (lthread_stats(&st) != 0 || st.switches != sg->n) {
        if (!sg->bad)
            fprintf(stderr, "segment %llu: switches %llu\n",
                    (unsigned long long)sg->n, (unsigned long long)st.switches);
        sg->bad++;
    }
}

#endif
