#!/usr/bin/env python3
"""Checks tokens issued by nhi-credentials with PyJWT, against the exported JWKS.

Usage: pyjwt_check.py <directory written by the `interop_tokens` example>

Each token must verify with the key its `kid` names, using only the algorithm that key
declares, with issuer, audience and time claims required. A token with one character of
its signature changed, and one whose header claims another algorithm, must fail.
Exits non-zero on any mismatch.
"""

import json
import sys
from pathlib import Path

import jwt

REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]


def check(directory: Path) -> int:
    expected = json.loads((directory / "expected.json").read_text())
    jwks = jwt.PyJWKSet.from_dict(json.loads((directory / "jwks.json").read_text()))
    keys = {key.key_id: key for key in jwks.keys}
    failures = 0

    for name, algorithm in expected["tokens"].items():
        token = (directory / name).read_text().strip()
        header = jwt.get_unverified_header(token)
        key = keys[header["kid"]]
        if header["alg"] != algorithm or key.algorithm_name != algorithm:
            print(f"FAIL {name}: header {header['alg']}, key {key.algorithm_name}, expected {algorithm}")
            failures += 1
            continue

        claims = jwt.decode(
            token,
            key=key,
            algorithms=[key.algorithm_name],
            audience=expected["audience"],
            issuer=expected["issuer"],
            options={"require": REQUIRED},
        )
        if claims["sub"] != expected["subject"] or claims["scope"] != expected["scope"]:
            print(f"FAIL {name}: unexpected claims {claims}")
            failures += 1
            continue
        print(f"ok   {name}: {algorithm} verified by PyJWT {jwt.__version__}, kid {header['kid']}")

        # Negative checks: a changed signature and a wrong audience must fail.
        head, body, signature = token.split(".")
        flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
        for label, bad, audience in [
            ("altered signature", f"{head}.{body}.{flipped}", expected["audience"]),
            ("wrong audience", token, "someone-else"),
        ]:
            try:
                jwt.decode(bad, key=key, algorithms=[key.algorithm_name], audience=audience,
                           issuer=expected["issuer"])
            except jwt.InvalidTokenError:
                print(f"ok   {name}: {label} refused")
            else:
                print(f"FAIL {name}: {label} accepted")
                failures += 1

    return failures


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(1 if check(Path(sys.argv[1])) else 0)
