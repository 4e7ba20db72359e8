#!/usr/bin/env python3
"""Benchmarks of the notebook layer (issue 4), with baselines measured in the same run.

    python benchmarks/bench_notebook.py            # 1,000,000-node JSON log (~1-2 min to build)
    python benchmarks/bench_notebook.py --quick    # 100,000 nodes: a smoke run
    python benchmarks/bench_notebook.py --nodes 250000 --repeat 5

Lines printed (``ours``/``baseline`` are medians of ``--repeat`` runs after one warm-up):

- ``to_pandas``: ``log.to_pandas(expand=False)`` (key and links as hex, change, depth,
  is_head, value as JSON text) against pyarrow reading the same live segment files
  itself, ``pq.read_table(files).to_pandas()`` (target: ratio <= 1.5);
- ``to_pandas_numpy_lists``: the same, but with ``links`` converted the way pyarrow
  converts lists by default (numpy arrays of Python str, as in the baseline) instead of
  hyperframe's default pandas ``ArrowDtype`` lists;
- ``to_pandas_expanded``: ``log.to_pandas()`` with the JSON fields as columns; the cost of
  the expansion is reported on its own (no target);
- ``to_arrow``: the same at the Arrow level (report only);
- ``plot_500``: ``log.plot(label=...)`` of a 500-node log opened fresh, so its columns
  are read inside the timing (target: under 2 s); saving it as PNG is reported too.

The log is a JSON log built with ``log.batch`` in chunks of 100,000: two writers taking
turns (node i links node i-2), and every 100th node a merge of both writers' latest nodes.

``benchmarks/run.py`` runs the issue-13 lines from here (``BENCHMARKS``: ``json_columns``,
``json_check``, ``big_diff``, ``big_widget``), each against a baseline timed in the same
run; see ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import hyperframe  # noqa: E402

SPECIES = ("Adelie", "Gentoo", "Chinstrap")
ISLANDS = ("Biscoe", "Dream", "Torgersen")
CHUNK = 100_000


def value(i: int) -> dict[str, Any]:
    """A penguin-like observation: a few fields, one nested object, ~190 bytes of JSON."""
    return {
        "type": "observation",
        "i": i,
        "team": "biscoe" if i % 2 == 0 else "dream",
        "island": ISLANDS[i % 3],
        "species": SPECIES[(i * 7) % 3],
        "bill": {"length_mm": 32.0 + (i % 280) / 10, "depth_mm": 13.0 + (i % 85) / 10},
        "flipper_length_mm": 172 + i % 60,
        "body_mass_g": 2700 + (i * 37) % 3600,
        "sex": "female" if i % 5 < 2 else "male",
    }


def build(path: Path, n: int) -> hyperframe.Log:
    """The benchmark log: two interleaved writers and a merge every 100 nodes."""
    log = hyperframe.open(path, encoding="json")
    encode = log.encoding.encode
    keys: list[str] = []
    for start in range(0, n, CHUNK):
        docs = []
        for i in range(start, min(n, start + CHUNK)):
            if i < 2:
                links: list[str] = []
            elif i % 100 == 0:
                links = [keys[i - 2], keys[i - 1]]
            else:
                links = [keys[i - 2]]
            v = value(i)
            docs.append({"value": v, "links": links})
            keys.append(hyperframe.node_key(encode(v), links))
        log.batch(docs)
    log.compact()
    return log


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` runs after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def line(name: str, text: str, met: bool | None) -> None:
    verdict = "report only" if met is None else ("OK" if met else "MISSED")
    print(f"{name}: {text} {verdict}", flush=True)


def segment_files(log: hyperframe.Log) -> list[str]:
    manifest = log.manifest
    assert manifest is not None
    return [str(log.path / s.file) for s in manifest.segments]


def bench_frames(log: hyperframe.Log, repeat: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = segment_files(log)
    n = len(log)

    def baseline() -> Any:
        return pq.read_table(files).to_pandas()

    note = ""
    try:
        baseline()
    except pa.ArrowNotImplementedError as exc:
        # pandas cannot hold list<fixed_size_binary> (pyarrow 26 + pandas 3): cast links to
        # list<binary> first, the least the baseline must do to produce a DataFrame at all
        note = f" [plain read_table().to_pandas() fails here ({exc}); baseline casts links to list<binary>]"
        target = pa.schema(
            [pa.field("key", pa.binary(32)), pa.field("links", pa.list_(pa.binary())), pa.field("value", pa.binary())]
        )

        def baseline() -> Any:
            return pq.read_table(files).cast(target).to_pandas()

    base_s, base_df = timed(baseline, repeat)
    ours_s, ours_df = timed(lambda: log.to_pandas(expand=False, progress=False), repeat)
    assert len(ours_df) == len(base_df) == n
    ratio = ours_s / base_s
    line(
        "to_pandas",
        f"{n:,} nodes: ours {ours_s:.2f} s, baseline {base_s:.2f} s (pq.read_table(files).to_pandas()), "
        f"ratio {ratio:.2f} (ours/baseline; target <= 1.5){note}",
        ratio <= 1.5,
    )

    numpy_s, _ = timed(lambda: log.to_pandas(expand=False, progress=False, types_mapper=None), repeat)
    line(
        "to_pandas_numpy_lists",
        f"{n:,} nodes: ours with pyarrow's default list conversion (links as numpy arrays of str, "
        f"as the baseline's) {numpy_s:.2f} s, ratio {numpy_s / base_s:.2f} to the baseline (target <= 1.5)",
        numpy_s / base_s <= 1.5,
    )

    full_s, full_df = timed(lambda: log.to_pandas(progress=False), repeat)
    assert "species" in full_df.columns and "bill.length_mm" in full_df.columns
    line(
        "to_pandas_expanded",
        f"{n:,} nodes, {len(full_df.columns) - 5} value columns: ours {full_s:.2f} s, of which JSON expansion "
        f"{full_s - ours_s:.2f} s; ratio {full_s / base_s:.2f} to the baseline (no target)",
        None,
    )

    arrow_base_s, _ = timed(lambda: pq.read_table(files), repeat)
    arrow_s, _ = timed(lambda: log.to_arrow(expand=False, progress=False), repeat)
    line(
        "to_arrow",
        f"{n:,} nodes: ours {arrow_s:.2f} s, pq.read_table(files) {arrow_base_s:.2f} s, "
        f"ratio {arrow_s / arrow_base_s:.2f} (hex keys, depth and heads on top of the read)",
        None,
    )


def bench_plot(work: Path, repeat: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    path = work / "plot-500"
    source = build(path, 500)
    del source

    def draw() -> Any:
        return hyperframe.open(path).plot(label="species", max_nodes=500)

    seconds, fig = timed(draw, repeat)
    save_s, _ = timed(lambda: fig.savefig(work / "graph.png", dpi=100), repeat)
    line(
        "plot_500",
        f"500 nodes: plot() {seconds:.2f} s from a freshly opened log (target < 2 s); savefig PNG {save_s:.2f} s more",
        seconds < 2.0,
    )


# --- the lines benchmarks/run.py prints (issue 13) -------------------------------------------


@dataclass(frozen=True)
class NotebookSizes:
    json_n: int  # nodes of the JSON log whose fields are expanded
    check_n: int  # received values whose JSON is checked
    pair_n: int  # nodes each log of the diff/widget pair shares
    pair_k: int  # nodes each side adds on top (1 %)
    reps: int


NB_FULL = NotebookSizes(json_n=1_000_000, check_n=100_000, pair_n=200_000, pair_k=2_000, reps=3)
NB_QUICK = NotebookSizes(json_n=20_000, check_n=5_000, pair_n=10_000, pair_k=100, reps=2)


def _nb_sizes(ctx: Any) -> NotebookSizes:
    return NB_QUICK if ctx.quick else NB_FULL


def _json_log(ctx: Any) -> hyperframe.Log:
    """The penguin-like JSON log of ``json_n`` nodes (:func:`build`), built once per run."""
    n = _nb_sizes(ctx).json_n
    path = ctx.work / f"nb-json-{n}.db"
    if not path.exists():
        start = time.perf_counter()
        build(path, n)
        ctx.note(f"(built the {n:,}-node JSON log in {time.perf_counter() - start:.0f} s)")
    return hyperframe.open(path)


def pair(ctx: Any) -> tuple[Path, Path]:
    """Two JSON logs sharing ``pair_n`` nodes (one a copy of the other), each with ``pair_k`` of its own."""
    sizes = _nb_sizes(ctx)
    a, b = ctx.work / f"nb-pair-{sizes.pair_n}-a.db", ctx.work / f"nb-pair-{sizes.pair_n}-b.db"
    if not b.exists():
        build(a, sizes.pair_n)
        shutil.copytree(a, b)
        for path, side in ((a, "a"), (b, "b")):
            log = hyperframe.open(path)
            head = log.heads()[0]
            log.batch(
                [{"value": {"side": side, "j": j}, "links": [head] if j == 0 else []} for j in range(sizes.pair_k)]
            )
    return a, b


def bench_json_columns(ctx: Any) -> None:
    """``to_pandas()`` with the JSON fields as columns against pyarrow reading the same files."""
    import pyarrow.parquet as pq
    from bench_core import fmt_s

    sizes = _nb_sizes(ctx)
    log = _json_log(ctx)
    files = segment_files(log)
    n = len(log)
    base_s, base_df = timed(lambda: pq.read_table(files).to_pandas(), sizes.reps)
    ours_s, ours_df = timed(lambda: log.to_pandas(progress=False), sizes.reps)
    plain_s, _ = timed(lambda: log.to_pandas(expand=False, progress=False), sizes.reps)
    assert len(ours_df) == len(base_df) == n and "bill.length_mm" in ours_df.columns
    ratio = ours_s / base_s
    ctx.emit(
        f"to_pandas_json_fields_{n:_}",
        ours=f"log.to_pandas() {fmt_s(ours_s)} ({len(ours_df.columns) - 5} value columns; "
        f"{fmt_s(ours_s - plain_s)} more than expand=False)",
        baseline=f"pq.read_table(files).to_pandas() {fmt_s(base_s)}",
        ratio=ratio,
        ratio_text="ours/baseline",
        target="<= 1.5x",
        met=ratio <= 1.5,
        seconds=ours_s,
        baseline_seconds=base_s,
        plain_seconds=plain_s,
    )


def bench_json_check(ctx: Any) -> None:
    """The JSON check of received values: the scan against ``json.loads`` of each value."""
    import pyarrow.parquet as pq
    from bench_core import fmt_s

    from hyperframe.encodings import _json_undecodable, _json_undecodable_each

    sizes = _nb_sizes(ctx)
    values = pq.read_table(segment_files(_json_log(ctx)), columns=["value"]).column("value")
    values = values.slice(0, sizes.check_n)
    n = len(values)
    base_s, expected = timed(lambda: _json_undecodable_each(values.to_pylist()), sizes.reps)
    ours_s, got = timed(lambda: _json_undecodable(values), sizes.reps)
    assert got == expected == []
    ctx.emit(
        f"json_check_{n:_}_values",
        ours=f"one scan at known offsets {fmt_s(ours_s)}",
        baseline=f"json.loads of each value (the check before issue 13) {fmt_s(base_s)}",
        ratio=ours_s / base_s,
        ratio_text="ours/baseline",
        target="faster, refusing exactly the same values",
        met=ours_s < base_s,
        seconds=ours_s,
        baseline_seconds=base_s,
    )


def bench_big_diff(ctx: Any) -> None:
    """``hyperframe.diff`` of two logs that each hold 1 % the other lacks, opened fresh."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from bench_core import fmt_s

    sizes = _nb_sizes(ctx)
    a, b = pair(ctx)

    def floor() -> int:
        keys = [pq.read_table(segment_files(hyperframe.open(p)), columns=["key"]).column("key") for p in (a, b)]
        return int(pc.sum(pc.is_in(keys[0], value_set=keys[1].combine_chunks())).as_py())

    base_s, shared = timed(floor, sizes.reps)
    ours_s, found = timed(lambda: hyperframe.diff(a, b), sizes.reps)
    assert found.shared == shared == sizes.pair_n and len(found.only_in_a) == len(found.only_in_b) == sizes.pair_k
    total = sizes.pair_n + sizes.pair_k
    ctx.emit(
        f"diff_{total:_}_plus_1pct_each_side",
        ours=f"hyperframe.diff(A, B) from paths {fmt_s(ours_s)}",
        baseline=f"pq.read_table of both key columns + pc.is_in {fmt_s(base_s)}",
        ratio=ours_s / base_s,
        ratio_text="ours/baseline",
        target="< 1 s",
        met=ours_s < 1.0,
        seconds=ours_s,
        baseline_seconds=base_s,
    )


