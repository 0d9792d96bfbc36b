"""Project configuration: which file is found, what each key accepts, and how the command line overrides it."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer.config as config_module
from analyzer.config import KEYS, Config, Settings, load_config, merge, parse_as_of
from analyzer.errors import InputError

FULL = """\
[project]
name = "notebooks"

[tool.tfconflict]
snapshot = "colab:2025-07-14"
runtime = "gpu"
index-url = "https://mirror.example.org/simple"
extra-index-urls = ["https://extra.example.org/simple"]
as-of = 2025-07-14
offline = true
ignore = ["Google_Colab", "tensorflow-hub"]
fail-on = "not-installable"
requirements = ["requirements.txt", "ci/requirements-dev.in"]
colab-repo = "history/backend-info.bundle"

[tool.other]
runtime = "not ours"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_key_from_pyproject(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", FULL)
    config = load_config(tmp_path)
    assert config.problems == ()
    assert config.origin == pyproject
    assert config.snapshot == "colab:2025-07-14"
    assert config.runtime == "gpu"
    assert config.index_url == "https://mirror.example.org/simple"
    assert config.extra_index_urls == ("https://extra.example.org/simple",)
    assert config.as_of == datetime(2025, 7, 14, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert config.offline is True
    assert config.ignore == ("google-colab", "tensorflow-hub")
    assert config.fail_on == "not-installable"
    assert config.requirements == (tmp_path / "requirements.txt", tmp_path / "ci" / "requirements-dev.in")
    assert config.colab_repo == str(tmp_path / "history" / "backend-info.bundle")


def test_found_from_a_subfolder_or_a_file(tmp_path: Path) -> None:
    pyproject = write(tmp_path / "pyproject.toml", '[tool.tfconflict]\nruntime = "tpu"\n')
    nested = write(tmp_path / "notebooks" / "deep" / "requirements.txt", "numpy\n")
    assert load_config(nested.parent).origin == pyproject
    assert load_config(nested).runtime == "tpu"


def test_tfconflict_toml_wins_over_pyproject_beside_it(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.tfconflict]\nruntime = "gpu"\nsnapshot = "colab"\n')
    own = write(tmp_path / "tfconflict.toml", 'runtime = "tpu"\n')
    config = load_config(tmp_path)
    assert (config.origin, config.runtime, config.snapshot) == (own, "tpu", None)


def test_the_nearest_folder_wins(tmp_path: Path) -> None:
    write(tmp_path / "tfconflict.toml", 'runtime = "tpu"\n')
    inner = write(tmp_path / "sub" / "pyproject.toml", '[tool.tfconflict]\nruntime = "gpu"\n')
    config = load_config(tmp_path / "sub")
    assert (config.origin, config.runtime) == (inner, "gpu")


def test_a_pyproject_without_our_table_ends_the_search(tmp_path: Path) -> None:
    write(tmp_path / "tfconflict.toml", 'runtime = "tpu"\n')
    write(tmp_path / "project" / "pyproject.toml", '[project]\nname = "x"\n')
    assert load_config(tmp_path / "project") == Config()


def test_the_search_stops_at_the_top_of_a_git_repository(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.tfconflict]\nruntime = "gpu"\n')
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "src").mkdir()
    assert load_config(tmp_path / "repo" / "src") == Config()


def test_unknown_key_names_file_line_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "pyproject.toml", '[tool.other]\nrutime = 1\n\n[tool.tfconflict]\n# ours\nrutime = "gpu"\n'
                                       'fail_on = "breakage"\nzzz = 1\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(tmp_path)
    assert [str(p) for p in config.problems] == [
        "pyproject.toml:6: unknown key 'rutime' in [tool.tfconflict]; did you mean 'runtime'?",
        "pyproject.toml:7: unknown key 'fail_on' in [tool.tfconflict]; did you mean 'fail-on'?",
        "pyproject.toml:8: unknown key 'zzz' in [tool.tfconflict]; known keys: " + ", ".join(KEYS),
    ]
    assert config.runtime is None and config.fail_on is None


def test_wrong_types_are_problems_and_good_keys_still_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "tfconflict.toml", """\
runtime = "cuda"
offline = "yes"
extra-index-urls = "https://extra.example.org/simple"
"as-of" = 20250714
ignore = ["numpy", "not a name!"]
fail-on = "everything"
requirements = [1, 2]
snapshot = ""
index-url = "https://mirror.example.org/simple"
colab-repo = "https://example.org/backend-info.git"
""")
    monkeypatch.chdir(tmp_path)
    config = load_config(tmp_path)
    assert [str(p) for p in config.problems] == [
        "tfconflict.toml:1: runtime: expected one of cpu, gpu, tpu, got a string ('cuda')",
        "tfconflict.toml:2: offline: expected true or false, got a string ('yes')",
        ("tfconflict.toml:3: extra-index-urls: expected a list of strings, got a string "
         "('https://extra.example.org/simple')"),
        "tfconflict.toml:4: as-of: expected a date (YYYY-MM-DD) or a date-time, got a number (20250714)",
        "tfconflict.toml:5: ignore: not a package name: 'not a name!'",
        "tfconflict.toml:6: fail-on: expected one of breakage, not-installable, got a string ('everything')",
        "tfconflict.toml:7: requirements: expected a list of strings, got a list ([1, 2])",
        "tfconflict.toml:8: snapshot: expected a non-empty string, got a string ('')",
    ]
    assert config.index_url == "https://mirror.example.org/simple"
    assert config.colab_repo == "https://example.org/backend-info.git"  # a URL is not made relative
    assert config.runtime is None and config.offline is None


