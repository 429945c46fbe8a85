"""benchmarks/run.py's --compare/--from: before/after per workload from two saved JSON runs."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_file(path, rows):
    data = {"machine_busy_cores": 0.0, "rows": []}
    for name, ratio, e_mb, t_mb in rows:
        data["rows"].append(
            {
                "workload": name,
                "ratio": ratio,
                "goal": None,
                "torch": {"times": [1.0], "unit": "s", "maxrss_mb": t_mb},
                "ember": {"times": [ratio], "unit": "s", "maxrss_mb": e_mb},
            }
        )
    path.write_text(json.dumps(data))
    return str(path)


def test_compare_two_saved_runs(tmp_path):
    old = _run_file(tmp_path / "old.json", [("mlp", 0.8, 300, 600), ("tiny", 0.4, 0, 0)])
    new = _run_file(tmp_path / "new.json", [("mlp", 0.6, 240, 600), ("lenet_relu", 0.9, 400, 650)])
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--compare", old, "--from", new],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["mlp"][1:4] == ["0.80", "0.60", "-25%"]
    assert "300 (0.50) -> 240 (0.40)" in out[[line.split()[0] for line in out].index("mlp")]
    assert rows["lenet_relu"][1:3] == ["-", "0.90"]  # only in the new run
    assert rows["tiny"][1:3] == ["0.40", "-"]  # only in the old run


def test_from_without_compare_is_an_error(tmp_path):
    new = _run_file(tmp_path / "new.json", [("mlp", 0.6, 240, 600)])
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--from", new],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "--from needs --compare" in out.stderr
