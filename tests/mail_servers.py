"""Real mail servers for tests: Debian's Dovecot on a free loopback port with a throwaway
config, users and maildirs; and a TCP proxy in front of it that can cut connections.

    server = DovecotServer.start()                    # or the `dovecot` fixture
    account = server.add_user("support@firm.example")
    server.append(account, [raw_bytes, ...])          # imapclient MULTIAPPEND, in chunks
    ...
    server.stop()

Plaintext login is allowed (loopback only, no TLS). Run as root, the mail files belong to the
`dovecot` system user; otherwise to the user running the tests.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "mail-test-password"
APPEND_CHUNK = 500


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dovecot_available() -> bool:
    return Path(DOVECOT).exists()


@dataclass(frozen=True)
class MailAccount:
    user: str
    password: str
    host: str
    port: int

    def client(self, *, timeout: float = 30) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        client.login(self.user, self.password)
        return client


class DovecotServer:
    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.root = root
        self.port = port
        self.process = process
        self.host = "127.0.0.1"

    @classmethod
    def start(cls) -> DovecotServer:
        # Its own directory, passable for Dovecot's unprivileged processes (pytest's tmp dirs
        # are not); removed again by stop().
        root = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
        root.chmod(0o755)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("dovecot")
            uid, gid = owner.pw_uid, owner.pw_gid
            internal, login = "dovecot", "dovenull"
        else:
            uid, gid = os.getuid(), os.getgid()
            internal = login = pwd.getpwuid(uid).pw_name
        group = grp.getgrgid(gid).gr_name
        port = free_port()
        (root / "mail").mkdir(exist_ok=True)
        (root / "run").mkdir(exist_ok=True)
        # Dovecot's auth process reads this as its own user: readable whatever the umask.
        (root / "users").touch(mode=0o644)
        (root / "users").chmod(0o644)
        config = root / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/run
instance_name = crm-test-{port}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = {min(uid, 1) if uid == 0 else uid}
last_valid_uid = 0
first_valid_gid = 0
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{root}/mail/%u
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
mail_max_userip_connections = 50
mail_fsync = never
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
"""
        )
        if os.geteuid() == 0:
            shutil.chown(root / "mail", uid, gid)
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        server = cls(root, port, process)
        server._wait_ready()
        return server

    def _wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = (
                    (self.root / "dovecot.log").read_text()
                    if (self.root / "dovecot.log").exists()
                    else ""
                )
                raise RuntimeError(f"dovecot exited: {err}\n{log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn,
            ):
                if conn.recv(100).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise RuntimeError("dovecot did not start listening")

    def add_user(self, user: str, password: str = PASSWORD) -> MailAccount:
        """A new mail user, returned once Dovecot lets it sign in: Dovecot re-reads its
        passwd-file at most once a second, so a user added just after a lookup is unknown
        until the next second."""
        with (self.root / "users").open("a") as users:
            users.write(f"{user}:{{PLAIN}}{password}::::::\n")
        account = MailAccount(user, password, self.host, self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                account.client(timeout=5).logout()
                return account
            except LoginError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def append(self, account: MailAccount, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """APPEND messages (MULTIAPPEND in chunks); returns how many."""
        client = account.client()
        try:
            if folder != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            count = 0
            chunk: list[bytes] = []
            for raw in messages:
                chunk.append(raw)
                if len(chunk) >= APPEND_CHUNK:
                    client.multiappend(folder, chunk)
                    count += len(chunk)
                    chunk = []
            if chunk:
                client.multiappend(folder, chunk)
                count += len(chunk)
            return count
        finally:
            client.logout()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


class CuttingProxy:
    """A loopback TCP proxy to `target_port`. `cut_after(n)` closes every connection once `n`
    more bytes went from the server to the client (once), as a network drop would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._budget: int | None = None
        self._lock = threading.Lock()
        self.cuts = 0
        self._conns: list[socket.socket] = []
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, server_bytes: int) -> None:
        with self._lock:
            self._budget = server_bytes

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_server:
                    with self._lock:
                        if self._budget is not None:
                            self._budget -= len(data)
                            if self._budget <= 0:
                                self._budget = None
                                self.cuts += 1
                                raise OSError("cut")
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._running = False
        with contextlib.suppress(OSError):
            self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()


def simple_message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A small RFC 5322 text message as bytes."""
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Tue, 01 Dec 2026 09:00:00 +0000",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append("References: " + " ".join(references))
    lines += [f"{name}: {value}" for name, value in extra_headers]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


def make_mailbox(account: MailAccount, **overrides: object) -> int:
    """A mailbox row (through the service, as a manager would) reading `account`; also makes
    an agent so the firm has staff. Returns the mailbox id."""
    from crm_app.services import mailboxes
    from tests.factories import first_manager, make_user

    make_user("agent")
    form = {
        "name": "Client service",
        "address": account.user,
        "imap_host": account.host,
        "imap_port": account.port,
        "imap_security": "none",
        "imap_user": account.user,
        "imap_password": account.password,
        "imap_folders": "INBOX",
        "poll_seconds": 60,
        **overrides,
    }
    return mailboxes.save_mailbox(first_manager(), None, form).id
