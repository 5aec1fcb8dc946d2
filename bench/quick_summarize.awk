# quick_summarize.awk: "RESULT rep tag name variant value" lines
# (quick.sh) -> medians and ratios, each ratio also as the median of the
# ratios paired within a repetition, against the issue #14 targets; with
# quick.sh's "PROBE rep adds_per_cycle N" lines (bench/core_probe, one
# before each job), also the paired ratio over the pairs whose two jobs
# both started on a quiet core, and how contended the run was.
function median(arr, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = arr[i]
        for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
        arr[j + 1] = t
    }
    return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
function med(k,    n, r, a) {
    n = 0
    for (r = 1; r <= maxrep; r++) if ((k, r) in v) a[++n] = v[k, r]
    return n ? median(a, n) : -1
}
# One line: a / b, medians and paired, with the target (0: none).
function row(label, a, b, target,    n, r, p, ma, mb, mp, verdict) {
    ma = med(a); mb = med(b)
    if (ma < 0 || mb < 0) { printf "| %s | %s | %s | - | - | - | missing |\n", label, ma < 0 ? "-" : sprintf("%.3g", ma), mb < 0 ? "-" : sprintf("%.3g", mb); return }
    n = 0
    for (r = 1; r <= maxrep; r++)
        if (((a, r) in v) && ((b, r) in v) && v[b, r] > 0) p[++n] = v[a, r] / v[b, r]
    mp = median(p, n)
    verdict = target ? (mp <= target ? "met (<= " target ")" : "MISSED (<= " target ")") : ""
    # The pairs whose two jobs both found the core quiet (see the END block)
    nq = 0
    for (r = 1; r <= maxrep; r++)
        if (((a, r) in v) && ((b, r) in v) && v[b, r] > 0 && ((a, r) in pr) && ((b, r) in pr) &&
            pr[a, r] >= quiet_min && pr[b, r] >= quiet_min) pq[++nq] = v[a, r] / v[b, r]
    qcol = nq ? sprintf("%.2f (%d)", median(pq, nq), nq) : "-"
    printf "| %s | %.3g | %.3g | %.2f | %.2f (%.2f-%.2f) | %s | %s |\n", label, ma, mb, ma / mb, mp, p[1], p[n], qcol, verdict
}
$1 == "PROBE" { probe[++np] = $4 + 0; last_probe = $4 + 0; next }
$1 == "RESULT" {
    k = $3 " " $4 " " $5
    v[k, $2] = $6 + 0
    # (the probe before its job; the servers' jobs have none)
    if (last_probe && $4 != "server") pr[k, $2] = last_probe
    if ($2 > maxrep) maxrep = $2
}
END {
    L = "static switch lthread."; S = "st switch st."; F = "fc switch fcontext.jump."
    A = "aco switch aco.yield."
    print "### bench-quick: lthread against its peers (ns, us for servers)"
    print ""
    # A probe is quiet at 0.87 of the run's best (its 90th percentile) or
    # more, as in core_probe's own table.
    quiet_min = 0
    if (np) {
        for (i = 1; i <= np; i++) sq[i] = probe[i]
        median(sq, np)
        quiet_min = 0.87 * sq[int((np - 1) * 9 / 10) + 1]
    }
    print "| ratio | lthread (or first) | peer | of medians | paired: median (min-max) | paired, both jobs after a quiet probe: median (pairs) | target (on all pairs) |"
    print "|---|---:|---:|---:|---:|---:|---|"
    row("cond hand-off sep 0 B / ST cond (static)", L "cond.pad0.sep", S "cond.pad0", 0.8)
    row("cond hand-off sep 0 B / ST cond (shared lib)", "so switch lthread.cond.pad0.sep", S "cond.pad0", 0.8)
    row("cond hand-off sep 0 B / ST cond (shared lib, -fno-plt)", "noplt switch lthread.cond.pad0.sep", S "cond.pad0", 0.8)
    row("cond hand-off sep 0 B / fcontext jump (static)", L "cond.pad0.sep", F "pad0", 3)
    row("cond hand-off sep 0 B / fcontext jump (shared lib)", "so switch lthread.cond.pad0.sep", F "pad0", 3)
    row("sleep(0) sep 0 B / fcontext jump (static)", L "sleep0.pad0.sep", F "pad0", 3)
    row("sleep(0) sep 0 B / fcontext jump (shared lib)", "so switch lthread.sleep0.pad0.sep", F "pad0", 3)
    row("sleep(0), two call sites, sep 0 B / fcontext jump (static)", L "sleep0sites.pad0.sep", F "pad0", 0)
    row("cond one region 0 B / libaco one stack 0 B", L "cond.pad0.shared", A "pad0.shared", 1.2)
    row("cond one region 1 KiB / libaco one stack 1 KiB", L "cond.pad1024.shared", A "pad1024.shared", 1.0)
    row("cond one region 4 KiB / libaco one stack 4 KiB", L "cond.pad4096.shared", A "pad4096.shared", 1.0)
    row("sleep(0) one region 0 B / libaco one stack 0 B", L "sleep0.pad0.shared", A "pad0.shared", 0)
    row("libaco sep 0 B / fcontext jump", A "pad0.sep", F "pad0", 0)
    row("create+run+join / libaco create+resume+destroy (static)", "static create lthread.loop", "aco create aco.create_resume_destroy", 0.8)
    row("create+run+join / libaco (shared lib)", "so create lthread.loop", "aco create aco.create_resume_destroy", 0.8)
    row("create+run+join / libaco (shared lib, -fno-plt)", "noplt create lthread.loop", "aco create aco.create_resume_destroy", 0.8)
    row("create+run+join / fcontext make+jump (static)", "static create lthread.loop", "fc create fcontext.make_jump", 2)
    row("create+run+join / ST create+join (static)", "static create lthread.loop", "st create st.loop", 0)
    row("hello server CPU/req: lthread / epoll", "lthread server cpu_us_per_req", "epoll server cpu_us_per_req", 1.1)
    row("hello server CPU/req: ST / epoll", "st server cpu_us_per_req", "epoll server cpu_us_per_req", 0)
    print ""
    if (np) {
        # (the best: the 90th percentile, as core_probe's own table)
        for (i = 1; i <= np; i++) sp[i] = probe[i]
        m = median(sp, np); best = sp[int((np - 1) * 9 / 10) + 1]
        nc = 0
        for (i = 1; i <= np; i++) if (probe[i] < 0.87 * best) nc++
        printf "Core contention (bench/core_probe alu before each job: ALU adds per cycle, about 4 with the core to ourselves): median %.2f, best %.2f; %d of %d probes below 0.87 x best (%.0f%%)%s\n", m, best, nc, np, 100 * nc / np, (100 * nc / np >= 25 ? ": a contended run, whose ratios against fcontext read high (BENCHMARKS.md, \"What the slow phases are\")" : "")
        print ""
    }
    print "Raw medians:"
    print ""
    print "| tag | name | variant | median |"
    print "|---|---|---|---:|"
    for (kr in v) { split(kr, f, SUBSEP); if (!(f[1] in seen)) { seen[f[1]] = 1; keys[++nk] = f[1] } }
    for (i = 2; i <= nk; i++) { t = keys[i]; for (j = i - 1; j >= 1 && keys[j] > t; j--) keys[j + 1] = keys[j]; keys[j + 1] = t }
    for (i = 1; i <= nk; i++) { split(keys[i], f, " "); printf "| %s | %s | %s | %.4g |\n", f[1], f[2], f[3], med(keys[i]) }
}
