"""Check that Spark reads a log directory as exactly its nodes (not part of CI).

Builds logs the ways a user does (40 single adds with automatic compaction, a
``compact``, a sync of two logs, a crash then a recovering write) and counts their rows
with ``spark.read.parquet(DIR)``, then checks that a hex key from Spark SQL
(``lower(hex(key))``) is hyperframe's key. Needs ``pip install pyspark`` and a Java
runtime (Debian: ``apt-get install openjdk-17-jre-headless``)::

    python benchmarks/spark_check.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hyperframe  # noqa: E402
import hyperframe.store.manifest as mf  # noqa: E402


def build(root: Path) -> dict[str, hyperframe.Log]:
    """The logs to count, by scenario."""
    logs: dict[str, hyperframe.Log] = {}
    adds = hyperframe.open(root / "adds")
    for i in range(40):
        adds.add(f"node {i}", links=adds.heads())
    logs["40 adds (auto-compaction)"] = adds

    compacted = hyperframe.open(root / "compacted")
    for i in range(40):
        compacted.add(f"node {i}", links=compacted.heads())
    compacted.compact()
    logs["40 adds + compact"] = compacted

    a, b = hyperframe.open(root / "a", encoding="json"), hyperframe.open(root / "b", encoding="json")
    root_a, root_b = a.add({"root": True}), b.add({"root": True})
    for i in range(30):
        a.add({"side": "a", "n": i}, links=a.heads() or [root_a])
        b.add({"side": "b", "n": i}, links=b.heads() or [root_b])
    hyperframe.replicate(a, b)
    logs["sync, side A"] = a
    logs["sync, side B"] = b

    crashed = hyperframe.open(root / "crashed")
    for i in range(5):
        crashed.add(f"node {i}", links=crashed.heads())
    real = mf.publish

    def die(*args: object, **kwargs: object) -> bool:
        raise OSError("simulated crash between the segment and its manifest")

    mf.publish = die
    try:
        crashed.add("lost", links=crashed.heads())
    except OSError:
        pass
    finally:
        mf.publish = real
    crashed.add("next", links=crashed.heads())  # the next writer recovers
    logs["crash, then the next write"] = crashed
    return logs


def main() -> int:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("hyperframe-spark-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, log in build(Path(tmp)).items():
            count = spark.read.parquet(str(log.path)).count()
            ok = count == len(log)
            failures += not ok
            mark = "ok  " if ok else "FAIL"
            print(f"{mark} {name:<28} len(log) = {len(log):>3}   spark.read.parquet(DIR).count() = {count}")
        log = hyperframe.open(Path(tmp) / "adds")
        head = log.heads()[0]
        frame = spark.read.parquet(str(log.path))
        frame.createOrReplaceTempView("log")
        rows = spark.sql(
            f"select lower(hex(key)) as key, transform(links, x -> lower(hex(x))) as links, "
            f"cast(value as string) as value from log where lower(hex(key)) = '{head}'"
        ).collect()
        ok = len(rows) == 1 and rows[0]["key"] == head and tuple(rows[0]["links"]) == log.get(head).links
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} lower(hex(key)) finds the head {head[:12]}: value {rows[0]['value']!r}")
        sides = spark.read.parquet(str(Path(tmp) / "a"))
        sides.createOrReplaceTempView("a")
        found = dict(
            spark.sql(
                "select get_json_object(cast(value as string), '$.side') as side, count(*) from a group by 1"
            ).collect()
        )
        ok = found == {"a": 30, "b": 30, None: 1}
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} get_json_object(cast(value as string), '$.side') counts {found}")
    spark.stop()
    print(f"spark {spark.version}: {'all counts right' if not failures else f'{failures} failure(s)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
