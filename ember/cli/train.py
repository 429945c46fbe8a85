"""``ember train {linreg,softmax,mlp,lenet}``: the training loops of the notes, with logs and checkpoints."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from typing import Any

import numpy as np

import ember
from ember import optim
from ember.cli import train_ddp
from ember.cli.errors import CLIError
from ember.cli.models import MODELS, build, defaults
from ember.cli.plotting import plot_curves
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset
from ember.utils.tensorboard import SummaryWriter
from ember.vision.datasets import FashionMNIST, bundled_root

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train linreg, softmax, mlp or lenet (Fashion-MNIST) with progress, logs and checkpoints",
        description="Train one of the models of the notes. Classification models use Fashion-MNIST: the "
        "subset bundled with ember (2,000 train / 500 test images) unless --data DIR is given. "
        "Defaults (epochs, lr, batch size, optimizer) are the notes' values for each model.",
    )
    p.add_argument(
        "model", choices=MODELS, help="linreg: synthetic y = 2 x1 - 3.4 x2 + 4.2; others: Fashion-MNIST"
    )
    p.add_argument("--epochs", type=int, help="total number of epochs (a resumed run continues up to it)")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--batch-size", type=int, help="mini-batch size")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="momentum = SGD with momentum 0.9")
    p.add_argument(
        "--activation",
        choices=("sigmoid", "relu"),
        help="mlp: relu (default); lenet: sigmoid as in the notes (default, Adam lr 0.001) or relu "
        "(defaults to SGD momentum 0.9, lr 0.05)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="directory with the Fashion-MNIST IDX files (DIR or DIR/FashionMNIST/raw), or 'bundled' for the "
        "2,000-image subset; default: the full set from $EMBER_DATA, ./data (torchvision's tutorial root) or "
        "../shared/data/fashion-mnist next to the checkout, else downloaded (md5-checked) into ./data, "
        "else the bundled subset",
    )
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/<model>)")
    p.add_argument("--logdir", metavar="DIR", help="TensorBoard log directory (default <out>/tensorboard)")
    p.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard logs")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CKPT",
        help="continue from a checkpoint (default <out>/checkpoint.pt): epochs and step count carry on",
    )
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N training and test samples")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train data-parallel on N processes (DistributedDataParallel over MPI, started like `ember run`); "
        "--batch-size stays the global batch, split over the processes",
    )
    p.set_defaults(func=run)


def _make_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if name == "adadelta":
        return optim.Adadelta(params, lr=lr)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    raise CLIError(f"unknown optimizer {name!r}")


def _linreg_data(seed: int) -> tuple[Any, Any]:
    """1,000 samples of y = 2 x1 - 3.4 x2 + 4.2 + N(0, 0.01) noise, as in the notes."""
    g = ember.Generator().manual_seed(seed)
    features = ember.randn(1000, 2, generator=g)
    labels = 2.0 * features[:, 0] - 3.4 * features[:, 1] + 4.2
    labels = labels + 0.01 * ember.randn(1000, generator=g)
    return features, labels.view(-1, 1)


TUTORIAL_ROOT = "data"  # torchvision tutorials: datasets.FashionMNIST(root="data", download=True)


def _full_fashion_candidates() -> list[str]:
    """Where a full Fashion-MNIST may already be: $EMBER_DATA, ./data, ../shared/data/fashion-mnist."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    roots = [os.environ["EMBER_DATA"]] if os.environ.get("EMBER_DATA") else []
    return roots + [TUTORIAL_ROOT, os.path.join(os.path.dirname(repo), "shared", "data", "fashion-mnist")]


def _fashion_root(data: str | None) -> str:
    """The Fashion-MNIST root to train on: ``--data``, else a full local copy, else a download into
    ./data (md5-checked), else (offline) the bundled subset with a one-line notice."""
    if data == "bundled":
        return bundled_root()
    if data is not None:
        return data
    for root in _full_fashion_candidates():
        try:
            if os.path.isdir(root) and len(FashionMNIST(root, train=False)) > 0:
                return root
        except RuntimeError:
            continue
    raw = os.path.join(TUTORIAL_ROOT, "FashionMNIST", "raw")
    existed = os.path.isdir(TUTORIAL_ROOT)
    try:
        FashionMNIST(TUTORIAL_ROOT, train=False, download=True)
        return TUTORIAL_ROOT
    except RuntimeError as e:
        for d in (raw, os.path.dirname(raw)) + (() if existed else (TUTORIAL_ROOT,)):
            if os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)  # leave no empty folders behind a failed download
        offline = "offline" if "urlopen error" in str(e) else str(e).splitlines()[0][:80]
        print(
            f"ember train: full Fashion-MNIST not found locally, download failed ({offline}): "
            "using the bundled 2,000-image subset",
            file=sys.stderr,
        )
        return bundled_root()


