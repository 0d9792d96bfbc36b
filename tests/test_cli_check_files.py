"""``tfconflict check -r FILE [-c FILE]`` with the project configuration: origins kept per line, malformed files
as one ``FILE:LINE`` message and exit 2, index lines that feed the engine, ``ignore`` and ``fail-on``.

Everything runs against the recorded index (tensorflow 2.12.0's closure as of 2025-06-01) served in process, and
a small snapshot written by the test: numpy 1.26.4, keras 3.8.0 and jax 0.4.33 on Python 3.11.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from analyzer.cli import main
from analyzer.selectors import resolve_selector, with_runtime
from tests.indexserver import RECORDED, FixtureIndex, _Handler, _Server, index_server  # noqa: F401 - fixture

DATA = Path(__file__).parent / "data" / "reqfiles"
FREEZE = "numpy==1.26.4\nkeras==3.8.0\njax==0.4.33\njaxlib==0.4.33\nml-dtypes==0.4.1\nscipy==1.13.1\nopt-einsum==3.4.0\n"
CONFLICTING = "tensorflow==2.12.0\nnumpy>=2\n"


def write_project(root: Path, index_url: str, *, extra: str = "", index: bool = True) -> Path:
    """A project folder: a snapshot JSON (Python 3.11) and a tfconflict.toml naming it, the index and the date."""
    freeze = root / "freeze.txt"
    freeze.write_text(FREEZE)
    (root / "runtime.json").write_text(resolve_selector(str(freeze), python="3.11").to_json())
    lines = ['snapshot = "runtime.json"', "as-of = 2025-06-01"]
    if index:
        lines.append(f'index-url = "{index_url}"')
    (root / "tfconflict.toml").write_text("\n".join(lines) + "\n" + extra)
    return root


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED) > 0
    return index_server


@pytest.fixture(scope="module")
def shared_index() -> Iterator[FixtureIndex]:
    """The recorded index for a whole module, so one metadata cache can stay warm across its tests (a cold cache
    costs seconds per test; what is read does not change between them)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    index = FixtureIndex()
    server.index = index
    index.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    assert index.add_recorded(RECORDED) > 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warm-cache")


