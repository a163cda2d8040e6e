"""The scheduler: plan a group of tasks, run them in parallel, and keep their state.

    types      the plain records a submission arrives as and a plan is kept as
    planner    submission -> routed task plans (`plan_task`, shared with `route_task`'s preview)
    dag        dependency checks and readiness
    engine     owns running groups; stores each change before it is reported; wakes waiters
    gate       who may send a model call now: concurrency, priority, provider and model limits
    ratelimit  request / token budgets per provider and model, tightened by response headers
    runner     one task's attempt loop: retry, fall back along the chain, escalate the variant
    retry      what to do after a failure, by class
    prompt     the messages a task sends and their token count
    validated  check an answer's patch in a temporary worktree before it is accepted
    status     a group's status as plain records (read from the store)
    ports      what the scheduler needs from the provider layer (a Protocol)

Nothing here knows MCP: the tools call `Engine` and shape its records.
"""