def bench_big_widget(ctx: Any) -> None:
    """``merge_widget(A, B)`` from paths until it is built, and opening its graph section."""
    from bench_core import fmt_s

    sizes = _nb_sizes(ctx)
    a, b = pair(ctx)
    base_s, _ = timed(lambda: hyperframe.diff(a, b), sizes.reps)
    ours_s, widget = timed(lambda: hyperframe.merge_widget(a, b), sizes.reps)
    assert widget.diff is not None and len(widget.diff.only_in_a) == sizes.pair_k
    start = time.perf_counter()
    widget.sections.selected_index = 1  # draws the diff plot
    graph_s = time.perf_counter() - start
    total = sizes.pair_n + sizes.pair_k
    ctx.emit(
        f"merge_widget_{total:_}_plus_1pct_each_side",
        ours=f"merge_widget(A, B) from paths {fmt_s(ours_s)} (opening its graph section: {fmt_s(graph_s)} more)",
        baseline=f"hyperframe.diff(A, B) {fmt_s(base_s)}",
        ratio=ours_s / base_s,
        ratio_text="ours/baseline",
        target="< 2 s",
        met=ours_s < 2.0,
        seconds=ours_s,
        baseline_seconds=base_s,
        graph_seconds=graph_s,
    )


BENCHMARKS: dict[str, Callable[[Any], None]] = {
    "json_columns": bench_json_columns,
    "json_check": bench_json_check,
    "big_diff": bench_big_diff,
    "big_widget": bench_big_widget,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 nodes instead of 1,000,000")
    parser.add_argument("--nodes", type=int, default=None, help="size of the big log")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (median)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build logs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--log", type=Path, default=None, help="build the big log here, or reuse it if it already holds --nodes nodes"
    )
    args = parser.parse_args(argv)

    n = args.nodes or (100_000 if args.quick else 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="hf-bench-nb-", dir=args.workdir))
    try:
        import pandas
        import pyarrow

        print(
            f"hyperframe notebook benchmarks: python {sys.version.split()[0]}, pyarrow {pyarrow.__version__}, "
            f"pandas {pandas.__version__}; work dir {work}",
            flush=True,
        )
        start = time.perf_counter()
        path = args.log or work / "big"
        if args.log and len(hyperframe.open(path)) == n:
            log, verb = hyperframe.open(path), "reused"
        else:
            if path.exists():
                shutil.rmtree(path)
            log, verb = build(path, n), "built"
        size = sum(Path(f).stat().st_size for f in segment_files(log))
        print(
            f"    ({verb} {n:,} nodes in {time.perf_counter() - start:.0f} s: {size / 1e6:.0f} MB of segments)",
            flush=True,
        )
        bench_frames(log, args.repeat)
        bench_plot(work, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
