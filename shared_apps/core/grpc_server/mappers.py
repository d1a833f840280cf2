"""Small typed helpers to build protobuf messages from Python values."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def rfc3339_timestamp(value: str | None) -> Timestamp | None:
    """A timestamp from its RFC 3339 text (the JSON shapes carry times as text)."""
    if value is None:
        return None
    ts = Timestamp()
    ts.FromJsonString(value)
    return ts


def from_timestamp(ts: Timestamp, *, present: bool) -> datetime | None:
    if not present:
        return None
    from datetime import UTC

    return ts.ToDatetime(tzinfo=UTC)
