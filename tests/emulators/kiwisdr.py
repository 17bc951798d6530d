#!/usr/bin/python3
"""Loopback KiwiSDR emulator: serves the receivers of a captures.h5 over the
KiwiSDR /<timestamp>/SND WebSocket protocol, one port per receiver, all in
one process. Written from the protocol description (kiwiclient's
kiwi/client.py), independently of heimdall's C driver.

The n-th connection to a receiver's port streams event n of the file: MSG
handshake (version, badp=0, audio_rate, sample_rate), then after the client's
"SET mod=iq ..." SND frames of 512 I/Q pairs with GPS time stamps (first
sample = events/time_ns + t0_s), until the event's samples are sent (the last
frame padded with zeros).

Listens on 127.0.0.1 only, on free ports; prints "PORT <receiver> <port>" per
receiver then "READY", and exits after --lifetime seconds (or when stdin
closes). Faults per receiver (--fault R:MODE):
  refuse      nothing listens on the port (connection refused)
  busy        MSG too_busy=4 after auth, then close
  auth        MSG badp=1 after auth, then close
  stall       handshake, then silence
  disconnect  one SND frame, then the TCP connection is dropped (no close frame)
  malformed   one good SND frame, then a truncated one
  absurd      a frame header announcing 2^62 bytes
  drip        frames sent slowly (0.05 s apart): still complete
--tls CERT KEY serves https:// and wss:// (tests make a throwaway certificate).
  silent      the port accepts TCP connections and never answers (no HTTP, no handshake)

Every served port also answers HTTP GET /status like a KiwiSDR (key=value
lines: status, offline, users, users_max, gps=(lat, lon), gps_good, fixes,
fixes_min, asl, loc, sw_version, antenna; auth=password with --password):
the advertised position is the receiver's in the file unless --position
R:LAT,LON says otherwise, users are --users R:N (default 1) of 4, a busy
receiver reports 4 of 4.
"""
import argparse
import asyncio
import http
import ssl
import struct
import sys
import time

import h5py
import numpy as np
import websockets

import emu_common

GPS_EPOCH = 315964800
LEAP = 18
WEEK = 604800


