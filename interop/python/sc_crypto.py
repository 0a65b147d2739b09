"""Secure Chat cryptography, written from protocol.md ("Keys", "Key envelopes", "Messages",
"Transcript integrity", "Accounts over time") with the `cryptography` package only."""

import base64
import functools
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALGORITHMS = ("rsa-pss-sha256", "dsa-sha256", "ed25519")
# protocol.md "Keys": the key store's file names.
FILES = {
    "encryption": "encryption",
    "rsa-pss-sha256": "signing-rsa",
    "dsa-sha256": "signing-dsa",
    "ed25519": "signing-ed25519",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(text.encode("ascii"), validate=True)


def pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


# ---- key pairs ------------------------------------------------------------------------------


def generate_keys(rsa_bits: int = 3072) -> dict:
    """The four key pairs of protocol.md "Keys", as private key objects by purpose."""
    return {
        "encryption": rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits),
        "rsa-pss-sha256": rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits),
        "dsa-sha256": dsa.generate_private_key(key_size=2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


def private_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key) -> str:
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def write_key_store(folder: str, keys: dict) -> None:
    """`keys/users/<username>/`: eight files, the private ones readable by their owner only."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for purpose, stem in FILES.items():
        path = os.path.join(folder, f"{stem}.key.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem(keys[purpose]))
        with open(os.path.join(folder, f"{stem}.pub.pem"), "w") as f:
            f.write(public_pem(keys[purpose]))


def read_key_store(folder: str) -> dict:
    keys = {}
    for purpose, stem in FILES.items():
        with open(os.path.join(folder, f"{stem}.key.pem"), "rb") as f:
            keys[purpose] = serialization.load_pem_private_key(f.read(), password=None)
    return keys


def public_keys(keys: dict) -> dict:
    """The body fields `encryptionKey` and `signingKeys` of POST /users and PUT /users/me/keys."""
    return {
        "encryptionKey": public_pem(keys["encryption"]),
        "signingKeys": {alg: public_pem(keys[alg]) for alg in ALGORITHMS},
    }


def fingerprint(pem: str) -> str:
    """SHA-256 of the key's SPKI DER, lowercase hex."""
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def fingerprints(encryption_pem: str, signing: dict) -> dict:
    out = {"encryption": fingerprint(encryption_pem)}
    for alg in ALGORITHMS:
        out[alg] = fingerprint(signing[alg])
    return out


# ---- validating a peer's public key (protocol.md "What every client checks itself" 3) ------


def _probably_prime(n: int, rounds: int = 32) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@functools.lru_cache(maxsize=256)
def load_public(pem: str, purpose: str):
    """Loads a peer's public key and refuses what registration refuses (raises ValueError)."""
    if not isinstance(pem, str):
        raise ValueError(f"{purpose} key is not a PEM string")
    key = serialization.load_pem_public_key(pem.encode())
    if purpose in ("encryption", "rsa-pss-sha256"):
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"{purpose} key must be RSA")
        nums = key.public_numbers()
        if key.key_size < 2048 or nums.e != 65537:
            raise ValueError(f"{purpose} key must be RSA of at least 2048 bits with e = 65537")
    elif purpose == "dsa-sha256":
        if not isinstance(key, dsa.DSAPublicKey):
            raise ValueError("dsa-sha256 key must be DSA")
        nums = key.public_numbers()
        p, q, g, y = nums.parameter_numbers.p, nums.parameter_numbers.q, nums.parameter_numbers.g, nums.y
        if p.bit_length() != 2048 or q.bit_length() != 256:
            raise ValueError("dsa-sha256 key must have L = 2048, N = 256")
        if (p - 1) % q or not _probably_prime(q) or not _probably_prime(p, 8):
            raise ValueError("dsa-sha256 key has invalid domain parameters (p, q)")
        if not (1 < g < p) or pow(g, q, p) != 1 or not (1 < y < p) or pow(y, q, p) != 1:
            raise ValueError("dsa-sha256 key has invalid domain parameters (g, y)")
    elif purpose == "ed25519":
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError("ed25519 key must be Ed25519")
    return key


