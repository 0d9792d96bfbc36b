"""Requirements files as pip reads them: the corpus in tests/data/reqfiles, then edge cases and a fuzzer.

Each malformed file must give exactly one ``FILE:LINE`` problem for its defect and keep every good line.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement

from analyzer.errors import Problem
from analyzer.reqfile import DirectURL, ParsedRequirement, RequirementsSet, parse_requirements_files

DATA = Path(__file__).parent / "data" / "reqfiles"


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the corpus folder so files are named as a user would see them (``nested/top.txt``)."""
    monkeypatch.chdir(DATA)
    return DATA


def parse(*paths: str, constraints: tuple[str, ...] = (), env: dict[str, str] | None = None) -> RequirementsSet:
    return parse_requirements_files([Path(p) for p in paths], [Path(c) for c in constraints],
                                    env_vars={} if env is None else env)


def where(items: tuple[ParsedRequirement, ...]) -> list[tuple[str, str, int]]:
    return [(item.name, item.file, item.line) for item in items]


def located(problems: tuple[Problem, ...]) -> list[tuple[str, int | None]]:
    return [(p.file, p.line) for p in problems]


def packaging_message(text: str) -> str:
    with pytest.raises(InvalidRequirement) as info:
        Requirement(text)
    return str(info.value).splitlines()[0]


# -- includes --------------------------------------------------------------------------------------------------


def test_nested_includes_are_relative_to_the_including_file(in_data: Path) -> None:
    result = parse("nested/top.txt")
    assert result.problems == ()
    assert where(result.requirements) == [
        ("requests", "nested/common.txt", 1),
        ("pandas", "nested/sub/base.txt", 2),
        ("tensorflow", "nested/top.txt", 4),
    ]
    assert where(result.constraints) == [("numpy", "constraints/pins.txt", 2), ("protobuf", "constraints/pins.txt", 3)]
    assert result.files == ("nested/top.txt", "nested/sub/base.txt", "nested/common.txt", "constraints/pins.txt")
    assert result.requirements[0].requirement.extras == {"socks"}


def test_includes_do_not_depend_on_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = parse(str(DATA / "nested" / "top.txt"))
    assert result.problems == ()
    assert [r.name for r in result.requirements] == ["requests", "pandas", "tensorflow"]
    assert result.requirements[0].file == str(DATA / "nested" / "common.txt")


def test_include_loop_names_every_file_and_line_once(in_data: Path) -> None:
    result = parse("loop/a.txt")
    assert located(result.problems) == [("loop/c.txt", 2)]
    message = result.problems[0].message
    assert message.startswith("-r a.txt: include loop")
    for hop in ("loop/a.txt:1 includes loop/b.txt", "loop/b.txt:3 includes loop/c.txt",
                "loop/c.txt:2 includes loop/a.txt"):
        assert hop in message
    assert [r.name for r in result.requirements] == ["absl-py", "six"]  # the rest of the tree is still read


def test_a_file_including_itself(in_data: Path) -> None:
    result = parse("loop/self.txt")
    assert [str(p) for p in result.problems] == [
        "loop/self.txt:2: -r self.txt: include loop (loop/self.txt:2 includes loop/self.txt)"
    ]
    assert [r.name for r in result.requirements] == ["numpy"]


def test_the_same_file_twice_is_not_a_loop(tmp_path: Path) -> None:
    (tmp_path / "common.txt").write_text("numpy\n")
    (tmp_path / "b.txt").write_text("-r common.txt\n")
    (tmp_path / "c.txt").write_text("-r ./common.txt\n")
    (tmp_path / "a.txt").write_text("-r b.txt\n-r c.txt\n")
    result = parse(str(tmp_path / "a.txt"))
    assert result.problems == ()
    assert [(r.name, Path(r.file).name) for r in result.requirements] == [("numpy", "common.txt")] * 2


def test_a_very_deep_chain_of_includes_stops_with_one_problem(tmp_path: Path) -> None:
    for n in range(150):
        (tmp_path / f"r{n}.txt").write_text(f"pkg{n}\n-r r{n + 1}.txt\n")
    result = parse(str(tmp_path / "r0.txt"))
    assert [(Path(p.file).name, p.line) for p in result.problems] == [("r99.txt", 2)]
    assert "nested more than 100 deep" in result.problems[0].message
    assert len(result.requirements) == 100


