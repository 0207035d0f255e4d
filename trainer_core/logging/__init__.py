"""How ``self.log`` values are stored, reduced and handed to callbacks and loggers."""
