"""Sans-IO codec of the BM13xx chip UART: CRCs, frames, replies, stream parsers, shares.

Nothing here touches a port. Host to chip, every frame is ``55 AA | header | length |
data | crc`` (length counts everything after the preamble): commands end in CRC5, jobs in
CRC16/CCITT-FALSE (big-endian). Chip to host, every reply of a family has one fixed
length (11 bytes on BM1366): ``AA 55 | 8 bytes | last`` where the low 5 bits of ``last``
are the CRC5 and bit 7 flags a nonce (clear for a register reply); a reply is valid when
the CRC5 over ``bytes[2:]``, the last byte included, is 0.

Header rebuilding for a nonce (BM1366 job layout, see :class:`Job`): version' = job
version | (version field << 13), then ``LE32(version') || prev || merkle || LE32(ntime)
|| LE32(nbits) || nonce bytes as received``; its SHA-256d, read little-endian, must lie
below the ticket target.
"""

from __future__ import annotations

import binascii
from collections import Counter
from dataclasses import dataclass

from asic_bridge.errors import ProtocolError
from asic_bridge.hashing import difficulty_of_hash, sha256d, target_of_difficulty
from asic_bridge.serial.chips import BM1366, ChipFamily
from asic_bridge.serial.ticket import ticket_difficulty_of, ticket_mask_value  # noqa: F401 (re-exported)

# header bits
TYPE_JOB = 0x20
TYPE_CMD = 0x40
GROUP_ALL = 0x10
CMD_SET_ADDRESS = 0x00
CMD_WRITE = 0x01
CMD_READ = 0x02
CMD_INACTIVE = 0x03

CMD_PREAMBLE = b"\x55\xaa"
REPLY_PREAMBLE = b"\xaa\x55"
NONCE_FLAG = 0x80

# --------------------------------------------------------------------------- CRCs


def _crc5_table() -> list[int]:
    # CRC5 (x^5+x^2+1) left-aligned in an 8-bit register: poly 0x05 << 3.
    table = []
    for i in range(256):
        reg = i
        for _ in range(8):
            reg = ((reg << 1) ^ 0x28) & 0xFF if reg & 0x80 else (reg << 1) & 0xFF
        table.append(reg)
    return table


_CRC5_TABLE = _crc5_table()


def crc5(data: bytes) -> int:
    """CRC5 over whole bytes: poly x^5+x^2+1, init 0x1F, MSB first, no reflection or
    final XOR. Returns 0..31."""
    reg = 0xF8  # 0x1F << 3
    table = _CRC5_TABLE
    for byte in data:
        reg = table[reg ^ byte]
    return reg >> 3


def crc5_bits(data: bytes, nbits: int) -> int:
    """CRC5 over the first ``nbits`` bits of ``data`` (MSB first); for reply building."""
    if not 0 <= nbits <= 8 * len(data):
        raise ValueError(f"nbits {nbits} out of range for {len(data)} bytes")
    crc = 0x1F
    for i in range(nbits):
        bit = (data[i >> 3] >> (7 - (i & 7))) & 1
        top = (crc >> 4) & 1
        crc = (crc << 1) & 0x1F
        if top ^ bit:
            crc ^= 0x05
    return crc


def crc16_false(data: bytes) -> int:
    """CRC16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR."""
    return binascii.crc_hqx(data, 0xFFFF)


# --------------------------------------------------------------------------- host -> chip


def command(header: int, data: bytes) -> bytes:
    """A command frame ``55 AA header len data crc5`` (header must have TYPE_CMD)."""
    if header & 0xE0 != TYPE_CMD:
        raise ValueError(f"not a command header: {header:#04x}")
    body = bytes((header, len(data) + 3)) + data
    return CMD_PREAMBLE + body + bytes((crc5(body),))


def set_address(address: int) -> bytes:
    """Give the next unaddressed chip ``address`` (after :func:`chain_inactive`)."""
    return command(TYPE_CMD | CMD_SET_ADDRESS, bytes((_byte(address), 0)))


def chain_inactive() -> bytes:
    """Put every chip into the state where it takes the next set-address."""
    return command(TYPE_CMD | GROUP_ALL | CMD_INACTIVE, b"\x00\x00")


def read_register(register: int, *, address: int = 0, all_chips: bool = True) -> bytes:
    """Ask one chip (or all) for a register; each answers with a register reply."""
    header = TYPE_CMD | CMD_READ | (GROUP_ALL if all_chips else 0)
    return command(header, bytes((_byte(address), _byte(register))))


