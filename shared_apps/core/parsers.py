"""Request body parsers of both sites' REST APIs."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, with JSON nested deeper than Python's recursion limit (``[[[[...``,
    a few kilobytes are enough) refused as a parse error (400) instead of escaping as a
    ``RecursionError`` (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
