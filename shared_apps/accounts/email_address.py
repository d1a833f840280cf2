"""Email addresses as the auth service stores and compares them.

* **Normalised:** Unicode NFKC (so full-width, ligature and other compatibility forms become
  the ordinary letters they stand for), then stripped and lower-cased. Every lookup and every
  stored address goes through ``email_normalize``.
* **One script per part:** an address whose local part or domain mixes scripts (Latin letters
  with Cyrillic or Greek look-alikes, as in ``exаmple.com`` with a Cyrillic ``а``) is refused
  at sign-up: it would be a second account that reads like someone else's. The combinations
  that Unicode's "highly restrictive" profile (UTS #39) allows are accepted: Latin with Han and
  Japanese kana, with Han and Bopomofo, or with Han and Hangul. Digits, punctuation and marks
  belong to no script. Existing accounts are not checked: they keep signing in.
"""

from __future__ import annotations

import unicodedata

# Letters whose Unicode name starts with one of these belong to that script.
_SCRIPT_OF_NAME = {"CJK": "Han", "IDEOGRAPHIC": "Han", "KANGXI": "Han"}
_NO_SCRIPT = {"KATAKANA-HIRAGANA", "MODIFIER"}  # prolonged sound mark, modifier letters: shared
_ALLOWED_MIXES = (
    frozenset({"LATIN", "Han", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "Han", "BOPOMOFO"}),
    frozenset({"LATIN", "Han", "HANGUL"}),
)


def email_normalize(email: str) -> str:
    """NFKC, stripped, lower-cased: the form stored and compared everywhere."""
    return unicodedata.normalize("NFKC", email or "").strip().lower()


def _scripts(text: str) -> set[str]:
    scripts = set()
    for char in text:
        if not unicodedata.category(char).startswith("L"):
            continue  # digits, punctuation, marks: common to every script
        first = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
        if first in _NO_SCRIPT:
            continue
        scripts.add(_SCRIPT_OF_NAME.get(first, first))
    return scripts


def _mixes_scripts(text: str) -> bool:
    scripts = _scripts(text)
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_MIXES)


def mixed_script_part(email: str) -> str | None:
    """``"local part"`` or ``"domain"`` if that part mixes scripts, else None. The domain is
    judged label by label, as browsers judge IDNs: ``почта.com`` is two single-script labels."""
    local, _, domain = email.rpartition("@")
    if _mixes_scripts(local):
        return "local part"
    if any(_mixes_scripts(label) for label in domain.split(".")):
        return "domain"
    return None
