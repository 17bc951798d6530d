#!/usr/bin/python3
"""Loopback OpenWebRX emulator: serves the level-only receivers of a
captures.h5 (those with /has_levels set in some event, or driver openwebrx)
over the OpenWebRX /ws/ WebSocket protocol, one port per receiver, all in one
process. Written from the protocol as the OpenWebRX server speaks it
(owrx/connection.py, owrx/controllers/websocket.py), independently of
heimdall's C driver.

The n-th connection to a receiver's port streams event n of the file: the
client must speak first ("SERVER DE CLIENT ... type=receiver"); the server
answers "CLIENT DE SERVER server=openwebrx version=v1.2.2", sends
receiver_details (receiver_gps = the receiver's position in the file), config
in two parts (global settings, then center_freq = event frequency + 300 kHz
and samp_rate = 2.4 MHz), profiles and a clients count. After the client's
dspcontrol params (offset_freq must put the demodulator on the event
frequency within 1 Hz, else the server goes silent) and dspcontrol start, it
streams one {"type": "smeter", "value": P} per level of /levels[event,
receiver], P = 10^(level/10) (linear power, full scale 1), with waterfall
binary frames (type byte 1) and cpuusage / clients messages in between.

Listens on 127.0.0.1 only, on free ports; prints "PORT <receiver> <port>" per
served receiver then "READY", and exits after --lifetime seconds (or when
stdin closes). Faults per receiver (--fault R:MODE):
  refuse      nothing listens on the port (connection refused)
  busy        handshake reply, then {"type": "backoff", "reason": "Too many clients"}, then close
  stall       handshake and config, then silence
  disconnect  three smeter messages, then the TCP connection is dropped (no close frame)
  malformed   one good smeter message, then a truncated JSON text
  absurd      a frame header announcing 2^62 bytes
  badvalue    one good smeter message, then a negative smeter value
  drip        smeter messages sent slowly (0.02 s apart): the client holds what came
  silent      the port accepts TCP connections and never answers (no handshake)

--position R:LAT,LON makes receiver_details advertise another receiver_gps;
--users R:N sets the clients count (default 2).
"""
import argparse
import asyncio
import http
import json
import sys

import h5py
import websockets

import emu_common

CENTER_OFFSET = 300000.0
SAMP_RATE = 2400000


