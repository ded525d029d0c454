"""What the hardware at hand runs fast, and the precision ``auto`` resolves to.

bf16 autocast is the fastest path only where the hardware computes bf16 natively: on a CPU with
AMX or AVX512-BF16 it ran ~1.7× fp32 on the 1M preset, but on an AVX2-only CPU oneDNN emulates
it and a bf16 matmul ran at 0.8–2 GFLOP/s against 110–125 for fp32 (shared/PERF.md, issue 15).
So ``auto`` asks two questions of a CPU:

1. does oneDNN report native bf16 (its own ISA check; ``ONEDNN_MAX_CPU_ISA`` lowers it), and
2. does a short calibration confirm it: a 256² matmul per dtype on one thread (a few ms), bf16
   chosen only when it measures ≥ :data:`BF16_MIN_SPEEDUP` × fp32 (autocast pays casts on top
   of the matmuls, so bf16 that is merely as fast as fp32 is slower in a training step). One
   thread, because the ratio is what decides and a multi-threaded matmul timed beside other
   work is slowed up to ~60× by spinning threads (measured here: 2 GFLOP/s instead of 123).

The calibration is cached per machine (CPU model, capability, flags, ISA overrides,
torch version) in ``$SCALING_CACHE/hardware.json``. On CUDA: bf16 where the device computes it
natively (compute capability ≥ 8.0), else fp16 with a gradient scaler where tensor cores exist
(≥ 7.0: V100, T4), else fp32. ``--precision fp32|bf16|fp16`` always overrides.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ScalingError
from .paths import cache_root

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16", "fp16")
#: bf16 must beat fp32 by this factor on the calibration matmul to be chosen on a CPU.
BF16_MIN_SPEEDUP = 1.5
#: Side of the square calibration matmul (CPU): a few ms per dtype where bf16 is native,
#: ~20 ms for emulated bf16 at ~2 GFLOP/s.
CALIBRATION_N = 256
#: Environment variables that change which kernels torch/oneDNN/MKL dispatch to.
ISA_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
           "MKL_ENABLE_INSTRUCTIONS")


class PrecisionError(ScalingError, ValueError):
    """A precision that is unknown or cannot run on the chosen device."""


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run uses and why (stored in ``runtime.json``, printed in the header)."""

    precision: str
    """``fp32``, ``bf16`` (autocast) or ``fp16`` (autocast with a gradient scaler)."""
    reason: str
    """One line: what was asked and what the hardware said."""

    def __str__(self) -> str:
        return f"{self.precision} ({self.reason})"


# --------------------------------------------------------------------------- CPU facts


