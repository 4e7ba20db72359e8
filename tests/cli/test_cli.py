"""The command line: every command, the seed's two-log scenario, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import RunCli, Snapshot

import hyperframe
from hyperframe.cli import cli

HELLO = "8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602"
WORLD = "5f5e63be98841981a12b6041e4200677851714ec4305d13a3ee30197439ff193"
ABSENT = "ab" * 32


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def hello_world(run: RunCli, log_path: Path) -> Path:
    """A log holding hello, world (linking hello) and other."""
    assert run("add", log_path, "hello").out == HELLO + "\n"
    assert run("add", log_path, "world", "--link", HELLO).out == WORLD + "\n"
    run("add", log_path, "other")
    return log_path


# --- help -----------------------------------------------------------------------------------


def test_bare_command_shows_help(run: RunCli) -> None:
    result = run()
    assert result.code == 0
    assert "Usage: hyperframe" in result.out
    for name in cli.commands:
        assert name in result.out


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(run: RunCli, name: str) -> None:
    for flag in ("--help", "-h"):
        result = run(name, flag)
        assert result.code == 0
        assert result.out.startswith(f"Usage: hyperframe {name} ")
        assert f"hyperframe {name} " in result.out.split("\n", 1)[1]  # the docstring's example
        assert result.err == ""


def test_the_log_commands_exist(run: RunCli) -> None:
    assert {"init", "add", "append", "list", "heads", "get", "info", "verify", "compact"} <= set(cli.commands)


def test_version(run: RunCli) -> None:
    result = run("--version")
    assert result.code == 0 and hyperframe.__version__ in result.out


def test_unknown_command_is_a_one_line_error(run: RunCli) -> None:
    result = run("frobnicate")
    assert result.is_one_line_error()
    assert result.code == 2


# --- init -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "json", "binary"])
def test_init_creates_an_empty_log_with_its_encoding(run: RunCli, log_path: Path, encoding: str) -> None:
    result = run("init", log_path, "--encoding", encoding)
    assert result.code == 0
    assert "initialized" in result.err
    info = json.loads(run("info", log_path, "--json").out)
    assert info["encoding"] == encoding and info["nodes"] == 0
    assert hyperframe.open(log_path).encoding.name == encoding


def test_init_defaults_to_utf8(run: RunCli, log_path: Path) -> None:
    assert run("init", log_path).code == 0
    assert hyperframe.open(log_path).encoding.name == "utf-8"


def test_init_refuses_to_change_an_encoding(run: RunCli, log_path: Path, snapshot: Snapshot) -> None:
    run("init", log_path, "--encoding", "json")
    before = snapshot(log_path)
    result = run("init", log_path, "--encoding", "binary")
    assert result.is_one_line_error()
    assert "json" in result.err
    assert snapshot(log_path) == before


def test_init_refuses_an_unknown_encoding(run: RunCli, log_path: Path) -> None:
    result = run("init", log_path, "--encoding", "latin-1")
    assert result.is_one_line_error()
    assert not log_path.exists()


def test_init_refuses_a_directory_holding_other_things(run: RunCli, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("x")
    result = run("init", tmp_path)
    assert result.is_one_line_error()
    assert "not a hyperframe log" in result.err
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


# --- add, append ----------------------------------------------------------------------------


def test_add_prints_the_key_and_creates_the_log(run: RunCli, log_path: Path) -> None:
    assert not log_path.exists()
    result = run("add", log_path, "hello")
    assert (result.code, result.out, result.err) == (0, HELLO + "\n", "")
    assert [n.value for n in hyperframe.open(log_path).changes()] == ["hello"]


def test_add_with_links(run: RunCli, log_path: Path) -> None:
    run("add", log_path, "a")
    run("add", log_path, "b")
    a, b = (hyperframe.node_key(v, []) for v in (b"a", b"b"))
    result = run("add", log_path, "c", "--link", a, "-l", b)
    assert result.out.strip() == hyperframe.node_key(b"c", [a, b])
    assert hyperframe.open(log_path).get(result.out.strip()).links == (a, b)


def test_add_link_may_be_a_unique_prefix(run: RunCli, log_path: Path) -> None:
    run("add", log_path, "hello")
    assert run("add", log_path, "world", "--link", "8c7e").out.strip() == WORLD


def test_add_link_prefix_that_matches_nothing(run: RunCli, log_path: Path, snapshot: Snapshot) -> None:
    run("add", log_path, "hello")
    before = snapshot(log_path)
    for bad in ("ffff", "not-hex"):
        result = run("add", log_path, "world", "--link", bad)
        assert result.is_one_line_error()
    assert snapshot(log_path) == before


def test_adding_the_same_value_twice_prints_the_same_key_and_stores_it_once(
    run: RunCli, log_path: Path, snapshot: Snapshot
) -> None:
    run("add", log_path, "hello")
    before = snapshot(log_path)
    assert run("add", log_path, "hello").out == HELLO + "\n"
    assert snapshot(log_path) == before


def test_append_links_every_head_in_ascending_order(run: RunCli, hello_world: Path) -> None:
    heads = run("heads", hello_world).lines
    assert len(heads) == 2
    key = run("append", hello_world, "merge").out.strip()
    assert key == hyperframe.node_key(b"merge", sorted(heads))
    (node,) = jsonl(run("get", hello_world, key).out)
    assert node["links"] == sorted(heads)
    assert run("heads", hello_world).lines == [key]


def test_add_reads_stdin_for_a_dash(run: RunCli, log_path: Path) -> None:
    result = run("add", log_path, "-", stdin="from stdin ü".encode())
    assert result.code == 0
    assert hyperframe.open(log_path).get(result.out.strip()).value == "from stdin ü"


def test_add_reads_stdin_in_a_real_process(run_process: RunCli, log_path: Path) -> None:
    result = run_process("add", log_path, "-", stdin=b"hello")
    assert (result.code, result.out) == (0, HELLO + "\n")


def test_append_reads_stdin_for_a_dash(run: RunCli, hello_world: Path) -> None:
    result = run("append", hello_world, "-", stdin=b"merged")
    node = hyperframe.open(hello_world).get(result.out.strip())
    assert node.value == "merged" and len(node.links) == 2


def test_binary_log_takes_stdin_bytes_as_they_are(run: RunCli, log_path: Path) -> None:
    run("init", log_path, "--encoding", "binary")
    data = b"\x00\xff\xfe raw"
    key = run("add", log_path, "-", stdin=data).out.strip()
    assert key == hyperframe.node_key(data, [])
    (node,) = jsonl(run("list", log_path, "--format", "jsonl").out)
    assert node["value_base64"] == "AP/+IHJhdw=="


# --- a JSON log -----------------------------------------------------------------------------


def test_json_log_takes_json_text(run: RunCli, log_path: Path) -> None:
    run("init", log_path, "--encoding", "json")
    key = run("add", log_path, '{"msg": "hello"}').out.strip()
    assert key.startswith("e7fd9c7e61e1")
    assert hyperframe.open(log_path).get(key).value == {"msg": "hello"}
    assert run("add", log_path, '"just a string"').code == 0
    assert run("add", log_path, "42").code == 0
    values = [n["value"] for n in jsonl(run("list", log_path).out)]
    assert values == [{"msg": "hello"}, "just a string", 42]


def test_json_log_takes_json_on_stdin(run: RunCli, log_path: Path) -> None:
    run("init", log_path, "--encoding", "json")
    key = run("add", log_path, "-", stdin=b'{"msg":"hello"}\n').out.strip()
    assert key.startswith("e7fd9c7e61e1")


def test_json_log_refuses_text_that_is_not_json(run: RunCli, log_path: Path, snapshot: Snapshot) -> None:
    run("init", log_path, "--encoding", "json")
    before = snapshot(log_path)
    result = run("add", log_path, "hello")
    assert result.is_one_line_error()
    assert "JSON" in result.err and "quote" in result.err
    assert snapshot(log_path) == before


def test_json_values_print_as_json_in_table_and_csv(run: RunCli, log_path: Path) -> None:
    run("init", log_path, "--encoding", "json")
    run("add", log_path, '{"n": 1.0, "ü": [1e21]}')
    assert '{"n":1,"ü":[1e+21]}' in run("list", log_path, "--format", "table").out
    rows = list(csv.DictReader(io.StringIO(run("list", log_path, "--format", "csv").out)))
    assert rows[0]["value"] == '{"n":1,"ü":[1e+21]}'


# --- list -----------------------------------------------------------------------------------


def test_list_jsonl_gives_one_object_a_line(run: RunCli, hello_world: Path) -> None:
    result = run("list", hello_world, "--format", "jsonl")
    assert result.code == 0
    nodes = jsonl(result.out)
    assert nodes[0] == {"key": HELLO, "links": [], "value": "hello", "change": 1}
    assert nodes[1] == {"key": WORLD, "links": [HELLO], "value": "world", "change": 2}
    assert [n["change"] for n in nodes] == [1, 2, 3]


def test_list_in_a_pipe_defaults_to_jsonl(run: RunCli, hello_world: Path) -> None:
    assert jsonl(run("list", hello_world).out) == jsonl(run("list", hello_world, "--format", "jsonl").out)


def test_list_table(run: RunCli, hello_world: Path) -> None:
    header, *rows = run("list", hello_world, "--format", "table").lines
    assert header.split() == ["change", "key", "links", "value"]
    assert len(rows) == 3
    assert rows[0].split() == ["1", HELLO[:12], "hello"]
    assert rows[1].split() == ["2", WORLD[:12], HELLO[:8], "world"]


def test_list_table_keeps_each_node_on_one_line(run: RunCli, log_path: Path) -> None:
    run("add", log_path, "two\nlines " + "x" * 100)
    _, row = run("list", log_path, "--format", "table").lines
    assert "two\\nlines" in row and row.endswith("…")


def test_list_csv(run: RunCli, hello_world: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run("list", hello_world, "--format", "csv").out)))
    assert [r["change"] for r in rows] == ["1", "2", "3"]
    assert rows[1] == {"change": "2", "key": WORLD, "links": HELLO, "value": "world"}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], [1, 2, 3, 4, 5, 6]),
        (["--since", "2"], [3, 4, 5, 6]),
        (["--until", "3"], [1, 2]),  # hyperlog's until: changes before 3
        (["--since", "1", "--until", "4"], [2, 3]),
        (["--limit", "2"], [1, 2]),
        (["--reverse"], [6, 5, 4, 3, 2, 1]),
        (["--reverse", "--limit", "2"], [6, 5]),
        (["--since", "1", "--until", "6", "--limit", "2", "--reverse"], [5, 4]),
        (["--since", "6"], []),
    ],
)
def test_list_since_until_limit_reverse(run: RunCli, log_path: Path, options: list[str], expected: list[int]) -> None:
    for i in range(1, 7):
        run("add", log_path, f"v{i}")
    result = run("list", log_path, "--format", "jsonl", *options)
    assert result.code == 0
    assert [(n["change"], n["value"]) for n in jsonl(result.out)] == [(i, f"v{i}") for i in expected]


def test_list_refuses_a_negative_limit(run: RunCli, hello_world: Path) -> None:
    result = run("list", hello_world, "--limit", "-1")
    assert result.is_one_line_error()
    assert "hyperframe list --help" in result.err


def test_list_of_an_empty_log(run: RunCli, log_path: Path) -> None:
    run("init", log_path)
    assert run("list", log_path, "--format", "jsonl").out == ""
    assert run("list", log_path, "--format", "csv").lines == ["change,key,links,value"]


# --- heads, get, info -------------------------------------------------------------------------


def test_heads_prints_a_key_a_line_ascending(run: RunCli, hello_world: Path) -> None:
    result = run("heads", hello_world)
    assert result.code == 0
    other = hyperframe.node_key(b"other", [])
    assert result.lines == sorted([WORLD, other])


def test_get_by_prefix_prints_one_jsonl_object(run: RunCli, hello_world: Path) -> None:
    result = run("get", hello_world, "5F5E")
    assert result.code == 0
    assert jsonl(result.out) == [{"key": WORLD, "links": [HELLO], "value": "world", "change": 2}]


def test_get_in_other_formats(run: RunCli, hello_world: Path) -> None:
    assert run("get", hello_world, WORLD, "--format", "table").lines[1].split()[:2] == ["2", WORLD[:12]]
    assert run("get", hello_world, WORLD, "--format", "csv").lines[1].startswith(f"2,{WORLD},{HELLO},world")


def test_get_unknown_or_ambiguous_prefix(run: RunCli, log_path: Path) -> None:
    # values whose keys share a first character
    keys = [run("add", log_path, f"v{i}").out.strip() for i in range(17)]
    first = next(k[0] for k in keys if sum(x[0] == k[0] for x in keys) > 1)
    ambiguous = run("get", log_path, first)
    assert ambiguous.is_one_line_error() and "more than one" in ambiguous.err
    missing = run("get", log_path, ABSENT)
    assert missing.is_one_line_error() and "no node" in missing.err
    bad = run("get", log_path, "xyz")
    assert bad.is_one_line_error()


def test_info_text_and_json(run: RunCli, hello_world: Path) -> None:
    text = run("info", hello_world)
    assert text.code == 0
    facts = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in text.lines}
    assert facts["nodes"] == "3" and facts["heads"] == "2" and facts["encoding"] == "utf-8"
    as_json = json.loads(run("info", hello_world, "--json").out)
    assert as_json["nodes"] == 3 and as_json["heads"] == 2 and as_json["segments"] == 3
    assert as_json == hyperframe.open(hello_world).info()


@pytest.mark.parametrize("command", ["list", "heads", "info", "verify", "compact"])
def test_reading_commands_on_a_missing_log_say_how_to_make_one(run: RunCli, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nothing.db"
    result = run(command, missing)
    assert result.is_one_line_error()
    assert "hyperframe init" in result.err or "hyperframe add" in result.err
    assert not missing.exists()


def test_get_on_a_missing_log(run: RunCli, tmp_path: Path) -> None:
    assert run("get", tmp_path / "nothing.db", "8c7e").is_one_line_error()
    assert not (tmp_path / "nothing.db").exists()


# --- verify, compact ----------------------------------------------------------------------------


def test_verify_a_healthy_log(run: RunCli, hello_world: Path) -> None:
    result = run("verify", hello_world)
    assert result.code == 0
    assert result.out.startswith("ok: 3 nodes in 3 segments")


def test_compact_merges_and_keeps_the_listing(run: RunCli, hello_world: Path) -> None:
    before = run("list", hello_world, "--format", "jsonl").out
    result = run("compact", hello_world, "--retain", "0")
    assert result.code == 0
    assert "3 segment(s) -> 1" in result.out
    assert run("list", hello_world, "--format", "jsonl").out == before
    assert json.loads(run("info", hello_world, "--json").out)["segments"] == 1
    assert len(list(hello_world.glob("seg-*.parquet"))) == 1
    assert run("verify", hello_world).code == 0


# --- the seed's scenario: two logs, links, the refused unknown link --------------------------------


def test_seed_scenario_two_logs_and_the_refused_unknown_link(run: RunCli, tmp_path: Path, snapshot: Snapshot) -> None:
    log1, log2 = tmp_path / "log.db", tmp_path / "log2.db"
    hello = run("add", log1, "hello").out.strip()
    world = run("add", log1, "world", "--link", hello).out.strip()
    assert (hello, world) == (HELLO, WORLD)

    hi = run("add", log2, "hi").out.strip()
    second = run("add", log2, "hi again", "--link", hi).out.strip()
    third = run("add", log2, "third", "--link", second).out.strip()
    assert run("heads", log2).lines == [third]

    version = json.loads(run("info", log2, "--json").out)["version"]
    before = snapshot(log2)
    refused = run("add", log2, "hi from log2", "--link", world)  # only log.db has it
    assert refused.code != 0
    assert refused.out == ""
    assert refused.is_one_line_error()
    assert world in refused.err and "log2.db" in refused.err
    assert json.loads(run("info", log2, "--json").out)["version"] == version
    assert snapshot(log2) == before
    assert [n["value"] for n in jsonl(run("list", log2).out)] == ["hi", "hi again", "third"]

    by_prefix = run("add", log2, "hi from log2", "--link", world[:8])  # as typed in the README
    assert by_prefix.is_one_line_error()
    assert f"link {world[:8]} is not in" in by_prefix.err and "Nothing was written" in by_prefix.err
    assert snapshot(log2) == before

    merge = run("append", log1, "merge").out.strip()
    assert run("heads", log1).lines == [merge]
    assert [n["value"] for n in jsonl(run("list", log1).out)] == ["hello", "world", "merge"]
    assert run("verify", log1).code == 0 and run("verify", log2).code == 0


def test_seed_refusal_in_a_real_process(run_process: RunCli, tmp_path: Path, snapshot: Snapshot) -> None:
    log1, log2 = tmp_path / "log.db", tmp_path / "log2.db"
    world = hyperframe.open(log1).batch([{"value": "hello"}, {"value": "world", "links": [HELLO]}])[1]
    hyperframe.open(log2).add("hi")
    before = snapshot(log2)
    result = run_process("add", log2, "hi from log2", "--link", world.key)
    assert result.is_one_line_error(), result
    assert result.out == ""
    assert snapshot(log2) == before


def test_unknown_link_into_a_new_log_creates_nothing(run: RunCli, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    result = run("add", fresh, "hi", "--link", ABSENT)
    assert result.is_one_line_error()
    assert not fresh.exists()


# --- errors in real processes: one line, never a traceback --------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["list", "{missing}"],
        ["get", "{log}", "zzz"],
        ["add", "{notalog}", "x"],
        ["list", "{log}", "--format", "yaml"],
    ],
)
def test_errors_in_a_real_process_are_one_line(
    run_process: RunCli, tmp_path: Path, snapshot: Snapshot, args: list[str]
) -> None:
    log = tmp_path / "log.db"
    hyperframe.open(log).add("hello")
    notalog = tmp_path / "notalog"
    notalog.mkdir()
    (notalog / "x.txt").write_text("x")
    paths = {"log": log, "missing": tmp_path / "missing.db", "notalog": notalog}
    before = {name: snapshot(p) for name, p in paths.items()}
    result = run_process(*[a.format(**paths) for a in args])
    assert result.is_one_line_error(), result
    assert {name: snapshot(p) for name, p in paths.items()} == before


def test_a_closed_pipe_is_not_an_error(run_process: RunCli, tmp_path: Path) -> None:
    import subprocess
    import sys

    log = tmp_path / "log.db"
    hyperframe.open(log).batch([{"value": f"{i:05d}" * 200} for i in range(2000)])  # 2 MB of output
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperframe", "list", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err


# --- light imports ------------------------------------------------------------------------------

HEAVY = ("pandas", "networkx", "matplotlib", "ipywidgets")

CHECK_IMPORTS = """
import sys
{code}
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print(",".join(heavy))
"""


def test_importing_hyperframe_and_its_cli_loads_no_heavy_packages(run_python: RunCli) -> None:
    result = run_python(CHECK_IMPORTS.format(code="import hyperframe\nimport hyperframe.cli", heavy=HEAVY))
    assert result.code == 0, result.err
    assert result.out.strip() == ""


def test_the_log_commands_load_no_heavy_packages(run_python: RunCli, tmp_path: Path) -> None:
    # What `hyperframe add` / `list` / ... cost from the shell: none of them needs pandas,
    # networkx or matplotlib, so a process running them must not import them.
    log = tmp_path / "log.db"
    code = f"""
