"""Publishing activation notices exactly once per transition.

The profile's transaction writes each notice to the outbox (so a transition is never lost, and a
re-delivered event, which changes nothing, writes none). Right after its write the updater (or the
refresher) publishes its notices and removes them from the outbox; whatever it could not publish
(EventBridge throttled, the function stopped in between) stays there, and ``sweep``, run by the
scheduled refresher, publishes notices older than ``SWEEP_AFTER_SECONDS`` (so it never races the
writer that is about to publish them). A notice EventBridge refuses for good goes to the dead-letter
queue with the reason. A function stopping between ``PutEvents`` and the outbox delete is the one
case that publishes twice: consumers see the same ``notice_id`` and can drop the repeat.
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pulse.domain.activation import Notice
from pulse.ports import DeadLetter, DeadLetterSink, NoticeOutbox, NoticePublisher, PendingNotice

log = logging.getLogger(__name__)
SWEEP_AFTER_SECONDS = 60.0
SWEEP_LIMIT = 5000


@dataclass(frozen=True)
class Activation:
    publisher: NoticePublisher
    outbox: NoticeOutbox
    dead_letters: DeadLetterSink


@dataclass
class PublishOutcome:
    published: int = 0
    waiting: int = 0  # left in the outbox for the sweep
    dead_lettered: int = 0


def publish_written(activation: Activation, written: Sequence[PendingNotice]) -> PublishOutcome:
    """Publish notices just written with their profiles; remove what went (or can never go)."""
    outcome = PublishOutcome()
    if not written:
        return outcome
    try:
        refused = activation.publisher.publish([p.notice for p in written])
    except Exception:  # noqa: BLE001  # the outbox keeps them: the sweep publishes them later
        outcome.waiting = len(written)
        return outcome
    retry = {n.notice_id for n, _, retryable in refused if retryable}
    never = [(n, reason) for n, reason, retryable in refused if not retryable]
    if never:  # a letter the queue did not take keeps its notice in the outbox: nothing is lost
        unsent = activation.dead_letters.send([letter(n, reason) for n, reason in never])
        kept = {json.loads(u.payload)["notice"]["notice_id"] for u in unsent}
        retry |= kept
        never = [(n, reason) for n, reason in never if n.notice_id not in kept]
    done = [p for p in written if p.notice.notice_id not in retry]
    try:
        activation.outbox.remove(done)
    except Exception as exc:  # noqa: BLE001  # published, still in the outbox: the sweep would send them again
        log.warning("published notices not removed from the outbox: %s", exc)
    outcome.published = len(done) - len(never)
    outcome.dead_lettered = len(never)
    outcome.waiting = len(retry)
    return outcome


def sweep(activation: Activation, now: float, older_than: float = SWEEP_AFTER_SECONDS) -> PublishOutcome:
    """Publish what the outbox still holds from writes older than ``older_than`` seconds."""
    left = activation.outbox.pending(now - older_than, SWEEP_LIMIT)
    return publish_written(activation, left)


def letter(notice: Notice, reason: str) -> DeadLetter:
    payload = json.dumps({"notice": json.loads(notice.to_json()), "failed": "activation"}).encode()
    reason = f"EventBridge refused it: {reason}"
    return DeadLetter(reason=reason, payload=payload, shard_id="activation", sequence_number="0")
