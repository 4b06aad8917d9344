class LedgerError(Exception):
    """A request the ledger refuses; ``type`` becomes the API error type."""

    status = 400
    type = "ledger_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(LedgerError):
    status = 404
    type = "not_found"


class InsufficientFunds(LedgerError):
    status = 402
    type = "insufficient_funds"


class Conflict(LedgerError):
    status = 409
    type = "conflict"


class Busy(LedgerError):
    """A lock wait ran out (another transaction held the customer's row longer than the
    database's lock timeout): nothing was written, the request may be sent again."""

    status = 503
    type = "ledger_busy"

    def __init__(self) -> None:
        super().__init__("the customer's ledger is busy in another transaction; retry")


class IdempotencyMismatch(LedgerError):
    """An idempotency key reused for a request that differs from the first."""

    type = "idempotency_error"
