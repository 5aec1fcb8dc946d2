# ab_summarize.awk: "RESULT rep A|B static|shared name variant value unit"
# lines (ab_run.sh) -> per (name, variant, linkage): median of A, median of
# B, B/A of the medians, and the median (min-max) of the paired ratios
# B_r / A_r over the repetitions r present in both.
function median(arr, n,    i, j, t) {
    for (i = 2; i <= n; i++) {
        t = arr[i]
        for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]
        arr[j + 1] = t
    }
    return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
$1 == "RESULT" {
    k = $5 " " $6 " " $4
    if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
    v[k, $3, $2] = $7 + 0
    unit[k] = $8
    if ($2 > maxrep) maxrep = $2
}
END {
    print "| benchmark | variant | linkage | A | B | B/A (medians) | B/A paired: median (min-max) | runs |"
    print "|---|---|---|---:|---:|---:|---:|---:|"
    for (i = 1; i <= nk; i++) {
        k = order[i]; na = nb = np = 0
        delete a; delete b; delete p
        for (r = 1; r <= maxrep; r++) {
            if ((k, "A", r) in v) a[++na] = v[k, "A", r]
            if ((k, "B", r) in v) b[++nb] = v[k, "B", r]
            if (((k, "A", r) in v) && ((k, "B", r) in v) && v[k, "A", r] > 0)
                p[++np] = v[k, "B", r] / v[k, "A", r]
        }
        if (!na || !nb || !np) continue
        ma = median(a, na); mb = median(b, nb); mp = median(p, np)
        split(k, f, " ")
        printf "| %s | %s | %s | %.4g %s | %.4g %s | %.3f | %.3f (%.3f-%.3f) | %d |\n",
            f[1], f[2], f[3], ma, unit[k], mb, unit[k], mb / ma, mp, p[1], p[np], np
    }
}
