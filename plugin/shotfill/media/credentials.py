"""C2PA content credentials on placed generated media: signed as the file's last write.

With ``[c2pa]`` in ``shotfill.toml``, every conformed file is signed after the
conform (any re-encode, or even ffmpeg's stream copy, drops a manifest), with
a ``c2pa.actions`` assertion holding one ``c2pa.created`` action whose digital
source type is IPTC's ``trainedAlgorithmicMedia`` (``algorithmicMedia`` for the
offline generator, which runs no trained model) and whose parameters name the
provider, model, seed, request hash and, unless ``include_prompt = false``,
the prompt.  When the provider's original file carries its own manifest (a
service that signs what it generates), that file is added as a
``componentOf`` ingredient, so its manifest travels inside ours.

The signature goes into a partial file beside the placed one, which is probed
(its frame count must still be the placeholder's) and read back with c2pa's
Reader before it replaces the unsigned file: a failed signing leaves nothing
half-written, and a placement never ends unsigned while signing is on (the
placeholder fails instead).  Conform rewrites a placed file on every run (a
cached clip too), so a file placed again is signed again.

c2pa-python is an optional extra (``pip install 'shotfill[c2pa]'``); it is
imported only when signing is configured.  The private key is registered with
the secrets scrubber as soon as it is read and is never put in a message.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from shotfill import __version__
from shotfill.config import C2paSettings
from shotfill.errors import ConfigError, MediaError
from shotfill.media.probe import probe
from shotfill.system import secrets
from shotfill.system.bounded import read_bytes
from shotfill.system.files import atomic_path

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
ALGORITHMIC = IPTC + "algorithmicMedia"

#: what c2pa can embed a manifest in, by suffix (checked against c2pa-python 0.38's supported MIME types)
MIME_TYPES = {".mov": "video/quicktime", ".mp4": "video/mp4", ".m4v": "video/x-m4v", ".avi": "video/avi"}
_MAX_PEM = 1024 * 1024
#: providers whose media comes from no trained model
_ALGORITHMIC_PROVIDERS = frozenset({"local"})


@dataclass(frozen=True)
class Claim:
    """What the manifest says about one generated file."""

    provider: str
    model: Optional[str]
    seed: Optional[int]
    request_hash: str
    prompt: str


def _pem(value: str, what: str, *, secret: bool) -> bytes:
    if "-----BEGIN" in value:
        data = value.encode("utf-8")
    else:
        data = read_bytes(value, limit=_MAX_PEM, what=f"[c2pa] {what}", error=ConfigError)
    if secret:
        text = data.decode("utf-8", errors="replace")
        secrets.register(text)
        # A line of the key quoted alone is a leak too.
        body = [ln.strip() for ln in text.splitlines() if ln.strip() and "-----" not in ln]
        secrets.register("".join(body))
        for ln in body:
            secrets.register(ln)
    if b"-----BEGIN" not in data:
        where = "the PEM given" if "-----BEGIN" in value else value
        raise ConfigError(f"[c2pa] {what}: {where if not secret else 'the key file'} holds no PEM block",
                          hint="give a PEM file (-----BEGIN ...): the certificate chain leaf first, "
                               "the key as PKCS#8 (openssl pkcs8 -topk8 -nocrypt)")
    return data


def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError:
        raise ConfigError("[c2pa] is set in shotfill.toml, but c2pa-python is not installed",
                          hint="pip install 'shotfill[c2pa]', or remove the [c2pa] table") from None
    return c2pa


class Signing:
    """The run's signer settings, checked once before anything is generated."""

    def __init__(self, settings: C2paSettings) -> None:
        self._c2pa = _c2pa()
        self.settings = settings
        self._cert = _pem(settings.sign_cert, "sign_cert", secret=False)
        self._key = _pem(settings.private_key.get_secret_value(), "private_key", secret=True)
        self._lock = threading.Lock()
        try:
            self._trial()
        except self._c2pa.C2paError as exc:
            raise ConfigError(f"[c2pa]: the certificate and key cannot sign ({_first_line(exc)})",
                              hint=f"check that private_key is the PKCS#8 key of sign_cert's first "
                                   f"certificate and that alg ({settings.alg}) is the key's algorithm") from None

    def _trial(self) -> None:
        """Sign a 1x1 PNG in memory: a key that is not the certificate's fails here, not after generating."""
        c2pa = self._c2pa
        manifest = {"claim_generator_info": [{"name": "ShotFill", "version": __version__}], "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created",
                                                              "digitalSourceType": ALGORITHMIC}]}}]}
        with self._signer() as signer, c2pa.Builder(json.dumps(manifest)) as builder:
            builder.sign(signer, "image/png", io.BytesIO(_tiny_png()), io.BytesIO())

    def _signer(self) -> Any:
        info = self._c2pa.C2paSignerInfo(self.settings.alg, self._cert, self._key, self.settings.tsa_url)
        return self._c2pa.Signer.from_info(info)

    def manifest(self, path: Path, claim: Claim) -> dict[str, Any]:
        params: dict[str, Any] = {"provider": claim.provider, "model": claim.model, "seed": claim.seed,
                                  "request_hash": claim.request_hash}
        if self.settings.include_prompt:
            params["prompt"] = claim.prompt
        source = ALGORITHMIC if claim.provider in _ALGORITHMIC_PROVIDERS else TRAINED
        return {
            "claim_generator_info": [{"name": "ShotFill", "version": __version__}],
            "title": path.name,
            "format": MIME_TYPES[path.suffix.lower()],
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": source,
                "softwareAgent": f"ShotFill {__version__}",
                "parameters": {k: v for k, v in params.items() if v is not None},
            }]}}],
        }

    def sign(self, path: Path, claim: Claim, *, original: Optional[Path], frames: int) -> None:
        """Sign the placed file ``path`` in place (atomically); ``original`` is the provider's own file."""
        c2pa = self._c2pa
        mime = MIME_TYPES.get(path.suffix.lower())
        if mime is None:
            raise MediaError(f"{path}: content credentials cannot be embedded in a {path.suffix} file",
                             hint="choose --codec prores, prores_ks, dnxhr (.mov) or h264 (.mp4)")
        manifest = self.manifest(path, claim)
        try:
            self._sign(c2pa, path, mime, manifest, original, frames)
        except BaseException:
            # What conform just wrote must not stay where a placed file goes, unsigned.
            with contextlib.suppress(OSError):
                path.unlink()
            raise

    def _sign(self, c2pa: Any, path: Path, mime: str, manifest: dict[str, Any], original: Optional[Path],
              frames: int) -> None:
        try:
            with atomic_path(path) as tmp:
                # One native signing at a time: conforms run in threads, and the library's handles
                # are not documented as safe to use concurrently.
                with self._lock, self._signer() as signer, c2pa.Builder(json.dumps(manifest)) as builder:
                    found = _signed_original(c2pa, original)
                    if found is not None:
                        ingredient, kind = found
                        with open(ingredient, "rb") as fh:
                            builder.add_ingredient(json.dumps({"title": ingredient.name, "relationship": "componentOf"}),
                                                   kind, fh)
                    with open(path, "rb") as src, open(tmp, "w+b") as dst:
                        builder.sign(signer, mime, src, dst)
                got = probe(tmp).frames
                if got != frames:
                    raise MediaError(f"{path}: signing changed its length ({got} frames, not {frames}); "
                                     "the unsigned file was not placed",
                                     hint="report this with the file; or remove [c2pa] to place it unsigned")
                if active_manifest(tmp) is None:
                    raise MediaError(f"{path}: the signed file reads back without its manifest",
                                     hint="report this with the file; or remove [c2pa] to place it unsigned")
        except c2pa.C2paError as exc:
            raise MediaError(f"{path}: could not be signed with content credentials ({_first_line(exc)})",
                             hint="check [c2pa] in shotfill.toml (and tsa_url, if set, is reachable); "
                                  "the generated clip is kept in the cache, so a run again costs nothing") from None


