"""Built-in callbacks."""

from trainer_core.callbacks.base import Callback
from trainer_core.callbacks.batch_size_finder import BatchSizeFinder
from trainer_core.callbacks.device_stats_monitor import DeviceStatsMonitor
from trainer_core.callbacks.early_stopping import EarlyStopping, EarlyStoppingReason
from trainer_core.callbacks.finetuning import BackboneFinetuning, BaseFinetuning
from trainer_core.callbacks.gradient_accumulation_scheduler import GradientAccumulationScheduler
from trainer_core.callbacks.lambda_function import LambdaCallback
from trainer_core.callbacks.lr_finder import LearningRateFinder
from trainer_core.callbacks.lr_monitor import LearningRateMonitor
from trainer_core.callbacks.model_checkpoint import Checkpoint, ModelCheckpoint
from trainer_core.callbacks.model_summary import ModelSummary
from trainer_core.callbacks.on_exception_checkpoint import OnExceptionCheckpoint
from trainer_core.callbacks.prediction_writer import BasePredictionWriter
from trainer_core.callbacks.progress import ProgressBar, TQDMProgressBar
from trainer_core.callbacks.pruning import ModelPruning
from trainer_core.callbacks.rich_model_summary import RichModelSummary
from trainer_core.callbacks.rich_progress import RichProgressBar, RichProgressBarTheme
from trainer_core.callbacks.spike import SpikeDetection
from trainer_core.callbacks.stochastic_weight_avg import StochasticWeightAveraging
from trainer_core.callbacks.throughput_monitor import ThroughputMonitor
from trainer_core.callbacks.timer import Timer
from trainer_core.callbacks.weight_averaging import EMAWeightAveraging, WeightAveraging

__all__ = [
    "BackboneFinetuning",
    "BaseFinetuning",
    "BasePredictionWriter",
    "BatchSizeFinder",
    "Callback",
    "Checkpoint",
    "DeviceStatsMonitor",
    "EMAWeightAveraging",
    "EarlyStopping",
    "EarlyStoppingReason",
    "GradientAccumulationScheduler",
    "LambdaCallback",
    "LearningRateFinder",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ModelPruning",
    "ModelSummary",
    "OnExceptionCheckpoint",
    "ProgressBar",
    "RichModelSummary",
    "RichProgressBar",
    "RichProgressBarTheme",
    "SpikeDetection",
    "StochasticWeightAveraging",
    "TQDMProgressBar",
    "ThroughputMonitor",
    "Timer",
    "WeightAveraging",
]
