"""pip install prediction: change set, breakage new vs pre-existing, pip's own post-install lines, severity."""

from __future__ import annotations

from typing import Any

from packaging.requirements import Requirement

from analyzer.diagnosis.pip_prediction import ChangeKind, PipPrediction, predict
from analyzer.session import Session
from tests.memsource import scenario_from_dict

IMAGE: dict[str, Any] = {
    "python": "3.11.13",
    "pins": [
        "numpy==1.26.4",
        "jax==0.4.26",
        "scipy==1.11.4",
        "ipykernel==6.17.1",
        "tornado==6.3.3",
        "old-tool==0.1",
        "unrelated==1.0",
    ],
}
PACKAGES: list[dict[str, Any]] = [
    *({"name": "numpy", "version": v} for v in ("1.23.5", "1.26.4", "2.1.3")),
    {"name": "jax", "version": "0.4.26", "requires": ["numpy>=1.24", "scipy>=1.9"]},
    {"name": "scipy", "version": "1.11.4", "requires": ["numpy<1.28.0,>=1.21.6"]},
    {"name": "ipykernel", "version": "6.17.1", "requires": ["tornado>=6.1"]},
    {"name": "tornado", "version": "6.3.3"},
    {"name": "tornado", "version": "6.4.2"},
    # already broken in the image: old-tool wants numpy<1.20, whatever is installed
    {"name": "old-tool", "version": "0.1", "requires": ["numpy<1.20"]},
    {"name": "unrelated", "version": "1.0", "requires": ["missing-thing>=1"]},
    {"name": "tensorflow", "version": "2.12.0", "requires": ["numpy<1.24,>=1.22"]},
    {"name": "notebook-ext", "version": "1.0", "requires": ["tornado>=6.4"]},
]


def _predict(*specs: str) -> PipPrediction:
    s = scenario_from_dict("prediction", {"image": IMAGE, "package": PACKAGES})
    return predict([Requirement(x) for x in specs], Session.open(s.snapshot, s.source, s.env))


def test_change_set_is_pips() -> None:
    p = _predict("tensorflow==2.12.0")
    assert p.ok
    assert [(c.name, c.kind, c.old, c.new) for c in p.changes] == [
        ("numpy", ChangeKind.DOWNGRADE, "1.26.4", "1.23.5"),
        ("tensorflow", ChangeKind.INSTALL, None, "2.12.0"),
    ]
    assert [str(c) for c in p.downgrades] == ["numpy 1.26.4 -> 1.23.5"]


def test_new_breakage_is_separated_from_the_images_own() -> None:
    p = _predict("tensorflow==2.12.0")
    assert [v.future_text() for v in p.newly_broken] == [
        "jax 0.4.26 requires numpy>=1.24, but you will have numpy 1.23.5"
    ]
    already = [v.text() for v in p.already_broken]
    assert already == [
        "old-tool 0.1 requires numpy<1.20, but you have numpy 1.23.5 which is incompatible.",
        "unrelated 1.0 requires missing-thing>=1, which is not installed.",
    ]


def test_pip_prints_only_its_whitelist() -> None:
    """pip checks what it installed and what depends on it: old-tool (depends on numpy) is printed even though
    it was broken before; unrelated (depends on nothing that changed) is not."""
    p = _predict("tensorflow==2.12.0")
    assert [v.text() for v in p.pip_warning] == [
        "jax 0.4.26 requires numpy>=1.24, but you have numpy 1.23.5 which is incompatible.",
        "old-tool 0.1 requires numpy<1.20, but you have numpy 1.23.5 which is incompatible.",
    ]


def test_kernel_packages_are_severe() -> None:
    p = _predict("notebook-ext")
    assert [str(c) for c in p.upgrades] == ["tornado 6.3.3 -> 6.4.2"]
    assert [s.name for s in p.severe] == ["tornado"]
    assert not _predict("tensorflow==2.12.0").severe


def test_impossible_request_is_pips_error() -> None:
    p = _predict("tensorflow==2.12.0", "jax==0.4.26", "numpy>=1.26")
    assert not p.ok and p.conflict is not None
    out = p.conflict.pip_message()
    assert "The conflict is caused by:" in out
    assert "    The user requested numpy>=1.26" in out


def test_nothing_to_do_changes_nothing() -> None:
    p = _predict("numpy")
    assert p.ok and not p.changes and not p.newly_broken
    assert [str(c) for c in p.unchanged] == ["numpy 1.26.4 (already satisfied)"]


EXTRAS_PACKAGES: list[dict[str, Any]] = [
    {
        "name": "google-api-core",
        "version": "2.19.0",
        "requires": ["grpcio-status<2.0.dev0,>=1.49.1; extra == 'grpc'"],
    },
    {"name": "google-cloud-storage", "version": "2.0", "requires": ["google-api-core[grpc]>=2.0"]},
    *({"name": "grpcio-status", "version": v} for v in ("1.40.0", "1.48.2", "1.62.0")),
    {"name": "old-grpc-user", "version": "1.0", "requires": ["grpcio-status<1.49"]},
    {"name": "older-grpc-user", "version": "1.0", "requires": ["grpcio-status<1.45"]},
]


def _predict_extras(pins: list[str], *specs: str) -> PipPrediction:
    image = {"python": "3.11.13", "pins": pins}
    s = scenario_from_dict("extras", {"image": image, "package": EXTRAS_PACKAGES})
    return predict([Requirement(x) for x in specs], Session.open(s.snapshot, s.source, s.env))


def test_a_broken_extra_that_the_image_asks_for_is_said_apart_from_pips_lines() -> None:
    pins = ["google-api-core==2.19.0", "google-cloud-storage==2.0", "grpcio-status==1.62.0"]
    p = _predict_extras(pins, "old-grpc-user")
    assert [str(c) for c in p.downgrades] == ["grpcio-status 1.62.0 -> 1.48.2"]
    assert not p.newly_broken and not p.pip_warning  # pip check reads no extras
    [broken] = p.extras_broken
    assert broken.future_text() == (
        "google-api-core 2.19.0 [grpc] requires grpcio-status<2.0.dev0,>=1.49.1 (asked for by google-cloud-storage"
        " 2.0), but you will have grpcio-status 1.48.2"
    )


def test_an_extra_nobody_asks_for_or_broken_already_is_not_blamed_on_the_install() -> None:
    nobody_asks = ["google-api-core==2.19.0", "grpcio-status==1.62.0"]
    assert _predict_extras(nobody_asks, "old-grpc-user").extras_broken == ()
    broken_before = ["google-api-core==2.19.0", "google-cloud-storage==2.0", "grpcio-status==1.48.2"]
    p = _predict_extras(broken_before, "older-grpc-user")
    assert [str(c) for c in p.downgrades] == ["grpcio-status 1.48.2 -> 1.40.0"]
    assert p.extras_broken == ()
