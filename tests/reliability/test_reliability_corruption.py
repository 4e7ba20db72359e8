"""Corruption: damage a log on purpose. verify names the file and fails; no read ever serves a
node whose key does not match its content (reads refuse with CorruptLogError or give exactly
what the log held); repair keeps every intact node and reports what it dropped.

The damage kinds and the checks are ``benchmarks.stress``'s (``corruption_case``,
``flip_sweep``); the full stress run repeats them on more logs and flips every byte of
bigger segments with five bit masks.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import RunCli
from stress_harness import stress

import hyperframe
from hyperframe.repair import repair_log
from hyperframe.verify import verify_log


def _manifests(path: Path) -> list[Path]:
    return sorted((path / "_hyperframe" / "manifests").glob("v*.json"))


# --- every damage kind: verify, the CLI, every read path, repair --------------------------------


@pytest.mark.parametrize("kind", stress.DAMAGE_KINDS)
@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])  # 2: the big log
def test_each_kind_of_damage_is_found_refused_and_repaired(tmp_path: Path, kind: str, seed: int) -> None:
    failures = stress.corruption_case(tmp_path, kind, seed, stress.cli_inprocess, big=seed == 2)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", ["flip", "delete", "manifest_garbage", "orphan_segment"])
def test_verify_in_a_real_process_names_the_damage(tmp_path: Path, kind: str) -> None:
    """The same checks with `hyperframe verify`/`repair` as real processes (exit status, no traceback)."""
    failures = stress.corruption_case(tmp_path, kind, 7, stress.cli_subprocess)
    assert not failures, "\n".join(failures)


# --- every single-byte flip of a segment -------------------------------------------------------


@pytest.mark.slow
def test_no_flipped_byte_of_a_segment_is_served_or_missed(tmp_path: Path) -> None:
    """Each byte of a small segment flipped with a rotating bit mask (and the footer with 0xFF).

    The footer (Parquet's Thrift metadata: column names, types, offsets) has no page
    checksum, so a flip there must be caught by other means: never a KeyError, an
    AttributeError or a differently typed table from a read.
    """
    path = tmp_path / "log.db"
    sample = stress.build_sample(path, seed=3, segments=1, per=4)
    size = (path / stress._segment_files(path)[0]).stat().st_size
    masks = (0x01, 0x04, 0x20, 0x80, 0xFF)
    cases, failures = 0, []
    for m, mask in enumerate(masks):
        done, found = stress.flip_sweep(path, sample, range(m, size, len(masks)), [mask])
        cases += done
        failures += found
    done, found = stress.flip_sweep(path, sample, range(max(0, size - 500), size), [0xFF])
    cases += done
    failures += found
    assert cases >= size
    assert not failures, "\n".join(failures)


# --- damage that must not fool the next writer ---------------------------------------------------


def test_a_manifest_whose_version_is_not_its_number_is_found_and_loses_no_write(tmp_path: Path) -> None:
    """v12.json saying "version": 2 must be damage: otherwise the next commit goes to v3.json,
    below the current state, and the node `add` returned is not in the log."""
    path = tmp_path / "log.db"
    log = hyperframe.open(path)
    for i in range(12):
        log.add(f"v{i}")
    newest = _manifests(path)[-1]
    doc = json.loads(newest.read_bytes())
    doc["version"] = 2
    newest.write_text(json.dumps(doc))

    report = verify_log(path)
    assert not report.ok and any(newest.name in str(p) for p in report.errors), report.summary()
    try:
        node = hyperframe.open(path).add("after")
    except hyperframe.HyperframeError:
        return  # refusing to write is fine
    assert node.key in hyperframe.open(path), "add() returned a node the log does not hold"


def test_a_log_whose_manifests_are_gone_is_refused_not_restarted(tmp_path: Path) -> None:
    """With every manifest deleted, the segments still hold the nodes. Opening must not
    present an empty log, and a write must not start a new one whose `compact` then deletes
    the old segments as orphans."""
    path = tmp_path / "log.db"
    log = hyperframe.open(path)
    keys = {log.add(f"n{i}").key for i in range(3)}
    for m in _manifests(path):
        m.unlink()

    with pytest.raises(hyperframe.CorruptLogError):
        fresh = hyperframe.open(path)
        list(fresh.changes())
        assert len(fresh) == 3
        fresh.add("new")
        fresh.compact()
    # whatever happened, repair still finds every node
    report = repair_log(path)
    after = stress.check_log(path, keys, strict=True)
    assert after.ok and report.dropped_nodes == 0, (after.problems, report.summary())


def test_repair_after_a_damaged_compaction_manifest_reports_no_loss(tmp_path: Path) -> None:
    """The newest manifest (a compaction's) is damaged; the previous one lists segments the
    compaction removed. Every node is in the compacted segment, so repair keeps them all and
    must not report the removed segments as damaged or the nodes as dropped."""
    path = tmp_path / "log.db"
    log = hyperframe.open(path)
    a = log.add("a")
    b = log.add("b", links=[a.key])
    log.add("c", links=[b.key])
    log.add("d")
    log.compact()
    _manifests(path)[-1].write_text("{garbage")

    report = repair_log(path)
    after = stress.check_log(path, strict=True)
    assert after.ok and after.nodes == 4, after.problems
    assert report.kept_nodes == 4
    assert report.dropped_nodes == 0, report.summary()
    assert [f for f in report.damaged_files if f.startswith("seg-")] == [], report.summary()


def test_an_unreadable_segment_is_a_clear_error(tmp_path: Path) -> None:
    """A segment the process cannot read: chmod 000, or (as root, who reads anything) a
    directory where the file should be."""
    path = tmp_path / "log.db"
    sample = stress.build_sample(path, seed=4, segments=3, per=5)
    target = path / stress._segment_files(path)[1]
    if os.geteuid() == 0:
        target.unlink()
        target.mkdir()
    else:
        target.chmod(0)
    try:
        report = verify_log(path)
        assert not report.ok and any(target.name in str(p) for p in report.errors), report.summary()
        failures, everything = stress.probe_reads(path, sample)
        assert not failures, "\n".join(failures)
        assert not everything  # something had to refuse
        code, out, err = stress.cli_inprocess(["list", str(path)])
        assert code != 0 and err.startswith("hyperframe: error: ") and err.count("\n") == 1, err
        assert target.name in err
    finally:
        if target.is_dir():
            target.rmdir()
        elif target.exists():
            target.chmod(0o644)


def test_repair_from_the_shell_on_a_real_process(tmp_path: Path, run_process: RunCli) -> None:
    path = tmp_path / "log.db"
    sample = stress.build_sample(path, seed=6, segments=4, per=6)
    victim = stress._segment_files(path)[2]
    (path / victim).write_bytes((path / victim).read_bytes()[:100])
    lost = sample.descendants({k for k, f in sample.segment_of.items() if f == victim})
    proc = run_process("repair", path)
    assert proc.code == 0, proc.err
    assert f"dropped {len(lost)}" in proc.out and victim in proc.out, proc.out
    after = stress.check_log(path, set(sample.order) - lost, strict=True)
    assert after.ok and after.keys == set(sample.order) - lost, after.problems
    again = run_process("verify", "--strict", path)
    assert again.code == 0, again.err


def test_repair_leaves_a_healthy_log_untouched(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    stress.build_sample(path, seed=8, segments=3, per=4)
    before = stress.tree_state(path)
    report = repair_log(path)
    assert report.dropped_nodes == 0 and not report.damaged_files and not report.removed_files
    assert {k: v for k, v in stress.tree_state(path).items() if k != "_hyperframe/lock"} == {
        k: v for k, v in before.items() if k != "_hyperframe/lock"
    }


def test_a_copied_log_directory_with_a_stray_segment_copy_still_verifies(tmp_path: Path) -> None:
    """`cp -r` of a log plus a duplicate segment under another name: a warning, not an error."""
    path = tmp_path / "log.db"
    stress.build_sample(path, seed=9, segments=2, per=3)
    copy = tmp_path / "copy.db"
    shutil.copytree(path, copy)
    seg = stress._segment_files(copy)[0]
    shutil.copyfile(copy / seg, copy / ("seg-" + "0" * 64 + ".parquet"))
    report = verify_log(copy)
    assert report.ok and len(report.warnings) == 1 and "seg-" + "0" * 64 in str(report.warnings[0])
