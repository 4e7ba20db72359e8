"""CLI input: every command given wrong arguments, missing or non-log directories, a file
instead of a directory, unreadable or damaged logs, bad keys and prefixes.

Each must exit non-zero with exactly one line on stderr, starting ``hyperframe: error:``,
no traceback, and leave every file and folder under the test directory as it was (hashes
of all files before and after).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from helpers import RunCli
from stress_harness import stress

import hyperframe

AS_ROOT = os.geteuid() == 0


def _ambiguous_prefix(keys: list[str]) -> str:
    for n in range(1, 64):
        seen: dict[str, int] = {}
        for k in keys:
            seen[k[:n]] = seen.get(k[:n], 0) + 1
        shared = [p for p, c in seen.items() if c > 1]
        if shared:
            return shared[0]
    raise AssertionError("no shared prefix")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Logs and non-logs to point commands at. Names: log.db (utf-8, 40 nodes), json.db,
    notlog/ (a folder with a file), empty/, afile (a file), missing (nothing), damaged.db
    (its newest manifest is garbage), unreadable.db (a segment it cannot read: mode 000,
    or for root, who can read anything, a folder where the file should be)."""
    root = tmp_path_factory.mktemp("cli")
    log = hyperframe.open(root / "log.db")
    log.batch([{"value": f"n{i}"} for i in range(20)])
    log.batch([{"value": f"m{i}"} for i in range(20)])
    keys = [n.key for n in log.changes()]
    hyperframe.open(root / "json.db", encoding="json").add({"a": 1})
    (root / "notlog").mkdir()
    (root / "notlog" / "data.csv").write_text("a,b\n")
    (root / "empty").mkdir()
    (root / "afile").write_text("not a directory\n")
    damaged = hyperframe.open(root / "damaged.db")
    damaged.add("x")
    damaged.add("y")
    sorted((root / "damaged.db" / "_hyperframe" / "manifests").glob("v*.json"))[-1].write_text("{garbage")
    unreadable = hyperframe.open(root / "unreadable.db")
    unreadable.batch([{"value": "u1"}])
    node = unreadable.add("u2")
    seg = root / "unreadable.db" / unreadable.manifest.segments[-1].file  # type: ignore[union-attr]
    if AS_ROOT:
        seg.unlink()
        seg.mkdir()
    else:
        seg.chmod(0)
    (root / "dangling").symlink_to(root / "nowhere")
    return {
        "root": str(root),
        "key": keys[0],
        "ambiguous": _ambiguous_prefix(keys),
        "unread_key": node.key,
    }


def _cases(w: dict[str, str]) -> list[list[str]]:
    r = w["root"]
    log, js, notlog, empty, afile = f"{r}/log.db", f"{r}/json.db", f"{r}/notlog", f"{r}/empty", f"{r}/afile"
    missing, damaged, unread, dangling = f"{r}/missing", f"{r}/damaged.db", f"{r}/unreadable.db", f"{r}/dangling"
    unknown = "0123456789" * 6 + "abcd"
    return [
        # init
        ["init"],
        ["init", afile],
        ["init", notlog],
        ["init", log, "--encoding", "json"],
        ["init", missing, "--encoding", "nope"],
        ["init", missing, "--bogus"],
        # add
        ["add"],
        ["add", log],
        ["add", afile, "v"],
        ["add", notlog, "v"],
        ["add", log, "v", "--link", "zz"],
        ["add", log, "v", "--link", "0000000"],
        ["add", log, "v", "--link", w["ambiguous"]],
        ["add", log, "v", "--link", unknown],
        ["add", log, "v", "--link", w["key"] + "00"],
        ["add", log, "v", "--link", ""],
        ["add", damaged, "v"],
        ["add", missing, "v", "--link", "abc"],
        ["add", js, "{not json"],
        ["add", unread, "v", "--link", w["unread_key"][:10]],
        # append
        ["append"],
        ["append", afile, "v"],
        ["append", notlog, "v"],
        ["append", damaged, "v"],
        ["append", js, "{bad"],
        # list
        ["list", missing],
        ["list", notlog],
        ["list", afile],
        ["list", empty],
        ["list", damaged],
        ["list", dangling],
        ["list", log, "--since", "-1"],
        ["list", log, "--format", "xml"],
        ["list", log, "--limit", "x"],
        ["list", unread],
        # heads
        ["heads"],
        ["heads", missing],
        ["heads", notlog],
        ["heads", afile],
        ["heads", damaged],
        # get
        ["get", log],
        ["get", log, "zz"],
        ["get", log, ""],
        ["get", log, "0000000"],
        ["get", log, w["ambiguous"]],
        ["get", log, "a" * 70],
        ["get", log, unknown],
        ["get", missing, "abc"],
        ["get", damaged, "abc"],
        ["get", notlog, "abc"],
        ["get", unread, w["unread_key"]],
        # info
        ["info", missing],
        ["info", notlog],
        ["info", afile],
        ["info", damaged],
        ["info", log, "--bogus"],
        # verify (on bad input; a damaged log's report is tested in test_reliability_corruption)
        ["verify"],
        ["verify", missing],
        ["verify", notlog],
        ["verify", afile],
        ["verify", empty],
        ["verify", log, "--bogus"],
        # compact
        ["compact", missing],
        ["compact", notlog],
        ["compact", afile],
        ["compact", damaged],
        ["compact", unread],
        # repair
        ["repair"],
        ["repair", missing],
        ["repair", notlog],
        ["repair", afile],
        ["repair", empty],
        # sync
        ["sync", log],
        ["sync", missing, f"{r}/missing2"],
        ["sync", log, afile],
        ["sync", log, notlog],
        ["sync", log, damaged],
        ["sync", log, js],
        ["sync", log, unread],
        ["sync", log, f"{r}/new.db", "--timeout", "0"],
        ["sync", log, dangling, "--bogus"],
        # replicate / pipe: argument errors (the stream cases run as real processes below)
        ["replicate"],
        ["replicate", afile],
        ["replicate", notlog],
        ["replicate", log, "--mode", "bogus"],
        ["replicate", log, "--timeout", "0"],
        ["pipe"],
        ["pipe", "exit 3"],
        ["pipe", "exit 3", "exit 4"],
        # merge
        ["merge", f"{r}/t.db"],
        ["merge", f"{r}/t.db", missing],
        ["merge", f"{r}/t.db", notlog],
        ["merge", f"{r}/t.db", empty],
        ["merge", afile, log],
        ["merge", f"{r}/t.db", damaged],
        ["merge", notlog, log],
        ["merge", js, log],
        ["merge", f"{r}/t.db", log, afile],
        # no such command
        ["frobnicate"],
        ["--bogus"],
    ]


