"""The networks of the study notes (seed 001): linear regression, softmax regression, MLP, LeNet."""

from __future__ import annotations

from ember import nn

MODELS = ("linreg", "softmax", "mlp", "lenet")


def _act(name: str) -> nn.Module:
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r} (choose sigmoid, relu or tanh)")


class LeNet(nn.Module):
    """Two conv-pool blocks and three fully connected layers (the notes use sigmoid activations)."""

    def __init__(self, activation: str = "sigmoid") -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 6, 5),  # in_channels, out_channels, kernel_size
            _act(activation),
            nn.MaxPool2d(2, 2),  # kernel_size, stride
            nn.Conv2d(6, 16, 5),
            _act(activation),
            nn.MaxPool2d(2, 2),
        )
        self.fc = nn.Sequential(
            nn.Linear(16 * 4 * 4, 120),
            _act(activation),
            nn.Linear(120, 84),
            _act(activation),
            nn.Linear(84, 10),
        )

    def forward(self, img):
        feature = self.conv(img)
        return self.fc(feature.view(img.shape[0], -1))


def build(name: str, activation: str | None = None) -> nn.Module:
    """The named model; ``activation`` applies to mlp (default relu) and lenet (default sigmoid)."""
    if name == "linreg":
        net = nn.Sequential(nn.Linear(2, 1))
        nn.init.normal_(net[0].weight, mean=0.0, std=0.01)
        nn.init.constant_(net[0].bias, 0.0)
        return net
    if name == "softmax":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        nn.init.normal_(net[1].weight, mean=0.0, std=0.01)
        nn.init.constant_(net[1].bias, 0.0)
        return net
    if name == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), _act(activation or "relu"), nn.Linear(256, 10))
        for p in net.parameters():
            nn.init.normal_(p, mean=0.0, std=0.01)
        return net
    if name == "lenet":
        return LeNet(activation or "sigmoid")
    raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")


# (epochs, lr, batch size, optimizer): the notes' values; LeNet uses batch 64 and 20 epochs (the notes: 256
# and 5) so that the 2,000-image bundled subset gets enough steps to learn.
DEFAULTS: dict[str, tuple[int, float, int, str]] = {
    "linreg": (3, 0.03, 10, "sgd"),
    "softmax": (5, 0.1, 256, "sgd"),
    "mlp": (5, 0.5, 256, "sgd"),
    "lenet": (20, 0.001, 64, "adam"),
    "lenet-relu": (10, 0.05, 64, "momentum"),
}


def defaults(name: str, activation: str | None) -> tuple[int, float, int, str]:
    if name == "lenet" and activation == "relu":
        return DEFAULTS["lenet-relu"]
    return DEFAULTS[name]
