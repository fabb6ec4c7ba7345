"""pytest glue: every testbench entry point taking `sim` runs once per selected simulator (SIM=...)."""

from tb.common.runner import selected_simulators


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        metafunc.parametrize("sim", selected_simulators())
