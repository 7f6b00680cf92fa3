"""Settings live in one typed place, plpython/bgjobs_settings.py: the TOML reader, the SQL
(bgjobs.setting_spec, get_setting) and the plain delivery modules all take their defaults
from it, and no SQL file or plain module carries a default of its own."""

import re
from pathlib import Path

import bgjobs_channels
import bgjobs_delivery
import bgjobs_settings

ROOT = Path(__file__).resolve().parents[2]


def test_sql_passes_no_literal_default_to_a_setting():
    offenders = []
    for path in sorted((ROOT / "sql").rglob("*.sql")):
        text = path.read_text()
        for m in re.finditer(r"get_setting\('[a-z_]+',|coalesce\(\s*bgjobs\.get_setting\(", text):
            line = text.count("\n", 0, m.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert offenders == []


def test_plain_modules_pass_no_literal_default_for_a_config_key():
    offenders = []
    for path in sorted((ROOT / "plpython").glob("bgjobs_*.py")):
        text = path.read_text()
        for m in re.finditer(r"""config\.get\(\s*["'][a-z_]+["']\s*,(?!\s*bgjobs_settings\.)\s*[^)\s]""", text):
            offenders.append(f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}")
    assert offenders == []


def test_plain_modules_defaults_are_the_specs():
    spec = bgjobs_settings.SPEC
    assert bgjobs_channels.MAX_ATTEMPTS == int(spec["notification_max_attempts"].default) == 8
    assert bgjobs_channels.MAX_TIMEOUT == spec["delivery_timeout_seconds"].max == 10
    assert bgjobs_channels.Sender({}).timeout == float(spec["delivery_timeout_seconds"].default)
    assert bgjobs_channels.backoff_seconds(1) == int(spec["notification_backoff_base_seconds"].default)
    assert bgjobs_channels.backoff_seconds(30) == int(spec["notification_backoff_cap_seconds"].default)
    assert bgjobs_delivery.run_budget({}) == float(spec["delivery_run_budget_seconds"].default) == 40
    assert bgjobs_delivery.MAX_RUN_BUDGET_SECONDS == spec["delivery_run_budget_seconds"].max == 50


def test_the_installer_reads_the_same_spec():
    from bgjobs import settings

    assert settings.SPEC is bgjobs_settings.SPEC
    assert settings.DEFAULTS == {k: (s.default, s.description) for k, s in bgjobs_settings.SPEC.items()}