def test_missing_nested_file_is_reported_at_the_including_line(in_data: Path) -> None:
    result = parse("missing-nested.txt")
    assert [str(p) for p in result.problems] == ["missing-nested.txt:3: -r does-not-exist.txt: no such file"]
    assert [r.name for r in result.requirements] == ["numpy", "pandas"]


def test_missing_nested_file_in_a_subfolder_names_the_resolved_path(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "base.txt").write_text("numpy\n-c pins/gone.txt\n")
    monkeypatch.chdir(tmp_path)
    result = parse("reqs/base.txt")
    assert [str(p) for p in result.problems] == [
        f"reqs/base.txt:2: -c pins/gone.txt: no such file ({os.path.join('reqs', 'pins', 'gone.txt')})"
    ]


def test_missing_top_level_file_has_no_line(tmp_path: Path) -> None:
    result = parse(str(tmp_path / "nope.txt"))
    assert [str(p) for p in result.problems] == [f"{tmp_path / 'nope.txt'}: no such file"]


def test_directory_and_device_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    lines = "-r folder\n"
    if Path("/dev/zero").exists():
        lines += "-r /dev/zero\n"  # endless: must be refused, not read
    (tmp_path / "a.txt").write_text(lines)
    result = parse(str(tmp_path / "a.txt"))
    messages = [p.message for p in result.problems]
    assert "is a directory" in messages[0] and result.problems[0].line == 1
    if len(lines.splitlines()) == 2:
        assert "not a regular file" in messages[1] and result.problems[1].line == 2
    assert len(messages) == len(lines.splitlines())


def test_remote_include_is_refused_and_file_url_is_read(tmp_path: Path) -> None:
    (tmp_path / "pins.txt").write_text("numpy==1.26.4\n")
    (tmp_path / "a.txt").write_text(f"-r https://example.org/reqs.txt\n-c {(tmp_path / 'pins.txt').as_uri()}\n")
    result = parse(str(tmp_path / "a.txt"))
    assert located(result.problems) == [(str(tmp_path / "a.txt"), 1)]
    assert "remote requirements files are not read" in result.problems[0].message
    assert [c.name for c in result.constraints] == ["numpy"]


def test_requirement_flag_inside_a_constraints_file_reads_requirements_as_pip_does(in_data: Path) -> None:
    result = parse(constraints=("constraints/bad.txt",))
    assert where(result.constraints) == [("numpy", "constraints/bad.txt", 1)]
    assert where(result.requirements) == [("requests", "nested/common.txt", 1)]
    assert [(p.line, p.message.split(":")[0]) for p in result.problems] == [
        (2, "editable requirements are not allowed as constraints"),
        (3, "constraints cannot have extras"),
    ]


# -- malformed files: one FILE:LINE message each -------------------------------------------------------------


def test_unknown_option(in_data: Path) -> None:
    result = parse("unknown-option.txt")
    assert [str(p) for p in result.problems] == ["unknown-option.txt:2: unknown option --frobnicate"]
    assert [r.name for r in result.requirements] == ["numpy", "pandas"]


def test_bad_specifier_reports_packaging_message(in_data: Path) -> None:
    result = parse("bad-specifier.txt")
    assert [str(p) for p in result.problems] == [
        "bad-specifier.txt:2: invalid requirement 'tensorflow=2.12.0': " + packaging_message("tensorflow=2.12.0")
    ]
    assert [r.name for r in result.requirements] == ["numpy", "pandas"]


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("binary-nul.txt", 2, "binary data (NUL byte): not a requirements file"),
        ("binary-undecodable.txt", 3, "not a text file: cannot decode byte 0xff as utf-8"),
    ],
)
def test_binary_garbage_is_one_message_for_the_file(in_data: Path, name: str, line: int, message: str) -> None:
    result = parse(name)
    assert [str(p) for p in result.problems] == [f"{name}:{line}: {message}"]
    assert result.requirements == () and result.files == ()