import contextlib, io
from hyperframe.cli import main
log = {str(log)!r}
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for argv in (["add", log, "hello"], ["add", log, "world", "--link", "8c7e"], ["append", log, "m"],
                 ["list", log], ["heads", log], ["get", log, "8c7e"], ["info", log], ["verify", log],
                 ["compact", log]):
        assert main(argv) == 0, argv
"""
    result = run_python(CHECK_IMPORTS.format(code=code, heavy=HEAVY))
    assert result.code == 0, result.err
    assert result.out.strip() == ""


def test_replicating_json_logs_loads_no_heavy_packages(run_python: RunCli, tmp_path: Path) -> None:
    # Every receiving process checks each value against the log's encoding (issue 9); that
    # check must not pay for pandas, or every `hyperframe replicate` starts half a second late.
    code = f"""
import hyperframe
a = hyperframe.open({str(tmp_path / "a")!r}, encoding="json")
a.batch([{{"value": {{"i": i, "text": "caf\\u00e9"}}}} for i in range(2000)])
hyperframe.open({str(tmp_path / "b")!r}, encoding="json")
report = hyperframe.replicate(a, {str(tmp_path / "b")!r})
assert report.sent_a_to_b == 2000, report
"""
    result = run_python(CHECK_IMPORTS.format(code=code, heavy=HEAVY))
    assert result.code == 0, result.err
    assert result.out.strip() == ""
