"""Resolver behaviour that the scenario files do not show well: memoization, --upgrade, warnings as values,
keep/free semantics, and conflict explanations."""

from __future__ import annotations

from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from analyzer.resolver import Origin, Role, WarningKind, resolve
from analyzer.session import Session
from tests.memsource import Scenario, scenario_from_dict


def _scenario(packages: list[dict[str, Any]], pins: list[str], **image: Any) -> Scenario:
    return scenario_from_dict("inline", {"image": {"pins": pins, **image}, "package": packages})


def _resolve(s: Scenario, *specs: str, **kw: Any):  # type: ignore[no-untyped-def]
    return resolve([Requirement(x) for x in specs], Session.open(s.snapshot, s.source, s.env), **kw)


NUMPYS: list[dict[str, Any]] = [{"name": "numpy", "version": v} for v in ("1.23.5", "1.26.4", "2.1.3")]


def test_installed_first_unless_upgrade_is_asked() -> None:
    s = _scenario([*NUMPYS], ["numpy==1.26.4"])
    assert _resolve(s, "numpy").mapping["numpy"].origin is Origin.INSTALLED
    upgraded = _resolve(s, "numpy", prefer_installed=False).mapping["numpy"]
    assert (str(upgraded.version), upgraded.origin) == ("2.1.3", Origin.INDEX)


def test_one_session_reads_metadata_once_across_resolutions() -> None:
    s = _scenario(
        [*NUMPYS, {"name": "pandas", "version": "2.2.2", "requires": ["numpy>=1.23.2"]}],
        ["numpy==1.26.4", "pandas==2.2.2"],
    )
    session = Session.open(s.snapshot, s.source, s.env)
    request = [Requirement("pandas==2.2.2")]
    first = resolve(request, session, keep=[canonicalize_name("numpy")])
    calls = dict(s.source.calls)
    second = resolve(request, session, keep=[canonicalize_name("numpy")])
    assert first.mapping == second.mapping
    assert dict(s.source.calls) == calls
    # a new session starts from nothing: nothing is remembered in the process
    resolve(request, Session.open(s.snapshot, s.source, s.env), keep=[canonicalize_name("numpy")])
    assert s.source.calls["metadata"] == 2 * calls["metadata"]


def test_request_with_false_marker_is_dropped_with_a_warning() -> None:
    s = _scenario([*NUMPYS], [])
    result = _resolve(s, "numpy; sys_platform == 'win32'")
    assert result.ok and not result.mapping
    assert [w.kind for w in result.warnings] == [WarningKind.MARKER_FALSE]


def test_bad_metadata_is_a_warning_not_an_exception() -> None:
    s = _scenario(
        [
            {
                "name": "weird",
                "version": "1.0",
                "requires": ["numpy; python_version > 'abc'", "numpy>=1"],
                "skipped": ["numpy (>=1.0"],
            },
            *NUMPYS,
        ],
        [],
    )
    result = _resolve(s, "weird")
    assert result.ok
    kinds = sorted(w.kind.value for w in result.warnings)
    assert kinds.count(WarningKind.INVALID_REQUIREMENT.value) >= 1
    assert any("numpy (>=1.0" in w.message for w in result.warnings)
    assert result.mapping["numpy"].version.public == "2.1.3"


def test_free_pin_stays_installed_and_may_move() -> None:
    s = _scenario(
        [*NUMPYS, {"name": "tf", "version": "2.12.0", "requires": ["numpy<1.24"]}],
        ["numpy==1.26.4"],
    )
    kept = _resolve(s, "tf==2.12.0", keep=[canonicalize_name("numpy")])
    assert not kept.ok
    assert kept.conflict is not None
    assert {c.role for c in kept.conflict.causes} == {Role.KEEP, Role.DEPENDENCY}
    freed = _resolve(s, "tf==2.12.0", free=["numpy"])
    assert freed.ok and str(freed.mapping["numpy"].version) == "1.23.5"


def test_kept_pins_outside_the_request_still_constrain_it() -> None:
    """jax is not reached from the request, but keeping it keeps its numpy>=1.25 requirement."""
    s = _scenario(
        [
            *NUMPYS,
            {"name": "jax", "version": "0.4.30", "requires": ["numpy>=1.25"]},
            {"name": "tf", "version": "2.12.0", "requires": ["numpy<1.24"]},
        ],
        ["numpy==1.26.4", "jax==0.4.30"],
    )
    assert _resolve(s, "tf==2.12.0", keep=["jax"]).ok is False
    result = _resolve(s, "tf==2.12.0", keep=["jax"], ignore_edges=[("jax", "numpy")])
    assert result.ok
    assert str(result.mapping["jax"].version) == "0.4.30"
    assert str(result.mapping["numpy"].version) == "1.23.5"


