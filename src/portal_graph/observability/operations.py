"""Observing one GraphQL operation: its name, how long it took, how it ended."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import DocumentNode, get_operation_ast

from portal_graph.observability import metrics, tracing
from portal_graph.observability.context import current_request


class OperationObservation:
    def __init__(self, span: Any = None) -> None:
        self.started = time.perf_counter()
        self.label = metrics.INVALID  # until a valid document names the operation
        self.operation_type: str | None = None
        self._span = span
        self._finished = False

    def identify(self, document: DocumentNode, operation_name: str | None, *,
                 admit_new_name: bool = True) -> None:
        """Name the operation once its document has been parsed and validated; a name not
        seen yet takes a label slot only when `admit_new_name` (else it counts as other)."""
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return
        self.label = metrics.operation_label(operation.name.value if operation.name else None,
                                             admit=admit_new_name)
        self.operation_type = operation.operation.value
        if self._span is not None:
            self._span.update_name(f"{self.operation_type} {self.label}")
            self._span.set_attribute("graphql.operation.name", self.label)
            self._span.set_attribute("graphql.operation.type", self.operation_type)

    def finish(self, body: Mapping[str, object]) -> None:
        self._finished = True
        outcome = metrics.record_operation(self.label, body, time.perf_counter() - self.started)
        request = current_request.get()
        if request is not None:
            request.add_operation(self.label)
        if self._span is not None:
            self._span.set_attribute("portal_graph.outcome", outcome)
            codes = metrics.error_codes(body)
            if codes:
                self._span.set_attribute("graphql.error.codes", codes)


    def fail(self) -> None:
        """The operation ended in an exception (deadline, database gone, a bug): the endpoint
        answers it with a failure response; here it counts as `failed`."""
        if self._finished:
            return
        self._finished = True
        metrics.record_failure(self.label, time.perf_counter() - self.started)
        request = current_request.get()
        if request is not None:
            request.add_operation(self.label)


@contextlib.contextmanager
def observe_operation() -> Iterator[OperationObservation]:
    """Wraps answering one operation; call `identify` when known and `finish` with the body."""
    tracer = tracing.active()
    with tracer.operation_span() if tracer is not None else contextlib.nullcontext() as span:
        observation = OperationObservation(span)
        try:
            yield observation
        except BaseException:
            observation.fail()
            raise
