"""Remembered answers (``analyzer.answers``): the same question is answered again from the cache only while every
row it was computed from is unchanged; a changed page, an expired failure, a search cut by its budget or
``--recompute`` make it computed again.

A small index built by the test (wheels from tests/wheelfactory.py) served in process, and a freeze file for
Python 3.11: ``other 1.0`` requires ``lib<2``, and the request ``app==1.0`` requires ``lib>=2``, so pip would
break ``other``. Ages are moved in the cache file, never by sleeping.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import analyzer.check
from analyzer import answers
from analyzer.cli import main
from analyzer.diagnosis import conflict_set
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.freshness import PAGE_FRESHNESS
from tests.indexserver import FixtureIndex, index_server, status_fault  # noqa: F401

FREEZE = "lib==1.0\nother==1.0\n"


@pytest.fixture
def runtime(tmp_path: Path, index_server: FixtureIndex) -> list[str]:
    """The index's content and the command line of the question (without the format)."""
    index_server.wheel("app", "1.0", ["lib>=2"])
    index_server.wheel("lib", "1.0")
    index_server.wheel("lib", "2.0")
    index_server.wheel("other", "1.0", ["lib<2"])
    freeze = tmp_path / "freeze.txt"
    freeze.write_text(FREEZE)
    return ["check", "app==1.0", "--snapshot", str(freeze), "--python", "3.11", "--index-url", index_server.index_url]