class Receiver:
    def __init__(self, data, r, fault, position=None, users=2):
        self.d, self.r, self.fault = data, r, fault
        self.position = position if position is not None else (float(data["lat"][r]), float(data["lon"][r]))
        self.users = users
        self.conn = 0

    def process_request(self, path, headers):
        """Plain HTTP like the real server: its web page at /, no /status
        (that is a KiwiSDR's); WebSocket upgrades go on."""
        if "upgrade" in headers.get("Connection", "").lower():
            return None
        if path.split("?")[0] in ("/", "/index.html"):
            page = "<!DOCTYPE html><html><head><title>OpenWebRX | Open Source SDR Web App for Everyone!</title></head><body></body></html>"
            return (http.HTTPStatus.OK, [("Content-Type", "text/html"), ("Connection", "close")], page.encode())
        return (http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain"), ("Connection", "close")], b"not found\n")

    async def handler(self, ws, path=None):
        path = path if path is not None else ws.path
        if path.rstrip("/") != "/ws":
            await ws.close(1008, "only /ws/")
            return
        ev = self.conn
        self.conn += 1
        d, r = self.d, self.r
        try:
            hello = await asyncio.wait_for(ws.recv(), 10)
            if not (isinstance(hello, str) and hello.startswith("SERVER DE CLIENT") and "type=receiver" in hello):
                return  # the real server does not answer without the handshake
            await ws.send("CLIENT DE SERVER server=openwebrx version=v1.2.2")
            if self.fault == "busy":
                await ws.send(json.dumps({"type": "backoff", "reason": "Too many clients"}))
                await ws.close()
                return
            await ws.send(json.dumps({"type": "receiver_details", "value": {
                "receiver_name": f"emulated {r}", "receiver_location": "loopback", "receiver_asl": 100,
                "receiver_gps": {"lat": self.position[0], "lon": self.position[1]}, "photo_title": "",
                "photo_desc": ""}}))
            await ws.send(json.dumps({"type": "config", "value": {
                "waterfall_scheme": "GoogleTurboWaterfall", "fft_size": 4096, "audio_compression": "adpcm",
                "fft_compression": "adpcm", "max_clients": 20, "tuning_precision": 2}}))
            if ev >= d["E"] or not d["has_levels"][ev, r]:
                await ws.send(json.dumps({"type": "sdr_error", "value": "No SDR Devices available"}))
                await ws.close()
                return
            f = float(d["freq"][ev])
            center = f + CENTER_OFFSET
            await ws.send(json.dumps({"type": "config", "value": {
                "center_freq": center, "samp_rate": SAMP_RATE, "start_mod": "nfm",
                "start_offset_freq": -CENTER_OFFSET, "sdr_id": "rtl", "profile_id": "2m",
                "waterfall_levels": {"min": -88, "max": -20}}}))
            await ws.send(json.dumps({"type": "profiles", "value": [{"id": "rtl|2m", "name": "2 m"}]}))
            await ws.send(json.dumps({"type": "clients", "value": self.users}))
            # dspcontrol: params with the right offset, and start, in any order
            tuned = started = False
            while not (tuned and started):
                msg = await asyncio.wait_for(ws.recv(), 10)
                if not isinstance(msg, str):
                    continue
                m = json.loads(msg)
                if m.get("type") != "dspcontrol":
                    continue
                if m.get("action") == "start":
                    started = True
                p = m.get("params", {})
                if "offset_freq" in p:
                    if abs(center + float(p["offset_freq"]) - f) > 1:
                        print(f"receiver {r}: tuned to {center + float(p['offset_freq'])}, event is at {f}",
                              file=sys.stderr, flush=True)
                        await asyncio.sleep(3600)
                        return
                    tuned = True
            if self.fault == "stall":
                await asyncio.sleep(3600)
                return
            lv = d["levels"][ev, r]
            for k, level in enumerate(lv):
                if k % 3 == 0:
                    await ws.send(b"\x01" + bytes(range(64)))  # a waterfall line (not decoded by the client)
                if k % 4 == 1:
                    await ws.send(json.dumps({"type": "cpuusage", "value": 0.25}))
                value = 10.0 ** (float(level) / 10.0)
                if self.fault == "malformed" and k == 1:
                    await ws.send('{"type": "smeter", "value": 0.0')
                    await asyncio.sleep(3600)
                    return
                if self.fault == "badvalue" and k == 1:
                    value = -1.0
                if self.fault == "absurd" and k == 1:
                    ws.transport.write(b"\x81\x7f" + (1 << 62).to_bytes(8, "big"))
                    await asyncio.sleep(3600)
                    return
                await ws.send(json.dumps({"type": "smeter", "value": value}))
                if self.fault == "disconnect" and k == 2:
                    # well inside the client's capture window (duration + one level)
                    await asyncio.sleep(0.01)
                    ws.transport.abort()
                    return
                if self.fault == "drip":
                    await asyncio.sleep(0.02)
            # keep the connection until the client closes it
            async for _ in ws:
                pass
        except (websockets.ConnectionClosed, asyncio.TimeoutError):
            pass


async def main():
    ap = argparse.ArgumentParser()
    emu_common.add_arguments(ap, "in receiver_details", "in the clients message")
    a = ap.parse_args()
    faults, positions, users = emu_common.parse_common(a)
    with h5py.File(a.captures, "r") as f:
        d = {"levels": f["levels"][...], "has_levels": f["has_levels"][...].astype(bool),
             "freq": f["events/frequency_hz"][...], "lat": f["receivers/lat"][...], "lon": f["receivers/lon"][...],
             "driver": [x.decode() if isinstance(x, bytes) else str(x) for x in f["receivers/driver"][...]]}
    d["E"], R = d["levels"].shape[0], d["levels"].shape[1]

    async def start(r, fault):
        rx = Receiver(d, r, fault, positions.get(r), users.get(r, 2))
        return await websockets.serve(rx.handler, "127.0.0.1", 0, ping_interval=None, max_size=2**16,
                                      process_request=rx.process_request)

    served = [r for r in range(R) if d["has_levels"][:, r].any() or d["driver"][r] == "openwebrx"]
    await emu_common.serve(served, faults, a.lifetime, start)


if __name__ == "__main__":
    asyncio.run(main())
