"""Reading uploaded CSV files row by row without letting one bad row stop the rest
(village groups, authorised activities)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import TypeVar

Row = TypeVar("Row")


def readable_rows(
    reader: Iterator[Row], on_error: Callable[[int, str], None]
) -> Iterator[Row | None]:
    """The rows of a csv reader whose header was read; a row the csv module refuses (a
    NUL byte, a field over its 128 KB limit) is reported as ``on_error(line, reason)``
    and comes out as None, to be skipped like any bad row."""
    line = 1
    while True:
        line += 1
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            on_error(line, f"not readable as CSV ({exc})")
            yield None
