"""Ed25519 webhook signatures, exactly as Telnyx makes them (NOTES.md §8).

The signed message is ``f"{timestamp}|{body}"``; ``telnyx-signature-ed25519`` carries the Base64
signature and ``telnyx-timestamp`` the Unix seconds. PyNaCl is used because it is the library the
official SDK verifies with (``telnyx[webhooks]``), so both sides share one implementation.
"""

from __future__ import annotations

import base64
import binascii

from nacl.signing import SigningKey

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"


class SigningKeyError(ValueError):
    pass


class Signer:
    def __init__(self, key: SigningKey | None = None) -> None:
        self._key = key or SigningKey.generate()
        self.public_key = base64.b64encode(bytes(self._key.verify_key)).decode("ascii")

    @classmethod
    def from_base64(cls, private_key: str) -> Signer:
        """Load a pinned key (``--signing-key``): Base64 of the 32-byte Ed25519 seed."""
        try:
            seed = base64.b64decode(private_key.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SigningKeyError(f"the signing key is not valid Base64 ({exc})") from None
        if len(seed) != 32:
            raise SigningKeyError(
                f"the signing key must be Base64 of 32 bytes, got {len(seed)} bytes"
            )
        return cls(SigningKey(seed))

    @property
    def private_key_base64(self) -> str:
        return base64.b64encode(bytes(self._key)).decode("ascii")

    def sign(self, payload: bytes, timestamp: int) -> dict[str, str]:
        message = str(timestamp).encode("ascii") + b"|" + payload
        signature = self._key.sign(message).signature
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: str(timestamp),
        }
