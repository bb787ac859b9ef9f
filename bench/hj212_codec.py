"""HJ 212 codec throughput on the sample traffic, against the previous parser and a bare pass
in the same run.

    python bench/hj212_codec.py

All three capture files are loaded into memory first, so this measures the codec, not the
disk. "parse" is the full parse (length, CRC, header and CP fields, readings, the strict
field checks of issue 14); "previous" is the parser before those checks, a frozen copy in
bench/baseline_codec_2026_12.py, timed interleaved with it so drift on the machine hits both
alike (target: parse at least 0.9 of the previous rate). The bare pass only cuts each line
into its data segment and computes the CRC, the least any receiver must do. The framer is
fed each whole file in 4 KiB chunks, as a TCP socket would.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import baseline_codec_2026_12 as previous
from common import save

from trustledger.monitoring.codec import Framer, PacketError, crc, parse

DATA = Path("/work/shared/data/hj212")
FILES = sorted(DATA.glob("*.h212"))
CHUNK = 4096


def best_of(run: Callable[[], None], repeat: int = 5) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    streams = [path.read_bytes() for path in FILES]
    lines = [line for s in streams for line in s.split(b"\r\n") if line]
    total_bytes = sum(len(s) for s in streams)

    def full_parse() -> None:
        for line in lines:
            # a bare try is cheaper than contextlib.suppress in this hot loop
            try:  # noqa: SIM105
                parse(line)
            except PacketError:
                pass

    def previous_parse() -> None:
        for line in lines:
            try:  # noqa: SIM105
                previous.parse(line)
            except previous.PacketError:
                pass

    # both parsers must see the same traffic the same way, or the ratio compares nothing
    def accepted(run: Callable[[bytes], object], error: type[Exception]) -> int:
        count = 0
        for line in lines:
            try:
                run(line)
            except error:
                continue
            count += 1
        return count

    valid_now = accepted(parse, PacketError)
    valid_before = accepted(previous.parse, previous.PacketError)

    def crc_only() -> None:
        for line in lines:
            crc(line[6:-4])

    def split_only() -> None:
        for line in lines:
            line.split(b";")

    def framer() -> None:
        for s in streams:
            f = Framer()
            feed = f.feed
            for i in range(0, len(s), CHUNK):
                feed(s[i : i + CHUNK])
            f.flush()

    parse_s, previous_s, crc_s, split_s = [], [], [], []
    for _ in range(5):  # interleaved, so drift on the machine hits all alike
        parse_s += best_of(full_parse, 2)
        previous_s += best_of(previous_parse, 2)
        crc_s += best_of(crc_only, 1)
        split_s += best_of(split_only, 1)
    framer_s = best_of(framer, 5)
    parse_med, previous_med, crc_med, split_med = (
        statistics.median(x) for x in (parse_s, previous_s, crc_s, split_s)
    )
    framer_med = statistics.median(framer_s)
    n = len(lines)
    save(
        "hj212_codec",
        {
            "files": [p.name for p in FILES],
            "packets": n,
            "bytes": total_bytes,
            "parse_packets_per_s": round(n / parse_med),
            "previous_parse_packets_per_s": round(n / previous_med),
            "ratio_parse_to_previous": round(previous_med / parse_med, 3),
            "target_ratio_parse_to_previous": 0.9,
            "valid_packets": valid_now,
            "valid_packets_previous": valid_before,
            "crc_only_packets_per_s": round(n / crc_med),
            "split_only_packets_per_s": round(n / split_med),
            "ratio_parse_to_crc_only": round(parse_med / crc_med, 2),
            "ratio_parse_to_split_only": round(parse_med / split_med, 2),
            "parse_us_per_packet": round(parse_med / n * 1e6, 2),
            "framer_mb_per_s": round(total_bytes / framer_med / 1e6, 1),
            "framer_chunk_bytes": CHUNK,
            "target_packets_per_s": 30_000,
        },
    )


if __name__ == "__main__":
    main()
