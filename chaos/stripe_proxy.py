"""``python -m chaos.stripe_proxy UPSTREAM PORT``: Stripe's Idempotency-Key semantics in front of
localstripe, as a process of its own.

localstripe ignores ``Idempotency-Key``; Stripe honours it. Without this, a worker killed
after Stripe created a PaymentIntent and before the activity completed would make the retried
activity create a second PaymentIntent, a double charge real Stripe would never make.
"""

import asyncio
import sys

from tests.support.stripe_proxy import StripeProxy


async def serve(upstream: str, port: int) -> None:
    proxy = await StripeProxy(upstream=upstream, port=port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.stop()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
