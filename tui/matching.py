"""How the dashboard's filters match what a user types: by prefix, substring or subsequence,
ignoring case, so ``fail`` finds failed tasks and ``ldr`` finds ``load_rows``."""

from __future__ import annotations


def matches(query: str, *texts: str) -> bool:
    """True when ``query`` (already lower-case and stripped) is a subsequence of any of
    ``texts``, compared without case. A prefix or substring is a subsequence too; "" matches
    everything."""
    if not query:
        return True
    for text in texts:
        lowered = text.lower()
        if query in lowered:
            return True
        position = 0
        for char in query:
            position = lowered.find(char, position) + 1
            if position == 0:
                break
        else:
            return True
    return False
