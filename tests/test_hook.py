"""``tfconflict hook FILE...``: in process against the recorded index, then through real ``pre-commit try-repo``.

The pre-commit test installs this project into pre-commit's own virtualenv, so pip reads the package index for
its dependencies (the analysis itself only ever reads the in-process fixture index). It is marked ``live`` for that.
"""

# ruff: noqa: F811 - fixtures are imported by name, then taken as parameters
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli import main
from tests.conftest import REPO_ROOT
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture
from tests.test_cli_check_files import (  # noqa: F401 - fixtures
    CONFLICTING,
    MALFORMED,
    corpus,
    project,
    recorded,
    shared_index,
    warm_cache,
    write_project,
)

NUMPY_LINE = (
    "requirements.txt:2: numpy>=2 conflicts with the runtime: pip cannot resolve it: the user requested "
    "numpy>=2; tensorflow 2.12.0 depends on numpy<1.24,>=1.22"
)


def test_hook_names_each_conflicting_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text(CONFLICTING)
    assert main(["hook", "requirements.txt"]) == 1
    out, err = capsys.readouterr()
    first = (
        "requirements.txt:1: tensorflow==2.12.0 conflicts with the runtime: pip cannot resolve it: the user "
        "requested numpy>=2; tensorflow 2.12.0 depends on numpy<1.24,>=1.22"
    )
    assert out.splitlines() == [first, NUMPY_LINE]
    assert "1 file(s) conflict with the runtime freeze.txt (from tfconflict.toml)" in err


