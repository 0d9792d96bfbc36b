"""Which indexes to ask, in pip's order of precedence, and how to show their URLs without leaking secrets.

Precedence: command-line options > ``[tool.tfconflict]`` (later) > pip's environment variables > pip's
configuration files. pip's files are read with ``configparser`` (never pip's internals) from the locations pip
documents, so a user's private index works here exactly as it does for ``pip install``.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from analyzer.errors import InputError
from analyzer.metadata.endpoint import PYPI_SIMPLE_ENDPOINT
from analyzer.redact import MASK, redact

__all__ = [
    "PYPI_SIMPLE_ENDPOINT", "IndexConfig", "checked_index_url", "index_config", "pip_config_files", "redact_text",
    "redact_url", "secret_tag",
]


def redact_url(url: str) -> str:
    """``https://user:token@host/x`` -> ``https://user:***@host/x``; a token alone becomes ``***``
    (``analyzer.redact``, the one rule for every URL shown, logged or stored)."""
    return redact(url)


def secret_tag(url: str, key: bytes) -> str:
    """A short digest that tells two credentials for one host apart without storing either (empty without any),
    keyed by the cache's own key: an unkeyed hash would let anyone holding the file test guessed passwords."""
    if "@" not in urlsplit(url).netloc:
        return ""
    return "#" + hmac.new(key, url.encode(), hashlib.sha256).hexdigest()[:12]


def redact_text(text: str, urls: Iterable[str]) -> str:
    """``text`` with every URL's credentials hidden (:func:`redact`), and the secrets of ``urls`` as well wherever
    they appear alone (a library's message may quote a host's password without its URL)."""
    text = redact(text)
    for url in urls:
        try:
            netloc = urlsplit(url).netloc
        except ValueError:
            continue
        if "@" not in netloc:
            continue
        userinfo = netloc.rpartition("@")[0]
        user, sep, password = userinfo.partition(":")
        secret = password if sep and password else user
        if secret and secret != MASK:
            text = text.replace(secret, MASK)
    return text


def pip_config_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    """pip's configuration files in the order pip loads them (later ones win); none when PIP_CONFIG_FILE is devnull."""
    env = os.environ if environ is None else environ
    explicit = env.get("PIP_CONFIG_FILE")
    if explicit is not None and explicit == os.devnull:
        return []
    home = Path(env.get("HOME", str(Path.home())))
    xdg_dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    xdg_home = Path(env.get("XDG_CONFIG_HOME", str(home / ".config")))
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    venv = env.get("VIRTUAL_ENV")
    if venv:
        files.append(Path(venv) / "pip.conf")
    if explicit:
        files.append(Path(explicit))
    return files


@dataclass(frozen=True)
class IndexConfig:
    """The primary index and the extra indexes, as pip would use them."""

    index_url: str = PYPI_SIMPLE_ENDPOINT
    extra_index_urls: tuple[str, ...] = ()
    origins: tuple[str, ...] = field(default=(), compare=False)
    """Where each setting came from, for ``--verbose`` output (never includes credentials)."""

    @property
    def urls(self) -> tuple[str, ...]:
        """Every index, primary first, without duplicates."""
        return tuple(dict.fromkeys((self.index_url, *self.extra_index_urls)))

    def describe(self) -> str:
        return ", ".join(redact_url(u) for u in self.urls)

    @classmethod
    def from_pip(cls, environ: Mapping[str, str] | None = None) -> IndexConfig:
        """pip's environment variables over pip's configuration files; the default index when neither says."""
        env = os.environ if environ is None else environ
        index: str | None = None
        extras: list[str] = []
        origins: list[str] = []
        parser = configparser.RawConfigParser()
        for path in pip_config_files(env):
            try:
                if path.is_file():
                    parser.read(path, encoding="utf-8")
                    origins.append(str(path))
            except (OSError, configparser.Error, UnicodeDecodeError):
                continue  # pip itself skips unreadable files with a warning; so do we, quietly
            for section in ("global", "install"):
                if parser.has_section(section):
                    if parser.has_option(section, "index-url"):
                        index = parser.get(section, "index-url").strip()
                    if parser.has_option(section, "extra-index-url"):
                        extras = parser.get(section, "extra-index-url").split()
            parser = configparser.RawConfigParser()
        if env.get("PIP_INDEX_URL"):
            index = env["PIP_INDEX_URL"].strip()
            origins.append("PIP_INDEX_URL")
        if env.get("PIP_EXTRA_INDEX_URL"):
            extras = env["PIP_EXTRA_INDEX_URL"].split()
            origins.append("PIP_EXTRA_INDEX_URL")
        return cls(
            index_url=index or PYPI_SIMPLE_ENDPOINT, extra_index_urls=tuple(extras), origins=tuple(origins)
        )

    def override(
        self, index_url: str | None = None, extra_index_urls: Sequence[str] | None = None
    ) -> IndexConfig:
        """Command-line options win over whatever pip's configuration said (as in pip: extras replace, not add)."""
        return IndexConfig(
            index_url=index_url if index_url else self.index_url,
            extra_index_urls=tuple(extra_index_urls) if extra_index_urls else self.extra_index_urls,
            origins=self.origins + (("command line",) if index_url or extra_index_urls else ()),
        )


def index_config(
    index_url: str | None = None,
    extra_index_urls: Sequence[str] = (),
    *,
    file_index_url: str | None = None,
    file_extra_index_urls: Sequence[str] = (),
    no_index: bool = False,
    pip: IndexConfig | None = None,
) -> IndexConfig:
    """Indexes as pip would use them: pip's configuration (``pip``), then the project's settings and the command
    line (extras replace pip's, as pip's command line does), then the requirements files' lines, which pip
    applies last: a file's ``--index-url`` replaces the indexes named before it, its ``--extra-index-url`` adds
    one. Files that say ``--no-index`` contribute no index line.
    """
    config = (pip if pip is not None else IndexConfig.from_pip()).override(index_url, extra_index_urls or None)
    if not no_index:
        origins = (*config.origins, "requirements file")
        if file_index_url:
            config = IndexConfig(file_index_url, tuple(file_extra_index_urls), origins=origins)
        elif file_extra_index_urls:
            extras = tuple(dict.fromkeys((*config.extra_index_urls, *file_extra_index_urls)))
            config = IndexConfig(config.index_url, extras, origins=origins)
    return IndexConfig(
        checked_index_url(config.index_url),
        tuple(dict.fromkeys(checked_index_url(url) for url in config.extra_index_urls)),
        origins=config.origins,
    )


def checked_index_url(url: str) -> str:
    """An index location as pip takes it: an http(s) or file URL, or an existing folder (as its ``file:`` URL);
    anything else is an InputError that shows the location with its password hidden."""
    text = url.strip()
    if "://" not in text and _is_folder(text):
        return Path(text).expanduser().resolve().as_uri()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise InputError(f"index URL {_shown(text)!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in _INDEX_SCHEMES or (parts.scheme.lower() != "file" and not parts.hostname):
        raise InputError(
            f"index URL {_shown(text)!r} is neither an http(s) or file URL nor an existing folder "
            "(e.g. https://host/simple)"
        )
    return text


_INDEX_SCHEMES = frozenset({"http", "https", "file"})


def _is_folder(text: str) -> bool:
    try:
        return Path(text).expanduser().is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def _shown(url: str) -> str:
    """A location as a message quotes it: credentials hidden, a huge one cut."""
    shown = redact(url)
    return shown if len(shown) <= 200 else shown[:199] + "…"
