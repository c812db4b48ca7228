"""Reads a skewless training Parquet file the way a data scientist would, and prints JSON.

Usage: python3 test/python/read_training.py <file.parquet>

Output: {"arrow_types", "pandas_dtypes", "rows" (timestamps as epoch ms), "metadata",
"num_rows", "num_row_groups", "duckdb_count"}. Used by test/unit/io-parquet-python.test.ts to
prove the files read back with the intended types outside Node.
"""

import json
import math
import sys

try:
    import duckdb
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as err:  # the node test shows this message as its failure reason
    print(f"missing Python package ({err}). Run `pip install -r requirements.txt`.", file=sys.stderr)
    sys.exit(3)


def plain(value):
    """JSON-safe Python value; timestamps become epoch milliseconds, NaN becomes a string."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp) or hasattr(value, "timestamp"):
        if pd.isna(value):
            return None
        return int(pd.Timestamp(value).value // 1_000_000)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if hasattr(value, "item"):  # numpy scalar
        return plain(value.item())
    return value


def main(path):
    parquet_file = pq.ParquetFile(path)
    table = parquet_file.read()
    frame = pd.read_parquet(path)
    rows = [{name: plain(row[name]) for name in table.column_names} for row in table.to_pylist()]
    metadata = {
        key.decode(): value.decode()
        for key, value in (parquet_file.metadata.metadata or {}).items()
    }
    duckdb_count = duckdb.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()[0]
    print(json.dumps({
        "arrow_types": {field.name: str(field.type) for field in table.schema},
        "arrow_nullable": {field.name: field.nullable for field in table.schema},
        "pandas_dtypes": {name: str(dtype) for name, dtype in frame.dtypes.items()},
        "rows": rows,
        "metadata": metadata,
        "num_rows": parquet_file.metadata.num_rows,
        "num_row_groups": parquet_file.metadata.num_row_groups,
        "duckdb_count": duckdb_count,
    }))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: read_training.py <file.parquet>", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
