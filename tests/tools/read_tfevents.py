#!/usr/bin/env python3
"""Reads the scalars of TensorBoard event files back with TensorBoard's own reader.

Checks that `gradtop export RUN_DIR --tensorboard` (src/runs/tfevents.rs) writes files that
TensorBoard accepts. Needs `pip install tensorboard`. Usage:

    python3 tests/tools/read_tfevents.py LOGDIR [--expect TAG=COUNT ...]

Prints one line per tag: the tag, the number of points, and the first and last (step, value).
With --expect, exits 1 unless each TAG has exactly COUNT points. To produce a sample LOGDIR:

    GRADTOP_SAMPLE_OUT=/tmp/gradtop-sample cargo test --release --lib \
        runs::export::tests::write_samples_for_python_readers -- --ignored
    python3 tests/tools/read_tfevents.py /tmp/gradtop-sample/tensorboard \
        --expect train_loss=50 --expect test_accuracy=5
"""

import argparse
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir", help="folder holding events.out.tfevents.* files")
    parser.add_argument("--expect", action="append", default=[], metavar="TAG=COUNT")
    args = parser.parse_args()

    accumulator = EventAccumulator(args.logdir, size_guidance={"scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    counts = {}
    for tag in sorted(tags):
        events = accumulator.Scalars(tag)
        counts[tag] = len(events)
        first, last = events[0], events[-1]
        print(
            f"{tag}: {len(events)} points, "
            f"first step {first.step} value {first.value:.6g} wall {first.wall_time:.3f}, "
            f"last step {last.step} value {last.value:.6g} wall {last.wall_time:.3f}"
        )

    failed = False
    for expectation in args.expect:
        tag, _, count = expectation.partition("=")
        if counts.get(tag) != int(count):
            print(f"expected {count} points for {tag}, found {counts.get(tag, 0)}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
