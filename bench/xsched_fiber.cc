/*
 * xsched, Boost.Fiber peer: the shapes of xsched_lthread.c
 * (bench/xsched.h) with fibers and boost::fibers::buffered_channel. Two
 * std::threads, each with Boost.Fiber's default round_robin scheduler (the
 * simplest correct cross-thread setup: a fiber stays on its thread, a
 * channel wakes a fiber of the other thread through that thread's remote
 * ready queue and condition variable). Producers are fibers of thread A,
 * consumers fibers of thread B, as lthread's 2-scheduler shapes:
 *
 *   fiber.1x1   1 producer fiber on A, 1 consumer fiber on B
 *   fiber.4x4   4 producer fibers on A, 4 consumer fibers on B
 *   fiber.1x1.1thread, fiber.4x4.1thread  for comparison, not between
 *               threads: all the fibers on A (as lthread's .1thread)
 *
 * buffered_channel's capacity must be a power of 2 and it holds one value
 * less: pingpong uses capacity 2 (holds 1, as the others' capacity 1),
 * stream 1024 (holds 1023, the others 1024).
 *
 * Usage: xsched_fiber [duration_ms]   (default 1000 per variant)
 */
#include <boost/fiber/all.hpp>
#include <thread>
#include <vector>

#include "xsched.h"

namespace fibers = boost::fibers;
using chan = fibers::buffered_channel<uint64_t>;

static void pp_producer(int i, chan &ping, chan &pong)
{
    long n = 0;
    uint64_t v;

    while (!xs_stopped()) {
        uint64_t out = ((uint64_t)i << 48) | (uint64_t)n;
        if (ping.push(out) != fibers::channel_op_status::success ||
            pong.pop(v) != fibers::channel_op_status::success) {
            atomic_fetch_add(&xs_errors, 1);
            break;
        }
        if (v != out)
            atomic_fetch_add(&xs_errors, 1);
        xs_publish(i, ++n);
    }
    ping.close();
}

static void pp_consumer(chan &ping, chan &pong)
{
    uint64_t v;

    while (ping.pop(v) == fibers::channel_op_status::success)
        if (pong.push(v) != fibers::channel_op_status::success) {
            atomic_fetch_add(&xs_errors, 1);
            break;
        }
}

static void st_producer(int i, chan &ch)
{
    uint64_t seq = 0;

    while (!xs_stopped())
        if (ch.push(((uint64_t)i << 48) | seq++) !=
            fibers::channel_op_status::success) {
            atomic_fetch_add(&xs_errors, 1);
            break;
        }
    if (atomic_fetch_sub(&xs_live, 1) == 1)
        ch.close();
}

static void st_consumer(int i, chan &ch)
{
    struct xs_check check = {{0}};
    long n = 0;
    uint64_t v;

    while (ch.pop(v) == fibers::channel_op_status::success) {
        xs_check_value(&check, v);
        xs_publish(i, ++n);
    }
}

static void run(const char *shape, bool pp, int p, int c, bool one, long dur)
{
    std::vector<std::unique_ptr<chan>> ping, pong;
    std::unique_ptr<chan> stream;

    xs_reset(p);
    if (pp)
        for (int i = 0; i < p; i++) {
            ping.emplace_back(new chan(2));
            pong.emplace_back(new chan(2));
        }
    else
        stream.reset(new chan(XS_STREAM_CAP));

    auto producers = [&](std::vector<fibers::fiber> &fs) {
        for (int i = 0; i < p; i++)
            fs.emplace_back(
                pp ? fibers::fiber(
                         [&, i] { pp_producer(i, *ping[i], *pong[i]); })
                   : fibers::fiber([&, i] { st_producer(i, *stream); }));
    };
    auto consumers = [&](std::vector<fibers::fiber> &fs) {
        for (int i = 0; i < c; i++)
            fs.emplace_back(
                pp ? fibers::fiber([&, i] { pp_consumer(*ping[i], *pong[i]); })
                   : fibers::fiber([&, i] { st_consumer(i, *stream); }));
    };
    std::thread a([&] {
        std::vector<fibers::fiber> fs;
        producers(fs);
        if (one)
            consumers(fs);
        for (auto &f : fs)
            f.join();
    });
    std::thread b([&] {
        std::vector<fibers::fiber> fs;
        if (!one)
            consumers(fs);
        for (auto &f : fs)
            f.join();
    });
    struct xs_window w = xs_time(dur);
    a.join();
    b.join();
    xs_report("fiber", shape, pp, p, w);
}

int main(int argc, char **argv)
{
    long dur = bench_arg(argc, argv, 1, 1000);

    fprintf(stderr, "xsched_fiber: Boost %d.%d, %ld ms per variant\n",
            BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, dur);
    run("1x1", true, 1, 1, false, dur);
    run("4x4", true, 4, 4, false, dur);
    run("1x1.1thread", true, 1, 1, true, dur);
    run("4x4.1thread", true, 4, 4, true, dur);
    run("1x1", false, 1, 1, false, dur);
    run("4x4", false, 4, 4, false, dur);
    run("1x1.1thread", false, 1, 1, true, dur);
    run("4x4.1thread", false, 4, 4, true, dur);
    return xs_total_errors ? 1 : 0;
}
