"""Running a session: the scheduler and everything it drives.

Owns the asyncio scheduler, a state machine whose methods include the control calls, and
its task records (``scheduler``, ``task_runs``, ``ready_queue``), turning specs into jobs
(``jobs``), the executors and the process groups they start (``executors``, ``processes``),
resource pools and the usage monitor (``resources``), the event bus and the typed payloads
of its events (``events``, ``event_data``), the API's event-loop thread (``engine_thread``)
and owner-only files and folders (``private_files``). It may import
:mod:`formicary.model`; the store listens to its events from above.
"""