def _check(code: int, out: str, err: str) -> list[str]:
    problems = []
    if code == 0:
        problems.append(f"exit status 0 (stdout {out[-200:]!r})")
    if "Traceback" in err or "Traceback" in out:
        problems.append("a traceback: " + err[-600:])
    elif not (err.startswith("hyperframe: error: ") and err.count("\n") == 1):
        problems.append(f"stderr is not one `hyperframe: error:` line: {err[-400:]!r}")
    return problems


def test_every_command_refuses_bad_input_in_one_line_and_changes_nothing(world: dict[str, str]) -> None:
    root = Path(world["root"])
    failures = []
    cases = _cases(world)
    commands = {a[0] for a in cases if a and not a[0].startswith("-")}
    assert commands >= {
        "init",
        "add",
        "append",
        "list",
        "heads",
        "get",
        "info",
        "verify",
        "compact",
        "repair",
        "sync",
        "replicate",
        "pipe",
        "merge",
    }
    for args in cases:
        before = stress.tree_state(root)
        try:
            code, out, err = stress.cli_inprocess(args)
        except BaseException as exc:  # noqa: BLE001 - what escapes main() is a traceback in the shell
            failures.append(f"hyperframe {' '.join(args)}: {type(exc).__name__} escaped main(): {exc}")
            continue
        problems = _check(code, out, err)
        after = stress.tree_state(root)
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            problems.append(f"changed on disk: {changed[:5]}")
        shown = " ".join(a.replace(world["root"] + "/", "") for a in args)
        failures += [f"hyperframe {shown}: {p}" for p in problems]
    assert not failures, "\n".join(failures)


# --- as real processes: stdin, stdout, exit statuses ------------------------------------------


@pytest.mark.parametrize(
    "args, stdin",
    [
        (["add", "{log}", "-"], b"\xff\xfe not utf-8"),  # BUG: UnicodeDecodeError traceback from read_value
        (["add", "{js}", "-"], b"{not json"),
        (["append", "{log}", "-"], b"\xc3\x28"),
        (["replicate", "{log}"], b"garbage that is not the protocol"),
        (["replicate", "{log}"], b""),
        (["replicate", "{missing}"], b"HFR1"),
        (["replicate", "{log}", "--timeout", "0.5"], b"HFR1H\x00\x00\x01\xff\xff\xff\xff"),
        (["get", "{log}", "nothex!"], b""),
        (["list", "{unread}"], b""),
    ],
)
def test_as_a_real_process(world: dict[str, str], args: list[str], stdin: bytes, run_process: RunCli) -> None:
    r = world["root"]
    names = {"log": f"{r}/log.db", "js": f"{r}/json.db", "missing": f"{r}/missing", "unread": f"{r}/unreadable.db"}
    argv = [a.format(**names) for a in args]
    before = stress.tree_state(Path(r))
    proc = run_process(*argv, stdin=stdin)
    err = proc.err
    assert proc.code != 0, (argv, proc.out[-300:])
    assert "Traceback" not in err, err
    assert err.startswith("hyperframe: error: ") and err.count("\n") == 1, err
    assert stress.tree_state(Path(r)) == before


def test_pipe_of_two_failing_replicators_fails_without_traceback(world: dict[str, str], run_process: RunCli) -> None:
    """`pipe` runs two commands that share its stderr: each may say its own one line."""
    r = world["root"]
    before = stress.tree_state(Path(r))
    proc = run_process(
        "pipe",
        f"{sys.executable} -m hyperframe replicate {r}/afile",
        f"{sys.executable} -m hyperframe replicate {r}/notlog",
    )
    err = proc.err
    assert proc.code != 0
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines and all(line.startswith("hyperframe: error: ") for line in lines), err
    assert lines[-1].startswith("hyperframe: error: the commands exited with")
    assert stress.tree_state(Path(r)) == before


def test_verify_of_a_damaged_log_exits_1_and_names_the_file(world: dict[str, str], run_process: RunCli) -> None:
    r = world["root"]
    proc = run_process("verify", f"{r}/unreadable.db")
    err = proc.err
    assert proc.code == 1 and "Traceback" not in err
    assert "seg-" in err


def test_info_json_is_one_json_object(world: dict[str, str]) -> None:
    """The control case: the same world answers good input normally."""
    code, out, err = stress.cli_inprocess(["info", f"{world['root']}/log.db", "--json"])
    assert code == 0 and err == ""
    assert json.loads(out)["nodes"] == 40
