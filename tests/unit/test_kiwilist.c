/* formats/kiwilist: the public KiwiSDR list in its three forms, gnss_pos
 * records, and the stations made of them (config's ids, bands, YAML). */
#include "config/config.h"
#include "core/error.h"
#include "formats/kiwilist.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *JS =
    "// a comment before\nvar kiwisdr_com =\n[\n"
    "{\n\"url\":\"http://a.example.org:8073\",\"name\":\"Alpha, 40 m \\\"loop\\\"\",\"status\":\"active\",\n"
    "\"offline\":\"no\",\"users\":\"1\",\"users_max\":\"4\",\"gps\":\"(48.1800, 11.5600)\",\"gps_good\":\"9\",\n"
    "\"fixes\":\"28312\",\"fixes_min\":\"31\",\"tdoa_id\":\"DL0ABC\",\"asl\":\"520\",\"loc\":\"Munich\",\n"
    "\"antenna\":\"dipole\",\"bands\":\"0-30000000\",},\n"
    "{\"url\":\"http://b.example.net:8074/\",\"name\":\"Beta [x], y\",\"gps\":\"(48.37, 10.90)\",\"gps_good\":\"2\",\n"
    "\"fixes_min\":\"0\",\"offline\":\"yes\",\"status\":\"offline\"},\n"
    "{\"url\":\"\",\"name\":\"No address\"},\n"
    "{\"url\":\"http://z.example.com:8073\",\"name\":\"Zero\",\"gps\":\"(0.000000, 0.000000)\"},\n"
    "];\n";

static const char *HTML =
    "<html><body>\n"
    "<div class='cl-entry'><a href='http://h1.example.org:8073' target='_blank'>one</a>\n"
    "<!-- status=active --><!-- offline=no --><!-- name=Gamma &amp; Delta --><!-- gps=(45.5, 9.2) -->\n"
    "<!-- gps_good=8 --><!-- fixes_min=12 --><!-- users=0 --><!-- users_max=8 --><!-- bands=0-30000000 -->\n"
    "</div>\n"
    "<div class='cl-entry'><a href=\"http://h2.example.org:8075\">two</a>\n"
    "<!-- status=active --><!-- name=Epsilon --><!-- gps=(46.0, 10.0) --><!-- tdoa_id=EPS1 -->\n"
    "</div></body></html>\n";

static const char *GNSS = "% gnss_pos of the TDoA service\n"
                          "d.DL0ABC = struct('coord', [48.18234, 11.56123], 'host', 'a.example.org', 'port', 8073);\n"
                          "d.OE_LINZ = struct('coord',[48.306,14.286],'host','linz.example.at','port',8073);\n";

