"""The two recipes docs/screening.md gives integrators for checking a decision's signature run,
as written, against a decision signed by the screening service's signer: they accept it and
refuse a forgery of it (an altered value, another key, another key's id)."""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.signing import Signer
from tests.unit.audit.factories import make_decision

DOC = Path(__file__).resolve().parents[3] / "docs" / "screening.md"
SECTION = DOC.read_text(encoding="utf-8").split("## Checking a decision's signature", 1)[1]
PYTHON = re.search(r"```python\n(.*?)```", SECTION, re.DOTALL)
SHELL = re.search(r"```sh\n(.*?)```", SECTION, re.DOTALL)

SIGNER = Signer(Ed25519PrivateKey.generate())
OTHER = Signer(Ed25519PrivateKey.generate())
VALUE = make_decision(7).model_dump_json().encode()
FORGED = VALUE.replace(b'"hold"', b'"approve"') if b'"hold"' in VALUE else VALUE + b" "


def _pem(signer: Signer) -> bytes:
    return signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _recipe() -> Callable[[bytes, dict[str, bytes], bytes], bytes]:
    assert PYTHON is not None
    namespace: dict[str, object] = {}
    exec(PYTHON.group(1), namespace)  # noqa: S102 - the documentation's own code
    recipe = namespace["verified_value"]
    assert callable(recipe)
    return recipe


def test_the_python_recipe_accepts_the_signed_decision_and_refuses_forgeries() -> None:
    verified_value = _recipe()
    headers = dict(SIGNER.headers(VALUE))
    assert verified_value(VALUE, headers, _pem(SIGNER)) == VALUE
    assert json.loads(verified_value(VALUE, headers, _pem(SIGNER)))["decision_id"]
    with pytest.raises(InvalidSignature):
        verified_value(FORGED, headers, _pem(SIGNER))  # altered after signing
    with pytest.raises(ValueError, match="another key"):
        verified_value(VALUE, dict(OTHER.headers(VALUE)), _pem(SIGNER))  # another key
    spoofed = {**dict(OTHER.headers(VALUE)), "lodestone-key-id": SIGNER.key_id.encode()}
    with pytest.raises(InvalidSignature):
        verified_value(VALUE, spoofed, _pem(SIGNER))  # another key under our key's id


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")
def test_the_openssl_recipe_accepts_the_signed_decision_and_refuses_a_forgery(
    tmp_path: Path,
) -> None:
    assert SHELL is not None
    command = shlex.split(SHELL.group(1).strip())
    (tmp_path / "decision-signing.pub.pem").write_bytes(_pem(SIGNER))
    signature = dict(SIGNER.headers(VALUE))["lodestone-signature"]
    (tmp_path / "signature.bin").write_bytes(base64.b64decode(signature))

    def run(value: bytes) -> int:
        (tmp_path / "value.bin").write_bytes(value)
        return subprocess.run(command, cwd=tmp_path, capture_output=True, check=False).returncode

    assert run(VALUE) == 0
    assert run(FORGED) != 0
