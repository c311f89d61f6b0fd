"""Rasa's check of every action-server response, with its validator built once.

Rasa 3.6 (`RemoteAction._validate_action_result`) calls `jsonschema.validate(result, schema)`
on each response of the action server. That function checks the (constant) schema against the
metaschema and builds a new validator every time: about 22 ms of CPU per custom-action call
on this machine, against 0.3 ms for the validation itself. Every user message makes at least
one such call (`action_set_language`, the custom slot mapping run by action_extract_slots) and
most make two (the KB answer, a self-service form), so that was about a third of Rasa's CPU per
message (`python -m bench gateway_cpu`).

`install()` (called by `bot/serve.py` before Rasa starts) replaces the method with one that
validates against the same schema with a validator made once, raising the same error
(`best_match`, as `jsonschema.validate` does) with the same message suffix.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def install() -> None:
    """Patch RemoteAction once per process (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions import action as rasa_action

    schema = rasa_action.RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # what jsonschema.validate did on every call, once
    validator = cls(schema)

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        if isinstance(error, ValidationError):
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{rasa_action.DOCS_BASE_URL}/custom-actions"
            )
        raise error

    rasa_action.RemoteAction._validate_action_result = _validate_action_result
    _INSTALLED = True
