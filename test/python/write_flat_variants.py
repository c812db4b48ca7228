"""Writes Parquet files of flat columns in many encodings for test/unit/io-parquet-flat-decoder.test.ts.

Usage: write_flat_variants.py DIR. Each file holds the same 3,000 rows (every type the flat
decoder covers, with nulls, extremes and values that need flooring); they differ in codec,
data page version, dictionary use, page and row group sizes. fallback.parquet adds columns the
decoder leaves to hyparquet (boolean, list, decimal).
"""
import datetime
import decimal
import os
import sys

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as err:
    print(f"missing Python package ({err})", file=sys.stderr)
    sys.exit(3)

N = 3000


def rnd(i, salt):
    x = (i * 2654435761 + salt * 40503) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 1274126177) & 0xFFFFFFFF
    return x ^ (x >> 16)


def maybe(i, salt, value):
    return None if rnd(i, salt) % 7 == 0 else value


i32 = [maybe(i, 1, (rnd(i, 2) % 2000001) - 1000000) for i in range(N)]
i32req = [(rnd(i, 3) % 100) - 50 for i in range(N)]
i64 = [maybe(i, 4, [2**53 + 5, -(2**60), 2**31, -(2**31) - 1, 0, -(2**53), 2**53, 2**53 - 1, -(2**53) + 1][i % 9] if i % 97 == 0 else (rnd(i, 5) % 5000) - 2500) for i in range(N)]
i64big = [maybe(i, 6, rnd(i, 7) * 1_000_003 - 2**40) for i in range(N)]
f32 = [maybe(i, 8, [float("nan"), -0.0, float("inf"), 1.5e38][i % 4] if i % 50 == 0 else (rnd(i, 9) % 100000) / 7.0) for i in range(N)]
f64 = [maybe(i, 10, [float("nan"), -0.0, float("-inf"), 5e-324][i % 4] if i % 40 == 0 else (rnd(i, 11) % 1000003) / 3.0 - 1e5) for i in range(N)]
words = ["ATL", "ORD", "", "Zürich", "東京", "a" * 300, "LAS", "JFK-SFO"]
s = [maybe(i, 12, words[rnd(i, 13) % len(words)] if i % 3 else f"k{rnd(i, 14) % 500}") for i in range(N)]
epoch = datetime.datetime(1970, 1, 1)
ts_ms = [maybe(i, 15, epoch + datetime.timedelta(milliseconds=(rnd(i, 16) % 4_000_000_000_000) - 2_000_000_000_000)) for i in range(N)]
ts_us = [maybe(i, 17, epoch + datetime.timedelta(microseconds=(rnd(i, 18) * 977) - 2_000_000_000_000_000)) for i in range(N)]
ts_ns = [maybe(i, 19, (rnd(i, 20) * 1_000_000_123) - 2_000_000_000_000_000_000) for i in range(N)]
d = [maybe(i, 21, datetime.date(1970, 1, 1) + datetime.timedelta(days=(rnd(i, 22) % 40000) - 20000)) for i in range(N)]

table = pa.table(
    {
        "i32": pa.array(i32, pa.int32()),
        "i32req": pa.array(i32req, pa.int32()),
        "i64": pa.array(i64, pa.int64()),
        "i64big": pa.array(i64big, pa.int64()),
        "f32": pa.array(f32, pa.float32()),
        "f64": pa.array(f64, pa.float64()),
        "s": pa.array(s, pa.string()),
        "ts_ms": pa.array(ts_ms, pa.timestamp("ms")),
        "ts_us": pa.array(ts_us, pa.timestamp("us", tz="UTC")),
        "ts_ns": pa.array(ts_ns, pa.timestamp("ns")),
        "d": pa.array(d, pa.date32()),
    }
)
schema = pa.schema([f if f.name != "i32req" else f.with_nullable(False) for f in table.schema])
table = table.cast(schema)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
variants = []
for codec in ["NONE", "SNAPPY", "ZSTD", "GZIP", "LZ4"]:
    for version in ["1.0", "2.0"]:
        for dictionary in [True, False]:
            variants.append((codec, version, dictionary))
for codec, version, dictionary in variants:
    name = f"{codec.lower()}-v{version[0]}-{'dict' if dictionary else 'plain'}.parquet"
    pq.write_table(
        table,
        os.path.join(out, name),
        compression=codec,
        data_page_version=version,
        use_dictionary=dictionary,
        row_group_size=1100,
        data_page_size=700,
        # A small dictionary page limit makes string chunks switch to PLAIN pages midway.
        dictionary_pagesize_limit=600,
        write_statistics=True,
    )

fallback = table.append_column("flag", pa.array([maybe(i, 23, i % 2 == 0) for i in range(N)], pa.bool_()))
fallback = fallback.append_column("tags", pa.array([[f"t{i % 3}"] * (i % 3) for i in range(N)], pa.list_(pa.string())))
fallback = fallback.append_column("price", pa.array([decimal.Decimal(i) / 100 for i in range(N)], pa.decimal128(9, 2)))
pq.write_table(fallback, os.path.join(out, "fallback.parquet"), row_group_size=1100)
print(len(variants) + 1)
