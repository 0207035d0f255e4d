from trainer_core.callbacks.base import Callback


class ModelCheckpoint(Callback):
    def __init__(self, **kwargs):
        self.kwargs = kwargs
