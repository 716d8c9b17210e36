"""The project's own generic dbt tests (dbt_project/tests/generic/), rendered with Jinja as dbt renders them
and run on DuckDB tables: they pass on good rows and name what is wrong on bad rows."""

from __future__ import annotations

import re

import duckdb
import jinja2
import pytest

from hexo_pipeline.warehouse import DBT_PROJECT_DIR


def render_generic_test(name: str, **arguments) -> str:
    """The SQL of `{% test name(...) %}`: dbt wraps a generic test in a macro; so does this."""
    source = (DBT_PROJECT_DIR / "tests" / "generic" / f"{name}.sql").read_text()
    source = re.sub(r"{%\s*test\s+", "{% macro ", source).replace("endtest", "endmacro")
    module = jinja2.Environment().from_string(source).module
    return str(getattr(module, name)(**arguments))


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create table marts_row (subject_id integer, local_date date, note varchar)")
    yield con
    con.close()


def test_not_null_columns_passes_without_nulls_and_names_each_column_with_nulls(con):
    sql = render_generic_test("not_null_columns", model="marts_row", columns=["subject_id", "local_date"])
    con.execute("insert into marts_row values (1, date '2026-01-01', null), (2, date '2026-01-02', 'x')")
    assert con.execute(sql).fetchall() == []  # `note` may be NULL: it is not listed
    con.execute("insert into marts_row values (null, null, 'a'), (3, null, 'b')")
    assert sorted(con.execute(sql).fetchall()) == [("local_date", 2), ("subject_id", 1)]


def test_not_null_columns_of_one_column(con):
    sql = render_generic_test("not_null_columns", model="marts_row", columns=["note"])
    con.execute("insert into marts_row values (1, date '2026-01-01', null)")
    assert con.execute(sql).fetchall() == [("note", 1)]
