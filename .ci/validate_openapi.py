"""Validate every OpenAPI document the test suite wrote, with a real OpenAPI 3.1 validator.

Usage: validate_openapi.py DIR MIN_COUNT
Fails if a document is invalid, is not 3.1, or if fewer than MIN_COUNT documents were written
(so a test suite that silently stopped writing them cannot pass).
"""

import json
import pathlib
import sys

from openapi_spec_validator import OpenAPIV31SpecValidator


def main() -> int:
    directory, minimum = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    files = sorted(directory.glob("*.json"))
    failures = 0
    for path in files:
        doc = json.loads(path.read_text())
        errors = list(OpenAPIV31SpecValidator(doc).iter_errors())
        if doc.get("openapi") != "3.1.0":
            errors.append(f"openapi is {doc.get('openapi')!r}, not '3.1.0'")
        for error in errors:
            print(f"INVALID {path.name}: {getattr(error, 'message', error)}")
        failures += bool(errors)
    print(f"openapi-spec-validator: {len(files) - failures} passed, {failures} failed")
    if len(files) < minimum:
        print(f"expected at least {minimum} documents in {directory}, found {len(files)}")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
