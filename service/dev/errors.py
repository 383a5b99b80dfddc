"""Errors of the developer tools. The tree::

    InputError                the input cannot be evaluated (missing file, not JSON, not a Bundle or a request,
                              no draft order, required data missing); the message is shown on one line
"""

from __future__ import annotations


class InputError(Exception):
    """The input cannot be evaluated; the message is shown on one line."""
