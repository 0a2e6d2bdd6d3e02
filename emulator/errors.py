"""Telnyx-shaped API errors.

Every failure the emulator answers uses Telnyx's envelope ``{"errors": [{code, title, detail,
source}]}`` with ``code`` as a string, because SDKs and apps parse exactly that. The catalogue
below names each code once; handlers and the validator build errors from it so titles never drift.

Codes come from Telnyx's public error catalogue and the OpenAPI examples (NOTES.md §3). Where
Telnyx documents no code for a situation, the choice is marked ``(chosen)`` and listed in
docs/errors.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOCS_URL = "https://developers.telnyx.com/docs/overview/errors/{code}"


@dataclass(frozen=True, slots=True)
class ApiError:
    code: str
    title: str
    detail: str
    pointer: str | None = None
    parameter: str | None = None
    meta: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.detail}
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        if source:
            out["source"] = source
        if self.meta is not None:
            out["meta"] = self.meta
        return out


@dataclass
class ApiFailure(Exception):
    """Raised inside request handling; the API layer turns it into an error response."""

    status: int
    errors: list[ApiError]
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"errors": [e.to_json() for e in self.errors]}


def pointer_for(path: list[str | int] | tuple[str | int, ...]) -> str:
    """RFC 6901 JSON Pointer for a path inside the request body."""
    if not path:
        return "/"
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return "/" + "/".join(parts)


# --- body validation (HTTP 422) -------------------------------------------------------------


def missing_parameter(name: str, pointer: str) -> ApiError:
    return ApiError(
        "10004",
        "Missing required parameter",
        f"The '{name}' parameter is required and cannot be blank.",
        pointer,
    )


def not_e164(name: str, pointer: str) -> ApiError:
    return ApiError(
        "10016",
        "Phone number must be in +E164 format",
        f"The '{name}' parameter must be in E164 format.",
        pointer,
    )


def invalid_enum(values: list[Any], pointer: str) -> ApiError:
    listed = ", ".join(str(v) for v in values)
    return ApiError(
        "10032", "Invalid enumerated value", f"The value must be one of: {listed}.", pointer
    )


def out_of_range(low: Any, high: Any, pointer: str) -> ApiError:
    if low is None:
        detail = f"The value must be at most {high}."
    elif high is None:
        detail = f"The value must be at least {low}."
    else:
        detail = f"The value is outside of allowed range {low} to {high}"
    return ApiError("10033", "Value outside of range", detail, pointer)


def invalid_type(expected: str, pointer: str) -> ApiError:
    """(chosen) Telnyx's catalogue code 10020 "Invalid resource type"."""
    return ApiError(
        "10020", "Invalid resource type", f"The parameter must be of type '{expected}'.", pointer
    )


def invalid_value(detail: str, pointer: str) -> ApiError:
    """(chosen) Any other invalid value: catalogue code 10015 "Bad Request"."""
    return ApiError("10015", "Invalid value", detail, pointer)


def unknown_parameter(name: str, pointer: str) -> ApiError:
    """Only with ``--strict``: Telnyx itself ignores unknown fields."""
    return ApiError(
        "10015",
        "Unknown parameter",
        f"The '{name}' parameter is not part of this command (rejected because the emulator "
        "runs with --strict).",
        pointer,
    )


# --- request shape (4xx before validation) --------------------------------------------------


def invalid_json(reason: str) -> ApiFailure:
    return ApiFailure(
        400,
        [ApiError("10023", "Invalid JSON", f"The request body is not valid JSON: {reason}")],
    )


def body_not_object() -> ApiFailure:
    return ApiFailure(
        422,
        [
            ApiError(
                "10015",
                "Bad Request",
                "The request body must be a JSON object.",
                "/",
            )
        ],
    )


def unsupported_media_type(content_type: str) -> ApiFailure:
    return ApiFailure(
        415,
        [
            ApiError(
                "10014",
                "Unsupported Media Type",
                f"Content-Type '{content_type}' is not supported; send application/json.",
            )
        ],
    )


