"""The hours of a step as a histogram, so that the 9-in-10 figure can be added up over days, and
the tally of one line (a unit, a step or an official) of the tables built from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ...models import RATING_LEVELS as LEVELS

_SPANS = ((8 * 3600, 900), (48 * 3600, 3600), (240 * 3600, 4 * 3600))  # up to, width (seconds)


def bucket(seconds: int) -> int:
    """The histogram bucket of a step that took `seconds`: quarter hours up to 8 hours, hours up to
    48 hours, 4 hours up to 10 days, days beyond. Bucket b holds the times up to `bound(b)`."""
    base, start = 0, 0
    for limit, width in _SPANS:
        if seconds <= limit:
            return base + -(-(seconds - start) // width)
        base, start = base + (limit - start) // width, limit
    return base + -(-(seconds - start) // 86400)


def bound(b: int) -> float:
    """The upper end of bucket b, in hours."""
    base, start = 0, 0
    for limit, width in _SPANS:
        size = (limit - start) // width
        if b <= base + size:
            return (start + (b - base) * width) / 3600
        base, start = base + size, limit
    return (start + (b - base) * 86400) / 3600


@dataclass
class Tally:
    """One line of the unit, step or official tables being added up."""

    done: int = 0
    late: int = 0
    rework: int = 0
    seconds: int = 0
    histogram: dict = field(default_factory=dict)  # bucket -> steps
    rated: dict = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))

    def add(self, done, late, rework, seconds, at_bucket):
        self.done, self.late, self.rework, self.seconds = (self.done + int(done), self.late + int(late),
                                                           self.rework + int(rework), self.seconds + int(seconds))
        self.histogram[at_bucket] = self.histogram.get(at_bucket, 0) + int(done)

    def p90(self) -> float | None:
        """The smallest bucket bound within which at least nine steps in ten were done."""
        need, seen = math.ceil(0.9 * self.done), 0
        for b in sorted(self.histogram):
            seen += self.histogram[b]
            if seen >= need:
                return bound(b)
        return None


def lines(table: dict, label, hours=True, ratings=True) -> list[dict]:
    """The lines of a table of tallies (key -> Tally), most steps done first: `label(key)` names a
    line; `hours` adds its rework, average and 9-in-10 hours, `ratings` its ratings."""
    out = []
    for key, t in table.items():
        line = label(key) | {"done": t.done, "on_time": t.done - t.late, "late": t.late}
        if hours:
            line |= {"rework": t.rework, "average_hours": round(t.seconds / 3600 / t.done, 2) if t.done else None,
                     "p90_hours": t.p90() if t.done else None}
        if ratings:
            given = sum(t.rated.values())
            line["ratings"] = dict(t.rated)
            line["satisfaction_rate"] = (round(100.0 * (t.rated["rat_hai_long"] + t.rated["hai_long"]) / given, 1)
                                         if given else None)
        out.append(line)
    return sorted(out, key=lambda e: (-e["done"], e["name"] or ""))
