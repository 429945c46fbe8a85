"""Fuzzing ember.load(weights_only=True) in a capped child process (tests/fuzz_corpus/fuzz_child.py).

Budget: EMBER_FUZZ_EXAMPLES hypothesis examples per mutation group (default 150, derandomized so CI
is reproducible); `python tests/fuzz_corpus/fuzz_child.py --random --examples 5000 --out r.json`
runs a longer fresh campaign. A failing input is saved under the test's tmp dir: copy it into
tests/fuzz_corpus/found/ (replayed by every run) when fixing it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "fuzz_corpus" / "fuzz_child.py"
EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "150"))
WALL_LIMIT_S = 120  # the whole child; it normally needs well under 30 s on a busy 2-core machine


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    out, current = tmp / "report.json", tmp / "current.bin"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(CHILD), "--examples", str(EXAMPLES), "--out", str(out)]
    cmd += ["--found-out", str(tmp / "found"), "--current", str(current)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=WALL_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the fuzz child hung past {WALL_LIMIT_S} s; the case it was running is {current}")
    if proc.returncode != 0 or not out.exists():
        pytest.fail(
            f"the fuzz child died (rc={proc.returncode}) on the case saved in {current}:\n{proc.stderr[-3000:]}"
        )
    rep = json.loads(out.read_text())
    print(
        f"\nfuzz: {rep['cases']} cases in {rep['seconds']:.1f} s, memory cap {rep['cap_bytes'] >> 20} MiB, "
        f"max RSS {rep['maxrss_kb'] >> 10} MiB"
    )
    for group, counts in rep["counts"].items():
        print(f"  {group:14s} {counts}")
    return rep


def test_every_fuzzed_case_loads_or_raises_a_documented_error(report):
    assert "aborted" not in report, report["failures"]
    bad = [
        f"{f['group']}: {f['problem']} {f['outcome']}: {f['message']} ({f.get('file')})"
        for f in report["failures"]
    ]
    assert not bad, "\n".join(bad)
    assert sum(report["counts"]["zip-raw"].values()) == EXAMPLES
    for group in ("zip-repickled", "legacy", "opcodes"):
        assert sum(report["counts"][group].values()) == EXAMPLES
        assert report["counts"][group].get("loaded", 0) < EXAMPLES  # mutations do reach the checks


def test_hostile_corpus_raises_the_named_error(report):
    assert len(report["hostile"]) >= 45
    wrong = [
        f"{name}: expected {h['expect']} /{h['regex']}/, got {h['outcome']}: {h['message']}"
        for name, h in report["hostile"].items()
        if h["outcome"] != h["expect"] or not re.search(h["regex"], h["message"])
    ]
    assert not wrong, "\n".join(wrong)


def test_corpus_of_past_failures_is_replayed(report):
    files = list((ROOT / "tests" / "fuzz_corpus" / "found").glob("*.bin"))
    assert files and sum(report["counts"]["found-corpus"].values()) == len(files)
    assert set(report["counts"]["found-corpus"]) <= {"loaded", "RuntimeError", "UnpicklingError"}
