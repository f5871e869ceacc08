"""Runs every benchmark, each in its own process, and leaves the tables in benchmarks/results/.

Usage: `make bench` (creates the benchmark virtualenv with the peer libraries first), or
`python benchmarks/run_all.py [--quick] [name ...]`.
"""

import argparse
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
BENCHMARKS = ("attribution", "occlusion", "ablation_cam", "rise", "maximize", "faithfulness",
              "memory", "scale", "serve", "atlas", "lrp_conservation", "defaults")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    for name in args.names or BENCHMARKS:
        script = HERE / f"{name}.py"
        command = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        print(f"== {name}: {' '.join(command)}", flush=True)
        if subprocess.run(command, cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
