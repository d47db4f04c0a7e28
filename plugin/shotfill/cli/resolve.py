"""``shotfill resolve install|uninstall|scan|run``.

``install``/``uninstall`` manage the launchers in Resolve's Scripts folder.
``scan``/``run`` are the engine the launchers call (see
:mod:`shotfill.resolve.engine`); they take a snapshot written by a launcher.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from shotfill.cli.parser import Parser
from shotfill.errors import ShotFillError


def add_resolve_parser(sub: "argparse._SubParsersAction[Parser]") -> argparse.ArgumentParser:
    """Add the ``resolve`` command group to ``sub`` (the ``shotfill`` subparsers)."""
    rp = sub.add_parser("resolve", help="DaVinci Resolve: install the Scripts-menu launchers; the launchers' engine",
                        description="Install ShotFill into DaVinci Resolve's Workspace > Scripts menu, "
                                    "or run the engine the launchers call.")
    rsub = rp.add_subparsers(dest="resolve_command", required=True, parser_class=type(rp))

    ip = rsub.add_parser("install", help="write the launchers into Resolve's Scripts/Edit folder")
    ip.add_argument("--dest", type=Path, help="write into this folder instead of Resolve's")
    ip.add_argument("--system", action="store_true", help="install for all users (needs administrator rights)")
    ip.add_argument("--launcher", choices=["both", "python", "lua"], default="both",
                    help="which launcher: python (Studio; free edition up to 21.0), lua (any edition), "
                         "or both (default)")

    up = rsub.add_parser("uninstall", help="remove the launchers install wrote")
    up.add_argument("--dest", type=Path, help="the folder given to install --dest")
    up.add_argument("--system", action="store_true", help="the all-users folder")

    for name, text in (("scan", "engine: the placeholders and plans of a snapshot (for the launchers)"),
                       ("run", "engine: generate and conform a snapshot's placeholders (for the launchers)")):
        ep = rsub.add_parser(name, help=text)
        ep.add_argument("--in", dest="snapshot", type=Path, required=True, help="snapshot JSON from a launcher")
        ep.add_argument("--out", type=Path, required=True, help="where to write the report JSON")
        ep.add_argument("--config", type=Path, help="a shotfill.toml to use")
        ep.add_argument("--provider", help="override the snapshot's provider")
        ep.add_argument("--model", help="override the snapshot's model")
    return rp


def run_resolve_command(args: argparse.Namespace) -> int:
    cmd = args.resolve_command
    if cmd in ("scan", "run"):
        from shotfill.resolve.engine import engine_main   # the engine (pipeline, providers): only when run
        return engine_main(cmd, args.snapshot, args.out, config=args.config, provider=args.provider,
                           model=args.model)
    from shotfill.resolve import install as inst   # install and uninstall only: not for other commands
    if cmd == "install":
        written = inst.install(dest=args.dest, system=args.system, launcher=args.launcher)
        for p in written:
            print(f"wrote {p}")
        print("restart Resolve, then pick Workspace > Scripts > ShotFill on the Edit page"
              + (" (free edition 21.1 and later: 'ShotFill Lua')" if len(written) > 1 else ""))
        return 0
    removed = inst.uninstall(dest=args.dest, system=args.system)
    for p in removed:
        print(f"removed {p}")
    if not removed:
        print("no ShotFill launcher found there; nothing removed")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m shotfill.resolve ...``."""
    p = Parser(prog="python -m shotfill.resolve")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_resolve_parser(sub)
    from shotfill.system.children import stopping_like_ctrl_c

    try:
        with stopping_like_ctrl_c():
            args = p.parse_args(["resolve", *(sys.argv[1:] if argv is None else argv)])
            return run_resolve_command(args)
    except ShotFillError as exc:
        print(f"shotfill: error: {exc}", file=sys.stderr)
        return exc.exit_code
