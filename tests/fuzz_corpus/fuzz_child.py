"""The loader fuzzer's child process: `python tests/fuzz_corpus/fuzz_child.py --examples N --out R.json`.

Runs, under a memory cap (RLIMIT_AS = what the process uses after imports + --headroom-mb) and a
per-case timer, every hostile case (`hostile.CASES`), every file in `found/` (inputs that once
failed), and hypothesis-driven mutations of real checkpoints (`seeds/`, torch-written, plus ember's
own zip and legacy files): raw zip bytes, data.pkl mutated and re-zipped with valid CRCs, legacy
bytes, and random opcode streams. Each case must load or raise RuntimeError / UnpicklingError,
must not run code (a canary file), change ember's own objects, hang or need more memory than the
cap. Failing inputs are written to --found-out; the JSON report holds counts and failures.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: no per-thread buffers under the cap
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ember  # noqa: E402
import ember._pickle_safe as pickle_safe  # noqa: E402

DOCUMENTED = ("RuntimeError", "UnpicklingError")
OOM = re.compile(r"out of memory|cannot allocate")


class CaseTimeout(BaseException):
    """Raised by the timer inside a case that runs too long (BaseException: no except catches it)."""


def _on_alarm(signum, frame):
    raise CaseTimeout


def snapshot() -> list:
    """The state of every object a checkpoint can name (and the classes behind them): a BUILD
    that mutates ember shows up as a difference."""
    objs = list(pickle_safe.TORCH_GLOBALS.values())
    objs += [ember.Tensor, ember.Size, ember.device, ember.nn.Parameter, pickle_safe.Storage]
    objs += [pickle_safe.StorageType, type(ember.float32), collections.OrderedDict, set]
    out = []
    for o in objs:
        d: dict = {}
        try:
            d.update({k: id(v) for k, v in vars(o).items()})
        except TypeError:
            pass
        for slot in getattr(type(o), "__slots__", ()):
            if hasattr(o, slot):
                d["slot:" + slot] = repr(getattr(o, slot))
        if hasattr(o, "__defaults__"):
            d["defaults"] = repr(o.__defaults__)
        out.append((id(o), d))
    return out


# -- mutations -------------------------------------------------------------------------------
INTERESTING = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0xFFFF,
    0x7FFFFFFF,
    0xFFFFFFFF,
    1 << 31,
    1 << 62,
    (1 << 64) - 1,
]
OPCODES = sorted({op.code.encode("latin1")[0] for op in __import__("pickletools").opcodes})

position = st.integers(0, 1 << 20)
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(0, 7)),
    st.tuples(st.just("set"), position, st.integers(0, 255)),
    st.tuples(st.just("opcode"), position, st.sampled_from(OPCODES)),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), position, st.integers(1, 64)),
    st.tuples(st.just("int"), position, st.sampled_from(INTERESTING), st.sampled_from([1, 2, 4, 8])),
    st.tuples(st.just("dup"), position, st.integers(1, 64), position),
    st.tuples(st.just("truncate"), position),
)
mutations = st.lists(mutation, min_size=1, max_size=4)


def mutate(data: bytes, muts) -> bytes:
    b = bytearray(data)
    for m in muts:
        if not b:
            break
        kind, pos = m[0], m[1] % len(b)
        if kind == "flip":
            b[pos] ^= 1 << m[2]
        elif kind in ("set", "opcode"):
            b[pos] = m[2]
        elif kind == "insert":
            b[pos:pos] = m[2]
        elif kind == "delete":
            del b[pos : pos + m[2]]
        elif kind == "int":
            width = m[3]
            b[pos : pos + width] = (m[2] % (1 << (8 * width))).to_bytes(width, "little")
        elif kind == "dup":
            chunk = b[pos : pos + m[2]]
            at = m[3] % len(b)
            b[at:at] = chunk
        elif kind == "truncate":
            del b[pos:]
    return bytes(b)


def rezip(data: bytes, target: str, muts) -> bytes:
    """The archive with record `target` ('pkl' or a data record) mutated and valid CRCs."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    names = zin.namelist()
    records = [n for n in names if "/data/" in n]
    pick = next(n for n in names if n.endswith("data.pkl")) if target == "pkl" or not records else records[0]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zo:
        for n in names:
            content = zin.read(n)
            zo.writestr(n, mutate(content, muts) if n == pick else content)
    return out.getvalue()


