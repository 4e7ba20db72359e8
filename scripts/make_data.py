"""Rebuild the bundled dataset logs in ``data/`` from the palmerpenguins package.

Two field teams surveyed penguins in the Palmer Archipelago (the palmerpenguins data:
344 birds, three islands, 2007-2009). In 2007 both teams synced at the station, so their
logs share a root and the whole first season; in 2008 and 2009 each worked offline and
their logs diverged::

    python scripts/make_data.py             # wipe and rebuild data/biscoe-team, data/dream-team
    python scripts/make_data.py --check     # rebuild in a temp dir and compare with data/
    python scripts/make_data.py --out DIR   # build somewhere else

The build is deterministic: values hold no timestamps or random numbers, so every run
produces the same keys, the same segment files and the same manifests.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import hyperframe
from hyperframe.encodings import get_encoding
from hyperframe.store import manifest as mf
from hyperframe.store import origin
from hyperframe.store.durable import write_temp

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
#: each team's islands; the directory of a team's log is ``<team>-team``
TEAMS: dict[str, tuple[str, ...]] = {"biscoe": ("Biscoe",), "dream": ("Dream", "Torgersen")}
SHARED_SEASON = 2007
LATER_SEASONS = (2008, 2009)
#: birds measured per field day
DAY_SIZE = 8
SOURCE = "palmerpenguins 0.1 (Horst, Hill & Gorman 2020; data CC0, Palmer Station LTER)"

_json = get_encoding("json")


def team_dir(team: str) -> str:
    return f"{team}-team"


# --- the observations ---------------------------------------------------------------------


def _number(x: Any) -> float | int | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    f = float(x)
    return int(f) if f.is_integer() else f


def observations() -> list[dict[str, Any]]:
    """One dict per bird of the palmerpenguins data, in the package's row order."""
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    rows = []
    for i, r in enumerate(frame.itertuples(index=False), start=1):
        sex = r.sex if isinstance(r.sex, str) else None
        rows.append(
            {
                "sample": f"PAL-{i:03d}",
                "island": r.island,
                "season": int(r.year),
                "species": r.species,
                "bill": {"length_mm": _number(r.bill_length_mm), "depth_mm": _number(r.bill_depth_mm)},
                "flipper_length_mm": _number(r.flipper_length_mm),
                "body_mass_g": _number(r.body_mass_g),
                "sex": sex,
            }
        )
    return rows


def _days(birds: Sequence[dict[str, Any]], islands: Sequence[str]) -> list[list[dict[str, Any]]]:
    """Split a team's birds of one season into field days: one island a day, islands in turn."""
    per_island = [[b for b in birds if b["island"] == island] for island in islands]
    chunks = [[rows[i : i + DAY_SIZE] for i in range(0, len(rows), DAY_SIZE)] for rows in per_island]
    days = []
    for turn in range(max((len(c) for c in chunks), default=0)):
        days.extend(c[turn] for c in chunks if turn < len(c))
    return days


# --- the plan: batches of nodes, each a list of {"value", "links"} --------------------------


class Planner:
    """Turns field days into batches of nodes, computing keys so a batch can link itself."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def node(self, batch: list[dict[str, Any]], value: dict[str, Any], links: Sequence[str]) -> str:
        batch.append({"value": value, "links": list(links)})
        return hyperframe.node_key(_json.encode(value), links)

    def single(self, value: dict[str, Any], links: Sequence[str]) -> str:
        batch: list[dict[str, Any]] = []
        key = self.node(batch, value, links)
        self.batches.append(batch)
        return key

    def day(self, team: str, season: int, number: int, birds: Sequence[dict[str, Any]], after: str) -> str:
        """A field day: each bird links the team's previous node; a day node links them all."""
        batch: list[dict[str, Any]] = []
        keys = [
            self.node(batch, {"type": "observation", "team": team, "day": number, **bird}, [after]) for bird in birds
        ]
        day = {
            "type": "day",
            "team": team,
            "season": season,
            "day": number,
            "island": birds[0]["island"],
            "observations": len(birds),
        }
        key = self.node(batch, day, keys)
        self.batches.append(batch)
        return key


