import os
import subprocess
import sys

import pytest

from bot.embedding.blas_threads import limit_blas_threads
from tests.conftest import ROOT


def test_caps_blas_threads_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "4")
    limit_blas_threads(1)
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "4"


def test_zero_leaves_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    limit_blas_threads(0)
    assert "OMP_NUM_THREADS" not in os.environ


@pytest.mark.subprocess
def test_the_cli_caps_threads_from_the_settings(tmp_path: object) -> None:
    code = (
        "import os, sys, bot.cli; assert 'numpy' not in sys.modules; "
        "bot.cli.main(['--knowledge', 'nope', 'index']); "
        "print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env = {k: v for k, v in env.items() if not k.startswith("QUOTEBOT_")}
    probe = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
        check=True,
    )
    assert probe.stdout.strip() == "1"
    probe = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), "QUOTEBOT_EMBEDDING__THREADS": "0"},
        cwd=str(tmp_path),
        check=True,
    )
    assert probe.stdout.strip() == "None"
