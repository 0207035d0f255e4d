"""The hook surface stays in one place: events.py, Callback and LightningModule agree."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import trainer_core
import trainer_core as L
from tests.trainer_core.doubles import make_boring_model, make_recorder_callback
from trainer_core import events
from trainer_core.callbacks import Callback
from trainer_core.events import Event, LogPolicy, ModuleHook, log_policy

_NOT_HOOKS = {"state_key"}


def _public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member) and name not in _NOT_HOOKS
    }


def test_callback_methods_are_exactly_the_events() -> None:
    assert _public_methods(Callback) == {e.value for e in Event}


def _mentioned(name: str, doc: str) -> bool:
    """``name`` as a whole word: ``zero_grad`` inside ``optimizer_zero_grad`` does not count."""
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", doc) is not None


def test_whole_word_check_is_not_fooled_by_longer_names() -> None:
    doc = "optimizer_zero_grad; on_before_backward; load_state_dict; lr_scheduler_step"
    for name in ("zero_grad", "backward", "state_dict", "optimizer_step", "step"):
        assert not _mentioned(name, doc), name
    assert _mentioned("zero_grad", "CB.on_fit_start; zero_grad")
    assert _mentioned("state_dict", "CB.state_dict;")


def test_loop_pseudocode_mentions_every_hook_point() -> None:
    doc = inspect.getdoc(events) or ""
    missing = [h.value for h in [*Event, *ModuleHook] if not _mentioned(h.value, doc)]
    assert not missing, f"events.py's loop pseudocode lost: {missing}"


def _first_calls(log: list[str]) -> list[str]:
    """Callback hook names (``CB.setup(fit)`` -> ``setup``) in the order of their first call."""
    names = [entry.removeprefix("CB.").split("(")[0] for entry in log]
    return list(dict.fromkeys(names))


def _recorded_runs(tmp_path: Path) -> list[list[str]]:
    """The first-call order of callback hooks in: a fit (sanity check, checkpoint at epoch end),
    a resumed fit, a test, a predict and a fit whose training_step raises."""
    model_cls = make_boring_model(L)
    runs: list[list[str]] = []

    def record(run: Any) -> None:
        log: list[str] = []
        callback = make_recorder_callback(L, log, state={"seen": 1})
        try:
            run(L.Trainer(callbacks=[callback], **_quiet(tmp_path)))
        except RuntimeError:
            pass
        runs.append(_first_calls(log))

    model = model_cls()
    record(lambda t: t.fit(model))
    ckpt = next(tmp_path.rglob("*.ckpt"))
    # Resuming a finished run: the restore hooks come right after setup, then the run ends.
    record(lambda t: t.fit(model_cls(), ckpt_path=ckpt))
    record(lambda t: t.test(model))
    record(lambda t: t.predict(model))

    class Failing(model_cls):  # type: ignore[misc, valid-type]
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            raise RuntimeError("boom")

    record(lambda t: t.fit(Failing()))
    return runs


def _quiet(root: Path) -> dict[str, Any]:
    return dict(
        default_root_dir=root, max_epochs=1, limit_train_batches=2, limit_val_batches=1,
        enable_progress_bar=False, enable_model_summary=False, logger=False,
    )  # fmt: skip


def test_event_list_is_the_order_the_trainer_reaches_the_hooks(tmp_path: Path) -> None:
    runs = _recorded_runs(tmp_path)
    order = [e.value for e in Event]
    for seen in runs:
        assert seen == [name for name in order if name in seen], seen
    reached = {name for seen in runs for name in seen}
    assert reached == set(order), f"never reached: {set(order) - reached}"
    # the runs cover what they claim: a checkpoint in the fit, a restore in the resumed one
    assert {"state_dict", "on_save_checkpoint"} <= set(runs[0])
    assert runs[1][:3] == ["setup", "on_load_checkpoint", "load_state_dict"]
    assert "on_exception" in runs[4]


def test_module_implements_every_hook_point() -> None:
    module = trainer_core.LightningModule
    expected = set(Event) | set(ModuleHook)
    expected -= events.CALLBACK_ONLY | events.OPTIONAL_STEPS
    missing = [h.value for h in expected if not callable(getattr(module, h.value, None))]
    assert not missing
    # the optional steps are left out on purpose: their absence switches the loop off
    assert not any(hasattr(module, h.value) for h in events.OPTIONAL_STEPS)


def test_log_policy_defaults_follow_the_spec_table() -> None:
    assert log_policy("training_step") is LogPolicy.STEP
    assert log_policy("on_before_backward") is LogPolicy.STEP
    assert log_policy("validation_step") is LogPolicy.EVAL_STEP
    assert log_policy("on_test_batch_end") is LogPolicy.EVAL_STEP
    assert log_policy("on_train_epoch_end") is LogPolicy.EPOCH
    assert log_policy("on_validation_start") is LogPolicy.EPOCH
    for forbidden in (
        "predict_step",
        "setup",
        "on_fit_start",
        "on_train_end",
        "configure_optimizers",
        "on_validation_end",
        "lr_scheduler_step",
        "my_helper",
        None,
    ):
        assert log_policy(forbidden) is LogPolicy.FORBIDDEN, forbidden


def test_events_compare_equal_to_hook_names() -> None:
    assert Event.ON_TRAIN_START == "on_train_start"
    assert Event("on_fit_end") is Event.ON_FIT_END
