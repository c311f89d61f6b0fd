"""Command line: ``python -m knowledge_base build-index``.

Imports the seed into the service database when it holds no release yet, then builds (or
reuses) the index of the current release under INDEX_DIR/<cache key>/.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time


def _build_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from knowledge_base.config import KBConfig
    from knowledge_base.content.entries import SeedError
    from knowledge_base.search.service import load_snapshot

    settings = KBConfig.from_env()
    start = time.monotonic()
    try:
        snapshot, built = load_snapshot(settings, progress=None if args.quiet else tqdm)
    except SeedError as exc:
        print(exc, file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    a = snapshot.artifacts
    print(f"{'built' if built else 'reused'} index for KB release {snapshot.release}: "
          f"{len(snapshot.entries)} entries, {len(a.questions)} questions, {a.index.kind} "
          f"-> {snapshot.directory} ({time.monotonic() - start:.1f} s)")
    cal = a.calibration
    print(f"thresholds: answer p>={cal.t_answer:.3f}, clarify p>={cal.t_clarify:.3f}")
    print(json.dumps(cal.report, indent=2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge_base")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-index", help="import the seed if needed and build the index")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=_build_index)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