def test_conflict_chain_goes_from_the_request_to_the_parent() -> None:
    s = _scenario(
        [
            {
                "name": "tensorflow",
                "version": "2.12.0",
                "requires": ["keras<2.13,>=2.12.0", "numpy<1.24,>=1.22"],
            },
            {"name": "keras", "version": "2.12.0", "requires": ["h5py>=3.8"]},
            {"name": "h5py", "version": "3.8.0", "requires": ["numpy>=1.24"]},
            *NUMPYS,
        ],
        [],
    )
    result = _resolve(s, "tensorflow==2.12.0")
    assert not result.ok and result.conflict is not None
    by_parent = {c.parent: c for c in result.conflict.causes}
    assert by_parent["tensorflow"].text == "tensorflow 2.12.0 depends on numpy<1.24,>=1.22"
    assert by_parent["tensorflow"].pip_text == "tensorflow 2.12.0 depends on numpy<1.24 and >=1.22"
    assert by_parent["h5py"].chain == (
        "The user requested tensorflow==2.12.0",
        "tensorflow 2.12.0 depends on keras<2.13,>=2.12.0",
        "keras 2.12.0 depends on h5py>=3.8",
    )
    message = result.conflict.pip_message()
    assert message.startswith("Cannot install h5py==3.8.0 and tensorflow==2.12.0 because")
    assert "    h5py 3.8.0 depends on numpy>=1.24" in message


def test_requires_python_cause_comes_first() -> None:
    s = _scenario(
        [{"name": "new", "version": "1.0", "metadata_requires_python": ">=3.12"}], [], python="3.11.13"
    )
    result = _resolve(s, "new==1.0")
    assert result.conflict is not None
    assert result.conflict.requires_python
    assert result.conflict.causes[0].text == "new 1.0 depends on Python>=3.12"


def test_local_version_pin_uses_the_public_release_and_says_so() -> None:
    s = _scenario(
        [
            {"name": "torch", "version": "2.1.0", "requires": ["filelock"]},
            {"name": "filelock", "version": "3.13.1"},
        ],
        ["torch==2.1.0+cpu", "filelock==3.13.1"],
    )
    result = _resolve(s, "filelock", keep=["torch"])
    assert result.ok
    torch = result.mapping[canonicalize_name("torch")]
    assert str(torch.version) == "2.1.0+cpu" and torch.known
    assert [w.kind for w in result.warnings] == [WarningKind.LOCAL_VERSION_FALLBACK]


def test_unreachable_direct_reference_is_a_failure_value() -> None:
    s = _scenario([], [])
    result = _resolve(s, "lib @ file:///nowhere/lib-1.0-py3-none-any.whl")
    assert not result.ok
    assert [w.kind for w in result.warnings] == [WarningKind.METADATA_UNAVAILABLE]


def test_extra_of_a_dependency_requires_its_base_at_the_same_version() -> None:
    s = _scenario(
        [
            {"name": "app", "version": "1.0", "requires": ["lib[fast]>=1"]},
            {"name": "lib", "version": "1.0", "requires": ["speedups; extra == 'fast'"]},
            {"name": "lib", "version": "2.0", "requires": ["speedups>=2; extra == 'fast'"]},
            {"name": "speedups", "version": "1.0"},
        ],
        ["lib==1.0"],
    )
    result = _resolve(s, "app")
    assert result.ok
    lib = result.mapping["lib"]
    assert (str(lib.version), lib.origin, lib.extras) == ("1.0", Origin.INSTALLED, frozenset({"fast"}))
    assert "speedups" in result.mapping


def test_single_unsatisfiable_requirement_is_worded_as_pip() -> None:
    s = _scenario(
        [{"name": "lib", "version": "1.0"}, {"name": "lib", "version": "1.1", "yanked": "broken"}],
        [],
    )
    result = _resolve(s, "lib>=1.1")
    assert result.conflict is not None
    assert result.conflict.pip_message().splitlines() == [
        "Ignored the following yanked versions: 1.1",
        "Could not find a version that satisfies the requirement lib>=1.1 (from versions: 1.0)",
        "No matching distribution found for lib>=1.1",
    ]