def gps_fields(unix_ns):
    g = unix_ns - GPS_EPOCH * 10**9 + LEAP * 10**9
    return (g // 10**9) % WEEK, g % 10**9


class Receiver:
    def __init__(self, data, r, fault, password, position=None, users=1):
        self.d, self.r, self.fault, self.password = data, r, fault, password
        self.position = position if position is not None else (float(data["lat"][r]), float(data["lon"][r]))
        self.users = users
        self.conn = 0

    def status_page(self):
        users_max = 4
        users = users_max if self.fault == "busy" else min(self.users, users_max)
        lat, lon = self.position
        lines = ["status=active"] + (["auth=password"] if self.password is not None else []) + [
            "offline=no", f"name=emulated KiwiSDR {self.r}", "sdr_hw=KiwiSDR 2 v1.560 GPS ", "op_email=",
            "bands=0-30000000", "freq_offset=0.000", f"users={users}", f"users_max={users_max}", "avatar_ctime=0",
            f"gps=({lat:.6f}, {lon:.6f})", "grid=JN35", "gps_good=7", "fixes=4321", "fixes_min=12",
            "fixes_hour=700", "tdoa_id=", "tdoa_ch=4", "asl=300", "loc=loopback", "sw_version=KiwiSDR_v1.560",
            "antenna=emulated", "snr=20,18", "uptime=100"]
        return "\n".join(lines) + "\n"

    def process_request(self, path, headers):
        if path.split("?")[0] == "/status":
            return (http.HTTPStatus.OK, [("Content-Type", "text/plain"), ("Connection", "close")],
                    self.status_page().encode())
        return None  # the WebSocket handshake goes on

    async def handler(self, ws, path=None):
        path = path if path is not None else ws.path
        if not path.endswith("/SND"):
            await ws.close(1008, "only SND")
            return
        ev = self.conn
        self.conn += 1
        # when each SND stream opened (wall clock), for tests of simultaneity
        print(f"CONNECT {self.r} {time.time():.6f}", file=sys.stderr, flush=True)
        d = self.d
        try:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if not (isinstance(msg, str) and msg.startswith("SET auth t=kiwi")):
                await ws.close(1002, "auth first")
                return
            pw = msg.split("p=", 1)[1] if "p=" in msg else ""
            if self.fault == "busy":
                await ws.send("MSG too_busy=4")
                await ws.close()
                return
            if self.fault == "auth" or (self.password is not None and pw != self.password):
                await ws.send("MSG badp=1")
                await ws.close()
                return
            if ev >= d["E"] or d["status"][ev, self.r] != 0:
                await ws.send("MSG down")
                await ws.close()
                return
            fs = d["fs"][ev]
            await ws.send("MSG version_maj=1 version_min=560")
            await ws.send("MSG badp=0")
            await ws.send("MSG audio_rate=12000")
            await ws.send(f"MSG sample_rate={fs:.3f}")
            # wait for the IQ mode request (AR OK, squelch, agc … may come first)
            while True:
                msg = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(msg, str) and msg.startswith("SET mod=iq"):
                    break
            if self.fault == "stall":
                await asyncio.sleep(3600)
                return
            iq = d["iq"][ev, self.r]
            n = iq.shape[0]
            t0_ns = int(d["time_ns"][ev]) + int(round(float(d["t0"][ev, self.r]) * 1e9))
            lgs = min(max(int(d["lgs"][ev, self.r]), 0), 255)
            seq = 0
            for start in range(0, n, 512):
                block = np.zeros((512, 2), dtype=">i2")
                part = iq[start:start + 512]
                block[:len(part)] = part
                sec, nsec = gps_fields(t0_ns + int(round(start / fs * 1e9)))
                smeter = 500
                frame = (b"SND" + struct.pack("<BI", 0, seq) + struct.pack(">H", smeter)
                         + struct.pack("<BBII", lgs, 0, sec, nsec) + block.tobytes())
                if self.fault == "malformed" and seq == 1:
                    frame = frame[:15]
                if self.fault == "absurd" and seq == 1:
                    ws.transport.write(b"\x82\x7f" + (1 << 62).to_bytes(8, "big"))
                    await asyncio.sleep(3600)
                    return
                await ws.send(frame)
                if self.fault == "disconnect" and seq == 0:
                    await asyncio.sleep(0.1)
                    ws.transport.abort()
                    return
                if self.fault == "drip":
                    await asyncio.sleep(0.05)
                seq += 1
            # keep the connection until the client closes it
            async for _ in ws:
                pass
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass


async def main():
    ap = argparse.ArgumentParser()
    emu_common.add_arguments(ap, "by /status", "by /status")
    ap.add_argument("--password", default=None, help="password every receiver requires")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https:// and wss:// with this certificate")
    a = ap.parse_args()
    tls = None
    if a.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*a.tls)
    faults, positions, users = emu_common.parse_common(a)
    with h5py.File(a.captures, "r") as f:
        d = {"iq": f["iq"][...], "t0": f["t0_s"][...], "time_ns": f["events/time_ns"][...],
             "fs": f["events/sample_rate_hz"][...], "status": f["status"][...],
             "lgs": f["last_gps_solution_s"][...], "lat": f["receivers/lat"][...], "lon": f["receivers/lon"][...]}
    d["E"], R = d["iq"].shape[0], d["iq"].shape[1]

    async def start(r, fault):
        rx = Receiver(d, r, fault, a.password, positions.get(r), users.get(r, 1))
        return await websockets.serve(rx.handler, "127.0.0.1", 0, ping_interval=None, max_size=2**16,
                                      process_request=rx.process_request, ssl=tls)

    await emu_common.serve(range(R), faults, a.lifetime, start)


if __name__ == "__main__":
    asyncio.run(main())