def _fashion_data(data: str | None, train: bool, limit: int | None) -> tuple[Any, Any]:
    if data is not None and not os.path.isdir(data):
        raise CLIError(f"data directory not found: {data}")
    root = data if data is not None else bundled_root()
    try:
        ds = FashionMNIST(root, train=train)
    except RuntimeError as e:
        raise CLIError(f"{e} (looked in {root} and {os.path.join(root, 'FashionMNIST', 'raw')})") from e
    images, labels = ds.data.numpy(), ds.targets.numpy()
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = ember.from_numpy(
        images[:, None].astype(np.float32) / np.float32(255)
    )  # ToTensor, for the whole set at once
    return x, ember.from_numpy(labels.astype(np.int64))


def _open_writer(logdir: str):
    try:
        return SummaryWriter(log_dir=logdir)
    except (ImportError, NotImplementedError, AttributeError) as e:
        print(f"ember train: TensorBoard logging disabled ({e})", file=sys.stderr)
        return None


def _evaluate(model, x, y, device, classification: bool, batch_size: int = 1000) -> tuple[float, float]:
    """(mean loss, accuracy) over a whole set, without gradients."""
    model.eval()
    loss_fn = (
        ember.nn.CrossEntropyLoss(reduction="sum") if classification else ember.nn.MSELoss(reduction="sum")
    )
    total, correct = 0.0, 0
    with ember.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
            out = model(xb)
            total += float(loss_fn(out, yb).item())
            if classification:
                correct += int((out.argmax(dim=1) == yb).sum().item())
    model.train()
    return total / max(len(x), 1), correct / max(len(x), 1)


