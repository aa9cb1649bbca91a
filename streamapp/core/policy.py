"""The one error policy: what happens to a record that cannot be converted, mapped or delivered.

A failure has a stage (Connect's names): ``KEY_CONVERTER`` / ``VALUE_CONVERTER`` for the
converters, ``TASK_PUT`` for the connector's own work (mapping a record to its destination and
delivering it). Per stage the policy says how many times a failed delivery is tried again (and
how long apart), and then whether the record is *tolerated* (skipped, or sent to the dead-letter
topic when one is configured, and acked) or stops the connector (the record stays unacked, so it
is consumed again once the cause is fixed and the worker restarted).

Transient failures (an error with ``retriable = True``: a lost session, an unreachable registry)
are not failures of the record: they are retried with back-off for as long as it takes, and the
partition waits.

Two ways to configure it, each keeping its documented behaviour:

* Connect's ``errors.tolerance`` (``none``: stop; ``all``: skip or dead-letter) for every stage;
* the CoAP sink's ``connect.coap.error.policy`` (``THROW``, ``NOOP``, ``RETRY`` with
  ``connect.coap.max.retries`` and ``connect.coap.retry.interval``) for ``TASK_PUT``, its
  converters following ``errors.tolerance`` as in Connect (see :mod:`streamapp.coap.config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ErrorPolicy", "Stage", "StagePolicy", "connect_policy"]

Stage = Literal[
    "KEY_CONVERTER",
    "VALUE_CONVERTER",
    "HEADER_CONVERTER",
    "TRANSFORMATION",
    "TASK_PUT",
    "TASK_POLL",
    "KAFKA_PRODUCE",
    "KAFKA_CONSUME",
]


@dataclass(frozen=True)
class StagePolicy:
    retries: int = 0  # further attempts of a failed delivery (mapping is never retried: it cannot change)
    retry_interval: float = 0.0  # s between them
    tolerated: bool = False  # after the retries: skip or dead-letter (True), or stop the connector (False)


@dataclass(frozen=True)
class ErrorPolicy:
    conversion: StagePolicy
    put: StagePolicy
    setting: str  # the setting that decides, quoted in log lines: "errors.tolerance=none"
    log_each: bool = False  # log every tolerated failure (errors.log.enable, or the CoAP NOOP policy)
    log_messages: bool = False  # with the record's key and value (errors.log.include.messages)
    stop_hint: str = (
        "fix the cause and restart the worker, or set errors.tolerance=all "
        "(with errors.deadletterqueue.topic.name to keep such records)"
    )

    def for_stage(self, stage: str) -> StagePolicy:
        return self.put if stage == "TASK_PUT" else self.conversion


def connect_policy(tolerance: str, *, log_enable: bool = False, include_messages: bool = False) -> ErrorPolicy:
    """Connect's ``errors.*`` keys, for every stage."""
    stage = StagePolicy(tolerated=tolerance == "all")
    return ErrorPolicy(
        conversion=stage,
        put=stage,
        setting=f"errors.tolerance={tolerance}",
        log_each=log_enable,
        log_messages=include_messages,
    )
