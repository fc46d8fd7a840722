"""Options that take every following argument up to the next option, so that
``--examples a.jpg b.jpg c/`` works as in the docs (``--examples a --examples b`` too).

Click options take one value each. Rather than patch Click's private parser, a
:class:`GreedyCommand` rewrites its arguments before the ordinary parsing, through the
public ``Command.parse_args``: ``--examples a b`` becomes ``--examples a --examples b``.
"""

from __future__ import annotations

from typing import Any

import click


class GreedyOption(click.Option):
    """A repeatable option whose values run on until the next option (``-...``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)


class GreedyCommand(click.Command):
    """A command that expands its :class:`GreedyOption` values before Click parses them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        names = {name for p in self.params if isinstance(p, GreedyOption) for name in p.opts}
        return super().parse_args(ctx, expand_greedy(args, names))


def expand_greedy(args: list[str], names: set[str]) -> list[str]:
    """``[--examples, a, b, --x]`` -> ``[--examples, a, --examples, b, --x]`` for the
    option names in ``names``; the first value is taken as Click would take it, ``--``
    ends option parsing as usual."""
    out: list[str] = []
    greedy: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if greedy is not None and not arg.startswith("-"):
            out += [greedy, arg]
            i += 1
            continue
        greedy = None
        name, eq, _ = arg.partition("=")
        if name in names:
            greedy = name
            if not eq and i + 1 < len(args):  # its first value, whatever it looks like
                out += [arg, args[i + 1]]
                i += 2
                continue
        out.append(arg)
        i += 1
    return out
