"""The local stack's alert receiver: Alertmanager's webhook target in compose mode.

It records every notification it is sent (one JSON line each, the payload as Alertmanager
posted it plus the time it arrived) and serves the file read-only. In production the
operator's own receivers take its place; the drills (``shadow-mvs drill``) read this file
to prove an alert reached someone. Standard library only, like the exporter's parts.
"""
