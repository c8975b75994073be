"""Tests for fairaudit.provenance keys and signing, and the keygen/sign/verify commands.

The reports here are tiny hand-made HTML files with an embedded fairaudit-data JSON, so the
tests depend on nothing else in the package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from fairaudit.cli import MSG_PASSPHRASE_ENV_UNSET, keygen, sign, verify
from fairaudit.errors import SigningError, VerificationError
from fairaudit.provenance import (
    MSG_ALREADY_SIGNED,
    MSG_BAD_SIGNATURE,
    MSG_COUNTERSIGN_MISMATCH,
    MSG_DETACHED_MISMATCH,
    MSG_DIGEST_MISMATCH,
    MSG_EXTRA_CONFLICT,
    MSG_KEY_EXISTS,
    MSG_LINE_ENDINGS,
    MSG_MALFORMED,
    MSG_NAME_MISMATCH,
    MSG_NEED_PASSPHRASE,
    MSG_NO_TRUSTED_KEYS,
    MSG_NOT_ED25519,
    MSG_OTHER_REPORT,
    MSG_PREDICATE_MISMATCH,
    MSG_PRIVATE_KEY_GIVEN,
    MSG_TOO_FEW_SIGNERS,
    MSG_TRAILING_BYTES,
    MSG_UNKNOWN_KEY,
    MSG_UNSIGNED,
    MSG_WRONG_PASSPHRASE,
    PAYLOAD_TYPE,
    STATEMENT_TYPE,
    Signer,
    build_predicate,
    envelope_digest,
    extract_results,
    generate_key_pair,
    key_id,
    load_private_key,
    load_public_key,
    load_trusted_keys,
    pae,
    parse_detached,
    render_trailer,
    sign_report_bytes,
    sign_report_file,
    split_trailer,
    verify_report,
    verify_report_file,
)
from fairaudit.provenance import _keys as keys
from fairaudit.provenance import _statement as statement_module
from fairaudit.provenance import _trailer as trailer_module
from fairaudit.provenance import _verify as verify_module

SIGNED_AT = "2024-05-02T09:30:00Z"
REVIEWED_AT = "2024-05-03T10:00:00Z"
ALL_REASONS = {
    value
    for module in (trailer_module, verify_module)
    for name, value in vars(module).items()
    if name.startswith("REASON_")
} - {
    verify_module.REASON_NO_TRUSTED_KEYS,
    verify_module.REASON_UNREADABLE,
}
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


def make_results(audit_id: str = "audit-0001", verdict: str | None = None) -> dict[str, Any]:
    return {
        "schema_version": "1.0.0",
        "tool": {"name": "fairaudit", "version": "0.1.0"},
        "audit": {
            "id": audit_id,
            "name": "credit-scorer",
            "model_version": "2.3.1",
            "created_at": "2024-05-01T12:00:00Z",
            "seed": 42,
            "supersedes": None,
        },
        "lineage": {
            "data": {"sha256": "ab" * 32, "rows": 1000, "path": "eval.csv"},
            "model": {"sha256": "cd" * 32, "format": "skops"},
        },
        "headline": [
            {"feature": "sex", "metric": "selection_rate_difference", "value": 0.125},
            {"feature": "age_band", "metric": "equalized_odds_difference", "value": 0.2},
        ],
        "verdict": verdict,
    }


def make_report(results: dict[str, Any] | None = None, *, final_newline: bool = True) -> bytes:
    """Return a minimal report.html embedding ``results`` the way fairaudit does."""
    data = json.dumps(results if results is not None else make_results())
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        "<title>Fairness audit &mdash; credit-scorer</title></head>\n"
        "<body>\n<h1>Fairness audit: credit-scorer 2.3.1</h1>\n"
        "<p>Selection rate difference by sex: 0.125 &lt; 0.2</p>\n"
        f'<script type="application/json" id="fairaudit-data">{data}</script>\n'
        "</body>\n</html>" + ("\n" if final_newline else "")
    )
    return html.encode("utf-8")


@pytest.fixture(scope="module")
def auditor_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(scope="module")
def reviewer_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


@pytest.fixture(scope="module")
def trusted(
    auditor_key: Ed25519PrivateKey, reviewer_key: Ed25519PrivateKey
) -> dict[str, Ed25519PublicKey]:
    return {key_id(k.public_key()): k.public_key() for k in (auditor_key, reviewer_key)}


@pytest.fixture(scope="module")
def report() -> bytes:
    return make_report()


@pytest.fixture(scope="module")
def signed(report: bytes, auditor_key: Ed25519PrivateKey) -> bytes:
    return sign_report_bytes(
        report, key=auditor_key, report_name="report.html", signed_at=SIGNED_AT
    )


@pytest.fixture(scope="module")
def countersigned(signed: bytes, reviewer_key: Ed25519PrivateKey) -> bytes:
    return sign_report_bytes(
        signed,
        key=reviewer_key,
        report_name="report.html",
        role="reviewer",
        signed_at=REVIEWED_AT,
    )


def write_pem(path: Path, key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def write_public_pem(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def rejection(html: bytes, trusted_keys: dict[str, Ed25519PublicKey], **kwargs: Any):
    with pytest.raises(VerificationError) as caught:
        verify_report(html, trusted_keys, **kwargs)
    return caught.value


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))


def envelope_for(statement: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Sign an arbitrary statement by hand, independently of fairaudit's signing code."""
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    message = b"DSSEv1 %d %b %d %b" % (
        len(PAYLOAD_TYPE),
        PAYLOAD_TYPE.encode(),
        len(payload),
        payload,
    )
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [
            {
                "keyid": key_id(key.public_key()),
                "sig": base64.b64encode(key.sign(message)).decode(),
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# DSSE and the statement


def test_pae_matches_dsse_protocol_test_vector() -> None:
    # secure-systems-lab/dsse protocol.md, "Test Vectors".
    message = pae("http://example.com/HelloWorld", b"hello world")
    assert message == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    # The spec's ECDSA P-256 signature verifies over exactly these bytes.
    x = 46950820868899156662930047687818585632848591499744589407958293238635476079160
    y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
    public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raw = base64.b64decode(
        "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="
    )
    signature = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
    assert pae(b"", b"") == b"DSSEv1 0  0 "


def test_signed_report_is_body_plus_one_trailer_line(report: bytes, signed: bytes) -> None:
    assert signed[: len(report)] == report
    trailer = signed[len(report) :]
    assert trailer.startswith(b"<!-- fairaudit-signature v1 [")
    assert trailer.endswith(b"] -->\n")
    assert trailer.count(b"\n") == 1
    body, envelopes = split_trailer(signed)
    assert body == report
    assert envelopes is not None and len(envelopes) == 1
    assert render_trailer(envelopes) == trailer


def test_statement_is_in_toto_v1_over_the_body(
    report: bytes, signed: bytes, auditor_key: Ed25519PrivateKey
) -> None:
    (envelope,) = split_trailer(signed)[1] or []
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = statement_of(envelope)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://fairaudit.dev/fairness-audit/v1"
    assert statement["subject"] == [
        {"name": "report.html", "digest": {"sha256": hashlib.sha256(report).hexdigest()}}
    ]
    expected = build_predicate(make_results(), role="auditor", signed_at=SIGNED_AT)
    assert statement["predicate"] == {**expected, "countersigns": []}
    # The payload is RFC 8785 canonical JSON; the signature is Ed25519 over PAE.
    payload = base64.b64decode(envelope["payload"])
    assert payload == json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    (signature,) = envelope["signatures"]
    assert signature["keyid"] == key_id(auditor_key.public_key())
    auditor_key.public_key().verify(base64.b64decode(signature["sig"]), pae(PAYLOAD_TYPE, payload))


def test_build_predicate_fields() -> None:
    predicate = build_predicate(make_results(verdict="pass"), role="auditor", signed_at=SIGNED_AT)
    assert predicate == {
        "audit": {
            "id": "audit-0001",
            "created_at": "2024-05-01T12:00:00Z",
            "seed": 42,
            "supersedes": None,
        },
        "model": {
            "name": "credit-scorer",
            "version": "2.3.1",
            "sha256": "cd" * 32,
            "format": "skops",
        },
        "data": {"sha256": "ab" * 32, "rows": 1000},
        "tool": {"name": "fairaudit", "version": "0.1.0"},
        "schema_version": "1.0.0",
        "headline": [
            {"feature": "sex", "metric": "selection_rate_difference", "value": 0.125},
            {"feature": "age_band", "metric": "equalized_odds_difference", "value": 0.2},
        ],
        "verdict": "pass",
        "role": "auditor",
        "signed_at": SIGNED_AT,
    }


def test_build_predicate_tolerates_absent_fields() -> None:
    predicate = build_predicate({"lineage": {"model": None}}, role="r", signed_at=SIGNED_AT)
    assert predicate == {
        "audit": {"id": None, "created_at": None, "seed": None, "supersedes": None},
        "model": {"name": None, "version": None, "sha256": None, "format": None},
        "data": {"sha256": None, "rows": None},
        "tool": {"name": None, "version": None},
        "schema_version": None,
        "headline": None,
        "verdict": None,
        "role": "r",
        "signed_at": SIGNED_AT,
    }


def test_build_predicate_merges_extra_fields_but_not_over_its_own() -> None:
    extra = {"decision": "approve", "comment": "ok"}
    predicate = build_predicate(make_results(), role="reviewer", signed_at=SIGNED_AT, extra=extra)
    assert predicate["decision"] == "approve" and predicate["comment"] == "ok"
    with pytest.raises(SigningError) as caught:
        build_predicate(make_results(), role="r", signed_at=SIGNED_AT, extra={"verdict": "x"})
    assert str(caught.value) == MSG_EXTRA_CONFLICT.format(fields="verdict")


def test_extra_fields_are_signed_and_verify(
    report: bytes, reviewer_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    html = sign_report_bytes(
        report,
        key=reviewer_key,
        report_name="report.html",
        role="reviewer",
        signed_at=REVIEWED_AT,
        extra={"decision": "reject", "comment": "needs more data"},
    )
    (envelope,) = split_trailer(html)[1] or []
    assert statement_of(envelope)["predicate"]["decision"] == "reject"
    (signer,) = verify_report(html, trusted).signers
    assert (signer.role, signer.extra) == (
        "reviewer",
        {"decision": "reject", "comment": "needs more data"},
    )


def test_extract_results_reads_escaped_json(report: bytes) -> None:
    results = make_results(audit_id="<a&b>")
    assert extract_results(make_report(results)) == results


def test_report_without_results_cannot_be_signed(auditor_key: Ed25519PrivateKey) -> None:
    with pytest.raises(SigningError) as caught:
        sign_report_bytes(b"<html></html>\n", key=auditor_key, report_name="r.html")
    assert str(caught.value) == statement_module.MSG_NO_RESULTS


# ---------------------------------------------------------------------------------------------
# Verification: success


def test_signed_report_verifies(
    report: bytes,
    signed: bytes,
    auditor_key: Ed25519PrivateKey,
    trusted: dict[str, Ed25519PublicKey],
) -> None:
    summary = verify_report(signed, trusted, report_name="report.html")
    (envelope,) = split_trailer(signed)[1] or []
    assert summary.signers == (
        Signer(
            key_id(auditor_key.public_key()),
            "auditor",
            SIGNED_AT,
            envelope_sha256=envelope_digest(envelope),
        ),
    )
    assert summary.key_ids == (key_id(auditor_key.public_key()),)
    assert summary.roles == ("auditor",)
    assert (summary.audit_id, summary.model_name, summary.model_version) == (
        "audit-0001",
        "credit-scorer",
        "2.3.1",
    )
    assert summary.verdict is None
    assert summary.body_sha256 == hashlib.sha256(report).hexdigest()
    assert summary.source == "embedded"
    short = key_id(auditor_key.public_key())[:16]
    assert summary.describe() == (
        f"Verified: signed by {short} (auditor, {SIGNED_AT}); model credit-scorer 2.3.1; "
        "verdict none; audit audit-0001."
    )


def test_report_without_final_newline_signs_and_verifies(
    auditor_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    report = make_report(final_newline=False)
    html = sign_report_bytes(report, key=auditor_key, report_name="r.html", signed_at=SIGNED_AT)
    assert html.startswith(report + b"<!-- fairaudit-signature v1 ")
    assert verify_report(html, trusted).body_sha256 == hashlib.sha256(report).hexdigest()


# ---------------------------------------------------------------------------------------------
# Verification: every tampering is rejected, each with its own reason


@pytest.mark.parametrize("fixture", ["signed", "countersigned"])
def test_every_trailer_byte_flip_is_rejected(
    fixture: str,
    report: bytes,
    trusted: dict[str, Ed25519PublicKey],
    request: pytest.FixtureRequest,
) -> None:
    html: bytes = request.getfixturevalue(fixture)
    for position in range(len(report), len(html)):
        for mask in (0x01, 0x20, 0x80):
            tampered = bytearray(html)
            tampered[position] ^= mask
            error = rejection(bytes(tampered), trusted, report_name="report.html")
            assert error.reason in ALL_REASONS, (position, mask, error.reason)


def test_random_body_byte_flips_are_rejected(
    report: bytes, countersigned: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    rng = random.Random(20240501)
    for _ in range(400):
        position = rng.randrange(len(report))
        tampered = bytearray(countersigned)
        tampered[position] ^= rng.randrange(1, 256)
        error = rejection(bytes(tampered), trusted)
        assert error.reason in {
            verify_module.REASON_DIGEST_MISMATCH,
            verify_module.REASON_STATEMENT_MISMATCH,
        }


def test_body_change_is_a_digest_mismatch(
    report: bytes, signed: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    tampered = signed.replace(b"0.125 &lt; 0.2", b"0.025 &lt; 0.2")
    error = rejection(tampered, trusted)
    assert error.reason == verify_module.REASON_DIGEST_MISMATCH
    assert str(error) == MSG_DIGEST_MISMATCH.format(
        actual=hashlib.sha256(split_trailer(tampered)[0]).hexdigest(),
        signed=hashlib.sha256(report).hexdigest(),
    )


def test_appended_bytes_are_rejected(signed: bytes, trusted: dict[str, Ed25519PublicKey]) -> None:
    for extra in (b"\n", b"<script>alert(1)</script>\n"):
        error = rejection(signed + extra, trusted)
        assert error.reason == trailer_module.REASON_TRAILING_BYTES
        assert str(error) == MSG_TRAILING_BYTES.format(count=len(extra))


def test_crlf_conversion_is_rejected(signed: bytes, trusted: dict[str, Ed25519PublicKey]) -> None:
    error = rejection(signed.replace(b"\n", b"\r\n"), trusted)
    assert (error.reason, str(error)) == (trailer_module.REASON_LINE_ENDINGS, MSG_LINE_ENDINGS)
    # Converting only the body, trailer untouched, changes the digest.
    body, _ = split_trailer(signed)
    error = rejection(body.replace(b"\n", b"\r\n") + signed[len(body) :], trusted)
    assert error.reason == verify_module.REASON_DIGEST_MISMATCH


def test_stripped_signature_is_unsigned(
    report: bytes, signed: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    error = rejection(split_trailer(signed)[0], trusted)
    assert (error.reason, str(error)) == (verify_module.REASON_UNSIGNED, MSG_UNSIGNED)


def test_envelope_moved_from_another_report_is_rejected(
    signed: bytes, auditor_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    other = sign_report_bytes(
        make_report(make_results(audit_id="audit-0002")),
        key=auditor_key,
        report_name="report.html",
        signed_at=SIGNED_AT,
    )
    other_body = split_trailer(other)[0]
    moved = split_trailer(signed)[0] + other[len(other_body) :]
    error = rejection(moved, trusted)
    assert error.reason == verify_module.REASON_STATEMENT_MISMATCH
    assert str(error) == MSG_OTHER_REPORT.format(index=1, signed="audit-0002", actual="audit-0001")


def test_wrong_key_is_unknown(
    signed: bytes, auditor_key: Ed25519PrivateKey, reviewer_key: Ed25519PrivateKey
) -> None:
    only_reviewer = {key_id(reviewer_key.public_key()): reviewer_key.public_key()}
    error = rejection(signed, only_reviewer)
    assert error.reason == verify_module.REASON_UNKNOWN_KEY
    assert str(error) == MSG_UNKNOWN_KEY.format(
        index=1, keyid=key_id(auditor_key.public_key())[:16]
    )


def test_keyid_pointing_at_another_trusted_key_is_a_bad_signature(
    signed: bytes,
    auditor_key: Ed25519PrivateKey,
    reviewer_key: Ed25519PrivateKey,
    trusted: dict[str, Ed25519PublicKey],
) -> None:
    reviewer_id = key_id(reviewer_key.public_key())
    tampered = signed.replace(key_id(auditor_key.public_key()).encode(), reviewer_id.encode())
    error = rejection(tampered, trusted)
    assert error.reason == verify_module.REASON_BAD_SIGNATURE
    assert str(error) == MSG_BAD_SIGNATURE.format(index=1, keyid=reviewer_id[:16])


def test_signature_by_another_key_under_a_trusted_keyid_is_bad(
    report: bytes, auditor_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    impostor = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    html = sign_report_bytes(report, key=impostor, report_name="report.html", signed_at=SIGNED_AT)
    html = html.replace(
        key_id(impostor.public_key()).encode(), key_id(auditor_key.public_key()).encode()
    )
    assert rejection(html, trusted).reason == verify_module.REASON_BAD_SIGNATURE


def test_no_trusted_keys(signed: bytes) -> None:
    error = rejection(signed, {})
    assert (error.reason, str(error)) == (verify_module.REASON_NO_TRUSTED_KEYS, MSG_NO_TRUSTED_KEYS)


def with_envelopes(html: bytes, envelopes: list[dict[str, Any]]) -> bytes:
    return split_trailer(html)[0] + render_trailer(envelopes)


@pytest.mark.parametrize(
    ("mutate", "detail"),
    [
        (lambda e: {**e, "payloadType": "application/json"}, f"payloadType is not {PAYLOAD_TYPE}"),
        (
            lambda e: {**e, "extra": 1},
            "an envelope must have exactly payload, payloadType and signatures",
        ),
        (lambda e: {**e, "signatures": []}, "each envelope must carry exactly one signature"),
        (lambda e: {**e, "payload": "not base64!"}, "payload is not valid base64"),
        (
            lambda e: {**e, "signatures": [{"sig": e["signatures"][0]["sig"]}]},
            "a signature must have exactly keyid and sig",
        ),
    ],
)
def test_malformed_envelopes(
    signed: bytes, trusted: dict[str, Ed25519PublicKey], mutate: Any, detail: str
) -> None:
    (envelope,) = split_trailer(signed)[1] or []
    error = rejection(with_envelopes(signed, [mutate(envelope)]), trusted)
    assert error.reason == trailer_module.REASON_MALFORMED
    assert str(error) == MSG_MALFORMED.format(detail=detail)


def test_malformed_trailer_json(signed: bytes, trusted: dict[str, Ed25519PublicKey]) -> None:
    body = split_trailer(signed)[0]
    cases = {
        b"<!-- fairaudit-signature v1 [{] -->\n": "not valid JSON",
        b"<!-- fairaudit-signature v1 [] -->\n": "expected a non-empty JSON array of envelopes",
        b"<!-- fairaudit-signature v9 [] -->\n": "unsupported trailer version",
        b"<!-- fairaudit-signature v1 [] --": "it is not closed with ' -->'",
        b"<!-- fairaudit-signature v1 [] -->": "' -->' must be followed by one newline",
    }
    for trailer, detail in cases.items():
        error = rejection(body + trailer, trusted)
        assert (error.reason, str(error)) == (
            trailer_module.REASON_MALFORMED,
            MSG_MALFORMED.format(detail=detail),
        )


def test_non_canonical_trailer_json_is_rejected(
    signed: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    body, envelopes = split_trailer(signed)
    spaced = json.dumps(envelopes).encode()  # same data, with spaces
    error = rejection(body + b"<!-- fairaudit-signature v1 " + spaced + b" -->\n", trusted)
    assert str(error) == MSG_MALFORMED.format(detail="not RFC 8785 canonical JSON")


def _with_sig(envelope: dict[str, Any], sig: str) -> dict[str, Any]:
    return {**envelope, "signatures": [{**envelope["signatures"][0], "sig": sig}]}


def _last_digit_twin(text: str) -> str:
    """Return ``text`` with an unused low bit of its last base64 digit set: same bytes."""
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stripped = text.rstrip("=")
    twin = stripped[:-1] + digits[digits.index(stripped[-1]) ^ 0x01]
    return twin + "=" * (len(text) - len(stripped))


def test_non_canonical_base64_signature_is_rejected(
    signed: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    (envelope,) = split_trailer(signed)[1] or []
    sig = envelope["signatures"][0]["sig"]
    # 64 bytes leave 4 unused bits in the last base64 digit: same bytes, different text.
    twin = _last_digit_twin(sig)
    assert base64.b64decode(twin) == base64.b64decode(sig)
    error = rejection(with_envelopes(signed, [_with_sig(envelope, twin)]), trusted)
    assert (error.reason, str(error)) == (
        trailer_module.REASON_NON_CANONICAL,
        trailer_module.MSG_NON_CANONICAL.format(where="signature trailer", field="sig"),
    )


def _urlsafe_sig(envelope: dict[str, Any]) -> str:
    """Return the envelope's sig in the URL-safe alphabet (``+`` to ``-``, ``/`` to ``_``)."""
    sig = envelope["signatures"][0]["sig"]
    return sig.replace("+", "-").replace("/", "_")


def test_url_safe_base64_is_rejected(
    auditor_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    """Issue 12 §4: the URL-safe spelling of the same signature changed the trailer's bytes."""
    # Find a signing time whose signature has a + or a / to rewrite (most do).
    for second in range(60):
        html = sign_report_bytes(
            make_report(), key=auditor_key, report_name="report.html",
            signed_at=f"2024-05-02T09:30:{second:02d}Z",
        )  # fmt: skip
        (envelope,) = split_trailer(html)[1] or []
        if _urlsafe_sig(envelope) != envelope["signatures"][0]["sig"]:
            break
    urlsafe = _urlsafe_sig(envelope)
    assert urlsafe != envelope["signatures"][0]["sig"]
    tampered = with_envelopes(html, [_with_sig(envelope, urlsafe)])
    assert tampered != html
    error = rejection(tampered, trusted)
    assert (error.reason, str(error)) == (
        trailer_module.REASON_NON_CANONICAL,
        trailer_module.MSG_NON_CANONICAL.format(where="signature trailer", field="sig"),
    )
    # The same in the detached file, and in the payload field.
    detached = trailer_module.render_detached([_with_sig(envelope, urlsafe)])
    error = rejection(split_trailer(html)[0], trusted, detached=detached)
    assert (error.reason, str(error)) == (
        trailer_module.REASON_NON_CANONICAL,
        trailer_module.MSG_NON_CANONICAL.format(where="detached signature file", field="sig"),
    )


def test_every_respelling_of_a_base64_field_is_rejected(
    signed: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    (envelope,) = split_trailer(signed)[1] or []
    sig, payload = envelope["signatures"][0]["sig"], envelope["payload"]
    raw_payload = base64.b64decode(payload)
    respellings = {
        "sig": [sig.rstrip("="), _last_digit_twin(sig)],
        "payload": [base64.urlsafe_b64encode(raw_payload).decode().rstrip("=")],
    }
    if payload.endswith("="):
        respellings["payload"] += [payload.rstrip("="), _last_digit_twin(payload)]
    for field_name, texts in respellings.items():
        for text in texts:
            changed = (
                _with_sig(envelope, text) if field_name == "sig" else {**envelope, "payload": text}
            )
            error = rejection(with_envelopes(signed, [changed]), trusted)
            expected = trailer_module.REASON_NON_CANONICAL
            assert error.reason == expected, (field_name, text, str(error))


def test_wrong_statement_type_or_predicate_type_is_malformed(
    signed: bytes, auditor_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    (envelope,) = split_trailer(signed)[1] or []
    statement = statement_of(envelope)
    cases = {
        "_type": (
            "https://in-toto.io/Statement/v0.1",
            f"the statement _type is not {STATEMENT_TYPE}",
        ),
        "predicateType": (
            "https://slsa.dev/provenance/v1",
            "the predicateType is not https://fairaudit.dev/fairness-audit/v<major>",
        ),
    }
    for field, (value, detail) in cases.items():
        forged = envelope_for({**statement, field: value}, auditor_key)
        error = rejection(with_envelopes(signed, [forged]), trusted)
        assert (error.reason, str(error)) == (
            trailer_module.REASON_MALFORMED,
            MSG_MALFORMED.format(detail=detail),
        )


def test_statement_disagreeing_with_embedded_results_is_rejected(
    signed: bytes, auditor_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]
) -> None:
    (envelope,) = split_trailer(signed)[1] or []
    statement = statement_of(envelope)
    for field, value in [
        ("verdict", "pass"),
        ("data", {"sha256": "ee" * 32, "rows": 1000}),
        ("model", {**statement["predicate"]["model"], "sha256": "ff" * 32}),
    ]:
        forged = {**statement, "predicate": {**statement["predicate"], field: value}}
        error = rejection(with_envelopes(signed, [envelope_for(forged, auditor_key)]), trusted)
        assert error.reason == verify_module.REASON_STATEMENT_MISMATCH
        assert str(error) == MSG_PREDICATE_MISMATCH.format(index=1, field=field)


def test_renamed_report_is_rejected(signed: bytes, trusted: dict[str, Ed25519PublicKey]) -> None:
    error = rejection(signed, trusted, report_name="approved.html")
    assert error.reason == verify_module.REASON_STATEMENT_MISMATCH
    assert str(error) == MSG_NAME_MISMATCH.format(
        index=1, signed="report.html", actual="approved.html"
    )


# ---------------------------------------------------------------------------------------------
# Countersigning


def test_countersigned_report_has_two_statements(
    signed: bytes,
    countersigned: bytes,
    trusted: dict[str, Ed25519PublicKey],
    auditor_key: Ed25519PrivateKey,
    reviewer_key: Ed25519PrivateKey,
) -> None:
    body, envelopes = split_trailer(countersigned)
    assert envelopes is not None and len(envelopes) == 2
    assert envelopes[0] == (split_trailer(signed)[1] or [])[0]
    reviewer = statement_of(envelopes[1])
    assert reviewer["predicate"]["role"] == "reviewer"
    assert reviewer["predicate"]["signed_at"] == REVIEWED_AT
    assert reviewer["predicate"]["countersigns"] == [{"sha256": envelope_digest(envelopes[0])}]
    assert reviewer["subject"] == statement_of(envelopes[0])["subject"]
    assert countersigned.count(b"\n") == body.count(b"\n") + 1

    summary = verify_report(countersigned, trusted, require_signers=2)
    assert summary.signers == (
        Signer(
            key_id(auditor_key.public_key()),
            "auditor",
            SIGNED_AT,
            envelope_sha256=envelope_digest(envelopes[0]),
        ),
        Signer(
            key_id(reviewer_key.public_key()),
            "reviewer",
            REVIEWED_AT,
            envelope_sha256=envelope_digest(envelopes[1]),
        ),
    )


def test_require_signers(
    signed: bytes, countersigned: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    error = rejection(signed, trusted, require_signers=2)
    assert error.reason == verify_module.REASON_TOO_FEW_SIGNERS
    assert str(error) == MSG_TOO_FEW_SIGNERS.format(count=1, required=2)
    error = rejection(countersigned, trusted, require_signers=3)
    assert str(error) == MSG_TOO_FEW_SIGNERS.format(count=2, required=3)


def test_countersigned_needs_every_signer_trusted(
    countersigned: bytes, auditor_key: Ed25519PrivateKey, reviewer_key: Ed25519PrivateKey
) -> None:
    only_auditor = {key_id(auditor_key.public_key()): auditor_key.public_key()}
    error = rejection(countersigned, only_auditor)
    assert str(error) == MSG_UNKNOWN_KEY.format(
        index=2, keyid=key_id(reviewer_key.public_key())[:16]
    )


def test_removed_or_reordered_countersigned_envelopes_are_rejected(
    countersigned: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    first, second = split_trailer(countersigned)[1] or []
    error = rejection(with_envelopes(countersigned, [second]), trusted)
    assert error.reason == verify_module.REASON_STATEMENT_MISMATCH
    assert str(error) == MSG_COUNTERSIGN_MISMATCH.format(index=1)
    error = rejection(with_envelopes(countersigned, [second, first]), trusted)
    assert str(error) == MSG_COUNTERSIGN_MISMATCH.format(index=1)
    # Dropping the last countersignature leaves a valid, singly signed report.
    assert len(verify_report(with_envelopes(countersigned, [first]), trusted).signers) == 1


def test_same_key_cannot_sign_twice(signed: bytes, auditor_key: Ed25519PrivateKey) -> None:
    with pytest.raises(SigningError) as caught:
        sign_report_bytes(signed, key=auditor_key, report_name="report.html")
    assert str(caught.value) == MSG_ALREADY_SIGNED.format(
        keyid=key_id(auditor_key.public_key())[:16]
    )


def test_countersigning_a_tampered_report_is_refused(
    signed: bytes, reviewer_key: Ed25519PrivateKey
) -> None:
    with pytest.raises(SigningError) as caught:
        sign_report_bytes(signed.replace(b"0.125", b"0.025"), key=reviewer_key, report_name="r")
    assert str(caught.value).startswith("Cannot countersign: existing signature 1 does not cover")
    with pytest.raises(SigningError) as caught:
        sign_report_bytes(signed + b"x", key=reviewer_key, report_name="r")
    assert str(caught.value) == "Cannot countersign: " + MSG_TRAILING_BYTES.format(count=1)


# ---------------------------------------------------------------------------------------------
# Reproducibility


def test_source_date_epoch_makes_signatures_reproducible(
    report: bytes, auditor_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert statement_module.signing_time() == "2023-11-14T22:13:20Z"
    first = sign_report_bytes(report, key=auditor_key, report_name="report.html")
    second = sign_report_bytes(report, key=auditor_key, report_name="report.html")
    assert first == second
    (envelope,) = split_trailer(first)[1] or []
    assert statement_of(envelope)["predicate"]["signed_at"] == "2023-11-14T22:13:20Z"


def test_signing_time_without_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", statement_module.signing_time())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SigningError) as caught:
        statement_module.signing_time()
    assert str(caught.value) == statement_module.MSG_BAD_SOURCE_DATE_EPOCH.format(value="yesterday")


# ---------------------------------------------------------------------------------------------
# Files: atomic signing, the detached .intoto.jsonl


def test_sign_report_file_writes_trailer_and_detached(
    tmp_path: Path,
    report: bytes,
    auditor_key: Ed25519PrivateKey,
    trusted: dict[str, Ed25519PublicKey],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path = tmp_path / "report.html"
    path.write_bytes(report)
    path.chmod(0o640)
    key_path = write_pem(tmp_path / "auditor.pem", auditor_key)
    result = sign_report_file(path, key_path)
    assert result.report == path
    assert result.detached == tmp_path / "report.html.intoto.jsonl"
    assert result.key_id == key_id(auditor_key.public_key())
    assert (result.signed_at, result.signers) == ("2023-11-14T22:13:20Z", 1)
    html = path.read_bytes()
    assert html == sign_report_bytes(report, key=auditor_key, report_name="report.html")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "auditor.pem",
        "report.html",
        "report.html.intoto.jsonl",
    ]
    detached = result.detached.read_bytes()
    assert parse_detached(detached) == split_trailer(html)[1]
    assert detached.count(b"\n") == 1 and detached.endswith(b"\n")
    summary = verify_report_file(path, trusted)
    assert summary.source == "embedded"
    assert summary.roles == ("auditor",)


def test_detached_pair_verifies_and_countersigns(
    tmp_path: Path,
    report: bytes,
    auditor_key: Ed25519PrivateKey,
    reviewer_key: Ed25519PrivateKey,
    trusted: dict[str, Ed25519PublicKey],
) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(report)
    sign_report_file(path, auditor_key, signed_at=SIGNED_AT, embed=False)
    assert path.read_bytes() == report  # untouched
    summary = verify_report_file(path, trusted)
    assert (summary.source, summary.roles) == ("detached", ("auditor",))
    result = sign_report_file(path, reviewer_key, role="reviewer", signed_at=REVIEWED_AT)
    assert result.signers == 2
    assert path.read_bytes().startswith(report + b"<!-- fairaudit-signature v1 ")
    assert verify_report_file(path, trusted, require_signers=2).roles == ("auditor", "reviewer")


def test_detached_file_must_match_the_trailer(
    signed: bytes, countersigned: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    envelopes = split_trailer(countersigned)[1] or []
    detached = trailer_module.render_detached(envelopes)
    error = rejection(signed, trusted, detached=detached)
    expected = (verify_module.REASON_DETACHED_MISMATCH, MSG_DETACHED_MISMATCH)
    assert (error.reason, str(error)) == expected
    assert len(verify_report(countersigned, trusted, detached=detached).signers) == 2
    error = rejection(split_trailer(signed)[0], trusted, detached=detached + b"{}\n")
    assert error.reason == trailer_module.REASON_MALFORMED


def test_detached_pair_rejects_changed_report(
    report: bytes, countersigned: bytes, trusted: dict[str, Ed25519PublicKey]
) -> None:
    detached = trailer_module.render_detached(split_trailer(countersigned)[1] or [])
    assert len(verify_report(report, trusted, detached=detached).signers) == 2
    error = rejection(report + b"\n", trusted, detached=detached)
    assert error.reason == verify_module.REASON_DIGEST_MISMATCH


# ---------------------------------------------------------------------------------------------
# Keys


def test_generate_key_pair(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path / "keys", name="auditor")
    assert files.private_key == tmp_path / "keys" / "auditor.key"
    assert files.public_key == tmp_path / "keys" / "auditor.pub"
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600
    assert files.private_key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert files.public_key.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    public_key = load_public_key(files.public_key)
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert files.key_id == hashlib.sha256(der).hexdigest() == key_id(public_key)
    assert key_id(load_private_key(files.private_key).public_key()) == files.key_id
    with pytest.raises(SigningError) as caught:
        generate_key_pair(tmp_path / "keys", name="auditor")
    assert str(caught.value) == MSG_KEY_EXISTS.format(path=files.private_key)


def test_encrypted_private_key(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path, name="enc", passphrase=b"correct horse")
    assert files.private_key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(SigningError) as caught:
        load_private_key(files.private_key)
    assert str(caught.value) == MSG_NEED_PASSPHRASE.format(path=files.private_key)
    with pytest.raises(SigningError) as caught:
        load_private_key(files.private_key, passphrase=b"wrong")
    assert str(caught.value) == MSG_WRONG_PASSPHRASE.format(path=files.private_key)
    key = load_private_key(files.private_key, passphrase=lambda: b"correct horse")
    assert key_id(key.public_key()) == files.key_id


def test_passphrase_callable_is_not_asked_for_plain_keys(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path, name="plain")

    def ask() -> bytes:
        raise AssertionError("asked for a passphrase")

    assert key_id(load_private_key(files.private_key, passphrase=ask).public_key()) == files.key_id


def test_non_ed25519_keys_are_refused(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_path = write_pem(tmp_path / "ec.pem", ec_key)
    public_path = tmp_path / "ec.pub"
    public_path.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(SigningError) as caught:
        load_private_key(private_path)
    assert str(caught.value) == MSG_NOT_ED25519.format(path=private_path)
    with pytest.raises(SigningError) as caught:
        load_public_key(public_path)
    assert str(caught.value) == MSG_NOT_ED25519.format(path=public_path)


def test_trusted_keys_from_files_and_directories(
    tmp_path: Path, auditor_key: Ed25519PrivateKey, reviewer_key: Ed25519PrivateKey
) -> None:
    folder = tmp_path / "trusted"
    folder.mkdir()
    write_public_pem(folder / "auditor.pub", auditor_key)
    write_pem(folder / "auditor-private.pem", auditor_key)  # skipped in a directory
    reviewer_pub = write_public_pem(tmp_path / "reviewer.pem", reviewer_key)
    trusted = load_trusted_keys([reviewer_pub], [folder])
    assert set(trusted) == {key_id(auditor_key.public_key()), key_id(reviewer_key.public_key())}
    with pytest.raises(SigningError) as caught:
        load_trusted_keys([folder / "auditor-private.pem"])
    assert str(caught.value) == MSG_PRIVATE_KEY_GIVEN.format(path=folder / "auditor-private.pem")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SigningError) as caught:
        load_trusted_keys([], [empty])
    assert str(caught.value) == keys.MSG_NO_PUBLIC_KEYS.format(path=empty)


def openssl(*args: str) -> bytes:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], check=True, capture_output=True).stdout


@needs_openssl
def test_openssl_generated_key_signs_and_verifies(tmp_path: Path, report: bytes) -> None:
    private_path = tmp_path / "openssl.pem"
    public_path = tmp_path / "openssl.pub"
    openssl("genpkey", "-algorithm", "ed25519", "-out", str(private_path))
    openssl("pkey", "-in", str(private_path), "-pubout", "-out", str(public_path))
    expected_id = hashlib.sha256(
        openssl("pkey", "-pubin", "-in", str(public_path), "-outform", "DER")
    ).hexdigest()
    path = tmp_path / "report.html"
    path.write_bytes(report)
    assert sign_report_file(path, private_path, signed_at=SIGNED_AT).key_id == expected_id
    summary = verify_report_file(path, load_trusted_keys([public_path]))
    assert summary.key_ids == (expected_id,)


@needs_openssl
def test_openssl_encrypted_key_and_non_ed25519_key(tmp_path: Path) -> None:
    encrypted = tmp_path / "enc.pem"
    openssl(
        "genpkey",
        "-algorithm",
        "ed25519",
        "-aes-256-cbc",
        "-pass",
        "pass:s3cret",
        "-out",
        str(encrypted),
    )
    assert isinstance(load_private_key(encrypted, passphrase=b"s3cret"), Ed25519PrivateKey)
    with pytest.raises(SigningError):
        load_private_key(encrypted, passphrase=b"nope")
    rsa = tmp_path / "rsa.pem"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(rsa))
    with pytest.raises(SigningError) as caught:
        load_private_key(rsa)
    assert str(caught.value) == MSG_NOT_ED25519.format(path=rsa)


@needs_openssl
def test_openssl_verifies_the_signature_over_pae(
    tmp_path: Path, report: bytes, signed: bytes, auditor_key: Ed25519PrivateKey
) -> None:
    # The recipe in README.md, with the openssl binary doing the Ed25519 check.
    (envelope,) = split_trailer(signed)[1] or []
    payload = base64.b64decode(envelope["payload"])
    (tmp_path / "pae.bin").write_bytes(
        b"DSSEv1 28 application/vnd.in-toto+json %d %b" % (len(payload), payload)
    )
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    public_path = write_public_pem(tmp_path / "auditor.pub", auditor_key)
    out = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(public_path),
        "-rawin",
        "-in",
        str(tmp_path / "pae.bin"),
        "-sigfile",
        str(tmp_path / "sig.bin"),
    )
    assert b"Signature Verified Successfully" in out


def test_docs_python_snippet_verifies(
    tmp_path: Path, signed: bytes, auditor_key: Ed25519PrivateKey
) -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "signing.md"
    text = page.read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match is not None
    script = tmp_path / "verify_snippet.py"
    script.write_text(match.group(1), encoding="utf-8")
    report_path = tmp_path / "report.html"
    report_path.write_bytes(signed)
    public_path = write_public_pem(tmp_path / "auditor.pub", auditor_key)
    run = subprocess.run(
        [sys.executable, str(script), str(report_path), str(public_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"OK: auditor signed report.html at {SIGNED_AT}\n"
    report_path.write_bytes(signed.replace(b"0.125", b"0.025"))
    run = subprocess.run(
        [sys.executable, str(script), str(report_path), str(public_path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0


def test_signing_module_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, fairaudit.provenance, fairaudit.cli\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'matplotlib', 'numpy', 'scipy')"
        " if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert run.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# CLI


@pytest.fixture
def cli() -> click.Group:
    @click.group()
    def group() -> None:
        """fairaudit (test harness)."""

    for command in (keygen, sign, verify):
        group.add_command(command)
    return group


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("FAIRAUDIT_SIGNING_KEY", "FAIRAUDIT_KEY_PASSPHRASE", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


@pytest.mark.parametrize("name", ["keygen", "sign", "verify"])
def test_every_command_has_help_with_an_example(
    cli: click.Group, runner: CliRunner, name: str
) -> None:
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"fairaudit {name} " in result.output


def test_cli_keygen_sign_countersign_verify(
    cli: click.Group, runner: CliRunner, tmp_path: Path, report: bytes
) -> None:
    keys_dir = tmp_path / "keys"
    for name in ("auditor", "reviewer"):
        result = runner.invoke(cli, ["keygen", "-o", str(keys_dir), "--name", name])
        assert result.exit_code == 0, result.output
    auditor_id = key_id(load_public_key(keys_dir / "auditor.pub"))
    reviewer_id = key_id(load_public_key(keys_dir / "reviewer.pub"))
    assert result.output.splitlines()[-1] == f"Key id:      {reviewer_id}"

    path = tmp_path / "report.html"
    path.write_bytes(report)
    env = {
        "SOURCE_DATE_EPOCH": "1700000000",
        "FAIRAUDIT_SIGNING_KEY": str(keys_dir / "auditor.key"),
    }
    result = runner.invoke(cli, ["sign", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Signed {path} and {path}.intoto.jsonl as auditor with key {auditor_id[:16]} "
        "at 2023-11-14T22:13:20Z (1 signature(s) in all).\n"
    )
    result = runner.invoke(cli, ["verify", str(path), "--key", str(keys_dir / "auditor.pub")])
    assert result.exit_code == 0
    assert result.output == (
        f"Verified: signed by {auditor_id[:16]} (auditor, 2023-11-14T22:13:20Z); "
        "model credit-scorer 2.3.1; verdict none; audit audit-0001.\n"
        f"  auditor: key {auditor_id[:16]} at 2023-11-14T22:13:20Z\n"
    )

    result = runner.invoke(
        cli,
        ["sign", str(path), "--key", str(keys_dir / "reviewer.key"), "--role", "reviewer"],
        env={"SOURCE_DATE_EPOCH": "1700003600"},
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["verify", str(path), "--keys-dir", str(keys_dir), "--require-signers", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Verified: signed by {auditor_id[:16]} (auditor, 2023-11-14T22:13:20Z), "
        f"{reviewer_id[:16]} (reviewer, 2023-11-14T23:13:20Z); "
        "model credit-scorer 2.3.1; verdict none; audit audit-0001.\n"
        f"  auditor: key {auditor_id[:16]} at 2023-11-14T22:13:20Z\n"
        f"  reviewer: key {reviewer_id[:16]} at 2023-11-14T23:13:20Z\n"
    )
    result = runner.invoke(
        cli, ["verify", str(path), "--keys-dir", str(keys_dir), "--require-signers", "3"]
    )
    assert result.exit_code == 1
    assert result.output == "Error: " + MSG_TOO_FEW_SIGNERS.format(count=2, required=3) + "\n"


def test_cli_verify_failures_are_one_line_errors(
    cli: click.Group,
    runner: CliRunner,
    tmp_path: Path,
    signed: bytes,
    auditor_key: Ed25519PrivateKey,
    reviewer_key: Ed25519PrivateKey,
) -> None:
    path = tmp_path / "report.html"
    auditor_pub = write_public_pem(tmp_path / "auditor.pub", auditor_key)
    reviewer_pub = write_public_pem(tmp_path / "reviewer.pub", reviewer_key)
    cases = [
        (signed + b"junk", [auditor_pub], MSG_TRAILING_BYTES.format(count=4)),
        (split_trailer(signed)[0], [auditor_pub], MSG_UNSIGNED),
        (signed.replace(b"\n", b"\r\n"), [auditor_pub], MSG_LINE_ENDINGS),
        (
            signed,
            [reviewer_pub],
            MSG_UNKNOWN_KEY.format(index=1, keyid=key_id(auditor_key.public_key())[:16]),
        ),
        (signed, [], MSG_NO_TRUSTED_KEYS),
    ]
    for content, key_files, message in cases:
        path.write_bytes(content)
        args = ["verify", str(path)] + [arg for k in key_files for arg in ("--key", str(k))]
        result = runner.invoke(cli, args)
        assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
        assert isinstance(result.exception, SystemExit)


def test_cli_verify_uses_detached_file_beside_unsigned_report(
    cli: click.Group,
    runner: CliRunner,
    tmp_path: Path,
    report: bytes,
    signed: bytes,
    auditor_key: Ed25519PrivateKey,
) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(report)
    (tmp_path / "report.html.intoto.jsonl").write_bytes(
        trailer_module.render_detached(split_trailer(signed)[1] or [])
    )
    pub = write_public_pem(tmp_path / "auditor.pub", auditor_key)
    result = runner.invoke(cli, ["verify", str(path), "--key", str(pub)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Verified: signed by ")
    moved = tmp_path / "elsewhere.jsonl"
    (tmp_path / "report.html.intoto.jsonl").rename(moved)
    result = runner.invoke(cli, ["verify", str(path), "--key", str(pub)])
    assert result.output == f"Error: {MSG_UNSIGNED}\n"
    result = runner.invoke(cli, ["verify", str(path), "--key", str(pub), "--detached", str(moved)])
    assert result.exit_code == 0, result.output


def test_cli_sign_with_encrypted_key(
    cli: click.Group, runner: CliRunner, tmp_path: Path, report: bytes
) -> None:
    files = generate_key_pair(tmp_path, name="enc", passphrase=b"pw")
    path = tmp_path / "report.html"
    path.write_bytes(report)
    result = runner.invoke(cli, ["sign", str(path), "--key", str(files.private_key)])
    assert (result.exit_code, result.output) == (
        1,
        "Error: " + MSG_NEED_PASSPHRASE.format(path=files.private_key) + "\n",
    )
    result = runner.invoke(
        cli,
        ["sign", str(path), "--key", str(files.private_key)],
        env={"FAIRAUDIT_KEY_PASSPHRASE": "wrong"},
    )
    assert result.output == "Error: " + MSG_WRONG_PASSPHRASE.format(path=files.private_key) + "\n"
    result = runner.invoke(
        cli,
        ["sign", str(path), "--key", str(files.private_key), "--passphrase-prompt"],
        input="pw\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["verify", str(path), "--key", str(files.public_key)])
    assert result.exit_code == 0, result.output


def test_cli_keygen_with_passphrase_from_env(
    cli: click.Group, runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["keygen", "-o", str(tmp_path), "--passphrase-env", "MY_PASS"])
    assert (result.exit_code, result.output) == (
        1,
        "Error: " + MSG_PASSPHRASE_ENV_UNSET.format(name="MY_PASS") + "\n",
    )
    result = runner.invoke(
        cli, ["keygen", "-o", str(tmp_path), "--passphrase-env", "MY_PASS"], env={"MY_PASS": "pw"}
    )
    assert result.exit_code == 0, result.output
    key = load_private_key(tmp_path / "fairaudit.key", passphrase=b"pw")
    assert isinstance(key, Ed25519PrivateKey)


def test_cli_sign_missing_key(
    cli: click.Group, runner: CliRunner, tmp_path: Path, report: bytes
) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(report)
    result = runner.invoke(cli, ["sign", str(path), "--key", str(tmp_path / "none.key")])
    assert (result.exit_code, result.output) == (
        1,
        "Error: " + keys.MSG_KEY_NOT_FOUND.format(path=tmp_path / "none.key") + "\n",
    )
    result = runner.invoke(cli, ["sign", str(path)])
    assert result.exit_code == 2  # --key is required unless FAIRAUDIT_SIGNING_KEY is set


# ---------------------------------------------------------------------------------------------
# Reviews recorded in the ledger: a removed countersignature is detectable (issue 12 §3)


@pytest.fixture
def reviewed(
    tmp_path: Path,
    runner: CliRunner,
    report: bytes,
    auditor_key: Ed25519PrivateKey,
    reviewer_key: Ed25519PrivateKey,
) -> dict[str, Any]:
    """Auditor signs and records the audit in the default ledger; A approves, B rejects."""
    from fairaudit.cli import review
    from fairaudit.provenance import LEDGER_FILE_NAME, append_entry, file_sha256

    path = tmp_path / "report.html"
    path.write_bytes(report)
    sign_report_file(path, auditor_key, signed_at=SIGNED_AT)
    ledger_path = tmp_path / LEDGER_FILE_NAME
    append_entry(ledger_path, make_results(), report_sha256=file_sha256(path))
    reviewer_b = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
    keys_dir = tmp_path / "trusted"
    keys_dir.mkdir()
    for name, key in (("auditor", auditor_key), ("a", reviewer_key), ("b", reviewer_b)):
        write_public_pem(keys_dir / f"{name}.pub", key)
    outputs = []
    for key, decision in ((reviewer_key, "approve"), (reviewer_b, "reject")):
        key_path = write_pem(tmp_path / f"{decision}.key", key)
        result = runner.invoke(review, [str(path), "--key", str(key_path), "--decision", decision])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    ids = {name: key_id(k.public_key()) for name, k in (("a", reviewer_key), ("b", reviewer_b))}
    policy = tmp_path / "appr.toml"
    policy.write_text(f'[approvals]\nrequired = 1\nreviewers = ["{ids["a"]}", "{ids["b"]}"]\n')
    return {
        "report": path,
        "ledger": ledger_path,
        "keys_dir": keys_dir,
        "policy": policy,
        "ids": ids,
        "outputs": outputs,
    }


def _drop_last_envelope(report: Path) -> None:
    """The attack: remove the final countersignature from the trailer and the detached file."""
    html = report.read_bytes()
    body, envelopes = split_trailer(html)
    assert envelopes is not None
    report.write_bytes(body + render_trailer(envelopes[:-1]))
    detached = trailer_module.detached_path_for(report)
    detached.write_bytes(trailer_module.render_detached(parse_detached(detached.read_bytes())[:-1]))


def test_review_is_recorded_in_the_default_ledger(reviewed: dict[str, Any]) -> None:
    from fairaudit.provenance import reviews_for

    ledger_path = reviewed["ledger"]
    assert reviewed["outputs"][1].splitlines()[1] == (
        f"Recorded in the ledger {ledger_path} as entry 3."
    )
    envelopes = split_trailer(reviewed["report"].read_bytes())[1] or []
    records = reviews_for(ledger_path, "audit-0001")
    assert [(r.seq, r.key_id, r.decision, r.envelope_sha256) for r in records] == [
        (2, reviewed["ids"]["a"], "approve", envelope_digest(envelopes[1])),
        (3, reviewed["ids"]["b"], "reject", envelope_digest(envelopes[2])),
    ]


def test_removing_the_last_countersignature_is_caught_by_the_ledger(
    cli: click.Group, runner: CliRunner, reviewed: dict[str, Any]
) -> None:
    report, ledger_path = str(reviewed["report"]), str(reviewed["ledger"])
    args = ["verify", report, "--keys-dir", str(reviewed["keys_dir"])]
    args += ["--policy", str(reviewed["policy"])]
    rejected = runner.invoke(cli, [*args, "--ledger", ledger_path])
    assert rejected.exit_code == 3  # intact: B's rejection counts
    _drop_last_envelope(reviewed["report"])
    # Signatures alone cannot show the removal: the remaining ones all verify.
    fooled = runner.invoke(cli, args)
    assert fooled.exit_code == 0, fooled.output
    assert "Approvals met" in fooled.output
    caught = runner.invoke(cli, [*args, "--ledger", ledger_path])
    assert caught.exit_code == 1
    assert isinstance(caught.exception, SystemExit)
    b = reviewed["ids"]["b"][:16]
    assert caught.output == (
        "Error: The report lacks 1 review(s) the ledger records for audit audit-0001: "
        f"reject by key {b} (ledger entry 3); countersignatures were removed.\n"
    )


def test_verify_with_the_ledger_passes_when_every_review_is_present(
    cli: click.Group, runner: CliRunner, reviewed: dict[str, Any]
) -> None:
    args = ["verify", str(reviewed["report"]), "--keys-dir", str(reviewed["keys_dir"])]
    result = runner.invoke(cli, [*args, "--ledger", str(reviewed["ledger"])])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "Ledger: all 2 review(s) it records for this audit are present."
    )


def test_verify_shows_each_reviews_decision_and_comment(
    cli: click.Group, runner: CliRunner, reviewed: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 16: verify after a review did not show the reviewer's decision or comment."""
    third = Ed25519PrivateKey.from_private_bytes(bytes(range(96, 128)))
    write_public_pem(Path(reviewed["keys_dir"]) / "c.pub", third)
    comment = "Age bands checked\x1b[2J with the data owner."
    from fairaudit.cli import review

    result = runner.invoke(
        review, [str(reviewed["report"]), "--key", str(write_pem(tmp_path / "c.key", third)),
                 "--decision", "approve", "--comment", comment],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    args = ["verify", str(reviewed["report"]), "--keys-dir", str(reviewed["keys_dir"])]
    lines = runner.invoke(cli, args).output.splitlines()
    reviews = [line for line in lines if line.startswith("  reviewer: ")]
    a, b = reviewed["ids"]["a"][:16], reviewed["ids"]["b"][:16]
    assert [line.split(" at ")[0] for line in reviews] == [
        f"  reviewer: key {a}",
        f"  reviewer: key {b}",
        f"  reviewer: key {key_id(third.public_key())[:16]}",
    ]
    assert reviews[0].endswith(": approve") and reviews[1].endswith(": reject")
    # The comment is signed text from the report: shown, its control characters visible.
    assert reviews[2].endswith(': approve ("Age bands checked\\x1b[2J with the data owner.")')


def test_verify_with_the_ledger_reasons(reviewed: dict[str, Any], tmp_path: Path) -> None:
    from fairaudit.provenance import _ledger_verify as LV
    from fairaudit.provenance import append_entry

    trusted_keys = load_trusted_keys([], [reviewed["keys_dir"]])
    summary = verify_report_file(reviewed["report"], trusted_keys)
    assert LV.check_reviews_recorded(summary, reviewed["ledger"]) == 2
    other = tmp_path / "other.sqlite"
    append_entry(other, make_results("audit-0002"), report_sha256="ab" * 32)
    with pytest.raises(VerificationError) as caught:
        LV.check_reviews_recorded(summary, other)
    assert caught.value.reason == LV.REASON_NOT_IN_LEDGER
    connection = sqlite3.connect(reviewed["ledger"])
    with connection:
        connection.execute("DELETE FROM reviews WHERE seq = 2")
    connection.close()
    with pytest.raises(VerificationError) as caught:
        LV.check_reviews_recorded(summary, reviewed["ledger"])
    assert caught.value.reason == LV.REASON_LEDGER_BROKEN
    assert "Entry 2 is missing" in str(caught.value)


def test_review_ledger_choice(
    runner: CliRunner, reviewed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairaudit.cli import review
    from fairaudit.provenance import MSG_NO_LEDGER, append_entry
    from fairaudit.provenance import _reviews as R

    third_key = Ed25519PrivateKey.from_private_bytes(bytes(range(96, 128)))
    third = write_pem(tmp_path / "c.key", third_key)
    report = str(reviewed["report"])
    base = [report, "--key", str(third), "--decision", "approve"]
    missing = tmp_path / "nowhere.sqlite"
    result = runner.invoke(review, [*base, "--ledger", str(missing)])
    assert (result.exit_code, result.output) == (
        1,
        "Error: " + MSG_NO_LEDGER.format(path=missing) + "\n",
    )
    other = tmp_path / "other.sqlite"
    append_entry(other, make_results("audit-0002"), report_sha256="ab" * 32)
    monkeypatch.setenv("FAIRAUDIT_LEDGER", str(other))
    result = runner.invoke(review, base)
    assert (result.exit_code, result.output) == (
        1,
        "Error: " + R.MSG_AUDIT_NOT_IN_LEDGER.format(path=other, audit="audit-0001") + "\n",
    )
    result = runner.invoke(review, [*base, "--no-ledger"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1  # signed, not recorded
    assert len(R.reviews_for(reviewed["ledger"], "audit-0001")) == 2
