#!/usr/bin/env python3
"""
Independent expectations for topologies/flight-delays.ts, computed with DuckDB SQL.

  flights_expected.py slice SRC DST N
      Write the first N rows (file order) of SRC to DST as Parquet, `date` kept a TIMESTAMP.
      Prints JSON: rows, whether the slice is sorted by date, its date range.

  flights_expected.py check SLICE OUT_DIR VERSION PARTITIONS
      Compute every feature of every flight of SLICE with SQL self-joins over the file order,
      read the engine's Parquet output (OUT_DIR/flight_features/*.parquet), join the two on
      (partition, offset) and compare every column. Prints a JSON report (mismatch counts per
      column, examples, type and metadata checks). Exit code 0 even on mismatches: the caller
      asserts on the report.

Semantics (DESIGN.md, lookback windows): for flight a at time t, a window of length W covers
the flights b of the same origin (same origin and destination for the route) that come
EARLIER IN THE FILE (b.rn < a.rn) with b.date in (t - W, t]. Flights at the same minute that
come later in the file are not counted. The engine gets the file split by Kafka's murmur2 of
the origin mod PARTITIONS; a record's offset is its index within its partition in file order.
"""
import json
import math
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq


# ---------------------------------------------------------------------------------------------
# Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), written from the Java source,
# with its own known-answer vectors from Kafka's UtilsTest.testMurmur2.

