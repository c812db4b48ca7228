"""Independent reference values for the parity statistics (src/parity), from SciPy and NumPy.

Usage: python3 test/python/parity_reference.py < cases.json > results.json

Input: a JSON object with any of these lists (the node tests generate the data from a seed and
send it here, so both sides see exactly the same doubles):
  "ks":          [{"a": [...], "b": [...], "method": "auto"|"exact"|"asymp"}]
  "kstwo":       [{"n": int, "x": float}]       scipy.stats.kstwo.sf(x, n)
  "smirnov":     [{"n": int, "x": float}]       scipy.special.smirnov(n, x)
  "kolmogorov":  [float]                        scipy.special.kolmogorov(x) (= kstwobign.sf)
  "gamma":       [{"a": float, "x": float}]     gammaincc, gammainc, math.lgamma(a)
  "chi2_counts": [{"online": [...], "offline": [...]}]   chi2_contingency(correction=False)
  "quantiles":   [{"values": [...], "q": [...]}]          numpy.quantile (method='linear')
  "numeric":     [{"online": [...], "offline": [...], "bins": int, "epsilon": float}]
                 quantile bins fitted on offline values (documented rule, see
                 src/parity/bins.ts), counts, JS divergence = jensenshannon(base=2)**2, PSI
  "categorical": [{"online": [...], "offline": [...], "epsilon": float}]
                 union-of-categories bins, counts, JS, PSI, chi2_contingency
  "rows":        [{"online": [...], "offline": [...], "type": str, "tolerance": float}]
                 null combinations, mismatches, SMAPE, quantiles of online - offline

Output: the same keys, one result per case, in order. Non-finite floats are written as the
strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers); absent results are null.
Exit status 3 means a Python package is missing.
"""

import json
import math
import sys

try:
    import numpy as np
    from scipy import special, stats
    from scipy.spatial.distance import jensenshannon
except ImportError as err:  # the node test shows this message as its failure reason
    print(f"missing Python package ({err}). Run `pip install -r requirements.txt`.", file=sys.stderr)
    sys.exit(3)

DIFF_LEVELS = [0.01, 0.05, 0.5, 0.95, 0.99]


