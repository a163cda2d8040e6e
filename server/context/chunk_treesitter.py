"""Cut JavaScript, TypeScript, Go and Rust source at symbol boundaries with tree-sitter.

The grammars come from the tree-sitter project's own wheels (`tree-sitter-javascript`,
`-typescript`, `-go`, `-rust`). When a grammar is not installed, `chunk_treesitter` returns
None and the caller falls back to line windows.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from server.context.types import Chunk

__all__ = ["LANGUAGES", "chunk_treesitter"]

# extension -> (module, function returning the language capsule)
LANGUAGES: dict[str, tuple[str, str]] = {
    ".js": ("tree_sitter_javascript", "language"),
    ".jsx": ("tree_sitter_javascript", "language"),
    ".mjs": ("tree_sitter_javascript", "language"),
    ".cjs": ("tree_sitter_javascript", "language"),
    ".ts": ("tree_sitter_typescript", "language_typescript"),
    ".mts": ("tree_sitter_typescript", "language_typescript"),
    ".cts": ("tree_sitter_typescript", "language_typescript"),
    ".tsx": ("tree_sitter_typescript", "language_tsx"),
    ".go": ("tree_sitter_go", "language"),
    ".rs": ("tree_sitter_rust", "language"),
}

# Nodes that are one definition each; those in _CONTAINERS are split into their members when large.
_DEFINITIONS = frozenset({
    "function_declaration", "generator_function_declaration", "class_declaration", "abstract_class_declaration",
    "method_definition", "interface_declaration", "type_alias_declaration", "enum_declaration",
    "lexical_declaration", "variable_declaration", "export_statement", "module", "internal_module",
    "method_declaration", "type_declaration", "const_declaration", "var_declaration",
    "function_item", "impl_item", "struct_item", "enum_item", "trait_item", "mod_item", "macro_definition",
    "const_item", "static_item", "type_item", "union_item",
})
_CONTAINERS = frozenset({
    "class_declaration", "abstract_class_declaration", "impl_item", "trait_item", "mod_item",
    "export_statement", "class_body", "declaration_list", "module", "internal_module", "statement_block",
})
MAX_LINES = 120


@functools.cache
def _parser(extension: str) -> Any | None:
    spec = LANGUAGES.get(extension)
    if spec is None:
        return None
    try:
        import tree_sitter

        module = importlib.import_module(spec[0])
        return tree_sitter.Parser(tree_sitter.Language(getattr(module, spec[1])()))
    except Exception:  # grammar missing or incompatible: line windows instead
        return None


def _name(node: Any) -> str:
    named = node.child_by_field_name("name")
    if named is None:
        for child in node.named_children:
            if child.type in ("variable_declarator", "type_spec", "const_spec", "var_spec"):
                named = child.child_by_field_name("name")
                break
            if child.type in _DEFINITIONS:
                return _name(child)
    if named is None and node.type == "impl_item":
        named = node.child_by_field_name("type")
    return named.text.decode("utf-8", "replace") if named is not None and named.text else ""


def _members(node: Any) -> list[Any]:
    for child in node.named_children:
        if child.type in ("class_body", "declaration_list", "statement_block"):
            return list(child.named_children)
        if child.type in _CONTAINERS and child.type not in ("class_body", "declaration_list"):
            return _members(child)
    return []


def _cut(nodes: list[Any], lines: list[str], prefix: str, out: list[Chunk]) -> None:
    for node in nodes:
        start, end = node.start_point[0] + 1, node.end_point[0] + 1
        if node.type not in _DEFINITIONS:
            out.append(Chunk(start, end, "module", prefix.rstrip(".")))
            continue
        name = _name(node)
        qualified = prefix + name if name else prefix.rstrip(".")
        signature = lines[start - 1].strip()[:200]
        members = _members(node) if node.type in _CONTAINERS else []
        if end - start + 1 > MAX_LINES and members:
            first = members[0].start_point[0] + 1
            out.append(Chunk(start, max(start, first - 1), "class", qualified, signature, (name,) if name else ()))
            _cut(members, lines, qualified + "." if qualified else "", out)
        else:
            kind = "method" if prefix else "function"
            out.append(Chunk(start, end, kind, qualified, signature, (name,) if name else ()))


def chunk_treesitter(text: str, extension: str) -> list[Chunk] | None:
    """Chunks of a file in a tree-sitter language, or None when no grammar is available."""
    parser = _parser(extension)
    if parser is None:
        return None
    tree = parser.parse(text.encode("utf-8"))
    lines = text.split("\n")
    out: list[Chunk] = []
    _cut(list(tree.root_node.named_children), lines, "", out)
    return out