def test_requires_python_is_worded_as_pip() -> None:
    s = _scenario(
        [{"name": "new", "version": "1.0", "metadata_requires_python": ">=3.12"}], [], python="3.11.13"
    )
    result = _resolve(s, "new==1.0")
    assert result.conflict is not None
    assert (
        result.conflict.pip_message() == "Package 'new' requires a different Python: 3.11.13 not in '>=3.12'"
    )


def test_unreachable_direct_pin_falls_back_to_the_index_and_says_so() -> None:
    s = _scenario(
        [
            {"name": "torch", "version": "2.6.0", "requires": ["filelock"]},
            {"name": "filelock", "version": "3.13.1"},
        ],
        [
            "torch @ https://vendor.invalid/whl/torch-2.6.0%2Bcu124-cp311-cp311-linux_x86_64.whl",
            "filelock==3.13.1",
        ],
        versions={"torch": "2.6.0+cu124"},
    )
    result = _resolve(s, "filelock", keep=["torch"])
    torch = result.mapping[canonicalize_name("torch")]
    assert torch.known and [str(r) for r in torch.requirements] == ["filelock"]
    assert {w.kind for w in result.warnings} == {
        WarningKind.INDEX_FALLBACK,
        WarningKind.LOCAL_VERSION_FALLBACK,
    }


def test_a_freed_pin_with_no_compatible_version_fails_before_search_with_the_same_verdict() -> None:
    """tf-keras exists only for newer tensorflow: freeing it cannot help; the verdict matches a plain search."""
    s = _scenario(
        [
            {"name": "tensorflow", "version": "2.12.0"},
            {"name": "tensorflow", "version": "2.18.0"},
            *(
                {"name": "tf-keras", "version": v, "requires": [f"tensorflow~={v}"]}
                for v in ("2.15.0", "2.18.0")
            ),
        ],
        ["tensorflow==2.18.0", "tf-keras==2.18.0"],
    )
    freed = _resolve(s, "tensorflow==2.12.0", free=["tf-keras"])
    assert not freed.ok and freed.conflict is not None
    texts = {c.text for c in freed.conflict.causes}
    assert "The image keeps tf-keras installed (any version)" in texts
    assert "tf-keras 2.18.0 depends on tensorflow~=2.18.0" in texts
    searched = _resolve(s, "tensorflow==2.12.0", "tf-keras")  # the same problem, solved by resolvelib alone
    assert searched.ok is freed.ok
    assert _resolve(s, "tensorflow==2.18.0", free=["tf-keras"]).ok


def test_max_rounds_bounds_the_whole_call_and_is_a_value() -> None:
    s = _scenario(
        [*NUMPYS, {"name": "pandas", "version": "2.2.2", "requires": ["numpy>=1.23.2"]}],
        ["numpy==1.26.4"],
    )
    assert _resolve(s, "pandas").ok
    result = _resolve(s, "pandas", max_rounds=1)
    assert not result.ok and result.conflict is not None and result.conflict.too_deep


# -- the search's questions: range propagation, candidates in no solution, left-out pins --------------------------

TF_NUMPY: list[dict[str, Any]] = [
    *NUMPYS,
    {"name": "tensorflow", "version": "2.12.0", "requires": ["numpy<1.24,>=1.22"]},
    {"name": "tensorflow", "version": "2.18.0", "requires": ["numpy>=1.26"]},
]


def _count_solves(monkeypatch: Any) -> list[int]:
    import importlib

    resolver_module = importlib.import_module("analyzer.resolver.resolve")

    runs: list[int] = []
    real = resolver_module._run

    def counted(*args: Any) -> Any:
        out = real(*args)
        runs.append(out[1])
        return out

    monkeypatch.setattr(resolver_module, "_run", counted)
    return runs


def test_a_freed_pin_needing_a_version_the_request_excludes_fails_by_propagation(monkeypatch: Any) -> None:
    """treescope needs numpy>=1.25 in every version and tensorflow 2.12.0 needs numpy<1.24: numpy has several
    versions (none fixed), yet no treescope can stay. Proven without a resolvelib run, with resolvelib's verdict."""
    s = _scenario(
        [
            *TF_NUMPY,
            *({"name": "treescope", "version": v, "requires": ["numpy>=1.25"]} for v in ("0.1.8", "0.1.9")),
        ],
        ["numpy==2.1.3", "tensorflow==2.18.0", "treescope==0.1.9"],
    )
    runs = _count_solves(monkeypatch)
    freed = _resolve(s, "tensorflow==2.12.0", free=["treescope"])
    assert not freed.ok and freed.conflict is not None and runs == []
    texts = {c.text for c in freed.conflict.causes}
    assert "The image keeps treescope installed (any version)" in texts
    assert "treescope 0.1.9 depends on numpy>=1.25" in texts
    assert "tensorflow 2.12.0 depends on numpy<1.24,>=1.22" in texts
    plain = _resolve(s, "tensorflow==2.12.0", "treescope")  # the same problem, solved by resolvelib alone
    assert not plain.ok and runs


