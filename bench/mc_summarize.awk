# mc_summarize.awk: medians and ratios from mc_run.sh's raw lines,
# "RESULT rep name variant value unit". Output is Markdown tables. Ratios
# are lthread / peer of the medians; "paired" is the median of the ratios
# taken within the same repetition (the machine's load drifts less within
# one repetition than across them).
$1 == "RESULT" {
    k = $3 " " $4
    if (!(k in cnt)) order[++nk] = k
    vals[k, ++cnt[k]] = $5 + 0
    at[k, $2] = $5 + 0
    unit[k] = $6
    if ($2 > nrep) nrep = $2
}

function sort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
}
function median(k,    n, i, a) {
    n = cnt[k]
    for (i = 1; i <= n; i++) a[i] = vals[k, i]
    sort(a, n)
    lo[k] = a[1]; hi[k] = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function has(k) { return (k in med) }
function num(x) { return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }
function cell(k) { return has(k) ? num(med[k]) : "-" }
function ratio(a, b) {
    return (has(a) && has(b) && med[b] > 0) ? sprintf("%.2f", med[a] / med[b]) : "-"
}
function paired(a, b,    r, m, x) {
    m = 0
    for (r = 1; r <= nrep; r++)
        if (((a, r) in at) && ((b, r) in at) && at[b, r] > 0)
            x[++m] = at[a, r] / at[b, r]
    if (!m) return "-"
    sort(x, m)
    return sprintf("%.2f", m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2)
}

END {
    for (i = 1; i <= nk; i++) med[order[i]] = median(order[i])

    print "### All medians"
    print ""
    print "| name | variant | median | unit | min | max | runs |"
    print "|---|---|---:|---|---:|---:|---:|"
    for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, f, " ")
        printf "| %s | %s | %s | %s | %s | %s | %d |\n", f[1], f[2], num(med[k]), unit[k], num(lo[k]), num(hi[k]), cnt[k]
    }

    # rows: lthread shape, peers' shape, label
    # (.1thread: everything on one thread, not between threads; Go with
    # GOMAXPROCS=1; pthread has no such variant)
    nrows = split("1x1 4x4 4x4.8sched 1x1.1thread 4x4.1thread", ls, " ")
    split("1x1 4x4 4x4 1x1.1thread 4x4.1thread", ps, " ")
    split("1x1|4x4|4x4, lthread on 8 schedulers|1x1, all on one thread|4x4, all on one thread", lab, "|")

    print ""
    print "### xsched ping-pong: ns per round trip and pair (median; lower is better)"
    print ""
    print "| shape | lthread | pthread | Go | Boost.Fiber | lthread/Go | paired | lthread/pthread | lthread/Fiber |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= nrows; i++) {
        l = "xrtt lthread." ls[i]; p = "xrtt pthread." ps[i]; g = "xrtt go." ps[i]; b = "xrtt fiber." ps[i]
        if (!has(l) && i > 2) continue
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", lab[i], cell(l), cell(p), cell(g), cell(b),
            ratio(l, g), paired(l, g), ratio(l, p), ratio(l, b)
    }

    print ""
    print "### xsched stream: millions of messages per second (median; higher is better)"
    print ""
    print "| shape | lthread | pthread | Go | Boost.Fiber | lthread/Go | paired | lthread/pthread | lthread/Fiber |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= nrows; i++) {
        l = "xtput lthread." ls[i]; p = "xtput pthread." ps[i]; g = "xtput go." ps[i]; b = "xtput fiber." ps[i]
        if (!has(l) && i > 2) continue
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", lab[i], cell(l), cell(p), cell(g), cell(b),
            ratio(l, g), paired(l, g), ratio(l, p), ratio(l, b)
    }

    print ""
    print "### xsched, lthread's variants against Go (median; paired ratios): schedulers floating, pinned one per CPU (XS_PIN=1), polled waits off"
    print ""
    print "| test | shape | floating | pinned | polling off | Go | floating/Go | pinned/Go | paired | polling off/Go |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    split("xrtt xtput", mets, " ")
    split("ping-pong ns|stream M/s", metl, "|")
    for (t = 1; t <= 2; t++) for (i = 1; i <= 2; i++) {
        l = mets[t] " lthread." ls[i]; q = mets[t] " lthread-pinned." ls[i]
        o = mets[t] " lthread-nopoll." ls[i]; g = mets[t] " go." ps[i]
        if (!has(q)) continue
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", metl[t], lab[i], cell(l), cell(q), cell(o),
            cell(g), ratio(l, g), ratio(q, g), paired(q, g), ratio(o, g)
    }

    print ""
    print "### xsched: voluntary context switches of the process per round trip / message (median)"
    print ""
    print "| test | lthread | pthread | Go | Boost.Fiber |"
    print "|---|---:|---:|---:|---:|"
    split("pingpong stream", kinds, " ")
    for (t = 1; t <= 2; t++) for (i = 1; i <= nrows; i++) {
        l = "xcsw lthread." kinds[t] "." ls[i]
        if (!has(l) && i > 2) continue
        printf "| %s %s | %s | %s | %s | %s |\n", kinds[t], lab[i], cell(l),
            cell("xcsw pthread." kinds[t] "." ps[i]), cell("xcsw go." kinds[t] "." ps[i]),
            cell("xcsw fiber." kinds[t] "." ps[i])
    }

    print ""
    print "### handoff, one scheduler: ns per one-way hand-off (median)"
    print ""
    print "| mechanism | live stack | sep | shared | sep / cond sep | paired | shared / cond shared | paired |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    split("cond chan0 chan1 mutex", mech, " ")
    split("0 200 1024 4096", pads, " ")
    for (m = 1; m <= 4; m++) for (p = 1; p <= 4; p++) {
        s = "handoff lthread." mech[m] ".pad" pads[p] ".sep"
        h = "handoff lthread." mech[m] ".pad" pads[p] ".shared"
        cs = "handoff lthread.cond.pad" pads[p] ".sep"
        ch = "handoff lthread.cond.pad" pads[p] ".shared"
        if (!has(s) && !has(h)) continue
        printf "| %s | %d B | %s | %s | %s | %s | %s | %s |\n", mech[m], pads[p], cell(s), cell(h),
            ratio(s, cs), paired(s, cs), ratio(h, ch), paired(h, ch)
    }
}
