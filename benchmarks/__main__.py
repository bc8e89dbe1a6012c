"""Run the benchmarks: ``python -m benchmarks`` (or ``make benchmark``).

Options
-------
--quick          fewer repetitions (a smoke run, numbers are rough)
--repeat R       timed repetitions per implementation (default 25)
--only G[,G]     groups to run: conv, pool, batchnorm, mlp, digits, train,
                 startup, recheck, class (default: all but class,
                 which grades a class twice: tens of minutes)
--students N     submissions in the class benchmark (default 40)
--threads N      threads for dlcore and PyTorch (default: dlcore's default,
                 the CPUs this process may use)
--no-torch       skip PyTorch even when it is installed
--markdown PATH  also write the report (Markdown) to PATH

Each case times every implementation in blocks of calls that take turns
(see ``measure``); the table shows medians in milliseconds and dlcore's
time divided by each baseline's (below 1 means dlcore is faster).
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time

import numpy as np

from . import cases as case_defs
from . import classrun, recheck, startup

BASELINES = (("torch", "PyTorch"), ("numpy", "NumPy"), ("naive", "naive loops"))

# Issue 4's targets: dlcore time / PyTorch time.
CONV_POOL_TARGET = {"float64": 1.0, "float32": 1.5}
MLP_TARGET, MLP_NAIVE_SPEEDUP, TRAIN_TARGET = 1.5, 100.0, 1.0
IMPORT_TARGET, FIRST_CALL_TARGET = 1.0, 0.5


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(case, repeat: int, rounds: int = 3, max_seconds: float = 20.0) -> dict:
    """Median seconds per implementation; the naive one run once and scaled.

    Each implementation runs in blocks of ``repeat // rounds`` timed calls
    after two untimed ones, the blocks of all implementations taking turns
    for ``rounds`` rounds. Blocks, not single calls, take turns: PyTorch's
    OpenMP workers, OpenBLAS's and dlcore's threads each need the cores to
    themselves for a moment after a switch, which is not what a program
    using one library sees. Turns spread a drifting machine load over all.
    """
    samples = {name: [] for name in case.impls}
    per_block = max(repeat // rounds, 1)
    start = time.perf_counter()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in case.impls.items():
                fn()
                fn()
                samples[name] += [_timed(fn) for _ in range(per_block)]
            if time.perf_counter() - start > max_seconds:
                break
    finally:
        gc.enable()
    result = {name: statistics.median(times) for name, times in samples.items()}
    if case.naive is not None:
        result["naive"] = _timed(case.naive) * case.naive_scale
    return result


def _ms(seconds) -> str:
    if seconds is None:
        return "–"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def _ratio(a, b) -> str:
    if a is None or b is None:
        return "–"
    r = a / b
    return f"{r:.3f}" if r < 0.01 else f"{r:.2f}"


def case_table(rows) -> list[str]:
    lines = [
        "| case | dtype | dlcore ms | PyTorch ms | dlcore/PyTorch | NumPy ms "
        "| dlcore/NumPy | naive ms* | dlcore/naive |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    group = None
    for case, result in rows:
        if case.group != group:
            group = case.group
            lines.append(f"| **{group}** | | | | | | | | |")
        mine = result["dlcore"]
        cells = [case.label, case.dtype, _ms(mine)]
        for key, _ in BASELINES:
            theirs = result.get(key)
            cells += [_ms(theirs), _ratio(mine, theirs)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def check_targets(rows, training, start_up) -> list[str]:
    """One line per issue-4 target: met or not, with the numbers."""
    lines = []
    for case, result in rows:
        torch_time = result.get("torch")
        if case.group.startswith(("conv", "maxpool", "avgpool")) and torch_time:
            limit = CONV_POOL_TARGET[case.dtype]
            ratio = result["dlcore"] / torch_time
            lines.append(
                f"- [{'x' if ratio <= limit else ' '}] {case.group}, {case.label}, "
                f"{case.dtype}: {ratio:.2f}x PyTorch (target <= {limit}x)"
            )
        if case.group.startswith("MLP"):
            if torch_time:
                ratio = result["dlcore"] / torch_time
                ok = "x" if ratio <= MLP_TARGET else " "
                lines.append(
                    f"- [{ok}] MLP step, {case.dtype}: {ratio:.2f}x PyTorch "
                    f"(target <= {MLP_TARGET}x)"
                )
            speedup = result["naive"] / result["dlcore"]
            lines.append(
                f"- [{'x' if speedup >= MLP_NAIVE_SPEEDUP else ' '}] MLP step, "
                f"{case.dtype}: {speedup:,.0f}x faster than naive loops "
                f"(target >= {MLP_NAIVE_SPEEDUP:.0f}x)"
            )
    for (network, dtype), result in training.items():
        if "torch" in result:
            ratio = result["dlcore"][0] / result["torch"][0]
            gap = abs(result["dlcore"][1] - result["torch"][1]) * 100
            # The target is both: no slower, and the same accuracy within a point.
            met = ratio <= TRAIN_TARGET and gap <= 1
            lines.append(
                f"- [{'x' if met else ' '}] digits {network} "
                f"end to end, {dtype}: {ratio:.2f}x PyTorch's wall time (target <= "
                f"{TRAIN_TARGET}x); accuracy {result['dlcore'][1]:.1%} vs "
                f"{result['torch'][1]:.1%} ({'within' if gap <= 1 else 'NOT within'} "
                "a point)"
            )
    for name, seconds in start_up.items():
        if name.startswith('python -c "import dlcore"'):
            ok = seconds < IMPORT_TARGET
            lines.append(
                f"- [{'x' if ok else ' '}] {name}: {seconds:.2f} s (target < "
                f"{IMPORT_TARGET:.0f} s)"
            )
        if name.startswith("first conv2d"):
            ok = seconds < FIRST_CALL_TARGET
            lines.append(
                f"- [{'x' if ok else ' '}] {name}: {seconds:.2f} s (target < "
                f"{FIRST_CALL_TARGET} s)"
            )
    return lines


def _versions(torch) -> str:
    import numba

    from dlcore._kernels.threads import get_num_threads

    parts = [
        f"Python {platform.python_version()}",
        f"NumPy {np.__version__}",
        f"Numba {numba.__version__}",
        f"PyTorch {torch.__version__}"
        if torch is not None
        else "PyTorch not installed",
        f"{get_num_threads()} thread(s) for dlcore and PyTorch",
    ]
    return ", ".join(parts)


def _load() -> str:
    """The 1-minute load average: other processes skew every timing."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "unknown"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--only", default="")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--markdown", default=None)
    parser.add_argument("--students", type=int, default=40)
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else args.repeat
    known = [*case_defs.GROUPS, "train", "startup", "recheck", "class"]
    # the class benchmark grades a class twice (tens of minutes): asked for only
    only = [g.strip() for g in args.only.split(",") if g.strip()] or known[:-1]
    unknown = set(only) - set(known)
    if unknown:
        parser.error(f"unknown group(s) {sorted(unknown)}; choose from {known}")

    from dlcore._kernels import threads

    if args.threads is not None:
        threads.set_num_threads(args.threads)
    torch = None if args.no_torch else case_defs._torch()
    if torch is not None:
        torch.set_num_threads(threads.get_num_threads())

    command = " ".join(
        ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
    )
    report: list[str] = []

    def emit(lines):
        for line in lines:
            print(line, flush=True)
        report.extend(lines)

    emit(
        [
            "# dlcore benchmarks",
            "",
            f"`{command}` on {_cpu()}; {_versions(torch)}; "
            f"load average {_load()} at the start.",
            "",
        ]
    )

    rows = []
    groups = [g for g in case_defs.GROUPS if g in only]
    if groups:
        emit(["## Forward+backward and training steps (median ms)", ""])
        for group in groups:
            for case in case_defs.GROUPS[group](torch):
                result = measure(case, repeat)
                rows.append((case, result))
                print(
                    f"  measured {case.group} / {case.label} / {case.dtype}",
                    file=sys.stderr,
                    flush=True,
                )
        emit(case_table(rows))
        emit(
            [
                "",
                f"\\* naive loops run on {case_defs.NAIVE_BATCH} examples, "
                "time scaled to the full batch (the work is linear in it).",
                "",
            ]
        )

    training = {}
    if "train" in only:
        emit(
            [
                f"## Digits end to end: {case_defs.EPOCHS} epochs, batch "
                f"{case_defs.BATCH}, Adam (seconds, test accuracy)",
                "",
                "| network | dtype | dlcore s | dlcore acc. | PyTorch s | PyTorch acc. "
                "| dlcore/PyTorch |",
                "|---|---|---:|---:|---:|---:|---:|",
            ]
        )
        for network in ("CNN", "MLP"):
            for dtype in case_defs.DTYPES:
                runs = [
                    case_defs.end_to_end(torch, dtype, network)
                    for _ in range(1 if args.quick else 3)
                ]
                result = {
                    key: (
                        statistics.median(r[key][0] for r in runs),
                        runs[0][key][1],
                    )
                    for key in runs[0]
                }
                training[network, dtype.__name__] = result
                mine = result["dlcore"]
                theirs = result.get("torch", (None, None))
                emit(
                    [
                        f"| {network} | {dtype.__name__} | {mine[0]:.2f} | "
                        f"{mine[1]:.1%} | "
                        + (
                            f"{theirs[0]:.2f} | {theirs[1]:.1%} | "
                            if theirs[0]
                            else "– | – | "
                        )
                        + f"{_ratio(mine[0], theirs[0])} |"
                    ]
                )
        emit([""])

    start_up = {}
    if "startup" in only:
        start_up = startup.measure(repeat=3 if args.quick else 5)
        emit(
            [
                "## Start-up (seconds, fresh processes, medians)",
                "",
                "| what | s |",
                "|---|---:|",
            ]
        )
        emit([f"| {name} | {seconds:.3f} |" for name, seconds in start_up.items()])
        emit([""])

    rechecked = []
    if "recheck" in only:
        rechecked = recheck.measure(repeat=1 if args.quick else 3)
        emit(recheck.section(rechecked))

    targets = check_targets(rows, training, start_up)
    if targets:
        emit(["## Issue 4 targets", "", *targets, ""])
    if rechecked:
        emit(["## Issue 7 target", "", *recheck.targets(rechecked), ""])
    if "class" in only:
        if args.students < 2:
            parser.error(f"--students must be at least 2, received {args.students}")
        graded = classrun.measure(students=args.students)
        emit(classrun.section(graded))
        emit(["## Issue 17 targets", "", *classrun.targets(graded), ""])

    emit([f"Load average at the end: {_load()}.", ""])
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
