#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) on loopback for crier's tests and benchmark.

Stores each accepted message byte-exact in a Maildir (<dir>/new) with its
envelope in <dir>/envelopes/<key>.json, or discards it (--discard). Prints
"ready <port>" once listening and "accepted <n>" after each message, so a
test can wait on what happened instead of sleeping.

Faults for tests: --reject-rcpt S (550 for recipients containing S),
--tempfail-rcpt S (451), --close-every N (every Nth message of a session is
answered 421 and the connection closed).

Security for tests: --tls-cert/--tls-key with --starttls (STARTTLS offered
and required before MAIL) or --implicit-tls (TLS from the first byte);
--auth-env NAME (AUTH PLAIN/LOGIN required; the variable holds user:password,
so no secret is on a command line). The envelope file records whether the
session was over TLS and authenticated.
"""
import argparse
import asyncio
import json
import logging
import mailbox
import os
import signal
import ssl
import sys
import threading
import warnings

# aiosmtpd warns about its own deprecated attribute when AUTH is enabled.
warnings.filterwarnings("ignore", message="Session.login_data")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.lock = threading.Lock()
        self.md = None
        if args.maildir:
            self.md = mailbox.Maildir(args.maildir, create=True)
            self.envdir = os.path.join(args.maildir, "envelopes")
            os.makedirs(self.envdir, exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.args.reject_rcpt and self.args.reject_rcpt in address:
            return "550 5.1.1 <%s>: no such user here" % address
        if self.args.tempfail_rcpt and self.args.tempfail_rcpt in address:
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = getattr(session, "crier_messages", 0) + 1
        session.crier_messages = n
        if self.args.close_every and n % self.args.close_every == 0:
            # The server is going away: the message is not accepted.
            asyncio.get_event_loop().call_soon(server.transport.close)
            return "421 4.3.2 closing connection, try again"
        if self.md is not None:
            key = self.md.add(envelope.original_content or b"")
            with open(os.path.join(self.envdir, key + ".json"), "w") as f:
                json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       # session.ssl is set by STARTTLS only; implicit TLS
                       # shows on the transport.
                       "tls": session.ssl is not None
                       or server.transport.get_extra_info("ssl_object") is not None,
                       "authenticated": bool(session.authenticated)}, f)
        with self.lock:
            self.count += 1
            print("accepted %d" % self.count, flush=True)
        return "250 2.0.0 accepted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--maildir")
    g.add_argument("--discard", action="store_true")
    ap.add_argument("--reject-rcpt")
    ap.add_argument("--tempfail-rcpt")
    ap.add_argument("--close-every", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true")
    tls.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--auth-env")
    args = ap.parse_args()
    kw = dict(server_hostname="sink.localhost", ident="crier test sink")
    if args.starttls or args.implicit_tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.starttls:
            kw.update(tls_context=ctx, require_starttls=True)
        else:
            kw.update(ssl_context=ctx)
    if args.auth_env:
        user, password = os.environ[args.auth_env].split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            # handled=False: aiosmtpd then answers a failure with 535 itself
            # (with the default, True, it answers nothing at all).
            return AuthResult(success=ok, handled=False)

        # With STARTTLS, AUTH is refused until TLS is up (as real relays
        # do). aiosmtpd does not count implicit TLS as secure, so there it
        # must allow AUTH "without TLS" (the socket is TLS from the start);
        # its warning about that is silenced.
        kw.update(authenticator=authenticator, auth_required=True,
                  auth_require_tls=args.starttls)
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    ctl = Controller(Sink(args), hostname="127.0.0.1", port=args.port, **kw)
    ctl.start()
    print("ready %d" % args.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
