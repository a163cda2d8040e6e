"""A group's task graph: validate ids and dependencies at submission, then track readiness.

`validate_dag` rejects duplicate ids, unknown dependencies and cycles, naming the task ids so
the caller can fix its input. `TaskGraph` answers which tasks are ready, which must be skipped
because a dependency did not succeed, and each task's bottom level (the longest chain of work
still behind it), which the scheduler uses to break priority ties toward the critical path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from server.errors import InputError

__all__ = ["SUCCESS", "TERMINAL", "TaskGraph", "ancestors_in", "bottom_levels", "validate_dag"]

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out", "skipped"})
SUCCESS = "succeeded"


def validate_dag(ids: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """Check the graph and return the ids in a topological order (stable w.r.t. `ids`).

    Raises:
        InputError: a duplicate id, a dependency on an unknown id or on itself, or a cycle
            (the message names the tasks on the cycle).
    """
    seen: set[str] = set()
    for index, task_id in enumerate(ids):
        if task_id in seen:
            raise InputError(f"tasks[{index}].id", f"duplicate task id {task_id!r}", "unique ids per group")
        seen.add(task_id)
    for index, task_id in enumerate(ids):
        for dep in depends_on.get(task_id, ()):
            if dep == task_id:
                raise InputError(f"tasks[{index}].depends_on", f"task {task_id!r} depends on itself")
            if dep not in seen:
                raise InputError(
                    f"tasks[{index}].depends_on",
                    f"task {task_id!r} depends on unknown task {dep!r}",
                    "ids of other tasks in the same group",
                )
    order = _topological(ids, depends_on)
    if len(order) < len(ids):
        cycle = _find_cycle([i for i in ids if i not in set(order)], depends_on)
        raise InputError(
            "tasks.depends_on",
            "dependency cycle: " + " -> ".join(cycle),
            "an acyclic graph (a task may only depend on tasks that do not depend on it)",
        )
    return order


def _topological(ids: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    indegree = {task_id: len(set(depends_on.get(task_id, ()))) for task_id in ids}
    dependents: dict[str, list[str]] = {task_id: [] for task_id in ids}
    for task_id in ids:
        for dep in set(depends_on.get(task_id, ())):
            dependents[dep].append(task_id)
    ready = deque(task_id for task_id in ids if indegree[task_id] == 0)
    order: list[str] = []
    while ready:
        current = ready.popleft()
        order.append(current)
        for child in dependents[current]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order


def _find_cycle(remaining: Sequence[str], depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle among `remaining` (every node there lies on or behind a cycle)."""
    left = set(remaining)
    node = remaining[0]
    path: list[str] = []
    position: dict[str, int] = {}
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = next(dep for dep in depends_on.get(node, ()) if dep in left)
    # `path` walks from a task to what it depends on; show it in execution order.
    cycle = path[position[node] :] + [node]
    return list(reversed(cycle))


def bottom_levels(ids: Iterable[str], depends_on: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Number of tasks on the longest chain starting at each task (1 for a sink)."""
    id_list = list(ids)
    order = _topological(id_list, depends_on)
    dependents: dict[str, list[str]] = {task_id: [] for task_id in id_list}
    for task_id in id_list:
        for dep in depends_on.get(task_id, ()):
            dependents[dep].append(task_id)
    level: dict[str, int] = {}
    for task_id in reversed(order):
        level[task_id] = 1 + max((level[c] for c in dependents[task_id]), default=0)
    return level


@dataclass
class TaskGraph:
    """Readiness bookkeeping for one group (ids are the group's task ids).

    Every question about one task costs O(its dependencies); `done` and `all_succeeded` are O(1):
    `mark` keeps the counts of finished and succeeded tasks and, per task, of dependencies not
    yet succeeded.
    """

    depends_on: dict[str, tuple[str, ...]]
    status: dict[str, str] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)
    _unmet: dict[str, int] = field(default_factory=dict)
    _terminal: int = 0
    _succeeded: int = 0

    @classmethod
    def build(cls, depends_on: Mapping[str, Sequence[str]], status: Mapping[str, str]) -> TaskGraph:
        graph = cls(depends_on={k: tuple(v) for k, v in depends_on.items()}, status=dict(status))
        graph.dependents = {task_id: [] for task_id in graph.depends_on}
        for task_id, deps in graph.depends_on.items():
            for dep in deps:
                graph.dependents[dep].append(task_id)
        graph._unmet = {
            task_id: sum(1 for dep in deps if graph.status.get(dep) != SUCCESS)
            for task_id, deps in graph.depends_on.items()
        }
        graph._terminal = sum(1 for state in graph.status.values() if state in TERMINAL)
        graph._succeeded = sum(1 for state in graph.status.values() if state == SUCCESS)
        return graph

    def is_ready(self, task_id: str) -> bool:
        """Every dependency succeeded and the task itself has not finished."""
        return self.status.get(task_id) not in TERMINAL and self._unmet.get(task_id, 0) == 0

    def blocked_by_failure(self, task_id: str) -> str | None:
        """The first dependency that finished without success, if any."""
        for dep in self.depends_on[task_id]:
            state = self.status.get(dep)
            if state in TERMINAL and state != SUCCESS:
                return dep
        return None

    def mark(self, task_id: str, status: str) -> None:
        old = self.status.get(task_id)
        if old == status:
            return
        self.status[task_id] = status
        self._terminal += (status in TERMINAL) - (old in TERMINAL)
        change = (status == SUCCESS) - (old == SUCCESS)
        if change:
            self._succeeded += change
            for child in self.dependents.get(task_id, ()):
                self._unmet[child] -= change

    def children(self, task_id: str) -> list[str]:
        return self.dependents.get(task_id, [])

    def blocked_behind(self, task_id: str) -> list[tuple[str, str]]:
        """What must be skipped when `task_id` finishes without success: every unfinished task
        downstream of it, each with the dependency that blocks it, parents before children."""
        out: list[tuple[str, str]] = []
        seen = {task_id}
        frontier = deque([task_id])
        while frontier:
            parent = frontier.popleft()
            for child in self.dependents.get(parent, ()):
                if child not in seen and self.status.get(child) not in TERMINAL:
                    seen.add(child)
                    out.append((child, parent))
                    frontier.append(child)
        return out

    def finished_count(self) -> int:
        return self._terminal

    def done(self) -> bool:
        return self._terminal == len(self.status)

    def all_met_but(self, task_id: str, dependency: str) -> bool:
        """Every dependency of `task_id` succeeded except, perhaps, `dependency` (about to)."""
        return self._unmet.get(task_id, 0) - (self.status.get(dependency) != SUCCESS) == 0

    def all_succeeded_but(self, task_id: str) -> bool:
        """Every task other than `task_id` succeeded."""
        return self._succeeded - (self.status.get(task_id) == SUCCESS) == len(self.status) - 1

    def all_succeeded(self) -> bool:
        return self._succeeded == len(self.status)


def ancestors_in(key: str, depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """Every task `key` depends on, directly or not, each after its own dependencies."""
    order: list[str] = []

    def visit(k: str) -> None:
        for dep in depends_on.get(k, ()):
            if dep not in order:
                visit(dep)
                order.append(dep)

    visit(key)
    return order