def _tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00")) + chunk(b"IEND", b""))


def _sniff_mime(path: Path) -> Optional[str]:
    """The MIME type c2pa needs for an ISO BMFF file, from its ``ftyp`` box (a cache entry has no suffix)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return None
    if len(head) < 12 or head[4:8] != b"ftyp":
        return MIME_TYPES.get(path.suffix.lower())
    return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"


def _signed_original(c2pa: Any, original: Optional[Path]) -> Optional[tuple[Path, str]]:
    """The provider's original and its MIME type, when it carries a C2PA manifest of its own; else None."""
    if original is None or not original.is_file():
        return None
    mime = _sniff_mime(original)
    if mime is None:
        return None
    try:
        with open(original, "rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh)
            if reader is None:
                return None
            reader.close()
    except c2pa.C2paError:
        return None   # a damaged manifest is no provenance to pass on
    return original, mime


def active_manifest(path: Path) -> Optional[dict[str, Any]]:
    """The active manifest of ``path`` as c2pa's Reader reports it, or None when it has none."""
    c2pa = _c2pa()
    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError:
        return None
    if reader is None:
        return None
    with reader:
        store = json.loads(reader.json())
    label = store.get("active_manifest")
    found = store.get("manifests", {}).get(label) if label else None
    return found if isinstance(found, dict) else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
