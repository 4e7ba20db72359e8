"""Crash safety: writers killed with SIGKILL leave a log that opens, verifies and lost nothing.

Two kinds of test. A small seeded campaign of ``benchmarks.stress`` (the full run does
200+ kills): child processes add, batch, append, compact and sync, recording every key a
call returned, and are killed at random moments. And deterministic kills at each step of a
commit (temporary file written, renamed, manifest linked, compaction published, ...), where
a child patches one step of the durable-write path to SIGKILL itself right there.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import RunCli
from stress_harness import stress

import hyperframe
from hyperframe.verify import verify_log


def assert_healthy(path: Path, expected: set[str] = frozenset(), **kw: object) -> object:  # type: ignore[assignment]
    result = stress.check_log(path, expected, **kw)
    assert result.ok, "\n".join(result.problems)
    return result


# --- the seeded random campaign (CI size) ------------------------------------------------------


@pytest.mark.slow
def test_random_kills_of_every_writer_lose_nothing(tmp_path: Path) -> None:
    """20 SIGKILLs at random moments of add / batch / append / compact / sync / the CLI."""
    result = stress.run_crash(tmp_path, trials=20, seed=5, seconds=120, jobs=2)
    print(result.line)
    assert "kills 20" in result.line, result.line
    assert not result.failures, "\n".join(result.failures)


# --- deterministic kills at each step of a commit ---------------------------------------------

#: code run in a child before the operation: patch one step so the process SIGKILLs itself there
KILL_POINTS = {
    # a new segment is in its temporary file (fsynced), not yet renamed
    "segment temp written": """
        import contextlib, hyperframe.store.segments as m
        real = m.temp_file
        @contextlib.contextmanager
        def patched(*a, **k):
            with real(*a, **k) as opened:
                yield opened
            die()
        m.temp_file = patched
    """,
    # the segment has its final name; no manifest lists it yet (an orphan)
    "segment renamed": """
        import hyperframe.store.segments as m
        real = m.publish_replace
        def patched(*a, **k):
            real(*a, **k); die()
        m.publish_replace = patched
    """,
    # the next manifest is in a temporary file, not yet linked to its number
    "manifest temp written": """
        import hyperframe.store.manifest as m
        real = m.write_temp
        def patched(*a, **k):
            real(*a, **k); die()
        m.write_temp = patched
    """,
    # the manifest is linked to v<N+1>.json; its temporary name is still there, no dir fsync
    "manifest linked": """
        import os, hyperframe.store.manifest as m
        def patched(temp, target):
            os.link(temp, target); die()
        m.publish_exclusive = patched
    """,
    # the manifest is published; the files it no longer lists not yet moved out of the top level
    "manifest published": """
        import hyperframe.store.directory as m
        def patched(*a, **k):
            die()
        m.LogStore.tidy = patched
    """,
}

ADD_SCRIPT = """
import os, signal, sys
def die():
    os.kill(os.getpid(), signal.SIGKILL)
import hyperframe
log = hyperframe.open(sys.argv[1])
{patch}
print(log.add(sys.argv[2], links=log.heads()[:1]).key, flush=True)
"""


def _seed_log(path: Path, n: int = 3) -> set[str]:
    log = hyperframe.open(path)
    keys = {log.add(f"before-{i}", links=log.heads()[:1]).key for i in range(n)}
    return keys


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_writer_killed_at_each_step_of_a_commit(tmp_path: Path, point: str, run_python: RunCli) -> None:
    path = tmp_path / "log.db"
    before = _seed_log(path)
    new = hyperframe.node_key(b"the new node", hyperframe.open(path).heads()[:1])
    proc = run_python(ADD_SCRIPT.format(patch=textwrap.dedent(KILL_POINTS[point])), path, "the new node")
    assert proc.code == -9, proc.err  # it really died there
    assert proc.out == ""  # the call never returned

    result = assert_healthy(path, before)  # opens, verifies (orphans are warnings), nothing lost
    assert result.keys - before in (set(), {new})  # type: ignore[attr-defined]  # all of the node or none of it

    # the next writer finishes the job, and compact leaves nothing behind
    log = hyperframe.open(path)
    node = log.add("the new node", links=log.heads()[:1])
    log.compact()
    assert_healthy(path, before | {node.key}, strict=True)


def test_a_compaction_killed_after_publishing_loses_nothing(tmp_path: Path, run_python: RunCli) -> None:
    """Killed after the compacted manifest is durable, before anything is cleaned up: the
    replaced segments stay at the top level until the next writer moves them out."""
    path = tmp_path / "log.db"
    before = _seed_log(path, 5)
    assert len(hyperframe.open(path).manifest.segments) == 5  # type: ignore[union-attr]
    script = """
