#!/usr/bin/env python3
"""Reads a Parquet file with list / map columns the way a data scientist would; prints JSON.

Usage: read_nested.py <file.parquet>
Output: {"arrow_types": {col: str}, "pyarrow": {col: [values]}, "pandas": {col: [values]},
         "duckdb_types": {col: str}, "duckdb": {col: [values]}}. Maps come as lists of
[key, value] pairs from every reader (pyarrow's and pandas' own form of a map).
"""
import json
import math
import sys

import duckdb
import pyarrow.parquet as pq


def plain(v):
    if v is None:
        return None
    if hasattr(v, "timestamp"):  # pandas / datetime timestamps: epoch ms
        return round(v.timestamp() * 1000)
    if isinstance(v, dict):
        return [[k, plain(x)] for k, x in v.items()]
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    return v


path = sys.argv[1]
table = pq.read_table(path)
out = {
    "arrow_types": {f.name: str(f.type) for f in table.schema},
    "pyarrow": {name: [plain(v) for v in table.column(name).to_pylist()] for name in table.column_names},
}
df = table.to_pandas()
out["pandas"] = {name: [plain(v) for v in df[name]] for name in df.columns}
con = duckdb.connect()
rel = con.execute(f"SELECT * FROM read_parquet('{path}')")
names = [d[0] for d in rel.description]
rows = rel.fetchall()
out["duckdb_types"] = {name: str(t) for name, t in zip(names, [d[1] for d in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()])}
out["duckdb"] = {name: [plain(r[i]) for r in rows] for i, name in enumerate(names)}
json.dump(out, sys.stdout)
