#!/usr/bin/python3
"""mailsink: accept every SMTP message, keep it as a file, log one line per message.

    mailsink [--host 0.0.0.0] [--port 1025] [--dir /var/spool/mailsink]
    mailsink --check        exit 0 if the server accepts connections (the healthcheck)

Each message is stored as NNNNNN.eml (the bytes received, after two added headers naming
the SMTP envelope: X-Mailsink-From, X-Mailsink-To), written to a temporary name first, so
a reader never sees half a message.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import os
import signal
import socket
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP


class Store:
    def __init__(self, directory: Path):
        self.directory = directory
        existing = [int(p.stem) for p in directory.glob("*.eml") if p.stem.isdigit()]
        self.count = max(existing, default=0)

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        head = (f"X-Mailsink-From: {envelope.mail_from}\r\n"
                f"X-Mailsink-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        data = head + envelope.original_content
        final = self.directory / f"{self.count:06d}.eml"
        partial = self.directory / f".{self.count:06d}.eml.part"
        partial.write_bytes(data)
        os.replace(partial, final)
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        print(f"mailsink: {final.name} from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: "
              f"{msg.get('Subject', '')}", flush=True)
        return "250 Message accepted"


async def serve(host: str, port: int, directory: Path) -> None:
    loop = asyncio.get_running_loop()
    store = Store(directory)
    server = await loop.create_server(lambda: SMTP(store, enable_SMTPUTF8=True), host, port)
    print(f"mailsink: listening on {host}:{port}, storing in {directory}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> int:
    parser = argparse.ArgumentParser(description="SMTP sink that keeps every message as a file")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path("/var/spool/mailsink"))
    parser.add_argument("--check", action="store_true", help="exit 0 if the server accepts connections")
    args = parser.parse_args()
    if args.check:
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=2) as conn:
                return 0 if conn.recv(3) == b"220" else 1
        except OSError as exc:
            print(f"mailsink: not accepting connections: {exc}")
            return 1
    if not args.dir.is_dir():
        print(f"mailsink: --dir {args.dir}: not a directory", file=sys.stderr)
        return 2
    asyncio.run(serve(args.host, args.port, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
