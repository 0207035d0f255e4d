"""The hook surface stays in one place: events.py, Callback and LightningModule agree."""

from __future__ import annotations

import inspect

import trainer_core
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


def test_loop_pseudocode_mentions_every_hook_point() -> None:
    doc = inspect.getdoc(events) or ""
    missing = [h.value for h in [*Event, *ModuleHook] if h.value not in doc]
    assert not missing, f"events.py's loop pseudocode lost: {missing}"


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
