"""docs/events.md documents every event type with an example its catalogue model accepts."""

import json
import re
from pathlib import Path

from creditgate.events.catalogue import DATA, EventType

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
SECTION = re.compile(r"^### (\S+)\n(.*?)```json\n(.*?)```", re.MULTILINE | re.DOTALL)


def test_every_type_has_a_documented_example_of_its_data() -> None:
    examples = {m[1]: json.loads(m[3]) for m in SECTION.finditer(DOC.read_text())}
    assert set(examples) == {t.value for t in EventType}
    for name, example in examples.items():
        model = DATA[EventType(name)]
        assert model.model_validate(example).dump() == example, name
        assert set(example) == set(model.model_fields), name
