"""Fixtures that pick which trainer a compatibility test runs against.

- ``L``: the trainer under test, ``trainer_core``. Setting ``TRAINYARD_COMPAT_CANDIDATE=lightning``
  runs the same tests against Lightning itself, which is how the tests themselves are validated.
- ``ref_L``: Lightning, the reference; tests using it are skipped when it is not importable.
- ``any_L``: parametrised over both, for tests whose expectation is written out explicitly (the
  golden hook lists): passing under ``lightning`` proves the written list is right.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

CANDIDATE_ENV = "TRAINYARD_COMPAT_CANDIDATE"
HAS_LIGHTNING = importlib.util.find_spec("lightning") is not None

requires_lightning = pytest.mark.skipif(
    not HAS_LIGHTNING, reason="lightning (the dev extra) is not installed"
)


def load_impl(name: str) -> ModuleType:
    if name == "lightning":
        return pytest.importorskip("lightning")
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def L() -> ModuleType:
    return load_impl(os.environ.get(CANDIDATE_ENV, "trainer_core"))


@pytest.fixture(scope="session")
def ref_L() -> ModuleType:
    return load_impl("lightning")


@pytest.fixture(params=["trainer_core", "lightning"])
def any_L(request: pytest.FixtureRequest) -> ModuleType:
    return load_impl(request.param)


# The seed tutorial is written for trainer_core; for Lightning only these import lines change.
TUTORIAL_PATH = Path(__file__).with_name("seed_tutorial.py")
TUTORIAL_IMPORTS_FOR_LIGHTNING = {
    "import trainer_core as L\n": "import lightning as L\n",
    "from trainer_core.callbacks import": "from lightning.pytorch.callbacks import",
    "from trainer_core.loggers import": "from lightning.pytorch.loggers import",
}


def load_tutorial(L: ModuleType) -> ModuleType:
    """The seed tutorial module, bound to ``L`` by changing nothing but its imports."""
    if L.__name__ != "lightning":
        return importlib.import_module("tests.trainer_core.seed_tutorial")
    name = "tests.trainer_core.seed_tutorial_for_lightning"
    if name not in sys.modules:
        source = TUTORIAL_PATH.read_text()
        for ours, theirs in TUTORIAL_IMPORTS_FOR_LIGHTNING.items():
            assert ours in source, f"seed_tutorial.py lost its line {ours!r}"
            source = source.replace(ours, theirs)
        module = ModuleType(name)
        module.__file__ = str(TUTORIAL_PATH)
        sys.modules[name] = module
        exec(compile(source, str(TUTORIAL_PATH), "exec"), module.__dict__)
    return sys.modules[name]


@pytest.fixture(scope="session")
def tutorial(L: ModuleType) -> ModuleType:
    return load_tutorial(L)


@pytest.fixture
def restore_global_flags() -> Any:
    """deterministic=True and seed_everything change process-wide settings; put them back."""
    algorithms = torch.are_deterministic_algorithms_enabled()
    env = {
        k: os.environ.get(k)
        for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "CUBLAS_WORKSPACE_CONFIG")
    }
    yield
    torch.use_deterministic_algorithms(algorithms)
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
