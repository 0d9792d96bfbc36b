"""pip check on the target: pip's rules (markers with extra empty, pre-releases allowed) and pip's wording."""

from __future__ import annotations

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from analyzer.diagnosis.pipcheck import InstalledDist, check, check_extras, check_snapshot
from analyzer.session import Session
from tests.memsource import scenario_from_dict

S = scenario_from_dict(
    "pipcheck",
    {
        "image": {
            "python": "3.11.13",
            "pins": [
                "jax==0.4.26",
                "ml-dtypes==0.1.0",
                "numpy==2.0.0rc1",
                "google-colab==1.0.0",
                "pandas==2.3.0",
                "cudf-cu12==24.4.1",
            ],
            "declared": {"google-colab": ["pandas==2.2.2", "portpicker==1.5.2"]},
        },
        "package": [
            {
                "name": "jax",
                "version": "0.4.26",
                "requires": [
                    "ml-dtypes>=0.2.0",
                    "numpy>=1.22",
                    "scipy>=1.9",
                    "pytest; extra == 'test'",
                    "colorama; sys_platform == 'win32'",
                    "tomli; python_version < '3.11'",
                ],
            },
            {"name": "ml-dtypes", "version": "0.1.0", "requires": ["numpy>1.20"]},
            {"name": "numpy", "version": "2.0.0rc1"},
            {"name": "pandas", "version": "2.3.0", "requires": ["numpy>=1.23.2"]},
        ],
    },
)


def _texts() -> list[str]:
    return [v.text() for v in check_snapshot(Session.open(S.snapshot, S.source, S.env)).violations]


def test_pip_check_reports_missing_and_incompatible_worded_as_pip() -> None:
    assert _texts() == [
        "google-colab 1.0.0 requires pandas==2.2.2, but you have pandas 2.3.0 which is incompatible.",
        "google-colab 1.0.0 requires portpicker==1.5.2, which is not installed.",
        "jax 0.4.26 requires ml-dtypes>=0.2.0, but you have ml-dtypes 0.1.0 which is incompatible.",
        "jax 0.4.26 requires scipy>=1.9, which is not installed.",
    ]


def test_pip_check_own_wording_differs_from_the_install_warning() -> None:
    result = check_snapshot(Session.open(S.snapshot, S.source, S.env))
    lines = [v.check_text() for v in result.violations]
    assert "jax 0.4.26 has requirement ml-dtypes>=0.2.0, but you have ml-dtypes 0.1.0." in lines
    assert "jax 0.4.26 requires scipy, which is not installed." in lines


def test_opaque_distributions_are_skipped_and_listed() -> None:
    result = check_snapshot(Session.open(S.snapshot, S.source, S.env))
    assert result.opaque == ("cudf-cu12",)


def test_prerelease_installed_version_satisfies_as_in_pip_check() -> None:
    # numpy 2.0.0rc1 satisfies numpy>=1.22 and numpy>1.20: no violation names numpy
    assert not [t for t in _texts() if "numpy" in t]


def test_check_over_plain_versions() -> None:
    versions = {
        NormalizedName("a"): InstalledDist("1.0", (Requirement("b<2"), Requirement("c; extra == 'x'"))),
        NormalizedName("b"): InstalledDist("2.5", ()),
    }
    result = check(versions, S.env)
    assert [v.text() for v in result.violations] == [
        "a 1.0 requires b<2, but you have b 2.5 which is incompatible."
    ]
    only = check(versions, S.env, only=frozenset({NormalizedName("b")}))
    assert only.ok


def _dists(**entries: tuple[str, list[str]]) -> dict[NormalizedName, InstalledDist]:
    return {
        NormalizedName(name.replace("_", "-")): InstalledDist(version, tuple(Requirement(r) for r in reqs))
        for name, (version, reqs) in entries.items()
    }


API_CORE = (
    "2.19.0",
    [
        "protobuf>=3.19",
        "grpcio-status<2.0.dev0,>=1.49.1; python_version >= '3.11' and extra == 'grpc'",
        "grpcio-status<2.0.dev0,>=1.33.2; python_version < '3.11' and extra == 'grpc'",
        "google-api-core[grpc]; extra == 'all'",
        "requests-oauthlib; extra == 'oauth'",
    ],
)


def test_extras_that_installed_packages_ask_of_each_other_are_checked() -> None:
    versions = _dists(
        google_api_core=API_CORE,
        google_cloud_storage=("2.0", ["google-api-core[grpc]>=2.0"]),
        google_cloud_pubsub=("2.1", ["google-api-core[all]>=2.0"]),
        grpcio_status=("1.48.2", []),
        protobuf=("4.25.3", []),
    )
    assert not check(versions, S.env).violations  # pip check does not see it
    [found] = check_extras(versions, S.env)
    assert found.future_text() == (
        "google-api-core 2.19.0 [grpc] requires grpcio-status<2.0.dev0,>=1.49.1 (asked for by google-api-core[all], "
        "google-cloud-storage 2.0), but you will have grpcio-status 1.48.2"
    )
    # the extra nobody asks for (oauth) is not read; a met extra requirement is no violation
    assert not check_extras({**versions, **_dists(grpcio_status=("1.62.0", []))}, S.env)


def test_extras_asked_only_under_an_extra_of_the_asker_are_not_read() -> None:
    versions = _dists(
        google_api_core=API_CORE,
        tool=("1.0", ["google-api-core[grpc]; extra == 'cloud'"]),
        grpcio_status=("1.48.2", []),
    )
    assert check_extras(versions, S.env) == ()
