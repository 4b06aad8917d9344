"""Why a customer workflow update was refused, for callers to tell apart (the refusal reaches
the client as an ``ApplicationError`` whose type is the exception's class name)."""


class WorkflowBusy(ValueError):
    """The workflow is in the middle of something (signing up, closing a period): the same
    request can succeed shortly."""


class StateConflict(ValueError):
    """The customer's state forbids it (the account is closing or closed)."""
