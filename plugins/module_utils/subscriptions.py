# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The receiver's topics, in subscription order, with their STOMP subscription ids.

The one record of what the receiver subscribes; every (re)connect subscribes what is in it.
Changed only under the receiver's connection lock; ``names()`` is a snapshot that any
thread may read without it (log filters, ERROR-frame masking).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.validation import topic_name_problem


class SubscriptionTable:
    """topic -> subscription id ``zhmc-eda.<pid>.<owner id>.<n>`` (as zhmcclient names them)."""

    def __init__(self, owner: object) -> None:
        self._ids: Dict[str, str] = {}
        self._names: Tuple[str, ...] = ()
        self._counter = 0
        self._prefix = "zhmc-eda.%d.%x" % (os.getpid(), id(owner))

    def add(self, topic: str) -> Tuple[str, bool]:
        """(subscription id, whether the topic is new). ValueError for a bad topic name."""
        problem = topic_name_problem(topic)
        if problem is not None:
            raise ValueError("topic_name: %s: %r" % (problem, topic))
        sub_id = self._ids.get(topic)
        if sub_id is not None:
            return sub_id, False
        self._counter += 1
        sub_id = self._ids[topic] = "%s.%d" % (self._prefix, self._counter)
        self._names = tuple(self._ids)
        return sub_id, True

    def remove(self, topic: str) -> Optional[str]:
        """The removed topic's subscription id, or None if it was not there."""
        sub_id = self._ids.pop(topic, None)
        self._names = tuple(self._ids)
        return sub_id

    def get(self, topic: str) -> Optional[str]:
        return self._ids.get(topic)

    def items(self) -> List[Tuple[str, str]]:
        return list(self._ids.items())

    def names(self) -> Tuple[str, ...]:
        """The topics, in subscription order (an immutable snapshot)."""
        return self._names
