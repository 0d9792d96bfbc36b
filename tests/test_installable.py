"""Installable at all? Verdicts computed from file lists shaped like the real index's."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.installable import Status, installability, summarize_tags
from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import CoreMetadata, DistFile, DistKind, ProjectFiles, SdistFacts
from analyzer.metadata.sdist import not_read
from analyzer.snapshot import Platform, Snapshot

INDEX = "http://index.invalid/simple/"
PLATFORMS = ("manylinux_2_17_x86_64.manylinux2014_x86_64", "macosx_10_15_x86_64", "win_amd64")


def env_for(python: str) -> TargetEnvironment:
    return TargetEnvironment.from_snapshot(Snapshot(id="t", python=python, platform=Platform(glibc="2.35")))


def wheel(
    project: str, version: str, tag: str, platform: str, *, rp: str | None = None, yanked: str | None = None
) -> DistFile:
    filename = f"{project.replace('-', '_')}-{version}-{tag}-{platform}.whl"
    return DistFile(
        canonicalize_name(project),
        Version(version),
        filename,
        INDEX + filename,
        DistKind.WHEEL,
        INDEX,
        requires_python=SpecifierSet(rp) if rp else None,
        yanked=yanked,
    )


def sdist(project: str, version: str, *, rp: str | None = None) -> DistFile:
    filename = f"{project}-{version}.tar.gz"
    return DistFile(
        canonicalize_name(project),
        Version(version),
        filename,
        INDEX + filename,
        DistKind.SDIST,
        INDEX,
        requires_python=SpecifierSet(rp) if rp else None,
    )


def cpython_wheels(project: str, version: str, minors: Iterable[int], rp: str) -> list[DistFile]:
    return [wheel(project, version, f"cp3{m}-cp3{m}", p, rp=rp) for m in minors for p in PLATFORMS]


class FilesSource:
    """Only what installability needs: file lists."""

    def __init__(self, files: Iterable[DistFile]) -> None:
        self.files: dict[str, list[DistFile]] = {}
        for f in files:
            self.files.setdefault(f.project, []).append(f)

    def project(self, name: NormalizedName) -> ProjectFiles:
        return ProjectFiles(name, tuple(self.files.get(name, ())), indexes=(INDEX,))

    def metadata(self, file: DistFile) -> CoreMetadata:
        raise AssertionError("installability must not need core metadata")

    def metadata_for_url(self, name: NormalizedName, url: str) -> CoreMetadata:
        raise AssertionError("installability must not need core metadata")

    def prefetch(self, files: Iterable[DistFile]) -> None:
        pass

    def sdist_facts(self, file: DistFile) -> SdistFacts:
        return not_read(file.filename, "file lists only")


# tensorflow's real wheel matrix: 2.12 cp38-cp311, 2.16 cp39-cp312, 2.20 cp39-cp313.
TF = FilesSource(
    cpython_wheels("tensorflow", "2.11.0", range(7, 11), ">=3.7")
    + cpython_wheels("tensorflow", "2.12.0", range(8, 12), ">=3.8")
    + cpython_wheels("tensorflow", "2.16.1", range(9, 13), ">=3.9")
    + cpython_wheels("tensorflow", "2.19.0", range(9, 13), ">=3.9")
    + cpython_wheels("tensorflow", "2.20.0rc0", range(9, 14), ">=3.9")
    + cpython_wheels("tensorflow", "2.20.0", range(9, 14), ">=3.9")
    + [
        wheel("purelib", "1.0", "py3-none", "any"),
        sdist("onlysdist", "0.5"),
        wheel("yankee", "1.0", "py3-none", "any", yanked="broken"),
        wheel("yankee", "0.9", "py3-none", "any"),
    ]
)
RELEASES = (("colab-2024", "3.10"), ("colab-2025", "3.11"), ("colab-latest", "3.13"))


def test_tensorflow_2_12_on_python_3_13_is_not_installable_with_evidence_and_alternatives() -> None:
    result = installability([Requirement("tensorflow==2.12.0")], env_for("3.13.5"), TF, releases=RELEASES)
    assert not result.ok
    (item,) = result.items
    assert item.name == "tensorflow" and item.status is Status.NOT_INSTALLABLE
    assert item.interpreters == ("cp38", "cp39", "cp310", "cp311")
    assert (
        "manylinux2014 x86_64" in item.platforms and "macOS" in item.platforms and "Windows" in item.platforms
    )
    assert item.requires_python == (">=3.8",)
    assert "cp38, cp39, cp310, cp311" in item.message
    # Nothing below 2.12 has cp313; the closest above with a cp313 wheel is 2.20.0 (the rc is not offered).
    assert item.nearest_below is None
    assert item.nearest_above == Version("2.20.0")
    assert item.latest_installable == Version("2.20.0")
    # Only the releases whose Python has a 2.12.0 wheel.
    assert item.fitting_releases == ("colab-2024", "colab-2025")


def test_tensorflow_2_12_on_python_3_11_installs_with_the_best_wheel() -> None:
    item = installability([Requirement("tensorflow==2.12.0")], env_for("3.11.13"), TF).items[0]
    assert item.status is Status.INSTALLABLE and item.installable
    assert item.chosen == Version("2.12.0")
    assert item.chosen_file is not None and "cp311-cp311-manylinux" in item.chosen_file


def test_range_request_picks_newest_installable_and_alternatives_bracket_the_request() -> None:
    env = env_for("3.12.3")
    item = installability([Requirement("tensorflow>=2.12,<2.16")], env, TF).items[0]
    assert item.status is Status.NOT_INSTALLABLE
    assert item.nearest_below is None and item.nearest_above == Version("2.16.1")
    ok = installability([Requirement("tensorflow<2.20")], env, TF).items[0]
    assert ok.status is Status.INSTALLABLE and ok.chosen == Version("2.19.0")


def test_unknown_project_and_no_matching_version_are_values() -> None:
    result = installability(
        [Requirement("no-such-thing==1.0"), Requirement("tensorflow==9.9")], env_for("3.11"), TF
    )
    unknown, nomatch = result.items
    assert unknown.status is Status.UNKNOWN_PROJECT and INDEX in unknown.message
    assert nomatch.status is Status.NO_MATCHING_VERSION
    assert nomatch.nearest_below == Version("2.20.0") and nomatch.nearest_above is None


def test_sdist_only_is_installable_but_flagged() -> None:
    item = installability([Requirement("onlysdist")], env_for("3.11"), TF).items[0]
    assert item.status is Status.SDIST_ONLY and item.installable
    assert "pip would build it" in item.message


def test_yanked_files_count_only_for_exact_pins() -> None:
    env = env_for("3.11")
    assert installability([Requirement("yankee")], env, TF).items[0].chosen == Version("0.9")
    exact = installability([Requirement("yankee==1.0")], env, TF).items[0]
    assert exact.status is Status.INSTALLABLE and exact.chosen == Version("1.0")
    ranged = installability([Requirement("yankee>=1.0")], env, TF).items[0]
    assert ranged.status is Status.NOT_INSTALLABLE


def test_summarize_tags_orders_interpreters_numerically_and_groups_platforms() -> None:
    interpreters, platforms = summarize_tags(
        [
            "x-1-cp310-cp310-manylinux_2_28_aarch64.whl",
            "x-1-cp39-abi3-macosx_11_0_arm64.whl",
            "x-1-cp38-cp38-win_amd64.whl",
            "x-1-py3-none-any.whl",
        ]
    )
    assert interpreters == ("cp38", "cp39-abi3", "cp310", "py3")
    assert platforms == ("Windows", "any platform", "macOS", "manylinux_2_28 aarch64")


def test_supported_versions_are_the_session_targets_and_each_session_asks_for_itself() -> None:
    from analyzer.diagnosis.installable import supported_versions, version_support
    from analyzer.session import Session

    def session(python: str) -> Session:
        snapshot = Snapshot(id="t", python=python, platform=Platform(glibc="2.35"))
        return Session.open(snapshot, TF)  # type: ignore[arg-type]

    tf = canonicalize_name("tensorflow")
    py311, py313 = session("3.11.13"), session("3.13.5")
    assert supported_versions(py311, tf) == version_support(TF.project(tf).files, py311.env)
    assert supported_versions(py311, tf)[Version("2.12.0")].installable
    assert not supported_versions(py313, tf)[Version("2.12.0")].installable  # another target, another answer
    # a yanked-only version is told apart from one that does not install at all
    yankee = supported_versions(py311, canonicalize_name("yankee"))
    assert yankee[Version("1.0")].yanked_only and not yankee[Version("1.0")].installable
    assert yankee[Version("0.9")].wheel == "yankee-0.9-py3-none-any.whl"
