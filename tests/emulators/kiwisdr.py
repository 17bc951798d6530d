#!/usr/bin/python3
"""Loopback KiwiSDR emulator: serves the receivers of a captures.h5 over the
KiwiSDR /<timestamp>/SND WebSocket protocol, one port per receiver, all in
one process. Written from the protocol description (kiwiclient's
kiwi/client.py), independently of heimdall's C driver.

The n-th connection to a receiver's port streams event n of the file, in
the order and framing of a real server (Beagle_SDR_GPS rx/rx_server.cpp,
rx/rx_sound.cpp, rx/rx_cmd.cpp; read, not copied): every server message is a
binary frame "MSG ..." (--msg-frames text for the old text framing). On
connect: MSG sample_rate=<Hz, 6 decimals>; after "SET auth": MSG badp=0,
version_maj=... version_min=..., load_cfg=<URL-encoded JSON>, center_freq=...
bandwidth=..., audio_init=0 audio_rate=12000. No SND until the client has
sent the frequency, mode, passband, AGC and "SET AR OK out=..." (more than 4
keepalives before that: closed); then SND frames (flags 0x08 = IQ, sequence
from 1): the first has no time stamp (GPS fields 0) and holds what the
channel had from its last use, then the event's 512 I/Q pairs per frame with
GPS time stamps (first sample = events/time_ns + t0_s), the last padded with
zeros. No keepalive for 60 s (20 s before auth) closes the connection.

Listens on 127.0.0.1 only, on free ports; prints "PORT <receiver> <port>" per
receiver then "READY", and exits after --lifetime seconds (or when stdin
closes). Faults per receiver (--fault R:MODE):
  refuse      nothing listens on the port (connection refused)
  busy        MSG too_busy=4 on connect (before auth), then close
  redirect    MSG redirect=<URL-encoded url> on connect, then close
  down        MSG reason_disabled=<text> down=0 on connect, then close (also
              for a link whose status in the file is not ok)
  auth        MSG badp=1 after auth; waits for another password, after 20 s
              MSG password_timeout and close
  badp5       MSG badp=5 (one connection per address) after auth
  stall       handshake, then silence
  disconnect  one SND frame after the first, then the TCP connection is dropped
  malformed   one good SND frame, then a truncated one
  absurd      a frame header announcing 2^62 bytes
  inactive    two SND frames, then MSG inactivity_timeout=1 and close
  drip        frames sent slowly (0.05 s apart): still complete
  dropblock   the event's second block (sequence number 3) is not sent; the
              sequence goes on from 4 (a lost frame: a gap)
  dupblock    the event's second block (sequence number 3) is sent twice (a
              repeated frame)
--loop: connection n streams event n modulo the file's events; --realtime:
frames paced at the sample rate; --only R (repeatable) serves those
receivers only; --port R:PORT a fixed port (the soak restarts one emulator
on its port).
--tls CERT KEY serves https:// and wss:// (tests make a throwaway certificate).
  silent      the port accepts TCP connections and never answers (no HTTP, no handshake)

Limits a server enforces itself (every receiver, per port): --max-users N
SND streams at once (one more: MSG too_busy=N on connect, then close), and
--ip-limit S seconds of audio streamed to this address (the KiwiSDR's 24-hour
per-address limit, ip_limit_mins; a connection after that: MSG
ip_limit=<min>,127.0.0.1 on connect, then close). stderr gets "LISTENED
<receiver> <seconds>" after each stream.

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
import json
import ssl
import struct
import sys
import time
from urllib.parse import quote

import h5py
import numpy as np
import websockets

import emu_common

GPS_EPOCH = 315964800
LEAP = 18
WEEK = 604800
SND_FLAG_MODE_IQ = 0x08


def gps_fields(unix_ns):
    g = unix_ns - GPS_EPOCH * 10**9 + LEAP * 10**9
    return (g // 10**9) % WEEK, g % 10**9


class Receiver:
    def __init__(self, data, r, fault, password, position=None, users=1, text_msgs=False, max_users=None,
                 ip_limit=None):
        self.d, self.r, self.fault, self.password = data, r, fault, password
        self.max_users, self.ip_limit = max_users, ip_limit
        self.active, self.listened = 0, 0.0
        self.text_msgs = text_msgs
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

    async def msg(self, ws, text):
        """A server message: every one goes out as a binary frame (send_msg and
        send_msg_mc write WS_OPCODE_BINARY), unless --msg-frames text."""
        m = "MSG " + text
        await ws.send(m if self.text_msgs else m.encode())

    async def handler(self, ws, path=None):
        path = path if path is not None else ws.path
        if not path.endswith("/SND"):
            await ws.close(1008, "only SND")
            return
        ev = self.conn % self.d["E"] if self.d.get("loop") else self.conn
        self.conn += 1
        # when each SND stream opened (wall clock), for tests of simultaneity
        print(f"CONNECT {self.r} {time.time():.6f}", file=sys.stderr, flush=True)
        d = self.d
        counted = False
        try:
            # refusals come when the stream is allocated, before any command
            # (rx_server.cpp: too_busy, redirect, reason_disabled/down)
            if self.fault == "busy":
                await self.msg(ws, "too_busy=4")
                await ws.close()
                return
            if self.fault == "redirect":
                await self.msg(ws, "redirect=" + quote("http://other.example.org:8073/", safe=""))
                await ws.close()
                return
            if self.max_users is not None and self.active >= self.max_users:
                await self.msg(ws, f"too_busy={self.max_users}")
                await ws.close()
                return
            # the channel is taken from the connection on (rx_server.cpp), until it closes
            self.active += 1
            counted = True
            if self.ip_limit is not None and self.listened >= self.ip_limit - 1e-9:
                await self.msg(ws, f"ip_limit={self.ip_limit / 60:.2f},127.0.0.1")
                await ws.close()
                return
            if self.fault == "down" or ev >= d["E"] or d["status"][ev, self.r] != 0:
                await self.msg(ws, "reason_disabled=" + quote("antenna work, back on Monday", safe="") + " down=0")
                await ws.close()
                return
            fs = d["fs"][ev]
            # the sound task announces its rate as soon as it starts (rx_sound.cpp)
            await self.msg(ws, f"sample_rate={fs:.6f}")
            # only auth and keepalive are accepted before auth; KEEPALIVE_SEC_NO_AUTH = 20
            while True:
                m = await asyncio.wait_for(ws.recv(), 20)
                if isinstance(m, str) and m.startswith("SET auth t=kiwi"):
                    break
                if not (isinstance(m, str) and m.startswith("SET keepalive")):
                    await ws.close(1002, "auth first")
                    return
            pw = m.split("p=", 1)[1].split(" ")[0] if "p=" in m else ""
            if self.fault == "badp5":
                await self.msg(ws, "badp=5")
                await self.wait_password(ws)
                return
            if self.fault == "auth" or (self.password is not None and pw != self.password):
                await self.msg(ws, "badp=1")
                await self.wait_password(ws)
                return
            # auth accepted (rx_cmd.cpp), the config (rx_server_send_config),
            # then the sound stream's setup (c2s_sound_setup)
            await self.msg(ws, "badp=0")
            await self.msg(ws, "version_maj=1 version_min=560 debian_ver=11 model=2 platform=0 ext_clk=0 abyy= "
                               "freq_offset=0.000")
            cfg = json.dumps({"rx_name": f"emulated KiwiSDR {self.r}", "rx_gps": "(%.6f, %.6f)" % self.position,
                              "rx_asl": 300, "dx": {"pad": "x" * 4000}})
            await self.msg(ws, "load_cfg=" + quote(cfg, safe=""))
            await self.msg(ws, "center_freq=15000000 bandwidth=30000000 adc_clk_nom=66666600")
            await self.msg(ws, "audio_init=0 audio_rate=12000")
            if not await self.wait_commands(ws):
                return
            if self.fault == "stall":
                await asyncio.sleep(3600)
                return
            reader = asyncio.ensure_future(self.keepalive_watch(ws))
            try:
                await self.stream(ws, ev, fs)
                self.listened += d["iq"].shape[2] / fs
                print(f"LISTENED {self.r} {self.listened:.6f}", file=sys.stderr, flush=True)
                await reader
            finally:
                reader.cancel()
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass
        finally:
            if counted:
                self.active -= 1

    async def wait_password(self, ws):
        """After a refused password a server waits for another one; with none
        in KEEPALIVE_SEC_NO_AUTH it says password_timeout and closes."""
        try:
            while True:
                m = await asyncio.wait_for(ws.recv(), 20)
                if isinstance(m, str) and m.startswith("SET auth"):
                    await self.msg(ws, "badp=1")
        except asyncio.TimeoutError:
            await self.msg(ws, "password_timeout")
            await ws.close()

    async def wait_commands(self, ws):
        """No audio until the sound task has every command it needs (CMD_SND_ALL:
        frequency, mode, passband, AGC, AR OK); more than 4 keepalives before
        that is a hung connection, closed (rx_sound.cpp)."""
        need = {"freq", "mode", "passband", "agc", "ar"}
        keepalives = 0
        while need:
            m = await asyncio.wait_for(ws.recv(), 60)
            if not isinstance(m, str):
                continue
            if m.startswith("SET mod="):
                kv = dict(x.split("=", 1) for x in m[4:].split() if "=" in x)
                need -= {"mode"} if "mod" in kv else set()
                need -= {"freq"} if "freq" in kv else set()
                if "low_cut" in kv and "high_cut" in kv and not (kv["low_cut"] == "0" and kv["high_cut"] == "0"):
                    need.discard("passband")
            elif m.startswith("SET agc="):
                need.discard("agc")
            elif m.startswith("SET AR OK"):
                kv = dict(x.split("=", 1) for x in m.split() if "=" in x)
                if kv.get("out", "0") != "0":
                    need.discard("ar")
            elif m.startswith("SET keepalive"):
                keepalives += 1
                if keepalives > 4:
                    await ws.close()
                    return False
        return True

    async def keepalive_watch(self, ws):
        """Read the client while streaming: no keepalive (any message) for
        KEEPALIVE_SEC = 60 s ends the connection."""
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 60)
        except asyncio.TimeoutError:
            await ws.close()

    async def stream(self, ws, ev, fs):
        d = self.d
        iq = d["iq"][ev, self.r]
        n = iq.shape[0]
        t0_ns = int(d["time_ns"][ev]) + int(round(float(d["t0"][ev, self.r]) * 1e9))
        lgs = min(max(int(d["lgs"][ev, self.r]), 0), 255)
        # the sequence starts at 1; the first frame has no time stamp yet
        # (gps_init false: last_gps_solution, gpssec, gpsnsec all 0) and its
        # samples are what the channel held from its last use
        seq = 1
        t_stream = time.monotonic()
        rng = np.random.default_rng(1000 + self.r)
        left = rng.integers(-2000, 2000, size=(512, 2)).astype(">i2")
        frame = (b"SND" + struct.pack("<BI", SND_FLAG_MODE_IQ, seq) + struct.pack(">H", 500)
                 + struct.pack("<BBII", 0, 0, 0, 0) + left.tobytes())
        await ws.send(frame)
        seq += 1
        for start in range(0, n, 512):
            block = np.zeros((512, 2), dtype=">i2")
            part = iq[start:start + 512]
            block[:len(part)] = part
            sec, nsec = gps_fields(t0_ns + int(round(start / fs * 1e9)))
            smeter = 500
            frame = (b"SND" + struct.pack("<BI", SND_FLAG_MODE_IQ, seq) + struct.pack(">H", smeter)
                     + struct.pack("<BBII", lgs, 0, sec, nsec) + block.tobytes())
            if self.fault == "malformed" and seq == 3:
                frame = frame[:15]
            if self.fault == "absurd" and seq == 3:
                ws.transport.write(b"\x82\x7f" + (1 << 62).to_bytes(8, "big"))
                await asyncio.sleep(3600)
                return
            if self.fault == "inactive" and seq == 3:
                # support/stats.cpp: no tuning for inactivity_timeout_mins
                await self.msg(ws, "inactivity_timeout=1")
                await ws.close()
                return
            if not (self.fault == "dropblock" and seq == 3):
                await ws.send(frame)
            if self.fault == "dupblock" and seq == 3:
                await ws.send(frame)
            if self.fault == "disconnect" and seq == 2:
                await asyncio.sleep(0.1)
                ws.transport.abort()
                return
            if self.fault == "drip":
                await asyncio.sleep(0.05)
            elif self.d.get("realtime"):
                # a real server's pace: each frame when its samples are due
                due = t_stream + (start + 512) / fs
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            seq += 1


async def main():
    ap = argparse.ArgumentParser()
    emu_common.add_arguments(ap, "by /status", "by /status")
    ap.add_argument("--password", default=None, help="password every receiver requires")
    ap.add_argument("--msg-frames", choices=("binary", "text"), default="binary",
                    help="frame type of MSG messages (a real server: binary)")
    ap.add_argument("--max-users", type=int, default=None, help="SND streams at once per receiver (more: too_busy)")
    ap.add_argument("--ip-limit", type=float, default=None,
                    help="seconds of audio per receiver to this address (then: ip_limit)")
    ap.add_argument("--loop", action="store_true", help="the n-th connection streams event n modulo the events "
                    "(a soak longer than the file)")
    ap.add_argument("--realtime", action="store_true", help="send SND frames at the sample rate, as a server does")
    ap.add_argument("--only", type=int, action="append", default=None, help="serve only receiver R (repeatable)")
    ap.add_argument("--port", action="append", default=[], help="R:PORT a fixed port for receiver R (a restart)")
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
    d["loop"], d["realtime"] = a.loop, a.realtime

    async def start(r, fault):
        rx = Receiver(d, r, fault, a.password, positions.get(r), users.get(r, 1), a.msg_frames == "text",
                      a.max_users, a.ip_limit)
        return await websockets.serve(rx.handler, "127.0.0.1", fixed.get(r, 0), ping_interval=None, max_size=2**16,
                                      process_request=rx.process_request, ssl=tls)

    fixed = emu_common.per_receiver(a.port, int)
    await emu_common.serve(a.only if a.only is not None else range(R), faults, a.lifetime, start)


if __name__ == "__main__":
    asyncio.run(main())
