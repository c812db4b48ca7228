#!/usr/bin/env python3
"""
Independent expectations for the aggregations, by brute force over the definition with
numpy / scipy (never the engine's algorithms).

  aggregation_expected.py < request.json > expected.json

request: {"events": [{"key", "t", "amount", "merchant"}...] in processing order,
          "features": [{"name", "agg", "window", "tile", "sample", "q", "qs", "k", "field"}...],
          "tumbling": {"size", "aggs": [{"name", "agg", ...}...]} (optional)}
answer:  {"features": {name: [value per event]}, "windows": [{"key", "start", values...}]}

Lookback (DESIGN.md, time): the vector of event i at time t covers the events of its key
processed before it with time in (t - W, t]; with a tile h, [floor_h(t - W), t]. Tumbling
windows hold every event of the key with time in [start, start + size). Null (None) where the
aggregation is undefined (empty window, too few values, no spread: scipy's nan).
"""
import json
import math
import sys
from collections import Counter

import numpy as np
from scipy import stats


def fmt(x):
    """A bin edge as JavaScript prints it (integers without a decimal point)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def value(agg, rows):
    """rows: (t, seq, amount, merchant) of the window, in processing order."""
    kind = agg["agg"]
    nums = [r[2] for r in rows if r[2] is not None]
    if kind == "first":
        held = sorted((r[0], r[1], r[2]) for r in rows if r[2] is not None)
        return held[0][2] if held else None
    if kind == "first_merchant":
        held = sorted((r[0], r[1], r[3]) for r in rows if r[3] is not None)
        return held[0][2] if held else None
    if kind in ("firstK", "lastK"):
        col = 3 if agg.get("field") == "merchant" else 2
        held = sorted((r[0], r[1], r[col]) for r in rows if r[col] is not None)
        if kind == "lastK":
            held.reverse()
        return [h[2] for h in held[: agg["k"]]]
    if kind == "topK":
        return sorted(nums, reverse=True)[: agg["k"]]
    if kind == "bottomK":
        return sorted(nums)[: agg["k"]]
    if kind == "mostFrequent":
        counts = Counter(r[3] for r in rows if r[3] is not None)
        return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: agg["k"]]]
    if kind == "quantiles":
        return [float(np.quantile(np.array(nums, dtype=np.float64), q)) for q in agg["qs"]] if nums else None
    if kind == "histogram":
        # Answered as [bucket, count] pairs in the declared order, "other" last.
        if "bins" in agg:
            e = agg["bins"]
            labels = [f"[{fmt(e[i])},{fmt(e[i + 1])})" for i in range(len(e) - 1)]
            counts = dict.fromkeys(labels + ["other"], 0)
            for x in nums:
                i = sum(1 for edge in e if edge <= x)
                counts[labels[i - 1] if 0 < i < len(e) else "other"] += 1
            return [[k, v] for k, v in counts.items()]
        cats = [r[3] for r in rows if r[3] is not None]
        if "categories" in agg:
            counts = dict.fromkeys(agg["categories"] + ["other"], 0)
            for c in cats:
                counts[c if c in agg["categories"] else "other"] += 1
            return [[k, v] for k, v in counts.items()]
        top = sorted(Counter(cats).items(), key=lambda kv: (-kv[1], kv[0]))[: agg["maxCategories"]]
        return [[k, v] for k, v in top] + [["other", len(cats) - sum(v for _, v in top)]]
    if kind in ("countBy", "sumBy", "meanBy"):
        # Answered as [category, value] pairs: declared categories in order, or the most
        # frequent first (ties ascending), then "other". Sums with math.fsum (exact, rounded once).
        valued = kind != "countBy" or agg.get("valued", False)
        pairs = [(r[3], r[2]) for r in rows if r[3] is not None and (not valued or r[2] is not None)]

        def cell(xs):
            if kind == "countBy":
                return len(xs)
            if kind == "sumBy":
                return math.fsum(xs)
            return math.fsum(xs) / len(xs) if xs else None

        if "categories" in agg:
            buckets = {c: [] for c in agg["categories"] + ["other"]}
            for c, x in pairs:
                buckets[c if c in agg["categories"] else "other"].append(x)
            return [[k, cell(v)] for k, v in buckets.items()]
        top = sorted(Counter(c for c, _ in pairs).items(), key=lambda kv: (-kv[1], kv[0]))[: agg["maxCategories"]]
        listed = [c for c, _ in top]
        return [[c, cell([x for d, x in pairs if d == c])] for c in listed] + [["other", cell([x for d, x in pairs if d not in listed])]]
    if kind == "distinct":
        return len({r[3] for r in rows if r[3] is not None})
    if kind == "quantile":
        return float(np.quantile(np.array(nums, dtype=np.float64), agg["q"])) if nums else None
    if kind in ("skewness", "kurtosis"):
        sample = agg["sample"]
        if len(nums) < (3 if kind == "skewness" else 4) and sample or not nums:
            return None
        a = np.array(nums, dtype=np.float64)
        if np.ptp(a) == 0:
            return None
        r = stats.skew(a, bias=not sample) if kind == "skewness" else stats.kurtosis(a, bias=not sample, fisher=True)
        return None if math.isnan(r) else float(r)
    raise ValueError(f"unknown aggregation {kind}")


def main():
    req = json.load(sys.stdin)
    events = req["events"]
    by_key = {}
    out = {f["name"]: [] for f in req["features"]}
    for seq, e in enumerate(events):
        history = by_key.setdefault(e["key"], [])
        for f in req["features"]:
            t = e["t"]
            if f.get("tile"):
                h = f["tile"]
                lo = math.floor((t - f["window"]) / h) * h
                rows = [r for r in history if lo <= r[0] <= t]
            else:
                rows = [r for r in history if t - f["window"] < r[0] <= t]
            out[f["name"]].append(value(f, rows))
        history.append((e["t"], seq, e["amount"], e["merchant"]))
    answer = {"features": out, "windows": []}
    tumbling = req.get("tumbling")
    if tumbling:
        size = tumbling["size"]
        wins = {}
        for seq, e in enumerate(events):
            start = math.floor(e["t"] / size) * size
            wins.setdefault((e["key"], start), []).append((e["t"], seq, e["amount"], e["merchant"]))
        for (key, start) in sorted(wins):
            row = {"key": key, "start": start}
            for a in tumbling["aggs"]:
                row[a["name"]] = value(a, wins[(key, start)])
            answer["windows"].append(row)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
