"""`python -m bench [ccb|realcal|ccb_policy|heldout|english_cal|english|scale|e2e|heldout_chat|
insights|loop|load|restart|gateway_cpu|gateway_latency|all]`: run benchmarks, write
bench/results/ (`realcal` writes knowledge_base/search/calibration.json, `english_cal`
knowledge_base/search/english_calibration.json; `load`, `restart`, `gateway_cpu` and
`gateway_latency` start their own stack and are not part of `all`: `make bench-load`,
`python -m bench restart`, `python -m bench gateway_cpu`, `python -m bench gateway_latency`).

Each benchmark writes `<name>.json` and `<name>.md`. A benchmark whose inputs are missing (the
shared evaluation data, the built model, a running stack) is skipped with a message; `all`
continues with the others and exits 0 unless one of them failed with an error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench.common import RESULTS_DIR, Skip

NAMES = ("ccb", "realcal", "ccb_policy", "heldout", "english_cal", "english", "scale", "e2e",
         "heldout_chat", "insights", "loop", "concurrent_search")


def log(message: str) -> None:
    """Progress on stderr, flushed (benchmarks are long)."""
    print(message, file=sys.stderr, flush=True)


def runner(name: str, args: argparse.Namespace) -> Callable[[], Any]:
    """The run function of one benchmark, bound to its CLI options (imports stay lazy)."""
    if name == "ccb":
        from bench import ccb

        return lambda: ccb.run(
            methods=args.methods.split(",") if args.methods else None,
            with_pairs=not args.no_pairs,
            threads=args.threads,
            log=log,
        )
    if name == "realcal":
        from bench import realcal

        return lambda: realcal.run(threads=args.threads, log=log)
    if name == "ccb_policy":
        from bench import ccb_policy

        return lambda: ccb_policy.run(threads=args.threads, log=log)
    if name == "heldout":
        from bench import heldout

        return lambda: heldout.run(threads=args.threads, log=log)
    if name == "english_cal":
        from bench import english_cal

        return lambda: english_cal.run(threads=args.threads, log=log)
    if name == "english":
        from bench import english

        return lambda: english.run(threads=args.threads, log=log)
    if name == "scale":
        from bench import scale

        sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else scale.DEFAULT_SIZES
        return lambda: scale.run(sizes=sizes, log=log)
    if name == "e2e":
        from bench import e2e

        return lambda: e2e.run(requests=args.requests, log=log)
    if name == "heldout_chat":
        from bench import heldout_chat

        return lambda: heldout_chat.run(log=log)
    if name == "insights":
        from bench import insights

        return lambda: insights.run(conversations=args.conversations, log=log)
    if name == "load":
        from bench import load

        return lambda: load.run(seconds=args.seconds, log=log, topology=args.topology,
                                think=tuple(float(x) for x in args.think.split(",")),  # type: ignore[arg-type]
                                step=args.step)
    if name == "restart":
        from bench import restart

        return lambda: restart.run(log=log, rounds=args.rounds or 1)
    if name == "gateway_cpu":
        from bench import gateway_cpu

        return lambda: gateway_cpu.run(sessions=args.sessions, rounds=args.rounds or 3,
                                         log=log)
    if name == "overload":
        from bench import overload

        return lambda: overload.run(log=log)
    if name == "concurrent_search":
        from bench import concurrent_search

        return lambda: concurrent_search.run(log=log)
    if name == "gateway_latency":
        from bench import gateway_latency

        return lambda: gateway_latency.run(sessions=args.sessions, rounds=args.rounds or 3,
                                             log=log, name=args.name or "gateway_latency")
    if name == "loop":
        from bench import loop

        return lambda: loop.run(log=log)
    raise ValueError(name)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benchmark", nargs="?", default="all",
                        choices=(*NAMES, "load", "overload", "restart", "gateway_cpu",
                                 "gateway_latency", "all"))
    parser.add_argument("--sizes", help="scale: comma-separated database sizes")
    parser.add_argument("--methods", help="ccb: comma-separated subset of methods")
    parser.add_argument("--no-pairs", action="store_true", help="ccb: skip BQ/AFQMC pair AUC")
    parser.add_argument("--requests", type=int, default=200, help="e2e: requests per endpoint")
    parser.add_argument("--conversations", type=int, default=100_000,
                        help="insights: generated conversations")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="ccb/heldout/english: torch and faiss threads (default 1)"
    )
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="load: seconds of arrivals per step")
    parser.add_argument("--rounds", type=int, default=None,
                        help="restart: kill -9 rounds over every process (default 1); "
                             "gateway_cpu: pairs of Rasa-alone/gateway blocks (default 3)")
    parser.add_argument("--sessions", type=int, default=8,
                        help="gateway_cpu: sequential sessions per block")
    parser.add_argument("--name", default=None,
                        help="gateway_latency: result file name (default gateway_latency)")
    parser.add_argument("--think", default="2,6", help="load: think time range, seconds")
    parser.add_argument("--step", type=float, default=1.0,
                        help="load: capacity search step, msg/s (then bisection to 0.25)")
    parser.add_argument("--topology", default="embedded", choices=("embedded", "production"),
                        help="load: the embedded default or the production topology on loopback")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    names = NAMES if args.benchmark == "all" else (args.benchmark,)
    failed = False
    for name in names:
        started = time.perf_counter()
        log(f"== bench {name}")
        try:
            runner(name, args)()
        except Skip as exc:
            log(f"== bench {name}: SKIPPED: {exc}")
            continue
        except Exception:  # noqa: BLE001 - report and continue with the other benchmarks
            traceback.print_exc()
            log(f"== bench {name}: FAILED")
            failed = True
            continue
        took = time.perf_counter() - started
        log(f"== bench {name}: done in {took:.0f} s -> {RESULTS_DIR}/{name}.{{json,md}}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
