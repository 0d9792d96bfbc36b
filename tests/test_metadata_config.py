"""Index configuration: pip's files and variables in pip's order, options over both, secrets never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.metadata.config import IndexConfig, index_config, pip_config_files, redact_text, redact_url


def test_devnull_means_no_files_and_the_default_index() -> None:
    env = {"PIP_CONFIG_FILE": os.devnull, "HOME": "/nonexistent"}
    assert pip_config_files(env) == []
    assert IndexConfig.from_pip(env) == IndexConfig(PYPI_SIMPLE_ENDPOINT, ())


def test_files_in_pip_order_then_environment_variables(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://user.example/simple\nextra-index-url =\n  file:///a/simple\n  file:///b/simple\n"
    )
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "pip.conf").write_text("[install]\nindex-url = https://venv.example/simple\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none"), "VIRTUAL_ENV": str(venv)}
    config = IndexConfig.from_pip(env)
    assert config.index_url == "https://venv.example/simple"
    assert config.extra_index_urls == ("file:///a/simple", "file:///b/simple")
    env["PIP_EXTRA_INDEX_URL"] = "https://x.example/simple https://y.example/simple"
    env["PIP_INDEX_URL"] = "https://env.example/simple"
    config = IndexConfig.from_pip(env)
    assert config.urls == (
        "https://env.example/simple",
        "https://x.example/simple",
        "https://y.example/simple",
    )
    overridden = config.override("https://cli.example/simple", None)
    assert (
        overridden.urls[0] == "https://cli.example/simple"
        and overridden.extra_index_urls == config.extra_index_urls
    )


def test_explicit_config_file_is_read_last(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://explicit.example/simple\n")
    config = IndexConfig.from_pip({"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)})
    assert config.index_url == "https://explicit.example/simple"


def test_redaction() -> None:
    assert redact_url("https://alice:tok3n@host.example/simple/") == "https://alice:***@host.example/simple/"
    assert redact_url("https://tok3n@host.example/simple/") == "https://***@host.example/simple/"
    assert redact_url("https://host.example/simple/") == "https://host.example/simple/"
    message = "HTTPSConnectionPool(host='host.example'): /simple/ via https://alice:tok3n@host.example failed"
    assert "tok3n" not in redact_text(message, ["https://alice:tok3n@host.example/simple/"])
    assert (
        IndexConfig("https://alice:tok3n@h.example/simple").describe() == "https://alice:***@h.example/simple"
    )


PIP = IndexConfig("https://pip.example/simple", ("https://pip-extra.example/simple",), origins=("pip.conf",))


def test_index_precedence_pip_then_options_then_requirements_files() -> None:
    assert index_config(pip=PIP) == PIP
    # options: the index replaces pip's, and extras replace pip's extras (as pip's command line does)
    options = index_config("https://opt.example/simple", ["https://opt-extra.example/simple"], pip=PIP)
    assert options.urls == ("https://opt.example/simple", "https://opt-extra.example/simple")
    assert options.origins == ("pip.conf", "command line")
    assert index_config(None, ["https://opt-extra.example/simple"], pip=PIP).index_url == PIP.index_url
    # a requirements file's --index-url replaces every index named before it, its extras with it
    replaced = index_config(
        "https://opt.example/simple",
        file_index_url="https://file.example/simple",
        file_extra_index_urls=["https://file-extra.example/simple"],
        pip=PIP,
    )
    assert replaced.urls == ("https://file.example/simple", "https://file-extra.example/simple")
    assert replaced.origins[-1] == "requirements file"
    # its --extra-index-url alone adds to what came before, without repeating one
    added = index_config(
        file_extra_index_urls=["https://file-extra.example/simple", "https://pip-extra.example/simple"], pip=PIP
    )
    assert added.urls == (
        "https://pip.example/simple",
        "https://pip-extra.example/simple",
        "https://file-extra.example/simple",
    )
    # --no-index in the files: their index lines are not applied
    assert index_config(file_index_url="https://file.example/simple", no_index=True, pip=PIP) == PIP


def test_index_precedence_reads_pips_configuration_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.example/simple")
    assert index_config().index_url == "https://env.example/simple"
    assert index_config("https://opt.example/simple").index_url == "https://opt.example/simple"
