"""A procedure's level (cấp thực hiện) as its procedure.json gives it, and which centres adopt it.

procedure.json's `level` is one level (`"province"`, `"commune"`, ...) or a list of them
(`["province", "commune"]`: a procedure both levels perform, as the national database's "commune +
province (liên thông)" records say). In a rollout a province's centre adopts the procedures of the
province level, a commune's or ward's centre those of the commune level, a (historic) district's
those of the district level; a procedure whose level names none of these three (no level, "centre",
"ministry") is adopted wherever it is rolled out, as before levels were read.
"""

PLACED = ("province", "district", "commune")  # the levels that decide where a procedure is adopted
ALL = ("ministry", "province", "district", "commune", "centre")


def levels_of(metadata) -> tuple[str, ...]:
    """The procedure's levels, in ALL's order (also from a text such as "commune + province")."""
    level = (metadata or {}).get("level")
    items = level if isinstance(level, list) else [level]
    words = " ".join(str(i).lower() for i in items if isinstance(i, str))
    return tuple(name for name in ALL if name in words)


def adopts(centre_level: str, metadata) -> bool:
    """Whether a centre of that level adopts the procedure in a rollout."""
    placed = [name for name in levels_of(metadata) if name in PLACED]
    return not placed or centre_level not in PLACED or centre_level in placed


def split(templates, codes, centre_level) -> tuple[list, list]:
    """([(template, code)] the centre adopts, [(code, its levels)] it leaves to other levels)."""
    kept, left = [], []
    for template, code in zip(templates, codes, strict=True):
        if adopts(centre_level, template.metadata):
            kept.append((template, code))
        else:
            left.append((code, levels_of(template.metadata)))
    return kept, left
