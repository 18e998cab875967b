"""`rag ui`, registered through the ``rag.commands`` entry point; registering it imports no gradio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub, common) -> None:
    """Add `rag ui` (the `rag.commands` entry point)."""
    p = sub.add_parser("ui", parents=[common], help="start the chat UI in the browser (Gradio)",
                       description="Serve the chat UI. Off loopback (--host 0.0.0.0, --share) it asks for a login: "
                       "RAG_UI_USERNAME and RAG_UI_PASSWORD, or --auth-file.")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (off unless asked)")
    login = p.add_mutually_exclusive_group()
    login.add_argument("--auth-file", type=Path, metavar="FILE",
                       help="user:password lines, one per user (keep it chmod 600); adds to RAG_UI_USERNAME/RAG_UI_PASSWORD")
    login.add_argument("--no-auth", action="store_true",
                       help="serve off loopback with no login: anyone who reaches it can ingest files and spend your API key")
    p.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    from rag.cli import load_settings

    from .access import is_loopback, resolve_auth

    settings = load_settings(args, sample_on_empty=False)  # the UI offers the sample instead of loading it
    auth = resolve_auth(settings, args.host, args.share, auth_file=args.auth_file, no_auth=args.no_auth)
    if args.no_auth and (args.share or not is_loopback(args.host)):
        print(f"warning: --no-auth: anyone who can reach http://{args.host}:{args.port}"
              f"{' or the public link' if args.share else ''} can ingest files and ask questions on your API key.",
              file=sys.stderr)
    from rag.engine import Engine

    from .app import launch

    engine = Engine(settings, notify=_notify)
    login = f", login required for {len(auth)} user(s)" if auth else ""
    print(f"Starting the chat UI on http://{args.host}:{args.port}{login} (Ctrl+C stops it)", file=sys.stderr)
    launch(engine, host=args.host, port=args.port, share=args.share, block=True, auth=auth)
    return 0


def _notify(msg: str) -> None:
    """Engine notices (e.g. "Loading local model …") on stderr, and as a toast when a browser request caused them."""
    print(msg, file=sys.stderr)
    import gradio as gr

    try:
        gr.Info(msg)  # outside an event handler Gradio only logs it
    except Exception:  # noqa: BLE001 - a notice must never break an answer
        pass