def test_search_questions_skip_candidates_in_no_solution(monkeypatch: Any) -> None:
    """Every jax but the oldest needs numpy>=1.24: resolvelib is offered only the one that fits when jax is
    freed, where the same problem asked plainly tries every newer jax first. Same answer."""
    from analyzer.resolver.provider import Provider

    tried: list[str] = []
    real = Provider.get_dependencies

    def recording(self: Provider, candidate: Any) -> Any:
        tried.append(f"{candidate.name} {candidate.version}")
        return real(self, candidate)

    monkeypatch.setattr(Provider, "get_dependencies", recording)
    jaxes = [f"0.4.{n}" for n in range(1, 31)]
    s = _scenario(
        [
            *TF_NUMPY,
            *(
                {"name": "jax", "version": v, "requires": ["numpy>=1.22" if v == "0.4.1" else "numpy>=1.24"]}
                for v in jaxes
            ),
        ],
        ["numpy==2.1.3", "tensorflow==2.18.0", "jax==0.4.30"],
    )
    freed = _resolve(s, "tensorflow==2.12.0", free=["jax"])
    assert freed.ok and str(freed.mapping["jax"].version) == "0.4.1"
    assert str(freed.mapping["numpy"].version) == "1.23.5"
    assert [t for t in tried if t.startswith("jax ")] == ["jax 0.4.1"]
    tried.clear()
    plain = _resolve(s, "tensorflow==2.12.0", "jax")
    assert plain.ok and str(plain.mapping["jax"].version) == "0.4.1"
    assert len([t for t in tried if t.startswith("jax ")]) == 30


def test_a_left_out_pin_stays_as_it_is_when_its_requirers_accept_it() -> None:
    """aiplatform (kept) needs genai<2; genai (left out of the question) needs pydantic>=2, which the request
    excludes. genai stays installed as it is: its own requirements are not the question's, as in a plain run."""
    s = _scenario(
        [{"name": "pydantic", "version": v} for v in ("1.10.0", "2.5.0")]
        + [
            {"name": "spacy", "version": "3.5.0", "requires": ["pydantic<1.11"]},
            {"name": "genai", "version": "1.2.0", "requires": ["pydantic>=2"]},
            {"name": "aiplatform", "version": "1.0.0", "requires": ["genai<2,>=1"]},
        ],
        ["pydantic==2.5.0", "genai==1.2.0", "aiplatform==1.0.0"],
    )
    result = _resolve(s, "spacy==3.5.0", keep=["aiplatform"], free=["pydantic"])
    assert result.ok and str(result.mapping["pydantic"].version) == "1.10.0"
    assert "genai" not in result.mapping


def test_pins_promoted_by_one_question_are_roots_from_the_start_of_the_next(monkeypatch: Any) -> None:
    """The search's memory: the second question solves once instead of twice, with the same answer."""
    s = _scenario(
        [
            *TF_NUMPY,
            {"name": "scipy", "version": "1.9.0", "requires": ["numpy<1.25"]},
            {"name": "scipy", "version": "1.14.0", "requires": ["numpy>=1.23.5"]},
            {"name": "sklearn", "version": "1.5.0", "requires": ["scipy>=1.6"]},
        ],
        ["numpy==2.1.3", "tensorflow==2.18.0", "scipy==1.14.0", "sklearn==1.5.0"],
    )
    runs = _count_solves(monkeypatch)
    memory: set[Any] = set()
    first = _resolve(s, "tensorflow==2.12.0", free=["scipy", "sklearn"], keep=[], promote=memory)
    solves_first = len(runs)
    assert first.ok and "scipy" in memory or solves_first == 1
    runs.clear()
    again = _resolve(s, "tensorflow==2.12.0", free=["scipy", "sklearn"], keep=[], promote=memory)
    assert again.ok and len(runs) == 1
    assert {n: str(d.version) for n, d in again.mapping.items()} == {
        n: str(d.version) for n, d in first.mapping.items()
    }