def cpu_flags() -> set[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (Linux; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_capability() -> str:
    """ATen's dispatch level (``DEFAULT``, ``AVX2``, ``AVX512``, …)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def cpu_bf16_native() -> bool:
    """oneDNN's own check for bf16 support on this CPU (honours ``ONEDNN_MAX_CPU_ISA``)."""
    import torch

    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if check is not None and torch.backends.mkldnn.is_available():
        try:
            return bool(check())
        except RuntimeError:
            pass
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def bf16_flags() -> list[str]:
    """The CPU flags that make bf16 native (for reasons and ``scaling env``)."""
    return sorted({"avx512_bf16", "amx_bf16", "amx_tile", "bf16"} & cpu_flags())


def usable_cores() -> int:
    """Cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_job(jobs: int, cores: int | None = None) -> int:
    """Torch threads for each of ``jobs`` concurrent processes: their share of the cores.

    Never ``jobs × all cores``: oversubscribed cores slow torch 2–30× (shared/PERF.md).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be ≥ 1, got {jobs}")
    return max(1, (cores or usable_cores()) // jobs)


# --------------------------------------------------------------------------- calibration


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_rate(dtype: torch.dtype, device: str = "cpu", n: int = CALIBRATION_N) -> float:
    """FLOP/s of an ``n × n`` matmul in ``dtype`` (best of 3 timings of ≥ ~5 ms each)."""
    import torch

    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    _sync(device)
    t = time.perf_counter()
    torch.mm(a, b)
    _sync(device)
    first = time.perf_counter() - t
    reps = max(1, min(200, int(0.005 / max(first, 1e-7))))
    best = float("inf")
    for _ in range(3):
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        _sync(device)
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * n**3 / best


def _fingerprint() -> str:
    import torch

    parts = [cpu_model(), cpu_capability(), sorted(cpu_flags()), torch.__version__,
             [os.environ.get(k) for k in ISA_ENV]]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def cpu_rates(refresh: bool = False) -> dict[str, float]:
    """Measured fp32 and bf16 matmul FLOP/s of one core of this CPU, cached per machine."""
    import torch

    path, key = cache_root() / "hardware.json", _fingerprint()
    cache: dict = {}
    if path.exists() and not refresh:
        try:
            cache = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            cache = {}
        hit = cache.get(key)
        if isinstance(hit, dict) and {"fp32", "bf16"} <= set(hit):
            return {"fp32": float(hit["fp32"]), "bf16": float(hit["bf16"])}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rates = {"fp32": matmul_rate(torch.float32), "bf16": matmul_rate(torch.bfloat16)}
    finally:
        torch.set_num_threads(threads)
    cache[key] = {**rates, "cpu": cpu_model(), "capability": cpu_capability(),
                  "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:  # a cache that cannot be written costs a few ms next time, nothing else
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass
    return rates


# --------------------------------------------------------------------------- the rule


def choose_cpu(native_bf16: bool, rates: dict[str, float] | None, capability: str,
               flags: list[str]) -> PrecisionChoice:
    """The CPU rule, on given facts (pure: tested with mocked capabilities)."""
    if not native_bf16:
        return PrecisionChoice("fp32", f"auto: CPU {capability} has no native bf16 "
                                       "(oneDNN), bf16 would be emulated")
    if rates is None:
        return PrecisionChoice("bf16", f"auto: CPU {capability} has native bf16 "
                                       f"({', '.join(flags) or 'oneDNN'})")
    speedup = rates["bf16"] / rates["fp32"]
    measured = (f"bf16 matmul {rates['bf16'] / 1e9:.0f} vs fp32 {rates['fp32'] / 1e9:.0f} "
                f"GFLOP/s ({speedup:.1f}×)")
    if speedup < BF16_MIN_SPEEDUP:
        return PrecisionChoice("fp32", f"auto: CPU {capability} reports native bf16 but "
                                       f"{measured} < {BF16_MIN_SPEEDUP}×")
    return PrecisionChoice("bf16", f"auto: CPU {capability} with native bf16 "
                                   f"({', '.join(flags) or 'oneDNN'}): {measured}")


def choose_cuda(name: str, capability: tuple[int, int]) -> PrecisionChoice:
    """The CUDA rule: native bf16 from sm_80, fp16 + gradient scaler on tensor cores (sm_70+)."""
    sm = f"sm_{capability[0]}{capability[1]}"
    if capability >= (8, 0):
        return PrecisionChoice("bf16", f"auto: {name} ({sm}) computes bf16 natively")
    if capability >= (7, 0):
        return PrecisionChoice("fp16", f"auto: {name} ({sm}) has no native bf16; fp16 tensor "
                                       "cores with a gradient scaler")
    return PrecisionChoice("fp32", f"auto: {name} ({sm}) has neither native bf16 nor fp16 "
                                   "tensor cores")


def resolve_device(device: str | None) -> str:
    """``None``/``auto`` → ``cuda`` when available, else ``cpu``."""
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_precision(precision: str | PrecisionChoice | None, device: str,
                      calibrate: bool = True) -> PrecisionChoice:
    """``auto`` → the fastest precision ``device`` supports; an explicit one is checked.

    ``calibrate=False`` skips the matmul timing on a CPU (oneDNN's check alone decides).
    """
    if isinstance(precision, PrecisionChoice):
        return precision
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PrecisionError(f"device {device!r}: CUDA is not available on this machine; "
                             "use --device cpu")
    if precision in (None, "", "auto"):
        if dev.type == "cuda":
            return choose_cuda(torch.cuda.get_device_name(dev),
                               torch.cuda.get_device_capability(dev))
        if dev.type != "cpu":
            return PrecisionChoice("fp32", f"auto: fp32 on {dev.type}")
        native = cpu_bf16_native()
        rates = cpu_rates() if native and calibrate else None
        return choose_cpu(native, rates, cpu_capability(), bf16_flags())
    if precision not in PRECISIONS:
        raise PrecisionError(f"unknown precision {precision!r}; use auto, "
                             f"{', '.join(PRECISIONS)}")
    return PrecisionChoice(precision, "requested")


# --------------------------------------------------------------------------- scaling env


@dataclass
class EnvReport:
    """What ``scaling env`` prints: the first thing to look at when training is slow."""

    device: str
    torch: str
    python: str
    cpu: str
    cpu_capability: str
    cpu_bf16_native: bool
    cpu_bf16_flags: list[str]
    threads: int
    cores: int
    matmul_gflops: dict[str, float]
    auto_precision: str
    auto_reason: str
    cuda: list[dict]

    def summary(self) -> dict:
        return asdict(self)

    def report(self) -> str:
        rates = ", ".join(f"{k} {v:.0f}" for k, v in self.matmul_gflops.items())
        lines = [
            f"device          {self.device}",
            f"torch           {self.torch} (python {self.python})",
            f"cpu             {self.cpu}",
            f"cpu capability  {self.cpu_capability}; native bf16 (oneDNN): "
            f"{'yes' if self.cpu_bf16_native else 'no'}; bf16 flags: "
            f"{', '.join(self.cpu_bf16_flags) or 'none'}",
            f"threads         {self.threads} torch threads on {self.cores} usable cores",
            f"matmul          {rates} GFLOP/s ({CALIBRATION_N}², one CPU thread)",
        ]
        for c in self.cuda:
            lines.append(f"cuda:{c['index']}          {c['name']} (sm_{c['capability']}, "
                         f"{c['memory_gib']:.0f} GiB, bf16 {'yes' if c['bf16'] else 'no'})")
        lines.append(f"precision       auto → {self.auto_precision}: "
                     f"{self.auto_reason.removeprefix('auto: ')}")
        return "\n".join(lines)


def env_report(device: str | None = None, refresh: bool = False) -> EnvReport:
    """Measure and describe this machine (``refresh`` re-times the cached calibration)."""
    import torch

    dev = resolve_device(device)
    rates = cpu_rates(refresh=refresh)
    cuda = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        cuda.append({"index": i, "name": p.name, "capability": f"{p.major}{p.minor}",
                     "memory_gib": p.total_memory / 2**30, "bf16": (p.major, p.minor) >= (8, 0)})
    choice = resolve_precision("auto", dev)
    return EnvReport(
        device=dev, torch=torch.__version__, python=platform.python_version(), cpu=cpu_model(),
        cpu_capability=cpu_capability(), cpu_bf16_native=cpu_bf16_native(),
        cpu_bf16_flags=bf16_flags(), threads=torch.get_num_threads(), cores=usable_cores(),
        matmul_gflops={k: round(v / 1e9, 1) for k, v in rates.items()},
        auto_precision=choice.precision, auto_reason=choice.reason, cuda=cuda)
