"""A DuckDB connection wrapper that fails when a query starts before the previous result was read to the
end (DuckDB 2.0 connections stream results: a result left half-read is invalidated by the next query)."""

from __future__ import annotations

QUERIES = ("select", "with", "from", "pragma", "show", "describe", "summarize", "call", "(")


class StrictResult:
    def __init__(self, result, sql: str):
        self._result = result
        # statements without a result set (DDL, DML, attach, checkpoint) leave nothing to read
        self.done = not sql.lstrip().lower().startswith(QUERIES)

    def _finish(self, value):
        self.done = True
        return value

    def fetchall(self):
        return self._finish(self._result.fetchall())

    def df(self):
        return self._finish(self._result.df())

    def to_arrow_table(self):
        return self._finish(self._result.to_arrow_table())

    def fetchone(self):
        return self._result.fetchone()  # never marks the result read: a fetchone leaves rows pending


class StrictConnection:
    def __init__(self, con):
        self._con = con
        self.last: StrictResult | None = None
        self.queries = 0

    def _start(self, sql: str) -> None:
        assert self.last is None or self.last.done, f"query {sql[:80]!r} before the previous result was read"
        self.queries += 1

    def execute(self, sql, params=None):
        self._start(sql)
        result = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
        self.last = StrictResult(result, sql)
        return self.last

    def sql(self, sql, params=None):
        self._start(sql)
        self.last = StrictResult(self._con.sql(sql, params=params), sql)
        return self.last

    def executemany(self, sql, params):
        self._start(sql)
        self._con.executemany(sql, params)
        self.last = None

    def close(self):
        self._con.close()