# ---- signatures -----------------------------------------------------------------------------


def sign(private_key, algorithm: str, data: bytes) -> str:
    if algorithm == "rsa-pss-sha256":
        return b64(private_key.sign(data, pss(), hashes.SHA256()))
    if algorithm == "dsa-sha256":
        return b64(private_key.sign(data, hashes.SHA256()))  # DER Dss-Sig-Value
    if algorithm == "ed25519":
        return b64(private_key.sign(data))
    raise ValueError(f"unknown signature algorithm {algorithm!r}")


def verify(public_key, algorithm: str, data: bytes, signature_b64: str) -> bool:
    try:
        sig = unb64(signature_b64)
        if algorithm == "rsa-pss-sha256":
            public_key.verify(sig, data, pss(), hashes.SHA256())
        elif algorithm == "dsa-sha256":
            public_key.verify(sig, data, hashes.SHA256())
        elif algorithm == "ed25519":
            public_key.verify(sig, data)
        else:
            return False
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


# ---- envelopes and messages -----------------------------------------------------------------


def envelope_input(env: dict) -> bytes:
    return "\n".join(
        ["securechat/v1/key", env["chatId"], str(env["epoch"]), env["recipient"], env["wrappedKey"], env["issuedAt"]]
    ).encode()


def unwrap(private_key, wrapped_b64: str) -> bytes:
    key = private_key.decrypt(unb64(wrapped_b64), oaep())
    if len(key) != 32:
        raise ValueError("a chat key is 32 bytes")
    return key


def aad(chat_id: str, sender: str, message: dict) -> bytes:
    """Version 2 when the message carries device, counter and prev; else version 1."""
    m = message
    if "device" in m or "counter" in m or "prev" in m:
        prev = m.get("prev")
        parts = ["securechat/v2/msg", chat_id, str(m["epoch"]), sender, m["id"], m["sentAt"], m["device"],
                 str(m["counter"]), str(prev["seq"]) if prev else "", prev["hash"] if prev else ""]
    else:
        parts = ["securechat/v1/msg", chat_id, str(m["epoch"]), sender, m["id"], m["sentAt"]]
    return "\n".join(parts).encode()


def signing_input(chat_id: str, sender: str, message: dict) -> bytes:
    return aad(chat_id, sender, message) + "\n".join(["", message["iv"], message["ciphertext"], message["tag"]]).encode()


def message_hash(chat_id: str, sender: str, message: dict) -> str:
    return hashlib.sha256(signing_input(chat_id, sender, message)).hexdigest()


def seal(chat_key: bytes, chat_id: str, sender: str, message: dict, text: str) -> None:
    """Fills iv, ciphertext and tag of `message` (which holds the AAD's fields)."""
    iv = os.urandom(12)
    out = AESGCM(chat_key).encrypt(iv, text.encode("utf-8"), aad(chat_id, sender, message))
    message.update(iv=b64(iv), ciphertext=b64(out[:-16]), tag=b64(out[-16:]))


def open_message(chat_key: bytes, chat_id: str, sender: str, message: dict) -> str:
    iv, tag = unb64(message["iv"]), unb64(message["tag"])
    if len(iv) != 12 or len(tag) != 16:
        raise ValueError("iv must be 12 bytes and tag 16")
    data = unb64(message["ciphertext"]) + tag
    return AESGCM(chat_key).decrypt(iv, data, aad(chat_id, sender, message)).decode("utf-8")


def key_change_input(username: str, new_fingerprints: dict, issued_at: str) -> bytes:
    f = new_fingerprints
    parts = ["securechat/v1/key-change", username, f["encryption"], f["rsa-pss-sha256"], f["dsa-sha256"],
             f["ed25519"], issued_at]
    return "\n".join(parts).encode()


def new_device() -> str:
    """16 random bytes, base64url without padding (22 characters)."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