def test_hook_names_what_pip_would_change(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The fast path (no conflicting-set search): the line with what pip would do to the image."""
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")
    assert main(["hook", "requirements.txt"]) == 1
    assert capsys.readouterr().out == (
        "requirements.txt:1: tensorflow==2.12.0 conflicts with the runtime: pip would change preinstalled "
        "jax 0.4.33 -> 0.4.30, jaxlib 0.4.33 -> 0.4.30, keras 3.8.0 -> 2.12.0, numpy 1.26.4 -> 1.23.5\n"
    )


def test_hook_conflict_set_names_the_members_per_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("six\ntensorflow==2.12.0\n")
    assert main(["hook", "--conflict-set", "requirements.txt"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1  # six fits: only the tensorflow line is blamed
    assert out[0].startswith(
        "requirements.txt:2: tensorflow==2.12.0 conflicts with the runtime: preinstalled "
        "packages must change: "
    )
    for member in ("jax 0.4.33 -> 0.4.30", "keras 3.8.0 -> 2.12.0", "numpy 1.26.4 -> 1.23.5"):
        assert member in out[0]


def test_hook_typo_line_does_not_hide_the_others(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The unknown project is its line's finding; the rest of the file is analysed without it."""
    (project / "requirements.txt").write_text("tensorflw==2.12\ntensorflow==2.12.0\nsix\n")
    assert main(["hook", "requirements.txt"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[1] for line in out] == ["1", "2"]  # six causes nothing: no line for it
    assert out[0].startswith("requirements.txt:1: tensorflw==2.12 cannot be installed: no project named tensorflw")
    assert out[0].endswith("; did you mean tensorflow?")  # the next line's project (the image has none)
    assert out[1].startswith("requirements.txt:2: tensorflow==2.12.0 conflicts with the runtime: pip would change ")
    assert "keras 3.8.0 -> 2.12.0" in out[1]


def test_hook_passes_when_every_file_fits(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    (project / "requirements-dev.txt").write_text("six\n")
    assert main(["hook", "requirements.txt", "requirements-dev.txt"]) == 0
    assert capsys.readouterr().out == ""


def test_hook_checks_each_file_on_its_own(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """numpy>=2 fits alone; only together with tensorflow 2.12.0 would it conflict."""
    (project / "a.txt").write_text("tensorflow==2.18.1\n")
    (project / "b.txt").write_text("numpy>=1.26\n")
    assert main(["hook", "a.txt", "b.txt"]) == 0


def test_hook_without_files_reads_the_configured_list(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "reqs").mkdir()
    (project / "reqs" / "colab.txt").write_text("tensorflow==2.12.0\nnumpy>=2\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('requirements = ["reqs/colab.txt"]\n')
    assert main(["hook"]) == 1
    assert capsys.readouterr().out.startswith("reqs/colab.txt:1: tensorflow==2.12.0 conflicts")


def test_hook_fail_on_not_installable_passes_on_changes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('fail-on = "not-installable"\n')
    assert main(["hook", "requirements.txt"]) == 0
    assert main(["hook", "requirements.txt", "--fail-on", "breakage"]) == 1


def test_hook_ignore_from_configuration(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text(CONFLICTING)
    with (project / "tfconflict.toml").open("a") as f:
        f.write('ignore = ["numpy"]\n')
    assert main(["hook", "requirements.txt"]) == 1
    out = capsys.readouterr().out
    assert "numpy>=2" not in out  # the numpy line is not checked ...
    assert out.startswith(
        "requirements.txt:1: tensorflow==2.12.0 conflicts with the runtime: pip would change preinstalled "
    )  # ... and tensorflow still moves keras and jax
    assert "keras 3.8.0 -> 2.12.0" in out and "numpy 1.26.4" not in out
    config = project / "tfconflict.toml"
    everything = 'ignore = ["numpy", "keras", "jax", "jaxlib", "ml-dtypes", "scipy", "opt-einsum"]'
    config.write_text(config.read_text().replace('ignore = ["numpy"]', everything))
    assert main(["hook", "requirements.txt"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("name", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_hook_malformed_file_is_one_located_message_and_exit_2(
    corpus: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    code = main(["hook", name])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(out.splitlines()) == 1, out
    assert out.startswith(message)
    assert "Traceback" not in out + err


def test_hook_bad_file_does_not_hide_a_conflict_in_another(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "requirements.txt").write_text(CONFLICTING)
    assert main(["hook", "unknown-option.txt", "requirements.txt"]) == 2
    out = capsys.readouterr().out
    assert "unknown-option.txt:2: unknown option --frobnicate" in out
    assert NUMPY_LINE in out


def test_hook_missing_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hook", "nope.txt"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("nope.txt") and "no such file" in out


def test_hook_bad_configuration_is_located(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("six\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('ignored = ["numpy"]\n')
    assert main(["hook", "requirements.txt"]) == 2
    assert "tfconflict.toml:4: unknown key 'ignored' in the top level; did you mean 'ignore'?" in (
        capsys.readouterr().err
    )


def test_hook_offline_with_a_warm_cache(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text(CONFLICTING)
    assert main(["hook", "requirements.txt"]) == 1  # warms the cache
    capsys.readouterr()
    with (project / "tfconflict.toml").open("a") as f:
        f.write("offline = true\n")
    assert main(["hook", "requirements.txt"]) == 1
    assert NUMPY_LINE in capsys.readouterr().out


# -- real pre-commit ---------------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def _pre_commit(repo: Path, env: dict[str, str], ref: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(REPO_ROOT),
            "tfconflict",
            "--ref",
            ref,
            "--files",
            "requirements.txt",
        ],
        check=False,
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.live
@pytest.mark.timeout(1200)
def test_pre_commit_try_repo(tmp_path: Path, recorded: FixtureIndex) -> None:
    """pre-commit installs this repository's committed HEAD as the hook and runs it on a user's repository."""
    pytest.importorskip("pre_commit")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    repo = tmp_path / "notebooks"
    repo.mkdir()
    _git(repo, "init", "-q")
    write_project(repo, recorded.index_url)
    (repo / "requirements.txt").write_text(CONFLICTING)
    _git(repo, "add", ".")
    env = dict(os.environ)  # conftest already removed PIP_* / TFCONFLICT_* and set PIP_CONFIG_FILE=/dev/null
    env.update(
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        TFCONFLICT_CACHE_DIR=str(tmp_path / "cache"),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    env.pop("VIRTUAL_ENV", None)

    failed = _pre_commit(repo, env, head)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "tfconflict" in output and "Failed" in output
    assert NUMPY_LINE in output

    (repo / "requirements.txt").write_text("tensorflow==2.18.1\n")  # the version the suggestions name
    _git(repo, "add", ".")
    passed = _pre_commit(repo, env, head)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
