"""The docs keep up with the code: every setting is in the README's table, and every
docs/ file the code points to exists."""

import re

import pytest

from tests.support.servers import ROOT

SETTINGS = (ROOT / "inswing_realtime/settings.py").read_text()
README = (ROOT / "README.md").read_text()
CONFIGURATION = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    "name", sorted(set(re.findall(r"""(?:environ\.get|env_\w+)\(\s*["']([A-Z_]+)["']""", SETTINGS)))
)
def test_every_setting_read_from_the_environment_is_in_the_readme_table(name):
    assert f"`{name}`" in CONFIGURATION


def test_every_docs_file_the_code_points_to_exists():
    sources = [*ROOT.glob("coaching/**/*.py"), *ROOT.glob("inswing_realtime/*.py")]
    sources += [*ROOT.glob("bench/*.py")]
    for source in sources:
        for doc in re.findall(r"docs/[\w-]+\.md", source.read_text()):
            assert (ROOT / doc).exists(), f"{source.name} points to missing {doc}"
