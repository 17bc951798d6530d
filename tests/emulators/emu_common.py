"""What the loopback emulators (kiwisdr.py, openwebrx.py) share: the
per-receiver options (--fault R:MODE, --position R:LAT,LON, --users R:N,
--lifetime), the two faults that need no protocol (refuse: nothing
listens; silent: TCP accepted, never answered), and the serving loop that
prints "PORT <receiver> <port>" per receiver, then "READY", and lives until
stdin closes or --lifetime passes."""
import asyncio
import os
import socket
import sys


def add_arguments(ap, position_where, users_where):
    """The options every emulator takes; position_where and users_where say
    how the server advertises them (help text)."""
    ap.add_argument("captures")
    ap.add_argument("--fault", action="append", default=[], help="R:MODE")
    ap.add_argument("--lifetime", type=float, default=60)
    ap.add_argument("--position", action="append", default=[], help=f"R:LAT,LON advertised {position_where}")
    ap.add_argument("--users", action="append", default=[], help=f"R:N users reported {users_where}")


def per_receiver(items, value):
    """{receiver: value(text)} from "R:TEXT" options."""
    out = {}
    for x in items:
        r, text = x.split(":", 1)
        out[int(r)] = value(text)
    return out


def parse_common(a):
    """faults, positions and user counts from the parsed options."""
    return (per_receiver(a.fault, str), per_receiver(a.position, lambda t: tuple(float(v) for v in t.split(","))),
            per_receiver(a.users, int))


async def silent(reader, writer):
    """Accept, read whatever comes, never answer."""
    try:
        while await reader.read(4096):
            pass
    finally:
        writer.close()


def closed_port(keep):
    """A port nothing listens on, and nothing else can take: the socket stays
    bound (in keep) without listening, so a connection is refused. A port
    closed again at once may be taken by the next bind or connect of any
    process on the machine (a test running beside this one) before the
    client tries it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    keep.append(s)
    return s.getsockname()[1]


async def serve(receivers, faults, lifetime, start):
    """Serve each receiver r on its own port: `await start(r, fault)` returns
    its server, except for the refuse and silent faults handled here."""
    servers, bound = [], []
    for r in receivers:
        fault = faults.get(r)
        if fault == "refuse":
            print(f"PORT {r} {closed_port(bound)}", flush=True)
            continue
        srv = await (asyncio.start_server(silent, "127.0.0.1", 0) if fault == "silent" else start(r, fault))
        servers.append(srv)
        print(f"PORT {r} {srv.sockets[0].getsockname()[1]}", flush=True)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([stdin_closed], timeout=lifetime)
    for s in servers:
        s.close()
    os._exit(0)  # the executor thread may still block on stdin