def _save_checkpoint(obj: dict, path: str) -> None:
    tmp = path + ".tmp"
    ember.save(obj, tmp)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    d_epochs, d_lr, d_batch, d_opt = defaults(args.model, args.activation)
    epochs = d_epochs if args.epochs is None else args.epochs
    lr = d_lr if args.lr is None else args.lr
    batch_size = d_batch if args.batch_size is None else args.batch_size
    opt_name = args.optimizer or d_opt
    if epochs < 0 or lr <= 0 or batch_size <= 0:
        raise CLIError("--epochs must be >= 0, --lr and --batch-size > 0")
    if args.nproc < 1 or batch_size < args.nproc:
        raise CLIError(f"--nproc must be >= 1 and at most the batch size ({batch_size}), got {args.nproc}")
    if args.activation is not None and args.model not in ("mlp", "lenet"):
        raise CLIError(f"--activation applies to mlp and lenet, not {args.model}")
    if args.device.startswith("cuda") and not ember.cuda.is_available():
        raise CLIError("--device cuda requested but no CUDA GPU is available (see `ember info`)")
    if args.nproc > 1 and not train_ddp.in_worker():
        return train_ddp.relaunch(args)
    world, rank = train_ddp.setup(args.nproc)
    main_rank = rank == 0
    device = ember.device(args.device)
    out_dir = args.out or os.path.join("runs", args.model)
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = os.path.join(out_dir, "checkpoint.pt")

    random.seed(args.seed)
    np.random.seed(args.seed)
    ember.manual_seed(args.seed)
    classification = args.model != "linreg"
    if classification:
        root = train_ddp.on_rank0(lambda: _fashion_root(args.data), world)  # one download/fallback
        x_train, y_train = _fashion_data(root, True, args.limit)
        x_test, y_test = _fashion_data(root, False, args.limit)
    else:
        if args.data is not None:
            raise CLIError("linreg trains on synthetic data; --data does not apply")
        x_train, y_train = _linreg_data(args.seed)
        x_test = y_test = None

    model = build(args.model, args.activation).to(device)
    net = model  # the module itself: checkpoints, evaluation and logs use it
    if world > 1:
        model = ember.nn.parallel.DistributedDataParallel(net)
    optimizer = _make_optimizer(opt_name, model.parameters(), lr)
    loss_fn = ember.nn.CrossEntropyLoss() if classification else ember.nn.MSELoss()
    start_epoch, step = 0, 0
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_acc": []}
    if args.resume is not None:
        path = ckpt_path if args.resume == "auto" else args.resume
        if not os.path.isfile(path):
            raise CLIError(f"checkpoint not found: {path}")
        ckpt = ember.load(path)
        if ckpt.get("model_name") != args.model:
            raise CLIError(f"checkpoint {path} is for model {ckpt.get('model_name')!r}, not {args.model!r}")
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start_epoch, step, history = int(ckpt["epoch"]), int(ckpt["global_step"]), ckpt["history"]
        if ckpt.get("rng_state") is not None:
            ember.set_rng_state(ckpt["rng_state"])
        if main_rank:
            print(f"resumed from {path}: epoch {start_epoch}, step {step}")

    writer = None
    if not args.no_tensorboard and main_rank:
        writer = _open_writer(args.logdir or os.path.join(out_dir, "tensorboard"))
    if writer is not None and start_epoch == 0:
        try:
            writer.add_graph(net, x_train[:2].to(device))
        except Exception as e:  # the graph is a nicety; never stop training for it
            print(f"ember train: add_graph failed ({type(e).__name__}: {e})", file=sys.stderr)

    nparams = sum(p.numel() for p in net.parameters())
    if main_rank:
        print(
            f"{args.model}: {nparams} parameters, {len(x_train)} training samples, optimizer {opt_name} lr {lr}, "
            f"batch {batch_size}, device {device}" + (f", {world} processes" if world > 1 else "")
        )
    dataset = TensorDataset(x_train, y_train)
    if world > 1:
        sampler = DistributedSampler(dataset, seed=args.seed)
        loader = DataLoader(dataset, batch_size=batch_size // world, sampler=sampler)
    else:
        sampler, loader = None, DataLoader(dataset, batch_size=batch_size, shuffle=True)
    model.train()
    for epoch in range(start_epoch, epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        seen, loss_sum, correct = 0, 0.0, 0
        bar = tqdm(
            total=len(loader),
            desc=f"epoch {epoch + 1}/{epochs}",
            leave=False,
            disable=args.no_progress or not main_rank,
            file=sys.stderr,
            mininterval=0.5,
        )
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = loss_fn(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            n, value = len(yb), float(loss.item())
            seen += n
            loss_sum += value * n
            if classification:
                correct += int((out.argmax(dim=1) == yb).sum().item())
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix({"loss": f"{value:.4f}", "samples/s": f"{rate:.0f}"}, refresh=False)
            bar.update(1)
            if writer is not None:
                writer.add_scalar("Loss/train_step", value, step)
        bar.refresh()  # the last loss and samples/s, even when the epoch was shorter than mininterval
        bar.close()
        if world > 1:
            seen, loss_sum, correct = train_ddp.sum_over_ranks(seen, loss_sum, correct)
        elapsed = time.perf_counter() - t0
        if not main_rank:
            continue
        train_loss = loss_sum / max(seen, 1)
        history["train_loss"].append(train_loss)
        line = f"epoch {epoch + 1}/{epochs}  train loss {train_loss:.4f}"
        if classification:
            train_acc = correct / max(seen, 1)
            _, test_acc = _evaluate(net, x_test, y_test, device, True)
            history["train_acc"].append(train_acc)
            history["test_acc"].append(test_acc)
            line += f"  train acc {train_acc:.3f}  test acc {test_acc:.3f}"
        line += f"  time {elapsed:.1f}s  ({seen / max(elapsed, 1e-9):.0f} samples/s)"
        print(line, flush=True)
        if writer is not None:
            _log_epoch(writer, net, history, epoch + 1, classification)
        _save_checkpoint(
            {
                "model_name": args.model,
                "activation": args.activation,
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch + 1,
                "global_step": step,
                "history": history,
                "rng_state": ember.get_rng_state(),
                "args": {k: v for k, v in vars(args).items() if k != "func"},
            },
            ckpt_path,
        )
    if writer is not None:
        writer.close()
    if world > 1:
        train_ddp.teardown()
    if not main_rank:
        return 0

    if not classification:
        w = net[0].weight.detach().cpu().numpy().ravel()
        b = float(net[0].bias.detach().cpu().numpy()[0])
        print(f"learned w = [{w[0]:.4f}, {w[1]:.4f}], b = {b:.4f}   (true w = [2, -3.4], b = 4.2)")
    if history["train_loss"]:
        png = plot_curves(history, os.path.join(out_dir, "curves.png"), title=f"ember train {args.model}")
        print(f"curves: {png}")
    print(f"checkpoint: {ckpt_path}")
    return 0


def _log_epoch(writer, model, history: dict[str, list[float]], epoch: int, classification: bool) -> None:
    writer.add_scalar("Loss/train", history["train_loss"][-1], epoch)
    if classification:
        writer.add_scalar("Accuracy/train", history["train_acc"][-1], epoch)
        writer.add_scalar("Accuracy/test", history["test_acc"][-1], epoch)
    for name, p in model.named_parameters():
        writer.add_histogram(f"weights/{name}", p.detach().cpu().numpy(), epoch)
        if p.grad is not None:
            writer.add_histogram(f"grads/{name}", p.grad.detach().cpu().numpy(), epoch)
    writer.flush()
