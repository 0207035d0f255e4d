"""Golden hook order: every module and callback hook, in ENTRY order, against written-out lists.

The lists come from the spec (§1.3 fit, §1.4 validate/test/predict, §1.5 resume, §1.6 manual
optimization). Each test runs under ``trainer_core`` and under ``lightning``: the Lightning run
proves the list is right, the trainer_core run proves trainer_core matches it.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from tests.trainer_core.doubles import (
    make_boring_datamodule,
    make_boring_model,
    make_recorder_callback,
    record_datamodule_hooks,
    record_module_hooks,
)
from tests.trainer_core.harness import assert_same_order

# ---- building blocks, each written out as the spec states it --------------------------------

TRANSFER = ["on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer"]

VAL_BATCH = TRANSFER + [
    "CB.on_validation_batch_start", "on_validation_batch_start",
    "validation_step", "forward",
    "CB.on_validation_batch_end", "on_validation_batch_end",
]  # fmt: skip

# One validation run (1 batch), from the eval switch to on_validation_end.
VAL_RUN = [
    "on_validation_model_eval", "train(False)",
    "CB.on_validation_start", "on_validation_start",
    "CB.on_validation_epoch_start", "on_validation_epoch_start",
    *VAL_BATCH,
    "CB.on_validation_epoch_end", "on_validation_epoch_end",
    "CB.on_validation_end", "on_validation_end",
]  # fmt: skip

# Automatic optimization: optimizer_step is entered first; the rest runs inside its closure.
TRAIN_BATCH_HEAD = TRANSFER + [
    "CB.on_train_batch_start", "on_train_batch_start",
    "optimizer_step",
    "training_step", "forward",
    "CB.on_before_zero_grad", "on_before_zero_grad", "optimizer_zero_grad",
    "CB.on_before_backward", "on_before_backward", "backward",
    "CB.on_after_backward", "on_after_backward",
    "CB.on_before_optimizer_step", "on_before_optimizer_step",
    "configure_gradient_clipping", "clip_gradients",
]  # fmt: skip
TRAIN_BATCH_END = ["CB.on_train_batch_end", "on_train_batch_end"]
TRAIN_BATCH = TRAIN_BATCH_HEAD + TRAIN_BATCH_END
# The last batch of the epoch steps the epoch-interval StepLR before on_train_batch_end.
LAST_TRAIN_BATCH = TRAIN_BATCH_HEAD + ["lr_scheduler_step"] + TRAIN_BATCH_END

FIT_SETUP = [
    "configure_callbacks", "prepare_data",
    "CB.setup(fit)", "setup(fit)", "configure_model",
]  # fmt: skip
# Monitoring callbacks (ModelCheckpoint) run after the module's on_train_epoch_end and save there.
EPOCH_END_AND_SAVE = [
    "CB.on_train_epoch_end", "on_train_epoch_end",
    "CB.state_dict", "CB.on_save_checkpoint", "on_save_checkpoint",
]  # fmt: skip
FIT_END = [
    "CB.on_train_end", "on_train_end",
    "CB.on_fit_end", "on_fit_end",
    "CB.teardown(fit)", "teardown(fit)",
]  # fmt: skip

# §1.3: Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1), sanity check on.
FIT_GOLDEN = [
    *FIT_SETUP,
    "configure_optimizers",
    "CB.on_fit_start", "on_fit_start",
    "zero_grad",
    "CB.on_sanity_check_start", "val_dataloader", *VAL_RUN, "CB.on_sanity_check_end",
    "train_dataloader",
    "CB.on_train_start", "on_train_start",
    "CB.on_train_epoch_start", "on_train_epoch_start",
    *TRAIN_BATCH,
    *LAST_TRAIN_BATCH,
    "on_validation_model_zero_grad", "zero_grad", *VAL_RUN,
    *EPOCH_END_AND_SAVE,
    *FIT_END,
]  # fmt: skip


def _eval_golden(stage: str, hook: str, loader: str, model_train: list[str]) -> list[str]:
    """§1.4: validate and test differ only in names; 1 batch."""
    return [
        "configure_callbacks", "prepare_data",
        f"CB.setup({stage})", f"setup({stage})", "configure_model", "zero_grad",
        f"{loader}_dataloader",
        f"on_{hook}_model_eval", "train(False)",
        f"CB.on_{hook}_start", f"on_{hook}_start",
        f"CB.on_{hook}_epoch_start", f"on_{hook}_epoch_start",
        *TRANSFER,
        f"CB.on_{hook}_batch_start", f"on_{hook}_batch_start",
        f"{hook}_step", "forward",
        f"CB.on_{hook}_batch_end", f"on_{hook}_batch_end",
        f"CB.on_{hook}_epoch_end", f"on_{hook}_epoch_end",
        f"CB.on_{hook}_end", f"on_{hook}_end",
        *model_train,
        f"CB.teardown({stage})", f"teardown({stage})",
    ]  # fmt: skip


VALIDATE_GOLDEN = _eval_golden("validate", "validation", "val", [])
TEST_GOLDEN = _eval_golden("test", "test", "test", [])
# on_*_model_train is called only when the module overrides it (this one calls self.train()).
VALIDATE_OVERRIDDEN_GOLDEN = _eval_golden(
    "validate", "validation", "val", ["on_validation_model_train", "train(True)"]
)
TEST_OVERRIDDEN_GOLDEN = _eval_golden(
    "test", "test", "test", ["on_test_model_train", "train(True)"]
)

PREDICT_GOLDEN = [
    "configure_callbacks", "prepare_data",
    "CB.setup(predict)", "setup(predict)", "configure_model", "zero_grad",
    "predict_dataloader",
    "on_predict_model_eval", "train(False)",
    "CB.on_predict_start", "on_predict_start",
    "CB.on_predict_epoch_start", "on_predict_epoch_start",
    *TRANSFER,
    "CB.on_predict_batch_start", "on_predict_batch_start",
    "predict_step", "forward",
    "CB.on_predict_batch_end", "on_predict_batch_end",
    "CB.on_predict_epoch_end", "on_predict_epoch_end",
    "CB.on_predict_end", "on_predict_end",
    "CB.teardown(predict)", "teardown(predict)",
]  # fmt: skip

# §1.5: module checkpoint hooks, then callbacks', all before configure_optimizers; no sanity check.
RESUME_HEAD = [
    *FIT_SETUP,
    "on_load_checkpoint", "load_state_dict",
    "CB.on_load_checkpoint", "CB.load_state_dict",
    "configure_optimizers",
    "CB.on_fit_start", "on_fit_start",
    "zero_grad",
    "train_dataloader",
    "CB.on_train_start", "on_train_start",
]  # fmt: skip
# Resume from epoch=0-step=2.ckpt (end of epoch 0) into epoch 1 of 2, no validation.
RESUME_EPOCH_GOLDEN = [
    *RESUME_HEAD,
    "CB.on_train_epoch_start", "on_train_epoch_start",
    *TRAIN_BATCH,
    *LAST_TRAIN_BATCH,
    *EPOCH_END_AND_SAVE,
    *FIT_END,
]  # fmt: skip
# Resume from epoch=0-step=1.ckpt (max_steps=1, mid-epoch): no on_train_epoch_start again.
RESUME_MID_EPOCH_GOLDEN = [
    *RESUME_HEAD,
    *LAST_TRAIN_BATCH,
    *EPOCH_END_AND_SAVE,
    *FIT_END,
]  # fmt: skip

# §1.6: the trainer calls no optimizer_step/zero_grad/clipping/scheduler hooks in manual mode; the
# per-batch hooks run inside training_step (which calls manual_backward and opt.step()).
MANUAL_TRAIN_BATCH = TRANSFER + [
    "CB.on_train_batch_start", "on_train_batch_start",
    "training_step", "forward",
    "manual_backward",
    "CB.on_before_backward", "on_before_backward", "backward",
    "CB.on_after_backward", "on_after_backward",
    "CB.on_before_optimizer_step", "on_before_optimizer_step",
    "CB.on_train_batch_end", "on_train_batch_end",
]  # fmt: skip
MANUAL_FIT_GOLDEN = [
    *FIT_SETUP,
    "configure_optimizers",
    "CB.on_fit_start", "on_fit_start",
    "zero_grad",
    "CB.on_sanity_check_start", "val_dataloader", *VAL_RUN, "CB.on_sanity_check_end",
    "train_dataloader",
    "CB.on_train_start", "on_train_start",
    "CB.on_train_epoch_start", "on_train_epoch_start",
    *MANUAL_TRAIN_BATCH,
    *MANUAL_TRAIN_BATCH,
    "on_validation_model_zero_grad", "zero_grad", *VAL_RUN,
    *EPOCH_END_AND_SAVE,
    *FIT_END,
]  # fmt: skip


# ---- running a scenario ------------------------------------------------------------------------


def _recorded(L: ModuleType, base: type, state: dict | None = None) -> tuple[Any, Any, list[str]]:
    log: list[str] = []
    model = record_module_hooks(base, L)()
    model.hook_log = log
    return model, make_recorder_callback(L, log, state), log


def _manual_model_cls(L: ModuleType) -> type:
    class ManualBoring(make_boring_model(L)):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            opt = self.optimizers()
            loss = self.loss(self(batch))
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            return loss

    return ManualBoring


def _model_train_overridden_cls(L: ModuleType) -> type:
    class RestoresTrain(make_boring_model(L)):
        def on_validation_model_train(self) -> None:
            self.train()

        def on_test_model_train(self) -> None:
            self.train()

    return RestoresTrain


def _quiet(root: Path, **kwargs: Any) -> dict[str, Any]:
    return dict(
        default_root_dir=root, enable_progress_bar=False, enable_model_summary=False, **kwargs
    )


# ---- the golden tests -------------------------------------------------------------------------


def test_fit_hook_order_matches_spec(any_L: ModuleType, tmp_path: Path) -> None:
    """§1.3 with every default on (progress bar, model summary, TensorBoard, ModelCheckpoint)."""
    model, cb, log = _recorded(any_L, make_boring_model(any_L))
    trainer = any_L.Trainer(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1,
        callbacks=[cb], default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model)
    assert_same_order(log, FIT_GOLDEN)
    assert trainer.global_step == 2
    assert (tmp_path / "lightning_logs/version_0/checkpoints/epoch=0-step=2.ckpt").is_file()


def test_validate_hook_order_matches_spec(any_L: ModuleType, tmp_path: Path) -> None:
    model, cb, log = _recorded(any_L, make_boring_model(any_L))
    trainer = any_L.Trainer(limit_val_batches=1, callbacks=[cb], **_quiet(tmp_path))
    trainer.validate(model)
    assert_same_order(log, VALIDATE_GOLDEN)


def test_test_hook_order_matches_spec(any_L: ModuleType, tmp_path: Path) -> None:
    model, cb, log = _recorded(any_L, make_boring_model(any_L))
    trainer = any_L.Trainer(limit_test_batches=1, callbacks=[cb], **_quiet(tmp_path))
    trainer.test(model)
    assert_same_order(log, TEST_GOLDEN)


def test_predict_hook_order_matches_spec(any_L: ModuleType, tmp_path: Path) -> None:
    model, cb, log = _recorded(any_L, make_boring_model(any_L))
    trainer = any_L.Trainer(limit_predict_batches=1, callbacks=[cb], **_quiet(tmp_path))
    predictions = trainer.predict(model)
    assert_same_order(log, PREDICT_GOLDEN)
    assert len(predictions) == 1 and predictions[0].shape == (1, 2)


def test_overridden_model_train_hooks_are_called(any_L: ModuleType, tmp_path: Path) -> None:
    model, cb, log = _recorded(any_L, _model_train_overridden_cls(any_L))
    trainer = any_L.Trainer(
        limit_val_batches=1, limit_test_batches=1, callbacks=[cb], **_quiet(tmp_path)
    )
    trainer.validate(model)
    assert_same_order(log, VALIDATE_OVERRIDDEN_GOLDEN)
    log.clear()
    trainer.test(model)
    assert_same_order(log, TEST_OVERRIDDEN_GOLDEN)


def _fit_then_resume(L: ModuleType, root: Path, first: dict, second: dict) -> list[str]:
    base = make_boring_model(L)
    model, cb, _ = _recorded(L, base, state={"calls": 1})
    L.Trainer(callbacks=[cb], **_quiet(root, **first)).fit(model)
    ckpts = sorted(root.glob("lightning_logs/version_0/checkpoints/*.ckpt"))
    assert len(ckpts) == 1, ckpts
    model, cb, log = _recorded(L, base, state={"calls": 1})
    L.Trainer(callbacks=[cb], **_quiet(root, **second)).fit(model, ckpt_path=ckpts[0])
    return log


def test_resume_from_epoch_end_hook_order(any_L: ModuleType, tmp_path: Path) -> None:
    common = dict(limit_train_batches=2, limit_val_batches=0)
    log = _fit_then_resume(
        any_L, tmp_path, dict(max_epochs=1, **common), dict(max_epochs=2, **common)
    )
    assert_same_order(log, RESUME_EPOCH_GOLDEN)


def test_resume_mid_epoch_hook_order(any_L: ModuleType, tmp_path: Path) -> None:
    common = dict(limit_train_batches=2, limit_val_batches=0)
    log = _fit_then_resume(
        any_L, tmp_path, dict(max_steps=1, **common), dict(max_steps=2, **common)
    )
    assert_same_order(log, RESUME_MID_EPOCH_GOLDEN)


def test_manual_optimization_hook_order(any_L: ModuleType, tmp_path: Path) -> None:
    model, cb, log = _recorded(any_L, _manual_model_cls(any_L))
    trainer = any_L.Trainer(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, callbacks=[cb], **_quiet(tmp_path)
    )
    trainer.fit(model)
    assert_same_order(log, MANUAL_FIT_GOLDEN)
    # The user stepped no scheduler, so the LR is unchanged (§1.6); two optimizer steps counted.
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.1
    assert trainer.global_step == 2


# §1.7 with a datamodule: its prepare_data/setup/teardown come first, its loaders and transfer
# hooks replace the module's, and its state_dict is saved after the callbacks' states.
DM_TRANSFER = [
    "DM.on_before_batch_transfer",
    "DM.transfer_batch_to_device",
    "DM.on_after_batch_transfer",
]
DM_VAL_RUN = [
    "on_validation_model_eval", "train(False)",
    "CB.on_validation_start", "on_validation_start",
    "CB.on_validation_epoch_start", "on_validation_epoch_start",
    *DM_TRANSFER,
    "CB.on_validation_batch_start", "on_validation_batch_start",
    "validation_step", "forward",
    "CB.on_validation_batch_end", "on_validation_batch_end",
    "CB.on_validation_epoch_end", "on_validation_epoch_end",
    "CB.on_validation_end", "on_validation_end",
]  # fmt: skip
DM_TRAIN_BATCH = DM_TRANSFER + TRAIN_BATCH_HEAD[len(TRANSFER) :] + TRAIN_BATCH_END
DM_LAST_TRAIN_BATCH = (
    DM_TRANSFER + TRAIN_BATCH_HEAD[len(TRANSFER) :] + ["lr_scheduler_step"] + TRAIN_BATCH_END
)
FIT_WITH_DATAMODULE_GOLDEN = [
    "configure_callbacks", "DM.prepare_data", "prepare_data",
    "DM.setup(fit)", "CB.setup(fit)", "setup(fit)", "configure_model",
    "configure_optimizers",
    "CB.on_fit_start", "on_fit_start",
    "zero_grad",
    "CB.on_sanity_check_start", "DM.val_dataloader", *DM_VAL_RUN, "CB.on_sanity_check_end",
    "DM.train_dataloader",
    "CB.on_train_start", "on_train_start",
    "CB.on_train_epoch_start", "on_train_epoch_start",
    *DM_TRAIN_BATCH,
    *DM_LAST_TRAIN_BATCH,
    "on_validation_model_zero_grad", "zero_grad", *DM_VAL_RUN,
    "CB.on_train_epoch_end", "on_train_epoch_end",
    "CB.state_dict", "DM.state_dict", "CB.on_save_checkpoint", "on_save_checkpoint",
    "CB.on_train_end", "on_train_end",
    "CB.on_fit_end", "on_fit_end",
    "DM.teardown(fit)", "CB.teardown(fit)", "teardown(fit)",
]  # fmt: skip
TEST_WITH_DATAMODULE_GOLDEN = [
    "configure_callbacks", "DM.prepare_data", "prepare_data",
    "DM.setup(test)", "CB.setup(test)", "setup(test)", "configure_model", "zero_grad",
    "DM.test_dataloader",
    "on_test_model_eval", "train(False)",
    "CB.on_test_start", "on_test_start",
    "CB.on_test_epoch_start", "on_test_epoch_start",
    *DM_TRANSFER,
    "CB.on_test_batch_start", "on_test_batch_start",
    "test_step", "forward",
    "CB.on_test_batch_end", "on_test_batch_end",
    "CB.on_test_epoch_end", "on_test_epoch_end",
    "CB.on_test_end", "on_test_end",
    "DM.teardown(test)", "CB.teardown(test)", "teardown(test)",
]  # fmt: skip


def test_datamodule_hook_order(any_L: ModuleType, tmp_path: Path) -> None:
    model, cb, log = _recorded(any_L, make_boring_model(any_L))
    dm = record_datamodule_hooks(make_boring_datamodule(any_L))()
    dm.hook_log = log
    trainer = any_L.Trainer(
        max_epochs=1, limit_train_batches=2, limit_val_batches=1, limit_test_batches=1,
        callbacks=[cb], **_quiet(tmp_path),
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    assert_same_order(log, FIT_WITH_DATAMODULE_GOLDEN)
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=False)
    assert ckpt[type(dm).__qualname__] == {"epoch_seen": 1}
    log.clear()
    trainer.test(model, datamodule=dm, verbose=False)
    assert_same_order(log, TEST_WITH_DATAMODULE_GOLDEN)


def test_save_checkpoint_hook_order_full_and_weights_only(
    any_L: ModuleType, tmp_path: Path
) -> None:
    """A full save asks callbacks for state, then their on_save_checkpoint, then the module's; a
    weights-only save leaves the callbacks out (the dispatcher's one-sided fire)."""
    model, cb, log = _recorded(any_L, make_boring_model(any_L), state={"calls": 1})
    trainer = any_L.Trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=0, callbacks=[cb],
        enable_checkpointing=False, logger=False, **_quiet(tmp_path),
    )  # fmt: skip
    trainer.fit(model)
    del log[:]
    trainer.save_checkpoint(tmp_path / "full.ckpt")
    assert_same_order(log, ["CB.state_dict", "CB.on_save_checkpoint", "on_save_checkpoint"])
    del log[:]
    trainer.save_checkpoint(tmp_path / "weights.ckpt", weights_only=True)
    assert_same_order(log, ["on_save_checkpoint"])
