import asyncio
import logging
import os
import sys

from worker.main import run_worker

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    status = 0
    try:
        asyncio.run(run_worker())
    except KeyboardInterrupt:
        pass
    except Exception:
        logging.exception("worker stopped")
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio can crash while CPython finalizes (sdk-python #300): leave directly.
    os._exit(status)
