"""``ModelPruning``: prune parameters with ``torch.nn.utils.prune`` during training.

At each train epoch end (or validation epoch end) ``amount`` of the chosen parameters is pruned,
globally or per layer; with the lottery-ticket option the surviving weights are reset to their
values at the start. Pruning is made permanent at the end of training and in every checkpoint.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from copy import deepcopy
from functools import partial
from typing import TYPE_CHECKING, Any

import torch.nn.utils.prune as pytorch_prune
from torch import Tensor, nn

from trainer_core.callbacks.base import Callback
from trainer_core.module import LightningModule
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer

log = logging.getLogger(__name__)

_PYTORCH_PRUNING_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ln_structured": pytorch_prune.ln_structured,
    "l1_unstructured": pytorch_prune.l1_unstructured,
    "random_structured": pytorch_prune.random_structured,
    "random_unstructured": pytorch_prune.random_unstructured,
}
_PYTORCH_PRUNING_METHOD: dict[str, type[pytorch_prune.BasePruningMethod]] = {
    "ln_structured": pytorch_prune.LnStructured,
    "l1_unstructured": pytorch_prune.L1Unstructured,
    "random_structured": pytorch_prune.RandomStructured,
    "random_unstructured": pytorch_prune.RandomUnstructured,
}
_PARAM_LIST = Sequence[tuple[nn.Module, str]]
_MODULE_CONTAINERS = (LightningModule, nn.Sequential, nn.ModuleList, nn.ModuleDict)


class ModelPruning(Callback):
    """Lightning's ModelPruning: same arguments, same schedule, same masks."""

    PARAMETER_NAMES = ("weight", "bias")

    def __init__(
        self,
        pruning_fn: Callable[..., Any] | str,
        parameters_to_prune: _PARAM_LIST = (),
        parameter_names: list[str] | None = None,
        use_global_unstructured: bool = True,
        amount: int | float | Callable[[int], int | float] = 0.5,
        apply_pruning: bool | Callable[[int], bool] = True,
        make_pruning_permanent: bool = True,
        use_lottery_ticket_hypothesis: bool | Callable[[int], bool] = True,
        resample_parameters: bool = False,
        pruning_dim: int | None = None,
        pruning_norm: int | None = None,
        verbose: int = 0,
        prune_on_train_epoch_end: bool = True,
    ) -> None:
        self._use_global_unstructured = use_global_unstructured
        self._parameters_to_prune = parameters_to_prune
        self._use_lottery_ticket_hypothesis = use_lottery_ticket_hypothesis
        self._resample_parameters = resample_parameters
        self._prune_on_train_epoch_end = prune_on_train_epoch_end
        self._parameter_names = parameter_names or self.PARAMETER_NAMES
        self._global_kwargs: dict[str, Any] = {}
        self._original_layers: dict[int, dict[str, Any]] | None = None
        self._pruning_method_name: str | None = None
        for name in self._parameter_names:
            if name not in self.PARAMETER_NAMES:
                raise MisconfigurationException(
                    f"The provided `parameter_names` name: {name} isn't in {self.PARAMETER_NAMES}"
                )
        self.pruning_fn = self._resolve_pruning_fn(pruning_fn, pruning_dim, pruning_norm)
        if use_global_unstructured and self.pruning_fn.PRUNING_TYPE != "unstructured":  # type: ignore[union-attr]
            raise MisconfigurationException(
                'Only the "unstructured" PRUNING_TYPE is supported with '
                f"`use_global_unstructured=True`. Found method {self.pruning_fn} of type "
                f"{self.pruning_fn.PRUNING_TYPE}. "  # type: ignore[union-attr]
            )
        self._apply_pruning = apply_pruning
        self._make_pruning_permanent = make_pruning_permanent
        if not (isinstance(amount, (int, float)) or callable(amount)):
            raise MisconfigurationException(
                "`amount` should be provided and be either an int, a float or Callable function."
            )
        self.amount = amount
        if verbose not in (0, 1, 2):
            raise MisconfigurationException("`verbose` must be any of (0, 1, 2)")
        self._verbose = verbose

    def _resolve_pruning_fn(
        self, pruning_fn: Any, pruning_dim: int | None, pruning_norm: int | None
    ) -> Any:
        if isinstance(pruning_fn, str):
            name = pruning_fn.lower()
            if name not in _PYTORCH_PRUNING_FUNCTIONS:
                raise MisconfigurationException(
                    f"The provided `pruning_fn` {name} isn't available in PyTorch's built-in "
                    f"functions: {list(_PYTORCH_PRUNING_FUNCTIONS)} "
                )
            kwargs: dict[str, Any] = {}
            if name.endswith("_structured"):
                if pruning_dim is None:
                    raise MisconfigurationException(
                        "When requesting `structured` pruning, the `pruning_dim` should be provided."
                    )
                if name == "ln_structured":
                    if pruning_norm is None:
                        raise MisconfigurationException(
                            "When requesting `ln_structured` pruning, the `pruning_norm` should "
                            "be provided."
                        )
                    kwargs["n"] = pruning_norm
                kwargs["dim"] = pruning_dim
            return self._create_pruning_fn(name, **kwargs)
        if self._is_pruning_method(pruning_fn):
            if not self._use_global_unstructured:
                raise MisconfigurationException(
                    "PyTorch `BasePruningMethod` is currently only supported with "
                    "`use_global_unstructured=True`."
                )
            return pruning_fn
        raise MisconfigurationException(
            f"`pruning_fn` is expected to be a str in {list(_PYTORCH_PRUNING_FUNCTIONS)} or a "
            f"PyTorch `BasePruningMethod`. Found: {pruning_fn}. HINT: if passing a "
            "`BasePruningMethod`, pass the class, not an instance"
        )

    def filter_parameters_to_prune(self, parameters_to_prune: _PARAM_LIST = ()) -> _PARAM_LIST:
        """Override to choose which (module, name) pairs are pruned."""
        return parameters_to_prune

    def _create_pruning_fn(self, pruning_fn: str, **kwargs: Any) -> Any:
        """The method class for global pruning, else the function with its arguments bound."""
        if self._use_global_unstructured:
            method = _PYTORCH_PRUNING_METHOD[pruning_fn]
            self._global_kwargs = kwargs
            self._pruning_method_name = method.__name__
            return method
        function = _PYTORCH_PRUNING_FUNCTIONS[pruning_fn]
        self._pruning_method_name = function.__name__
        return partial(function, **kwargs)

    def make_pruning_permanent(self, module: nn.Module) -> None:
        """Remove the pruning re-parametrisation hooks, leaving the masked weights in place."""
        for _, submodule in module.named_modules():
            for key in list(submodule._forward_pre_hooks):
                hook = submodule._forward_pre_hooks[key]
                if isinstance(hook, pytorch_prune.BasePruningMethod):
                    hook.remove(submodule)
                    del submodule._forward_pre_hooks[key]

    @staticmethod
    def _copy_param(new: nn.Module, old: nn.Module, name: str) -> None:
        dst = getattr(new, name + "_orig") if hasattr(new, name + "_orig") else getattr(new, name)
        src = getattr(old, name)
        if isinstance(dst, Tensor) and isinstance(src, Tensor):
            dst.data = src.data.to(dst.device)

    def apply_lottery_ticket_hypothesis(self) -> None:
        """Reset the unpruned weights to their values at the start (or resample them)."""
        assert self._original_layers is not None
        for layer in self._original_layers.values():
            copy = layer["data"]
            if self._resample_parameters and callable(getattr(copy, "reset_parameters", None)):
                copy = deepcopy(copy)
                copy.reset_parameters()
            for i, name in layer["names"]:
                new, _ = self._parameters_to_prune[i]
                self._copy_param(new, copy, name)

    def _apply_local_pruning(self, amount: float) -> None:
        for module, name in self._parameters_to_prune:
            self.pruning_fn(module, name=name, amount=amount)

    def _resolve_global_kwargs(self, amount: float) -> dict[str, Any]:
        self._global_kwargs["amount"] = amount
        params = set(inspect.signature(self.pruning_fn).parameters) - {"self"}
        return {k: v for k, v in self._global_kwargs.items() if k in params}

    def _apply_global_pruning(self, amount: float) -> None:
        pytorch_prune.global_unstructured(
            self._parameters_to_prune,
            pruning_method=self.pruning_fn,
            **self._resolve_global_kwargs(amount),
        )

    @staticmethod
    def _get_pruned_stats(module: nn.Module, name: str) -> tuple[int, int]:
        mask = getattr(module, f"{name}_mask", None)
        if mask is None:
            return 0, 1
        return int((mask == 0).sum().item()), mask.numel()

    def apply_pruning(self, amount: int | float) -> None:
        """Prune ``amount`` of ``parameters_to_prune`` now."""
        previous = [self._get_pruned_stats(m, n) for m, n in self._parameters_to_prune]
        if self._use_global_unstructured:
            self._apply_global_pruning(amount)
        else:
            self._apply_local_pruning(amount)
        if self._verbose:
            current = [self._get_pruned_stats(m, n) for m, n in self._parameters_to_prune]
            self._log_sparsity_stats(previous, current, amount=amount)

    def _log_sparsity_stats(
        self, prev: list[tuple[int, int]], curr: list[tuple[int, int]], amount: int | float = 0
    ) -> None:
        total = sum(size for _, size in curr)
        before, after = sum(z for z, _ in prev), sum(z for z, _ in curr)
        log.info(
            f"Applied `{self._pruning_method_name}`. Pruned: {before}/{total} "
            f"({before / total:.2%}) -> {after}/{total} ({after / total:.2%})"
        )
        if self._verbose == 2:
            for i, (module, name) in enumerate(self._parameters_to_prune):
                (z0, n0), (z1, n1) = prev[i], curr[i]
                log.info(
                    f"Applied `{self._pruning_method_name}` to `{module!r}.{name}` with "
                    f"amount={amount}. Pruned: {z0} ({z0 / n0:.2%}) -> {z1} ({z1 / n1:.2%})"
                )

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        parameters = self.sanitize_parameters_to_prune(
            pl_module, self._parameters_to_prune, parameter_names=self._parameter_names
        )
        self._parameters_to_prune = self.filter_parameters_to_prune(parameters)
        if self._use_lottery_ticket_hypothesis:
            self._original_layers = {}
            for i, (module, name) in enumerate(self._parameters_to_prune):
                layer = self._original_layers.setdefault(
                    id(module), {"data": deepcopy(module), "names": []}
                )
                layer["names"].append((i, name))

    def _run_pruning(self, current_epoch: int) -> None:
        prune = _at(self._apply_pruning, current_epoch)
        amount = _at(self.amount, current_epoch)
        if not prune or not amount:
            return
        self.apply_pruning(amount)
        if _at(self._use_lottery_ticket_hypothesis, current_epoch):
            self.apply_lottery_ticket_hypothesis()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._prune_on_train_epoch_end:
            self._run_pruning(pl_module.current_epoch)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking and not self._prune_on_train_epoch_end:
            self._run_pruning(pl_module.current_epoch)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._make_pruning_permanent:
            self.make_pruning_permanent(pl_module)

    def _make_pruning_permanent_on_state_dict(self, pl_module: LightningModule) -> dict[str, Any]:
        state_dict = pl_module.state_dict()
        pruned = {k.replace("_mask", "") for k in state_dict if k.endswith("_mask")}
        for name in pruned:
            orig = state_dict.pop(name + "_orig")
            mask = state_dict.pop(name + "_mask")
            state_dict[name] = mask.to(dtype=orig.dtype) * orig
        return {k: v.cpu() if isinstance(v, Tensor) else v for k, v in state_dict.items()}

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Checkpoints hold plain (masked) weights, loadable without the pruning hooks."""
        if self._make_pruning_permanent:
            checkpoint["state_dict"] = self._make_pruning_permanent_on_state_dict(pl_module)

    @staticmethod
    def sanitize_parameters_to_prune(
        pl_module: LightningModule,
        parameters_to_prune: _PARAM_LIST = (),
        parameter_names: Sequence[str] = (),
    ) -> _PARAM_LIST:
        """Every weight/bias of the model when none given; otherwise check the pairs exist."""
        names = parameter_names or ModelPruning.PARAMETER_NAMES
        current = [m for m in pl_module.modules() if not isinstance(m, _MODULE_CONTAINERS)]
        if not parameters_to_prune:
            return [
                (m, p)
                for p in names
                for m in current
                if isinstance(getattr(m, p, None), nn.Parameter)
            ]
        if not (
            isinstance(parameters_to_prune, (list, tuple))
            and all(len(p) == 2 for p in parameters_to_prune)
            and all(isinstance(a, nn.Module) and isinstance(b, str) for a, b in parameters_to_prune)
        ):
            raise MisconfigurationException(
                "The provided `parameters_to_prune` should either be list of tuple with 2 "
                "elements: (nn.Module, parameter_name_to_prune) or None"
            )
        missing_modules = [m for m, _ in parameters_to_prune if m not in current]
        missing_names = [n for m, n in parameters_to_prune if m in current and not hasattr(m, n)]
        if missing_modules or missing_names:
            raise MisconfigurationException(
                "Some provided `parameters_to_prune` don't exist in the model. Found missing "
                f"modules: {missing_modules} and missing parameters: {missing_names}"
            )
        return parameters_to_prune

    @staticmethod
    def _is_pruning_method(method: Any) -> bool:
        return inspect.isclass(method) and issubclass(method, pytorch_prune.BasePruningMethod)


def _at(value: Any, epoch: int) -> Any:
    """A per-epoch setting: call it with the epoch, or take it as it is."""
    return value(epoch) if callable(value) else value
