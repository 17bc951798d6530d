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
  profiles    the SDR runs another band first (70 cm while the event is elsewhere, or 2 m): the
              client must selectprofile the profile that covers the event; the profiles it asks
              for are printed to stderr as "SELECT <receiver> <profile>"
  noband      like profiles, but no profile covers the event
  retune      three smeter messages, then a config moving center_freq 10 MHz away (another user
              chose another profile): the event's frequency is no longer received
  early       receiver_details and config sent before the handshake reply (some builds do)
  path        served only under /sdr/ws/ (a server behind a reverse proxy), 404 at /ws/
  gpslist     receiver_gps as [lat, lon] (older servers)
  bigfft      waterfall lines of 65536 uncompressed float bins (262145-byte binary messages)
  paced       smeter messages at the servers' real rate, 5.9 per second

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
        want = "/sdr/ws" if self.fault == "path" else "/ws"
        if path.rstrip("/") != want:
            await ws.close(1008, f"only {want}/")
            return
        ev = self.conn
        self.conn += 1
        d, r = self.d, self.r
        try:
            hello = await asyncio.wait_for(ws.recv(), 10)
            if not (isinstance(hello, str) and hello.startswith("SERVER DE CLIENT") and "type=receiver" in hello):
                return  # the real server does not answer without the handshake
            if self.fault != "early":
                await ws.send("CLIENT DE SERVER server=openwebrx version=v1.2.2")
            if self.fault == "busy":
                await ws.send(json.dumps({"type": "backoff", "reason": "Too many clients"}))
                await ws.close()
                return
            gps = ([self.position[0], self.position[1]] if self.fault == "gpslist"
                   else {"lat": self.position[0], "lon": self.position[1]})
            await ws.send(json.dumps({"type": "receiver_details", "value": {
                "receiver_name": f"emulated {r}", "receiver_location": "loopback", "receiver_asl": 100,
                "receiver_gps": gps, "photo_title": "", "photo_desc": ""}}))
            await ws.send(json.dumps({"type": "config", "value": {
                "waterfall_scheme": "GoogleTurboWaterfall", "fft_size": 4096, "audio_compression": "adpcm",
                "fft_compression": "adpcm", "max_clients": 20, "tuning_precision": 2}}))
            if ev >= d["E"] or not d["has_levels"][ev, r]:
                await ws.send(json.dumps({"type": "sdr_error", "value": "No SDR Devices available"}))
                await ws.close()
                return
            f = float(d["freq"][ev])
            center = f + CENTER_OFFSET
            # the bands of the shared SDR: the event's (good), and two others
            bands = {"rtl|good": center, "rtl|hf": 14.2e6 if f > 30e6 else 300e6, "rtl|far": f + 50e6}
            running = "rtl|good"
            if self.fault in ("profiles", "noband"):
                running = "rtl|hf"
            if self.fault == "noband":
                bands["rtl|good"] = f + 20e6

            def config(pid):
                sdr, prof = pid.split("|")
                return json.dumps({"type": "config", "value": {
                    "center_freq": bands[pid], "samp_rate": SAMP_RATE, "start_mod": "nfm",
                    "start_offset_freq": -CENTER_OFFSET, "sdr_id": sdr, "profile_id": prof,
                    "waterfall_levels": {"min": -88, "max": -20}}})
            await ws.send(config(running))
            await ws.send(json.dumps({"type": "profiles", "value": [
                {"id": "rtl|hf", "name": "RTL HF"}, {"id": "rtl|far", "name": "RTL far"},
                {"id": "rtl|good", "name": "RTL the event's band"}]}))
            await ws.send(json.dumps({"type": "clients", "value": self.users}))
            if self.fault == "early":
                await ws.send("CLIENT DE SERVER server=openwebrx version=v1.2.2")
            center = bands[running]
            # dspcontrol: params with the right offset, and start, in any order
            tuned = started = False
            while not (tuned and started):
                msg = await asyncio.wait_for(ws.recv(), 10)
                if not isinstance(msg, str):
                    continue
                m = json.loads(msg)
                if m.get("type") == "selectprofile":
                    pid = m.get("params", {}).get("profile")
                    print(f"SELECT {r} {pid}", file=sys.stderr, flush=True)
                    if pid in bands:
                        running, center = pid, bands[pid]
                        tuned = False
                        await ws.send(config(pid))
                    continue
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
                    line = bytes(65536 * 4) if self.fault == "bigfft" else bytes(range(64))
                    await ws.send(b"\x01" + line)  # a waterfall line (not decoded by the client)
                if self.fault == "retune" and k == 3:
                    await ws.send(json.dumps({"type": "config", "value": {
                        "center_freq": center + 10e6, "samp_rate": SAMP_RATE, "sdr_id": "rtl", "profile_id": "far"}}))
                    await asyncio.sleep(0.05)
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
                if self.fault == "paced":
                    await asyncio.sleep(1 / 5.9)
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
