"""What the client sees of the server: which tools are offered, and argument errors in our words.

`TOOL_MODULES` lists the modules that register tools (each has `register(mcp)`), in the order
`tools/list` shows them. `register_tools` registers them all, then keeps the four core tools
plus what `Settings.tools` enables (`PWM_TOOLS`, `[server] tools`): "all", or tool names.

`ToolServer` is the SDK's `MCPServer` with these additions: a tool may take its arguments as one
pydantic model (`add_model_tool`: the model is the published input schema, flat, as the client
sends it); the offered tools' schemas are compacted (`tools._schema`) so `tools/list` stays
small; an argument no tool parameter takes is refused, never dropped; an argument that fails
validation is reported like every other input error (field, problem, accepted values, the
argument probably meant) instead of pydantic's raw text with its links; and an unknown group or
task id is reported naming the argument that carried it and where valid ones are found.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError

from server.errors import ConfigError, NotFoundError
from server.state import AppState
from tools._schema import compact_schema

__all__ = ["CORE_TOOLS", "TOOL_MODULES", "ToolServer", "describe_validation_error", "nearest_names", "register_tools"]

# Each module exposes `register(mcp)`; the order is the order tools are listed.
TOOL_MODULES: tuple[str, ...] = (
    "tools.submit_parallel_tasks",
    "tools.get_parallel_group_status",
    "tools.list_groups",
    "tools.cancel_parallel_group",
    "tools.route_task",
    "tools.validate_workspace",
    "tools.apply_validated_patch",
    "tools.performance",
    "tools.plan_milestone",
    "tools.continue_task",
)
CORE_TOOLS: tuple[str, ...] = (
    "submit_parallel_tasks", "get_parallel_group_status", "route_task", "validate_workspace",
)


class _ModelArguments(ArgModelBase):
    """Arguments validated as the tool's input model and handed to it whole, as `args`."""

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"args": self}


class ToolServer(MCPServer[AppState]):
    """`MCPServer` whose tools may take one input model and whose argument errors read plainly."""

    # While `register_tools` runs: the names to build (None: all). A tool not offered is only
    # named, not built: building its schemas is most of the work of listing tools at start-up.
    _building: frozenset[str] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._tool_names: list[str] = []  # every tool registered, offered or not, in order
        super().__init__(*args, **kwargs)

    def add_tool(self, fn: Callable[..., Any], name: str | None = None, *args: Any, **kwargs: Any) -> None:
        tool_name = name or fn.__name__
        self._tool_names.append(tool_name)
        if self._building is None or tool_name in self._building:
            super().add_tool(fn, tool_name, *args, **kwargs)
            tool = self._tool_manager.get_tool(tool_name)
            if tool is not None:
                # An argument the tool does not take is an error, as with a model tool: dropped
                # silently, a misspelt `strategy` would run the group under the default strategy.
                loose = tool.fn_metadata.arg_model
                tool.fn_metadata.arg_model = type(loose.__name__, (loose,), {
                    "model_config": ConfigDict(extra="forbid"), "__module__": loose.__module__,
                    "__doc__": loose.__doc__})

    def add_model_tool(
        self, fn: Callable[..., Any], input_model: type[BaseModel], *, name: str, title: str,
        annotations: ToolAnnotations, meta: dict[str, Any] | None = None,
    ) -> None:
        """Add `fn(ctx, args: input_model)` with `input_model`'s fields as the tool's arguments."""
        self.add_tool(fn, name=name, title=title, annotations=annotations, meta=meta, structured_output=True)
        tool = self._tool_manager.get_tool(name)
        if tool is None:  # not offered (see `_building`)
            return
        arguments: type[ArgModelBase] = type(
            f"{input_model.__name__}Arguments", (input_model, _ModelArguments),
            {"model_config": ConfigDict(title=f"{name}Arguments"), "__module__": input_model.__module__,
             "__doc__": input_model.__doc__},
        )
        # FuncMetadata reads arg_model at each call ("reassigning them later takes effect").
        tool.fn_metadata.arg_model = arguments
        tool.parameters = arguments.model_json_schema(by_alias=True)

    def offer_only(self, enabled: tuple[str, ...]) -> None:
        """Keep the core tools plus the `enabled` names ("all": every tool), in compact form.

        Raises:
            ConfigError: `enabled` names a tool that does not exist.
        """
        tools = self._tool_manager.list_tools()
        everything = list(self._tool_names)
        wanted = set(enabled) - {"core", "all"}
        unknown = sorted(wanted - set(everything))
        if unknown:
            raise ConfigError(
                f"tools (PWM_TOOLS): unknown tool {unknown[0]!r}; accepted: core, all, {', '.join(everything)}"
            )
        for tool in tools:
            if "all" not in enabled and tool.name not in CORE_TOOLS and tool.name not in wanted:
                self.remove_tool(tool.name)
                continue
            tool.description = inspect.cleandoc(tool.description)
            if tool.annotations is not None and tool.annotations.title == tool.title:
                tool.annotations = tool.annotations.model_copy(update={"title": None})  # said once, as the tool's
            tool.parameters = compact_schema(tool.parameters)
            # Read (and cached) by `tools/list` only after this; structured results are validated
            # against the output model, not this schema.
            tool.fn_metadata.output_schema = compact_schema(tool.fn_metadata.output_schema, output=True)
            tool.__dict__.pop("output_schema", None)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                tool = self._tool_manager.get_tool(name)
                model = tool.fn_metadata.arg_model if tool is not None else None
                raise ToolError(f"Error executing tool {name}: {describe_validation_error(exc.__cause__, model)}") from exc
            missing = _not_found(exc)
            if missing is not None and missing.kind is not None:
                raise ToolError(f"Error executing tool {name}: {self._not_found_text(missing, arguments)}") from exc
            raise

    def _not_found_text(self, missing: NotFoundError, arguments: dict[str, Any]) -> str:
        """`<argument>: no group with id or name 'x' (<where valid ones are found>)`."""
        field = next((key for key, value in arguments.items() if value == missing.key), None)
        if missing.kind == "group":
            where = ("list_groups lists recent groups with their ids and names" if self._tool_manager.get_tool("list_groups")
                     else "the group_id is in submit_parallel_tasks' reply; list_groups (offered with "
                     "PWM_TOOLS=list_groups or all) lists recent groups")
        else:
            where = "task ids are each task's task_id in the reply of get_parallel_group_status or submit_parallel_tasks"
        return f"{field + ': ' if field else ''}{missing} ({where})"


