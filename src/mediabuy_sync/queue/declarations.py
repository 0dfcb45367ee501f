"""queue: our queues (queue/names.py) as Celery declares them, for either broker's settings — each queue
bound by its own name to an exchange of that name, so a task routed to a queue reaches it on Redis and
on RabbitMQ alike; the broker's settings say only what differs (RabbitMQ: topic exchanges, quorum queues)."""

from __future__ import annotations

from kombu import Exchange, Queue

from .names import QUEUES


def task_queues(exchange_type: str = "direct", queue_arguments: dict | None = None) -> list[Queue]:
    """Celery's task_queues: every queue of QUEUES, durable, behind a durable exchange of its name."""
    return [Queue(queue, Exchange(queue, type=exchange_type, durable=True), routing_key=queue, durable=True,
                  queue_arguments=queue_arguments)
            for queue in QUEUES]
