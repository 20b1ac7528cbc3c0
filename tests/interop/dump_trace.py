"""Reads traces with one Parquet reader and writes what it read in one
canonical form, so readers can be compared value by value. Run with the
reader's own Python (see readers.py):

    python dump_trace.py READER --rows OUT_DIR TRACE...   # OUT_DIR/0.jsonl, 1.jsonl, ...
    python dump_trace.py READER --sql SPEC.json OUT_DIR   # portable SQL

A TRACE is a file or a directory of segment files (read as one). Rows
come out ordered by id, one JSON list per line, columns in FORMAT.md's
order; floats as `float.hex` (keeps -0.0 and NaN apart from 0.0 and
null); inputs as [role, key, src] lists. Only the standard library is
imported here besides the reader itself."""

import json
import math
import pathlib
import sys

COLUMNS = [
    "id", "kind", "name", "inputs", "frame", "thread", "file", "line", "type",
    "value_int", "value_float", "value_bool", "value_str", "value_repr",
]  # fmt: skip


def files_of(trace):
    path = pathlib.Path(trace)
    return sorted(str(p) for p in path.glob("part-*.parquet")) if path.is_dir() else [str(path)]


def canonical_float(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return float(value).hex()


def canonical_input(item):
    if isinstance(item, dict):
        role, key, src = item["role"], item["key"], item["src"]
    else:  # a Spark Row or a tuple, fields in schema order
        role, key, src = item[0], item[1], item[2]
    return [str(role), key, int(src)]


def canonical(row):
    """row: the column values in COLUMNS order, as the reader gave them."""
    out = []
    for column, value in zip(COLUMNS, row):
        if value is None:
            out.append(None)
        elif column == "inputs":
            out.append([canonical_input(item) for item in value])
        elif column == "value_float":
            out.append(canonical_float(value))
        elif column == "value_bool":
            out.append(bool(value))
        elif column in ("id", "frame", "thread", "line", "value_int"):
            out.append(int(value))
        else:
            out.append(str(value))
    return out


def rows_pyarrow(files):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(f) for f in files])
    table = table.sort_by("id")
    columns = [table.column(c).to_pylist() for c in COLUMNS]
    return zip(*columns)


def rows_duckdb(files):
    import duckdb

    con = duckdb.connect()
    columns = ", ".join(COLUMNS)
    result = con.execute(f"SELECT {columns} FROM read_parquet(?) ORDER BY id", [files])
    while batch := result.fetchmany(10000):
        yield from batch


def rows_polars(files):
    import polars

    frame = polars.concat([polars.read_parquet(f) for f in files]).sort("id")
    return frame.select(COLUMNS).iter_rows()


def rows_fastparquet(files):
    import fastparquet
    import pandas

    frame = fastparquet.ParquetFile(files).to_pandas()
    frame = frame.sort_values("id", kind="stable")
    # pandas' nullable columns give pd.NA for null. inputs and value_float
    # stay as given (None, and NaN for null too: fastparquet's limits), so
    # a real NaN stays NaN.
    as_given = ("inputs", "value_float")
    for record in frame[COLUMNS].itertuples(index=False, name=None):
        yield [
            v if c in as_given or v is None or not pandas.isna(v) else None
            for c, v in zip(COLUMNS, record)
        ]


_spark = None


def spark():
    global _spark
    if _spark is None:
        from pyspark.sql import SparkSession

        _spark = (
            SparkSession.builder.master("local[2]")
            .appName("hltpy-interop")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        _spark.sparkContext.setLogLevel("ERROR")
    return _spark


def rows_pyspark(files):
    frame = spark().read.parquet(*files).select(*COLUMNS).orderBy("id")
    for row in frame.toLocalIterator():
        yield list(row)


READ = {
    "pyarrow": rows_pyarrow,
    "duckdb": rows_duckdb,
    "polars": rows_polars,
    "fastparquet": rows_fastparquet,
    "pyspark": rows_pyspark,
}


def dump_rows(library, out_dir, traces):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for index, trace in enumerate(traces):
        with open(out / f"{index}.jsonl", "w", encoding="utf-8") as sink:
            for row in READ[library](files_of(trace)):
                sink.write(json.dumps(canonical(row), ensure_ascii=False))
                sink.write("\n")


# --- the portable SQL -----------------------------------------------------


def spark_dialect(sql):
    """FORMAT.md's views and constraints.sql are written in the SQL that
    DataFusion and DuckDB share; Spark 3.5 spells two things otherwise:
    it has `explode` for `unnest`, and no VARCHAR without a length."""
    return sql.replace("unnest(inputs)", "explode(inputs)").replace("AS VARCHAR)", "AS STRING)")


def sql_duckdb(traces, views, queries):
    import duckdb

    con = duckdb.connect()
    union = " UNION ALL ".join(
        f"SELECT '{name}' AS trace, * FROM read_parquet({files_of(path)!r})"
        for name, path in traces
    )
    con.execute(f"CREATE VIEW nodes AS {union}")
    for name, sql in views:
        con.execute(f"CREATE VIEW {name} AS {sql}")
    for name, sql in queries:
        result = con.execute(sql)
        header = [d[0] for d in result.description]
        yield name, header, result.fetchall()


def sql_pyspark(traces, views, queries):
    session = spark()
    frames = [
        session.read.parquet(*files_of(path)).selectExpr(f"'{name}' AS trace", "*")
        for name, path in traces
    ]
    nodes = frames[0]
    for frame in frames[1:]:
        nodes = nodes.unionByName(frame)
    nodes.createOrReplaceTempView("nodes")
    for name, sql in views:
        session.sql(spark_dialect(sql)).createOrReplaceTempView(name)
    for name, sql in queries:
        frame = session.sql(spark_dialect(sql))
        yield name, frame.columns, [tuple(row) for row in frame.collect()]


SQL = {"duckdb": sql_duckdb, "pyspark": sql_pyspark}


def text(value):
    """Values as hltpy-analyze's CSV prints them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dump_sql(library, spec_path, out_dir):
    """spec: {"traces": [[name, path]...], "views": [[name, sql]...],
    "queries": [[name, sql]...]}; writes OUT_DIR/NAME.json per query:
    {"header": [...], "rows": [[text...]...]} with the rows sorted."""
    spec = json.loads(pathlib.Path(spec_path).read_text())
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, header, rows in SQL[library](spec["traces"], spec["views"], spec["queries"]):
        texts = sorted([text(v) for v in row] for row in rows)
        (out / f"{name}.json").write_text(
            json.dumps({"header": header, "rows": texts}, ensure_ascii=False)
        )


def main(argv):
    library, mode = argv[1], argv[2]
    if mode == "--sql":
        dump_sql(library, argv[3], argv[4])
    elif mode == "--rows":
        dump_rows(library, argv[3], argv[4:])
    else:
        sys.exit(f"unknown mode {mode!r}: --rows or --sql")


if __name__ == "__main__":
    main(sys.argv)