int main(void)
{
    plan_no_plan();
    hd_kiwi_listing *l = NULL;
    int n = 0;

    /* the JavaScript mirror, trailing commas and all */
    ok(hd_kiwi_list_parse(JS, strlen(JS), "list.js", &l, &n) == 0, "the kiwisdr_com.js form parses");
    is_int(n, 4, "four entries, the unusable ones kept");
    if (n == 4) {
        is_str(l[0].name, "Alpha, 40 m \"loop\"", "a name with quotes and a comma");
        is_double(l[0].lat, 48.18, 1e-12, "gps (lat, lon): latitude");
        is_double(l[0].lon, 11.56, 1e-12, "gps (lat, lon): longitude");
        is_int(l[0].gps_good, 9, "gps_good as a number from a string");
        is_int(l[0].fixes_min, 31, "fixes_min");
        is_int(l[0].users_max, 4, "users_max");
        is_double(l[0].asl_m, 520, 0, "asl");
        is_str(l[0].tdoa_id, "DL0ABC", "tdoa_id");
        is_str(l[0].skip, "", "the first is usable");
        is_int(l[1].offline, 1, "offline yes");
        is_str(l[2].skip, "no url", "no url: the reason kept");
        is_str(l[3].skip, "no position set (listed at 0, 0)", "(0, 0): no position");
    }
    free(l);

    /* plain JSON, numbers as numbers, inside an object */
    const char *J = "{\"receivers\": [{\"url\": \"http://c.example:8073\", \"name\": \"C\", \"gps\": \"48, 11\", "
                    "\"gps_good\": 5, \"fixes_min\": 3, \"asl\": 12.5, \"offline\": false}]}";
    ok(hd_kiwi_list_parse(J, strlen(J), "list.json", &l, &n) == 0 && n == 1, "JSON object holding the array");
    if (n == 1) {
        is_int(l[0].gps_good, 5, "an integer value");
        is_double(l[0].asl_m, 12.5, 0, "a real value");
        is_int(l[0].offline, 0, "false as not offline");
    }
    free(l);

    /* the HTML page */
    ok(hd_kiwi_list_parse(HTML, strlen(HTML), "public.html", &l, &n) == 0, "the HTML page parses");
    is_int(n, 2, "two entries, split where a key comes again");
    if (n == 2) {
        is_str(l[0].name, "Gamma & Delta", "entities decoded");
        is_str(l[0].url, "http://h1.example.org:8073", "the url from the entry's link");
        is_str(l[1].url, "http://h2.example.org:8075", "the second entry's own link");
        is_str(l[1].tdoa_id, "EPS1", "tdoa_id from a comment");
        is_double(l[1].lat, 46.0, 0, "position");
    }
    free(l);

    /* malformed */
    const char *bad = "var kiwisdr_com = [ {\"url\": \"x\" \"name\": 1} ];";
    ok(hd_kiwi_list_parse(bad, strlen(bad), "bad.js", &l, &n) == HD_EFORMAT, "malformed JSON refused");
    like(hd_errmsg(), "bad.js: malformed list", "the message names the file");
    ok(hd_kiwi_list_parse("hello", 5, "x.txt", &l, &n) == HD_EFORMAT, "text that is no list refused");
    like(hd_errmsg(), "not a KiwiSDR list", "and says so");
    ok(hd_kiwi_list_parse("<html></html>", 13, "e.html", &l, &n) == HD_EFORMAT, "an HTML page with no entries");
    ok(hd_kiwi_list_parse("[1, 2", 5, "open.json", &l, &n) == HD_EFORMAT, "an unclosed list");

    /* gnss_pos */
    hd_kiwi_gnss_pos *g = NULL;
    int ng = 0;
    ok(hd_kiwi_gnss_pos_scan(GNSS, "gnss_pos/x.txt", &g, &ng) == 0 && ng == 2, "two gnss_pos records");
    if (ng == 2) {
        is_str(g[0].name, "DL0ABC", "name");
        is_double(g[0].lat, 48.18234, 1e-12, "coord lat");
        is_str(g[1].host, "linz.example.at", "host");
        is_int(g[1].port, 8073, "port");
    }
    hd_kiwi_gnss_pos *g2 = NULL;
    int ng2 = 0;
    ok(hd_kiwi_gnss_pos_scan("x\nd.A = struct('coord',[91,0]);\n", "p.txt", &g2, &ng2) == HD_EFORMAT,
       "a latitude beyond 90 refused");
    like(hd_errmsg(), "p.txt:2:", "file:line");

    /* ids, bands */
    char id[HD_ID_LEN];
    hd_station_id_make("DL0ABC", id, sizeof id);
    is_str(id, "dl0abc", "lower case");
    hd_station_id_make("  kiwi.example.org:8073 ", id, sizeof id);
    is_str(id, "kiwi-example-org-8073", "dots and colons as single '-', ends trimmed");
    hd_station_id_make("München_Nord", id, sizeof id);
    is_str(id, "m-nchen_nord", "non-ASCII as '-', '_' kept");
    hd_station_id_make("***", id, sizeof id);
    is_str(id, "rx", "nothing left: rx");
    hd_station_id_make("a-very-long-station-identifier-beyond-thirty-one", id, sizeof id);
    is_str(id, "a-very-long-station-identifier", "truncated to the id length, the cut '-' trimmed");
    hd_station b = {0};
    strcpy(b.bands, "0-30000000, 144000000-146000000");
    is_int(hd_station_covers(&b, 7e6), 2, "7 MHz covered");
    is_int(hd_station_covers(&b, 145e6), 2, "145 MHz covered by the second range");
    is_int(hd_station_covers(&b, 433e6), 1, "433 MHz not");
    strcpy(b.bands, "30-10");
    is_int(hd_station_covers(&b, 7e6), -1, "LO > HI malformed");
    b.bands[0] = '\0';
    is_int(hd_station_covers(&b, 7e6), 0, "no bands: unknown");

    /* stations */
    ok(hd_kiwi_list_parse(JS, strlen(JS), "list.js", &l, &n) == 0, "list again");
    hd_kiwi_select sel = {0};
    hd_kiwi_station *st = NULL;
    hd_kiwi_skipped *sk = NULL;
    int m = 0, ns = 0;
    ok(hd_kiwi_stations(l, n, g, ng, &sel, &st, &m, &sk, &ns) == 0, "stations made");
    is_int(m, 3, "two listed + one gnss_pos record no entry claims");
    is_int(ns, 2, "two left out");
    if (m == 3 && ns == 2) {
        is_str(st[0].st.id, "dl0abc", "id from tdoa_id");
        is_double(st[0].st.lat, 48.18234, 1e-12, "position from the gnss_pos record of the same name");
        is_int(st[0].st.clock, HD_CLOCK_GPS, "9 satellites and fixes: clock gps");
        is_str(st[0].st.url, "http://a.example.org:8073/", "url with its slash");
        is_str(st[1].st.id, "b-example-net", "no tdoa_id: id from the host");
        is_int(st[1].st.clock, HD_CLOCK_FREE, "2 satellites: clock free");
        is_str(st[2].st.id, "oe_linz", "the unclaimed record");
        is_str(st[2].st.url, "http://linz.example.at:8073/", "its url from host and port");
        like(sk[0].reason, "no url", "reason: no url");
        like(sk[1].reason, "no position set", "reason: no position");
        like(st[0].note, "position from gnss_pos d.DL0ABC", "the note says where the position came from");
    }
    /* the YAML, loaded back */
    hd_station s3[3];
    const char *notes[3];
    for (int i = 0; i < m && i < 3; i++) {
        s3[i] = st[i].st;
        notes[i] = st[i].note;
    }
    char *yaml = NULL;
    ok(hd_stations_yaml(s3, m, notes, &yaml) == 0, "stations as YAML");
    char *doc = malloc(strlen(yaml) + 32);
    sprintf(doc, "seed: 1\nstations:\n%s", yaml);
    hd_config cfg = {0};
    int rc = hd_config_load_string(&cfg, doc, "<import>", NULL, 0);
    ok(rc == 0, "the YAML loads as a config's stations (%s)", rc ? hd_errmsg() : "ok");
    if (rc == 0 && cfg.n_stations == 3) {
        is_str(cfg.stations[0].name, "Alpha, 40 m \"loop\"", "the name survives the quoting");
        is_int(cfg.stations[0].clock, HD_CLOCK_GPS, "clock gps written");
        is_double(cfg.stations[0].clock_sigma_ns, 100, 0, "and its defaults follow");
        is_str(cfg.stations[0].bands, "0-30000000", "bands");
        is_str(cfg.stations[0].antenna, "dipole", "antenna");
        is_double(cfg.stations[0].alt_m, 520, 0, "alt_m from asl");
    }
    ok(strstr(yaml, "sample_rate_hz") == NULL, "defaults are not written");
    hd_config_release(&cfg);
    free(doc);
    free(yaml);
    free(st);
    free(sk);

    /* selection */
    sel.near_lat = 48.14;
    sel.near_lon = 11.58;
    sel.near_km = 100;
    sel.gps_only = 1;
    ok(hd_kiwi_stations(l, n, g, ng, &sel, &st, &m, &sk, &ns) == 0, "near + gps");
    is_int(m, 1, "only the GPS receiver within 100 km");
    int near = 0, nogps = 0;
    for (int i = 0; i < ns; i++) {
        near += strstr(sk[i].reason, "beyond --near 100 km") != NULL;
        nogps += strstr(sk[i].reason, "no GPS solution") != NULL;
    }
    is_int(near, 1, "Linz beyond 100 km, named");
    is_int(nogps, 1, "Beta without GPS, named");
    free(st);
    free(sk);
    sel = (hd_kiwi_select){.max = 1};
    ok(hd_kiwi_stations(l, n, g, ng, &sel, &st, &m, &sk, &ns) == 0 && m == 1, "--max 1");
    like(sk[ns - 1].reason, "beyond --max 1", "the rest named");
    free(st);
    free(sk);
    /* the same list twice: one station per server */
    hd_kiwi_listing two[2] = {l[0], l[0]};
    sel = (hd_kiwi_select){0};
    ok(hd_kiwi_stations(two, 2, NULL, 0, &sel, &st, &m, &sk, &ns) == 0 && m == 1 && ns == 1, "a server listed twice");
    like(ns ? sk[0].reason : "", "same server as dl0abc", "named as such");
    free(st);
    free(sk);
    free(l);
    free(g);
    done_testing();
    return exit_status();
}