class Counting:
    """``run_check`` wrapped: how often the pipeline really ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = analyzer.check.run_check

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(analyzer.check, "run_check", counted)


def ask(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def age(table: str, column: str, seconds: float) -> None:
    """Every row of ``table`` made ``seconds`` earlier than it was (what waiting would do)."""
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {table} SET {column} = {column} - ?", (seconds,))


def remembered() -> int:
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM answers").fetchone()[0])


def test_the_same_question_is_answered_again_without_computing_or_asking_the_index(
    runtime: list[str], index_server: FixtureIndex, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = Counting(monkeypatch)
    first = ask(capsys, *runtime, "--format", "json")
    assert first[0] == 1 and json.loads(first[1])["verdict"] == "breaks"
    assert counting.calls == 1 and remembered() == 1
    index_server.reset_log()
    again = ask(capsys, *runtime, "--format", "json")
    assert again == first  # same output, same exit code
    assert counting.calls == 1 and index_server.log == []
    # another format is another question: computed, then remembered too
    text = ask(capsys, *runtime)
    assert counting.calls == 2 and remembered() == 2 and text[0] == 1 and text[1].startswith("BREAKS")


def test_recompute_computes_even_when_an_answer_is_remembered(
    runtime: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    first = ask(capsys, *runtime)
    assert ask(capsys, *runtime, "--recompute") == first
    assert ask(capsys, "-v", *runtime)[0] == first[0]  # -v shows this run's timings: computed
    assert counting.calls == 3
    # what --recompute computed is remembered in place of the earlier answer
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM answers")
    assert ask(capsys, *runtime, "--recompute") == first and remembered() == 1
    assert ask(capsys, *runtime) == first and counting.calls == 4


def test_a_page_that_changed_makes_the_answer_computed_again(
    runtime: list[str], index_server: FixtureIndex, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = Counting(monkeypatch)
    before = ask(capsys, *runtime, "--format", "json")
    # a release of app that no longer needs lib>=2; the request is left open so the new version can be chosen
    index_server.wheel("app", "1.1")
    open_request = [*runtime[:1], "app", *runtime[2:]]
    first_open = ask(capsys, *open_request, "--format", "json")
    assert json.loads(first_open[1])["verdict"] == "breaks"  # app 1.0 is all the cached page lists
    assert counting.calls == 2
    assert ask(capsys, *open_request, "--format", "json") == first_open and counting.calls == 2
    age("pages", "fetched", PAGE_FRESHNESS + 1)  # the window has passed: the page is read again
    after_open = ask(capsys, *open_request, "--format", "json")
    assert counting.calls == 3
    assert json.loads(after_open[1])["verdict"] == "fits" and after_open[0] == 0
    # the pinned question read the same pages: its remembered answer is not given again; the new one offers 1.1
    after = ask(capsys, *runtime, "--format", "json")
    assert counting.calls == 4 and after[0] == before[0] == 1
    assert "1.1" not in before[1] and "1.1" in json.dumps(json.loads(after[1])["suggestions"])


def test_a_metadata_row_that_went_away_makes_the_answer_computed_again(
    runtime: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    first = ask(capsys, *runtime)
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        assert conn.execute("DELETE FROM metadata WHERE rowid = (SELECT min(rowid) FROM metadata)").rowcount == 1
    assert ask(capsys, *runtime) == first and counting.calls == 2


def test_a_remembered_failure_is_trusted_only_until_it_expires(
    runtime: list[str], index_server: FixtureIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    """other's wheel cannot be read: the answer names it, is remembered, and is not given past the failure's
    expiry (the engine would ask the index again then)."""
    other = next(path for path in index_server.files if path.startswith("other-"))
    index_server.faults[f"/files/{other}"] = status_fault(404)
    out = ask(capsys, *runtime, "--format", "json")[1]
    assert json.loads(out)["pip"]["opaque"] == ["other"]
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        [(key,)] = conn.execute("SELECT key FROM answers").fetchall()
    cache = MetadataCache()
    assert answers.recall(cache, key) is not None
    assert answers.recall(cache, key, now=time.time() + PAGE_FRESHNESS + 1) is None


def test_a_search_cut_by_its_budget_is_not_remembered(
    runtime: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search's clock moves 10 s per reading, so its 5 s budget runs out after the first resolution: another
    run, on a faster day, could go further, so the answer is not kept."""
    ticks = iter(range(0, 10**6, 10))
    monkeypatch.setattr(conflict_set, "time", SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    code, out = ask(capsys, *runtime, "--budget", "5", "--format", "json")
    assert code == 1 and "stopped at its budget" in " ".join(json.loads(out)["warnings"])
    assert remembered() == 0
    monkeypatch.setattr(conflict_set, "time", time)
    code, out = ask(capsys, *runtime, "--budget", "5", "--format", "json")
    assert code == 1 and json.loads(out)["conflict_set"]["sets"] and remembered() == 1


def test_the_engine_names_every_row_it_read_or_none(index_server: FixtureIndex) -> None:
    index_server.wheel("lib", "1.0")
    index_server.wheel("app", "1.0", ["lib"])
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        for name in ("app", "lib"):
            engine.metadata(engine.project(name).files[0])
        reads = engine.reads()
        assert reads is not None
        assert [key.rsplit("|", 1)[1] for key, _ in reads["pages"]] == ["app", "lib"]
        assert len(reads["metadata"]) == 2 and all(exp is None for _, _, exp in reads["metadata"])
        cache = engine.cache
        assert cache is not None
        key = answers.question_key(cache, {"command": "test"})
        assert answers.remember(cache, key, reads, "out\n", "fits")
        found = answers.recall(cache, key)
        assert found is not None and (found.output, found.verdict, found.rows) == ("out\n", "fits", 4)
    index_server.faults["/simple/gone/"] = status_fault(500)
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        engine.project("app")
        assert engine.reads() is not None
        engine.project("gone")  # a page that could not be had: nothing computed from it can be remembered
        assert engine.reads() is None


def test_the_question_key_is_keyed_by_the_cache_and_hides_credentials(tmp_path: Path) -> None:
    one, two = MetadataCache(tmp_path / "a.sqlite3"), MetadataCache(tmp_path / "b.sqlite3")
    question = {"indexes": ["https://user:s3cret@example.org/simple/"], "request": "app==1.0"}
    key = answers.question_key(one, question)
    assert key is not None and key == answers.question_key(one, dict(question))
    assert key != answers.question_key(two, question)  # another cache, another key: nothing to test guesses on
    assert key != answers.question_key(one, {**question, "request": "app==1.1"})
    assert "s3cret" not in key


def test_the_hook_answers_an_unchanged_file_again_from_the_cache(
    runtime: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# the app\napp==1.0\n")
    hook = ["hook", str(reqs), *runtime[2:]]
    first = ask(capsys, *hook)
    assert first[0] == 1 and f"{reqs}:2:" in first[1] and counting.calls == 1
    assert ask(capsys, *hook) == first and counting.calls == 1
    reqs.write_text("# the app\n\napp==1.0\n")  # the line moved: another question
    moved = ask(capsys, *hook)
    assert moved[0] == 1 and f"{reqs}:3:" in moved[1] and counting.calls == 2


def test_a_local_index_page_is_told_unchanged_by_its_file(
    runtime: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file:// index (pip's configuration may add one) is read anew by every run, never cached: an answer that
    read it is given again while its pages' files are unchanged, and computed again when one appears."""
    counting = Counting(monkeypatch)
    local = tmp_path / "local-index"
    local.mkdir()
    question = [*runtime, "--extra-index-url", local.as_uri()]
    first = ask(capsys, *question)
    assert ask(capsys, *question) == first and counting.calls == 1
    (local / "lib").mkdir()
    (local / "lib" / "index.html").write_text("<!DOCTYPE html><html><body></body></html>\n")
    assert ask(capsys, *question) == first and counting.calls == 2
    assert ask(capsys, *question) == first and counting.calls == 2


def test_a_set_not_shown_minimal_claims_no_removal(
    runtime: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search cut by its budget shows a set that is enough; a pin the fitting resolution left out is not said to
    have no fitting version (that was never shown), while a verified set says so."""
    from dataclasses import replace

    from analyzer.render.sections import render_text

    seen: list[object] = []
    real = analyzer.check.run_check

    def keep(*args: object, **kwargs: object) -> object:
        seen.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(analyzer.check, "run_check", keep)
    out = ask(capsys, *runtime, "--full")[1]
    assert "other 1.0 must be removed (no version of it fits)" in out and "(verified:" in out
    report = seen[0]
    found = report.conflict_set  # type: ignore[attr-defined]
    cut = replace(report, conflict_set=replace(found, sets=(replace(found.sets[0], verified=False),)))
    text = render_text(cut, full=True)
    assert "other 1.0 left out of the resolution that fitted (not shown that it must go)" in text
    assert "no version of it fits" not in text and "is enough for the request to fit" in text


def test_ask_opens_no_engine_for_a_remembered_answer(index_server: FixtureIndex, runtime: list[str]) -> None:
    """``analyzer.ask.ask``, as check and hook call it: computed once through the engine the caller builds,
    then given again from the cache without building one; the exit code follows ``fail-on``."""
    from contextlib import ExitStack

    from analyzer.ask import Answer, CheckOptions
    from analyzer.ask import ask as answer
    from analyzer.config import Settings
    from analyzer.errors import ExitCode
    from analyzer.request import parse_specs
    from analyzer.selectors import freeze_snapshot

    snapshot = freeze_snapshot(FREEZE, "freeze.txt", python="3.11")
    config = IndexConfig(index_server.index_url)
    opened: list[MetadataEngine] = []
    with ExitStack() as stack:
        cache = MetadataCache()
        stack.callback(cache.close)

        def engine() -> MetadataEngine:
            opened.append(stack.enter_context(MetadataEngine(config, cache=cache)))
            return opened[-1]

        def once() -> Answer:
            return answer(
                "check", parse_specs(["app==1.0"]), snapshot, (), Settings(), config,
                cache=cache, engine=engine, render=lambda report: f"{report.verdict.value}\n",
                options=CheckOptions(suggestions=False),
            )

        first, again = once(), once()
    assert (first.output, first.verdict, len(opened)) == ("breaks\n", "breaks", 1) and first.report is not None
    assert again == Answer("breaks\n", "breaks") and len(opened) == 1
    assert again.exit_code("breakage") is ExitCode.CONFLICT and again.exit_code("not-installable") is ExitCode.OK


def test_an_answer_that_rested_on_a_network_failure_is_not_remembered(
    runtime: list[str], index_server: FixtureIndex, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """other's wheel answers 503 (after the retries): the answer names it and is not kept; once the server is
    back, the same question is computed again, right, and that answer is remembered."""
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")
    counting = Counting(monkeypatch)
    other = next(path for path in index_server.files if path.startswith("other-"))
    index_server.faults[f"/files/{other}"] = status_fault(503)
    failed = ask(capsys, *runtime, "--format", "json")[1]
    assert json.loads(failed)["pip"]["opaque"] == ["other"] and remembered() == 0
    index_server.faults.clear()
    code, out = ask(capsys, *runtime, "--format", "json")
    assert counting.calls == 2 and json.loads(out)["pip"]["opaque"] == [] and remembered() == 1
    assert ask(capsys, *runtime, "--format", "json") == (code, out) and counting.calls == 2
