"""Replication between two real OS processes.

`hyperframe pipe 'hyperframe replicate A' 'hyperframe replicate B'` wires each process's
stdout into the other's stdin (dupsh's job); `hyperframe sync A B` replicates two
directories. Same cases as tests/sync/test_sync.py; after every successful run both logs
hold exactly the union, with the same heads, and pass `verify`.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import Snapshot
from sync_helpers import Content, assert_converged, assert_holds, content, grow, union

import hyperframe
from hyperframe.verify import verify_log

# every case starts two or three interpreters (0.5-3 s each); test_sync.py runs the same cases in-process
pytestmark = pytest.mark.slow
HF = [sys.executable, "-m", "hyperframe"]

# --- helpers ------------------------------------------------------------------------------


def replicate_cmd(path: Path, *args: str) -> str:
    """A shell command running this interpreter's `hyperframe replicate PATH ARGS`."""
    return " ".join([shlex.quote(sys.executable), "-m", "hyperframe", "replicate", shlex.quote(str(path)), *args])


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HF, *args], capture_output=True, text=True, timeout=timeout, check=False)


def pipe(first: str, second: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run("pipe", first, second, timeout=timeout)


def pipe_logs(a: Path, b: Path, *, args_a: tuple[str, ...] = (), args_b: tuple[str, ...] = ()) -> str:
    """Replicate A and B through two processes; return the two processes' summaries (stderr)."""
    proc = pipe(replicate_cmd(a, *args_a), replicate_cmd(b, *args_b))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # protocol bytes only travel between the two processes
    assert "Traceback" not in proc.stderr
    summaries = [line for line in proc.stderr.splitlines() if line.startswith("hyperframe: ")]
    assert len(summaries) == 2, proc.stderr
    return proc.stderr


def summary_of(stderr: str, path: Path) -> str:
    (line,) = [l for l in stderr.splitlines() if l.startswith(f"hyperframe: {path}:")]
    return line


def sync_dirs(a: Path, b: Path, *flags: str) -> str:
    proc = run("sync", str(a), str(b), *flags)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


# --- clone, disjoint, shared --------------------------------------------------------------------


def test_pipe_clones_into_an_empty_log(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 150, "a", batches=3)
    expected = content(a)

    err = pipe_logs(a, b)

    assert "sent 150, received 0" in summary_of(err, a)
    assert "sent 0, received 150 new node(s)" in summary_of(err, b)
    assert_converged(a, b, expected=expected)
    assert [n.key for n in hyperframe.open(b).changes()] == [n.key for n in hyperframe.open(a).changes()]


def test_sync_command_clones_into_an_empty_log(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a, encoding="json"), 40, "a")
    out = sync_dirs(a, b)
    assert "40 node(s) A→B, 0 B→A" in out
    assert hyperframe.open(b).encoding.name == "json"
    assert_converged(a, b, expected=content(a))


def test_pipe_two_logs_with_no_common_root_then_again(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 35, "a", batches=2)
    grow(hyperframe.open(b), 22, "b")
    expected = union(content(a), content(b))

    err = pipe_logs(a, b)

    assert "sent 35, received 22" in summary_of(err, a)
    assert "sent 22, received 35" in summary_of(err, b)
    assert_converged(a, b, expected=expected)

    # sync twice: the second run sends nothing, in one round trip, and writes nothing
    before = (snapshot(a), snapshot(b))
    err = pipe_logs(a, b)
    for path in (a, b):
        assert "sent 0, received 0" in summary_of(err, path)
        assert "1 round trip(s)" in summary_of(err, path)
    assert (snapshot(a), snapshot(b)) == before
    assert_converged(a, b, expected=expected)


def test_pipe_shared_history_then_both_sides_add(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 60, "base", batches=2)
    hyperframe.replicate(a, b)
    grow(hyperframe.open(a), 8, "left")
    grow(hyperframe.open(b), 13, "right")
    expected = union(content(a), content(b))

    err = pipe_logs(a, b)

    assert "sent 8, received 13" in summary_of(err, a)
    assert_converged(a, b, expected=expected)


@pytest.mark.parametrize(("extra_a", "extra_b"), [(1, 1), (2, 1)])
def test_pipe_copied_directory_then_both_copies_add(tmp_path: Path, extra_a: int, extra_b: int) -> None:
    """The seed's scenario: with hyperlog, (1, 1) lost both nodes and (2, 1) hung forever."""
    a, b = tmp_path / "log.db", tmp_path / "log2.db"
    grow(hyperframe.open(a), 40, "base", batches=2)
    shutil.copytree(a, b)  # cp -r
    grow(hyperframe.open(a), extra_a, "original")
    grow(hyperframe.open(b), extra_b, "copy")
    expected = union(content(a), content(b))

    start = time.perf_counter()
    err = pipe_logs(a, b)

    assert time.perf_counter() - start < 30
    assert f"sent {extra_a}, received {extra_b} new" in summary_of(err, a)
    assert f"sent {extra_b}, received {extra_a} new" in summary_of(err, b)
    assert_converged(a, b, expected=expected)