@pytest.fixture
def project(
    tmp_path: Path, shared_index: FixtureIndex, warm_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project folder as the working folder, its configuration naming the shared index; the warm cache."""
    write_project(tmp_path, shared_index.index_url)
    (tmp_path / ".git").mkdir()  # configuration discovery stops at a repository's top
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(warm_cache))
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["check", "--format", "json", "--no-suggestions", *argv])
    return code, json.loads(capsys.readouterr().out)


# -- requirements files ----------------------------------------------------------------------------------------


def test_requirements_keep_their_file_and_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("# notebooks\n" + CONFLICTING)
    code, report = run_json(capsys, "-r", "requirements.txt")
    assert code == 1 and report["verdict"] == "unresolvable"
    assert report["request"] == [
        {"requirement": "tensorflow==2.12.0", "origin": "requirements.txt", "line": 2},
        {"requirement": "numpy>=2", "origin": "requirements.txt", "line": 3},
    ]
    assert report["runtime"]["id"] == "freeze.txt" and report["runtime"]["python"] == "3.11"


def test_specs_and_files_together(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("numpy>=2\n")
    code, report = run_json(capsys, "tensorflow==2.12.0", "-r", "requirements.txt")
    assert code == 1
    assert [(r["origin"], r["line"]) for r in report["request"]] == [
        ("command line", None),
        ("requirements.txt", 1),
    ]


def test_a_file_that_fits_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    code, report = run_json(capsys, "-r", "requirements.txt")
    assert (code, report["verdict"]) == (0, "fits")


MALFORMED = [
    ("unknown-option.txt", "unknown-option.txt:2: unknown option --frobnicate"),
    ("bad-specifier.txt", "bad-specifier.txt:2: invalid requirement 'tensorflow=2.12.0'"),
    ("missing-nested.txt", "missing-nested.txt:3: -r does-not-exist.txt: no such file"),
    ("loop/a.txt", "loop/c.txt:2: -r a.txt: include loop (loop/a.txt:1 includes loop/b.txt"),
    ("binary-nul.txt", "binary-nul.txt:2: binary data (NUL byte): not a requirements file"),
    ("binary-undecodable.txt", "binary-undecodable.txt:3: not a text file"),
]


@pytest.fixture
def corpus(project: Path) -> Path:
    for item in DATA.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, project / item.name)
    return project


@pytest.mark.parametrize(("name", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_one_located_message_and_exit_2(
    corpus: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    code = main(["check", "-r", name])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tfconflict: error: {message}")
    assert "Traceback" not in err


def test_malformed_file_as_github_annotation(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "-r", "unknown-option.txt", "--format", "github"])
    out = capsys.readouterr().out
    assert code == 2
    assert out == "::error file=unknown-option.txt,line=2,title=tfconflict::unknown option --frobnicate\n"


def test_constraints_limit_versions_as_pip_does(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")

    def numpy_after(*extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        code, report = run_json(capsys, "-r", "requirements.txt", "--no-conflict-set", *extra)
        return code, report

    _, free = numpy_after()
    unconstrained = {c["name"]: c["to"] for c in free["pip"]["changes"]}["numpy"]
    assert unconstrained.startswith("1.23")  # tensorflow 2.12.0 needs numpy<1.24: pip takes the newest, 1.23.x
    (project / "constraints.txt").write_text(f"# pins\nnumpy!={unconstrained}\n")
    _, limited = numpy_after("-c", "constraints.txt")
    constrained = {c["name"]: c["to"] for c in limited["pip"]["changes"]}["numpy"]
    assert constrained.startswith("1.2") and Version(constrained) < Version(unconstrained)
    # a constraint that contradicts the request makes pip fail, and the report says so
    (project / "constraints.txt").write_text("numpy>=2\n")
    code, impossible = numpy_after("-c", "constraints.txt")
    assert code == 1 and impossible["verdict"] == "unresolvable"
    # a constraint on a project nothing installs changes nothing; a URL constraint cannot be applied and says so
    (project / "constraints.txt").write_text("pandas<2\nnumpy @ https://example.org/numpy-1.0-py3-none-any.whl\n")
    _, noted = numpy_after("-c", "constraints.txt")
    assert {c["name"]: c["to"] for c in noted["pip"]["changes"]}["numpy"] == unconstrained
    assert any(w.startswith("constraints.txt:2: NOTE: the constraint numpy @ ") for w in noted["warnings"]), noted


def test_bad_constraints_file_is_bad_input(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    (project / "constraints.txt").write_text("numpy[extra]<2\n")
    assert main(["check", "-r", "requirements.txt", "-c", "constraints.txt"]) == 2
    assert "constraints.txt:1: constraints cannot have extras" in capsys.readouterr().err


def test_index_url_line_of_a_requirements_file_feeds_the_engine(
    tmp_path: Path,
    recorded: FixtureIndex,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The configuration names no index (pip's configuration is /dev/null: the public index, never reached here
    # because the file's --index-url replaces it, as in pip).
    write_project(tmp_path, recorded.index_url, index=False)
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.txt").write_text(f"--index-url {recorded.index_url}\ntensorflow==2.18.1\n")
    code, report = run_json(capsys, "-r", "requirements.txt")
    assert (code, report["verdict"]) == (0, "fits")
    assert recorded.requests_for("/simple/tensorflow")


def test_extra_index_url_line_adds_to_the_configured_index(
    tmp_path: Path,
    index_server: FixtureIndex,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The configured index lacks numpy; the file's --extra-index-url serves it."""
    index_server.wheel("numpy", "2.0.0")
    write_project(tmp_path, index_server.index_url)
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    extra = f"{index_server.base_url}/other/simple/"
    (tmp_path / "requirements.txt").write_text(f"--extra-index-url {extra}\nnumpy>=2\n")
    code, report = run_json(capsys, "-r", "requirements.txt")
    assert report["verdict"] == "changes" and code == 1
    assert index_server.requests_for("/other/simple/numpy")


# -- configuration ---------------------------------------------------------------------------------------------


def test_ignore_leaves_packages_out_and_says_so(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")
    code, before = run_json(capsys, "-r", "requirements.txt")
    assert code == 1 and before["verdict"] in ("changes", "breaks")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('ignore = ["numpy", "keras", "jax", "jaxlib", "ml-dtypes", "scipy", "opt-einsum"]\n')
    code, after = run_json(capsys, "-r", "requirements.txt")
    assert (code, after["verdict"]) == (0, "fits")
    assert after["runtime"]["packages"] == 0
    assert any("left out of the analysis (ignore): jax, jaxlib, keras" in w for w in after["warnings"])


def test_ignored_requirement_line_is_not_checked(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text(CONFLICTING)
    _, report = run_json(capsys, "-r", "requirements.txt", "--ignore", "numpy")
    assert [r["requirement"] for r in report["request"]] == ["tensorflow==2.12.0"]
    assert "requirements.txt:2: numpy>=2 is not checked (ignore)" in report["warnings"]
    assert report["verdict"] != "unresolvable"


@pytest.mark.parametrize(
    ("fail_on", "requirement", "verdict", "code"),
    [
        ("breakage", "tensorflow==2.12.0", "changes", 1),
        ("not-installable", "tensorflow==2.12.0", "changes", 0),
        ("not-installable", CONFLICTING, "unresolvable", 1),
        ("breakage", "tensorflow==2.18.1", "fits", 0),
    ],
)
def test_fail_on_decides_the_exit_code(
    project: Path, capsys: pytest.CaptureFixture[str], fail_on: str, requirement: str, verdict: str, code: int
) -> None:
    (project / "requirements.txt").write_text(requirement + "\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write(f'fail-on = "{fail_on}"\n')
    got, report = run_json(capsys, "-r", "requirements.txt")
    assert (got, report["verdict"]) == (code, verdict)
    # the report's own exit code stays the verdict's; fail-on is the command's policy
    assert report["exit_code"] == (0 if verdict == "fits" else 1)


def test_command_line_fail_on_overrides_the_configuration(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('fail-on = "not-installable"\n')
    assert run_json(capsys, "-r", "requirements.txt")[0] == 0
    assert run_json(capsys, "-r", "requirements.txt", "--fail-on", "breakage")[0] == 1


def test_command_line_snapshot_overrides_the_configuration(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "other.txt").write_text("numpy==1.23.5\n")
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")
    _, report = run_json(capsys, "-r", "requirements.txt", "--snapshot", "other.txt", "--python", "3.11")
    assert report["runtime"]["id"] == "other.txt"


def test_configuration_problem_is_located_and_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('fail-on = "sometimes"\n')
    assert main(["check", "-r", "requirements.txt"]) == 2
    err = capsys.readouterr().err
    assert "tfconflict.toml:4: fail-on: expected one of breakage, not-installable" in err
    assert "Traceback" not in err


def test_runtime_key_picks_the_kind_of_a_source_selector() -> None:
    assert with_runtime("colab", "gpu") == "colab-gpu"
    assert with_runtime("colab:2025-07-14", "tpu") == "colab-tpu:2025-07-14"
    assert with_runtime("colab", "cpu") == "colab"
    assert with_runtime("colab-tpu:latest", "gpu") == "colab-tpu:latest"  # a selector naming its kind wins
    assert with_runtime("runtime.json", "gpu") == "runtime.json"
    assert with_runtime("current", "gpu") == "current"


def test_python_and_platform_keys_describe_a_freeze_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    config = project / "tfconflict.toml"
    config.write_text(
        config.read_text().replace('snapshot = "runtime.json"', 'snapshot = "freeze.txt"')
        + 'python = "3.11"\nplatform = "manylinux_2_31_x86_64"\n'
    )
    code, report = run_json(capsys, "-r", "requirements.txt")
    assert (code, report["verdict"]) == (0, "fits")
    assert report["runtime"]["python"] == "3.11"
    assert report["runtime"]["python_evidence"] == "given (--python)"
    assert "glibc 2.31" in report["runtime"]["platform"]


def test_python_key_is_noted_not_applied_to_snapshot_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    with (project / "tfconflict.toml").open("a") as f:
        f.write('python = "3.12"\n')
    _, report = run_json(capsys, "-r", "requirements.txt")
    assert report["runtime"]["python"] == "3.11"
    assert any("python = '3.12' in tfconflict.toml not used" in w for w in report["warnings"])
