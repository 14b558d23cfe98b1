"""Data command line: ``python -m ser_lightning.data synth --out DIR [options]``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ser_lightning.data.synthetic import LANGUAGES, SynthesisSpec, synthesize_corpus


def _synth(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    try:
        spec = SynthesisSpec(
            languages=tuple(args.languages),
            speakers_per_language=args.speakers,
            sentences_per_language=args.sentences,
            shift=args.shift,
            remap=args.remap,
            seed=args.seed,
            sample_rate=args.sample_rate,
            noise_floor_db=None if args.no_noise_floor else tuple(args.noise_floor_db),
        )
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    utterances = synthesize_corpus(args.out, spec)
    print(
        f"Wrote {len(utterances)} utterances to {args.out} "
        f"(manifest {args.out / 'manifest.jsonl'}) in {time.perf_counter() - start:.1f} s."
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m ser_lightning.data`` parser, one subcommand per data task."""
    parser = argparse.ArgumentParser(prog="python -m ser_lightning.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = SynthesisSpec()
    synth = commands.add_parser("synth", help="write the synthetic multilingual emotional speech corpus")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--seed", type=int, default=defaults.seed)
    synth.add_argument("--speakers", type=int, default=defaults.speakers_per_language, help="speakers per language")
    synth.add_argument("--sentences", type=int, default=defaults.sentences_per_language, help="sentences per language")
    synth.add_argument("--languages", nargs="+", default=list(defaults.languages), choices=LANGUAGES)
    synth.add_argument("--shift", type=float, default=defaults.shift, help="per-language expression shift strength")
    synth.add_argument("--remap", type=float, default=defaults.remap, help="Urdu cue exchange strength")
    synth.add_argument("--sample-rate", type=int, default=defaults.sample_rate)
    floor = synth.add_mutually_exclusive_group()
    floor.add_argument(
        "--noise-floor-db", type=float, nargs=2, metavar=("LOW", "HIGH"), default=list(defaults.noise_floor_db or ()),
        help="range of each speaker's recording noise floor, in dB below its speech level",
    )
    floor.add_argument("--no-noise-floor", action="store_true", help="write exact digital silence instead of a noise floor")
    synth.set_defaults(run=_synth, command_parser=synth)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen subcommand."""
    args = build_parser().parse_args(argv)
    args.run(args, args.command_parser)


if __name__ == "__main__":
    main()
