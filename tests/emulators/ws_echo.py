#!/usr/bin/python3
"""Loopback WebSocket echo server for the ws client's tests.

Written against python3-websockets, independently of the C client. Listens on
127.0.0.1 on a free port, prints "PORT <n>" on stdout, and exits after one
client has come and gone or after --lifetime seconds, whichever is first.

Commands a client may send as text:
  frag        -> the text "alpha beta gamma" sent as three fragments
  ping        -> a ping with payload "hb", then the text "pinged"
  close       -> a close frame with code 4001 and reason "bye"
  big N       -> a binary message of N bytes (byte i = i % 251)
anything else is echoed back with its type.
--tls CERT KEY serves wss:// instead (the client's tests make a throwaway
certificate with openssl).
"""
import argparse
import asyncio
import ssl
import sys

import websockets


async def handler(ws, path=None):
    try:
        async for msg in ws:
            if msg == "frag":
                await ws.send(["alpha ", "beta ", "gamma"])
            elif msg == "ping":
                await ws.ping(b"hb")
                await ws.send("pinged")
            elif msg == "close":
                await ws.close(code=4001, reason="bye")
                done.set()  # the last request of the test: the server may go
                return
            elif isinstance(msg, str) and msg.startswith("big "):
                n = int(msg.split()[1])
                await ws.send(bytes(i % 251 for i in range(n)))
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass  # another connection may still come: the server ends after "close" or its lifetime


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lifetime", type=float, default=20.0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve wss:// with this certificate")
    args = ap.parse_args()
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*args.tls)
    global done
    done = asyncio.Event()
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None, ssl=tls) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        try:
            await asyncio.wait_for(done.wait(), args.lifetime)
        except asyncio.TimeoutError:
            print("ws_echo: lifetime over", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
