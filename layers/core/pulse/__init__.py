"""Pulse: real-time user profiles and recommendations (shared Lambda layer).

Layout:
- ``pulse.domain``   pure, typed domain code: events, profiles, segments, risk (no AWS, no I/O).
- ``pulse.adapters`` the only code that talks to AWS (pynamodb models, boto3 clients).
- ``pulse.services`` one use case per function, called by the handlers; they join domain and adapters.
- ``pulse.config``   every environment variable the functions read, in one place.
"""

__version__ = "0.1.0"