def test_invalid_toml_is_one_problem_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "tfconflict.toml", 'runtime = "gpu"\noffline = tru\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(tmp_path)
    assert [(p.file, p.line) for p in config.problems] == [("tfconflict.toml", 2)]
    assert config.problems[0].message.startswith("invalid TOML: ")
    assert config.origin == tmp_path / "tfconflict.toml"


def test_binary_config_file_is_one_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tfconflict.toml").write_bytes(b'runtime = "gpu"\n\xff\xfe\x00garbage')
    monkeypatch.chdir(tmp_path)
    assert [str(p) for p in load_config(tmp_path).problems] == ["tfconflict.toml:2: not UTF-8 text: not a TOML file"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("runtime = " + "[" * 5000 + "]" * 5000, "invalid TOML: nested too deeply"),
        ("x" * 5000 + " = 1", "unknown key 'xxx"),
        ('as-of = "' + "9" * 5000 + '"', "as-of: expected a date"),
        ("ignore = ['" + "-" * 5000 + "']", "ignore: not a package name"),
    ],
)
def test_hostile_files_give_one_short_problem(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "tfconflict.toml", text)
    (problem,) = load_config(tmp_path).problems
    assert problem.message.startswith(message) and len(problem.message) < 300


def test_tool_tfconflict_must_be_a_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "pyproject.toml", '[tool]\ntfconflict = "gpu"\n')
    monkeypatch.chdir(tmp_path)
    assert [str(p) for p in load_config(tmp_path).problems] == ["pyproject.toml:2: tool.tfconflict must be a table"]


def test_dotted_keys_are_found_for_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n[tool]\ntfconflict.runtime = "cuda"\n')
    monkeypatch.chdir(tmp_path)
    assert [(p.line, p.message.split(":")[0]) for p in load_config(tmp_path).problems] == [(4, "runtime")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2025, 7, 14), datetime(2025, 7, 14, 23, 59, 59, 999999, tzinfo=timezone.utc)),
        ("2025-07-14", datetime(2025, 7, 14, 23, 59, 59, 999999, tzinfo=timezone.utc)),
        ("2025-07-14T12:00:00Z", datetime(2025, 7, 14, 12, tzinfo=timezone.utc)),
        ("2025-07-14T12:00:00+02:00", datetime(2025, 7, 14, 10, tzinfo=timezone.utc)),
        (datetime(2025, 7, 14, 8, 30), datetime(2025, 7, 14, 8, 30, tzinfo=timezone.utc)),
    ],
)
def test_as_of_is_a_utc_moment(value: str | date, expected: datetime) -> None:
    assert parse_as_of(value) == expected


