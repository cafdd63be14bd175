"""``python -m irgrad.distributed.run --nproc-per-node N train.py [args]``: start ``N``
ranks of ``train.py`` with ``mpiexec`` (PyTorch's ``torchrun``, on MPI).

``--hosts a,b`` or ``--hostfile FILE`` spread the ranks over machines (passed to
mpiexec as ``-hosts``/``-f``, MPICH's spelling; another MPI may want ``--host``/``--hostfile``:
run its ``mpiexec`` directly then).  Each rank also gets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK`` from MPI's environment when the script reads them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys


def command(args: argparse.Namespace) -> list[str]:
    """The mpiexec command line for ``args``."""
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit("irgrad.distributed.run: mpiexec not found; pip install 'irgrad[distributed]'")
    line = [mpiexec, "-n", str(args.nproc_per_node * args.nnodes)]
    if args.hosts:
        line += ["-hosts", args.hosts]
    if args.hostfile:
        line += ["-f", args.hostfile]
    return line + [sys.executable, "-u", args.script, *args.script_args]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m irgrad.distributed.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, dest="nproc_per_node")
    parser.add_argument("--nnodes", type=int, default=1, help="machines (with --hosts or --hostfile)")
    parser.add_argument("--hosts", default=None, help="comma-separated host names")
    parser.add_argument("--hostfile", default=None)
    parser.add_argument("script")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    line = command(args)
    os.execv(line[0], line)


if __name__ == "__main__":
    main()
