"""What every state-changing management operation shares: the ``Idempotency-Key`` that
makes a retry safe, the ``If-Match`` version that makes a stale page harmless, and the
actor that the audit log names.

A route hands its work to :meth:`Action.run`. The first request with a key runs it and
keeps its answer (successes and 4xx problems alike); the same key with the same request
gets that answer again without acting (``Idempotent-Replayed: true``); with another
request it is a 422; while the first still runs, a 409. An answer that says the server or
the gateway failed (5xx) is not kept, so the retry acts.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from kasse.api.deps import Param, reads
from kasse.api.management.auth import Caller
from kasse.api.problems import ApiProblem, problem, status_of
from kasse.api.responses import JsonResponse
from kasse.api.state import app_state
from kasse.domain.audit import Actor
from kasse.domain.errors import DomainError
from kasse.domain.idempotency import ABANDONED_AFTER, KeyInUse, Verdict, judge, request_fingerprint
from kasse.logs import request_id
from kasse.services.ports import Storage

IDEMPOTENCY_KEY = Param("Idempotency-Key", "header",
                        "A unique key per action (e.g. a UUID): a retry with the same key "
                        "and body gets the first answer and does not act again",
                        required=True)
IF_MATCH = Param("If-Match", "header",
                 "The order's version as its ETag (`\"7\"`): a change to an order that "
                 "changed since is refused with 412")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
KEPT_HEADERS = ("etag", "location")


def parse_if_match(value: str | None) -> int | None:
    """The version an ``If-Match`` header names; ``None`` for none or ``*``."""
    if value is None or value.strip() in ("", "*"):
        return None
    match = _ETAG.match(value.strip())
    if match is None:
        raise ApiProblem(400, "If-Match must be the order's ETag, e.g. \"7\"",
                         "invalid-if-match")
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


class Action:
    def __init__(self, request: Request, actor: Actor, key: str,
                 expected_version: int | None) -> None:
        self.request = request
        self.actor = actor
        self.key = key
        self.expected_version = expected_version
        """The order version the caller saw (``If-Match``); ``None``: not checked."""

    async def run(self, work: Callable[[], Awaitable[Any]], *, status: int = 200,
                  shown_once: tuple[str, ...] = ()) -> Response:
        """Do ``work`` once per key and answer its JSON body (kept for retries).

        ``shown_once``: top-level fields of the answer that only this request gets (a new
        token, a generated password): the kept answer has them ``null``, so that no
        secret is stored in clear and a retry does not show it again."""
        storage = app_state(self.request).container.storage
        principal = self.actor.principal.key
        fingerprint = request_fingerprint(self.request.method, self.request.url.path,
                                          await self.request.body(),
                                          app_state(self.request).container.secret_key)
        now = datetime.now(UTC)
        async with storage.idempotency() as kept_answers:
            kept = await kept_answers.claim(principal, self.key, fingerprint, now)
            if kept is not None:
                verdict = judge(kept, fingerprint, now)
                if verdict is Verdict.REPLAY:
                    headers = {**kept.headers, "Idempotent-Replayed": "true"}
                    return Response(kept.body, kept.status_code or 200, headers=headers)
                if not await kept_answers.take_over(principal, self.key,
                                                    now - ABANDONED_AFTER, now):
                    raise KeyInUse("a request with this Idempotency-Key is still being "
                                   "processed; retry in a moment")
        try:
            response = await self._answer(work, status)
        except BaseException:
            await _forget(storage, principal, self.key)
            raise
        if response.status_code >= 500:
            await _forget(storage, principal, self.key)
            return response
        headers = {name: value for name, value in response.headers.items()
                   if name in KEPT_HEADERS}
        headers["content-type"] = response.headers.get("content-type", "application/json")
        body = bytes(response.body)
        if shown_once and response.status_code < 300:
            body = _without(body, shown_once)
        async with storage.idempotency() as kept_answers:
            await kept_answers.complete(principal, self.key, response.status_code,
                                        body.decode(), headers, datetime.now(UTC))
        return response

    async def _answer(self, work: Callable[[], Awaitable[Any]], status: int) -> Response:
        try:
            body = await work()
        except DomainError as exc:
            return problem(status_of(exc), exc.detail, exc.code)
        except ApiProblem as exc:
            if exc.status >= 500:
                raise
            return problem(exc.status, exc.detail, exc.code, headers=exc.headers)
        headers = {}
        if isinstance(body, dict) and isinstance(body.get("version"), int):
            headers["ETag"] = etag(body["version"])
        return JsonResponse(body, status_code=status, headers=headers)


def _without(body: bytes, fields: tuple[str, ...]) -> bytes:
    answer = orjson.loads(body)
    if isinstance(answer, dict):
        answer.update({field: None for field in fields if field in answer})
    return orjson.dumps(answer)


async def _forget(storage: Storage, principal: str, key: str) -> None:
    async with storage.idempotency() as kept_answers:
        await kept_answers.release(principal, key)


@reads(IDEMPOTENCY_KEY, IF_MATCH)
async def action(request: Request, principal: Caller) -> Action:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        raise ApiProblem(400, "the Idempotency-Key header is required for every change "
                              "(a new unique value per action, e.g. a UUID)",
                         "idempotency-key-missing")
    if not _KEY.match(key):
        raise ApiProblem(400, "the Idempotency-Key must be 1 to 255 printable ASCII "
                              "characters", "idempotency-key-invalid")
    return Action(request, Actor(principal, request_id.get()), key,
                  parse_if_match(request.headers.get("if-match")))


ActionDep = Annotated[Action, Depends(action)]
