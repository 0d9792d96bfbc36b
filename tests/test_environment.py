"""``TargetEnvironment``'s remembered answers are packaging's own answers for the target, whatever ids are reused."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from analyzer.environment import TargetEnvironment
from analyzer.snapshot import Platform, Snapshot

TEXTS = [">=3.8", "<3.12,>=3.9", ">=3.12", "!=3.11.*", "~=3.11.0", "==3.11.13", "<3.11.14a1", ">3.11.13"]


def test_requires_python_answers_as_packaging_does_even_when_ids_are_reused() -> None:
    env = TargetEnvironment.from_snapshot(Snapshot(id="t", python="3.11.13", platform=Platform(glibc="2.35")))
    for _ in range(3):  # fresh objects each pass: CPython reuses the ids of the ones just freed
        for text in TEXTS:
            spec = SpecifierSet(text)
            expected = spec.contains("3.11.13", prereleases=True)
            assert env.python_allowed(spec) is expected, text
            assert env.python_allowed(spec) is expected  # the remembered answer
            del spec
    assert env.python_allowed(None)
    assert [env.python_allowed(SpecifierSet(t)) for t in TEXTS] == [
        True, True, False, False, True, True, True, False,
    ]  # fmt: skip
