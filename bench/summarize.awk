# summarize.awk: medians and ratios from "RESULT rep name variant value unit"
# lines (run.sh's raw file). -v lt=1 when the lthread binaries ran; without
# them the lthread cells read "pending". Output is Markdown tables.
$1 == "RESULT" {
    k = $3 " " $4
    if (!(k in cnt)) { order[++nk] = k }
    vals[k, ++cnt[k]] = $5 + 0
    unit[k] = $6
}

function median(k,    n, i, j, t, a) {
    n = cnt[k]
    for (i = 1; i <= n; i++) a[i] = vals[k, i]
    for (i = 2; i <= n; i++) {          # insertion sort
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
        a[j + 1] = t
    }
    lo[k] = a[1]; hi[k] = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function has(k) { return (k in med) }
function cell(k, islt) {
    if (has(k)) return sprintf(med[k] >= 100 ? "%.0f" : "%.1f", med[k])
    return (islt && !lt) ? "pending" : "-"
}
function ratio(a, b, islt) {
    if (has(a) && has(b) && med[b] > 0) return sprintf("%.2f", med[a] / med[b])
    return (islt && !lt && has(b)) ? "pending" : "-"
}

END {
    for (i = 1; i <= nk; i++) med[order[i]] = median(order[i])

    print "### All medians"
    print ""
    print "| name | variant | median | unit | min | max | runs |"
    print "|---|---|---:|---|---:|---:|---:|"
    for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, f, " ")
        printf "| %s | %s | %.2f | %s | %.2f | %.2f | %d |\n", f[1], f[2], med[k], unit[k], lo[k], hi[k], cnt[k]
    }

    print ""
    print "### switch: ns per one-way hand-off (median)"
    print ""
    print "| mechanism | live stack | lthread sep | lthread shared | ST | fcontext | sep/ST | shared/ST | sep/fcontext | shared/fcontext |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    split("cond sleep0", mech, " "); split("cond usleep0", stm, " ")
    split("0 200 1024 4096", pads, " ")
    for (m = 1; m <= 2; m++) for (p = 1; p <= 4; p++) {
        P = pads[p]
        ls = "switch lthread." mech[m] ".pad" P ".sep"
        lh = "switch lthread." mech[m] ".pad" P ".shared"
        st = "switch st." stm[m] ".pad" P
        fc = "switch fcontext.jump.pad" P
        printf "| %s / st_%s | %d B | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            (m == 1 ? "lthread_cond" : "lthread_sleep(0)"), (m == 1 ? "cond" : "usleep(0)"), P,
            cell(ls, 1), cell(lh, 1), cell(st), cell(fc),
            ratio(ls, st, 1), ratio(lh, st, 1), ratio(ls, fc, 1), ratio(lh, fc, 1)
    }

    print ""
    print "### create: ns per create + run + join/free (median)"
    print ""
    print "| lthread form | lthread | ST (create joinable + join) | fcontext (make + run) | lthread/ST | lthread/fcontext |"
    print "|---|---:|---:|---:|---:|---:|"
    split("loop batch batch_detached", cf, " ")
    for (c = 1; c <= 3; c++) {
        l = "create lthread." cf[c]
        printf "| %s | %s | %s | %s | %s | %s |\n", cf[c], cell(l, 1),
            cell("create st.loop"), cell("create fcontext.make_jump"),
            ratio(l, "create st.loop", 1), ratio(l, "create fcontext.make_jump", 1)
    }

    print ""
    print "### memory: bytes of peak RSS per suspended coroutine, and ms to create, suspend and finish all (median)"
    print ""
    print "| wait in | N | lthread B | ST B | lthread/ST | lthread ms | ST ms | lthread/ST |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    # rows: every (wait, N) seen, plus cond/sleep at 1M and 10M unless quick
    nr = 0
    if (!quick) { split("cond.1M sleep.1M cond.10M sleep.10M", dflt, " ")
        for (i = 1; i <= 4; i++) { row[++nr] = dflt[i]; seen[dflt[i]] = 1 } }
    for (i = 1; i <= nk; i++) {
        split(order[i], f, " ")
        if (f[1] != "memory") continue
        w = f[2]; sub(/^[^.]*\./, "", w)
        if (!(w in seen)) { row[++nr] = w; seen[w] = 1 }
    }
    for (r = 1; r <= nr; r++) {
        split(row[r], wn, ".")
        l = "lthread." row[r]; s = "st." row[r]
        stb = cell("memory " s); stm_ = cell("memwall " s)
        if (wn[2] == "10M" && !has("memory " s)) { stb = "does not fit"; stm_ = "-" }
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
            (wn[1] == "cond" ? "cond_wait" : "sleep"), wn[2],
            cell("memory " l, 1), stb, ratio("memory " l, "memory " s, 1),
            cell("memwall " l, 1), stm_, ratio("memwall " l, "memwall " s, 1)
    }
}
