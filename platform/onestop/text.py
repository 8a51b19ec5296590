"""Text helpers shared by every layer: Vietnamese search that ignores diacritics and case."""

import unicodedata

_FOLD = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """Lower case, without diacritics: 'Cấp giấy phép xây dựng' -> 'cap giay phep xay dung'."""
    decomposed = unicodedata.normalize("NFD", (text or "").translate(_FOLD))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def matches(query: str, *texts: str) -> bool:
    """Every word of the query occurs in the texts (diacritics and case ignored)."""
    haystack = " ".join(fold(t) for t in texts if t)
    return all(word in haystack for word in fold(query).split())
