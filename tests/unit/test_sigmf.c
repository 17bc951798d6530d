/* formats/sigmf: metadata written and read back field for field; the
 * defaults of a recording without heimdall: fields; refusals. */
#include "core/error.h"
#include "formats/sigmf.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int parse(hd_sigmf_meta *m, const char *s)
{
    return hd_sigmf_meta_parse(m, s, strlen(s));
}

int main(void)
{
    plan_no_plan();
    hd_sigmf_meta m = {.sample_rate_hz = 12001.2, .frequency_hz = 7100000.5, .datetime_ns = 1780300800123456789LL,
                       .has_geo = 1, .lat = 45.020000000000003, .lon = -7.29, .alt_m = 600.25,
                       .event_time_ns = 1780300800000000000LL, .gps_ok = 0, .last_gps_solution_s = 282,
                       .clock_rate_hz = 12001.23456789},
                  b;
    strcpy(m.station, "torino");
    char *json = NULL;
    ok(hd_sigmf_meta_format(&m, &json) == 0, "format");
    ok(parse(&b, json) == 0, "parse what was formatted");
    ok(b.sample_rate_hz == m.sample_rate_hz && b.frequency_hz == m.frequency_hz, "rate and frequency exact");
    is_int(b.datetime_ns, m.datetime_ns, "datetime to the ns");
    is_int(b.event_time_ns, m.event_time_ns, "event time");
    ok(b.has_geo && b.lat == m.lat && b.lon == m.lon && b.alt_m == m.alt_m, "geolocation exact");
    ok(b.gps_ok == 0 && b.last_gps_solution_s == 282 && b.clock_rate_hz == m.clock_rate_hz, "heimdall: fields");
    is_str(b.station, "torino", "station");
    like(json, "\"core:datatype\": \"ci16_le\"", "datatype ci16_le");
    free(json);

    /* coordinates: a readable precision (1e-7 degree), rates still exact */
    hd_sigmf_meta g = m;
    g.lat = 45.434, g.lon = 11.433999999999999, g.alt_m = 123.4567891;
    g.clock_rate_hz = 12001.234567891234;
    ok(hd_sigmf_meta_format(&g, &json) == 0, "format with a position");
    like(json, "\"coordinates\":[11.434,45.434,123.457]", "coordinates written as 11.434, 45.434");
    ok(!strstr(json, "433999"), "no 11.433999999999999");
    ok(parse(&b, json) == 0 && b.lat == 45.434 && b.lon == 11.434 && b.alt_m == 123.457,
       "position reads back rounded to 1e-7 degree, 1 mm");
    ok(b.clock_rate_hz == g.clock_rate_hz, "clock rate still exact (17 digits)");
    free(json);
    g.has_geo = 0;
    ok(hd_sigmf_meta_format(&g, &json) == 0 && !strstr(json, "geolocation") && !strstr(json, "@heimdall"),
       "no position: no geolocation, no marker left");
    free(json);

    ok(parse(&b, "{\"global\":{\"core:datatype\":\"ci16_le\",\"core:sample_rate\":48000},"
                 "\"captures\":[{\"core:frequency\":7e6,\"core:datetime\":\"2024-03-01T12:00:00.5Z\"}]}") == 0,
       "minimal recording parses");
    ok(b.gps_ok == 1 && b.clock_rate_hz == 48000 && !b.has_geo && isnan(b.lat) && b.station[0] == 0,
       "defaults: gps_ok, clock = sample rate, no position, no station");
    is_int(b.event_time_ns, 1709294400LL * 1000000000LL, "event time: the datetime's second");

    ok(parse(&b, "{") == HD_EFORMAT, "bad JSON refused");
    like(hd_errmsg(), "not JSON", "bad JSON: message");
    ok(parse(&b, "{\"global\":{\"core:datatype\":\"cf32_le\",\"core:sample_rate\":1},\"captures\":[]}") == HD_EFORMAT,
       "cf32_le refused");
    like(hd_errmsg(), "only ci16_le", "wrong datatype: message");
    ok(parse(&b, "{\"global\":{\"core:datatype\":\"ci16_le\",\"core:sample_rate\":1},\"captures\":[]}") == HD_EFORMAT,
       "no capture refused");
    ok(parse(&b, "{\"global\":{\"core:datatype\":\"ci16_le\",\"core:sample_rate\":1,\"core:geolocation\":"
                 "{\"type\":\"Point\",\"coordinates\":[200,10]}},\"captures\":[{\"core:frequency\":1,"
                 "\"core:datetime\":\"2024-03-01T12:00:00Z\"}]}") == HD_EFORMAT,
       "longitude 200 refused");
    ok(parse(&b, "[1,2]") == HD_EFORMAT, "a JSON array refused");
    done_testing();
    return exit_status();
}