def test_binary_file_included_is_reported_in_that_file(tmp_path: Path) -> None:
    (tmp_path / "blob.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "a.txt").write_text("numpy\n-r blob.txt\n")
    result = parse(str(tmp_path / "a.txt"))
    assert located(result.problems) == [(str(tmp_path / "blob.txt"), 1)]


def test_bad_options_each_give_one_problem_at_their_line(in_data: Path) -> None:
    result = parse("bad-options.txt")
    assert [str(p) for p in result.problems] == [
        "bad-options.txt:1: --pre takes no value: '--pre=yes'",
        "bad-options.txt:2: --index-url needs a value",
        "bad-options.txt:3: unknown option -x",
        "bad-options.txt:5: cannot split the options (No closing quotation): '--requirement \"unclosed'",
        "bad-options.txt:6: -C needs KEY=VALUE: 'novalue'",
        "bad-options.txt:7: ambiguous option --no (could be --no-binary, --no-index)",
    ]
    # a unique prefix is accepted, as optparse accepts it for pip
    assert result.extra_index_urls == ("https://example.org/simple",)
    assert [r.name for r in result.requirements] == ["numpy"]


def test_bad_hash_options(in_data: Path) -> None:
    result = parse("hashes.txt")
    assert [str(p) for p in result.problems] == [
        "hashes.txt:14: --hash algorithm must be one of sha256, sha384, sha512: 'md5'",
        "hashes.txt:15: --hash needs ALGORITHM:DIGEST, like --hash=sha256:abcde…: 'sha256'",
    ]
    assert located(result.notes) == [("hashes.txt", 13)]


# -- syntax ----------------------------------------------------------------------------------------------------


def test_bom_crlf_and_continuations(in_data: Path) -> None:
    assert (DATA / "bom-crlf-continuation.txt").read_bytes().startswith(b"\xef\xbb\xbfnumpy==2.0.2\r\n")
    result = parse("bom-crlf-continuation.txt")
    assert result.problems == ()
    assert [(r.name, r.line) for r in result.requirements] == [
        ("numpy", 1), ("torch", 2), ("jax", 6), ("flax", 8), ("scipy", 9)
    ]
    torch = result.requirements[1]
    assert torch.hashes == ("sha256:aaaa", "sha256:bbbb")
    assert str(torch.requirement.specifier) == "==2.3.0"
    jax = result.requirements[2]
    assert jax.marker is not None and str(jax.marker) == 'sys_platform == "linux"'


def test_hash_lines_of_pip_compile_output(in_data: Path) -> None:
    result = parse("hashes.txt")
    absl, numpy = result.requirements
    assert (absl.name, absl.line, len(absl.hashes)) == ("absl-py", 4, 2)
    assert absl.hashes[0].startswith("sha256:526a04ea")
    assert (numpy.name, numpy.line, numpy.hashes) == ("numpy", 8, ("sha384:aaaaaaaa",))


def test_comments_versus_url_fragments(in_data: Path) -> None:
    result = parse("comments-urls.txt")
    by_name: dict[str, ParsedRequirement] = {r.name: r for r in result.requirements}
    assert list(by_name) == ["numpy", "mytool", "fancy-lib", "vcs-tool", "other", "edit-me"]
    assert str(by_name["numpy"].requirement) == "numpy>=2"
    assert by_name["mytool"].url == "https://example.org/src/mytool-1.0.tar.gz#sha256=0123abcd"
    assert by_name["fancy-lib"].url == "https://example.org/wheels/fancy_lib-0.3.1-py3-none-any.whl#sha256=feedbeef"
    assert by_name["vcs-tool"].url == "git+https://example.org/repo/tool.git@v1.2#egg=vcs-tool"
    other = by_name["other"].requirement
    assert isinstance(other, DirectURL) and other.version == "2.0"
    assert by_name["edit-me"].editable and by_name["edit-me"].line == 7
    # '#' glued to a word is not a comment (pip's rule), so that line is a bad requirement
    assert located(result.problems) == [("comments-urls.txt", 8)]


def test_markers_and_extras(in_data: Path) -> None:
    result = parse("markers-extras.txt")
    tf, jax, django, pytest_req = result.requirements
    assert tf.requirement.extras == {"and-cuda"}
    colab = {"sys_platform": "linux", "python_version": "3.12", "os_name": "posix"}
    assert tf.marker is not None and tf.marker.evaluate(colab)
    assert jax.requirement.extras == {"cuda12_pip", "tpu"}
    assert jax.marker is not None and not jax.marker.evaluate({"python_version": "3.8"})
    assert str(django.requirement.specifier) == "<5,>=4.2"
    assert pytest_req.marker is not None and not pytest_req.marker.evaluate({"extra": ""})
    assert [p.line for p in result.problems] == [5]
    assert result.problems[0].message.startswith("invalid requirement 'colorama ; os_name ==': ")


def test_urls_paths_and_wheel_names(in_data: Path) -> None:
    result = parse("urls.txt")
    got: dict[str, ParsedRequirement] = {r.name: r for r in result.requirements}
    assert list(got) == ["torch", "jaxlib", "local-wheel", "editable-project"]
    assert isinstance(got["torch"].requirement, Requirement)  # name @ URL stays a PEP 508 requirement
    jaxlib = got["jaxlib"].requirement
    assert isinstance(jaxlib, DirectURL)
    assert (jaxlib.version, str(jaxlib.marker)) == ("0.4.28+cuda12.cudnn89", 'sys_platform == "linux"')
    assert str(jaxlib.specifier) == "==0.4.28+cuda12.cudnn89"  # read as pip reads a wheel: name==version
    local = got["local-wheel"].requirement
    assert isinstance(local, DirectURL) and (local.version, local.url) == (
        "1.0.0", "./dist/local_wheel-1.0.0-py3-none-any.whl")
    assert got["editable-project"].editable and got["editable-project"].url == "./editable/project#egg=editable-project"
    problems = {p.line or 0: p.message for p in result.problems}
    assert sorted(problems) == [4, 5, 6, 8, 9, 10]
    for line in (4, 5, 6):
        assert "cannot know the name of" in problems[line] and "without building it" in problems[line]
    assert "add #egg=NAME" in problems[8]
    assert "not a valid wheel file name" in problems[10]


def test_name_at_url_with_marker_after_semicolon_without_space(tmp_path: Path) -> None:
    # pip cuts the marker at ';' for a line that is not a bare URL, so this means "only on Linux"
    (tmp_path / "r.txt").write_text('pkg @ https://example.org/pkg-1.0-py3-none-any.whl;sys_platform=="linux"\n')
    (req,) = parse(str(tmp_path / "r.txt")).requirements
    assert req.url == "https://example.org/pkg-1.0-py3-none-any.whl"
    assert req.marker is not None and not req.marker.evaluate({"sys_platform": "win32"})


def test_environment_variables(in_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"INDEX_USER": "me", "INDEX_TOKEN": "t0ken", "PKG_VERSION": "1.2.3", "NOT_A_VARIABLE": "no"}
    result = parse("env-vars.txt", env=env)
    assert result.index_url == "https://me:t0ken@example.org/simple"
    assert result.extra_index_urls == ("https://${UNSET_HOST}/simple",)  # unset: left as written
    assert [str(n) for n in result.notes] == [
        "env-vars.txt:2: environment variable ${UNSET_HOST} is not set (or empty); left as written"
    ]
    assert str(result.requirements[0].requirement) == "private-pkg==1.2.3"
    # $NAME without braces is never expanded (pip's rule), so that line stays a bad requirement
    assert located(result.problems) == [("env-vars.txt", 4)]
    # without env_vars, the process environment is used
    monkeypatch.setenv("PKG_VERSION", "9.9")
    from_os = parse_requirements_files([Path("env-vars.txt")])
    assert str(from_os.requirements[0].requirement) == "private-pkg==9.9"


def test_messages_never_show_expanded_secrets_or_url_passwords(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text(
        "private @ https://me:${TOKEN}@example.org/private.tar.gz junk\n"
        "other @ https://me:inline-pass@example.org/other.tar.gz junk\n"
        "--index-url https://ci:${TOKEN}@example.org/simple --trusted-host ${TOKEN}.example.org\n"
    )
    result = parse(str(tmp_path / "r.txt"), env={"TOKEN": "s3cr3t-t0ken"})
    assert result.index_url == "https://ci:s3cr3t-t0ken@example.org/simple"  # the value itself is kept for use
    shown = "\n".join(str(p) for p in result.problems + result.notes)
    assert "s3cr3t-t0ken" not in shown and "inline-pass" not in shown
    assert [p.line for p in result.problems] == [1, 2] and [n.line for n in result.notes] == [3]
    assert "https://me:${TOKEN}@example.org" in str(result.problems[0])
    assert "https://me:***@example.org" in str(result.problems[1])
    assert "--trusted-host ${TOKEN}.example.org" in str(result.notes[0])


def test_index_and_other_options(in_data: Path) -> None:
    result = parse("options.txt")
    assert result.problems == ()
    assert result.index_url == "https://mirror.example.org/simple"
    # --index-url drops the extra index named before it, as pip's finder does
    assert result.extra_index_urls == ("https://extra.example.org/simple",)
    assert result.find_links == ("./wheels", "https://example.org/links/")
    assert result.pre and not result.no_index
    noted = {n.line or 0: n.message for n in result.notes}
    assert "replaces the extra indexes" in noted[2]
    for line in (7, 8, 9, 10, 11, 12, 13):
        assert line in noted
    assert "--trusted-host mirror.example.org" in noted[10]
    assert [r.name for r in result.requirements] == ["numpy", "scipy"]
    assert [n.message for n in result.notes if n.line == 14] == [
        "--global-option -v has no effect on the analysis (recorded, ignored)",
        "--config-settings editable_mode=compat has no effect on the analysis (recorded, ignored)",
    ]
    assert "ignored on a requirement line" in noted[15]


def test_no_index_drops_indexes_and_keeps_find_links(in_data: Path, tmp_path: Path) -> None:
    result = parse("no-index.txt")
    assert (result.no_index, result.index_url, result.extra_index_urls) == (True, None, ())
    assert result.find_links == ("/opt/wheels",)
    assert [n.line for n in result.notes] == [3]


def test_find_links_relative_to_the_file_when_it_exists(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "r.txt").write_text("--find-links wheels\n")
    result = parse(str(tmp_path / "r.txt"))
    assert result.find_links == (str(tmp_path / "wheels"),)


def test_coding_declaration_and_utf16_bom(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("# -*- coding: latin-1 -*-\ncafé-lib==1.0 ; os_name == 'é'\n".encode("latin-1"))
    (tmp_path / "utf16.txt").write_bytes("numpy==2.0\n".encode("utf-16"))
    (tmp_path / "odd.txt").write_bytes(b"# coding: no-such-codec\nnumpy\n")
    latin = parse(str(tmp_path / "latin.txt"))
    assert located(latin.problems) == [(str(tmp_path / "latin.txt"), 2)]  # decoded, then refused by packaging
    assert [r.name for r in parse(str(tmp_path / "utf16.txt")).requirements] == ["numpy"]
    odd = parse(str(tmp_path / "odd.txt"))
    assert [(p.line, p.message) for p in odd.problems] == [
        (1, "unknown encoding 'no-such-codec' in the coding declaration")
    ]


def test_options_after_a_requirement_and_editable_lines(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text(
        "-e git+https://example.org/a.git#egg=a --hash=sha256:00\n"
        "-e git+https://example.org/b.git#egg=b -e git+https://example.org/c.git#egg=c\n"
        "-r other.txt -c pins.txt --pre\n"
    )
    (tmp_path / "other.txt").write_text("numpy\n")
    result = parse(str(tmp_path / "r.txt"))
    assert [(r.name, r.editable, r.hashes) for r in result.requirements] == [
        ("a", True, ()), ("b", True, ()), ("numpy", False, ())
    ]
    assert not result.pre  # pip ignores the other options of an include line
    assert result.problems == ()
    assert [n.line for n in result.notes] == [1, 2, 3, 3]


def test_parsed_requirement_text_and_origin(in_data: Path) -> None:
    result = parse("nested/top.txt")
    tf = result.requirements[-1]
    assert (tf.origin, str(tf)) == ("nested/top.txt:4", "tensorflow==2.12.0")
    assert f"{tf.origin}: {tf} conflicts" == "nested/top.txt:4: tensorflow==2.12.0 conflicts"


def test_results_are_frozen(in_data: Path) -> None:
    result = parse("nested/top.txt")
    with pytest.raises(AttributeError):
        result.requirements[0].line = 9  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.pre = True  # type: ignore[misc]


def test_parser_writes_nothing(in_data: Path) -> None:
    before = sorted((p, p.stat().st_mtime_ns) for p in DATA.rglob("*"))
    for path in sorted(DATA.rglob("*.txt")):
        parse(str(path.relative_to(DATA)))
    assert sorted((p, p.stat().st_mtime_ns) for p in DATA.rglob("*")) == before


def test_every_corpus_file_parses_without_raising(in_data: Path) -> None:
    for path in sorted(DATA.rglob("*.txt")):
        result = parse(str(path.relative_to(DATA)))
        assert all(p.message and p.file for p in result.problems + result.notes)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # ours ("nested too deeply") before packaging 26.4, packaging's own ("nested more than 200 levels") since
        ("a==1 ; " + "(" * 5000 + 'os_name=="x"' + ")" * 5000, "nested"),
        ("https://example.org/x.whl ; " + "(" * 5000, "nested"),
        ("a @ http://[::1/x.whl", "not a valid URL (Invalid IPv6 URL)"),
        ("http://[::1/x.whl", "not a valid URL (Invalid IPv6 URL)"),
        ("http://[::1/a.tar.gz#egg=a", "not a valid URL (Invalid IPv6 URL)"),
        ("-r file://[::1/x", "not a valid URL (Invalid IPv6 URL)"),
        ("./a-" + "1" * 5000 + "-py3-none-any.whl", "not a valid wheel file name"),
        ("https://example.org/a-" + "1" * 5000 + "-py3-none-any.whl", "not a valid wheel file name"),
        ("-r " + "x" * 5000, "cannot open"),
    ],
)
def test_adversarial_lines_are_one_problem_each(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "r.txt").write_text(f"numpy\n{line}\npandas\n")
    result = parse(str(tmp_path / "r.txt"))
    assert [(p.line, message in p.message) for p in result.problems] == [(2, True)]
    assert len(result.problems[0].message) < 400
    assert [r.name for r in result.requirements] == ["numpy", "pandas"]


# -- fuzzing ---------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=5), database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

_FRAGMENTS = st.sampled_from([
    "numpy", "numpy>=2", "tensorflow==2.12.0", "pkg[extra]", " ; python_version < '3.9'", ";", "@", " @ ",
    "https://example.org/p-1.0-py3-none-any.whl", "#egg=x", " #", "#", "\\", "\\\\", "${VAR}", "${", "$",
    "-r", "-c", "-e", "--requirement=", "a.txt", "b.txt", " ", "  ", "\t", "--hash=sha256:ab", "--hash",
    "--index-url", "-i", "--pre", "--no", "--", "-", "'", '"', "=", "./", "../", "/", "[", "]", "\r", "\n",
    "\r\n", "\x00", "\ufeff", "é", "file:", "git+https://example.org/x.git", "-C", "k=v", "-rb.txt", "--ext",
    "(" * 1500, ")", "os_name == 'x'", "http://[::1", "1" * 4400, "-py3-none-any.whl", ".whl", ".tar.gz",
])


def _check(result: RequirementsSet) -> None:
    assert isinstance(result, RequirementsSet)
    for problem in result.problems + result.notes:
        assert isinstance(problem, Problem) and problem.file and problem.message
        assert problem.line is None or problem.line >= 1
    for req in result.requirements + result.constraints:
        assert req.name and req.line >= 1


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "a.txt").write_bytes(data)
        _check(parse(str(Path(folder) / "a.txt")))


@FUZZ
@given(text=st.text(max_size=300))
def test_fuzz_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "a.txt").write_text(text, encoding="utf-8")
        _check(parse(str(Path(folder) / "a.txt"), env={"VAR": "numpy"}))


_LINES = st.lists(
    st.tuples(
        st.sampled_from(["", "numpy", "numpy ; ", "pkg @ ", "-r ", "-c ", "-e ", "--hash=", "./",
                         "https://example.org/p-1.0-py3-none-any.whl ; "]),
        st.lists(_FRAGMENTS, max_size=12),
    ).map(lambda parts: parts[0] + "".join(parts[1])),
    max_size=12,
).map("\n".join)


@FUZZ
@given(a=_LINES, b=_LINES)
def test_fuzz_two_files_that_may_include_each_other(a: str, b: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "a.txt").write_text(a, encoding="utf-8")
        (folder / "b.txt").write_text(b, encoding="utf-8")
        _check(parse(str(folder / "a.txt"), constraints=(str(folder / "b.txt"),), env={"VAR": "-r a.txt"}))
