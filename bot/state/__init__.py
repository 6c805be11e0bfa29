"""The task state machine and the reconcile decision. Pure: observed states in, typed actions
out; no network, no git, no clock.

- `transitions`: which status may follow which (the diagram), and what `retry` and `cancel`
  make of a task.
- `policy`: the numbers the decision needs beyond the plan (`Policy`, `Retry`).
- `actions`: what a decision asks the engine to do (`Decision`, `Requeue`, `Restart`).
- `overlap`: the files a task likely touches or was seen changing, and where two tasks share one.
- `failures`: lost agents, and the ended tasks that go back to `planned` (retries, redos, waits
  behind work a failure may have needed).
- `schedule`: the merge order in effect, and what to block, land and launch.
- `decide`: the whole decision (`decide`), and the running agents to stop early (`restarts`).
"""
