"""``hyperlab worker``: join a study in a shared storage and run trials until it is done.

Start any number of workers, on any number of machines, against the same storage, e.g.
``for i in 1 2 3 4; do hyperlab worker --storage URL --name RUN --worker-name w$i & done``.
The study is created first with ``hyperlab tune ... --storage URL --create-only``.
"""

from __future__ import annotations

import argparse
import os
import socket


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "worker", help="run trials of a shared study until it is done", description=__doc__
    )
    p.add_argument(
        "--storage",
        help="the shared storage URL (default: $HYPERLAB_STORAGE, which keeps a password off "
        "the command line; PostgreSQL also reads PGPASSWORD and ~/.pgpass)",
    )
    p.add_argument("--name", required=True, help="run name (or one study's full name)")
    p.add_argument(
        "--worker-name",
        help="this worker's name (default HOST-PID): it seeds its sampler, and the trials it runs "
        "record it (their `worker` attribute)",
    )
    p.add_argument(
        "--heartbeat-interval",
        type=int,
        help="seconds between heartbeats of a running trial (default: the study's, else 10)",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        help="seconds without heartbeat before a trial counts as lost (default: the study's, "
        "else 30; three heartbeat intervals where --heartbeat-interval is given)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="leave once every remaining trial is running elsewhere (default: wait, and take "
        "over the trials of workers that die)",
    )
    p.add_argument("--max-trials", type=int, help="run at most this many trials per study here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hyperlab.errors import InputError
    from hyperlab.lab.storage_settings import check_url
    from hyperlab.lab.urls import STORAGE_ENV, with_secret
    from hyperlab.lab.workers import run_worker

    # a URL without its password takes it from $HYPERLAB_STORAGE when that names the same one
    args.storage = with_secret(args.storage) if args.storage else os.environ.get(STORAGE_ENV)
    if not args.storage:
        raise InputError(f"give the shared storage with --storage URL or ${STORAGE_ENV}")
    check_url(args.storage)
    name = args.worker_name or f"{socket.gethostname()}-{os.getpid()}"
    report = run_worker(
        args.storage,
        args.name,
        worker_name=name,
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
        wait=not args.no_wait,
        max_trials=args.max_trials,
    )
    for line in report.lines():
        print(f"{name}: {line}")
    return 0