def test_sync_command_copied_directory_then_both_copies_add(tmp_path: Path) -> None:
    a, b = tmp_path / "log.db", tmp_path / "log2.db"
    grow(hyperframe.open(a), 40, "base", batches=2)
    shutil.copytree(a, b)
    grow(hyperframe.open(a), 2, "original")
    grow(hyperframe.open(b), 1, "copy")
    expected = union(content(a), content(b))
    assert "2 node(s) A→B, 1 B→A" in sync_dirs(a, b)
    assert_converged(a, b, expected=expected)


# --- nothing to do, one side empty ------------------------------------------------------------


def test_pipe_identical_logs_send_nothing_in_one_round_trip(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 100, "a", batches=3)
    shutil.copytree(a, b)
    before_a, before_b = snapshot(a), snapshot(b)

    err = pipe_logs(a, b)

    for path in (a, b):
        line = summary_of(err, path)
        assert "sent 0, received 0" in line and "1 round trip(s)" in line, line
        sent = int(line.split(" B out")[0].rsplit(" ", 1)[1])
        received = int(line.split(" B in")[0].rsplit(" ", 1)[1])
        assert sent + received < 1024, line
    assert (snapshot(a), snapshot(b)) == (before_a, before_b)
    assert_converged(a, b, expected=content(a))


def test_pipe_one_side_empty(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()  # an existing, empty directory
    grow(hyperframe.open(b), 45, "b")
    expected = content(b)
    err = pipe_logs(a, b)
    assert "received 45 new" in summary_of(err, a)
    assert_converged(a, b, expected=expected)


def test_sync_command_with_neither_a_log_is_an_error(tmp_path: Path) -> None:
    proc = run("sync", str(tmp_path / "x"), str(tmp_path / "y"))
    assert proc.returncode != 0
    assert proc.stderr.startswith("hyperframe: error:") and "Traceback" not in proc.stderr


# --- one direction only --------------------------------------------------------------------------


def _diverged(tmp_path: Path) -> tuple[Path, Path, Content, Content]:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 20, "base")
    hyperframe.replicate(a, b)
    grow(hyperframe.open(a), 5, "a-new")
    grow(hyperframe.open(b), 7, "b-new")
    return a, b, content(a), content(b)


