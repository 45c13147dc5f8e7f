/* default_config.c - the pipeline sluice runs when given no configuration.
 *
 * It must work on any machine with nothing set up, so it reads nothing from
 * the host: generated Apache log lines go to stdout, one a second; every 30
 * seconds sluice's own metrics follow them through the same kind of sink; and
 * the API serves /health and /metrics, so a first run shows both the data
 * path and the monitoring side. */
#include "config/config.h"

const char config_default_yaml[] =
    "# sluice's built-in pipeline, used when no -c/-C option is given and\n"
    "# /etc/sluice/sluice.yaml does not exist.\n"
    "#\n"
    "# To run your own, write a YAML (or JSON) file in Vector's shape:\n"
    "#   sources:    {ID: {type: TYPE, ...options}}\n"
    "#   transforms: {ID: {type: TYPE, inputs: [IDS], ...options}}\n"
    "#   sinks:      {ID: {type: TYPE, inputs: [IDS], ...options}}\n"
    "# check it with `sluice validate -c FILE`, then run `sluice -c FILE`.\n"
    "# `sluice list` names the component types, `sluice doc TYPE` their options.\n"
    "\n"
    "api:\n"
    "  enabled: true\n"
    "  address: 127.0.0.1:8686\n"
    "\n"
    "sources:\n"
    "  demo:\n"
    "    type: demo_logs\n"
    "    format: apache_common\n"
    "    interval: 1.0\n"
    "  self:\n"
    "    type: internal_metrics\n"
    "    scrape_interval_secs: 30\n"
    "\n"
    "sinks:\n"
    "  console:\n"
    "    type: console\n"
    "    inputs: [demo]\n"
    "    encoding:\n"
    "      codec: text\n"
    "  metrics:\n"
    "    type: console\n"
    "    inputs: [self]\n"
    "    encoding:\n"
    "      codec: text\n";