import os, signal, sys
import hyperframe, hyperframe.store.directory as m
def patched(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
m.LogStore.tidy = patched
hyperframe.open(sys.argv[1]).compact()
"""
    proc = run_python(script, path)
    assert proc.code == -9, proc.err
    assert_healthy(path, before)
    assert len(hyperframe.open(path).manifest.segments) == 1  # type: ignore[union-attr]
    hyperframe.open(path).compact()
    assert_healthy(path, before, strict=True)


def test_a_replication_killed_while_importing_leaves_the_receiver_as_it_was(tmp_path: Path, run_python: RunCli) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    keys_a, keys_b = _seed_log(a, 4), _seed_log(b, 2)
    hyperframe.open(b).add("only in b")
    keys_b = {n.key for n in hyperframe.open(b).changes()}
    script = """
import os, signal, sys
import hyperframe, hyperframe.store.manifest as m
real = m.publish
def patched(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
m.publish = patched
hyperframe.replicate(sys.argv[1], sys.argv[2])
"""
    proc = run_python(script, a, b)
    assert proc.code == -9, proc.err
    assert assert_healthy(a, keys_a).keys == keys_a  # type: ignore[attr-defined]
    assert assert_healthy(b, keys_b).keys == keys_b  # type: ignore[attr-defined]
    hyperframe.replicate(a, b)  # running it again finishes
    assert_healthy(b, keys_a | keys_b)


def test_a_writer_killed_while_creating_a_new_log_leaves_no_damage(tmp_path: Path, run_python: RunCli) -> None:
    """Killed after `_hyperframe/manifests/` exists but before the first manifest is published.

    Nothing had been committed, so nothing is lost; the directory must not look damaged:
    verify passes (at most a warning) and the next write works.
    """
    path = tmp_path / "new.db"
    script = """
import os, signal, sys
import hyperframe, hyperframe.store.manifest as m
def patched(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
m.publish = patched
hyperframe.open(sys.argv[1]).add("first")
"""
    proc = run_python(script, path)
    assert proc.code == -9, proc.err
    assert (path / "_hyperframe" / "manifests").is_dir()  # the crash left the folder behind
    report = verify_log(path)
    assert report.ok, report.summary()  # BUG: "no manifest: the log has no committed state"
    assert_healthy(path)
    node = hyperframe.open(path).add("first")
    assert_healthy(path, {node.key}, strict=True)


def test_a_killed_cli_writer_leaves_a_log_the_cli_still_reads(
    tmp_path: Path, run_python: RunCli, run_process: RunCli
) -> None:
    """`hyperframe add` killed in the middle of its commit; `hyperframe verify` and `list` still work."""
    path = tmp_path / "log.db"
    before = _seed_log(path)
    script = """
import os, signal, sys
import hyperframe.store.segments as m
real = m.publish_replace
def patched(*a, **k):
    real(*a, **k); os.kill(os.getpid(), signal.SIGKILL)
m.publish_replace = patched
from hyperframe.cli import main
sys.exit(main(sys.argv[1:]))
"""
    proc = run_python(script, "add", path, "killed")
    assert proc.code == -9
    verify = run_process("verify", path)
    assert verify.code == 0, verify.err
    assert "warning:" in verify.err and "orphan" in verify.err
    strict = run_process("verify", "--strict", path)
    assert strict.code == 1
    listed = run_process("list", path)
    assert listed.code == 0 and len(listed.out.splitlines()) == len(before)
    assert_healthy(path, before)
