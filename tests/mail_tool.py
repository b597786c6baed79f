#!/usr/bin/python3
"""Mail helpers of the e-mail tests, on Python's own e-mail package (an independent reader of what
lettre writes) and Debian's python3-aiosmtpd.

  mail_tool.py parse FILE.eml
      prints {"from", "to", "subject", "message_id", "content_type", "text", "html"} as JSON.
  mail_tool.py serve --dir DIR --port PORT [--cert PEM --key PEM] [--user U --password P]
      a real SMTP server on 127.0.0.1:PORT (STARTTLS required when given a certificate, AUTH
      required when given a user) that saves each message as DIR/N.eml plus DIR/N.json
      (envelope, whether TLS and AUTH were used, and the parsed message). Prints "ready" once
      listening; stops when its standard input closes (the test ended).
"""

import argparse
import email
import email.policy
import json
import os
import ssl
import sys
import threading


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "content_type": msg.get_content_type(),
    }
    for kind in ("plain", "html"):
        part = msg.get_body(preferencelist=(kind,))
        # Line ends as written by the templates (the wire has CRLF).
        content = part.get_content().replace("\r\n", "\n") if part is not None else None
        out["text" if kind == "plain" else "html"] = content
    return out


def serve(args):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    counter = {"n": 0}
    lock = threading.Lock()

    class Save:
        async def handle_DATA(self, server, session, envelope):
            with lock:
                counter["n"] += 1
                name = os.path.join(args.dir, f"{counter['n']:04}")
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
                "message": parse(envelope.original_content or envelope.content),
            }
            with open(name + ".eml", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            # The JSON last, renamed into place: a reader never sees half a message.
            with open(name + ".tmp", "w") as f:
                json.dump(meta, f)
            os.rename(name + ".tmp", name + ".json")
            return "250 Message accepted"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        return AuthResult(success=ok)

    options = {}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        options.update(tls_context=context, require_starttls=True)
    if args.user:
        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.cert))
    controller = Controller(Save(), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("parse")
    p.add_argument("file")
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--user")
    s.add_argument("--password")
    args = parser.parse_args()
    if args.command == "parse":
        with open(args.file, "rb") as f:
            print(json.dumps(parse(f.read())))
    else:
        serve(args)


if __name__ == "__main__":
    main()
