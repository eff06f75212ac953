"""``python -m deploy.local up|down|status|reset|run -- CMD…``.

``up`` prints ``export LODESTONE_…=…`` lines on stdout (progress on stderr), so that
``eval "$(python -m deploy.local up)"`` configures a shell. ``run`` starts what is not running,
runs CMD with those settings in its environment, stops what it started (even when CMD fails)
and exits with CMD's exit code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from deploy.local import prereqs
from deploy.local.kafka import KafkaError
from deploy.local.postgres import PostgresError
from deploy.local.runtime import Runtime


def _run(runtime: Runtime, command: list[str]) -> int:
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("run: give a command after --", file=sys.stderr)
        return 2
    state = runtime.up()
    try:
        env = {**os.environ, **state.environment()}
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        runtime.stop(state.started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("up", help="start Kafka and PostgreSQL, create topics, roles, schemas")
    sub.add_parser("down", help="stop Kafka and PostgreSQL")
    sub.add_parser("status", help="show what is running")
    sub.add_parser("reset", help="stop, then delete the local data (keeps the jar cache)")
    run = sub.add_parser("run", help="run a command against the runtime, starting it if needed")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    runtime = Runtime()
    try:
        if args.action == "up":
            sys.stdout.write(runtime.up().exports())
        elif args.action == "down":
            runtime.down()
        elif args.action == "status":
            for part, state in runtime.status().items():
                print(f"{part:10} {state}")
        elif args.action == "reset":
            runtime.reset()
        else:
            return _run(runtime, list(args.command))
    except (prereqs.MissingPrerequisiteError, KafkaError, PostgresError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
