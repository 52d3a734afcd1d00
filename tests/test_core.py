"""The SDK's standard tap tests, over every stream, against the simulator."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_exec.simulator import Counts, Simulator, build
from tap_exec.tap import TapExec
from tests.helpers import catalog_for, fast_config

# get_tap_test_class needs its config when the module is collected, so this simulator starts here.
_SIM = Simulator(build(3, Counts.scaled(0.2, sessions=120))).start()
atexit.register(_SIM.stop)
_CONFIG = fast_config(_SIM)
_ALL = [entry["tap_stream_id"] for entry in catalog_for(_CONFIG)["streams"]]

TestTapExec = get_tap_test_class(
    TapExec,
    config=_CONFIG,
    catalog=catalog_for(_CONFIG, _ALL),
    # fetch_failures has rows only when a parent's children fail, which this workspace never does
    suite_config=SuiteConfig(max_records_limit=None, ignore_no_records_for_streams=["fetch_failures"]),
)
