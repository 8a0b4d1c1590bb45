"""Calendar facts the stages share. On the ground floor so that the criteria (school terms) and
the sample generator (synth) read one Easter."""
from __future__ import annotations

import datetime as dt

from dateutil.easter import EASTER_WESTERN, easter


def easter_sunday(year: int) -> dt.date:
    """Western (Gregorian) Easter Sunday, which ends the spring term of the school census."""
    return easter(year, EASTER_WESTERN)
