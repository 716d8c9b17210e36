"""Long fuzz run (`make fuzz`): N mutated real files per entry point, each under a memory limit
(RLIMIT_AS) and a time limit; prints the rate of generic exceptions and the slowest case, and with
--save records every crashing input in tests/fuzz_corpus/<entry>.jsonl (replayed by
test_fuzz_decoders.py). A record is a recipe (the case key that rebuilds the input from the real files
with fuzzing.case_input, and its sha256), so the corpus never copies the shared files.

    python tests/fuzz_long.py --entry fit --entry tcx --entry convert -n 3000 --seed 1 --save

Reproducible: case i of a run uses random.Random(f"{seed}:{entry}:{i}"). SIGINT (Ctrl-C) ends a run
after its current case and still reports (and saves) the cases run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzing import CORPUS, ENTRIES, case_input, check  # noqa: E402


class CaseTimeout(BaseException):
    """BaseException, so no `except Exception` in a decoder can swallow it."""


def _alarm(_signum, _frame):
    raise CaseTimeout()


_stop_requested = False


def _stop(_signum, _frame):
    """SIGINT (Ctrl-C, `kill -INT`): finish the current case, then report the cases run so far."""
    global _stop_requested
    _stop_requested = True


def run(entry: str, n: int, seed: int, timeout_s: float, save: bool) -> dict:
    outcomes: Counter[str] = Counter()
    generic: Counter[str] = Counter()
    slowest = (0.0, -1)
    found: list[dict] = []
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGINT, _stop)
    run_started = time.perf_counter()
    done = 0
    for i in range(n):
        if _stop_requested:
            break
        done = i + 1
        case = f"{seed}:{entry}:{i}"
        data = case_input(entry, case)
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            outcomes[check(entry, data)] += 1
            finding = None
        except CaseTimeout:
            finding = f"timeout > {timeout_s} s"
        except (Exception, RecursionError) as exc:  # noqa: BLE001 - a generic exception is the finding
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            finding = f"{type(exc).__name__} at {Path(tb.filename).name}:{tb.lineno}: {str(exc)[:120]}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - started
        slowest = max(slowest, (elapsed, i))
        if finding:
            outcomes["GENERIC"] += 1
            kind = ":".join(finding.split(":")[:2])  # exception type and where it was raised
            generic[kind] += 1
            found.append(
                {
                    "case": case,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "found": finding,
                    "kind": kind,
                }
            )
    if save and found:
        CORPUS.mkdir(parents=True, exist_ok=True)
        path = CORPUS / f"{entry}.jsonl"
        known = {json.loads(line)["sha256"] for line in path.read_text().splitlines()} if path.exists() else set()
        with path.open("a") as fh:
            for record in found:
                if record["sha256"] not in known:
                    known.add(record["sha256"])
                    fh.write(json.dumps(record) + "\n")
    return {
        "entry": entry,
        "n": done,
        "generic": outcomes["GENERIC"],
        "outcomes": dict(outcomes),
        "kinds": dict(generic.most_common(12)),
        "slowest_s": round(slowest[0], 3),
        "slowest_case": slowest[1],
        "cases_per_s": round(done / (time.perf_counter() - run_started), 1),
        # ru_maxrss (KiB on Linux) is the process's peak so far: one entry per process measures that entry
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", action="append", choices=ENTRIES)
    parser.add_argument("-n", type=int, default=3000, help="mutated inputs per entry point")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=20.0, help="time limit per case")
    parser.add_argument("--memory-mb", type=int, default=3072, help="address-space limit of this process")
    parser.add_argument("--save", action="store_true", help="write crashing inputs to tests/fuzz_corpus/")
    ns = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (ns.memory_mb << 20, resource.getrlimit(resource.RLIMIT_AS)[1]))
    failed = False
    for entry in ns.entry or ENTRIES:
        if _stop_requested:
            break
        r = run(entry, ns.n, ns.seed, ns.timeout_s, ns.save)
        failed |= r["generic"] > 0
        print(
            f"{entry}: {r['generic']} generic exceptions in {r['n']} inputs "
            f"({100 * r['generic'] / max(r['n'], 1):.1f} %); slowest case {r['slowest_case']}: {r['slowest_s']} s; "
            f"{r['cases_per_s']} cases/s; peak RSS {r['peak_rss_mb']} MB; outcomes {r['outcomes']}",
            flush=True,
        )
        for kind, count in r["kinds"].items():
            print(f"    {count:5d}  {kind}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
