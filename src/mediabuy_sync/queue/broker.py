"""queue: the Redis broker transport, with one fix — a worker must outlive a Redis outage.

kombu 5.7.0: when the worker's consumer loses Redis, celery closes the broken connection, and the
channel's close tries to restore the unacknowledged messages — through a Redis client it builds from
a connection already released, which raises AttributeError ('NoneType' object has no attribute
'hostname'). That is not a connection error, so celery takes it for "Unrecoverable" and the worker
exits (tests/faults/test_process_faults.py, the Redis stop). With Redis gone nothing could be
restored anyway: the messages stay in Redis's unacked set, which the transport restores after the
visibility timeout, and our sweepers re-enqueue their work well before that (rule 5).
"""

from __future__ import annotations

import logging

from kombu.transport import redis

log = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client=None):
        try:
            return super().restore_unacked(client)
        except AttributeError as exc:  # the connection is gone: see the module's docstring
            log.warning("unacked messages not restored at close (%s); the visibility timeout and the "
                        "sweepers bring them back", exc)
            self._delivered.clear()


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