def write_register(
    register: int, value: bytes, *, address: int = 0, all_chips: bool = True
) -> bytes:
    """Write four value bytes to a register of one chip (or all)."""
    if len(value) != 4:
        raise ValueError(f"a register value is 4 bytes, got {len(value)}")
    header = TYPE_CMD | CMD_WRITE | (GROUP_ALL if all_chips else 0)
    return command(header, bytes((_byte(address), _byte(register))) + value)


def version_mask_value(mask: int) -> bytes:
    """Version-rolling register (0xA4) value ``90 00 hi lo`` of ``mask >> 13``."""
    if not 0 <= mask <= 0xFFFFFFFF:
        raise ValueError(f"version mask must be 32-bit, got {mask:#x}")
    return b"\x90\x00" + ((mask >> 13) & 0xFFFF).to_bytes(2, "big")


def version_mask_of(value: bytes) -> int:
    """Inverse of :func:`version_mask_value` (the rollable version bits)."""
    return int.from_bytes(value[2:4], "big") << 13


def _byte(x: int) -> int:
    if not 0 <= x <= 0xFF:
        raise ValueError(f"not a byte: {x}")
    return x


# --------------------------------------------------------------------------- jobs


def _swap_words(b: bytes) -> bytes:
    """Reverse the order of the eight 32-bit words of a 32-byte field."""
    return b"".join(b[i : i + 4] for i in range(28, -4, -4))


@dataclass(frozen=True, slots=True)
class Job:
    """A BM1366-style job. ``prev_hash`` and ``merkle_root`` are 32 bytes in header byte
    order; integers are the header's field values (written little-endian)."""

    job_id: int
    version: int
    prev_hash: bytes
    merkle_root: bytes
    ntime: int
    nbits: int
    starting_nonce: int = 0
    num_midstates: int = 1

    def __post_init__(self) -> None:
        if len(self.prev_hash) != 32 or len(self.merkle_root) != 32:
            raise ValueError("prev_hash and merkle_root must be 32 bytes each")
        if not 0 <= self.job_id <= 0xFF:
            raise ValueError(f"job id must be a byte, got {self.job_id}")

    def header(self, nonce_raw: bytes, version: int | None = None) -> bytes:
        """The 80-byte block header for a nonce as the chip sent it (raw 4 bytes)."""
        v = self.version if version is None else version
        return (
            v.to_bytes(4, "little")
            + self.prev_hash
            + self.merkle_root
            + self.ntime.to_bytes(4, "little")
            + self.nbits.to_bytes(4, "little")
            + nonce_raw
        )


def encode_job(job: Job) -> bytes:
    """The 88-byte BM1366 job frame (header 0x21, CRC16 big-endian)."""
    data = (
        bytes((job.job_id, job.num_midstates))
        + job.starting_nonce.to_bytes(4, "little")
        + job.nbits.to_bytes(4, "little")
        + job.ntime.to_bytes(4, "little")
        + _swap_words(job.merkle_root)
        + _swap_words(job.prev_hash)
        + job.version.to_bytes(4, "little")
    )
    body = bytes((TYPE_JOB | CMD_WRITE, len(data) + 4)) + data
    return CMD_PREAMBLE + body + crc16_false(body).to_bytes(2, "big")


def decode_job(frame: bytes) -> Job:
    """Inverse of :func:`encode_job`; raises ProtocolError on a bad length or CRC."""
    if len(frame) != 88 or frame[:2] != CMD_PREAMBLE or frame[2] != TYPE_JOB | CMD_WRITE:
        raise ProtocolError(f"not a BM1366 job frame: {frame[:4].hex()}.. ({len(frame)} B)")
    if crc16_false(frame[2:-2]) != int.from_bytes(frame[-2:], "big"):
        raise ProtocolError("job frame CRC16 mismatch")
    d = frame[4:-2]
    return Job(
        job_id=d[0],
        num_midstates=d[1],
        starting_nonce=int.from_bytes(d[2:6], "little"),
        nbits=int.from_bytes(d[6:10], "little"),
        ntime=int.from_bytes(d[10:14], "little"),
        merkle_root=_swap_words(d[14:46]),
        prev_hash=_swap_words(d[46:78]),
        version=int.from_bytes(d[78:82], "little"),
    )


# --------------------------------------------------------------------------- chip -> host