def test_as_of_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="expected a date"):
        parse_as_of("last tuesday")


def test_toml_datetime_as_of(tmp_path: Path) -> None:
    write(tmp_path / "tfconflict.toml", "as-of = 2025-07-14T06:00:00-04:00\n")
    assert load_config(tmp_path).as_of == datetime(2025, 7, 14, 10, tzinfo=timezone.utc)


# -- merge -----------------------------------------------------------------------------------------------------


def test_defaults_without_any_configuration() -> None:
    settings = merge(Config(), {})
    assert settings == Settings()
    assert (settings.runtime, settings.fail_on, settings.offline, settings.snapshot) == ("cpu", "breakage", False,
                                                                                        None)


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", FULL)
    config = load_config(tmp_path)
    settings = merge(config, {
        "snapshot": "colab:latest",
        "runtime": None,  # not given: the file's value stays
        "offline": False,  # given: wins over offline = true
        "as_of": "2024-01-31",
        "ignore": ["Keras"],
        "requirements": ["other.txt"],
        "unrelated": "ignored",
    })
    assert settings.origin == tmp_path / "pyproject.toml"
    assert settings.snapshot == "colab:latest"
    assert settings.runtime == "gpu"
    assert settings.offline is False
    assert settings.as_of == datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert settings.ignore == frozenset({"keras"})
    assert settings.requirements == (Path("other.txt"),)
    assert settings.fail_on == "not-installable"
    assert settings.index_url == "https://mirror.example.org/simple"
    assert settings.extra_index_urls == ("https://extra.example.org/simple",)


def test_merge_takes_an_argparse_namespace(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra-index-url", action="append")
    parser.add_argument("--offline", action="store_true", default=None)
    parser.add_argument("--fail-on", choices=config_module.FAIL_ON)
    config = Config(extra_index_urls=("https://file.example.org/simple",), offline=True)
    absent = merge(config, parser.parse_args([]))
    assert (absent.extra_index_urls, absent.offline) == (("https://file.example.org/simple",), True)
    given = merge(config, parser.parse_args(["--extra-index-url", "https://cli.example.org/simple",
                                             "--fail-on", "not-installable"]))
    assert given.extra_index_urls == ("https://cli.example.org/simple",)
    assert given.fail_on == "not-installable"


@pytest.mark.parametrize(
    ("overrides", "option"),
    [({"runtime": "cuda"}, "--runtime"), ({"as_of": "soon"}, "--as-of"), ({"ignore": ["bad name!"]}, "--ignore")],
)
def test_bad_command_line_values_are_input_errors(overrides: dict[str, object], option: str) -> None:
    with pytest.raises(InputError, match=f"^{option}: "):
        merge(Config(), overrides)


def test_the_readme_table_documents_every_key() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(KEYS)
    assert set(KEYS.values()) == {f.name for f in fields(Settings)} - {"origin"}


_TOML_PIECES = st.sampled_from([
    "runtime", "fail-on", "as-of", "ignore", "requirements", "offline", "extra-index-urls", "colab-repo", " = ",
    "=", '"gpu"', '"x"', "true", "1", "2025-07-14", "[", "]", "{", "}", ",", "\n", "[tool.tfconflict]\n",
    "'", '"', "#", ".", "\x00", "é",
])


@settings(max_examples=100, deadline=timedelta(seconds=5), database=None, derandomize=True)
@given(pieces=st.lists(_TOML_PIECES, max_size=40), as_pyproject=st.booleans())
def test_fuzz_config_files_never_raise(pieces: list[str], as_pyproject: bool) -> None:
    with tempfile.TemporaryDirectory() as name:
        write(Path(name) / ("pyproject.toml" if as_pyproject else "tfconflict.toml"), "".join(pieces))
        config = load_config(Path(name))
        assert all(p.file and p.message for p in config.problems)
        merge(config, {})