def test_the_requests_own_range_rules_out_candidates_too(monkeypatch: Any) -> None:
    """``pydantic<2`` has several versions (none fixed), yet every langchain needing pydantic>=2 is in no
    solution: resolvelib is offered only the one that fits."""
    from analyzer.resolver.provider import Provider

    tried: list[str] = []
    real = Provider.get_dependencies

    def recording(self: Provider, candidate: Any) -> Any:
        tried.append(f"{candidate.name} {candidate.version}")
        return real(self, candidate)

    monkeypatch.setattr(Provider, "get_dependencies", recording)
    s = _scenario(
        [
            *({"name": "pydantic", "version": v} for v in ("1.9.0", "1.10.0", "2.5.0")),
            *(
                {
                    "name": "langchain",
                    "version": f"0.{n}.0",
                    "requires": ["pydantic>=1" if n == 1 else "pydantic>=2"],
                }
                for n in range(1, 9)
            ),
        ],
        ["pydantic==2.5.0", "langchain==0.8.0"],
    )
    freed = _resolve(s, "pydantic<2", free=["langchain"])
    assert freed.ok and str(freed.mapping["langchain"].version) == "0.1.0"
    assert [t for t in tried if t.startswith("langchain ")] == ["langchain 0.1.0"]
    assert str(_resolve(s, "pydantic<2", "langchain").mapping["langchain"].version) == "0.1.0"


def test_narrowing_reads_only_identifiers_an_explicit_requirement_was_handed_for(monkeypatch: Any) -> None:
    """``explicit_keys`` only spares reading information: with it treated as "every identifier" (the plain scan)
    the narrowed selections, round by round, and the answer are the same; kept pins promoted to roots are
    explicit requirements, so the promoted question exercises the explicit branch."""
    from analyzer.resolver.provider import Provider

    class Everything(set):  # type: ignore[type-arg]
        def __contains__(self, item: object) -> bool:
            return True

    real = Provider.narrow_requirement_selection
    s = _scenario(
        [
            *TF_NUMPY,
            {"name": "scipy", "version": "1.9.0", "requires": ["numpy<1.25"]},
            {"name": "scipy", "version": "1.14.0", "requires": ["numpy>=1.23.5"]},
            {"name": "sklearn", "version": "1.5.0", "requires": ["scipy>=1.6"]},
        ],
        ["numpy==2.1.3", "tensorflow==2.18.0", "scipy==1.14.0", "sklearn==1.5.0"],
    )
    runs = []
    for plain in (False, True):
        narrowed: list[list[str]] = []

        def recording(
            self: Provider, *a: Any, plain: bool = plain, narrowed: list[list[str]] = narrowed, **k: Any
        ) -> Any:
            if plain:
                self.explicit_keys = Everything(self.explicit_keys)
            out = list(real(self, *a, **k))
            narrowed.append(out)
            return out

        monkeypatch.setattr(Provider, "narrow_requirement_selection", recording)
        answers = [
            _resolve(s, "tensorflow==2.12.0", free=["scipy", "sklearn"], keep=[], promote={"scipy"}),
            _resolve(s, "tensorflow==2.12.0", keep=["sklearn"], free=["scipy"], promote={"sklearn"}),
        ]
        runs.append(([{n: str(d.version) for n, d in r.mapping.items()} for r in answers], narrowed))
    assert runs[0] == runs[1]
    assert runs[0][1] and any(len(n) < 3 for n in runs[0][1])


def test_resolver_requirements_of_one_shared_line_read_as_a_fresh_parse() -> None:
    """A Requires-Dist object is shared by every candidate declaring it: each resolver requirement made from it
    says what one made from a fresh parse of the same text says, extras or not."""
    from analyzer.resolver.requirements import SpecifierRequirement

    for text in [
        "numpy<1.24,>=1.22",
        "Requests[SOCKS,security]>=2.0; python_version >= '3.8'",
        "jax[cuda12]",
    ]:
        shared = Requirement(text)
        for with_extras in (True, False):
            for _ in range(2):
                a = SpecifierRequirement(shared, with_extras=with_extras)
                b = SpecifierRequirement(Requirement(text), with_extras=with_extras)
                assert (a.name, a.extras, a.key, a.spec_key, a.text) == (
                    b.name,
                    b.extras,
                    b.key,
                    b.spec_key,
                    b.text,
                )
    plain = SpecifierRequirement(Requirement("Requests[socks]>=2"), with_extras=False)
    assert (plain.key, plain.text) == ("requests", "Requests>=2")
