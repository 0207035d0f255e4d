"""Small shared helpers: exceptions, rank-zero printing, attribute dicts."""

from trainer_core.utilities.exceptions import MisconfigurationException
from trainer_core.utilities.parsing import AttributeDict

__all__ = ["AttributeDict", "MisconfigurationException"]
