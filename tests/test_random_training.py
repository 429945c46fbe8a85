"""Same seed, same training run: `ember train lenet` (the CLI itself) and the same script written
for torch give the same loss after every step; nothing is copied across (each library draws its
own initial weights and its own shuffled batch order from the seed)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from ember.cli import plotting
from ember.cli import train as cli_train


def torch_lenet_losses(
    x: np.ndarray, y: np.ndarray, seed: int, steps_limit: int | None = None
) -> list[float]:
    """The notes' LeNet (sigmoid, Adam lr 0.001, batch 64, shuffled) written for torch, as the CLI runs it."""
    nn = torch.nn
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(1, 6, 5),
                nn.Sigmoid(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(6, 16, 5),
                nn.Sigmoid(),
                nn.MaxPool2d(2, 2),
            )
            self.fc = nn.Sequential(
                nn.Linear(16 * 4 * 4, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10)
            )

        def forward(self, img):
            return self.fc(self.conv(img).view(img.shape[0], -1))

    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=64, shuffle=True)
    losses = []
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        if steps_limit is not None and len(losses) == steps_limit:
            break
    return losses


def ember_cli_lenet_losses(tmp_path, monkeypatch, seed: int, limit: int) -> list[float]:
    """Run `ember train lenet --epochs 1` and record each training step's loss."""
    losses: list[float] = []

    class RecordingLoss(ember.nn.CrossEntropyLoss):
        def forward(self, input, target):
            out = super().forward(input, target)
            if self.reduction == "mean" and input.requires_grad:
                losses.append(float(out.item()))
            return out

    monkeypatch.setattr(ember.nn, "CrossEntropyLoss", RecordingLoss)
    monkeypatch.setattr(plotting, "plot_curves", lambda history, path, title: path)  # matplotlib is slow
    parser = __import__("argparse").ArgumentParser()
    sub = parser.add_subparsers()
    cli_train.add_parser(sub)
    args = parser.parse_args(
        [
            "train",
            "lenet",
            "--epochs",
            "1",
            "--seed",
            str(seed),
            "--limit",
            str(limit),
            "--no-tensorboard",
            "--no-progress",
            "--out",
            str(tmp_path),
        ]  # fmt: skip
    )
    assert cli_train.run(args) == 0
    return losses


def bundled_train_set(limit: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = cli_train._fashion_data(None, True, limit)  # the files and the ToTensor scaling the CLI uses
    return np.array(x._data), np.array(y._data)


def test_lenet_same_loss_every_step(tmp_path, monkeypatch, capsys):
    limit, seed = 192, 3  # 3 steps of 64: initial weights, batch order and updates all in play
    ember_losses = ember_cli_lenet_losses(tmp_path, monkeypatch, seed, limit)
    x, y = bundled_train_set(limit)
    torch_losses = torch_lenet_losses(x, y, seed)
    assert len(ember_losses) == len(torch_losses) == 3
    np.testing.assert_allclose(ember_losses, torch_losses, rtol=2e-6, atol=0)