def describe_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Each problem as `field: problem (accepted: ...)`, without pydantic's links or input echo.
    Given the arguments' model, an unknown argument is answered with the names accepted where it
    was given, the nearest first (`strategy` -> did you mean `routing_strategy`?)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"]) or "arguments"
        problem = str(error["msg"]).removeprefix("Value error, ")
        accepted = _accepted(error)
        note = f"accepted: {accepted}" if accepted else ""
        if error["type"] == "extra_forbidden" and model is not None:
            problem, note = "unknown argument", _argument_hint(model, error["loc"]) or note
        parts.append(f"{field}: {problem}" + (f" ({note})" if note else ""))
    return "invalid arguments: " + "; ".join(parts)


def nearest_names(given: str, names: list[str]) -> list[str]:
    """The names `given` probably meant, best first (at most two): one holding it or held in it,
    then the closest spellings (`strategy` -> `routing_strategy`, `chekcs` -> `checks`)."""
    given = given.lower()
    near = [n for n in names if given and (given in n.lower() or n.lower() in given)]
    near += [n for n in difflib.get_close_matches(given, names, n=2, cutoff=0.6) if n not in near]
    return near[:2]


def _argument_hint(model: type[BaseModel], loc: tuple[int | str, ...]) -> str | None:
    """For the unknown argument at `loc`: the one probably meant, else the names accepted there."""
    here: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list: its type was taken with the list's field
        field = here.model_fields.get(part) if isinstance(here, type) and issubclass(here, BaseModel) else None
        here = _model_in(field.annotation) if field is not None else None
        if here is None:
            return None
    names = [f.alias or n for n, f in here.model_fields.items()]
    near = nearest_names(str(loc[-1]), names)
    if near:
        return f"did you mean {' or '.join(near[:2])}?"
    return "accepted: " + ", ".join(names)


def _not_found(exc: BaseException) -> NotFoundError | None:
    """The `NotFoundError` behind a tool's error (the SDK wraps ours once more), if any."""
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, NotFoundError):
        cause = cause.__cause__
    return cause


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds: itself, or inside Optional / list / Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_in(typing.get_args(annotation)[0])
    if origin in (list, tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _accepted(error: Any) -> str | None:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if "expected" in ctx:
        return str(ctx["expected"])
    bounds = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = [f"{sign} {ctx[key]}" for key, sign in bounds.items() if key in ctx]
    if found:
        return " and ".join(found)
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"at least {ctx.get('min_length')} character(s)"
    if kind in ("too_long", "too_short"):
        return f"{ctx.get('min_length', 0)} to {ctx.get('max_length', 'any number of')} items"
    if kind == "extra_forbidden":
        return "only the documented arguments"
    if kind == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern')}"
    return {"bool_type": "true or false", "bool_parsing": "true or false", "int_type": "an integer",
            "int_parsing": "an integer", "float_type": "a number", "float_parsing": "a number",
            "string_type": "a string", "list_type": "a list", "dict_type": "an object",
            "model_type": "an object", "missing": None}.get(kind)


def register_tools(mcp: ToolServer, enabled: tuple[str, ...] = ("core",)) -> None:
    """Register every tool, then keep the core ones plus those `enabled` names ("all": every tool).

    Raises:
        ConfigError: `enabled` names a tool that does not exist.
    """
    mcp._building = None if "all" in enabled else frozenset(CORE_TOOLS) | set(enabled)
    try:
        for module_name in TOOL_MODULES:
            importlib.import_module(module_name).register(mcp)
    finally:
        mcp._building = None
    mcp.offer_only(enabled)