def test_pipe_push_only(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b, only_a, only_b = _diverged(tmp_path)
    before_a = snapshot(a)
    err = pipe_logs(a, b, args_a=("--mode", "push"))  # B runs the default sync
    assert "sent 5, received 0" in summary_of(err, a)
    assert_holds(b, union(only_a, only_b))
    assert_holds(a, only_a)
    assert snapshot(a) == before_a


def test_pipe_pull_only(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b, only_a, only_b = _diverged(tmp_path)
    before_b = snapshot(b)
    err = pipe_logs(a, b, args_a=("--mode", "pull"), args_b=("--mode", "push"))
    assert "sent 0, received 7" in summary_of(err, a)
    assert_holds(a, union(only_a, only_b))
    assert_holds(b, only_b)
    assert snapshot(b) == before_b


@pytest.mark.parametrize("flag", ["--push", "--pull"])
def test_sync_command_one_direction(tmp_path: Path, flag: str, snapshot: Snapshot) -> None:
    a, b, only_a, only_b = _diverged(tmp_path)
    before_a, before_b = snapshot(a), snapshot(b)
    out = sync_dirs(a, b, flag)
    if flag == "--push":
        assert "5 node(s) A→B, 0 B→A" in out
        assert_holds(b, union(only_a, only_b))
        assert snapshot(a) == before_a
    else:
        assert "0 node(s) A→B, 7 B→A" in out
        assert_holds(a, union(only_a, only_b))
        assert snapshot(b) == before_b


def test_sync_command_dry_run_changes_nothing(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b, _, _ = _diverged(tmp_path)
    before = (snapshot(a), snapshot(b))
    out = sync_dirs(a, b, "--dry-run")
    assert "5 node(s)" in out and "7 node(s)" in out and "20 shared" in out
    assert (snapshot(a), snapshot(b)) == before


# --- again, and in a ring -------------------------------------------------------------------------


def test_sync_command_twice(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 10, "a")
    grow(hyperframe.open(b), 10, "b")
    expected = union(content(a), content(b))
    assert "10 node(s) A→B, 10 B→A" in sync_dirs(a, b)
    assert_converged(a, b, expected=expected)
    before = (snapshot(a), snapshot(b))
    out = sync_dirs(a, b)
    assert "0 node(s) A→B, 0 B→A" in out and "1 round trip(s)" in out
    bytes_total = int(out.split(" bytes")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert bytes_total < 1024
    assert (snapshot(a), snapshot(b)) == before
    assert_converged(a, b, expected=expected)


def test_pipe_three_logs_in_a_ring(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    grow(hyperframe.open(a), 15, "root")
    hyperframe.replicate(a, b)
    grow(hyperframe.open(a), 4, "a")
    grow(hyperframe.open(b), 6, "b")
    grow(hyperframe.open(c), 9, "c")
    expected = union(content(a), content(b), content(c))

    pipe_logs(a, b)
    pipe_logs(b, c)
    pipe_logs(c, a)

    assert_converged(a, b, c, expected=expected)


# --- larger differences -----------------------------------------------------------------------------


def test_pipe_larger_differences_between_differently_cut_logs_converge(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 3000, "base", batches=6)
    shutil.copytree(a, b)
    hyperframe.open(b).compact()  # no segment in common any more
    grow(hyperframe.open(a), 300, "A")
    grow(hyperframe.open(b), 200, "B")
    expected = union(content(a), content(b))

    err = pipe_logs(a, b)

    assert "sent 300, received 200" in summary_of(err, a)
    assert "sent 200, received 300" in summary_of(err, b)
    rounds = [int(summary_of(err, p).split(" round trip")[0].rsplit(" ", 1)[1]) for p in (a, b)]
    assert max(rounds) <= 4
    assert_converged(a, b, expected=expected)


# --- failures through processes ----------------------------------------------------------------------


#: runs the command in argv[2:] and passes on only the first argv[1] bytes of its output, then
#: hangs up (closing the connection: `exec` leaves no shell holding it open, unlike `| head -c`)
CUT_AFTER = (
    "import subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE)\n"
    "sys.stdout.buffer.write(p.stdout.read(int(sys.argv[1])))\n"
    "sys.stdout.buffer.flush()\n"
)


def cut_after(n: int, path: Path, *args: str) -> str:
    words = [
        sys.executable,
        "-c",
        CUT_AFTER,
        str(n),
        sys.executable,
        "-m",
        "hyperframe",
        "replicate",
        str(path),
        *args,
    ]
    return "exec " + " ".join(shlex.quote(w) for w in words)


def test_pipe_peer_cut_mid_transfer_commits_nothing_then_a_rerun_finishes(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a), 50, "base")
    shutil.copytree(a, b)
    grow(hyperframe.open(b), 600, "b-new")  # B sends (about 45 KB), A only receives
    before_a = snapshot(a)
    expected = union(content(a), content(b))

    # B's stream to A stops after 4 KB, inside its NODES frames, and the connection closes
    start = time.perf_counter()
    proc = pipe(replicate_cmd(a, "--timeout", "20"), cut_after(4000, b, "--timeout", "20"))

    assert time.perf_counter() - start < 15  # an error at once, not a timeout
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "hyperframe: error: the peer closed the connection" in proc.stderr
    assert snapshot(a) == before_a  # nothing committed
    assert verify_log(a).ok

    report = hyperframe.replicate(a, b)  # running it again finishes the job
    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 600)
    assert_converged(a, b, expected=expected)


@pytest.mark.parametrize(
    ("other", "says"),
    [
        # echoes part of our HELLO, then hangs up
        ("head -c 100", "closed the connection in the middle of a frame"),
        ("yes", "is not speaking the hyperframe replication protocol"),  # floods garbage
        ("cat", "echoed our own HELLO"),  # loops our own stream back
        # head holds a partial buffer and waits for 300 bytes that never come: a silent peer
        ("head -c 300", "sent nothing for 1 s"),
    ],
    ids=["head-100", "yes", "cat", "head-300"],
)
def test_pipe_peer_that_is_not_hyperframe(tmp_path: Path, other: str, says: str, snapshot: Snapshot) -> None:
    a = tmp_path / "a"
    grow(hyperframe.open(a), 20, "a")
    before = snapshot(a)
    start = time.perf_counter()
    proc = pipe(replicate_cmd(a, "--timeout", "1"), other, timeout=30)
    assert time.perf_counter() - start < 15
    assert proc.returncode != 0
    assert f"hyperframe: error: the peer {says}" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(a) == before


def test_pipe_different_encodings_are_incompatible(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a, encoding="json"), 5, "a")
    grow(hyperframe.open(b), 5, "b")
    before = (snapshot(a), snapshot(b))

    proc = pipe(replicate_cmd(a), replicate_cmd(b))

    assert proc.returncode != 0
    assert "json" in proc.stderr and "utf-8" in proc.stderr and "Traceback" not in proc.stderr
    assert (snapshot(a), snapshot(b)) == before


def test_sync_command_different_encodings(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    grow(hyperframe.open(a, encoding="json"), 5, "a")
    grow(hyperframe.open(b), 5, "b")
    before = (snapshot(a), snapshot(b))
    proc = run("sync", str(a), str(b))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hyperframe: error:") and "json" in lines[0]
    assert (snapshot(a), snapshot(b)) == before
