"""Pinyin keys for searching names the way workers type them: `zhangli` or `zl` finds 张黎."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

# Surnames whose reading differs from the character's common reading.
_SURNAMES = {"单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "朴": "piao", "查": "zha",
             "区": "ou", "盖": "ge", "尉迟": "yuchi", "万俟": "moqi", "乐": "yue", "缪": "miao",
             "覃": "qin", "翟": "zhai", "黑": "he", "秘": "bi", "员": "yun", "召": "shao"}
_LONGEST_FIRST = sorted(_SURNAMES, key=len, reverse=True)


def name_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials), lowercase ASCII without tones or spaces."""
    name = name.strip()
    syllables: list[str] = []
    for surname in _LONGEST_FIRST:
        if name.startswith(surname) and len(name) > len(surname):
            syllables.append(_SURNAMES[surname])
            name = name[len(surname):]
            break
    syllables += [s for s in lazy_pinyin(name, style=Style.NORMAL, errors="ignore") if s]
    syllables = [s.replace("ü", "v").lower() for s in syllables]
    return "".join(syllables), "".join(s[0] for s in syllables)
