"""The API's JSON parser: refuses JSON nested deeper than any input needs.

What the database cannot store (NUL, lone surrogates) is refused by the fields
that read it (`coaching.api.fields`), naming the field; a key the API does not
read is ignored whatever it holds, as the schema allows.
"""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def check_depth(data: Any) -> None:
    """Walk parsed JSON without recursion; ParseError on deep nesting."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON is nested deeper than {MAX_DEPTH} levels.") from None
        check_depth(data)
        return data
