"""Property tests: mutated real files (byte flips, truncations, splices, garbage element text) give a
DecodeError or tables with the project's schemas, never a generic exception; and every crashing input
that `make fuzz` ever found (tests/fuzz_corpus/<entry>.jsonl) is replayed as a regression test.

Bounded and reproducible for CI: 200 examples per entry point, derandomized, no deadline (no test here
asserts a duration; `make fuzz` reports the slowest case).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter

import pytest
from fuzzing import BAD_TEXTS, CORPUS, ENTRIES, REAL, case_input, check, mutate, real_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexo_pipeline.decoders import DecodeError
from hexo_pipeline.decoders.plausible import LIMITS
from hexo_pipeline.decoders.tcx import decode_tcx

BOUNDED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def real(shared_dir):
    return REAL


ACTIVITY_ENTRIES = [e for e in ENTRIES if not e.startswith("hexoskin_")]


@pytest.mark.parametrize("entry", ACTIVITY_ENTRIES)
def test_mutated_real_files_give_typed_errors_or_tables(real, entry: str) -> None:
    seeds = real_files(entry)

    @BOUNDED
    @given(index=st.integers(0, len(seeds) - 1), rng=st.randoms(use_true_random=False))
    def one_input(index, rng) -> None:
        check(entry, mutate(seeds[index], seeds, rng))

    one_input()


@pytest.mark.parametrize("entry", ["hexoskin_export", "hexoskin_members"])
def test_mutated_hexoskin_exports_give_typed_errors_or_tables(real, entry: str) -> None:
    """Cases built as `make fuzz` builds them (a mutated member or zip of the real export; a mutated
    member through every single-member decoder), 50 per entry: a zip case costs a re-deflate."""

    @settings(BOUNDED, max_examples=50)
    @given(case=st.integers(0, 2**32))
    def one_input(case: int) -> None:
        check(entry, case_input(entry, f"ci:{entry}:{case}"))

    one_input()


NUMERIC_ELEMENTS = {  # first such element of test.tcx -> (table, column) it lands in
    b"<AltitudeMeters>": ("trackpoints", "altitude_m"),
    b"<LatitudeDegrees>": ("trackpoints", "latitude_deg"),
    b"<LongitudeDegrees>": ("trackpoints", "longitude_deg"),
    b"<DistanceMeters>": ("laps", "distance_m"),
    b"<Value>": ("laps", "avg_hr_bpm"),
    b"<TotalTimeSeconds>": ("laps", "total_time_s"),
    b"<Calories>": ("laps", "calories"),
    b"<MaximumSpeed>": ("laps", "max_speed_mps"),
}


@BOUNDED
@given(
    element=st.sampled_from(sorted(NUMERIC_ELEMENTS)),
    text=st.one_of(
        st.sampled_from(BAD_TEXTS),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(-(10**30), 10**30).map(str),
        st.text(max_size=20),
    ),
)
def test_any_text_in_a_numeric_tcx_element(element: bytes, text: str) -> None:
    """inf, nan, -99999999999, garbage: a typed error, or a value that is finite and in range."""
    path = REAL / "tcx" / "test.tcx"
    if not path.exists():
        pytest.skip("../shared is absent")
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace("]]>", "]]&gt;")
    safe = "".join(
        c for c in safe if c in "\t\n\r" or (" " <= c and c not in "\ufffe\uffff" and not "\ud800" <= c <= "\udfff")
    )
    data = path.read_bytes().replace(element, element + safe.encode(), 1)
    table_name, column = NUMERIC_ELEMENTS[element]
    try:
        result = decode_tcx(data, source="t")
    except DecodeError as exc:
        assert exc.code in ("implausible_value", "malformed"), exc
        return
    table = getattr(result, table_name)
    lo, hi = LIMITS[column]
    for value in table[column].to_pylist():
        assert value is None or (math.isfinite(value) and lo <= value <= hi)


# Recorded crashes replayed per kind by the slow test, after the first (which the fast test replays). A kind
# is one exception type raised at one place: one bug. Its 801 inputs (22 kinds, up to 140 of one kind) are
# real-size FIT files through fitparse and fitdecode: 0.47 s of CPU each (measured on 30), ~6 CPU-minutes a
# run, a sixth of the suite's CPU. HEXO_FUZZ_REPLAY_ALL=1 replays every one.
LAST_RANK_REPLAYED = math.inf if os.environ.get("HEXO_FUZZ_REPLAY_ALL") == "1" else 5


def _corpus(slow: bool) -> list:
    """The first recorded crash of each kind (exception type and place), or (slow) the next ones up to
    LAST_RANK_REPLAYED."""
    params, seen = [], Counter()
    for entry in ENTRIES:
        path = CORPUS / f"{entry}.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            record = json.loads(line)
            seen[entry, record["kind"]] += 1
            rank = seen[entry, record["kind"]]
            if (1 < rank <= LAST_RANK_REPLAYED) if slow else rank == 1:
                params.append(pytest.param(entry, record, id=f"{entry}-{record['case']}"))
    return params


def _replay(entry: str, record: dict) -> None:
    data = case_input(entry, record["case"])
    assert hashlib.sha256(data).hexdigest() == record["sha256"], "mutations changed: re-run `make fuzz`"
    check(entry, data)


@pytest.mark.parametrize(("entry", "record"), _corpus(slow=False))
def test_corpus_first_of_each_kind(real, entry: str, record: dict) -> None:
    _replay(entry, record)


@pytest.mark.slow
@pytest.mark.parametrize(("entry", "record"), _corpus(slow=True))
def test_corpus_every_recorded_crash(real, entry: str, record: dict) -> None:
    _replay(entry, record)
