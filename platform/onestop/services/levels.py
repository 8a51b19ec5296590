"""A procedure's level (cấp thực hiện) as its procedure.json gives it, and which centres adopt it.

procedure.json's `level` is one level (`"province"`, `"commune"`, ...) or a list of them
(`["province", "commune"]`: a procedure both levels perform, as the national database's "commune +
province (liên thông)" records say). In a rollout a province's centre adopts the procedures of the
province level, a commune's or ward's centre those of the commune level, a (historic) district's
those of the district level; a procedure whose level names none of these three (no level, "centre",
"ministry") is adopted wherever it is rolled out, as before levels were read.
"""

from ..models import Centre, Procedure, ProcedureVersion

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


def province_centres_running(code, newest_hash) -> dict:
    """province centre id -> "current" (the newest template) or "older", for the provinces' own
    centres that run the procedure (the coverage of a procedure of the province level)."""
    rows = (Procedure.select(Procedure.centre, ProcedureVersion.content_hash)
            .join(ProcedureVersion, on=((ProcedureVersion.procedure == Procedure.id)
                                        & (ProcedureVersion.version == Procedure.latest_version)))
            .join(Centre, on=(Centre.id == Procedure.centre))
            .where((Procedure.code == code) & (Centre.level == "province")).tuples())
    return {centre: "current" if content_hash == newest_hash else "older" for centre, content_hash in rows}
