"""Time allowances per step that add up to the legal limit.

The template's own allowances give the weights (receiving half a day against three days of
appraisal...); the record's limit is shared out in proportion, in the limit's own unit: working
days in whole hours (an allowance that is a whole or half day is written in working days, else in
working hours), calendar days in whole days. Each counted step gets at least one hour (one day)
while the limit allows; when it does not, the heaviest steps get one each and the others are due
when the dossier is. The shares always add up to the limit exactly.
"""

from __future__ import annotations


def weights(template_steps: dict) -> dict:
    """{step key: weight in working hours} from a template's "deadline.steps"."""
    out = {}
    for key, value in template_steps.items():
        unit, amount = next(iter(value.items()))
        out[key] = float(amount) * (1 if unit == "working_hours" else 8)
    return out


def share(total: int, weight: dict) -> dict:
    """`total` whole units shared in proportion to weight, each key at least one while there are
    enough (the heaviest keys first when there are not)."""
    keys = sorted(weight, key=lambda k: (-weight[k], list(weight).index(k)))
    if total < len(keys):
        return {k: 1 for k in weight if k in keys[:total]}
    whole = sum(weight.values()) or 1.0
    exact = {k: total * weight[k] / whole for k in keys}
    out = {k: max(1, int(exact[k])) for k in keys}
    while sum(out.values()) < total:  # to the share furthest below its exact value
        out[max(keys, key=lambda k: exact[k] - out[k])] += 1
    while sum(out.values()) > total:  # from the share furthest above it (never below one)
        out[max((k for k in keys if out[k] > 1), key=lambda k: out[k] - exact[k])] -= 1
    return {k: out[k] for k in weight}


def allowances(template_steps: dict, amount: float, unit: str) -> dict:
    """The "deadline.steps" of a procedure whose limit is `amount` `unit`, shaped like the template's."""
    weight = weights(template_steps)
    if unit == "calendar_days":
        return {k: {"calendar_days": n} for k, n in share(int(amount), weight).items()}
    hours = round(amount * (1 if unit == "working_hours" else 8))
    if unit == "working_days" and hours % 4 == 0 and hours // 4 >= len(weight):  # in half days when it can
        return {k: _written(4 * n, unit) for k, n in share(hours // 4, weight).items()}
    return {k: _written(n, unit) for k, n in share(hours, weight).items()}


def _written(hours: int, unit: str) -> dict:
    if unit == "working_days" and hours % 4 == 0:
        return {"working_days": hours / 8 if hours % 8 else hours // 8}
    return {"working_hours": hours}