@dataclass(frozen=True, slots=True)
class NonceReply:
    """A nonce reply. ``nonce_raw``: the 4 bytes as sent (header order);
    ``version_field``: the 16-bit rolled-version field (shift left 13)."""

    nonce_raw: bytes
    midstate: int
    id_byte: int
    version_field: int

    @property
    def nonce_be(self) -> int:
        """The nonce bytes read big-endian (where chip and core fields live)."""
        return int.from_bytes(self.nonce_raw, "big")

    @property
    def nonce(self) -> int:
        """The nonce as a header/Stratum value (the raw bytes read little-endian)."""
        return int.from_bytes(self.nonce_raw, "little")


@dataclass(frozen=True, slots=True)
class RegisterReply:
    """A register reply: 32-bit ``value`` (big-endian on the wire), the answering chip's
    address and the register number."""

    value: int
    chip_address: int
    register: int


Reply = NonceReply | RegisterReply


def _reply_last(body: bytes, flags: int) -> int:
    """The last reply byte: 3 flag bits + CRC5 over ``body`` and those flag bits."""
    return flags | crc5_bits(body + bytes((flags,)), 8 * len(body) + 3)


def encode_nonce_reply(reply: NonceReply) -> bytes:
    """An 11-byte BM1366-style nonce reply (what a chip or the emulator sends)."""
    body = (
        reply.nonce_raw
        + bytes((reply.midstate & 0xFF, reply.id_byte & 0xFF))
        + (reply.version_field & 0xFFFF).to_bytes(2, "big")
    )
    return REPLY_PREAMBLE + body + bytes((_reply_last(body, NONCE_FLAG),))


def encode_register_reply(reply: RegisterReply) -> bytes:
    """An 11-byte BM1366-style register reply."""
    body = reply.value.to_bytes(4, "big") + bytes((reply.chip_address, reply.register)) + b"\0\0"
    return REPLY_PREAMBLE + body + bytes((_reply_last(body, 0),))


def reply_crc_ok(frame: bytes) -> bool:
    """CRC5 over ``frame[2:]`` (the last byte included) is zero."""
    return crc5(frame[2:]) == 0


def parse_reply(frame: bytes) -> Reply:
    """Decode one 11-byte reply; raises ProtocolError on a bad preamble, length or CRC."""
    if len(frame) != 11 or frame[:2] != REPLY_PREAMBLE:
        raise ProtocolError(f"not an 11-byte reply: {frame.hex()}")
    if not reply_crc_ok(frame):
        raise ProtocolError(f"reply CRC5 mismatch: {frame.hex()}")
    if frame[10] & NONCE_FLAG:
        return NonceReply(frame[2:6], frame[6], frame[7], int.from_bytes(frame[8:10], "big"))
    return RegisterReply(int.from_bytes(frame[2:6], "big"), frame[6], frame[7])


class ReplyStreamParser:
    """Cut replies out of an arbitrary byte stream; resynchronise on the next ``AA 55``.

    ``feed(chunk)`` returns the complete CRC-valid frames. Bytes that are not part of a
    frame are counted in ``dropped["garbage_bytes"]``; a frame whose CRC fails counts in
    ``dropped["crc"]`` and the scan resumes after its preamble (so a frame that swallowed
    a dropped byte does not hide the next one). Counts are cumulative.
    """

    def __init__(self, reply_len: int = 11) -> None:
        if reply_len < 3:
            raise ValueError(f"reply_len must be >= 3, got {reply_len}")
        self.reply_len = reply_len
        self._buf = bytearray()
        self.frames = 0
        self.dropped: Counter[str] = Counter()

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf
        buf += chunk
        out: list[bytes] = []
        n = self.reply_len
        pos = 0
        end = len(buf)
        while True:
            start = buf.find(REPLY_PREAMBLE, pos)
            if start < 0:
                # keep a trailing 0xAA: it may be the first half of a preamble
                keep = 1 if end and buf[end - 1] == 0xAA else 0
                self.dropped["garbage_bytes"] += end - pos - keep
                pos = end - keep
                break
            if start > pos:
                self.dropped["garbage_bytes"] += start - pos
            if start + n > end:
                pos = start
                break
            frame = bytes(buf[start : start + n])
            if crc5(frame[2:]) == 0:
                out.append(frame)
                pos = start + n
            else:
                self.dropped["crc"] += 1
                self.dropped["garbage_bytes"] += 2
                pos = start + 2
        del buf[:pos]
        self.frames += len(out)
        return out

    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def flush(self) -> None:
        """Forget a partial frame (e.g. when the port closed), counting it as truncated."""
        if self._buf:
            self.dropped["truncated"] += 1
            self._buf.clear()


