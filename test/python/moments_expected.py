#!/usr/bin/env python3
"""scipy's skewness (bias=False) and excess kurtosis (bias=True) of sliding windows.

request: {"values": [...], "window": W, "at": [i, ...]}
answer: [[skew, kurt, |mean| / std] of values[i-W+1 .. i], ...]
"""
import json
import sys

import numpy as np
from scipy import stats

req = json.load(sys.stdin)
a = np.array(req["values"], dtype=np.float64)
w = req["window"]
out = []
for i in req["at"]:
    win = a[i - w + 1 : i + 1]
    out.append([float(stats.skew(win, bias=False)), float(stats.kurtosis(win, bias=True)), float(abs(win.mean()) / win.std())])
json.dump(out, sys.stdout)
