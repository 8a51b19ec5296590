"""Problems found in a model, in plain words, tied to the element that has them."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    element_id: str | None
    message: str
    file: str | None = None
    pointer: str | None = None  # where in a form file (a JSON pointer)

    def as_dict(self):
        return {k: v for k, v in asdict(self).items() if v is not None or k == "element_id"}


class ModelError(Exception):
    """A model that cannot be accepted; `problems` lists every reason found."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))
