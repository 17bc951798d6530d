"""A stations file for the mixed live tests: nw-italy's seven sites, the first
four KiwiSDR (GPS clocks), the last three OpenWebRX (free-running); with
--shared an eighth station "coazze-2" on coazze's server. Urls point at the
emulators' ports read from PORTS files ("PORT <receiver> <port>" lines; the
first file naming a receiver wins), empty without one.
Usage: mixed_stations.py [--shared] OUT.yaml [PORTS...]"""
import sys

sites = [("aquila-giaveno", 45.02, 7.29, 600), ("montanaro", 45.234, 7.857, 300), ("torino", 45.044, 7.672, 250),
         ("coazze", 45.048, 7.238, 700), ("passo-giovi", 44.561, 8.956, 480), ("genova", 44.395, 8.956, 100),
         ("milano-baggio", 45.478, 9.123, 120)]
args = sys.argv[1:]
shared = "--shared" in args
args = [a for a in args if a != "--shared"]
out, ports = args[0], {}
for pf in args[1:]:
    for l in open(pf):
        if l.startswith("PORT"):
            _, r, p = l.split()
            ports.setdefault(int(r), int(p))
if shared:
    sites.append(("coazze-2", 45.048, 7.238, 700))
with open(out, "w") as o:
    o.write("stations:\n")
    for r, (i, lat, lon, alt) in enumerate(sites):
        drv = "kiwisdr" if r < 4 or r == 7 else "openwebrx"
        port = ports.get(3 if r == 7 else r)
        url = f"ws://127.0.0.1:{port}/" if port else ""
        o.write(f"  - {{id: {i}, lat: {lat}, lon: {lon}, alt_m: {alt}, driver: {drv}, url: \"{url}\", "
                f"sample_rate_hz: 24000, clock: {'gps' if drv == 'kiwisdr' else 'free'}}}\n")
