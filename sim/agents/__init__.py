"""Agent kinds of the model: one module each (state arrays, pure rules, Mesa views)."""
from __future__ import annotations

from typing import ClassVar

import mesa


class RowAgent(mesa.Agent):
    """A Mesa agent that views one row of an agent kind's state arrays.

    ``state`` names the model attribute holding the arrays (a dataclass of numpy arrays);
    reading a field on the agent reads that field's entry for ``row``. Agents give
    identity, selection and inspection; the rules act on whole arrays.
    """

    state: ClassVar[str] = ""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    def __getattr__(self, name):
        arrays = self.__dict__.get("model") and getattr(self.model, self.state)
        if arrays is not None and name in type(arrays).__dataclass_fields__:
            return getattr(arrays, name)[self.row]
        raise AttributeError(name)
