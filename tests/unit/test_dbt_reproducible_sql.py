"""The dbt models never add doubles in an order-dependent way (dbt_project/README.md, Reproducible marts):
means and standard deviations go through exact_avg / exact_sum (DECIMAL fixed point), and those macros
really are independent of the order DuckDB adds rows in, where a plain double sum is not."""

from __future__ import annotations

import re

import duckdb
import numpy as np

from hexo_pipeline.warehouse import DBT_PROJECT_DIR

ORDER_DEPENDENT = re.compile(
    r"\b(avg|mean|stddev|stddev_samp|stddev_pop|var_samp|var_pop|variance|fsum|sumkahan)\s*\(", re.I
)


def test_no_model_averages_doubles_in_thread_order():
    offenders = []
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.sql")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("--")[0]
            # the resting-heart-rate rolling mean is a window over rows in time order: a fixed order
            if ORDER_DEPENDENT.search(code) and " over " not in code:
                offenders.append(f"{path.relative_to(DBT_PROJECT_DIR)}:{number}: {line.strip()}")
    assert offenders == [], "use exact_avg / exact_sum (macros/statistics.sql):\n" + "\n".join(offenders)


def test_the_decimal_sum_of_the_macro_is_the_same_in_any_order():
    """The SQL exact_sum renders to, over values like tidal volumes (raw x 13.28 mL), summed in two orders:
    a double sum changes in its last digits, the DECIMAL(38, 12) one does not."""
    values = np.random.default_rng(8).integers(1, 200, 5_000) * 13.28
    con = duckdb.connect()
    con.execute("create table t as select * from (select unnest(?) as x)", [values.tolist()])
    exact = "select cast(sum(cast(x as decimal(38, 12))) as double) from (select x from t order by x {})"
    plain = "select sum(x) from (select x from t order by x {})"
    con.execute("set threads = 1")  # a fixed order per query: only the order of the rows differs
    assert con.execute(exact.format("asc")).fetchone() == con.execute(exact.format("desc")).fetchone()
    assert con.execute(plain.format("asc")).fetchone() != con.execute(plain.format("desc")).fetchone()
    assert abs(con.execute(exact.format("asc")).fetchone()[0] - values.sum()) < 1e-9 * values.sum()
