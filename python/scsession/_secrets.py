"""A startup check of ``secret_key``: a key a person made up is warned about, by name.

``python -m scsession keygen`` prints 43 random base64url characters. A ``str`` secret that
cannot be such output (a word repeated, a passphrase of dictionary words, few distinct
characters) has far less entropy than its length suggests; one made of three words was
brute-forced from a word list. Bytes are taken as random: nothing is checked there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

__all__ = ["check_secrets", "weakness"]

logger = logging.getLogger("scsession")

#: Words: lowercase or uppercase letters only, or Capitalized words, with separators between.
_WORDS = re.compile(r"[a-z \-_.,]+|[A-Z \-_.,]+|(?:[A-Z][a-z]+[ \-_.,]*)+")
#: keygen output (43 characters over 64) shows about 30 distinct characters.
_MIN_DISTINCT = 12


def weakness(secret: str) -> str | None:
    """Why `secret` cannot be ``keygen`` output, or None if it could be."""
    if len(secret) > 1 and secret in (secret + secret)[1:-1]:
        return "it is one piece repeated"
    if len(set(secret)) < _MIN_DISTINCT:
        return f"it has only {len(set(secret))} distinct characters"
    if _WORDS.fullmatch(secret):
        return "it reads like words"
    return None


def check_secrets(secret_key: str | bytes | Sequence[str | bytes]) -> None:
    """Logs a warning for each ``str`` secret that looks made up by a person."""
    keys = [secret_key] if isinstance(secret_key, str | bytes) else secret_key
    if not isinstance(keys, Sequence):
        return  # the key ring refuses it, with a message of its own
    for index, key in enumerate(keys):
        why = weakness(key) if isinstance(key, str) else None
        if why is not None:
            logger.warning(
                "scsession: secret key #%d does not look random (%s), so it may be guessed "
                "from a word list, which lets anyone forge sessions. Make one with "
                "`python -m scsession keygen` and pass it from the environment.",
                index,
                why,
            )
