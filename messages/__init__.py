"""Every workflow and activity input, result and state model, one module per flow.

Plain pydantic models: workflows import them through ``workflow.unsafe.imports_passed_through()``,
activities use them directly. Payloads are JSON, so field names and shapes are part of the
recorded histories and must not change.
"""
