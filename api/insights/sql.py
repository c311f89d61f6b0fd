"""Two portable SQL expressions the aggregates need, compiled per dialect (SQLite, PostgreSQL):
seconds between two timestamps, and the local calendar day of a timestamp."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class seconds_between(FunctionElement[float]):  # noqa: N801 (SQL function style)
    """`end - start` in seconds (a float)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    end, start = list(element.clauses)
    return (f"((julianday({compiler.process(end, **kw)}) - "
            f"julianday({compiler.process(start, **kw)})) * 86400.0)")


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    end, start = list(element.clauses)
    return (f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
            f"{compiler.process(start, **kw)}))::float")


class local_day(FunctionElement[str]):  # noqa: N801
    """'YYYY-MM-DD' of a UTC timestamp shifted by a whole number of hours."""

    type = String()
    inherit_cache = False  # the offset is rendered into the SQL text, not bound
    name = "local_day"

    def __init__(self, column: Any, offset_hours: int) -> None:
        super().__init__(column)
        self.offset_hours = int(offset_hours)


@compiles(local_day, "sqlite")
def _day_sqlite(element: local_day, compiler: Any, **kw: Any) -> str:
    column = list(element.clauses)[0]
    return f"strftime('%Y-%m-%d', {compiler.process(column, **kw)}, " \
           f"'{element.offset_hours:+d} hours')"


@compiles(local_day, "postgresql")
def _day_pg(element: local_day, compiler: Any, **kw: Any) -> str:
    column = list(element.clauses)[0]
    return (f"to_char(({compiler.process(column, **kw)} AT TIME ZONE 'UTC') + "
            f"interval '{element.offset_hours:d} hours', 'YYYY-MM-DD')")


def day_of(column: Any, offset_hours: int) -> local_day:
    return local_day(column, offset_hours)
