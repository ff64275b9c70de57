"""``al-bench-label DIR``: create or reopen the labeling project in DIR and serve the app on
http://127.0.0.1:PORT (printed on start) until Ctrl-C."""

from __future__ import annotations

import argparse
import fcntl
import logging
import socket
import sys
from pathlib import Path

from ..errors import UserError

__all__ = ["main", "build_parser", "remote_warning"]

DEFAULT_PORT = 8765
LOCK_FILE = ".server.lock"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="al-bench-label", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="The page: set up the project (name, labels, images, strategy), then label "
                                       "the batches it asks for; it retrains after each batch.")
    p.add_argument("project_dir", type=Path, metavar="DIR", help="the project folder (created if missing)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; another address lets other "
                        "machines label, read your images and have the server read and write files by path: "
                        "a warning says what)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    f = p.add_argument_group("your own embeddings (LabelingProject.use_features): the images' features from a file "
                             "instead of an embedder; kept in the project, so later starts need not repeat them")
    f.add_argument("--features", type=Path, metavar="FILE", help=".parquet, .npz, or .npy with --feature-ids")
    f.add_argument("--features-root", type=Path, metavar="DIR",
                   help="the folder the file's ids are relative to (default: the ids are absolute paths)")
    f.add_argument("--feature-ids", type=Path, metavar="FILE", help="an .npy's ids, one per line (or a CSV id column)")
    f.add_argument("--features-column", metavar="NAME", help="a Parquet file's vector column")
    f.add_argument("--features-name", metavar="NAME",
                   help="the pipeline's name (default: the file's name); model files import only between projects "
                        "whose features carry the same name")
    return p


def remote_warning(host: str) -> str:
    """The warning printed when serving on ``host``, a network address: what any client that
    reaches it may do, there being no password (what the API allows, as the server's user)."""
    return (f"al-bench-label: WARNING: listening on {host}, with no password: anyone who can reach it can view "
            "every image of the project and download its exports, label, checkpoint and restore, upload images "
            "and import a model file,\n  and make this server (as your user) open files by path: add any folder "
            "or CSV file it can read (then view those images) and write label exports into new folders anywhere "
            "it can write")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "; another program uses it: give --port 0 for any free port" if exc.errno == 98 else ""
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}){hint}", key="--port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        import uvicorn

        from .project import LabelingProject
        from .server import LOCAL_HOSTS, create_app

        given = [flag for flag, v in (("--features-root", args.features_root), ("--feature-ids", args.feature_ids),
                                      ("--features-column", args.features_column),
                                      ("--features-name", args.features_name)) if v is not None]
        if given and args.features is None:
            raise UserError(f"{', '.join(given)}: only with --features FILE")
        project = LabelingProject.open(args.project_dir)
        lock = open(project.folder / LOCK_FILE, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError("another al-bench-label serves this project; use its page (two servers would "
                            "queue batches twice)", key=str(project.folder)) from None
        if args.features is not None:
            spec = project.use_features(args.features, root=args.features_root, ids=args.feature_ids,
                                        column=args.features_column, name=args.features_name)
            print(f"al-bench-label: the images' features come from {spec['path']} (file:{spec['name']})", flush=True)
        sock = _bind(args.host, args.port)
        host, port = sock.getsockname()[:2]
        hosts = LOCAL_HOSTS
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(remote_warning(args.host), file=sys.stderr, flush=True)
            hosts = None  # other machines reach it by any of this machine's names or addresses
        app = create_app(project, allowed_hosts=hosts)
        shown = "127.0.0.1" if host in ("127.0.0.1", "0.0.0.0") else (f"[{host}]" if ":" in host else host)
        url = f"http://{shown}:{port}"
        print(f"al-bench-label: serving {project.folder} on {url}", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(url)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        server.run(sockets=[sock])
    except UserError as exc:
        print(f"al-bench-label: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
