from trainer_core.callbacks.base import Callback


class EarlyStopping(Callback):
    def __init__(self, monitor: str, **kwargs):
        self.monitor = monitor
