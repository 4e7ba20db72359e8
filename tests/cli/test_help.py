"""Every command documents itself: an example in its ``--help`` and a row in the README's command table.

The commands are read from the click group, so a command added without docs fails here;
the checks themselves are tried on a throwaway group to show that they can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hyperframe.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")  # `\|` inside a cell is a literal bar


def command_table(readme: str) -> dict[str, str]:
    """Each command named in the README's command table -> the first cell of its row.

    A row names a command as the first word of a code span in its first cell:
    ``| `get DIR KEY [--format ...]` | ... |``.
    """
    rows: dict[str, str] = {}
    for line in readme.splitlines():
        if not line.startswith("|"):
            continue
        cells = _CELL_SEPARATOR.split(line)
        if len(cells) < 3:
            continue
        first = cells[1]
        for span in re.findall(r"`([^`]+)`", first):
            rows.setdefault(span.split()[0], first)
    return rows


def documented_options(command: click.Command) -> list[str]:
    """The long name of every option ``--help`` shows (hidden aliases are left out)."""
    names = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            long = [opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")]
            names.append(long[0] if long else param.opts[0])
    return names


def doc_problems(group: click.Group, name: str, readme: str) -> list[str]:
    """What is missing from the docs of ``group``'s command NAME; empty when nothing is."""
    result = CliRunner().invoke(group, [name, "--help"], prog_name="hyperframe")
    problems = []
    if result.exit_code != 0:
        problems.append(f"`hyperframe {name} --help` exited {result.exit_code}")
    body = result.stdout.split("\n", 1)[-1]  # below the Usage line, which always names the command
    if "Example" not in body:
        problems.append(f"`hyperframe {name} --help` has no Example section")
    if f"hyperframe {name} " not in body:
        problems.append(f"`hyperframe {name} --help` shows no `hyperframe {name} ...` invocation")
    row = command_table(readme).get(name)
    if row is None:
        problems.append(f"README.md's command table has no row for `{name}`")
    else:
        command = group.commands[name]
        problems += [
            f"README.md's row for `{name}` omits {opt}" for opt in documented_options(command) if opt not in row
        ]
    return problems


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_an_example_and_a_readme_row(name: str) -> None:
    assert doc_problems(cli, name, README.read_text(encoding="utf-8")) == []


def test_the_readme_table_names_only_real_commands() -> None:
    assert set(command_table(README.read_text(encoding="utf-8"))) - {"command"} <= set(cli.commands)


# --- the checks can fail ---------------------------------------------------------------------

THROWAWAY_README = """
| command | what it does |
|---|---|
| `good DIR [--format a\\|b]` | documented |
| `bare DIR` | documented here, but its --help has no example |
| `quiet DIR` | its --help shows another command |
| `partial DIR` | forgets an option |
"""


def throwaway_group() -> click.Group:
    group = click.Group("hyperframe")

    @group.command()
    @click.argument("directory")
    @click.option("--format")
    @click.option("--old", is_flag=True, hidden=True)
    def good(directory: str, format: str | None, old: bool) -> None:
        """Documented.

        Example:

        \b
            hyperframe good log.db --format a
        """

    @group.command()
    @click.argument("directory")
    def bare(directory: str) -> None:
        """No example at all."""

    @group.command()
    @click.argument("directory")
    def quiet(directory: str) -> None:
        """Example:

        \b
            hyperframe good log.db
        """

    @group.command()
    @click.argument("directory")
    @click.option("--limit", "-n")
    def partial(directory: str, limit: str | None) -> None:
        """Example:

        \b
            hyperframe partial log.db --limit 3
        """

    @group.command()
    @click.argument("directory")
    def unlisted(directory: str) -> None:
        """Example:

        \b
            hyperframe unlisted log.db
        """

    return group


def test_a_documented_command_passes_the_checks() -> None:
    assert doc_problems(throwaway_group(), "good", THROWAWAY_README) == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("bare", "has no Example section"),
        ("quiet", "shows no `hyperframe quiet ...` invocation"),
        ("partial", "row for `partial` omits --limit"),
        ("unlisted", "command table has no row for `unlisted`"),
    ],
)
def test_an_undocumented_command_fails_the_checks(name: str, problem: str) -> None:
    problems = doc_problems(throwaway_group(), name, THROWAWAY_README)
    assert any(problem in p for p in problems), problems
