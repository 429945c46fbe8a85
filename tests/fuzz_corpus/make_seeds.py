"""Write the real torch checkpoints the loader fuzzer mutates (run once with torch installed:
`python tests/fuzz_corpus/make_seeds.py`; the files are committed, kept small)."""

from __future__ import annotations

import pathlib

import torch

HERE = pathlib.Path(__file__).parent / "seeds"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 2), torch.nn.BatchNorm2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 2)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(2, 1, 3, 3)).sum().backward()
    opt.step()
    torch.save(model.state_dict(), HERE / "torch_state_dict.pt")
    torch.save({"opt": opt.state_dict(), "epoch": 3, "loss": 0.5}, HERE / "torch_optimizer.pt")
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    views = {
        "t": base.t(),
        "row": base[1],
        "i64": torch.tensor([1, -2, 3]),
        "bool": torch.tensor([True, False]),
        "u8": torch.arange(5, dtype=torch.uint8)[1:],
        "names": ["a", "b"],
        "set": {1, 2},
        "bytes": b"xy",
    }
    torch.save(views, HERE / "torch_views.pt")
    torch.save(views, HERE / "torch_views_proto4.pt", pickle_protocol=4)
    torch.save(model.state_dict(), HERE / "torch_legacy.pt", _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