def _i32(x):
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def murmur2(data: bytes) -> int:
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = (data[i4] & 0xFF) + ((data[i4 + 1] & 0xFF) << 8) + ((data[i4 + 2] & 0xFF) << 16) + ((data[i4 + 3] & 0xFF) << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r  # Java >>> on a 32-bit int
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rem = length % 4
    if rem == 3:
        h ^= (data[(length & ~3) + 2] & 0xFF) << 16
    if rem >= 2:
        h ^= (data[(length & ~3) + 1] & 0xFF) << 8
    if rem >= 1:
        h ^= data[length & ~3] & 0xFF
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return _i32(h)


KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
for _k, _v in KAFKA_VECTORS.items():
    assert murmur2(_k) == _v, f"murmur2({_k!r}) = {murmur2(_k)}, Kafka says {_v}"


def kafka_partition(key: str, partitions: int) -> int:
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------------------------------------

def cmd_slice(src: str, dst: str, n: int) -> None:
    pf = pq.ParquetFile(src)
    first = pf.read_row_group(0)
    assert first.num_rows >= n, f"row group 0 has only {first.num_rows} rows"
    table = first.slice(0, n)
    # Plain strings (not large_string); `date` stays a timestamp column.
    table = table.cast(pa.schema([
        pa.field("date", pa.timestamp("us")),
        pa.field("delay", pa.int64()),
        pa.field("distance", pa.int64()),
        pa.field("origin", pa.string()),
        pa.field("destination", pa.string()),
    ]))
    pq.write_table(table, dst, row_group_size=20_000)
    written = pq.read_table(dst)
    rows = written.num_rows
    dates = written.column("date").to_pylist()
    sorted_ok = all(dates[i] <= dates[i + 1] for i in range(len(dates) - 1))
    lo, hi = str(min(dates)), str(max(dates))
    print(json.dumps({"rows": rows, "sorted": sorted_ok, "min": lo, "max": hi}))


FLOAT_COLS = [
    "origin_delay_mean_1h",
    "origin_delay_mean_24h",
    "origin_delay_max_24h",
    "origin_delay_std_7d",
    "origin_minutes_since_prev",
    "route_delay_mean_7d",
]
INT_COLS = ["origin_flights_1h", "origin_destinations_24h"]
BOOL_COLS = ["is_delayed"]


def expectations(con: duckdb.DuckDBPyConnection, slice_path: str, partitions: int) -> None:
    table = pq.read_table(slice_path)
    # The file order, made explicit: rn is the row's index in the slice.
    table = table.append_column("rn", pa.array(range(table.num_rows), pa.int64()))
    con.register("slice_arrow", table)
    origins = sorted(set(table.column("origin").to_pylist()))
    parts = pa.table({"origin": origins, "part": [kafka_partition(o, partitions) for o in origins]})
    con.register("parts_arrow", parts)
    con.execute(
        """
        CREATE TABLE f AS
        SELECT s.rn, s.date, epoch_ms(s.date) AS t_ms, s.delay, s.distance, s.origin, s.destination, p.part,
               row_number() OVER (PARTITION BY p.part ORDER BY s.rn) - 1 AS off
        FROM slice_arrow s JOIN parts_arrow p USING (origin)
        """
    )
    # Earlier in the file, same origin, date in (t - W, t].
    def window(name: str, interval: str, aggs: str, route: bool = False) -> None:
        same = "b.origin = a.origin" + (" AND b.destination = a.destination" if route else "")
        con.execute(
            f"""
            CREATE TABLE {name} AS
            SELECT a.rn, {aggs}
            FROM f a LEFT JOIN f b
              ON {same} AND b.rn < a.rn AND b.date > a.date - INTERVAL {interval} AND b.date <= a.date
            GROUP BY a.rn
            """
        )

    window("w1h", "1 HOUR", "count(b.rn) AS origin_flights_1h, avg(b.delay) AS origin_delay_mean_1h")
    window(
        "w24h",
        "24 HOUR",
        "avg(b.delay) AS origin_delay_mean_24h, max(b.delay)::DOUBLE AS origin_delay_max_24h, "
        "count(DISTINCT b.destination) AS origin_destinations_24h",
    )
    window("w7d", "7 DAY", "stddev_samp(b.delay) AS origin_delay_std_7d")
    window("r7d", "7 DAY", "avg(b.delay) AS route_delay_mean_7d", route=True)
    # Previous-in-file flight of the origin with date <= t, over all history.
    con.execute(
        """
        CREATE TABLE prev AS
        SELECT a.rn, (a.t_ms - max(b.t_ms)) / 60000.0 AS origin_minutes_since_prev
        FROM f a LEFT JOIN f b ON b.origin = a.origin AND b.rn < a.rn AND b.date <= a.date
        GROUP BY a.rn, a.t_ms
        """
    )
    con.execute(
        """
        CREATE TABLE expected AS
        SELECT f.rn, f.part, f.off, f.origin, f.t_ms, f.delay > 15 AS is_delayed,
               w1h.origin_flights_1h, w1h.origin_delay_mean_1h,
               w24h.origin_delay_mean_24h, w24h.origin_delay_max_24h, w24h.origin_destinations_24h,
               w7d.origin_delay_std_7d, prev.origin_minutes_since_prev, r7d.route_delay_mean_7d
        FROM f JOIN w1h USING (rn) JOIN w24h USING (rn) JOIN w7d USING (rn) JOIN r7d USING (rn) JOIN prev USING (rn)
        """
    )


def same_float(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def cmd_check(slice_path: str, out_dir: str, version: str, partitions: int) -> None:
    report = {"columns": {}, "examples": {}, "problems": []}
    con = duckdb.connect()
    expectations(con, slice_path, partitions)
    glob = f"{out_dir}/flight_features/*.parquet"

    # -- types and metadata, as pyarrow reads them ---------------------------------------------
    import glob as globmod

    files = sorted(globmod.glob(glob))
    report["files"] = len(files)
    want_types = {
        "key": pa.string(),
        "event_time": pa.timestamp("ms", tz="UTC"),
        "partition": pa.int32(),
        "offset": pa.int64(),
        "origin_flights_1h": pa.int64(),
        "origin_destinations_24h": pa.int64(),
        "origin_delay_mean_1h": pa.float64(),
        "origin_delay_mean_24h": pa.float64(),
        "origin_delay_max_24h": pa.float64(),
        "origin_delay_std_7d": pa.float64(),
        "origin_minutes_since_prev": pa.float64(),
        "route_delay_mean_7d": pa.float64(),
        "is_delayed": pa.bool_(),
        "_version": pa.string(),
    }
    for path in files:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        for name, typ in want_types.items():
            if name not in schema.names:
                report["problems"].append(f"{path}: missing column {name}")
            elif schema.field(name).type != typ:
                report["problems"].append(f"{path}: column {name} is {schema.field(name).type}, expected {typ}")
        extra = set(schema.names) - set(want_types)
        if extra:
            report["problems"].append(f"{path}: unexpected columns {sorted(extra)}")
        kv = pf.metadata.metadata or {}
        got = kv.get(b"skewless.version")
        if got != version.encode():
            report["problems"].append(f"{path}: metadata skewless.version is {got!r}, expected {version!r}")
        versions = set(pq.read_table(path, columns=["_version"]).column("_version").to_pylist())
        if versions != {version}:
            report["problems"].append(f"{path}: _version values {sorted(versions)}, expected {{{version!r}}}")

    # -- values ----------------------------------------------------------------------------------
    con.execute(f"CREATE TABLE engine AS SELECT *, epoch_ms(event_time) AS e_ms FROM read_parquet('{glob}')")
    report["engine_rows"] = con.execute("SELECT count(*) FROM engine").fetchone()[0]
    report["expected_rows"] = con.execute("SELECT count(*) FROM expected").fetchone()[0]
    report["duplicate_positions"] = con.execute(
        'SELECT count(*) FROM (SELECT "partition", "offset" FROM engine GROUP BY ALL HAVING count(*) > 1)'
    ).fetchone()[0]
    report["unmatched_expected"] = con.execute(
        'SELECT count(*) FROM expected x ANTI JOIN engine g ON g."partition" = x.part AND g."offset" = x.off'
    ).fetchone()[0]
    report["unmatched_engine"] = con.execute(
        'SELECT count(*) FROM engine g ANTI JOIN expected x ON g."partition" = x.part AND g."offset" = x.off'
    ).fetchone()[0]
    # How often the tie rule matters: flights with a same-origin flight at the same minute later in the file.
    report["flights_with_later_same_minute_peer"] = con.execute(
        "SELECT count(*) FROM f a WHERE EXISTS (SELECT 1 FROM f b WHERE b.origin = a.origin AND b.date = a.date AND b.rn > a.rn)"
    ).fetchone()[0]
    cols = INT_COLS + FLOAT_COLS + BOOL_COLS
    sel = ", ".join([f"x.{c} AS x_{c}, g.{c} AS g_{c}" for c in cols])
    rows = con.execute(
        f"""
        SELECT x.rn, x.origin, g.key, x.t_ms, g.e_ms, {sel}
        FROM expected x JOIN engine g ON g."partition" = x.part AND g."offset" = x.off
        ORDER BY x.rn
        """
    ).fetchall()
    names = ["rn", "origin", "key", "t_ms", "e_ms"] + [p for c in cols for p in (f"x_{c}", f"g_{c}")]
    report["joined_rows"] = len(rows)
    report["identity_mismatches"] = 0
    mism = {c: 0 for c in cols}
    examples = {c: [] for c in cols}
    nulls = {c: 0 for c in cols}
    for row in rows:
        r = dict(zip(names, row))
        if r["origin"] != r["key"] or r["t_ms"] != r["e_ms"]:
            report["identity_mismatches"] += 1
        for c in cols:
            x, g = r[f"x_{c}"], r[f"g_{c}"]
            if x is None:
                nulls[c] += 1
            if c in FLOAT_COLS:
                ok = same_float(g, None if x is None else float(x))
            else:
                ok = (x is None and g is None) or (x is not None and g is not None and x == g and type(g) is type(x))
            if not ok:
                mism[c] += 1
                if len(examples[c]) < 3:
                    examples[c].append({"rn": r["rn"], "origin": r["origin"], "expected": x, "engine": g})
    report["columns"] = mism
    report["expected_nulls"] = nulls
    report["examples"] = {c: e for c, e in examples.items() if e}
    print(json.dumps(report, default=str))


def main(argv):
    if len(argv) >= 1 and argv[0] == "slice":
        cmd_slice(argv[1], argv[2], int(argv[3]))
    elif len(argv) >= 1 and argv[0] == "check":
        cmd_check(argv[1], argv[2], argv[3], int(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
