"""Who is a child: one definition for the roles linkage gives family members and for the
criteria that count children or adults. Change it here and both follow."""
from __future__ import annotations

# The family programmes count a member under 18 (on the reference date, or on an event's date
# where a criterion says so) as a child, and 18 or over as an adult.
ADULT_AGE = 18


def is_child(age):
    """Whether an age in whole years is a child's: a number, or a pandas Series or array of
    them (a missing age stays missing in a nullable Series, and is False in a float one)."""
    return age < ADULT_AGE
