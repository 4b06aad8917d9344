"""``python -m chaos [--short]``: start the stack as processes, run retrying load through
SIGKILLs of the API, the worker and Temporal and through webhook abuse, resend everything,
then check the invariants. Exit status 1 on any violation (docs/chaos.md)."""

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import time

from chaos.processes import Processes
from chaos.run import FULL, SHORT, Outcome, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="fewer customers and kills (~1 min)")
    parser.add_argument(
        "--keep", action="store_true", help="on failure, keep everything running until Ctrl-C"
    )
    args = parser.parse_args(argv)
    began = time.monotonic()
    print("chaos: starting PostgreSQL, Temporal, localstripe, the worker and the API …", flush=True)
    with Processes() as processes:
        print(
            f"chaos: started in {time.monotonic() - began:.0f}s; logs in {processes.workdir}/logs"
        )
        outcome: Outcome = asyncio.run(run(processes, SHORT if args.short else FULL))
        if args.keep and not outcome.ok:
            print(outcome.report(time.monotonic() - began), flush=True)
            assert processes.settings is not None
            print(f"chaos: kept running; database {processes.settings.database_url}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    print(outcome.report(time.monotonic() - began), flush=True)
    if outcome.ok:
        shutil.rmtree(processes.workdir, ignore_errors=True)
    else:
        print(f"chaos: FAILED; the components' logs are kept in {processes.workdir}/logs")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