def plan(team: str, birds: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The batches that make up ``team``'s log: the shared first season, then its own."""
    p = Planner()
    protocol = p.single(
        {
            "type": "protocol",
            "study": "Palmer Archipelago penguin survey",
            "source": SOURCE,
            "day_size": DAY_SIZE,
        },
        [],
    )
    # 2007: both teams, synced at the station every evening
    opened = p.single({"type": "season", "event": "open", "season": SHARED_SEASON, "team": "all"}, [protocol])
    team_days = {
        t: _days([b for b in birds if b["season"] == SHARED_SEASON and b["island"] in islands], islands)
        for t, islands in TEAMS.items()
    }
    last = {t: opened for t in TEAMS}
    for turn in range(max(len(d) for d in team_days.values())):
        for t, days in team_days.items():
            if turn < len(days):
                last[t] = p.day(t, SHARED_SEASON, turn + 1, days[turn], last[t])
    shared = sum(len(day) for days in team_days.values() for day in days)
    previous = p.single(
        {"type": "season", "event": "close", "season": SHARED_SEASON, "team": "all", "observations": shared},
        [last[t] for t in TEAMS],
    )
    # 2008-2009: this team alone, offline
    islands = TEAMS[team]
    for season in LATER_SEASONS:
        opened = p.single({"type": "season", "event": "open", "season": season, "team": team}, [previous])
        days = _days([b for b in birds if b["season"] == season and b["island"] in islands], islands)
        last_key = opened
        for number, day in enumerate(days, start=1):
            last_key = p.day(team, season, number, day, last_key)
        previous = p.single(
            {
                "type": "season",
                "event": "close",
                "season": season,
                "team": team,
                "observations": sum(len(d) for d in days),
            },
            [last_key],
        )
    return p.batches


# --- building -----------------------------------------------------------------------------


def _settle(path: Path) -> None:
    """Leave one segment and one manifest (with a fixed time), and no lock file."""
    log = hyperframe.open(path)
    log.compact(retain_seconds=0)  # one segment, one manifest: nothing older is kept
    current = mf.read_latest(path)
    assert current is not None
    # no home: the bundled logs reach every machine as copies, so a first write anywhere takes a fresh log id
    assert current.origin is not None
    fixed = dataclasses.replace(current, created=0.0, origin=dataclasses.replace(current.origin, home=""))
    os.replace(write_temp(mf.manifest_dir(path), fixed.to_bytes()), mf.manifest_path(path, fixed.version))
    (path / mf.META_DIR / "lock").unlink(missing_ok=True)


def build(out: Path = DATA) -> dict[str, Path]:
    """Wipe and rebuild every team's log under ``out``; return {team: directory}."""
    birds = observations()
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for team in TEAMS:
        path = out / team_dir(team)
        if path.exists():
            shutil.rmtree(path)
        log = hyperframe.open(path, encoding="json")
        fixed_id = f"penguins-{team.lower()}"  # a fixed log id, so a rebuild is byte for byte the same
        with mock.patch.object(origin, "new_log_id", lambda fixed_id=fixed_id: fixed_id):
            for batch in plan(team, birds):
                log.batch(batch)
        _settle(path)
        made[team] = path
    return made


def _files(path: Path) -> Iterator[tuple[str, str]]:
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        yield str(f.relative_to(path)), hashlib.sha256(f.read_bytes()).hexdigest()


def describe(path: Path) -> dict[str, Any]:
    """Facts about one built log: nodes, heads, segments, bytes and a digest of its files."""
    log = hyperframe.open(path, read_only=True)
    info = log.info()
    digest = hashlib.sha256(repr(list(_files(path))).encode()).hexdigest()
    return {k: info[k] for k in ("nodes", "heads", "segments", "bytes", "fingerprint")} | {"files": digest}


def check(data: Path = DATA) -> list[str]:
    """Rebuild in a temporary directory and list how ``data`` differs (empty: identical)."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(Path(tmp))
        for team, path in fresh.items():
            bundled = data / team_dir(team)
            if not bundled.is_dir():
                problems.append(f"{bundled} is missing")
                continue
            want, have = describe(path), describe(bundled)
            for key in want:
                if want[key] != have[key]:
                    problems.append(f"{bundled}: {key} is {have[key]!r}, a rebuild gives {want[key]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with data/")
    parser.add_argument("--out", type=Path, default=DATA, help="where to build (default: data/)")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for line in problems:
            print(f"make_data: {line}", file=sys.stderr)
        if problems:
            print("make_data: data/ is out of date: run `python scripts/make_data.py`", file=sys.stderr)
            return 1
        print(f"make_data: {args.out} matches a fresh build")
        return 0
    for path in build(args.out).values():
        facts = describe(path)
        print(
            f"{path}: {facts['nodes']} nodes, {facts['heads']} head(s), "
            f"{facts['segments']} segment(s), {facts['bytes']:,} bytes"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
