"""The reliability stress run (issues 5 and 9): crashes, corruption, concurrency, hostile peers,
limits, lying peers, repairs.

One command runs every part and prints one totals line per part, then ``total``::

    python -m benchmarks.stress                        # the full run (~5 min on 2 cores)
    python -m benchmarks.stress --trials 20 --streams 500 --writers 4x250   # a quick one
    python -m benchmarks.stress --only crash,fuzz --seed 7 --seconds 120

    crash: trials 200, kills 200, failures 0 (add 34, batch 34, append 33, compact 33, sync 33, cli 33; ...)
    corruption: cases 14,042, failures 0 (72 damage cases over 12 kinds ..., 13,970 single-byte flips)
    concurrency: writers 4x1000 (add/batch), nodes 4000/4000, compactions 94, syncs 199 (+37 'run again'), ...
    fuzz: streams 10000 (decoders 5989, sessions 4011, open 40), failures 0 (session endings: ...)
    limits: cases 4, failures 0 (8 MB value 0.8 s; 100,000 heads 6.1 s; 4 GB length prefix 0.0 s; ...)
    peers: runs 300, failures 0 (need-loop 16, full-loop 16, ...; max 10.4 s, max RSS +240 MiB; --timeout 1, ...)
    repairs: trials 200, kills 250, repairs 1105, failures 0 (damages: delete 65, flip 68, ...; nodes dropped ...)
    total: failures 0

``python -m benchmarks.stress --only peers,repairs --peers 300 --repairs 200`` runs the two
issue-9 parts alone.

Run it from the repository root (or with the root on ``PYTHONPATH``). The exit status is 1
when anything failed (every failure is printed above the totals), 0 otherwise. The run is
seeded (``--seed``); ``--seconds`` bounds the time-driven parts (crash trials, fuzz
streams, lying-peer runs and repair trials stop being started once a part has used that
many seconds, and the line then says how many ran). ``--workdir DIR --keep`` leaves the logs behind for a post-mortem.

The modules: :mod:`.harness` (what a healthy log looks like, child processes, results),
one per part (:mod:`.crash`, :mod:`.corruption`, :mod:`.concurrency`, :mod:`.fuzz` with
:mod:`.wire` and :mod:`.streams`, :mod:`.limits`, :mod:`.liar` (lying peers against a real
``hyperframe replicate`` process), :mod:`.repairs` (damage, killed repairs, repair again))
and :mod:`.cli` (the command line).
The tests ``tests/reliability/test_reliability_*.py`` import this package (``from benchmarks import
stress``) and run each part at CI size, so the code that the CI checks is the code that
the full run uses. See docs/RELIABILITY.md.
"""

from __future__ import annotations

from .cli import CHILD_ROLES, PARTS, child_main, main, run_part
from .concurrency import concurrency_child, run_concurrency
from .corruption import (
    DAMAGE_KINDS,
    Damage,
    Sample,
    _segment_files,
    build_sample,
    corruption_case,
    damage,
    flip_sweep,
    probe_reads,
    run_corruption,
)
from .crash import CRASH_DELAY, CRASH_OPS, CRASH_RESET_NODES, CrashCampaign, crash_child, crash_trial, run_crash
from .fuzz import (
    FuzzWorker,
    StreamOutcome,
    fuzz_job,
    fuzz_server,
    run_decoder_stream,
    run_fuzz,
    run_open_stream,
    run_session_stream,
)
from .harness import (
    ROOT,
    CliRunner,
    LogCheck,
    PartResult,
    check_log,
    cli_inprocess,
    cli_subprocess,
    read_records,
    spawn_child,
    summarize,
    tree_state,
)
from .liar import BEHAVIOURS, HELLO_VARIANTS, Peer, RunResult, Target, build_targets, plan_runs, run_one, run_peers
from .limits import (
    LIMITS,
    limit_big_value,
    limit_length_prefix,
    limit_many_heads,
    limit_oversized_value,
    run_limits,
)
from .repairs import (
    DAMAGES,
    SHAPES,
    Tally,
    build_log,
    intact_nodes,
    recoverable,
    repair_trial,
    run_repairs,
)
from .streams import generate_stream, mutate_hello, mutate_nodes, mutate_stream
from .wire import (
    KINDS,
    FuzzBase,
    Sink,
    Transcript,
    build_fuzz_base,
    frame_bytes,
    join_frames,
    load_fuzz_base,
    split_frames,
)

__all__ = [
    "BEHAVIOURS",
    "CHILD_ROLES",
    "CRASH_DELAY",
    "CRASH_OPS",
    "CRASH_RESET_NODES",
    "DAMAGES",
    "DAMAGE_KINDS",
    "HELLO_VARIANTS",
    "KINDS",
    "LIMITS",
    "PARTS",
    "ROOT",
    "SHAPES",
    "CliRunner",
    "CrashCampaign",
    "Damage",
    "FuzzBase",
    "FuzzWorker",
    "LogCheck",
    "PartResult",
    "Peer",
    "RunResult",
    "Sample",
    "Sink",
    "StreamOutcome",
    "Tally",
    "Target",
    "Transcript",
    "_segment_files",
    "build_fuzz_base",
    "build_log",
    "build_sample",
    "build_targets",
    "check_log",
    "child_main",
    "cli_inprocess",
    "cli_subprocess",
    "concurrency_child",
    "corruption_case",
    "crash_child",
    "crash_trial",
    "damage",
    "flip_sweep",
    "frame_bytes",
    "fuzz_job",
    "fuzz_server",
    "generate_stream",
    "intact_nodes",
    "join_frames",
    "limit_big_value",
    "limit_length_prefix",
    "limit_many_heads",
    "limit_oversized_value",
    "load_fuzz_base",
    "main",
    "mutate_hello",
    "mutate_nodes",
    "mutate_stream",
    "plan_runs",
    "probe_reads",
    "read_records",
    "recoverable",
    "repair_trial",
    "run_concurrency",
    "run_corruption",
    "run_crash",
    "run_decoder_stream",
    "run_fuzz",
    "run_limits",
    "run_one",
    "run_open_stream",
    "run_part",
    "run_peers",
    "run_repairs",
    "run_session_stream",
    "spawn_child",
    "split_frames",
    "summarize",
    "tree_state",
]
