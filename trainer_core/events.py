"""Every hook point of the trainer, in the order a ``fit`` reaches it.

``Event`` members are the hooks a :class:`~trainer_core.callbacks.Callback` can implement; each
value is the Lightning hook name, and ``Callback`` has exactly one method per member (a unit test
keeps the two equal). ``ModuleHook`` members are hooks only the LightningModule (or datamodule)
has. Each member also carries the ``self.log`` policy for that hook, so "may this hook log, and
with which defaults" is answered in one place.

The dispatch rule: ``Trainer._fire(event, *args)`` calls every callback's hook, in
``trainer.callbacks`` order, then the module's. Exceptions, all from the spec:

* setup/teardown: datamodule, then callbacks, then module.
* ``AFTER_MODULE`` events (on_train_epoch_end): plain callbacks, then the module, then the
  callbacks that declare ``monitors_metrics = True`` (EarlyStopping and every ``Checkpoint``, a
  user's own included), so they see what the module logged there.
* on_save_checkpoint / on_load_checkpoint / state_dict / load_state_dict: see checkpoint_io.py.

The loop, as pseudocode (``CB.x`` = every callback, then the module)::

    fit:
        configure_callbacks; prepare_data
        CB.setup("fit"); configure_model
        [resume: on_load_checkpoint; CB.on_load_checkpoint; CB.load_state_dict]
        configure_optimizers
        CB.on_fit_start; zero_grad
        sanity check (RNG isolated):
            CB.on_sanity_check_start; val_dataloader; <eval epoch>; CB.on_sanity_check_end
        train_dataloader; CB.on_train_start
        for epoch in epochs:
            CB.on_train_epoch_start
            for batch_idx, batch in train batches:
                on_before_batch_transfer; transfer_batch_to_device; on_after_batch_transfer
                CB.on_train_batch_start            (-1 skips the rest of the epoch)
                optimizer_step(closure):
                    closure: training_step
                             CB.on_before_zero_grad; optimizer_zero_grad (first of a window)
                             CB.on_before_backward; backward; CB.on_after_backward
                    CB.on_before_optimizer_step; configure_gradient_clipping (-> clip_gradients);
                    the real step
                lr_scheduler_step (step interval; epoch interval on the last batch)
                CB.on_train_batch_end
                if val check: on_validation_model_zero_grad; <eval epoch>
            CB.on_train_epoch_end (callbacks with monitors_metrics after the module):
                ModelCheckpoint -> CB.state_dict; CB.on_save_checkpoint; on_save_checkpoint
            lr_scheduler_step (plateau, epoch interval)
        CB.on_train_end; CB.on_fit_end; CB.teardown("fit")

    <eval epoch> (validation; test is the same with on_test_* / test_step / test_dataloader):
        on_validation_model_eval; CB.on_validation_start; CB.on_validation_epoch_start
        for batch: transfer hooks; CB.on_validation_batch_start; validation_step;
                   CB.on_validation_batch_end
        CB.on_validation_epoch_end; CB.on_validation_end; [on_validation_model_train]

    test: test_dataloader; on_test_model_eval; CB.on_test_start; CB.on_test_epoch_start;
          per batch CB.on_test_batch_start; test_step; CB.on_test_batch_end;
          CB.on_test_epoch_end; CB.on_test_end; [on_test_model_train]

    predict: predict_dataloader; on_predict_model_eval; CB.on_predict_start; CB.on_predict_epoch_start;
             per batch CB.on_predict_batch_start; predict_step; CB.on_predict_batch_end;
             CB.on_predict_epoch_end; CB.on_predict_end

    on error: CB.on_exception; loggers finalize("failed"); re-raise.
"""

from __future__ import annotations

from enum import Enum


class LogPolicy(Enum):
    """What ``self.log`` may do inside a hook."""

    STEP = "step"  # training batch hooks: default on_step; any combination but both False
    EVAL_STEP = "eval_step"  # eval batch hooks: default on_epoch; any combination but both False
    EPOCH = "epoch"  # stage/epoch hooks: epoch-level only
    FORBIDDEN = "forbidden"

    @property
    def default_on_step(self) -> bool:
        return self is LogPolicy.STEP


class _Hook(str, Enum):  # noqa: UP042 - members carry a log policy too
    """A hook name plus its log policy; ``str`` so members compare equal to the hook name."""

    log_policy: LogPolicy

    def __new__(cls, name: str, policy: LogPolicy = LogPolicy.FORBIDDEN) -> _Hook:
        obj = str.__new__(cls, name)
        obj._value_ = name
        obj.log_policy = policy
        return obj

    def __str__(self) -> str:
        return self.value


_S, _E, _P = LogPolicy.STEP, LogPolicy.EVAL_STEP, LogPolicy.EPOCH


