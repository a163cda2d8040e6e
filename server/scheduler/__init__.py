"""The scheduler: runs groups of tasks over the providers.

    engine.py     owns running groups, the only writer of task state; submit / cancel / resume
    planner.py    routes every task of a submission; `plan_task` is also `route_task`'s dry run
    runner.py     one task's attempt loop: candidates, permits, calls, retries, escalation
    gate.py       who may call now: concurrency, rate limiters, cool-downs, priority order
    dag.py        dependency validation and readiness bookkeeping
    retry.py      what to do after a failed call, by failure class; the candidate chain
    ratelimit.py  request / token budgets and cool-downs (pure bookkeeping)
    status.py     a group's status read from the store
    ports.py      the Protocols the scheduler depends on (providers, observer, task events)
"""
