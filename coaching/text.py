"""The rules every free-text input follows, on the socket and over REST alike.

Text is stored in PostgreSQL `text` and `jsonb` columns, which refuse NUL, and
encoded as UTF-8, which has no form for a lone surrogate (`\\ud800`): such text
is refused here, before any transaction, so that one sender's unstorable line
never fails a write shared with others. Accepted text is NFC-normalized (one
form for what looks the same) and trimmed, then its length is checked.
"""

import re
import unicodedata
from typing import Any

from coaching.errors import invalid

# NUL and the surrogate range: what PostgreSQL text or UTF-8 cannot hold.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# The same rule for the OpenAPI schema (JSON strings cannot carry lone surrogates there).
STORABLE_PATTERN = r"^[^\x00]*$"


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
    if not text and not allow_blank:
        raise invalid(field, f"{field} is empty.")
    if max_chars is not None and len(text) > max_chars:
        raise invalid(field, f"{field} is longer than {max_chars} characters.")
    return text
