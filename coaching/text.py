"""The rules every free-text input follows, on the socket and over REST alike.

Text is stored in PostgreSQL `text` and `jsonb` columns, which refuse NUL, and
encoded as UTF-8, which has no form for a lone surrogate (`\\ud800`): such text
is refused here, before any transaction, so that one sender's unstorable line
never fails a write shared with others. Accepted text is NFC-normalized (one
form for what looks the same) and trimmed, then its length is checked; text that
shows nothing (whitespace and invisible characters only) is blank.
"""

import re
import unicodedata
from typing import Any

from coaching.errors import invalid

# NUL and the surrogate range: what PostgreSQL text or UTF-8 cannot hold.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Characters that show nothing: format characters (zero-width space and joiners, the
# byte-order mark, direction marks), the Hangul fillers and the blank Braille pattern,
# besides what `str.strip` removes. Text made only of these is blank. (A character class's
# inside, escaped as both Python's and ECMA-262's regexes read it.)
INVISIBLE = (
    r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0"
)
_VISIBLE = re.compile(rf"[^\s{INVISIBLE}]")
# The same rule for the OpenAPI schema (JSON strings cannot carry lone surrogates there).
STORABLE_PATTERN = r"^[^\x00]*$"


def is_blank(value: str) -> bool:
    """Nothing a reader would see: only whitespace and invisible characters."""
    return _VISIBLE.search(value) is None


def is_storable(value: str) -> bool:
    return UNSTORABLE.search(value) is None


def ensure_storable(value: str, *, field: str) -> str:
    """`value`, or `invalid_input` naming `field` if it holds NUL or a lone surrogate."""
    if not is_storable(value):
        raise invalid(
            field, f"{field} contains characters that cannot be stored (NUL or a lone surrogate)."
        )
    return value


def clean_text(
    value: Any, *, field: str, max_chars: int | None = None, allow_blank: bool = False
) -> str:
    """`value` as it is stored: a string (never a coerced number), storable, NFC, trimmed.

    Raises `invalid_input` naming `field` otherwise, or when it is blank (unless
    `allow_blank`) or longer than `max_chars` once cleaned.
    """
    if not isinstance(value, str):
        raise invalid(field, f"{field} must be a string.")
    ensure_storable(value, field=field)
    text = unicodedata.normalize("NFC", value).strip()
    if is_blank(text):
        if not allow_blank:
            raise invalid(field, f"{field} is empty.")
        text = ""
    if max_chars is not None and len(text) > max_chars:
        raise invalid(field, f"{field} is longer than {max_chars} characters.")
    return text
