"""Without the notebook extra the core still works, and notebook calls say what to install."""

from __future__ import annotations

import sys
import textwrap

import pytest
from helpers import RunCli

import hyperframe
from hyperframe._optional import MissingDependencyError, install_hint, require

EXTRA = 'pip install -e ".[notebook]" from a checkout of this project'
HINT = install_hint("notebook")


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.lines"):
        monkeypatch.setitem(sys.modules, name, None)


def test_plot_names_the_extra_when_matplotlib_is_missing(json_log: hyperframe.Log, no_matplotlib: None) -> None:
    json_log.add({"a": 1})
    with pytest.raises(MissingDependencyError) as info:
        json_log.plot()
    assert EXTRA in str(info.value)
    assert isinstance(info.value, ImportError) and isinstance(info.value, hyperframe.HyperframeError)
    assert info.value.module == "matplotlib" and info.value.extra == "notebook"
    # everything else keeps working
    assert json_log.to_pandas()["a"].tolist() == [1]
    assert "hyperframe.Log" in json_log._repr_html_()


def test_widget_names_the_extra_when_ipywidgets_is_missing(
    json_log: hyperframe.Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[notebook\]"'):
        hyperframe.merge_widget(json_log, json_log)


def test_progress_without_tqdm_is_quiet_unless_asked_for(
    json_log: hyperframe.Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_log.add({"a": 1})
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert json_log.to_arrow().num_rows == 1  # the default: no bar, no error
    with pytest.raises(MissingDependencyError, match="tqdm"):
        json_log.to_arrow(progress=True)


def test_the_hint_installs_this_project_not_the_http2_library() -> None:
    assert EXTRA in HINT and "hyperframe-log" in HINT
    assert 'pip install "hyperframe' not in HINT and "pip install hyperframe[" not in HINT


def test_require_reports_the_top_level_package() -> None:
    with pytest.raises(MissingDependencyError) as info:
        require("hyperframe_missing_pkg.sub", extra="plots")
    assert info.value.module == "hyperframe_missing_pkg"
    assert 'pip install -e ".[plots]"' in str(info.value) and "hyperframe-log" in str(info.value)


def test_core_imports_and_works_with_no_optional_packages(run_python) -> None:  # type: ignore[no-untyped-def]
    code = textwrap.dedent(
        """
        import sys, tempfile
        for name in ("matplotlib", "ipywidgets", "tqdm", "IPython"):
            sys.modules[name] = None
        import hyperframe
        log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
        log.add({"species": "Adelie"})
        assert log.to_pandas()["species"].tolist() == ["Adelie"]
        assert "hyperframe.Log" in log._repr_html_()
        for call in (log.plot, lambda: hyperframe.merge_widget(log, log)):
            try:
                call()
            except ImportError as exc:
                print(type(exc).__name__, exc)
        print(sorted(m for m in ("matplotlib", "ipywidgets", "tqdm") if sys.modules.get(m)))
        """
    )
    result = run_python(code)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"MissingDependencyError matplotlib is needed for this; {HINT}"
    assert lines[1] == f"MissingDependencyError ipywidgets is needed for this; {HINT}"
    assert lines[2] == "[]"


def test_importing_hyperframe_loads_no_notebook_packages(run_python) -> None:  # type: ignore[no-untyped-def]
    result = run_python(
        "import sys, hyperframe; "
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'tqdm', 'pandas') if m in sys.modules))"
    )
    assert result.code == 0, result.err
    assert result.out.strip() == "[]"


def test_the_distribution_is_not_pypis_hyperframe(run: RunCli) -> None:
    """pyproject's name is DISTRIBUTION (not PyPI's HTTP/2 "hyperframe"), and --version says it."""
    import tomllib
    from pathlib import Path

    from hyperframe._optional import DISTRIBUTION

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "hyperframe-log"
    assert "version" in project["dynamic"]  # read from hyperframe.__version__: one place
    result = run("--version")
    assert result.code == 0 and result.out.strip() == f"hyperframe {hyperframe.__version__} (hyperframe-log)"
