"""Differential tests, checkpoints: the same keys as Lightning's, and files each side can load and
resume from the other (spec §4).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.harness import (
    assert_same,
    assert_same_value,
    load_ckpt,
    make_probe_model,
    run_probe,
)

pytestmark = requires_lightning

MODEL = dict(n_train=12, batch_size=4, scheduler="step")
FIRST_FIT = dict(max_epochs=1)


def first_ckpt(root: Path) -> Path:
    ckpts = sorted((root / "logs/version_0/checkpoints").glob("*.ckpt"))
    assert len(ckpts) == 1, ckpts
    return ckpts[0]


def fit_once(L: ModuleType, root: Path, **trainer_kwargs: Any) -> tuple[dict[str, Any], Path]:
    run = run_probe(L, root, MODEL, {**FIRST_FIT, **trainer_kwargs}, evaluate=False)
    return run, first_ckpt(root)


def comparable(ckpt: dict[str, Any]) -> dict[str, Any]:
    """What must agree between two checkpoints of the same run (paths and versions aside)."""
    return {
        "top_level_keys": sorted(ckpt),
        "callback_state_keys": sorted(ckpt["callbacks"]),
        "loops": sorted(ckpt["loops"]),
        "epoch": ckpt["epoch"],
        "global_step": ckpt["global_step"],
        "hyper_parameters": dict(ckpt["hyper_parameters"]),
        "hparams_name": ckpt["hparams_name"],
        "state_dict": dict(ckpt["state_dict"]),
        "lr_schedulers": ckpt["lr_schedulers"],
        "optimizer_param_groups": [s["param_groups"] for s in ckpt["optimizer_states"]],
    }


def test_checkpoint_has_lightnings_keys_and_values(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    _, ref_path = fit_once(ref_L, tmp_path / "ref")
    _, cand_path = fit_once(L, tmp_path / "cand")
    assert cand_path.name == ref_path.name == "epoch=0-step=3.ckpt"
    reference, candidate = comparable(load_ckpt(ref_path)), comparable(load_ckpt(cand_path))
    for field, expected in reference.items():
        assert_same_value(field, candidate[field], expected)


def progress_view(candidate: Any, reference: Any, path: str = "") -> dict[str, Any]:
    """The candidate's loop progress as {dotted path: value}, cut down to the fields Lightning's
    own checkpoint has.

    Lightning's resume decisions read these counters (§4.2), so they must agree; extra fields and
    each loop's private ``state_dict`` are the writer's own business.
    """
    if not isinstance(reference, dict):
        return {path: candidate}
    if not isinstance(candidate, dict):
        return {path: f"<not a dict: {candidate!r}>"}
    flat: dict[str, Any] = {}
    for key, ref_value in reference.items():
        if not key.endswith("state_dict"):
            value = candidate.get(key, "<missing>")
            flat.update(progress_view(value, ref_value, f"{path}/{key}"))
    return flat


@pytest.mark.parametrize(
    "first_fit", [dict(max_epochs=1), dict(max_steps=2)], ids=["epoch_end", "mid_epoch"]
)
def test_checkpoint_loop_progress_matches_lightning(
    first_fit: dict[str, Any], L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    _, ref_path = fit_once(ref_L, tmp_path / "ref", **first_fit)
    _, cand_path = fit_once(L, tmp_path / "cand", **first_fit)
    reference = load_ckpt(ref_path)["loops"]["fit_loop"]
    candidate = load_ckpt(cand_path)["loops"]["fit_loop"]
    # Compared as whole flat dicts, so a failure lists every counter that differs.
    assert progress_view(candidate, reference) == progress_view(reference, reference)


@pytest.mark.parametrize("direction", ["lightning_to_candidate", "candidate_to_lightning"])
def test_load_from_checkpoint_across_trainers(
    direction: str, L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    writer, reader = (ref_L, L) if direction == "lightning_to_candidate" else (L, ref_L)
    run, path = fit_once(writer, tmp_path / "writer")
    loaded = make_probe_model(reader).load_from_checkpoint(path, map_location="cpu")
    assert_same_value("hparams", dict(loaded.hparams), dict(load_ckpt(path)["hyper_parameters"]))
    assert_same_value("weights", dict(loaded.state_dict()), run["weights"])
    # Keyword overrides work on the other side's file too.
    assert make_probe_model(reader).load_from_checkpoint(path, lr=0.5).hparams.lr == 0.5


RESUMES = {
    # end-of-epoch checkpoint (epoch=0-step=3) into epochs 1 and 2
    "epoch_end": (dict(max_epochs=1), dict(max_epochs=3)),
    # mid-epoch checkpoint from max_steps=2 (epoch=0-step=2), resumed at batch 2 of epoch 0
    "mid_epoch": (dict(max_steps=2), dict(max_steps=7)),
}


@pytest.mark.parametrize("when", sorted(RESUMES))
@pytest.mark.parametrize("direction", ["lightning_to_candidate", "candidate_to_lightning"])
def test_resume_across_trainers_continues_like_lightning(
    direction: str, when: str, L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    """fit(ckpt_path=the other side's file) must end exactly where Lightning-on-Lightning ends."""
    first, second = RESUMES[when]
    writer, reader = (ref_L, L) if direction == "lightning_to_candidate" else (L, ref_L)
    run_probe(ref_L, tmp_path / "ref_first", MODEL, first, evaluate=False)
    reference = run_probe(
        ref_L, tmp_path / "ref_second", MODEL, second, evaluate=False,
        ckpt_path=first_ckpt(tmp_path / "ref_first"),
    )  # fmt: skip

    run_probe(writer, tmp_path / "first", MODEL, first, evaluate=False)
    resumed = run_probe(
        reader, tmp_path / "second", MODEL, second, evaluate=False,
        ckpt_path=first_ckpt(tmp_path / "first"),
    )  # fmt: skip
    for field in ("global_step", "current_epoch", "weights", "final_lr", "lr_trace", "ckpt_files"):
        assert_same_value(field, resumed[field], reference[field])
    assert_same_value("logged_metrics", resumed["logged_metrics"], reference["logged_metrics"])
    assert_same_value("csv", resumed["csv"], reference["csv"])


def test_resume_hooks_and_metrics_match_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path
) -> None:
    """Each side resuming its own checkpoint: same hooks, metrics and end state."""

    def scenario(L: ModuleType, root: Path) -> dict[str, Any]:
        run_probe(L, root / "first", MODEL, dict(max_epochs=1), evaluate=False)
        ckpt = first_ckpt(root / "first")
        return run_probe(L, root / "second", MODEL, dict(max_epochs=2), ckpt_path=ckpt)

    assert_same(scenario(L, tmp_path / "cand"), scenario(ref_L, tmp_path / "ref"))