class Event(_Hook):
    """Callback hook points, in the order of their first call in a run (a test records it)."""

    SETUP = "setup"
    ON_LOAD_CHECKPOINT = "on_load_checkpoint"  # resuming: right after setup
    LOAD_STATE_DICT = "load_state_dict"
    ON_FIT_START = "on_fit_start"
    ON_SANITY_CHECK_START = "on_sanity_check_start"
    ON_VALIDATION_START = "on_validation_start", _P
    ON_VALIDATION_EPOCH_START = "on_validation_epoch_start", _P
    ON_VALIDATION_BATCH_START = "on_validation_batch_start", _E
    ON_VALIDATION_BATCH_END = "on_validation_batch_end", _E
    ON_VALIDATION_EPOCH_END = "on_validation_epoch_end", _P
    ON_VALIDATION_END = "on_validation_end"
    ON_SANITY_CHECK_END = "on_sanity_check_end"
    ON_TRAIN_START = "on_train_start", _P
    ON_TRAIN_EPOCH_START = "on_train_epoch_start", _P
    ON_TRAIN_BATCH_START = "on_train_batch_start", _S
    ON_BEFORE_ZERO_GRAD = "on_before_zero_grad", _S
    ON_BEFORE_BACKWARD = "on_before_backward", _S
    ON_AFTER_BACKWARD = "on_after_backward", _S
    ON_BEFORE_OPTIMIZER_STEP = "on_before_optimizer_step", _S
    ON_TRAIN_BATCH_END = "on_train_batch_end", _S
    ON_TRAIN_EPOCH_END = "on_train_epoch_end", _P
    STATE_DICT = "state_dict"
    ON_SAVE_CHECKPOINT = "on_save_checkpoint"
    ON_TRAIN_END = "on_train_end"
    ON_FIT_END = "on_fit_end"
    ON_TEST_START = "on_test_start", _P
    ON_TEST_EPOCH_START = "on_test_epoch_start", _P
    ON_TEST_BATCH_START = "on_test_batch_start", _E
    ON_TEST_BATCH_END = "on_test_batch_end", _E
    ON_TEST_EPOCH_END = "on_test_epoch_end", _P
    ON_TEST_END = "on_test_end"
    ON_PREDICT_START = "on_predict_start"
    ON_PREDICT_EPOCH_START = "on_predict_epoch_start"
    ON_PREDICT_BATCH_START = "on_predict_batch_start"
    ON_PREDICT_BATCH_END = "on_predict_batch_end"
    ON_PREDICT_EPOCH_END = "on_predict_epoch_end"
    ON_PREDICT_END = "on_predict_end"
    ON_EXCEPTION = "on_exception"
    TEARDOWN = "teardown"


class ModuleHook(_Hook):
    """Hooks only the LightningModule (or the datamodule, for data hooks) implements."""

    CONFIGURE_CALLBACKS = "configure_callbacks"
    PREPARE_DATA = "prepare_data"
    CONFIGURE_MODEL = "configure_model"
    CONFIGURE_OPTIMIZERS = "configure_optimizers"
    ZERO_GRAD = "zero_grad"
    VAL_DATALOADER = "val_dataloader"
    TRAIN_DATALOADER = "train_dataloader"
    TEST_DATALOADER = "test_dataloader"
    PREDICT_DATALOADER = "predict_dataloader"
    ON_VALIDATION_MODEL_ZERO_GRAD = "on_validation_model_zero_grad"
    ON_VALIDATION_MODEL_EVAL = "on_validation_model_eval"
    ON_VALIDATION_MODEL_TRAIN = "on_validation_model_train"
    ON_TEST_MODEL_EVAL = "on_test_model_eval"
    ON_TEST_MODEL_TRAIN = "on_test_model_train"
    ON_PREDICT_MODEL_EVAL = "on_predict_model_eval"
    ON_BEFORE_BATCH_TRANSFER = "on_before_batch_transfer"
    TRANSFER_BATCH_TO_DEVICE = "transfer_batch_to_device"
    ON_AFTER_BATCH_TRANSFER = "on_after_batch_transfer"
    OPTIMIZER_STEP = "optimizer_step", _S
    TRAINING_STEP = "training_step", _S
    OPTIMIZER_ZERO_GRAD = "optimizer_zero_grad", _S
    BACKWARD = "backward", _S
    CONFIGURE_GRADIENT_CLIPPING = "configure_gradient_clipping", _S
    CLIP_GRADIENTS = "clip_gradients", _S
    LR_SCHEDULER_STEP = "lr_scheduler_step"
    VALIDATION_STEP = "validation_step", _E
    TEST_STEP = "test_step", _E
    PREDICT_STEP = "predict_step"


def log_policy(hook_name: str | None) -> LogPolicy:
    """The log policy of a hook by name; unknown names (user helpers) may not log."""
    if hook_name is None:
        return LogPolicy.FORBIDDEN
    member = _BY_NAME.get(hook_name)
    return member.log_policy if member is not None else LogPolicy.FORBIDDEN


_BY_NAME: dict[str, _Hook] = {m.value: m for m in list(Event) + list(ModuleHook)}

# Hooks only callbacks have (the module has no such method), and steps the module may leave out.
CALLBACK_ONLY = frozenset(
    {Event.ON_SANITY_CHECK_START, Event.ON_SANITY_CHECK_END, Event.ON_EXCEPTION}
)
OPTIONAL_STEPS = frozenset({ModuleHook.VALIDATION_STEP, ModuleHook.TEST_STEP})

# Events at which a callback with ``monitors_metrics = True`` runs after the module, not before:
# it decides on what the module logged in that very hook (spec 1.1, Lightning's fit loop).
AFTER_MODULE = frozenset({Event.ON_TRAIN_EPOCH_END})