# random opcode streams: fragments that make allowed and refused objects and operate on them
_FRAGMENTS = [
    b"N",
    b"\x88",
    b"\x89",
    b"K\x01",
    b"J\xff\xff\xff\x7f",
    b"\x8a\x01\x05",
    b"G?\xf0\x00\x00\x00\x00\x00\x00",
    hostile.ustr("storage"),
    hostile.ustr("cpu"),
    hostile.ustr("0"),
    hostile.ustr("_metadata"),
    hostile.ustr("tolist"),
    hostile.ustr("__class__"),
    b"C\x02xy",
    b"(",
    b"t",
    b"\x85",
    b"\x86",
    b"\x87",
    b")",
    b"]",
    b"}",
    b"\x8f",
    b"l",
    b"d",
    b"a",
    b"e",
    b"s",
    b"u",
    b"\x90",
    b"\x91",
    b"R",
    b"\x81",
    b"b",
    b"Q",
    b"0",
    b"1",
    b"2",
    b"q\x00",
    b"q\x01",
    b"h\x00",
    b"h\x01",
    b"\x94",
] + [
    hostile.glob(*g.rsplit(".", 1))
    for g in [
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._tensor._rebuild_from_type_v2",
        "torch.FloatStorage",
        "torch.LongStorage",
        "torch.float32",
        "torch.Size",
        "torch.device",
        "torch.Tensor",
        "torch.nn.parameter.Parameter",
        "collections.OrderedDict",
        "builtins.set",
        "builtins.bytearray",
        "_codecs.encode",
        "os.system",
    ]
]
opcode_stream = st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=40).map(
    lambda frags: b"\x80\x02" + b"".join(frags) + b"."
)


# -- running cases -----------------------------------------------------------------------------
class Runner:
    def __init__(self, args) -> None:
        self.timeout = args.case_timeout
        self.found_out = pathlib.Path(args.found_out) if args.found_out else None
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.failures: list[dict] = []
        self.hostile: dict[str, dict] = {}
        self.current = pathlib.Path(args.current) if args.current else None
        self.tmpdir = tempfile.mkdtemp(prefix="ember-fuzz-")
        self.baseline = snapshot()

    def run(
        self, group: str, data: bytes, via_path: bool = False, expect_oom: bool = False
    ) -> tuple[str, str]:
        if self.current is not None:
            self.current.write_bytes(data)
        src: object = io.BytesIO(data)
        kwargs = {}
        if via_path:
            src = os.path.join(self.tmpdir, "case.pt")
            pathlib.Path(src).write_bytes(data)
            kwargs["mmap"] = True
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        msg = ""
        try:
            ember.load(src, **kwargs)
            outcome = "loaded"
        except CaseTimeout:
            outcome = "hang"
        except Exception as e:  # noqa: BLE001 - classifying every outcome is the point
            outcome, msg = type(e).__name__, str(e)[:300]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        problem = None
        if os.path.exists(hostile.CANARY):
            problem = "code-execution"
            os.unlink(hostile.CANARY)
        elif snapshot() != self.baseline:
            problem = "mutated-ember"
        elif outcome == "hang":
            problem = "hang"
        elif outcome not in ("loaded",) + DOCUMENTED:
            problem = "undocumented-exception"
        elif OOM.search(msg) and not expect_oom:
            problem = "memory"
        self.counts[group][outcome] += 1
        if problem:
            digest = hashlib.sha1(data).hexdigest()[:12]
            entry = {"group": group, "problem": problem, "outcome": outcome, "message": msg, "sha1": digest}
            if self.found_out is not None:
                self.found_out.mkdir(parents=True, exist_ok=True)
                path = self.found_out / f"{group}-{digest}.bin"
                path.write_bytes(data)
                entry["file"] = str(path)
            self.failures.append(entry)
            if problem == "mutated-ember":
                raise SystemExit(1)  # later cases would be judged against a broken ember
        return outcome, msg


