"""Shared fixtures: temp knowledge folders, a fake embedder, and the real model loaded once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli import compose_service
from bot.config import Settings, load_settings
from bot.service import QuoteService
from tests.discord_harness import stub  # noqa: F401  (the Discord stand-in fixture)
from tests.fakes import FakeEmbedder
from tests.pg_fixture import pg_server, pg_url  # noqa: F401  (PostgreSQL fixtures)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "knowledge" / "jingzhou-grassroots-party-organizations.txt"


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def build(folder: Path, **sections: Any) -> Settings:
        overrides: dict[str, Any] = {
            "knowledge": {"path": folder},
            "index": {"dir": tmp_path / "index"},
            **sections,
        }
        return load_settings(None, overrides)

    return build


@pytest.fixture
def fake_service(knowledge: Path, make_settings: Callable[..., Settings]) -> QuoteService:
    return compose_service(
        make_settings(knowledge), embedder=FakeEmbedder(), on_notice=lambda m: None
    )


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    from bot.config import BUNDLED_MODEL
    from bot.embedding.model import SentenceTransformerEmbedder, resolve_model

    embedder = SentenceTransformerEmbedder(resolve_model(BUNDLED_MODEL))
    embedder.encode(["load the model once per session"])
    return embedder


@pytest.fixture(scope="session")
def onnx_export(real_embedder: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's ONNX export, made and verified once per session: the folder under
    which it lives (copy it to <index dir>/onnx to give a service an export)."""
    from bot.embedding.onnx_export import make_export

    root = tmp_path_factory.mktemp("onnx-export")
    make_export(real_embedder.load(), real_embedder.spec, root)
    return root


@pytest.fixture
def seed_service(
    knowledge: Path, make_settings: Callable[..., Settings], real_embedder: Any
) -> QuoteService:
    service = compose_service(
        make_settings(knowledge), embedder=real_embedder, on_notice=lambda m: None
    )
    service.refresh()
    return service


# A test that uses one of these fixtures (directly or through another fixture: `fixturenames` is
# the whole closure) gets the marker, so `make test-fast` can leave it out without a list to keep
# up to date. Modules whose tests start child processes carry `pytest.mark.subprocess` themselves.
MARKER_OF_FIXTURE = {"real_embedder": "model", "pg_server": "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in used:
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer config.toml or QUOTEBOT_* variable may leak into a test."""
    for name in list(os.environ):
        if name.startswith("QUOTEBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
