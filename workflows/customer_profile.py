"""The customer's name and email as the workflow keeps them (``CustomerState.profile``): a
``PATCH /v1/customers/{id}`` that changes them sends a ``profile_changed`` notice through the
outbox, in the order the changes committed."""

from typing import Any

from temporalio import workflow

from workflows.customer_log import record

with workflow.unsafe.imports_passed_through():
    from messages.customer import CustomerState


def on_profile_changed(state: CustomerState, payload: dict[str, Any]) -> None:
    name, email = payload.get("name"), payload.get("email")
    if not isinstance(name, str) or not isinstance(email, str):
        workflow.logger.warning("ignoring malformed profile_changed notice %r", payload)
        return
    state.profile = state.profile.model_copy(update={"name": name, "email": email})
    record(state, "profile_changed", f"profile changed: {name} <{email}>")
