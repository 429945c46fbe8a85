"""`ember run` (torchrun's flags on mpirun) and `ember train MODEL --nproc N`."""

import sys

import pytest
from mpi_helpers import needs_mpi, run

import ember
from ember.cli import main

pytestmark = needs_mpi


def ember_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ember.cli", *args]


def test_run_sets_torchrun_env_passes_args_and_fails_when_a_worker_fails(tmp_path):
    script = tmp_path / "show.py"
    script.write_text(
        "import os, sys\n"
        "import ember.distributed as dist\n"
        "dist.init_process_group()\n"
        "v = [os.environ[k] for k in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'MASTER_PORT')]\n"
        "assert v[0] == str(dist.get_rank()) and v[2] == str(dist.get_world_size())\n"
        "out = os.path.join(os.path.dirname(__file__), 'env%s.txt' % dist.get_rank())\n"
        "open(out, 'w').write(' '.join(['env', *v, *sys.argv[1:]]))  # ranks' stdout may interleave\n"
        "if 'fail' in sys.argv and dist.get_rank() == 1:\n"
        "    sys.exit(3)\n"
        "dist.barrier()\n"
    )
    p, _ = run(ember_cmd("run", "--nproc-per-node", "3", "--master-port", "29999", str(script), "a", "--b"))
    assert p.returncode == 0, p.stderr[-3000:]
    for r in range(3):
        assert (tmp_path / f"env{r}.txt").read_text() == f"env {r} {r} 3 3 29999 a --b"
    p, took = run(ember_cmd("run", "--nproc-per-node", "2", str(script), "fail"), timeout=60)
    assert p.returncode != 0 and "rank 1: exited with status 3" in p.stderr, p.stderr[-3000:]


def test_run_arguments(capsys, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("")
    assert main(["run", "--nproc-per-node", "2", "--dry-run", str(script), "x"]) == 0
    out = capsys.readouterr().out
    assert "mpirun -n 2" in out and "ember.distributed.worker" in out and out.strip().endswith("x")
    assert (
        main(["run", "--nnodes", "2", "--hosts", "h1,h2", "--nproc-per-node", "2", "--dry-run", str(script)])
        == 0
    )
    assert "--host h1:2,h2:2" in capsys.readouterr().out
    assert main(["run", "--nnodes", "2", "--node-rank", "1", str(script)]) == 1
    assert "from node 0" in capsys.readouterr().err
    assert main(["run", "--nnodes", "2", str(script)]) == 1
    assert "--hostfile or --hosts" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.py")]) == 1
    assert "script not found" in capsys.readouterr().err


def test_train_nproc_trains_data_parallel(tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        "mlp",
        "--nproc",
        "2",
        "--epochs",
        "1",
        "--limit",
        "64",
        "--batch-size",
        "16",
        "--no-tensorboard",
        "--no-progress",
        "--out",
        str(out),
    ]
    p, _ = run(ember_cmd(*args), timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count("epoch 1/1") == 1 and "2 processes" in p.stdout, p.stdout  # rank 0 reports
    ckpt = ember.load(out / "checkpoint.pt")
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 4  # 64 samples, a global batch of 16 (8 per rank)
    assert all(not k.startswith("module.") for k in ckpt["model"])  # the plain module's checkpoint


@pytest.mark.parametrize("bad", [["--nproc", "0"], ["--nproc", "4", "--batch-size", "2"]])
def test_train_nproc_errors(bad, capsys):
    assert main(["train", "linreg", *bad]) == 1