def fuzz(runner: Runner, n: int, derandomize: bool, groups: set[str]) -> None:
    seeds_zip, seeds_legacy = [], []
    for p in sorted((HERE / "seeds").glob("*.pt")):
        (seeds_legacy if "legacy" in p.name else seeds_zip).append(p.read_bytes())
    for legacy in (False, True):
        buf = io.BytesIO()
        lin = ember.nn.Linear(3, 2)
        obj = {"w": lin.state_dict(), "v": ember.arange(6.0).reshape(2, 3).t(), "i": ember.tensor([1, 2])}
        ember.save(obj, buf, _use_new_zipfile_serialization=not legacy)
        (seeds_legacy if legacy else seeds_zip).append(buf.getvalue())
    conf = settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )

    @conf
    @given(st.sampled_from(seeds_zip), mutations, st.integers(0, 3))
    def zip_raw(seed, muts, how):
        runner.run("zip-raw", mutate(seed, muts), via_path=how == 0)

    @conf
    @given(st.sampled_from(seeds_zip), mutations, st.sampled_from(["pkl", "pkl", "record"]))
    def zip_repickle(seed, muts, target):
        runner.run("zip-repickled", rezip(seed, target, muts))

    @conf
    @given(st.sampled_from(seeds_legacy), mutations)
    def legacy(seed, muts):
        runner.run("legacy", mutate(seed, muts))

    @conf
    @given(opcode_stream, st.booleans())
    def opcodes(pkl, as_zip):
        data = hostile.zip_with_pickle(pkl, {"data/0": bytes(16)}) if as_zip else pkl
        runner.run("opcodes", data)

    for name, test in (
        ("zip-raw", zip_raw),
        ("zip-repickled", zip_repickle),
        ("legacy", legacy),
        ("opcodes", opcodes),
    ):
        if name in groups:
            test()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=200, help="hypothesis examples per group")
    ap.add_argument("--random", action="store_true", help="fresh random cases (default: derandomized)")
    ap.add_argument("--headroom-mb", type=int, default=256)
    ap.add_argument("--case-timeout", type=float, default=5.0)
    ap.add_argument("--found-out", default="")
    ap.add_argument("--current", default="", help="file that holds the case being run (crash triage)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--groups", default="hostile,found-corpus,zip-raw,zip-repickled,legacy,opcodes")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGALRM, _on_alarm)
    cases = hostile.CASES  # built before the cap: the zip bomb is large to build, small on disk
    vm = int(re.search(r"VmSize:\s+(\d+) kB", pathlib.Path("/proc/self/status").read_text()).group(1)) << 10
    cap = vm + (args.headroom_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    runner = Runner(args)
    t0 = time.perf_counter()
    report = {"cap_bytes": cap, "headroom_mb": args.headroom_mb}
    try:
        groups = set(args.groups.split(","))
        for name, (data, exp, rx) in cases.items() if "hostile" in groups else ():
            outcome, msg = runner.run("hostile", data, expect_oom=name == "zip_bomb_honest")
            runner.hostile[name] = {"outcome": outcome, "message": msg, "expect": exp, "regex": rx}
        for p in sorted((HERE / "found").glob("*.bin")) if "found-corpus" in groups else ():
            runner.run("found-corpus", p.read_bytes())
        fuzz(runner, args.examples, not args.random, groups)
    except SystemExit:
        report["aborted"] = "ember was mutated by a case; see failures"
    report["seconds"] = time.perf_counter() - t0
    report["counts"] = {g: dict(c) for g, c in runner.counts.items()}
    report["cases"] = sum(sum(c.values()) for c in runner.counts.values())
    report["failures"] = runner.failures
    report["hostile"] = runner.hostile
    report["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pathlib.Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