def num(x):
    """JSON-safe float."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def is_null(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def ks_case(case):
    res = stats.ks_2samp(np.asarray(case["a"], dtype=float), np.asarray(case["b"], dtype=float),
                         method=case.get("method", "auto"))
    return {
        "statistic": num(res.statistic),
        "pvalue": num(res.pvalue),
        "location": num(res.statistic_location),
        "sign": int(res.statistic_sign),
    }


def chi2_of_counts(online, offline):
    """chi2_contingency(correction=False) on the 2 x k table without all-zero columns."""
    table = np.array([online, offline], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] == 0 or table[0].sum() == 0 or table[1].sum() == 0:
        return None
    res = stats.chi2_contingency(table, correction=False)
    n = table.sum()
    return {
        "statistic": num(res.statistic),
        "pvalue": num(res.pvalue),
        "dof": int(res.dof),
        "cramers_v": num(math.sqrt(res.statistic / n)),
        "kept": int(table.shape[1]),
    }


def js_and_psi(online_counts, offline_counts, epsilon):
    on = np.asarray(online_counts, dtype=float)
    off = np.asarray(offline_counts, dtype=float)
    if on.sum() == 0 or off.sum() == 0:
        return None, None
    js = float(jensenshannon(on, off, base=2)) ** 2
    a = np.maximum(on / on.sum(), epsilon)
    e = np.maximum(off / off.sum(), epsilon)
    psi = float(np.sum((a - e) * np.log(a / e)))
    return js, psi


def fit_cuts(offline, k):
    """Cut points per src/parity/bins.ts: quantiles i/k; repeated values get a [v, v] bin."""
    ref = np.asarray([v for v in offline if math.isfinite(v)], dtype=float)
    if ref.size == 0:
        return None
    levels = np.quantile(ref, np.arange(k + 1) / k)
    cuts = []

    def push(c):
        if not cuts or c > cuts[-1]:
            cuts.append(float(c))

    i = 0
    while i <= k:
        j = i
        while j + 1 <= k and levels[j + 1] == levels[i]:
            j += 1
        if j > i:
            push(np.nextafter(levels[i], -np.inf))
            push(levels[i])
        elif 0 < i < k:
            push(levels[i])
        i = j + 1
    return cuts


def numeric_case(case):
    k = case.get("bins", 10)
    eps = case.get("epsilon", 1e-4)
    online = [float(v) for v in case["online"]]
    offline = [float(v) for v in case["offline"]]
    cuts = fit_cuts(offline, k)
    if cuts is None:
        return {"cuts": None}
    cut_arr = np.asarray(cuts, dtype=float)
    nb = len(cuts) + 1
    on_counts = np.bincount(np.searchsorted(cut_arr, np.asarray(online), side="left"), minlength=nb)
    off_counts = np.bincount(np.searchsorted(cut_arr, np.asarray(offline), side="left"), minlength=nb)
    js, psi = js_and_psi(on_counts, off_counts, eps)
    return {
        "cuts": [num(c) for c in cuts],
        "online_counts": [int(c) for c in on_counts],
        "offline_counts": [int(c) for c in off_counts],
        "js": num(js),
        "psi": num(psi),
    }


def utf16_key(s):
    return s.encode("utf-16-be")


def categorical_case(case):
    eps = case.get("epsilon", 1e-4)
    online = [str(v).lower() if isinstance(v, bool) else str(v) for v in case["online"] if not is_null(v)]
    offline = [str(v).lower() if isinstance(v, bool) else str(v) for v in case["offline"] if not is_null(v)]
    cats = sorted(set(online) | set(offline), key=utf16_key)
    on_counts = [online.count(c) for c in cats]
    off_counts = [offline.count(c) for c in cats]
    js, psi = js_and_psi(on_counts, off_counts, eps) if cats else (None, None)
    return {
        "categories": cats,
        "online_counts": on_counts,
        "offline_counts": off_counts,
        "js": num(js),
        "psi": num(psi),
        "chi2": chi2_of_counts(on_counts, off_counts) if cats else None,
    }


def rows_case(case):
    kind = case["type"]
    tol = case.get("tolerance", 0.1)
    online = case["online"]
    offline = case["offline"]
    both_null = online_only = offline_only = present = mismatches = 0
    smapes = []
    diffs = []
    for a, b in zip(online, offline):
        an, bn = is_null(a), is_null(b)
        if an and bn:
            both_null += 1
            continue
        if an:
            online_only += 1
            continue
        if bn:
            offline_only += 1
            continue
        present += 1
        numeric_pair = (isinstance(a, (int, float)) and not isinstance(a, bool)
                        and isinstance(b, (int, float)) and not isinstance(b, bool))
        if kind == "float" and numeric_pair:
            x, y = float(a), float(b)
            if x == y:
                rel = 0.0
            elif not (math.isfinite(x) and math.isfinite(y)):
                rel = math.inf
            else:
                rel = abs(x - y) / max(abs(x), abs(y))
            agree = rel <= tol
        else:
            agree = type(a) is type(b) and a == b
        if not agree:
            mismatches += 1
        if kind in ("float", "integer") and numeric_pair:
            x, y = float(a), float(b)
            if math.isfinite(x) and math.isfinite(y):
                smapes.append((x, y))
                diffs.append(x - y)
    total = len(online)
    mismatched = mismatches + online_only + offline_only
    smape = None
    quantiles = None
    if kind in ("float", "integer") and smapes:
        x = np.array([p[0] for p in smapes])
        y = np.array([p[1] for p in smapes])
        den = (np.abs(x) + np.abs(y)) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            per = np.where(den == 0, 0.0, np.abs(x - y) / np.where(den == 0, 1.0, den))
        smape = float(np.mean(per))
        quantiles = [num(q) for q in np.quantile(np.array(diffs), DIFF_LEVELS)]
    return {
        "total": total,
        "both_null": both_null,
        "online_only_null": online_only,
        "offline_only_null": offline_only,
        "both_present": present,
        "value_mismatches": mismatches,
        "mismatched_rows": mismatched,
        "mismatch_rate": num(mismatched / total if total else 0.0),
        "smape": num(smape),
        "numeric_pairs": len(diffs),
        "quantiles": quantiles,
    }


def main():
    cases = json.load(sys.stdin)
    out = {}
    out["ks"] = [ks_case(c) for c in cases.get("ks", [])]
    out["kstwo"] = [num(stats.kstwo.sf(c["x"], c["n"])) for c in cases.get("kstwo", [])]
    out["smirnov"] = [num(special.smirnov(c["n"], c["x"])) for c in cases.get("smirnov", [])]
    out["kolmogorov"] = [num(special.kolmogorov(x)) for x in cases.get("kolmogorov", [])]
    out["gamma"] = [
        {"q": num(special.gammaincc(c["a"], c["x"])), "p": num(special.gammainc(c["a"], c["x"])),
         "lgamma": num(math.lgamma(c["a"]))}
        for c in cases.get("gamma", [])
    ]
    out["chi2_counts"] = [chi2_of_counts(c["online"], c["offline"]) for c in cases.get("chi2_counts", [])]
    out["quantiles"] = [[num(v) for v in np.quantile(np.asarray(c["values"], dtype=float), c["q"])]
                        for c in cases.get("quantiles", [])]
    out["numeric"] = [numeric_case(c) for c in cases.get("numeric", [])]
    out["categorical"] = [categorical_case(c) for c in cases.get("categorical", [])]
    out["rows"] = [rows_case(c) for c in cases.get("rows", [])]
    json.dump(out, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