# --------------------------------------------------------------------------- chip side


@dataclass(frozen=True, slots=True)
class CommandFrame:
    """A host command as a chip sees it."""

    header: int
    data: bytes

    @property
    def kind(self) -> int:
        return self.header & 0x0F

    @property
    def all_chips(self) -> bool:
        return bool(self.header & GROUP_ALL)


class CommandStreamParser:
    """The chip side: cut host frames (commands and jobs) out of a byte stream.

    Returns :class:`CommandFrame` and :class:`Job` objects; resynchronises on the next
    ``55 AA`` after garbage, an impossible length or a CRC failure, counting each in
    ``dropped``. Never raises on input bytes.
    """

    def __init__(self, family: ChipFamily = BM1366) -> None:
        self.family = family
        self._buf = bytearray()
        self.dropped: Counter[str] = Counter()

    def feed(self, chunk: bytes) -> list[CommandFrame | Job]:
        buf = self._buf
        buf += chunk
        out: list[CommandFrame | Job] = []
        pos = 0
        end = len(buf)
        job_len = self.family.job_frame_len or 0
        while True:
            start = buf.find(CMD_PREAMBLE, pos)
            if start < 0:
                keep = 1 if end and buf[end - 1] == 0x55 else 0
                self.dropped["garbage_bytes"] += end - pos - keep
                pos = end - keep
                break
            self.dropped["garbage_bytes"] += start - pos
            if start + 4 > end:
                pos = start
                break
            header, length = buf[start + 2], buf[start + 3]
            is_job = header & 0xE0 == TYPE_JOB
            valid_len = (length + 2 == job_len) if is_job else length in (5, 9)
            if header & 0xE0 not in (TYPE_JOB, TYPE_CMD) or not valid_len:
                self.dropped["bad_header"] += 1
                pos = start + 2
                continue
            if start + 2 + length > end:
                pos = start
                break
            frame = bytes(buf[start : start + 2 + length])
            if is_job:
                try:
                    out.append(decode_job(frame))
                    pos = start + len(frame)
                except ProtocolError:
                    self.dropped["crc"] += 1
                    pos = start + 2
            elif crc5(frame[2:-1]) == frame[-1] & 0x1F:
                out.append(CommandFrame(header, frame[4:-1]))
                pos = start + len(frame)
            else:
                self.dropped["crc"] += 1
                pos = start + 2
        del buf[:pos]
        return out


# --------------------------------------------------------------------------- hashing


def share_difficulty(header: bytes) -> float:
    """Difficulty a header's hash reaches: 0xFFFF * 2**208 / hash (little-endian)."""
    return difficulty_of_hash(sha256d(header))


def target_for(difficulty: float) -> int:
    """Largest hash (little-endian int) that meets ``difficulty``."""
    return target_of_difficulty(difficulty)


@dataclass(frozen=True, slots=True)
class Share:
    """A verified nonce: chip index and core from the nonce's fields."""

    job: Job
    reply: NonceReply
    chip: int
    chip_address: int
    core: int
    small_core: int
    version: int
    share_difficulty: float


def attribute(family: ChipFamily, reply: NonceReply, interval: int) -> tuple[int, int, int, int]:
    """(chip index, chip address, core, small core) of a nonce reply."""
    n = reply.nonce_be
    address = (n >> family.nonce_chip_shift) & 0xFF
    core = (n >> family.nonce_core_shift) & family.nonce_core_mask
    return address // interval, address, core, family.small_core_of(reply.id_byte)


def verify_nonce(
    family: ChipFamily, job: Job, reply: NonceReply, *, interval: int, difficulty: float
) -> tuple[Share | None, float]:
    """Rebuild the header and check its hash against ``difficulty``.

    Returns (share, reached difficulty); share is None when the hash falls short. A chip
    compares the hash with the power-of-two target 2**(224-k) for difficulty 2**k, which
    is 65536/65535 looser than the difficulty formula: that slack is allowed.
    """
    version = job.version | (reply.version_field << 13)
    reached = share_difficulty(job.header(reply.nonce_raw, version))
    if reached * 65536 < difficulty * 65535:
        return None, reached
    chip, address, core, small = attribute(family, reply, interval)
    return Share(job, reply, chip, address, core, small, version, reached), reached
