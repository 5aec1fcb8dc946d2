// xsched, Go peer: the shapes of bench/xsched_lthread.c (bench/xsched.h
// describes them and the timing) with goroutines and Go channels. The
// runner sets GOMAXPROCS (2 on the 2-CPU machine): goroutines are not
// pinned to threads, the runtime places them.
//
//	go.1x1  1 producer goroutine, 1 consumer goroutine
//	go.4x4  4 producers, 4 consumers
//
// With GOMAXPROCS=1 the variants are named go.1x1.1thread and
// go.4x4.1thread: everything on one thread, as lthread's and Boost.Fiber's
// .1thread variants.
//
// pingpong: chan uint64 of capacity 1 each way, per pair; stream: one chan
// of capacity 1024 shared by all. Each worker publishes its count every 16
// events with an atomic store to its own cache line; the main goroutine
// reads them after a 10% warm-up and after the duration, then sets stop.
//
// Usage: xsched_go [duration_ms]   (default 1000 per variant)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	maxW      = 16
	every     = 16
	pingCap   = 1
	streamCap = 1024
	seqMask   = (uint64(1) << 48) - 1
)

type counter struct {
	n   int64
	pad [56]byte
}

var (
	counts [maxW]counter
	stop   int32
	live   int32
	errors int64
	total  int64
)

func publish(w int, n int64) {
	if n&(every-1) == 0 {
		atomic.StoreInt64(&counts[w].n, n)
	}
}

func sum() int64 {
	var s int64
	for i := range counts {
		s += atomic.LoadInt64(&counts[i].n)
	}
	return s
}

func nvcsw() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw
}

func run(shape string, pingpong bool, p, c int, dur time.Duration) {
	for i := range counts {
		atomic.StoreInt64(&counts[i].n, 0)
	}
	atomic.StoreInt32(&stop, 0)
	atomic.StoreInt32(&live, int32(p))
	atomic.StoreInt64(&errors, 0)
	var wg sync.WaitGroup
	if pingpong {
		for i := 0; i < p; i++ {
			ping := make(chan uint64, pingCap)
			pong := make(chan uint64, pingCap)
			wg.Add(2)
			go func(i int) { // producer
				defer wg.Done()
				var n int64
				for atomic.LoadInt32(&stop) == 0 {
					out := uint64(i)<<48 | uint64(n)
					ping <- out
					if v := <-pong; v != out {
						atomic.AddInt64(&errors, 1)
					}
					n++
					publish(i, n)
				}
				close(ping)
			}(i)
			go func() { // consumer
				defer wg.Done()
				for v := range ping {
					pong <- v
				}
			}()
		}
	} else {
		ch := make(chan uint64, streamCap)
		for i := 0; i < p; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var seq uint64
				for atomic.LoadInt32(&stop) == 0 {
					ch <- uint64(i)<<48 | seq
					seq++
				}
				if atomic.AddInt32(&live, -1) == 0 {
					close(ch)
				}
			}(i)
		}
		for i := 0; i < c; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				var next [maxW]uint64
				var n int64
				for v := range ch {
					pr, s := v>>48, v&seqMask
					if pr >= maxW || s < next[pr] {
						atomic.AddInt64(&errors, 1)
					} else {
						next[pr] = s + 1
					}
					n++
					publish(i, n)
				}
			}(i)
		}
	}
	warm := dur / 10
	if warm <= 0 {
		warm = time.Millisecond
	}
	time.Sleep(warm)
	n0, c0, t0 := sum(), nvcsw(), time.Now()
	time.Sleep(dur)
	events, csw, ns := sum()-n0, nvcsw()-c0, time.Since(t0).Nanoseconds()
	atomic.StoreInt32(&stop, 1)
	wg.Wait()

	if runtime.GOMAXPROCS(0) == 1 {
		shape += ".1thread"
	}
	variant := "go." + shape
	kind := "stream"
	if pingpong {
		kind = "pingpong"
	}
	if events <= 0 {
		fmt.Fprintf(os.Stderr, "xsched %s %s: no events in the timed window\n", kind, variant)
		return
	}
	if pingpong {
		fmt.Printf("RESULT xrtt %s %.2f ns\n", variant, float64(ns)*float64(p)/float64(events))
	} else {
		fmt.Printf("RESULT xtput %s %.2f Mmsg/s\n", variant, float64(events)*1e3/float64(ns))
	}
	unit := "csw/msg"
	if pingpong {
		unit = "csw/rtt"
	}
	fmt.Printf("RESULT xcsw go.%s.%s %.2f %s\n", kind, shape, float64(csw)/float64(events), unit)
	if e := atomic.LoadInt64(&errors); e != 0 {
		fmt.Fprintf(os.Stderr, "xsched go.%s.%s: %d errors\n", kind, shape, e)
		total += e
	}
}

func main() {
	ms := 1000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			ms = v
		}
	}
	dur := time.Duration(ms) * time.Millisecond
	fmt.Fprintf(os.Stderr, "xsched_go: %s, GOMAXPROCS=%d, %d ms per variant\n",
		runtime.Version(), runtime.GOMAXPROCS(0), ms)
	run("1x1", true, 1, 1, dur)
	run("4x4", true, 4, 4, dur)
	run("1x1", false, 1, 1, dur)
	run("4x4", false, 4, 4, dur)
	if total != 0 {
		os.Exit(1)
	}
}