def body_too_large(limit: int) -> ApiFailure:
    return ApiFailure(
        413,
        [
            ApiError(
                "10015",
                "Request entity too large",
                f"The request body exceeds the limit of {limit} bytes.",
            )
        ],
    )


def authentication_failed() -> ApiFailure:
    return ApiFailure(
        401,
        [
            ApiError(
                "10009",
                "Authentication failed",
                "The required authentication headers were either invalid or not included in "
                "the request.",
                meta={"url": DOCS_URL.format(code="10009")},
            )
        ],
    )


def route_not_found(path: str) -> ApiFailure:
    return ApiFailure(
        404,
        [
            ApiError(
                "10005",
                "Resource not found",
                f"The requested resource or URL could not be found: {path}",
            )
        ],
    )


def method_not_allowed(method: str, path: str, allowed: list[str]) -> ApiFailure:
    return ApiFailure(
        405,
        [
            ApiError(
                "10005",
                "Method not allowed",
                f"{method} is not supported on {path}.",
            )
        ],
        headers={"allow": ", ".join(allowed)},
    )


def too_many_requests(detail: str, retry_after: float | None = None) -> ApiFailure:
    headers = {} if retry_after is None else {"retry-after": str(max(1, round(retry_after)))}
    return ApiFailure(429, [ApiError("10011", "Too many requests", detail)], headers=headers)


# --- call state (HTTP 422) ------------------------------------------------------------------


def invalid_call_control_id() -> ApiFailure:
    return ApiFailure(
        422,
        [
            ApiError(
                "90015",
                "Invalid Call Control ID",
                "The call_control_id provided was not valid.",
                "/call_control_id",
            )
        ],
    )


def call_already_ended() -> ApiFailure:
    return ApiFailure(
        422,
        [
            ApiError(
                "90018",
                "Call has already ended",
                "This call is no longer active and can't receive commands.",
                "/call_control_id",
            )
        ],
    )


def call_not_answered() -> ApiFailure:
    return ApiFailure(
        422,
        [
            ApiError(
                "90034",
                "Call not answered yet",
                "This call can't receive this command because it has not been answered yet.",
                "/call_control_id",
            )
        ],
    )


def invalid_command_for_state(detail: str) -> ApiFailure:
    """(chosen) A command that Telnyx would refuse in the leg's current state."""
    return ApiFailure(422, [ApiError("90016", "Invalid call state", detail, "/call_control_id")])


# --- the emulator's own limits ----------------------------------------------------------------

NOT_EMULATED_CODE = "10501"


class NotEmulated(ApiFailure):
    """A command the emulator declares but does not emulate yet; journaled ``not_emulated``."""


def not_emulated(command: str, issue: int | None) -> NotEmulated:
    """(chosen) 501 Not Implemented, never a silent 200: the app must not believe a command
    worked. ``x-should-retry: false`` stops the official SDKs from retrying a 5xx."""
    where = f" (telnyx-emulator issue #{issue})" if issue is not None else ""
    return NotEmulated(
        501,
        [
            ApiError(
                NOT_EMULATED_CODE,
                "Not emulated",
                f"{command} is not emulated yet{where}; see the README's command table. The "
                "request was valid and the call exists, but nothing was done.",
            )
        ],
        headers={"x-should-retry": "false"},
    )


def option_not_emulated(option: str, pointer: str, detail: str) -> NotEmulated:
    """(chosen) An emulated command asked for an option the emulator does not emulate (e.g.
    Dialogflow on a stream): 501 like a command that is not emulated, pointing at the option."""
    return NotEmulated(
        501,
        [
            ApiError(
                NOT_EMULATED_CODE,
                "Not emulated",
                f"{option} is not emulated: {detail} Nothing was done.",
                pointer,
            )
        ],
        headers={"x-should-retry": "false"},
    )
